//! App-provided transports: a Kotlin/Swift object implementing [`Transport`] becomes a coffer
//! block + head store.
//!
//! Nothing the transport returns is trusted: the vault verifies every block against its CID and
//! every head's signature, exactly as for the built-in stores.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use coffer::block::Cid;
use coffer::store::{
    BlockStore, ConditionalWrites, Head, HeadCondition, HeadStore, HeadVersion, StoreError,
    StoreResult, validate_name,
};

/// What a transport reports when it cannot do what was asked. Kotlin: throw
/// `TransportException.Unavailable("…")` etc.; any other exception a transport throws is taken as
/// `Failed` with the exception's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum TransportError {
    /// A conditional head write found a different version (someone else wrote first).
    #[error("precondition failed: {detail}")]
    PreconditionFailed {
        /// What the transport said.
        detail: String,
    },
    /// The backend cannot be reached right now; retrying later may help.
    #[error("unavailable: {detail}")]
    Unavailable {
        /// What the transport said.
        detail: String,
    },
    /// The backend refused access.
    #[error("access denied: {detail}")]
    AccessDenied {
        /// What the transport said.
        detail: String,
    },
    /// Anything else.
    #[error("failed: {detail}")]
    Failed {
        /// What the transport said.
        detail: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TransportError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Failed {
            detail: format!("the transport threw: {}", e.reason),
        }
    }
}

/// The condition of a head write (compare-and-swap on the head's version).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum HeadWriteCondition {
    /// Only if the writer has no head yet.
    Absent,
    /// Only if the head's current version is this one.
    Matches {
        /// The version the writer last read or wrote.
        version: String,
    },
    /// Unconditionally.
    Unconditional,
}

/// One writer head as stored by a transport.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct HeadRecord {
    /// The writer's name.
    pub writer: String,
    /// The signed head bytes, exactly as written.
    pub bytes: Vec<u8>,
    /// The version the transport gave it on write (an ETag, a counter, a hash…).
    pub version: String,
}

/// A store the app implements (Kotlin/Swift): immutable blocks named by CID text, and one
/// mutable head per (vault, writer). Mirrors coffer's `BlockStore` + `HeadStore` traits.
///
/// Throwing a [`TransportError`] (or any exception) fails the vault operation with a typed store
/// error; nothing returned is trusted without verification.
#[uniffi::export(foreign)]
#[async_trait::async_trait]
pub trait Transport: Send + Sync {
    /// Stores `bytes` under `cid`; storing the same CID twice is not an error.
    async fn put_block(&self, cid: String, bytes: Vec<u8>) -> Result<(), TransportError>;
    /// The bytes under `cid`, or `null` when the transport has none.
    async fn get_block(&self, cid: String) -> Result<Option<Vec<u8>>, TransportError>;
    /// Bytes `start..end` of the block under `cid` (`null` when absent). Return exactly
    /// `end - start` bytes; a transport may also return the whole block (coffer slices it).
    async fn get_block_range(
        &self,
        cid: String,
        start: u64,
        end: u64,
    ) -> Result<Option<Vec<u8>>, TransportError>;
    /// Whether the transport holds `cid`.
    async fn has_block(&self, cid: String) -> Result<bool, TransportError>;
    /// Removes `cid`; removing a missing block is not an error.
    async fn delete_block(&self, cid: String) -> Result<(), TransportError>;
    /// Every CID held, in any order.
    async fn list_blocks(&self) -> Result<Vec<String>, TransportError>;
    /// Every writer head of `vault`.
    async fn read_heads(&self, vault: String) -> Result<Vec<HeadRecord>, TransportError>;
    /// Writes the head of `writer` in `vault` if `condition` holds (else throw
    /// `PreconditionFailed`), and returns its new version.
    async fn write_head(
        &self,
        vault: String,
        writer: String,
        bytes: Vec<u8>,
        condition: HeadWriteCondition,
    ) -> Result<String, TransportError>;
    /// Whether `write_head` enforces its condition atomically.
    fn enforces_conditions(&self) -> bool;
}

/// A [`Transport`] as a coffer store.
pub(crate) struct ForeignStore {
    transport: Arc<dyn Transport>,
}

impl ForeignStore {
    pub(crate) fn new(transport: Arc<dyn Transport>) -> Self {
        Self { transport }
    }
}

fn store_error(e: TransportError, what: &str) -> StoreError {
    match e {
        TransportError::PreconditionFailed { detail } => {
            StoreError::PreconditionFailed(format!("{what}: {detail}"))
        }
        TransportError::Unavailable { detail } => {
            StoreError::Unavailable(format!("foreign transport, {what}: {detail}"))
        }
        TransportError::AccessDenied { detail } => {
            StoreError::AccessDenied(format!("foreign transport, {what}: {detail}"))
        }
        TransportError::Failed { detail } => {
            StoreError::Other(format!("foreign transport, {what}: {detail}"))
        }
    }
}

fn parse_cid(text: &str) -> StoreResult<Cid> {
    Cid::try_from(text).map_err(|e| StoreError::Corrupt {
        cid: text.chars().take(100).collect(),
        detail: format!("the transport listed something that is not a CID: {e}"),
    })
}

#[async_trait::async_trait]
impl BlockStore for ForeignStore {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        self.transport
            .put_block(cid.to_string(), bytes.to_vec())
            .await
            .map_err(|e| store_error(e, "put_block"))
    }

    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        match self.transport.get_block(cid.to_string()).await {
            Ok(Some(b)) => Ok(Bytes::from(b)),
            Ok(None) => Err(StoreError::NotFound(cid.to_string())),
            Err(e) => Err(store_error(e, "get_block")),
        }
    }

    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        if range.start > range.end {
            return Err(StoreError::RangeOutOfBounds {
                cid: cid.to_string(),
                start: range.start,
                end: range.end,
                len: 0,
            });
        }
        let got = self
            .transport
            .get_block_range(cid.to_string(), range.start, range.end)
            .await
            .map_err(|e| store_error(e, "get_block_range"))?
            .ok_or_else(|| StoreError::NotFound(cid.to_string()))?;
        let want = range.end - range.start;
        let len = got.len() as u64;
        if len == want {
            Ok(Bytes::from(got))
        } else if len >= range.end {
            // The whole block (or more): slice it. `range.end <= len` fits in usize.
            Ok(Bytes::from(got).slice(range.start as usize..range.end as usize))
        } else {
            Err(StoreError::RangeOutOfBounds {
                cid: cid.to_string(),
                start: range.start,
                end: range.end,
                len,
            })
        }
    }

    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        self.transport
            .has_block(cid.to_string())
            .await
            .map_err(|e| store_error(e, "has_block"))
    }

    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        self.transport
            .delete_block(cid.to_string())
            .await
            .map_err(|e| store_error(e, "delete_block"))
    }

    async fn list(&self) -> StoreResult<Vec<Cid>> {
        self.transport
            .list_blocks()
            .await
            .map_err(|e| store_error(e, "list_blocks"))?
            .iter()
            .map(|s| parse_cid(s))
            .collect()
    }
}

#[async_trait::async_trait]
impl HeadStore for ForeignStore {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        validate_name(vault)?;
        let heads = self
            .transport
            .read_heads(vault.to_string())
            .await
            .map_err(|e| store_error(e, "read_heads"))?;
        heads
            .into_iter()
            .map(|h| {
                validate_name(&h.writer)?;
                Ok(Head {
                    writer: h.writer,
                    bytes: Bytes::from(h.bytes),
                    version: HeadVersion(h.version),
                })
            })
            .collect()
    }

    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<HeadVersion> {
        validate_name(vault)?;
        validate_name(writer)?;
        let condition = match condition {
            HeadCondition::Absent => HeadWriteCondition::Absent,
            HeadCondition::Matches(v) => HeadWriteCondition::Matches { version: v.0 },
            HeadCondition::Any => HeadWriteCondition::Unconditional,
        };
        self.transport
            .write_head(
                vault.to_string(),
                writer.to_string(),
                bytes.to_vec(),
                condition,
            )
            .await
            .map(HeadVersion)
            .map_err(|e| store_error(e, "write_head"))
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        // A throwing callback here cannot be reported; treat it as "not enforced".
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.transport.enforces_conditions()
        })) {
            Ok(true) => ConditionalWrites::Enforced,
            _ => ConditionalWrites::BestEffort,
        }
    }
}
