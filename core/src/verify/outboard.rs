//! A whole outboard, and what can be checked or extracted with it.

use std::ops::Range;

use super::tree::{self, Pairs};
use super::{OutboardBuilder, RangeProof, VerifyError, covering_range};

/// The BLAKE3 root, the length and the post-order Bao outboard (16 KiB groups) of an object.
///
/// The root is the plain BLAKE3 hash of the object's bytes (so it names the object as a raw
/// blake3 CID). The outboard holds one 64-byte hash pair per parent node of the tree over 16 KiB
/// groups, in post order, with no length prefix or suffix: `64 * (groups - 1)` bytes; the layout
/// is the one of `bao_tree::io::outboard::PostOrderMemOutboard` with a block size of 16 chunks.
///
/// The root and length are what the caller trusts (from signed metadata); the outboard bytes may
/// come from an untrusted store: every check walks down from the root and rejects a corrupt pair.
#[derive(Clone, PartialEq, Eq)]
pub struct Outboard {
    root: blake3::Hash,
    len: u64,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for Outboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outboard")
            .field("root", &self.root.to_hex())
            .field("len", &self.len)
            .field("outboard_bytes", &self.bytes.len())
            .finish()
    }
}

impl Outboard {
    pub(crate) fn new_unchecked(root: blake3::Hash, len: u64, bytes: Vec<u8>) -> Self {
        Self { root, len, bytes }
    }

    /// Computes the root and outboard of bytes held in memory (a shortcut for one
    /// [`OutboardBuilder::update`]).
    pub fn compute(data: &[u8]) -> Self {
        let mut builder = OutboardBuilder::new();
        builder.update(data);
        builder.finalize()
    }

    /// Puts together a trusted `root` and `len` with outboard `bytes` read from anywhere. Only
    /// the length of `bytes` is checked here; their content is checked by every verification.
    pub fn from_parts(root: blake3::Hash, len: u64, bytes: Vec<u8>) -> Result<Self, VerifyError> {
        let expected = Self::size_for(len);
        if bytes.len() as u64 != expected {
            return Err(VerifyError::OutboardLength {
                len,
                expected,
                actual: bytes.len() as u64,
            });
        }
        Ok(Self { root, len, bytes })
    }

    /// Bytes of the outboard of an object of `len` bytes: 64 per 16 KiB group, less one pair.
    pub fn size_for(len: u64) -> u64 {
        tree::outboard_len(len)
    }

    /// The BLAKE3 root of the object.
    pub fn root(&self) -> blake3::Hash {
        self.root
    }

    /// The length of the object in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the object is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The outboard bytes (hash pairs in post order).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The outboard bytes, consuming `self`.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// Verifies the bytes `range` of the object and returns them.
    ///
    /// `covering` must be exactly the object bytes [`covering_range`]`(len, range)`: the range
    /// widened to whole 16 KiB groups (all of the object when it is at most 16 KiB). An empty
    /// range verifies nothing and needs no data.
    pub fn verify_range<'d>(
        &self,
        range: Range<u64>,
        covering: &'d [u8],
    ) -> Result<&'d [u8], VerifyError> {
        verify_with(
            &self.root,
            self.len,
            &range,
            covering,
            &mut Pairs::Outboard(&self.bytes),
        )
    }

    /// The range proof for the bytes `range`: the hash pairs a verifier needs, so a client can
    /// check the range with the proof alone (see [`RangeProof`]).
    pub fn range_proof(&self, range: Range<u64>) -> Result<RangeProof, VerifyError> {
        let pieces = RangeProof::outboard_ranges(self.len, range.clone())?;
        let mut bytes = Vec::with_capacity(pieces.len() * 64);
        for piece in pieces {
            let at = usize::try_from(piece.start)
                .map_err(|_| VerifyError::TooLarge { len: self.len })?;
            let pair = self
                .bytes
                .get(at..at + 64)
                .ok_or(VerifyError::OutboardLength {
                    len: self.len,
                    expected: Self::size_for(self.len),
                    actual: self.bytes.len() as u64,
                })?;
            bytes.extend_from_slice(pair);
        }
        RangeProof::from_parts(self.root, self.len, range, bytes)
    }
}

/// Verifies a whole object: `data` must hash to `root`, and `outboard` must be exactly its
/// outboard (every pair is checked). Errors name the first corrupt place found.
pub fn verify_all(root: &blake3::Hash, data: &[u8], outboard: &[u8]) -> Result<(), VerifyError> {
    let len = data.len() as u64;
    let expected = tree::outboard_len(len);
    if outboard.len() as u64 != expected {
        return Err(VerifyError::OutboardLength {
            len,
            expected,
            actual: outboard.len() as u64,
        });
    }
    let all = 0..tree::group_count(len);
    tree::verify_groups(root, len, &all, data, &mut Pairs::Outboard(outboard))
}

/// Shared by [`Outboard::verify_range`] and [`RangeProof::verify`]: checks the range and the
/// covering data's length, walks the tree, returns the requested bytes.
pub(crate) fn verify_with<'d>(
    root: &blake3::Hash,
    len: u64,
    range: &Range<u64>,
    covering: &'d [u8],
    pairs: &mut Pairs<'_>,
) -> Result<&'d [u8], VerifyError> {
    let span = covering_range(len, range.clone())?;
    let expected = span.end - span.start;
    if covering.len() as u64 != expected {
        return Err(VerifyError::DataLength {
            start: span.start,
            expected,
            actual: covering.len() as u64,
        });
    }
    let Some(groups) = tree::range_groups(len, range)? else {
        return Ok(&covering[..0]);
    };
    tree::verify_groups(root, len, &groups, covering, pairs)?;
    // Both offsets lie inside `covering`, whose length fits a usize.
    let from = (range.start - span.start) as usize;
    let to = (range.end - span.start) as usize;
    covering.get(from..to).ok_or(VerifyError::DataLength {
        start: span.start,
        expected,
        actual: covering.len() as u64,
    })
}
