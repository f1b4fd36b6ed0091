//! Geometry of the tree over 16 KiB groups, the two hash functions, and the walk that checks a
//! range top-down.
//!
//! A subtree of `n` groups starting at group `first` is split like BLAKE3 splits its chunk tree:
//! the left child holds the largest power of two of groups strictly less than `n`. Its `n - 1`
//! parent pairs sit in the post-order outboard as `[left's pairs][right's pairs][own pair]`, so a
//! subtree whose first pair is at pair index `base` has its own pair at `base + n - 2`, its left
//! child at `base`, its right child at `base + left - 1`.

use std::ops::Range;

use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, merge_subtrees_non_root, merge_subtrees_root,
};

use super::VerifyError;

/// Bytes per group (16 BLAKE3 chunks of 1 KiB), the leaf of the tree.
pub(crate) const GROUP_LEN: u64 = 16 * 1024;
/// Bytes per hash pair in an outboard or proof.
pub(crate) const PAIR_LEN: u64 = 64;

/// Groups in an object of `len` bytes; an empty object is one empty group.
pub(crate) fn group_count(len: u64) -> u64 {
    len.div_ceil(GROUP_LEN).max(1)
}

/// Bytes of the outboard of an object of `len` bytes: one pair per parent node.
pub(crate) fn outboard_len(len: u64) -> u64 {
    (group_count(len) - 1) * PAIR_LEN
}

/// Groups in the left child of a subtree of `groups >= 2` groups.
fn left_groups(groups: u64) -> u64 {
    debug_assert!(groups >= 2);
    1 << (63 - (groups - 1).leading_zeros())
}

/// Data bytes covered by the groups `first..first + count` of an object of `len` bytes.
fn span(len: u64, first: u64, count: u64) -> Range<u64> {
    let start = first.saturating_mul(GROUP_LEN).min(len);
    let end = first
        .saturating_add(count)
        .saturating_mul(GROUP_LEN)
        .min(len);
    start..end
}

/// The hash of group `index` holding `data`: the BLAKE3 root when the group is the whole object,
/// otherwise the chaining value of the subtree starting at byte `index * 16 KiB`.
pub(crate) fn group_hash(index: u64, data: &[u8], is_root: bool) -> blake3::Hash {
    if is_root {
        return blake3::hash(data);
    }
    debug_assert!(!data.is_empty(), "non-root groups are never empty");
    let mut hasher = blake3::Hasher::new();
    hasher.set_input_offset(index * GROUP_LEN);
    hasher.update(data);
    blake3::Hash::from(hasher.finalize_non_root())
}

/// The hash of a parent node from its children's hashes.
pub(crate) fn parent_hash(
    left: &ChainingValue,
    right: &ChainingValue,
    is_root: bool,
) -> blake3::Hash {
    if is_root {
        merge_subtrees_root(left, right, Mode::Hash)
    } else {
        blake3::Hash::from(merge_subtrees_non_root(left, right, Mode::Hash))
    }
}

/// The groups a byte range needs, or `None` for an empty range (nothing to verify). Checks the
/// range against the object length.
pub(crate) fn range_groups(
    len: u64,
    range: &Range<u64>,
) -> Result<Option<Range<u64>>, VerifyError> {
    let Range { start, end } = *range;
    if start > end {
        return Err(VerifyError::InvalidRange { start, end });
    }
    if end > len {
        return Err(VerifyError::RangeBeyondEnd { start, end, len });
    }
    if start == end {
        return Ok(None);
    }
    Ok(Some(start / GROUP_LEN..end.div_ceil(GROUP_LEN)))
}

/// The object bytes of whole groups `groups`.
pub(crate) fn groups_span(len: u64, groups: &Range<u64>) -> Range<u64> {
    span(len, groups.start, groups.end - groups.start)
}

fn overlaps(a: &Range<u64>, first: u64, count: u64) -> bool {
    a.start < first + count && first < a.end
}

/// Calls `visit(pair_index, data_span)` for every parent node the groups `wanted` need, in
/// pre-order (node, left subtree, right subtree), stopping with `false` as soon as `visit` does.
pub(crate) fn visit_pairs(
    len: u64,
    wanted: &Range<u64>,
    visit: &mut dyn FnMut(u64, Range<u64>) -> bool,
) -> bool {
    fn rec(
        len: u64,
        wanted: &Range<u64>,
        first: u64,
        count: u64,
        base: u64,
        visit: &mut dyn FnMut(u64, Range<u64>) -> bool,
    ) -> bool {
        if count < 2 {
            return true;
        }
        if !visit(base + count - 2, span(len, first, count)) {
            return false;
        }
        let left = left_groups(count);
        (!overlaps(wanted, first, left) || rec(len, wanted, first, left, base, visit))
            && (!overlaps(wanted, first + left, count - left)
                || rec(
                    len,
                    wanted,
                    first + left,
                    count - left,
                    base + left - 1,
                    visit,
                ))
    }
    rec(len, wanted, 0, group_count(len), 0, visit)
}

/// Number of parent nodes [`visit_pairs`] visits for the groups `wanted`, in O(depth) steps: a
/// subtree wholly inside `wanted` contributes all of its `count - 1` pairs.
pub(crate) fn count_pairs(len: u64, wanted: &Range<u64>) -> u64 {
    fn rec(wanted: &Range<u64>, first: u64, count: u64) -> u64 {
        if count < 2 {
            return 0;
        }
        if wanted.start <= first && first + count <= wanted.end {
            return count - 1;
        }
        let left = left_groups(count);
        let mut pairs = 1;
        if overlaps(wanted, first, left) {
            pairs += rec(wanted, first, left);
        }
        if overlaps(wanted, first + left, count - left) {
            pairs += rec(wanted, first + left, count - left);
        }
        pairs
    }
    rec(wanted, 0, group_count(len))
}

/// Where the walk reads hash pairs from.
pub(crate) enum Pairs<'a> {
    /// A whole post-order outboard, read by pair index.
    Outboard(&'a [u8]),
    /// A range proof, read front to back.
    Proof {
        /// The proof bytes.
        bytes: &'a [u8],
        /// Pairs read so far.
        next: u64,
        /// Bytes the proof must have (checked before the walk; used in errors only).
        expected: u64,
    },
}

impl Pairs<'_> {
    /// The pair of node `index`, and its byte offset in the outboard or proof.
    fn take(&mut self, index: u64) -> Option<(u64, ChainingValue, ChainingValue)> {
        let (bytes, pair) = match self {
            Pairs::Outboard(bytes) => (*bytes, index),
            Pairs::Proof { bytes, next, .. } => {
                *next += 1;
                (*bytes, *next - 1)
            }
        };
        let offset = pair.checked_mul(PAIR_LEN)?;
        let at = usize::try_from(offset).ok()?;
        let slice = bytes.get(at..at.checked_add(64)?)?;
        let left = slice.get(..32)?.try_into().ok()?;
        let right = slice.get(32..)?.try_into().ok()?;
        Some((offset, left, right))
    }

    fn corrupt(&self, offset: u64, data: Range<u64>) -> VerifyError {
        match self {
            Pairs::Outboard(_) => VerifyError::CorruptOutboard {
                offset,
                start: data.start,
                end: data.end,
            },
            Pairs::Proof { .. } => VerifyError::CorruptProof {
                offset,
                start: data.start,
                end: data.end,
            },
        }
    }

    fn missing(&self, len: u64, wanted: &Range<u64>) -> VerifyError {
        match self {
            Pairs::Outboard(bytes) => VerifyError::OutboardLength {
                len,
                expected: outboard_len(len),
                actual: bytes.len() as u64,
            },
            Pairs::Proof {
                bytes, expected, ..
            } => {
                let data = groups_span(len, wanted);
                VerifyError::ProofLength {
                    start: data.start,
                    end: data.end,
                    len,
                    expected: *expected,
                    actual: bytes.len() as u64,
                }
            }
        }
    }
}

/// Checks the groups `wanted` of an object of `len` bytes with root `root`. `covering` holds
/// exactly the bytes [`groups_span`] of `wanted`; the caller has checked its length.
pub(crate) fn verify_groups(
    root: &blake3::Hash,
    len: u64,
    wanted: &Range<u64>,
    covering: &[u8],
    pairs: &mut Pairs<'_>,
) -> Result<(), VerifyError> {
    let walk = Walk {
        len,
        wanted: wanted.clone(),
        covering_start: groups_span(len, wanted).start,
        covering,
    };
    walk.node(pairs, root, 0, group_count(len), 0, true)
}

struct Walk<'a> {
    len: u64,
    wanted: Range<u64>,
    covering_start: u64,
    covering: &'a [u8],
}

impl Walk<'_> {
    fn node(
        &self,
        pairs: &mut Pairs<'_>,
        expected: &blake3::Hash,
        first: u64,
        count: u64,
        base: u64,
        is_root: bool,
    ) -> Result<(), VerifyError> {
        let data = span(self.len, first, count);
        if count == 1 {
            let bytes = self.bytes(&data)?;
            if group_hash(first, bytes, is_root) != *expected {
                return Err(if is_root {
                    VerifyError::RootMismatch
                } else {
                    VerifyError::CorruptData {
                        start: data.start,
                        end: data.end,
                    }
                });
            }
            return Ok(());
        }
        let (offset, left_cv, right_cv) = pairs
            .take(base + count - 2)
            .ok_or_else(|| pairs.missing(self.len, &self.wanted))?;
        if parent_hash(&left_cv, &right_cv, is_root) != *expected {
            return Err(if is_root {
                VerifyError::RootMismatch
            } else {
                pairs.corrupt(offset, data)
            });
        }
        let left = left_groups(count);
        if overlaps(&self.wanted, first, left) {
            self.node(
                pairs,
                &blake3::Hash::from(left_cv),
                first,
                left,
                base,
                false,
            )?;
        }
        if overlaps(&self.wanted, first + left, count - left) {
            let right = blake3::Hash::from(right_cv);
            self.node(
                pairs,
                &right,
                first + left,
                count - left,
                base + left - 1,
                false,
            )?;
        }
        Ok(())
    }

    /// The covering bytes of object bytes `data` (which lie inside the covered groups).
    fn bytes(&self, data: &Range<u64>) -> Result<&[u8], VerifyError> {
        let truncated = || VerifyError::DataLength {
            start: self.covering_start,
            expected: groups_span(self.len, &self.wanted).end - self.covering_start,
            actual: self.covering.len() as u64,
        };
        let from = usize::try_from(data.start - self.covering_start).map_err(|_| truncated())?;
        let to = usize::try_from(data.end - self.covering_start).map_err(|_| truncated())?;
        self.covering.get(from..to).ok_or_else(truncated)
    }
}

/// The root of an object of `len` bytes whose groups `wanted` hold `covering` and whose other
/// subtrees have the hashes the proof `pairs` gives (pre-order, as [`visit_pairs`]): computed
/// bottom-up, nothing compared. With the real bytes it equals the root when the proof is
/// authentic; with some bytes replaced it is the root the object would have with them.
pub(crate) fn compute_root(
    len: u64,
    wanted: &Range<u64>,
    covering: &[u8],
    pairs: &mut Pairs<'_>,
) -> Result<blake3::Hash, VerifyError> {
    let walk = Walk {
        len,
        wanted: wanted.clone(),
        covering_start: groups_span(len, wanted).start,
        covering,
    };
    walk.compute(pairs, 0, group_count(len), 0, true)
}

impl Walk<'_> {
    fn compute(
        &self,
        pairs: &mut Pairs<'_>,
        first: u64,
        count: u64,
        base: u64,
        is_root: bool,
    ) -> Result<blake3::Hash, VerifyError> {
        if count == 1 {
            let bytes = self.bytes(&span(self.len, first, count))?;
            return Ok(group_hash(first, bytes, is_root));
        }
        let (_, left_cv, right_cv) = pairs
            .take(base + count - 2)
            .ok_or_else(|| pairs.missing(self.len, &self.wanted))?;
        let left = left_groups(count);
        let l = if overlaps(&self.wanted, first, left) {
            *self.compute(pairs, first, left, base, false)?.as_bytes()
        } else {
            left_cv
        };
        let r = if overlaps(&self.wanted, first + left, count - left) {
            *self
                .compute(pairs, first + left, count - left, base + left - 1, false)?
                .as_bytes()
        } else {
            right_cv
        };
        Ok(parent_hash(&l, &r, is_root))
    }
}
