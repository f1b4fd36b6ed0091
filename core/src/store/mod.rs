//! Transports: untrusted stores of content-addressed blocks and of writer heads.
//!
//! Nothing a store returns is trusted: callers verify blocks against their CID
//! ([`crate::block::verify_block`], or wrap a store in [`VerifyingStore`]) or against a Bao
//! outboard ([`crate::verify`]) before use. The traits are async; their futures are `Send` on
//! native targets and not on wasm32 (see [`crate::cond_send`]), so one trait serves a tokio server
//! and a browser tab.
//!
//! Built in:
//! - [`MemoryStore`]: blocks and heads in process memory.
//! - [`DirStore`] (native): the embedded default, a crash-safe local directory.
//! - `S3Store` (feature `s3`, native): any S3-compatible endpoint.
//! - `IpfsStore` (feature `ipfs`, native): a Kubo node over its RPC API.
//! - [`ReplicatedStore`]: N-of-M writes over other stores, verified reads with fallback.
//! - `erasure::ErasureStore` (feature `erasure`): Reed–Solomon k+m over other stores, scrub and
//!   repair.
//! - `placed::PlacedStore` (feature `erasure`): a registry of backends with regions,
//!   jurisdictions and tags, blocks placed by a policy (`replicate 3 regions>=2`, `rs 4+2
//!   jurisdiction=EU`), rebalancing.
//! - [`SplitStore`]: blocks in one store, heads in another.
//! - [`FaultyStore`]: deterministic fault injection for tests.
//! - [`VerifyingStore`]: checks every block it returns against its CID.
//! - [`hostile::HostileStore`]: a store that attacks its caller on purpose, for tests.
//!
//! **Every read is bounded.** A store may inflate an answer to exhaust the reader's memory, so
//! reads are capped by what the caller expects: [`BlockStore::get_max`] refuses a block over the
//! caller's limit ([`StoreError::TooLarge`]) without holding more than the limit in memory;
//! [`BlockStore::get_range`] answers exactly the bytes asked for; a head is at most
//! [`MAX_HEAD_BYTES`] and a namespace holds at most [`MAX_HEADS`] heads; the S3 and IPFS stores
//! cap every HTTP body they read by what it should hold.
//!
//! The layouts on disk and on the wire are described in `docs/FORMAT.md §7`.

mod blob_root;
pub(crate) mod car;
#[cfg(not(target_arch = "wasm32"))]
mod dir;
#[cfg(feature = "erasure")]
pub mod erasure;
mod fault;
mod head;
#[doc(hidden)]
pub mod hostile;
#[cfg(all(feature = "ipfs", not(target_arch = "wasm32")))]
pub mod ipfs;
mod memory;
#[cfg(feature = "erasure")]
pub mod placed;
mod replicated;
#[cfg(all(feature = "s3", not(target_arch = "wasm32")))]
pub mod s3;
mod split;
mod stream;
mod verifying;

pub use blob_root::{BlobRoot, LEAF_SIZE, MAX_BLOCK, MAX_LEAVES, decode_blob_root};
pub use car::{blob_from_car, fuzz_car, max_car_len};
#[cfg(not(target_arch = "wasm32"))]
pub use dir::DirStore;
pub use fault::{FaultConfig, FaultStats, FaultyStore};
pub use head::{
    ConditionalWrites, Head, HeadCondition, HeadStore, HeadVersion, MAX_HEAD_BYTES, MAX_HEADS,
    check_heads, validate_name,
};
pub use memory::MemoryStore;
pub use replicated::{BackendHealth, RepairReport, ReplicatedStore, ReplicationConfig};
pub use split::SplitStore;
pub use stream::{BlobSource, ByteStream, bytes_stream, collect_stream, read_source};
pub use verifying::VerifyingStore;

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
    /// The store kept asking to slow down (S3 `SlowDown`, HTTP 503/429) after every retry.
    #[error("store is throttling requests ({0}); reduce the request rate and retry later")]
    Throttled(String),
    /// The operation did not finish in time.
    #[error("store operation timed out: {0}")]
    Timeout(String),
    /// A vault or writer name that cannot be used as a key.
    #[error(
        "invalid name {0:?}: use 1 to 128 characters of A-Z a-z 0-9 . _ - not starting with '.'"
    )]
    InvalidName(String),
    /// The store's configuration is not usable (bad endpoint, missing bucket, …).
    #[error("store configuration error: {0}")]
    Config(String),
    /// The backend cannot do this (e.g. a block larger than it accepts, an unsupported codec).
    #[error("unsupported by this store: {0}")]
    Unsupported(String),
    /// A replicated write reached fewer backends than its quorum (and was rolled back).
    #[error("write of {cid} reached {acked} of the {needed} backends required: {detail}")]
    QuorumFailed {
        /// The block.
        cid: String,
        /// Backends that acknowledged.
        acked: usize,
        /// Backends required.
        needed: usize,
        /// The failures, one per failed backend.
        detail: String,
    },
    /// An erasure-coded block has fewer verified shards than it needs to be rebuilt (fewer than
    /// k healthy backends hold it, or the rest sent corrupt shards). Bring backends back, or
    /// restore them and run a repair.
    #[error(
        "block {cid} has {usable} verified shards of the {needed} needed to rebuild it: {detail}"
    )]
    InsufficientShards {
        /// The block.
        cid: String,
        /// Shards that were fetched and verified.
        usable: usize,
        /// Shards needed (k).
        needed: usize,
        /// What went wrong with the others, one per backend.
        detail: String,
    },
    /// The store answered more than the reader expected (a block over the caller's limit, a head
    /// over [`MAX_HEAD_BYTES`], more than [`MAX_HEADS`] heads, an inflated HTTP body). The rest
    /// of the answer was not read. A correct store never does this: treat the store as broken or
    /// hostile.
    #[error(
        "{what} is larger than the limit of {limit}; the rest was not read (the store is broken or hostile)"
    )]
    TooLarge {
        /// What was too large (a block, a head, an HTTP answer), and its size when known.
        what: String,
        /// The limit: bytes, or entries for a listing.
        limit: u64,
    },
    /// A write that its placement policy cannot satisfy with the backends there are (too few
    /// eligible backends, too few regions); nothing was written. Add backends that meet the
    /// policy, or change it.
    #[error("placement policy cannot be met: {0}; nothing was written")]
    PolicyUnsatisfiable(String),
}

impl StoreError {
    /// Whether retrying the same request later may succeed (network trouble, throttling, 5xx).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_) | Self::Throttled(_) | Self::Timeout(_)
        )
    }

    /// [`StoreError::TooLarge`] for block `cid`: `len` bytes (when known) over `limit`.
    pub(crate) fn block_too_large(cid: &Cid, len: Option<u64>, limit: u64) -> Self {
        let what = match len {
            Some(len) => format!("block {cid} ({len} bytes)"),
            None => format!("block {cid}"),
        };
        Self::TooLarge { what, limit }
    }

    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// A content-addressed store of immutable blocks, named by CID.
///
/// `put` is idempotent: storing the same CID twice is not an error. Implementations need not
/// verify that bytes match their CID on `put` (the caller computed it), and callers must not
/// assume they do on `get`.
///
/// Blobs larger than a block are streamed with [`BlockStore::put_stream`] and
/// [`BlockStore::get_stream`]; the default implementations buffer the whole blob, stores built
/// for large objects (directory, S3, IPFS) override them with bounded memory.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait BlockStore: CondSend + CondSync {
    /// Stores `bytes` under `cid`.
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()>;
    /// Returns the bytes stored under `cid`.
    async fn get(&self, cid: &Cid) -> StoreResult<Bytes>;
    /// Returns `range` of the bytes stored under `cid`: exactly `range.end - range.start` bytes.
    ///
    /// A range outside the block (or `start > end`) is [`StoreError::RangeOutOfBounds`]. An
    /// answer that is not exactly the requested length is refused: a longer one with
    /// [`StoreError::TooLarge`] (the built-in network stores stop reading one byte past the
    /// length), a shorter one with [`StoreError::Corrupt`] when the store claimed the range lay
    /// inside the block. (A JavaScript store's shorter answer is taken as
    /// [`StoreError::RangeOutOfBounds`], since `Uint8Array.slice` shortens past the end.)
    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes>;
    /// Returns the bytes stored under `cid`, failing with [`StoreError::TooLarge`] as soon as they
    /// exceed `max_len` bytes, without holding more than `max_len` (plus one read buffer) in memory.
    ///
    /// Callers pass what they expect (a manifest's sealed length, the 1 MiB block limit), so a
    /// store cannot exhaust the reader's memory by inflating an answer. The default
    /// implementation (for app-provided stores) calls [`BlockStore::get`] and then checks the
    /// length; every built-in store stops reading past the limit.
    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        let bytes = self.get(cid).await?;
        check_max(cid, bytes.len() as u64, max_len)?;
        Ok(bytes)
    }
    /// Whether the store holds `cid`.
    async fn has(&self, cid: &Cid) -> StoreResult<bool>;
    /// Removes `cid`; removing a missing block is not an error.
    async fn delete(&self, cid: &Cid) -> StoreResult<()>;
    /// Every CID in the store, in no particular order.
    async fn list(&self) -> StoreResult<Vec<Cid>>;

    /// Stores the blob read from `source` under `cid`; `len` is its length when known.
    ///
    /// Unlike [`BlockStore::put`], this checks the bytes against `cid` (BLAKE3) while they
    /// stream: on a mismatch it returns [`StoreError::Corrupt`] and nothing becomes visible.
    /// The default implementation reads the whole blob into memory first.
    async fn put_stream(
        &self,
        cid: &Cid,
        source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        let bytes = read_source(source, len).await?;
        stream::check_whole(cid, &bytes)?;
        self.put(cid, bytes).await
    }

    /// Returns the blob stored under `cid` as a stream of chunks.
    ///
    /// A store that knows the blob's length (directory: the file's; S3: `Content-Length`; IPFS:
    /// the blob root's) never yields more than that: the stream ends with
    /// [`StoreError::TooLarge`] instead. Chunks are not verified; wrap the store in [`VerifyingStore`] for a stream whose last item
    /// is an error when the whole does not match `cid`. The default implementation fetches the
    /// whole blob with [`BlockStore::get`].
    async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> {
        let bytes = self.get(cid).await?;
        Ok(bytes_stream(bytes))
    }

    /// Removes `cids` (as [`BlockStore::delete`] each) and returns the ones that could not be
    /// removed, with why; an `Err` when the request as a whole failed (then any of them may or may
    /// not be gone). The default deletes one at a time; S3 sends batched `DeleteObjects`.
    async fn delete_many(&self, cids: &[Cid]) -> StoreResult<Vec<(Cid, StoreError)>> {
        let mut failed = Vec::new();
        for cid in cids {
            if let Err(e) = self.delete(cid).await {
                failed.push((*cid, e));
            }
        }
        Ok(failed)
    }

    /// Calls `each` with every block in the store and its size in bytes when the store knows it
    /// cheaply, in no particular order, without first collecting the whole list where the store
    /// can page (directory, memory, S3). The default walks [`BlockStore::list`] with no sizes.
    async fn for_each_block(
        &self,
        each: &mut (dyn FnMut(Cid, Option<u64>) + Send),
    ) -> StoreResult<()> {
        for cid in self.list().await? {
            each(cid, None);
        }
        Ok(())
    }

    /// A URL from which anyone can GET the bytes of `cid` for about `expires_in`, enforced by the
    /// server (S3 presigned URLs, at most 7 days), or `None` when this store cannot make one (the
    /// default). The IPFS store answers a trustless-gateway URL of a CAR file, which does not
    /// expire (see [`crate::share::Link::open_response`]).
    async fn presigned_get(
        &self,
        cid: &Cid,
        expires_in: std::time::Duration,
    ) -> StoreResult<Option<String>> {
        let _ = (cid, expires_in);
        Ok(None)
    }
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

/// [`StoreError::TooLarge`] when `len` exceeds `max_len`.
pub(crate) fn check_max(cid: &Cid, len: u64, max_len: u64) -> StoreResult<()> {
    if len > max_len {
        return Err(StoreError::block_too_large(cid, Some(len), max_len));
    }
    Ok(())
}

/// Checks that a range answer holds exactly the bytes asked for: longer is
/// [`StoreError::TooLarge`], shorter [`StoreError::Corrupt`].
pub(crate) fn check_range_answer(
    cid: &Cid,
    range: &Range<u64>,
    bytes: Bytes,
) -> StoreResult<Bytes> {
    let want = range.end.saturating_sub(range.start);
    let got = bytes.len() as u64;
    if got > want {
        return Err(StoreError::TooLarge {
            what: format!(
                "the answer to range {}..{} of {cid} ({got} bytes)",
                range.start, range.end
            ),
            limit: want,
        });
    }
    if got < want {
        return Err(StoreError::Corrupt {
            cid: cid.to_string(),
            detail: format!(
                "asked for range {}..{} ({want} bytes), the store sent {got}",
                range.start, range.end
            ),
        });
    }
    Ok(bytes)
}

/// Like [`check_range`] for blobs that are not in memory: validates without converting.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) fn check_range_u64(cid: &Cid, range: &Range<u64>, len: u64) -> StoreResult<()> {
    if range.start > range.end || range.end > len {
        return Err(StoreError::RangeOutOfBounds {
            cid: cid.to_string(),
            start: range.start,
            end: range.end,
            len,
        });
    }
    Ok(())
}

/// Blanket forwarding so `Arc<S>`, `Box<S>` and `&S` are stores too.
macro_rules! forward_block_store {
    ($($ty:ty),*) => {$(
        #[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
        #[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
        impl<S: BlockStore + ?Sized> BlockStore for $ty {
            async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> { (**self).put(cid, bytes).await }
            async fn get(&self, cid: &Cid) -> StoreResult<Bytes> { (**self).get(cid).await }
            async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
                (**self).get_range(cid, range).await
            }
            async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
                (**self).get_max(cid, max_len).await
            }
            async fn has(&self, cid: &Cid) -> StoreResult<bool> { (**self).has(cid).await }
            async fn delete(&self, cid: &Cid) -> StoreResult<()> { (**self).delete(cid).await }
            async fn list(&self) -> StoreResult<Vec<Cid>> { (**self).list().await }
            async fn delete_many(&self, cids: &[Cid]) -> StoreResult<Vec<(Cid, StoreError)>> { (**self).delete_many(cids).await }
            async fn for_each_block(&self, each: &mut (dyn FnMut(Cid, Option<u64>) + Send)) -> StoreResult<()> { (**self).for_each_block(each).await }
            async fn put_stream(&self, cid: &Cid, source: BlobSource<'_>, len: Option<u64>) -> StoreResult<()> {
                (**self).put_stream(cid, source, len).await
            }
            async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> { (**self).get_stream(cid).await }
            async fn presigned_get(&self, cid: &Cid, expires_in: std::time::Duration) -> StoreResult<Option<String>> {
                (**self).presigned_get(cid, expires_in).await
            }
        }
    )*};
}
forward_block_store!(std::sync::Arc<S>, Box<S>);

/// Blanket forwarding so `Arc<H>` and `Box<H>` are head stores too (e.g. a shared store wrapped
/// in a [`FaultyStore`] or [`VerifyingStore`]).
macro_rules! forward_head_store {
    ($($ty:ty),*) => {$(
        #[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
        #[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
        impl<H: HeadStore + ?Sized> HeadStore for $ty {
            async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
                (**self).read_heads(vault).await
            }
            async fn read_head(&self, vault: &str, writer: &str) -> StoreResult<Option<Head>> {
                (**self).read_head(vault, writer).await
            }
            async fn write_head(
                &self,
                vault: &str,
                writer: &str,
                bytes: Bytes,
                condition: HeadCondition,
            ) -> StoreResult<HeadVersion> {
                (**self).write_head(vault, writer, bytes, condition).await
            }
            fn conditional_writes(&self) -> ConditionalWrites {
                (**self).conditional_writes()
            }
            async fn probe_conditional_writes(&self) -> StoreResult<ConditionalWrites> {
                (**self).probe_conditional_writes().await
            }
        }
    )*};
}
forward_head_store!(std::sync::Arc<H>, Box<H>);
