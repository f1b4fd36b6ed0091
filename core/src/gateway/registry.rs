//! The bucket registry: which buckets exist, kept in the store so that ListBuckets works on any
//! store (the head store cannot list namespaces, and vaults cannot be deleted).
//!
//! Each gateway device keeps one head in a reserved head-store namespace, `_coffer-gateway-` and
//! 32 hex digits derived from the identity's secret (a BLAKE3 of a deterministic Ed25519 signature
//! over a fixed label), so the store cannot link the registry to the owner's public key. A head is
//! the DAG-CBOR map `{v: 1, buckets: {name: {live, created_ms, time_ms}}}`, sealed to the owner
//! and signed, like every vault block. Reading merges all devices' heads: for each name the record
//! with the greatest `(time_ms, writer)` wins, so deletes and re-creations on different devices
//! converge. Writes are conditional on the version of this device's head last read (a lost race
//! is retried on the fresh head); a head that does not open with the identity is skipped.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::block::raw_cid;
use crate::keys::Identity;
use crate::seal::Unlock;
use crate::store::{BlockStore, HeadCondition, HeadStore, HeadVersion, StoreError};
use crate::vault::{VaultError, VaultResult, now_ms, open_owner_signed, seal_to_owner};

const LABEL: &[u8] = b"coffer gateway bucket registry v1";

/// One bucket's record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    /// Whether the bucket exists (false: deleted).
    live: bool,
    /// When it was (last) created, ms since the Unix epoch.
    created_ms: u64,
    /// When this record was written (the merge order).
    time_ms: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct RegistryHead {
    v: u8,
    buckets: BTreeMap<String, Record>,
}

/// A bucket the registry lists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BucketEntry {
    /// Its name (also the vault's).
    pub name: String,
    /// When it was created, ms since the Unix epoch.
    pub created_ms: u64,
}

/// This device's head as last read or written.
#[derive(Default)]
struct Own {
    buckets: BTreeMap<String, Record>,
    version: Option<HeadVersion>,
}

/// The registry of one identity's buckets in one store.
pub(crate) struct Registry<S: BlockStore + HeadStore + ?Sized> {
    store: Arc<S>,
    identity: Identity,
    namespace: String,
    writer: String,
    own: tokio::sync::Mutex<Own>,
}

/// The head-store namespace of `identity`'s registry.
fn namespace(identity: &Identity) -> String {
    // Ed25519 signatures are deterministic: only the identity can compute this, and it is
    // always the same.
    let secret = zeroize::Zeroizing::new(identity.sign(LABEL));
    let mut h = blake3::Hasher::new_derive_key("coffer gateway bucket registry v1 namespace");
    h.update(secret.as_ref());
    format!(
        "_coffer-gateway-{}",
        data_encoding::HEXLOWER.encode(&h.finalize().as_bytes()[..16])
    )
}

impl<S: BlockStore + HeadStore + ?Sized> Registry<S> {
    /// The registry of `identity` in `store`, written by `device`.
    pub(crate) fn new(store: Arc<S>, identity: Identity, device: &str) -> Self {
        let writer = crate::vault::writer_name(crate::vault::writer_id_for(&identity, device));
        Self {
            namespace: namespace(&identity),
            store,
            identity,
            writer,
            own: tokio::sync::Mutex::new(Own::default()),
        }
    }

    /// Every device's records, merged.
    async fn merged(&self) -> VaultResult<BTreeMap<String, Record>> {
        let heads = self.store.read_heads(&self.namespace).await?;
        let mut merged: BTreeMap<String, (Record, String)> = BTreeMap::new();
        for head in heads {
            let Some(body) = self.open(&head.bytes) else {
                continue;
            };
            if head.writer == self.writer {
                let mut own = self.own.lock().await;
                own.buckets = body.buckets.clone();
                own.version = Some(head.version.clone());
            }
            for (name, rec) in body.buckets {
                let newer = match merged.get(&name) {
                    Some((old, w)) => (rec.time_ms, &head.writer) > (old.time_ms, w),
                    None => true,
                };
                if newer {
                    merged.insert(name, (rec, head.writer.clone()));
                }
            }
        }
        Ok(merged.into_iter().map(|(k, (r, _))| (k, r)).collect())
    }

    /// A head's body, or `None` when it does not open with the identity (skipped).
    fn open(&self, bytes: &[u8]) -> Option<RegistryHead> {
        let cid = raw_cid(bytes);
        let plain = open_owner_signed(
            Unlock::Identity(&self.identity),
            self.identity.recipient(),
            &cid,
            bytes,
        )
        .ok()?;
        let body: RegistryHead = crate::block::from_dag_cbor(&plain).ok()?;
        (body.v == 1).then_some(body)
    }

    /// The live buckets, by name.
    pub(crate) async fn list(&self) -> VaultResult<Vec<BucketEntry>> {
        Ok(self
            .merged()
            .await?
            .into_iter()
            .filter(|(_, r)| r.live)
            .map(|(name, r)| BucketEntry {
                name,
                created_ms: r.created_ms,
            })
            .collect())
    }

    /// The live bucket `name`, if any.
    pub(crate) async fn get(&self, name: &str) -> VaultResult<Option<BucketEntry>> {
        Ok(self.list().await?.into_iter().find(|b| b.name == name))
    }

    /// Records bucket `name` as created now (`live`) or deleted, in this device's head.
    pub(crate) async fn set(&self, name: &str, live: bool) -> VaultResult<BucketEntry> {
        let now = now_ms();
        for _ in 0..5 {
            let mut own = self.own.lock().await;
            let created_ms = match own.buckets.get(name) {
                Some(r) if r.live && live => r.created_ms,
                _ => now,
            };
            let rec = Record {
                live,
                created_ms,
                time_ms: now.max(own.buckets.get(name).map_or(0, |r| r.time_ms + 1)),
            };
            let mut buckets = own.buckets.clone();
            buckets.insert(name.to_string(), rec);
            let plain = crate::block::to_dag_cbor(&RegistryHead { v: 1, buckets })?;
            let sealed = seal_to_owner(&self.identity, &plain, false)?;
            let condition = match &own.version {
                Some(v) => HeadCondition::Matches(v.clone()),
                None => HeadCondition::Absent,
            };
            match self
                .store
                .write_head(
                    &self.namespace,
                    &self.writer,
                    Bytes::from(sealed),
                    condition,
                )
                .await
            {
                Ok(version) => {
                    own.buckets.insert(name.to_string(), rec);
                    own.version = Some(version);
                    return Ok(BucketEntry {
                        name: name.to_string(),
                        created_ms,
                    });
                }
                Err(StoreError::PreconditionFailed(_)) => {
                    // Another process of this device wrote first: read its head and retry.
                    drop(own);
                    self.merged().await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(VaultError::PreconditionFailed(
            "the bucket registry kept changing under this gateway; retry".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn devices_merge_and_deletes_win_by_time() {
        let store = Arc::new(MemoryStore::new());
        let me = Identity::generate();
        let a = Registry::new(store.clone(), me.clone(), "a");
        let b = Registry::new(store.clone(), me.clone(), "b");
        a.set("photos", true).await.unwrap();
        b.set("docs", true).await.unwrap();
        let names: Vec<String> = a
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["docs", "photos"]);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        b.set("photos", false).await.unwrap();
        assert!(a.get("photos").await.unwrap().is_none());
        // Another identity's registry lives elsewhere and sees nothing.
        let other = Registry::new(store.clone(), Identity::generate(), "a");
        assert!(other.list().await.unwrap().is_empty());
        assert_ne!(other.namespace, a.namespace);
        // A forged head in the namespace is skipped.
        store
            .write_head(
                &a.namespace,
                "forged",
                Bytes::from_static(b"junk"),
                HeadCondition::Any,
            )
            .await
            .unwrap();
        assert_eq!(a.list().await.unwrap().len(), 1);
    }
}
