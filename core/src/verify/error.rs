//! The error of the verify module.

/// What can go wrong computing or checking a verified range. Messages name byte offsets, never
/// data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The topmost check failed: the data (objects of at most one 16 KiB group) or the topmost
    /// hash pair does not hash to the expected root.
    #[error(
        "the object does not hash to the expected root: wrong root or length for this object, or \
         its outboard/range proof is corrupt at its top pair; fetch it again from another copy"
    )]
    RootMismatch,
    /// A group of the data does not match the hash the verified tree above it holds.
    #[error(
        "data bytes {start}..{end} are corrupt: they do not match the verified tree; fetch them \
         again from another copy"
    )]
    CorruptData {
        /// First byte of the corrupt group, as an offset into the whole object.
        start: u64,
        /// End (exclusive) of the corrupt group.
        end: u64,
    },
    /// A hash pair of the outboard does not match the verified hash of its parent.
    #[error(
        "outboard is corrupt at byte {offset} (the hash pair covering data bytes {start}..{end}); \
         fetch the outboard again or rebuild it from the data"
    )]
    CorruptOutboard {
        /// Offset of the corrupt 64-byte pair in the outboard.
        offset: u64,
        /// First data byte the pair covers.
        start: u64,
        /// End (exclusive) of the data the pair covers.
        end: u64,
    },
    /// A hash pair of a range proof does not match the verified hash of its parent.
    #[error(
        "range proof is corrupt at byte {offset} (the hash pair covering data bytes \
         {start}..{end}); fetch the proof again"
    )]
    CorruptProof {
        /// Offset of the corrupt 64-byte pair in the proof.
        offset: u64,
        /// First data byte the pair covers.
        start: u64,
        /// End (exclusive) of the data the pair covers.
        end: u64,
    },
    /// The requested range ends past the end of the object.
    #[error("range {start}..{end} goes beyond the end of the object ({len} bytes)")]
    RangeBeyondEnd {
        /// Start of the requested range.
        start: u64,
        /// End of the requested range.
        end: u64,
        /// Length of the object.
        len: u64,
    },
    /// The requested range starts after it ends.
    #[error("range {start}..{end} is inverted: its start is after its end")]
    InvalidRange {
        /// Start of the requested range.
        start: u64,
        /// End of the requested range.
        end: u64,
    },
    /// The data handed in does not have the length the range needs.
    #[error(
        "expected {expected} data bytes (object bytes {start}..{start}+{expected}, whole 16 KiB \
         groups covering the range), got {actual}: pass exactly `covering_range` of the object"
    )]
    DataLength {
        /// Offset in the object where the data must start.
        start: u64,
        /// Number of bytes needed.
        expected: u64,
        /// Number of bytes given.
        actual: u64,
    },
    /// The outboard does not have the length an object of this size needs.
    #[error(
        "outboard is {actual} bytes, but an object of {len} bytes needs {expected}: it is \
         truncated or belongs to another object"
    )]
    OutboardLength {
        /// Length of the object.
        len: u64,
        /// Outboard length the object needs.
        expected: u64,
        /// Outboard length given.
        actual: u64,
    },
    /// The range proof does not have the length the range needs.
    #[error(
        "range proof is {actual} bytes, but range {start}..{end} of an object of {len} bytes \
         needs {expected}: it is truncated or was made for another range"
    )]
    ProofLength {
        /// Start of the range.
        start: u64,
        /// End of the range.
        end: u64,
        /// Length of the object.
        len: u64,
        /// Proof length the range needs.
        expected: u64,
        /// Proof length given.
        actual: u64,
    },
    /// The object is too large for this platform's memory (e.g. its outboard does not fit a
    /// 32-bit address space).
    #[error("an object of {len} bytes is too large to handle on this platform")]
    TooLarge {
        /// Length of the object.
        len: u64,
    },
}
