//! Transports: untrusted stores of content-addressed blocks and of writer heads.
//!
//! Nothing a store returns is trusted: callers verify blocks against their CID
//! ([`crate::block::verify_block`]) or against a Bao outboard ([`crate::verify`]) before use.
//! The traits are async; their futures are `Send` on native targets and not on wasm32
//! (see [`crate::cond_send`]), so one trait serves a tokio server and a browser tab.

mod memory;

pub use memory::MemoryStore;

use std::ops::Range;

use bytes::Bytes;

use crate::block::Cid;
use crate::cond_send::{CondSend, CondSync};

/// What can go wrong talking to a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store has no block with this CID.
    #[error("block {0} not found in the store")]
    NotFound(String),
    /// The requested byte range lies outside the block.
    #[error("range {start}..{end} is outside block {cid} of {len} bytes")]
    RangeOutOfBounds {
        /// The block.
        cid: String,
        /// Start of the requested range.
        start: u64,
        /// End of the requested range.
        end: u64,
        /// The block's length.
        len: u64,
    },
    /// The store returned bytes that do not match the CID they were requested by.
    #[error("store returned corrupt data for {cid}: {detail}")]
    Corrupt {
        /// The block.
        cid: String,
        /// What did not match.
        detail: String,
    },
    /// A conditional write failed: someone else wrote first.
    #[error(
        "conditional write of {0} failed: it was changed by another writer; read it again and retry"
    )]
    PreconditionFailed(String),
    /// The store refused the credentials.
    #[error("access denied by the store: {0}; check the credentials and the bucket policy")]
    AccessDenied(String),
    /// The store could not be reached or failed; retrying later may help.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A local I/O error (the local directory store).
    #[error("I/O error in the store at {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Anything else the backend reported.
    #[error("store error: {0}")]
    Other(String),
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A content-addressed store of immutable blocks, named by CID.
///
/// `put` is idempotent: storing the same CID twice is not an error. Implementations need not
/// verify that bytes match their CID on `put` (the caller computed it), and callers must not
/// assume they do on `get`.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait BlockStore: CondSend + CondSync {
    /// Stores `bytes` under `cid`.
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()>;
    /// Returns the bytes stored under `cid`.
    async fn get(&self, cid: &Cid) -> StoreResult<Bytes>;
    /// Returns `range` of the bytes stored under `cid`.
    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes>;
    /// Whether the store holds `cid`.
    async fn has(&self, cid: &Cid) -> StoreResult<bool>;
    /// Removes `cid`; removing a missing block is not an error.
    async fn delete(&self, cid: &Cid) -> StoreResult<()>;
    /// Every CID in the store, in no particular order.
    async fn list(&self) -> StoreResult<Vec<Cid>>;
}

/// Checks `range` against a block of `len` bytes and converts it to `usize` bounds.
pub(crate) fn check_range(cid: &Cid, range: &Range<u64>, len: u64) -> StoreResult<Range<usize>> {
    if range.start > range.end || range.end > len {
        return Err(StoreError::RangeOutOfBounds {
            cid: cid.to_string(),
            start: range.start,
            end: range.end,
            len,
        });
    }
    // `len` is the length of an in-memory buffer, so both bounds fit in usize.
    Ok(range.start as usize..range.end as usize)
}
