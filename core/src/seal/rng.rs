//! Randomness for sealing: the operating system's generator, or fixed bytes for test vectors.

use hpke::rand_core::{Infallible, TryCryptoRng, TryRng};

/// The randomness a seal draws: file key, salt, then one HPKE ephemeral key seed per recipient.
pub trait SealRng: TryCryptoRng<Error = Infallible> {}
impl<T: TryCryptoRng<Error = Infallible>> SealRng for T {}

/// The operating system's random generator.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRng;

impl TryRng for OsRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        crate::keys::fill_random(&mut b);
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        crate::keys::fill_random(&mut b);
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        crate::keys::fill_random(dst);
        Ok(())
    }
}

impl TryCryptoRng for OsRng {}

/// Replays fixed bytes, to reproduce test vectors: NEVER use it to seal real data.
///
/// It panics when the bytes run out, which only a wrong vector can cause.
#[doc(hidden)]
#[derive(Debug)]
pub struct FixedRng {
    bytes: Vec<u8>,
    pos: usize,
}

impl FixedRng {
    /// Replays `bytes` in order.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self { bytes, pos: 0 }
    }
}

impl TryRng for FixedRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let end = self.pos + dst.len();
        assert!(
            end <= self.bytes.len(),
            "FixedRng ran out of bytes: the test vector is too short"
        );
        dst.copy_from_slice(&self.bytes[self.pos..end]);
        self.pos = end;
        Ok(())
    }
}

impl TryCryptoRng for FixedRng {}

/// A deterministic generator seeded with 32 secret bytes: the BLAKE3 XOF in `derive_key` mode
/// (context `"coffer v1 seeded seal randomness"`, key material = the seed).
///
/// The vault uses it to seal a file twice to the same bytes (once to learn the sealed object's
/// CID, once to upload it, and again to resume an interrupted upload). The seed must be unique per
/// plaintext: sealing two different plaintexts with one seed reuses the file key and nonces.
pub(crate) struct SeededRng(blake3::OutputReader);

impl SeededRng {
    /// A generator whose output is fixed by `seed`.
    pub(crate) fn new(seed: &[u8; 32]) -> Self {
        let mut h = blake3::Hasher::new_derive_key("coffer v1 seeded seal randomness");
        h.update(seed);
        Self(h.finalize_xof())
    }
}

impl TryRng for SeededRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.0.fill(dst);
        Ok(())
    }
}

impl TryCryptoRng for SeededRng {}

impl Drop for SeededRng {
    fn drop(&mut self) {
        // The XOF state determines every key the seal drew.
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}
