//! The payload: STREAM segments of AES-256-GCM (`docs/FORMAT.md` §3.4).
//!
//! Segment `i` is encrypted under the payload key with the 12-byte nonce
//! `i as 88-bit big-endian || last`, where `last` is 1 for the final segment and 0 otherwise.
//! Every segment but the last holds exactly `segment_size` plaintext bytes; the last holds
//! 1..=segment_size bytes, or 0 bytes only when it is also the first (an empty object).

use super::SealError;
use super::gcm::Gcm;

/// Length of the AES-GCM tag that ends every segment.
pub const TAG_LEN: usize = 16;

/// How far from its expected position a failed segment is looked for, to tell reordering from
/// corruption. Only the error path pays for it.
const REORDER_WINDOW: u64 = 16;

/// The AES-256-GCM key of one object's payload. Both backends zeroize their key schedule on drop
/// (aes-gcm with its `zeroize` feature; ring always).
pub(crate) struct PayloadCipher {
    gcm: Gcm,
    segment_size: usize,
}

impl PayloadCipher {
    pub(crate) fn new(key: &[u8; 32], segment_size: usize) -> Self {
        Self {
            gcm: Gcm::new(key),
            segment_size,
        }
    }

    pub(crate) fn segment_size(&self) -> usize {
        self.segment_size
    }

    /// Encrypts `buf` (one segment's plaintext) in place and appends the tag.
    pub(crate) fn seal_segment(&self, index: u64, last: bool, buf: &mut Vec<u8>) {
        debug_assert!(buf.len() <= self.segment_size);
        let tag = self.gcm.seal_in_place(nonce(index, last), buf);
        buf.extend_from_slice(&tag);
    }

    fn try_open(&self, index: u64, last: bool, input: &[u8], out: &mut Vec<u8>) -> bool {
        if input.len() < TAG_LEN {
            return false;
        }
        // No clear first: resizing to the same length (every full segment) writes nothing, and
        // `open_into` overwrites all of it (zeroing it first cost a pass over every byte opened).
        out.resize(input.len() - TAG_LEN, 0);
        let ok = self.gcm.open_into(nonce(index, last), input, out);
        if !ok {
            out.clear();
        }
        ok
    }

    /// Opens segment `index` (`ciphertext || tag` in `input`) into `out`, or returns the most
    /// precise error the bytes allow. `next` is the start of the following segment, when the
    /// caller already holds it (used to tell a foreign payload from a corrupt first segment).
    pub(crate) fn open_segment(
        &self,
        index: u64,
        last: bool,
        input: &[u8],
        out: &mut Vec<u8>,
        next: Option<&[u8]>,
    ) -> Result<(), SealError> {
        if last && index > 0 && input.len() == TAG_LEN {
            // Only an empty object may end with an empty segment; anything else was cut.
            return Err(SealError::Truncated);
        }
        if input.len() > self.segment_size + TAG_LEN {
            return Err(SealError::Internal("segment longer than the segment size"));
        }
        if self.try_open(index, last, input, out) {
            return Ok(());
        }
        Err(self.diagnose(index, last, input, next))
    }

    /// Like [`Self::open_segment`], into the start of a caller's buffer that holds at least the
    /// segment's plaintext (saves a copy when the caller reads whole segments). Returns the
    /// plaintext length; on failure the buffer holds zeros, never unauthenticated plaintext.
    pub(crate) fn open_segment_into(
        &self,
        index: u64,
        last: bool,
        input: &[u8],
        out: &mut [u8],
        next: Option<&[u8]>,
    ) -> Result<usize, SealError> {
        if last && index > 0 && input.len() == TAG_LEN {
            return Err(SealError::Truncated);
        }
        if input.len() > self.segment_size + TAG_LEN {
            return Err(SealError::Internal("segment longer than the segment size"));
        }
        let n = input.len().saturating_sub(TAG_LEN);
        let Some(dst) = out.get_mut(..n) else {
            return Err(SealError::Internal("buffer smaller than a segment"));
        };
        if input.len() >= TAG_LEN && self.gcm.open_into(nonce(index, last), input, dst) {
            return Ok(n);
        }
        dst.fill(0);
        Err(self.diagnose(index, last, input, next))
    }

    /// Works out why segment `index` failed: a wrong final flag means truncation or extension,
    /// a segment that opens at another index means reordering, a first segment that fails along
    /// with its successor means the payload belongs to another header.
    fn diagnose(&self, index: u64, last: bool, input: &[u8], next: Option<&[u8]>) -> SealError {
        let mut scratch = Vec::new();
        let mut opens = |i: u64, l: bool, bytes: &[u8]| self.try_open(i, l, bytes, &mut scratch);
        if opens(index, !last, input) {
            return if last {
                SealError::Truncated
            } else {
                SealError::TrailingData
            };
        }
        let lo = index.saturating_sub(REORDER_WINDOW);
        for other in lo..=index.saturating_add(REORDER_WINDOW) {
            if other != index && (opens(other, false, input) || opens(other, true, input)) {
                return SealError::SegmentOutOfOrder {
                    position: index,
                    found: other,
                };
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
        SealError::SegmentCorrupt { index, last }
    }
}

/// The STREAM nonce: the segment counter as 88-bit big-endian, then the last-segment flag.
pub(crate) fn nonce(index: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    n
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_layout() {
        assert_eq!(nonce(0, false), [0; 12]);
        assert_eq!(nonce(1, true), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
        assert_eq!(nonce(0x0102, false)[9..], [1, 2, 0]);
    }

    #[cfg(all(feature = "ring", not(target_arch = "wasm32")))]
    #[test]
    fn backends_agree() {
        use super::super::gcm::{PortableGcm, RingGcm};
        let key = [7u8; 32];
        let (a, b) = (PortableGcm::new(&key), RingGcm::new(&key));
        for len in [0usize, 1, 15, 16, 17, 1000, 65536] {
            let pt: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let (mut x, mut y) = (pt.clone(), pt.clone());
            let tx = a.seal_in_place(nonce(3, true), &mut x);
            let ty = b.seal_in_place(nonce(3, true), &mut y);
            assert_eq!((x.clone(), tx), (y, ty), "len {len}");
            x.extend_from_slice(&tx);
            let mut out = vec![0u8; len];
            assert!(b.open_into(nonce(3, true), &x, &mut out));
            assert_eq!(out, pt);
            assert!(a.open_into(nonce(3, true), &x, &mut out));
            x[0] ^= 1;
            assert!(!b.open_into(nonce(3, true), &x, &mut out));
            assert!(!a.open_into(nonce(3, true), &x, &mut out));
        }
    }
}
