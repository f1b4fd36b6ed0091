//! A store whose blocks live in one store and whose heads live in another (an erasure-coded or
//! replicated block store has no heads of its own).

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

use super::{
    BlobSource, BlockStore, ByteStream, ConditionalWrites, Head, HeadCondition, HeadStore,
    HeadVersion, StoreError, StoreResult,
};
use crate::block::Cid;

/// Blocks from `blocks`, heads from `heads`: a vault over an erasure-coded or replicated block
/// store keeps its heads in a store that has them.
#[derive(Clone)]
pub struct SplitStore {
    blocks: Arc<dyn BlockStore>,
    heads: Arc<dyn HeadStore>,
}

impl std::fmt::Debug for SplitStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SplitStore").finish_non_exhaustive()
    }
}

impl SplitStore {
    /// Blocks in `blocks`, heads in `heads`.
    pub fn new(blocks: Arc<dyn BlockStore>, heads: Arc<dyn HeadStore>) -> Self {
        Self { blocks, heads }
    }

    /// The block store.
    pub fn blocks(&self) -> &Arc<dyn BlockStore> {
        &self.blocks
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl BlockStore for SplitStore {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        self.blocks.put(cid, bytes).await
    }
    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        self.blocks.get(cid).await
    }
    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        self.blocks.get_range(cid, range).await
    }
    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        self.blocks.get_max(cid, max_len).await
    }
    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        self.blocks.has(cid).await
    }
    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        self.blocks.delete(cid).await
    }
    async fn list(&self) -> StoreResult<Vec<Cid>> {
        self.blocks.list().await
    }
    async fn delete_many(&self, cids: &[Cid]) -> StoreResult<Vec<(Cid, StoreError)>> {
        self.blocks.delete_many(cids).await
    }
    async fn for_each_block(
        &self,
        each: &mut (dyn FnMut(Cid, Option<u64>) + Send),
    ) -> StoreResult<()> {
        self.blocks.for_each_block(each).await
    }
    async fn put_stream(
        &self,
        cid: &Cid,
        source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        self.blocks.put_stream(cid, source, len).await
    }
    async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> {
        self.blocks.get_stream(cid).await
    }
    async fn presigned_get(
        &self,
        cid: &Cid,
        expires_in: std::time::Duration,
    ) -> StoreResult<Option<String>> {
        self.blocks.presigned_get(cid, expires_in).await
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl HeadStore for SplitStore {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        self.heads.read_heads(vault).await
    }
    async fn read_head(&self, vault: &str, writer: &str) -> StoreResult<Option<Head>> {
        self.heads.read_head(vault, writer).await
    }
    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<HeadVersion> {
        self.heads.write_head(vault, writer, bytes, condition).await
    }
    fn conditional_writes(&self) -> ConditionalWrites {
        self.heads.conditional_writes()
    }
    async fn probe_conditional_writes(&self) -> StoreResult<ConditionalWrites> {
        self.heads.probe_conditional_writes().await
    }
}
