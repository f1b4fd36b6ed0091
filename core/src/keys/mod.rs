//! Identities and recipients.
//!
//! An [`Identity`] is the secret side: an X25519 key for HPKE (receiving sealed objects) and an
//! Ed25519 key for signatures, both derived from one 32-byte seed. A [`Recipient`] is the public
//! side: the two public keys. Both have a text form with a Bech32m checksum, so that a typo is an
//! error and never a different key:
//!
//! - recipient: `coffer1…` (lower case, 117 characters);
//! - post-quantum hybrid recipient: `cofferpq1…` (lower case, 2,065 characters): the same keys
//!   plus an X-Wing (ML-KEM-768 + X25519) public key; objects sealed to it wrap their key with
//!   X-Wing only ([`Identity::post_quantum_recipient`]);
//! - `did:key:z6Mk…`: the Ed25519 key as a W3C `did:key`; sealing to it uses the X25519 key
//!   derived from the Ed25519 key by the birational map, as the did:key method specifies
//!   ([`Recipient::to_did_key`]);
//! - identity: `COFFER-SECRET-KEY-1…` (upper case, 71 characters). Every identity can open all
//!   three recipient forms: the X-Wing and the did:key keys derive from the same seed.
//!
//! An identity can also be derived from what a user already has: a passphrase and an account
//! name ([`Identity::from_passphrase`], Argon2id) or an Ethereum wallet's signature of
//! [`WALLET_MESSAGE`] ([`Identity::from_wallet_signature`]); see `derive.rs` for the risks.
//!
//! Byte layouts and derivations are specified in `docs/FORMAT.md` §1–2 (derived identities §1.1).
//!
//! ```
//! use coffer::keys::{Identity, Recipient};
//!
//! let alice = Identity::generate();
//! let text = alice.recipient().to_string();
//! assert!(text.starts_with("coffer1"));
//! let parsed: Recipient = text.parse().unwrap();
//! assert_eq!(&parsed, alice.recipient());
//! ```

mod derive;
mod did;
mod text;

use std::fmt;
use std::sync::{Arc, OnceLock};

use ed25519_dalek::Signer as _;
use hkdf::Hkdf;
use hpke::{Deserializable, Kem as _, Serializable};
use sha2::Sha256;
use zeroize::Zeroizing;

pub use derive::{PassphraseParams, WALLET_MESSAGE};
pub use text::IDENTITY_FILE_HEADER;

/// The KEM of coffer's HPKE suite: DHKEM(X25519, HKDF-SHA256).
pub(crate) type KemX25519 = hpke::kem::X25519HkdfSha256;
type KemPrivateKey = <KemX25519 as hpke::Kem>::PrivateKey;
pub(crate) type KemPublicKey = <KemX25519 as hpke::Kem>::PublicKey;
/// The post-quantum hybrid KEM: X-Wing (ML-KEM-768 + X25519), HPKE KEM id 0x647a.
pub(crate) type KemXWing = hpke::kem::XWing;
pub(crate) type XWingPrivateKey = <KemXWing as hpke::Kem>::PrivateKey;
pub(crate) type XWingPublicKey = <KemXWing as hpke::Kem>::PublicKey;

/// Length of an X-Wing public (encapsulation) key.
pub const XWING_PUBLIC_KEY_LEN: usize = 1216;

/// Length of an identity seed.
pub const SEED_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

const SEED_SALT: &[u8] = b"coffer/v1/identity";
const INFO_X25519: &[u8] = b"coffer/v1/identity/x25519";
const INFO_ED25519: &[u8] = b"coffer/v1/identity/ed25519";
const INFO_XWING: &[u8] = b"coffer/v2/identity/xwing";

/// What can go wrong with keys and their text forms.
///
/// Messages never contain secret material: a mistyped secret key is reported by position only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text is not a well-formed Bech32m string (bad characters, mixed case, no separator).
    #[error("not a valid {kind}: {reason}")]
    Malformed {
        /// What was being parsed ("recipient" or "identity").
        kind: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The checksum does not match: the text was mistyped or truncated.
    #[error("the {kind} has a wrong checksum: it was mistyped or cut short; copy it again")]
    BadChecksum {
        /// What was being parsed.
        kind: &'static str,
    },
    /// The text is a different kind of key (e.g. a secret identity where a recipient is expected).
    #[error("expected a {expected} ({prefix}…), found something else")]
    WrongKind {
        /// What was expected.
        expected: &'static str,
        /// The prefix the expected kind starts with.
        prefix: &'static str,
    },
    /// The key uses a version this build does not know.
    #[error("{kind} version {version} is not supported by this version of coffer")]
    UnsupportedVersion {
        /// What was being parsed.
        kind: &'static str,
        /// The version byte found.
        version: u8,
    },
    /// The bytes decode but are not a valid key (wrong length, not a curve point).
    #[error("the {kind} does not hold a valid key: {reason}")]
    InvalidKey {
        /// What was being parsed.
        kind: &'static str,
        /// Why the key is invalid.
        reason: &'static str,
    },
    /// An identity file holds no identity line.
    #[error("no identity found: expected a line starting with COFFER-SECRET-KEY-1")]
    NoIdentity,
    /// An empty passphrase was given to [`Identity::from_passphrase`].
    #[error("the passphrase is empty: choose a long passphrase")]
    EmptyPassphrase,
    /// The account (the salt of a passphrase identity) is empty or only white space.
    #[error("the account is empty: give the user name or e-mail the passphrase belongs to")]
    EmptyAccount,
    /// Argon2id parameters below coffer's minimum (`docs/FORMAT.md` §1.1).
    #[error(
        "Argon2id {what} is {found}, below the minimum of {minimum}: \
         use PassphraseParams::default() or stronger parameters"
    )]
    WeakPassphraseParams {
        /// Which parameter ("memory (KiB)", "iterations").
        what: &'static str,
        /// The minimum coffer accepts.
        minimum: u32,
        /// The value given.
        found: u32,
    },
    /// Argon2id parameters that Argon2 itself cannot run (no lane, too many lanes, less than 8
    /// KiB of memory per lane).
    #[error("invalid Argon2id parameters: {reason}")]
    InvalidPassphraseParams {
        /// Why Argon2 refuses them.
        reason: &'static str,
    },
    /// A wallet signature that is not 65 bytes `r ‖ s ‖ v` nor 64 bytes (EIP-2098 compact).
    #[error("a wallet signature is 65 bytes (r, s, v) or 64 bytes (EIP-2098), not {len} bytes")]
    WalletSignatureLength {
        /// The length given.
        len: usize,
    },
    /// The `v` byte of a 65-byte wallet signature is not 0, 1, 27 or 28.
    #[error("the wallet signature's recovery byte v is {v}; expected 0, 1, 27 or 28")]
    WalletSignatureRecoveryId {
        /// The byte found.
        v: u8,
    },
    /// `r` or `s` of a wallet signature is zero or not below the secp256k1 group order.
    #[error("the wallet signature's {which} is out of range (zero or not below the curve order)")]
    WalletSignatureScalar {
        /// "r" or "s".
        which: &'static str,
    },
}

/// A public recipient: who can receive sealed objects and whose signatures can be checked.
///
/// Three kinds share this type: a classic recipient (X25519 + Ed25519), a post-quantum hybrid
/// one (the same plus an X-Wing key; objects sealed to it are wrapped with X-Wing only), and one
/// parsed from a `did:key` (its X25519 key is the Ed25519 key's Montgomery form). Equality is
/// exact; [`Recipient::same_identity`] compares who signs.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Recipient {
    kem: [u8; 32],
    verifying: [u8; 32],
    pq: Option<Arc<[u8; XWING_PUBLIC_KEY_LEN]>>,
}

impl Recipient {
    /// Length of [`Recipient::to_bytes`].
    pub const LEN: usize = 64;

    /// Builds a recipient from its two public keys (X25519 for HPKE, Ed25519 for signatures).
    pub fn from_keys(kem_public: [u8; 32], ed25519_public: [u8; 32]) -> Result<Self, KeyError> {
        KemPublicKey::from_bytes(&kem_public).map_err(|_| KeyError::InvalidKey {
            kind: "recipient",
            reason: "the X25519 public key is not valid",
        })?;
        ed25519_dalek::VerifyingKey::from_bytes(&ed25519_public).map_err(|_| {
            KeyError::InvalidKey {
                kind: "recipient",
                reason: "the Ed25519 public key is not a curve point",
            }
        })?;
        Ok(Self {
            kem: kem_public,
            verifying: ed25519_public,
            pq: None,
        })
    }

    /// A post-quantum hybrid recipient: `classic`'s keys plus an X-Wing public key. Objects
    /// sealed to it wrap their file key with X-Wing only.
    pub fn with_xwing(classic: &Recipient, xwing_public: &[u8]) -> Result<Self, KeyError> {
        let key: [u8; XWING_PUBLIC_KEY_LEN] =
            xwing_public.try_into().map_err(|_| KeyError::InvalidKey {
                kind: "post-quantum recipient",
                reason: "an X-Wing public key is 1216 bytes",
            })?;
        XWingPublicKey::from_bytes(&key).map_err(|_| KeyError::InvalidKey {
            kind: "post-quantum recipient",
            reason: "the X-Wing public key is not valid (its ML-KEM-768 key is malformed)",
        })?;
        Ok(Self {
            kem: classic.kem,
            verifying: classic.verifying,
            pq: Some(Arc::new(key)),
        })
    }

    /// Whether objects sealed to this recipient wrap their key with X-Wing (post-quantum hybrid).
    pub fn is_post_quantum(&self) -> bool {
        self.pq.is_some()
    }

    /// The X-Wing public key of a post-quantum recipient.
    pub fn xwing_public_key(&self) -> Option<&[u8; XWING_PUBLIC_KEY_LEN]> {
        self.pq.as_deref()
    }

    /// The classic form of this recipient (its X25519 and Ed25519 keys, no X-Wing key).
    pub fn classic(&self) -> Recipient {
        Recipient {
            kem: self.kem,
            verifying: self.verifying,
            pq: None,
        }
    }

    /// Whether `other` is the same signer: the same Ed25519 key. A recipient's classic,
    /// post-quantum and `did:key` forms are the same identity; signature checks compare this.
    pub fn same_identity(&self, other: &Recipient) -> bool {
        bool::from(subtle::ConstantTimeEq::ct_eq(
            &self.verifying[..],
            &other.verifying[..],
        ))
    }

    /// The recipient's Ed25519 key as a W3C `did:key` (`did:key:z6Mk…`). Parsing it back gives
    /// a recipient whose X25519 key is derived from the Ed25519 key (the did:key method's key
    /// agreement key), which the same identity opens; the X-Wing key, if any, is not carried.
    pub fn to_did_key(&self) -> String {
        did::encode(&self.verifying)
    }

    /// Parses a `did:key` of an Ed25519 key (multicodec 0xed): the recipient's X25519 key is the
    /// Montgomery form of the Ed25519 key, as the did:key method derives its key agreement key.
    pub fn from_did_key(text: &str) -> Result<Self, KeyError> {
        let ed = did::decode(text)?;
        let verifying =
            ed25519_dalek::VerifyingKey::from_bytes(&ed).map_err(|_| KeyError::InvalidKey {
                kind: "did:key",
                reason: "the Ed25519 public key is not a curve point",
            })?;
        if verifying.is_weak() {
            return Err(KeyError::InvalidKey {
                kind: "did:key",
                reason: "the Ed25519 public key has small order",
            });
        }
        Self::from_keys(verifying.to_montgomery().to_bytes(), ed)
    }

    /// The 64 bytes `x25519_public || ed25519_public` (a post-quantum recipient's X-Wing key is
    /// not included: see [`Recipient::xwing_public_key`]).
    pub fn to_bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        out[..32].copy_from_slice(&self.kem);
        out[32..].copy_from_slice(&self.verifying);
        out
    }

    /// Parses the 64 bytes of [`Recipient::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let (kem, ed) = split_pair(bytes).ok_or(KeyError::InvalidKey {
            kind: "recipient",
            reason: "a recipient is 64 bytes",
        })?;
        Self::from_keys(kem, ed)
    }

    /// The X25519 public key used for HPKE.
    pub fn kem_public_key(&self) -> &[u8; 32] {
        &self.kem
    }

    /// The Ed25519 public key that verifies this recipient's signatures.
    pub fn ed25519_public_key(&self) -> &[u8; 32] {
        &self.verifying
    }

    pub(crate) fn hpke_public_key(&self) -> KemPublicKey {
        KemPublicKey::from_bytes(&self.kem).expect("validated when the recipient was built")
    }

    pub(crate) fn xwing_hpke_public_key(&self) -> Option<XWingPublicKey> {
        self.pq
            .as_deref()
            .map(|k| XWingPublicKey::from_bytes(k).expect("validated when the recipient was built"))
    }

    /// Verifies an Ed25519 signature by this recipient over `message` (strict verification:
    /// rejects malleable and small-order encodings).
    pub fn verify(&self, message: &[u8], signature: &[u8; SIGNATURE_LEN]) -> bool {
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&self.verifying) else {
            return false;
        };
        key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
            .is_ok()
    }
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pq.is_some() {
            f.write_str(&text::encode_pq_recipient(self))
        } else {
            f.write_str(&text::encode_recipient(self))
        }
    }
}

impl fmt::Debug for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Recipient({self})")
    }
}

impl std::str::FromStr for Recipient {
    type Err = KeyError;
    /// Accepts `coffer1…`, `cofferpq1…` and `did:key:z6Mk…`.
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let t = s.trim();
        if t.starts_with("did:") {
            Self::from_did_key(t)
        } else if t
            .get(..9)
            .is_some_and(|p| p.eq_ignore_ascii_case("cofferpq1"))
        {
            text::decode_pq_recipient(t)
        } else {
            text::decode_recipient(t)
        }
    }
}

/// A secret identity: receives sealed objects and signs.
///
/// Secret material is zeroized on drop and never shown by `Debug` (which prints the recipient).
pub struct Identity {
    seed: Zeroizing<[u8; SEED_LEN]>,
    kem_secret: KemPrivateKey,
    signing: ed25519_dalek::SigningKey,
    recipient: Recipient,
    /// Derived on first use (ML-KEM key generation costs more than the rest together). Behind an
    /// `Arc`: the expanded ML-KEM key is kilobytes, and identities travel inside futures.
    xwing: OnceLock<Arc<(XWingPrivateKey, Recipient)>>,
    /// The X25519 key of the Ed25519 key's Montgomery form (did:key), derived on first use.
    did_kem: OnceLock<KemPrivateKey>,
}

impl Identity {
    /// A new identity from the operating system's random generator.
    pub fn generate() -> Self {
        let mut seed = Zeroizing::new([0u8; SEED_LEN]);
        fill_random(seed.as_mut());
        Self::from_seed(&seed)
    }

    /// The identity derived from `seed` (see `docs/FORMAT.md` §1): the same seed always gives
    /// the same keys.
    pub fn from_seed(seed: &[u8; SEED_LEN]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(SEED_SALT), seed);
        let mut ikm = Zeroizing::new([0u8; 32]);
        hk.expand(INFO_X25519, ikm.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let (kem_secret, kem_public) = KemX25519::derive_keypair(ikm.as_ref());
        let mut ed_seed = Zeroizing::new([0u8; 32]);
        hk.expand(INFO_ED25519, ed_seed.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let signing = ed25519_dalek::SigningKey::from_bytes(&ed_seed);
        let recipient = Recipient {
            kem: kem_public.to_bytes().into(),
            verifying: signing.verifying_key().to_bytes(),
            pq: None,
        };
        Self {
            seed: Zeroizing::new(*seed),
            kem_secret,
            signing,
            recipient,
            xwing: OnceLock::new(),
            did_kem: OnceLock::new(),
        }
    }

    /// The public side of this identity (classic form).
    pub fn recipient(&self) -> &Recipient {
        &self.recipient
    }

    /// The post-quantum hybrid form of this identity's recipient (`cofferpq1…`): objects sealed
    /// to it wrap their key with X-Wing (ML-KEM-768 + X25519). The X-Wing key derives from the
    /// same seed (`docs/FORMAT.md` §1), so no new secret needs to be kept.
    pub fn post_quantum_recipient(&self) -> &Recipient {
        &self.xwing_keys().1
    }

    /// This identity as a `did:key` (its Ed25519 key).
    pub fn did_key(&self) -> String {
        self.recipient.to_did_key()
    }

    fn xwing_keys(&self) -> &(XWingPrivateKey, Recipient) {
        self.xwing.get_or_init(|| Arc::new(self.derive_xwing()))
    }

    fn derive_xwing(&self) -> (XWingPrivateKey, Recipient) {
        {
            let hk = Hkdf::<Sha256>::new(Some(SEED_SALT), self.seed.as_ref());
            let mut ikm = Zeroizing::new([0u8; 32]);
            hk.expand(INFO_XWING, ikm.as_mut())
                .expect("32 bytes is a valid HKDF-SHA256 output length");
            let (sk, pk) = KemXWing::derive_keypair(ikm.as_ref());
            let mut pk_bytes = [0u8; XWING_PUBLIC_KEY_LEN];
            pk_bytes.copy_from_slice(&pk.to_bytes());
            let recipient = Recipient {
                kem: self.recipient.kem,
                verifying: self.recipient.verifying,
                pq: Some(Arc::new(pk_bytes)),
            };
            (sk, recipient)
        }
    }

    pub(crate) fn xwing_secret_key(&self) -> &XWingPrivateKey {
        &self.xwing_keys().0
    }

    /// The X25519 secret of the did:key form: the Ed25519 secret scalar (RFC 8032's expanded
    /// first half), which X25519 clamps.
    pub(crate) fn did_kem_secret_key(&self) -> &KemPrivateKey {
        self.did_kem.get_or_init(|| {
            let scalar = Zeroizing::new(self.signing.to_scalar_bytes());
            KemPrivateKey::from_bytes(scalar.as_ref())
                .expect("any 32 bytes are an X25519 secret key")
        })
    }

    /// The secret text form `COFFER-SECRET-KEY-1…`. Treat it like a password.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        text::encode_identity(&self.seed)
    }

    /// The contents of an identity file: a comment header with the public recipient, then the
    /// secret line. See [`Identity::from_file_contents`].
    pub fn to_file_contents(&self) -> Zeroizing<String> {
        Zeroizing::new(format!(
            "{IDENTITY_FILE_HEADER}\n# recipient: {}\n{}\n",
            self.recipient,
            self.to_secret_string().as_str()
        ))
    }

    /// Parses an identity file: `#` comments and blank lines are ignored; the first other line
    /// must be a `COFFER-SECRET-KEY-1…` string.
    pub fn from_file_contents(contents: &str) -> Result<Self, KeyError> {
        let line = contents
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .ok_or(KeyError::NoIdentity)?;
        line.parse()
    }

    /// Signs `message` with this identity's Ed25519 key.
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        self.signing.sign(message).to_bytes()
    }

    /// The seed, for known-answer tests.
    #[cfg(test)]
    pub(crate) fn seed_for_tests(&self) -> &[u8; SEED_LEN] {
        &self.seed
    }

    pub(crate) fn hpke_secret_key(&self) -> &KemPrivateKey {
        &self.kem_secret
    }
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self {
            seed: self.seed.clone(),
            kem_secret: self.kem_secret.clone(),
            signing: self.signing.clone(),
            recipient: self.recipient.clone(),
            xwing: self.xwing.clone(),
            did_kem: self.did_kem.clone(),
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("recipient", &self.recipient)
            .finish_non_exhaustive()
    }
}

impl std::str::FromStr for Identity {
    type Err = KeyError;
    fn from_str(s: &str) -> Result<Self, KeyError> {
        let seed = text::decode_identity(s)?;
        Ok(Self::from_seed(&seed))
    }
}

/// Fills `buf` from the operating system's random generator.
///
/// A failing system RNG leaves no safe way to continue (every key and nonce depends on it), so
/// this panics with a clear message rather than returning an error every caller would unwrap.
pub(crate) fn fill_random(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system's random number generator failed");
}

fn split_pair(bytes: &[u8]) -> Option<([u8; 32], [u8; 32])> {
    if bytes.len() != 64 {
        return None;
    }
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    a.copy_from_slice(&bytes[..32]);
    b.copy_from_slice(&bytes[32..]);
    Some((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_derivation_is_deterministic_and_distinct() {
        let a = Identity::from_seed(&[7u8; 32]);
        let b = Identity::from_seed(&[7u8; 32]);
        let c = Identity::from_seed(&[8u8; 32]);
        assert_eq!(a.recipient(), b.recipient());
        assert_ne!(a.recipient(), c.recipient());
        assert_ne!(
            a.recipient().kem_public_key(),
            a.recipient().ed25519_public_key()
        );
    }

    #[test]
    fn text_forms_round_trip() {
        let id = Identity::generate();
        let secret = id.to_secret_string();
        assert!(secret.starts_with("COFFER-SECRET-KEY-1"));
        let back: Identity = secret.parse().unwrap();
        assert_eq!(back.recipient(), id.recipient());
        let file = id.to_file_contents();
        assert_eq!(
            Identity::from_file_contents(&file).unwrap().recipient(),
            id.recipient()
        );
        let r: Recipient = id.recipient().to_string().parse().unwrap();
        assert_eq!(&r, id.recipient());
    }

    /// Identities travel by value inside async state machines (vaults, shares): keep them small
    /// (the X-Wing keys, kilobytes, stay behind a pointer). A debug-build share suite on S3
    /// overflowed its stack when they were inline.
    #[test]
    fn an_identity_stays_small() {
        assert!(
            std::mem::size_of::<Identity>() <= 512,
            "{} bytes",
            std::mem::size_of::<Identity>()
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let id = Identity::from_seed(&[42u8; 32]);
        let dbg = format!("{id:?}");
        let secret = id.to_secret_string();
        assert!(!dbg.contains(&secret[19..]), "Debug leaked the secret");
        assert!(!dbg.to_uppercase().contains("SECRET-KEY"));
        assert!(dbg.contains("coffer1"));
    }

    #[test]
    fn every_single_character_typo_is_rejected() {
        let text = Identity::from_seed(&[1u8; 32]).recipient().to_string();
        let alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
        for pos in "coffer1".len()..text.len() {
            for c in alphabet.chars() {
                let mut t: Vec<char> = text.chars().collect();
                if t[pos] == c {
                    continue;
                }
                t[pos] = c;
                let typo: String = t.into_iter().collect();
                assert!(typo.parse::<Recipient>().is_err(), "typo at {pos} accepted");
            }
        }
    }

    #[test]
    fn wrong_kind_is_reported_without_echoing_secrets() {
        let id = Identity::from_seed(&[3u8; 32]);
        let secret = id.to_secret_string();
        let err = secret.parse::<Recipient>().unwrap_err();
        assert!(matches!(err, KeyError::WrongKind { .. }));
        assert!(!err.to_string().contains(&secret[19..]));
        let err = id.recipient().to_string().parse::<Identity>().unwrap_err();
        assert!(matches!(err, KeyError::WrongKind { .. }));
    }

    #[test]
    fn signatures_verify_only_for_the_signed_message() {
        let id = Identity::from_seed(&[9u8; 32]);
        let sig = id.sign(b"hello");
        assert!(id.recipient().verify(b"hello", &sig));
        assert!(!id.recipient().verify(b"hellO", &sig));
        let other = Identity::from_seed(&[10u8; 32]);
        assert!(!other.recipient().verify(b"hello", &sig));
    }

    /// The did:key method's own example: an Ed25519 key and the X25519 key agreement key it
    /// derives (publicKeyBase58 of both, from the did:key test suite).
    #[test]
    fn did_key_matches_the_method_example() {
        let did = "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th";
        let r = Recipient::from_did_key(did).unwrap();
        let b58 = |b: &[u8]| multibase::encode(multibase::Base::Base58Btc, b)[1..].to_string();
        assert_eq!(
            b58(r.ed25519_public_key()),
            "8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K"
        );
        assert_eq!(
            b58(r.kem_public_key()),
            "79CXkde3j8TNuMXxPdV7nLUrT2g7JAEjH5TreyVY7GEZ"
        );
        assert_eq!(r.to_did_key(), did);
        assert_eq!(did.parse::<Recipient>().unwrap(), r);
    }

    /// Found by the `key_text` fuzz target: a multi-byte character across the 9th byte made the
    /// prefix check slice inside it and panic.
    #[test]
    fn text_with_multibyte_characters_is_an_error_not_a_panic() {
        for text in [
            "coffer\u{e9}1xyz",
            "\u{1f600}\u{1f600}\u{1f600}",
            "cofferp\u{e9}1",
            "did:\u{e9}",
            "did#x\u{0}1:\u{545}1",
        ] {
            assert!(text.parse::<Recipient>().is_err(), "{text}");
        }
    }

    #[test]
    fn bad_did_keys_are_refused_with_typed_errors() {
        // An X25519 did:key (multicodec 0xec) is not an Ed25519 one.
        let x25519 = "did:key:z6LShLeXRTzevtwcfehaGEzCMyL3bNsAeKCwcqwJxyCo63yE";
        assert!(matches!(
            Recipient::from_did_key(x25519),
            Err(KeyError::InvalidKey { .. })
        ));
        for bad in [
            "did:key:",
            "did:web:example.com",
            "did:key:f6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th",
            "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7t0",
            "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7",
            "did:key:z16MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th",
        ] {
            assert!(bad.parse::<Recipient>().is_err(), "{bad} accepted");
        }
        let long = format!("did:key:z{}", "1".repeat(200));
        assert!(long.parse::<Recipient>().is_err());
    }

    #[test]
    fn post_quantum_recipients_round_trip_and_keep_the_signer() {
        let id = Identity::from_seed(&[5u8; 32]);
        let pq = id.post_quantum_recipient().clone();
        assert!(pq.is_post_quantum() && !id.recipient().is_post_quantum());
        let text = pq.to_string();
        assert!(text.starts_with("cofferpq1"), "{text}");
        assert_eq!(text.len(), 2065);
        let back: Recipient = text.parse().unwrap();
        assert_eq!(back, pq);
        assert_eq!(&back.classic(), id.recipient());
        assert!(back.same_identity(id.recipient()));
        assert_ne!(&back, id.recipient(), "equality is exact");
        // Upper case is the same key, as Bech32 allows.
        assert_eq!(text.to_uppercase().parse::<Recipient>().unwrap(), pq);
        // The same seed gives the same X-Wing key.
        let again = Identity::from_seed(&[5u8; 32]);
        assert_eq!(again.post_quantum_recipient(), &pq);
        assert_ne!(
            Identity::from_seed(&[6u8; 32]).post_quantum_recipient(),
            &pq
        );
    }

    #[test]
    fn post_quantum_typos_and_bad_keys_are_refused() {
        let pq = Identity::from_seed(&[5u8; 32])
            .post_quantum_recipient()
            .to_string();
        let alphabet: Vec<char> = "qpzry9x8gf2tvdw0s3jn54khce6mua7l".chars().collect();
        // Every position, one substitution each (the full grid is 2,056 × 31 parses).
        for pos in "cofferpq1".len()..pq.len() {
            let mut t: Vec<char> = pq.chars().collect();
            let c = alphabet[(pos * 7) % alphabet.len()];
            if t[pos] == c {
                continue;
            }
            t[pos] = c;
            let typo: String = t.into_iter().collect();
            assert!(typo.parse::<Recipient>().is_err(), "typo at {pos} accepted");
        }
        // Cut short.
        assert!(pq[..pq.len() - 10].parse::<Recipient>().is_err());
        // An X-Wing key whose ML-KEM part is not reduced mod q is refused.
        let classic = Identity::from_seed(&[5u8; 32]).recipient().clone();
        let bad = [0xffu8; XWING_PUBLIC_KEY_LEN];
        assert!(matches!(
            Recipient::with_xwing(&classic, &bad),
            Err(KeyError::InvalidKey { .. })
        ));
        assert!(Recipient::with_xwing(&classic, &bad[..100]).is_err());
    }
}
