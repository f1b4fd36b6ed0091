//! An in-memory block store, for tests and ephemeral use.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use super::{BlockStore, StoreError, StoreResult, check_range};
use crate::block::Cid;

/// Blocks held in process memory. Cloning shares the same blocks.
#[derive(Clone, Default, Debug)]
pub struct MemoryStore {
    blocks: Arc<RwLock<HashMap<Cid, Bytes>>>,
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
}
