//! Range proofs: the part of an outboard one byte range needs.

use std::ops::Range;

use super::VerifyError;
use super::outboard::verify_with;
use super::tree::{self, PAIR_LEN, Pairs};

/// The hash pairs needed to verify one byte range of an object against its root, without the
/// rest of the outboard.
///
/// The proof is the 64-byte pairs of every parent node whose data overlaps the range's groups,
/// in pre-order (node, then its left subtree, then its right subtree), concatenated. Each pair is
/// a verbatim copy of 64 bytes of the object's outboard; [`RangeProof::outboard_ranges`] says
/// which, so a client can fetch just those pieces of a stored outboard and concatenate them.
#[derive(Clone, PartialEq, Eq)]
pub struct RangeProof {
    root: blake3::Hash,
    len: u64,
    range: Range<u64>,
    bytes: Vec<u8>,
}

impl std::fmt::Debug for RangeProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeProof")
            .field("root", &self.root.to_hex())
            .field("len", &self.len)
            .field("range", &self.range)
            .field("proof_bytes", &self.bytes.len())
            .finish()
    }
}

impl RangeProof {
    /// The pieces of the outboard of an object of `len` bytes that make up the proof of `range`,
    /// in proof order: each is the byte range of one 64-byte pair in the outboard. Empty for an
    /// empty range or an object of at most one group. This lists one piece per pair, so for a
    /// range of most of a large object, fetching the whole outboard is cheaper.
    pub fn outboard_ranges(len: u64, range: Range<u64>) -> Result<Vec<Range<u64>>, VerifyError> {
        let Some(groups) = tree::range_groups(len, &range)? else {
            return Ok(Vec::new());
        };
        let mut pieces = Vec::new();
        tree::visit_pairs(len, &groups, &mut |index, _| {
            pieces.push(index * PAIR_LEN..(index + 1) * PAIR_LEN);
            true
        });
        Ok(pieces)
    }

    /// Bytes of the proof of `range` in an object of `len` bytes.
    pub fn size_for(len: u64, range: Range<u64>) -> Result<u64, VerifyError> {
        Ok(match tree::range_groups(len, &range)? {
            Some(groups) => tree::count_pairs(len, &groups) * PAIR_LEN,
            None => 0,
        })
    }

    /// Puts together a trusted `root` and `len`, the `range` the proof is for, and proof `bytes`
    /// read from anywhere. Only the length of `bytes` is checked here; their content is checked
    /// by [`verify`](Self::verify).
    pub fn from_parts(
        root: blake3::Hash,
        len: u64,
        range: Range<u64>,
        bytes: Vec<u8>,
    ) -> Result<Self, VerifyError> {
        let expected = Self::size_for(len, range.clone())?;
        if bytes.len() as u64 != expected {
            return Err(VerifyError::ProofLength {
                start: range.start,
                end: range.end,
                len,
                expected,
                actual: bytes.len() as u64,
            });
        }
        Ok(Self {
            root,
            len,
            range,
            bytes,
        })
    }

    /// The BLAKE3 root the proof is checked against.
    pub fn root(&self) -> blake3::Hash {
        self.root
    }

    /// The length of the object.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the object is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The byte range the proof is for.
    pub fn range(&self) -> Range<u64> {
        self.range.clone()
    }

    /// The proof bytes (hash pairs in pre-order).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The proof bytes, consuming `self`.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// The root of the object whose covering groups of the proof's range hold `covering` and whose
    /// other subtrees are those the proof names: equal to [`RangeProof::root`] exactly when the
    /// bytes and the proof are authentic; with bytes replaced, the root the object would have.
    /// `covering` must be as long as for [`RangeProof::verify`].
    pub fn root_of(&self, covering: &[u8]) -> Result<blake3::Hash, VerifyError> {
        let span = super::covering_range(self.len, self.range.clone())?;
        if covering.len() as u64 != span.end - span.start {
            return Err(VerifyError::DataLength {
                start: span.start,
                expected: span.end - span.start,
                actual: covering.len() as u64,
            });
        }
        let Some(groups) = tree::range_groups(self.len, &self.range)? else {
            // An empty range covers no group: there is nothing to compute a root from.
            return Err(VerifyError::InvalidRange {
                start: self.range.start,
                end: self.range.end,
            });
        };
        let mut pairs = Pairs::Proof {
            bytes: &self.bytes,
            next: 0,
            expected: self.bytes.len() as u64,
        };
        tree::compute_root(self.len, &groups, covering, &mut pairs)
    }

    /// Verifies the range with this proof and returns its bytes.
    ///
    /// `covering` must be exactly the object bytes [`covering_range`](super::covering_range)
    /// `(len, range)`: the range widened to whole 16 KiB groups.
    pub fn verify<'d>(&self, covering: &'d [u8]) -> Result<&'d [u8], VerifyError> {
        let mut pairs = Pairs::Proof {
            bytes: &self.bytes,
            next: 0,
            expected: self.bytes.len() as u64,
        };
        verify_with(&self.root, self.len, &self.range, covering, &mut pairs)
    }
}
