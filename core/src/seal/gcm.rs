//! AES-256-GCM backends for the payload: RustCrypto's portable `aes-gcm` (default, and always on
//! wasm32), or `ring` (feature `ring`, native only; about 3x faster on x86-64 with AES-NI).
//! Both produce identical bytes; `tests::backends_agree` checks it when `ring` is enabled.

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{Nonce, Tag};
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};

/// RustCrypto's AES-256-GCM.
// With `ring` it serves only the cross-check test.
#[cfg_attr(all(feature = "ring", not(target_arch = "wasm32")), allow(dead_code))]
pub(crate) struct PortableGcm(Aes256Gcm);

#[cfg_attr(all(feature = "ring", not(target_arch = "wasm32")), allow(dead_code))]
impl PortableGcm {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        Self(Aes256Gcm::new(key.into()))
    }

    pub(crate) fn seal_in_place(&self, nonce: [u8; 12], buf: &mut [u8]) -> [u8; 16] {
        let tag = self
            .0
            .encrypt_inout_detached(&Nonce::<Aes256Gcm>::from(nonce), b"", InOutBuf::from(buf))
            .expect("segments are far below AES-GCM's 64 GiB message limit");
        tag.into()
    }

    /// Decrypts `ct || tag` into `out` (whose length is `ct`'s); leaves `input` untouched.
    pub(crate) fn open_into(&self, nonce: [u8; 12], input: &[u8], out: &mut [u8]) -> bool {
        let (ct, tag) = input.split_at(input.len() - super::TAG_LEN);
        let Ok(tag) = Tag::<Aes256Gcm>::try_from(tag) else {
            return false;
        };
        let Ok(buf) = InOutBuf::new(ct, out) else {
            return false;
        };
        self.0
            .decrypt_inout_detached(&Nonce::<Aes256Gcm>::from(nonce), b"", buf, &tag)
            .is_ok()
    }
}

/// ring's AES-256-GCM.
#[cfg(all(feature = "ring", not(target_arch = "wasm32")))]
pub(crate) struct RingGcm(ring::aead::LessSafeKey);

#[cfg(all(feature = "ring", not(target_arch = "wasm32")))]
impl RingGcm {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        let key = ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, key)
            .expect("a 32-byte key is valid for AES-256-GCM");
        Self(ring::aead::LessSafeKey::new(key))
    }

    pub(crate) fn seal_in_place(&self, nonce: [u8; 12], buf: &mut [u8]) -> [u8; 16] {
        let tag = self
            .0
            .seal_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::empty(),
                buf,
            )
            .expect("segments are far below AES-GCM's 64 GiB message limit");
        tag.as_ref().try_into().expect("AES-GCM tags are 16 bytes")
    }

    /// Decrypts `ct || tag` into `out`; leaves `input` untouched (ring zeroes its buffer on a
    /// bad tag, so it works on the copy in `out`).
    pub(crate) fn open_into(&self, nonce: [u8; 12], input: &[u8], out: &mut [u8]) -> bool {
        let (ct, tag) = input.split_at(input.len() - super::TAG_LEN);
        let Ok(tag) = ring::aead::Tag::try_from(tag) else {
            return false;
        };
        out.copy_from_slice(ct);
        self.0
            .open_in_place_separate_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::empty(),
                tag,
                out,
                0..,
            )
            .is_ok()
    }
}

/// The backend this build uses.
#[cfg(all(feature = "ring", not(target_arch = "wasm32")))]
pub(crate) type Gcm = RingGcm;
/// The backend this build uses.
#[cfg(not(all(feature = "ring", not(target_arch = "wasm32"))))]
pub(crate) type Gcm = PortableGcm;

/// Name of the AEAD backend in use, for benchmarks and `coffer --version` style reports.
pub const BACKEND: &str = if cfg!(all(feature = "ring", not(target_arch = "wasm32"))) {
    "ring"
} else {
    "aes-gcm (RustCrypto)"
};
