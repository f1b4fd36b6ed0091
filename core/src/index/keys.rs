//! The vault index key and the three subkeys derived from it.
//!
//! ```text
//! prk      = HKDF-Extract(salt = "coffer/index/v1", ikm = index key)
//! node     = HKDF-Expand(prk, "coffer/index/v1/node-siv", 64)    AES-256-SIV key for nodes
//! token    = HKDF-Expand(prk, "coffer/index/v1/token-siv", 64)   AES-256-SIV key for list tokens
//! boundary = HKDF-Expand(prk, "coffer/index/v1/boundary", 32)    keyed BLAKE3 key for chunking
//! ```

use std::fmt;

use aes_siv::KeyInit;
use aes_siv::siv::Aes256Siv;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::error::{IndexError, IndexResult};

const HKDF_SALT: &[u8] = b"coffer/index/v1";
/// Associated data bound into every node ciphertext.
pub(crate) const NODE_AD: &[u8] = b"coffer/index/v1/node";
/// Associated data bound into every continuation token (first header).
pub(crate) const TOKEN_AD: &[u8] = b"coffer/index/v1/list-token";

/// The 32-byte secret key of one vault's index. Every node is encrypted under keys derived from
/// it, node boundaries are chosen with it, and continuation tokens are sealed with it.
///
/// Zeroized on drop; `Debug` does not show it.
#[derive(Clone)]
pub struct IndexKey(Zeroizing<[u8; 32]>);

impl IndexKey {
    /// Wraps 32 secret bytes (from the vault's key hierarchy).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        IndexKey(Zeroizing::new(bytes))
    }

    /// A fresh random key from the operating system.
    pub fn generate() -> IndexResult<Self> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut()).map_err(|_| IndexError::Random)?;
        Ok(IndexKey(bytes))
    }

    /// The secret bytes, to store them in the vault's key hierarchy.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IndexKey(..)")
    }
}

/// The subkeys derived from an [`IndexKey`].
#[derive(Clone)]
pub(crate) struct IndexSecrets {
    node: Zeroizing<[u8; 64]>,
    token: Zeroizing<[u8; 64]>,
    boundary: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for IndexSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IndexSecrets(..)")
    }
}

impl IndexSecrets {
    pub(crate) fn derive(key: &IndexKey) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), key.0.as_ref());
        let mut node = Zeroizing::new([0u8; 64]);
        let mut token = Zeroizing::new([0u8; 64]);
        let mut boundary = Zeroizing::new([0u8; 32]);
        hk.expand(b"coffer/index/v1/node-siv", node.as_mut())
            .expect("64 bytes is a valid HKDF-SHA256 output length");
        hk.expand(b"coffer/index/v1/token-siv", token.as_mut())
            .expect("64 bytes is a valid HKDF-SHA256 output length");
        hk.expand(b"coffer/index/v1/boundary", boundary.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        IndexSecrets {
            node,
            token,
            boundary,
        }
    }

    fn siv(key: &[u8; 64]) -> Aes256Siv {
        Aes256Siv::new(key.into())
    }

    /// AES-256-SIV of a node plaintext: `tag (16) || ciphertext`, deterministic.
    pub(crate) fn seal_node(&self, plaintext: &[u8]) -> Vec<u8> {
        Self::siv(&self.node)
            .encrypt([NODE_AD], plaintext)
            .expect("one header is within the SIV header limit")
    }

    /// Opens a node block; `None` when it does not authenticate.
    pub(crate) fn open_node(&self, block: &[u8]) -> Option<Vec<u8>> {
        Self::siv(&self.node).decrypt([NODE_AD], block).ok()
    }

    /// AES-256-SIV over `plaintext` with the token headers.
    pub(crate) fn seal_token(&self, headers: &[&[u8]], plaintext: &[u8]) -> Vec<u8> {
        Self::siv(&self.token)
            .encrypt(headers, plaintext)
            .expect("a few headers are within the SIV header limit")
    }

    /// Opens a token body; `None` when it does not authenticate.
    pub(crate) fn open_token(&self, headers: &[&[u8]], body: &[u8]) -> Option<Vec<u8>> {
        Self::siv(&self.token).decrypt(headers, body).ok()
    }

    /// The 64-bit boundary hash of `key` at `level`: the first 8 bytes (little-endian) of
    /// `BLAKE3-keyed(boundary key, [level] || key)`.
    pub(crate) fn boundary_hash(&self, level: u8, key: &[u8]) -> u64 {
        let mut h = blake3::Hasher::new_keyed(&self.boundary);
        h.update(&[level]);
        h.update(key);
        let mut out = [0u8; 8];
        h.finalize_xof().fill(&mut out);
        u64::from_le_bytes(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_sealing_is_deterministic_and_keyed() {
        let a = IndexSecrets::derive(&IndexKey::from_bytes([1; 32]));
        let b = IndexSecrets::derive(&IndexKey::from_bytes([2; 32]));
        let ct = a.seal_node(b"node bytes");
        assert_eq!(ct, a.seal_node(b"node bytes"));
        assert_ne!(ct, b.seal_node(b"node bytes"));
        assert_eq!(a.open_node(&ct).as_deref(), Some(&b"node bytes"[..]));
        assert!(b.open_node(&ct).is_none());
        let mut bad = ct.clone();
        bad[20] ^= 1;
        assert!(a.open_node(&bad).is_none());
        assert!(a.open_node(&ct[..10]).is_none());
        assert_ne!(a.boundary_hash(0, b"k"), a.boundary_hash(1, b"k"));
        assert_ne!(a.boundary_hash(0, b"k"), b.boundary_hash(0, b"k"));
        assert_eq!(
            format!("{:?}", IndexKey::from_bytes([7; 32])),
            "IndexKey(..)"
        );
    }
}
