//! An in-memory block and head store, for tests and ephemeral use.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use super::head::{check_condition, check_head_count, check_head_len, content_version};
use super::{
    BlockStore, ConditionalWrites, Head, HeadCondition, HeadStore, HeadVersion, StoreError,
    StoreResult, check_max, check_range, validate_name,
};
use crate::block::Cid;

/// Blocks and heads held in process memory. Cloning shares the same blocks and heads.
///
/// Head writes are atomic compare-and-swap under a lock ([`ConditionalWrites::Enforced`]).
#[derive(Clone, Default, Debug)]
pub struct MemoryStore {
    blocks: Arc<RwLock<HashMap<Cid, Bytes>>>,
    /// vault → writer → head bytes.
    heads: Arc<RwLock<HashMap<String, HashMap<String, Bytes>>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of blocks held.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// Whether the store holds no block.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    /// Total bytes held.
    pub fn total_bytes(&self) -> u64 {
        self.read().values().map(|b| b.len() as u64).sum()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Cid, Bytes>> {
        // A poisoned lock only means another thread panicked mid-insert of a whole value;
        // the map itself is still consistent.
        self.blocks.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Cid, Bytes>> {
        self.blocks.write().unwrap_or_else(|e| e.into_inner())
    }

    fn lookup(&self, cid: &Cid) -> StoreResult<Bytes> {
        self.read()
            .get(cid)
            .cloned()
            .ok_or_else(|| StoreError::NotFound(cid.to_string()))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl BlockStore for MemoryStore {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        self.write().insert(*cid, bytes);
        Ok(())
    }

    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        self.lookup(cid)
    }

    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        let bytes = self.lookup(cid)?;
        check_max(cid, bytes.len() as u64, max_len)?;
        Ok(bytes)
    }

    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        let bytes = self.lookup(cid)?;
        let r = check_range(cid, &range, bytes.len() as u64)?;
        Ok(bytes.slice(r))
    }

    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        Ok(self.read().contains_key(cid))
    }

    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        self.write().remove(cid);
        Ok(())
    }

    async fn list(&self) -> StoreResult<Vec<Cid>> {
        Ok(self.read().keys().copied().collect())
    }

    async fn for_each_block(
        &self,
        each: &mut (dyn FnMut(Cid, Option<u64>) + Send),
    ) -> StoreResult<()> {
        let all: Vec<(Cid, u64)> = self
            .read()
            .iter()
            .map(|(c, b)| (*c, b.len() as u64))
            .collect();
        for (cid, len) in all {
            each(cid, Some(len));
        }
        Ok(())
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl HeadStore for MemoryStore {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        validate_name(vault)?;
        let heads = self.heads.read().unwrap_or_else(|e| e.into_inner());
        let Some(writers) = heads.get(vault) else {
            return Ok(Vec::new());
        };
        check_head_count(vault, writers.len())?;
        writers
            .iter()
            .map(|(writer, bytes)| {
                check_head_len(vault, writer, bytes.len() as u64)?;
                Ok(Head {
                    writer: writer.clone(),
                    bytes: bytes.clone(),
                    version: content_version(bytes),
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
        let mut heads = self.heads.write().unwrap_or_else(|e| e.into_inner());
        let writers = heads.entry(vault.to_string()).or_default();
        let current = writers.get(writer).map(|b| content_version(b));
        check_condition(
            &format!("head {vault}/{writer}"),
            current.as_ref(),
            &condition,
        )?;
        let version = content_version(&bytes);
        writers.insert(writer.to_string(), bytes);
        Ok(version)
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        ConditionalWrites::Enforced
    }
}
