//! Writer heads: one small signed blob per (vault, writer), mutable, with a version.
//!
//! The store treats head bytes as opaque (they are signed and verified above it). Every head has
//! a [`HeadVersion`], an opaque tag the store derives from what it holds (an S3 ETag, a content
//! hash, an MFS CID), used for conditional writes.

use bytes::Bytes;

use super::{StoreError, StoreResult};
use crate::cond_send::{CondSend, CondSync};

/// The largest head a store reads (1 MiB): a signed head is a few hundred bytes, an inbox entry a
/// few KiB. A bigger head is refused with [`StoreError::TooLarge`] without being read whole.
pub const MAX_HEAD_BYTES: u64 = 1 << 20;

/// The most heads a store reads from one namespace (a vault's writers, an inbox's entries). More
/// is refused with [`StoreError::TooLarge`], so a store cannot exhaust memory with entries.
pub const MAX_HEADS: usize = 10_000;

/// Checks what a head store answered against [`MAX_HEAD_BYTES`] and [`MAX_HEADS`]. The built-in
/// stores check as they read; call this on what an app-provided [`HeadStore`] returns.
pub fn check_heads(namespace: &str, heads: &[Head]) -> StoreResult<()> {
    check_head_count(namespace, heads.len())?;
    for h in heads {
        check_head_len(namespace, &h.writer, h.bytes.len() as u64)?;
    }
    Ok(())
}

/// [`StoreError::TooLarge`] when a namespace lists more than [`MAX_HEADS`] heads.
pub(crate) fn check_head_count(namespace: &str, count: usize) -> StoreResult<()> {
    if count > MAX_HEADS {
        return Err(StoreError::TooLarge {
            what: format!("the head listing of {namespace} ({count} or more heads)"),
            limit: MAX_HEADS as u64,
        });
    }
    Ok(())
}

/// [`StoreError::TooLarge`] when a head is over [`MAX_HEAD_BYTES`].
pub(crate) fn check_head_len(namespace: &str, writer: &str, len: u64) -> StoreResult<()> {
    if len > MAX_HEAD_BYTES {
        return Err(head_too_large(namespace, writer, Some(len)));
    }
    Ok(())
}

/// The [`StoreError::TooLarge`] of an oversized head (its length when known).
pub(crate) fn head_too_large(namespace: &str, writer: &str, len: Option<u64>) -> StoreError {
    let size = len.map(|l| format!(" ({l} bytes)")).unwrap_or_default();
    StoreError::TooLarge {
        what: format!("head {namespace}/{writer}{size}"),
        limit: MAX_HEAD_BYTES,
    }
}

/// An opaque version tag of a stored head (compare for equality only).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HeadVersion(pub String);

impl std::fmt::Display for HeadVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One writer's head as read from a store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    /// The writer it belongs to.
    pub writer: String,
    /// The signed head, opaque to the store.
    pub bytes: Bytes,
    /// Its version, for a later conditional write.
    pub version: HeadVersion,
}

/// When a head write may happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeadCondition {
    /// Only if the writer has no head yet (S3 `If-None-Match: *`).
    Absent,
    /// Only if the stored head still has this version (S3 `If-Match`).
    Matches(HeadVersion),
    /// Always (last writer wins).
    Any,
}

/// Whether a store honours [`HeadCondition`]s atomically.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionalWrites {
    /// Conditions are checked atomically by the store: a lost update cannot happen.
    Enforced,
    /// The store ignores conditions (Garage) or can only check them non-atomically (Kubo MFS):
    /// a concurrent writer can still be overwritten. coffer stays correct (heads merge as a
    /// CRDT) but a writer's own head may regress until it writes again.
    BestEffort,
    /// Not known yet: probe the store ([`HeadStore::probe_conditional_writes`]).
    Unknown,
}

/// A store of writer heads, grouped by vault.
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait HeadStore: CondSend + CondSync {
    /// Every writer's head in `vault` (empty when the vault has none), in no particular order.
    ///
    /// The built-in stores refuse a head over [`MAX_HEAD_BYTES`] and a namespace of more than
    /// [`MAX_HEADS`] heads with [`StoreError::TooLarge`] (see [`check_heads`]).
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>>;

    /// One writer's head, or `None`.
    async fn read_head(&self, vault: &str, writer: &str) -> StoreResult<Option<Head>> {
        validate_name(writer)?;
        Ok(self
            .read_heads(vault)
            .await?
            .into_iter()
            .find(|h| h.writer == writer))
    }

    /// Writes `writer`'s head in `vault` if `condition` holds and returns its new version.
    ///
    /// Fails with [`StoreError::PreconditionFailed`] when the condition does not hold. On stores
    /// whose [`HeadStore::conditional_writes`] is `BestEffort` the check is not atomic.
    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<HeadVersion>;

    /// Whether conditions are honoured, as far as the store knows now.
    fn conditional_writes(&self) -> ConditionalWrites;

    /// Finds out whether conditions are honoured (S3 stores write and overwrite a probe object);
    /// the default returns [`HeadStore::conditional_writes`].
    async fn probe_conditional_writes(&self) -> StoreResult<ConditionalWrites> {
        Ok(self.conditional_writes())
    }
}

/// Checks a vault or writer name: 1 to 128 of `A-Z a-z 0-9 . _ -`, not starting with `.`.
///
/// Names become path segments and object keys, so nothing else is allowed.
pub fn validate_name(name: &str) -> StoreResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidName(name.chars().take(140).collect()))
    }
}

/// The version coffer's own stores give a head: the first 128 bits of BLAKE3 of its bytes, hex.
///
/// Content-derived like an S3 ETag: writing identical bytes gives the same version, which is
/// harmless (the head did not change).
pub(crate) fn content_version(bytes: &[u8]) -> HeadVersion {
    let hash = blake3::hash(bytes);
    HeadVersion(hash.to_hex()[..32].to_string())
}

/// Evaluates `condition` against the current version, for stores that check it themselves.
pub(crate) fn check_condition(
    what: &str,
    current: Option<&HeadVersion>,
    condition: &HeadCondition,
) -> StoreResult<()> {
    let holds = match (condition, current) {
        (HeadCondition::Any, _) => true,
        (HeadCondition::Absent, None) => true,
        (HeadCondition::Absent, Some(_)) => false,
        (HeadCondition::Matches(v), Some(c)) => v == c,
        (HeadCondition::Matches(_), None) => false,
    };
    if holds {
        Ok(())
    } else {
        Err(StoreError::PreconditionFailed(what.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        validate_name("vault-1_a.b").unwrap();
        for bad in ["", ".hidden", "a/b", "a b", "..", &"x".repeat(129), "é"] {
            assert!(
                matches!(validate_name(bad), Err(StoreError::InvalidName(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn conditions() {
        let v = HeadVersion("1".into());
        check_condition("h", None, &HeadCondition::Absent).unwrap();
        check_condition("h", Some(&v), &HeadCondition::Matches(v.clone())).unwrap();
        check_condition("h", Some(&v), &HeadCondition::Any).unwrap();
        assert!(check_condition("h", Some(&v), &HeadCondition::Absent).is_err());
        assert!(check_condition("h", None, &HeadCondition::Matches(v.clone())).is_err());
        let w = HeadVersion("2".into());
        assert!(check_condition("h", Some(&w), &HeadCondition::Matches(v)).is_err());
    }
}
