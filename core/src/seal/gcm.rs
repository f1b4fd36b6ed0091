//! AES-256-GCM backends for the payload: RustCrypto's portable `aes-gcm` (the default, and always
//! on wasm32), or `ring` (feature `ring`, native only; about 3x faster on x86-64 with AES-NI).
//! Both produce identical bytes.
//!
//! A build with `ring` holds both backends: payloads use ring, and the tests run the seal
//! property tests and the test vectors on each backend in turn (`with_backend`), so one build
//! checks both and that they agree.

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{Nonce, Tag};
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};

/// An AES-256-GCM implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// RustCrypto's `aes-gcm`: portable, constant-time, the reference.
    Portable,
    /// ring's assembly AES-GCM.
    #[cfg(all(feature = "ring", not(target_arch = "wasm32")))]
    Ring,
}

impl Backend {
    /// The backend payloads use in this build.
    pub(crate) const DEFAULT: Backend = {
        #[cfg(all(feature = "ring", not(target_arch = "wasm32")))]
        {
            Backend::Ring
        }
        #[cfg(not(all(feature = "ring", not(target_arch = "wasm32"))))]
        {
            Backend::Portable
        }
    };

    /// Every backend this build holds (the tests run on each).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) const ALL: &'static [Backend] = &[
        Backend::Portable,
        #[cfg(all(feature = "ring", not(target_arch = "wasm32")))]
        Backend::Ring,
    ];

    /// The backend new payload ciphers use on this thread: the build's default, or the one a
    /// test chose with `with_backend`.
    fn current() -> Backend {
        #[cfg(test)]
        if let Some(b) = TEST_BACKEND.with(std::cell::Cell::get) {
            return b;
        }
        Backend::DEFAULT
    }
}

#[cfg(test)]
thread_local! {
    static TEST_BACKEND: std::cell::Cell<Option<Backend>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with every payload cipher made on this thread using `backend` (tests only).
#[cfg(test)]
pub(crate) fn with_backend<R>(backend: Backend, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Backend>);
    impl Drop for Restore {
        fn drop(&mut self) {
            TEST_BACKEND.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(TEST_BACKEND.with(|c| c.replace(Some(backend))));
    f()
}

/// The AES-256-GCM key of a payload, in the backend chosen when it was made.
pub(crate) enum Gcm {
    /// RustCrypto.
    Portable(PortableGcm),
    /// ring.
    #[cfg(all(feature = "ring", not(target_arch = "wasm32")))]
    Ring(RingGcm),
}

impl Gcm {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        match Backend::current() {
            Backend::Portable => Self::Portable(PortableGcm::new(key)),
            #[cfg(all(feature = "ring", not(target_arch = "wasm32")))]
            Backend::Ring => Self::Ring(RingGcm::new(key)),
        }
    }

    pub(crate) fn seal_in_place(&self, nonce: [u8; 12], buf: &mut [u8]) -> [u8; 16] {
        match self {
            Self::Portable(g) => g.seal_in_place(nonce, buf),
            #[cfg(all(feature = "ring", not(target_arch = "wasm32")))]
            Self::Ring(g) => g.seal_in_place(nonce, buf),
        }
    }

    /// Decrypts `ct || tag` into `out` (whose length is `ct`'s); leaves `input` untouched.
    pub(crate) fn open_into(&self, nonce: [u8; 12], input: &[u8], out: &mut [u8]) -> bool {
        match self {
            Self::Portable(g) => g.open_into(nonce, input, out),
            #[cfg(all(feature = "ring", not(target_arch = "wasm32")))]
            Self::Ring(g) => g.open_into(nonce, input, out),
        }
    }
}

/// RustCrypto's AES-256-GCM.
pub(crate) struct PortableGcm(Aes256Gcm);

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

/// Name of the AEAD backend in use, for benchmarks and `coffer --version` style reports.
pub const BACKEND: &str = match Backend::DEFAULT {
    Backend::Portable => "aes-gcm (RustCrypto)",
    #[cfg(all(feature = "ring", not(target_arch = "wasm32")))]
    Backend::Ring => "ring",
};
