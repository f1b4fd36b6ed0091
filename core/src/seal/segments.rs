//! The payload: STREAM segments of AES-256-GCM (`docs/FORMAT.md` §3.4).
//!
//! Segment `i` is encrypted under the payload key with the 12-byte nonce
//! `i as 88-bit big-endian || last`, where `last` is 1 for the final segment and 0 otherwise.
//! Every segment but the last holds exactly `segment_size` plaintext bytes; the last holds
//! 1..=segment_size bytes, or 0 bytes only when it is also the first (an empty object).

use aes_gcm::aead::inout::InOutBuf;
use aes_gcm::aead::{Nonce, Tag};
use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};

use super::SealError;

/// Length of the AES-GCM tag that ends every segment.
pub const TAG_LEN: usize = 16;

/// How far from its expected position a failed segment is looked for, to tell reordering from
/// corruption. Only the error path pays for it.
const REORDER_WINDOW: u64 = 16;

/// The AES-256-GCM key of one object's payload. The cipher zeroizes its key schedule on drop.
pub(crate) struct PayloadCipher {
    aead: Aes256Gcm,
    segment_size: usize,
}

impl PayloadCipher {
    pub(crate) fn new(key: &[u8; 32], segment_size: usize) -> Self {
        let aead = Aes256Gcm::new(key.into());
        Self { aead, segment_size }
    }

    pub(crate) fn segment_size(&self) -> usize {
        self.segment_size
    }

    /// Encrypts `buf` (one segment's plaintext) in place and appends the tag.
    pub(crate) fn seal_segment(&self, index: u64, last: bool, buf: &mut Vec<u8>) {
        debug_assert!(buf.len() <= self.segment_size);
        let tag = self
            .aead
            .encrypt_inout_detached(&nonce(index, last), b"", InOutBuf::from(buf.as_mut_slice()))
            .expect("segments are far below AES-GCM's 64 GiB message limit");
        buf.extend_from_slice(&tag);
    }

    /// Decrypts one segment (`ciphertext || tag`) in place; on success the first `len - 16`
    /// bytes of `buf` are the plaintext. On failure `buf` is left as it was.
    pub(crate) fn try_open(&self, index: u64, last: bool, buf: &mut [u8]) -> bool {
        if buf.len() < TAG_LEN {
            return false;
        }
        let (ct, tag) = buf.split_at_mut(buf.len() - TAG_LEN);
        let tag = Tag::<Aes256Gcm>::try_from(&*tag).expect("split at TAG_LEN");
        // aes-gcm checks the tag before decrypting, so on failure `buf` is unchanged and can be
        // examined by `diagnose`.
        self.aead
            .decrypt_inout_detached(&nonce(index, last), b"", InOutBuf::from(ct), &tag)
            .is_ok()
    }

    /// Opens segment `index` in place and returns its plaintext length, or the most precise
    /// error the bytes allow. `next` is the start of the following segment, when the caller
    /// already holds it (used to tell a foreign payload from a corrupt first segment).
    pub(crate) fn open_segment(
        &self,
        index: u64,
        last: bool,
        buf: &mut [u8],
        next: Option<&[u8]>,
    ) -> Result<usize, SealError> {
        if last && index > 0 && buf.len() == TAG_LEN {
            // Only an empty object may end with an empty segment; anything else was cut.
            return Err(SealError::Truncated);
        }
        if buf.len() > self.segment_size + TAG_LEN {
            return Err(SealError::Internal("segment longer than the segment size"));
        }
        if self.try_open(index, last, buf) {
            return Ok(buf.len() - TAG_LEN);
        }
        Err(self.diagnose(index, last, buf, next))
    }

    /// Works out why segment `index` failed: a wrong final flag means truncation or extension,
    /// a segment that opens at another index means reordering, a first segment that fails along
    /// with its successor means the payload belongs to another header.
    fn diagnose(&self, index: u64, last: bool, buf: &[u8], next: Option<&[u8]>) -> SealError {
        let opens = |i: u64, l: bool, bytes: &[u8]| {
            let mut copy = bytes.to_vec();
            self.try_open(i, l, &mut copy)
        };
        if opens(index, !last, buf) {
            return if last { SealError::Truncated } else { SealError::TrailingData };
        }
        let lo = index.saturating_sub(REORDER_WINDOW);
        for other in lo..=index.saturating_add(REORDER_WINDOW) {
            if other != index && (opens(other, false, buf) || opens(other, true, buf)) {
                return SealError::SegmentOutOfOrder { position: index, found: other };
            }
        }
        if index == 0 {
            let foreign = match next {
                Some(n) => !(opens(1, false, n) || opens(1, true, n)),
                None => false,
            };
            if foreign {
                return SealError::PayloadMismatch;
            }
        }
        SealError::SegmentCorrupt { index }
    }
}

fn nonce(index: u64, last: bool) -> Nonce<Aes256Gcm> {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    n.into()
}

/// Where the payload of an object with `payload_len` ciphertext bytes puts its segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    pub segment_size: u64,
    pub payload_len: u64,
}

impl Layout {
    pub(crate) fn stride(&self) -> u64 {
        self.segment_size + TAG_LEN as u64
    }

    /// Number of segments; errors when the length cannot be a valid payload.
    pub(crate) fn segments(&self) -> Result<u64, SealError> {
        if self.payload_len < TAG_LEN as u64 {
            return Err(SealError::Truncated);
        }
        let n = self.payload_len.div_ceil(self.stride());
        let last_len = self.payload_len - (n - 1) * self.stride();
        if last_len < TAG_LEN as u64 || (last_len == TAG_LEN as u64 && n > 1) {
            // A final segment shorter than a tag, or an empty final segment after others:
            // bytes were cut from (or added to) the end.
            return Err(SealError::Truncated);
        }
        Ok(n)
    }
}
