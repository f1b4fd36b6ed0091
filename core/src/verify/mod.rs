//! Verified ranges: the BLAKE3 root and Bao outboard of a sealed object's ciphertext.
//!
//! The content identity of an object is the BLAKE3 hash of its bytes (the root of BLAKE3's own
//! chunk tree). Next to it we keep an *outboard*: the hash pairs of that tree's parent nodes down
//! to groups of 16 KiB (16 BLAKE3 chunks), 64 bytes per group (~0.4 %). With the outboard, any
//! byte range can be checked against the root by hashing only the 16 KiB groups that hold it.
//!
//! - [`OutboardBuilder`] computes root and outboard of a stream of unknown length, in bounded
//!   memory, at the speed of plain BLAKE3.
//! - [`Outboard`] (trusted root + length, outboard bytes) verifies a range
//!   ([`Outboard::verify_range`]) and extracts the [`RangeProof`] of a range.
//! - [`RangeProof`] verifies a range with only the pairs it needs;
//!   [`RangeProof::outboard_ranges`] says which 64-byte pieces of a stored outboard those are.
//! - [`verify_all`] checks a whole object and its outboard.
//! - [`covering_range`] says which object bytes a range's verification needs.
//!
//! The layout (post-order, as `bao-tree` 0.17 defines it, block size 16 chunks) and the proof
//! format are specified in `docs/FORMAT.md §4`; `test-vectors/outboard.json` pins them.
//!
//! Everything here is sans-IO: functions take byte slices and return the verified bytes or a
//! [`VerifyError`]. Callers fetch the covering bytes and the outboard (or proof) with whatever
//! async transport they use ([`crate::store`]) and hand them in; nothing here blocks or awaits.

mod builder;
mod error;
mod outboard;
mod proof;
mod tree;

use std::ops::Range;

pub use builder::OutboardBuilder;
pub use error::VerifyError;
pub use outboard::{Outboard, verify_all};
pub use proof::RangeProof;

/// Bytes per group, the unit a range is verified in: 16 BLAKE3 chunks of 1 KiB.
pub const GROUP_SIZE: u64 = tree::GROUP_LEN;

/// The object bytes needed to verify `range` of an object of `len` bytes: the range widened to
/// whole 16 KiB groups, clamped to the object (so all of an object of at most 16 KiB). Empty for
/// an empty range.
pub fn covering_range(len: u64, range: Range<u64>) -> Result<Range<u64>, VerifyError> {
    Ok(match tree::range_groups(len, &range)? {
        Some(groups) => tree::groups_span(len, &groups),
        None => range.start..range.start,
    })
}

#[cfg(test)]
mod tests;
