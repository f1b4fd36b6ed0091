//! The index's error type.

use crate::block::BlockError;
use crate::store::StoreError;

/// What can go wrong reading, writing, listing or proving in the index.
///
/// Messages never contain object keys, values or key material: they name CIDs and say what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// An object key was empty; S3 keys are 1 to 1024 bytes.
    #[error("an index key must not be empty (keys are 1 to 1024 bytes)")]
    EmptyKey,
    /// An object key was longer than 1024 bytes.
    #[error("an index key is {len} bytes long; keys are at most 1024 bytes, as in S3")]
    KeyTooLong {
        /// Length of the rejected key.
        len: usize,
    },
    /// A value was longer than [`crate::index::MAX_VALUE_LEN`].
    #[error(
        "an index value is {len} bytes long; values are at most 65536 bytes: store large data as a sealed object and index its CID"
    )]
    ValueTooLarge {
        /// Length of the rejected value.
        len: usize,
    },
    /// Input to a bulk load was not strictly increasing by key.
    #[error(
        "bulk-load input is not sorted: entry {position} is not greater than the one before (sort the entries and drop duplicates, or use apply)"
    )]
    UnsortedInput {
        /// Zero-based position of the offending entry.
        position: usize,
    },
    /// The configuration is outside the supported range.
    #[error("invalid index configuration: {0}")]
    InvalidConfig(&'static str),
    /// The block store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A block did not hash to its CID, or the CID is not a coffer CID.
    #[error(transparent)]
    Block(#[from] BlockError),
    /// A node did not decrypt: wrong index key, or tampered ciphertext.
    #[error(
        "index node {cid} does not decrypt with this index key: the key is wrong or the block was tampered with"
    )]
    Decrypt {
        /// The node's CID.
        cid: String,
    },
    /// A node decrypted but is not a well-formed index node.
    #[error("index node {cid} is malformed: {defect}")]
    Malformed {
        /// The node's CID.
        cid: String,
        /// What is wrong with it.
        defect: NodeDefect,
    },
    /// A node sits at the wrong level or does not match its parent: the tree is broken.
    /// A reference cycle would show up here, since a child's level must be its parent's minus one.
    #[error(
        "index node {cid} does not fit the tree: {detail}; the tree was not written by coffer or is corrupt"
    )]
    Structure {
        /// The node's CID.
        cid: String,
        /// What did not fit.
        detail: &'static str,
    },
    /// A tree would need more levels than the format allows.
    #[error(
        "the index tree would exceed {0} levels; the node size target is too small for these keys"
    )]
    TooDeep(u8),
    /// A continuation token was forged, corrupted, or issued for another listing or vault.
    #[error(
        "continuation token is not valid for this listing ({0}); it was corrupted, forged, or issued for another prefix, delimiter or vault: list again without a token"
    )]
    InvalidToken(&'static str),
    /// A proof does not verify against the root it claims.
    #[error("index proof does not verify: {0}")]
    InvalidProof(String),
    /// The system random number generator failed.
    #[error("the system random number generator failed; cannot create a key")]
    Random,
}

/// Why a decrypted node was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NodeDefect {
    /// The plaintext is not DAG-CBOR of the node schema.
    #[error("not a DAG-CBOR index node")]
    Decode,
    /// The level is above the maximum.
    #[error("level above the maximum")]
    LevelTooHigh,
    /// A leaf has children, or an internal node has entries or no children.
    #[error("leaf/internal shape does not match its level")]
    Shape,
    /// Two keys are out of order.
    #[error("keys are not sorted")]
    Unsorted,
    /// A key appears twice.
    #[error("a key appears twice")]
    Duplicate,
    /// A key is empty or longer than 1024 bytes.
    #[error("a key has an invalid length")]
    KeyLength,
    /// A value is longer than the maximum.
    #[error("a value is too long")]
    ValueLength,
    /// A writer id is not 16 bytes.
    #[error("a writer id is not 16 bytes")]
    WriterLength,
    /// A CID in the node is not a raw blake3 CID.
    #[error("a child CID is not a raw blake3 CID")]
    ChildCid,
    /// A key other than the last is a node boundary: the node was chunked with another key or size.
    #[error("a node boundary falls inside the node (built with another index key or node size?)")]
    InteriorBoundary,
}

/// Result of index operations.
pub type IndexResult<T> = Result<T, IndexError>;
