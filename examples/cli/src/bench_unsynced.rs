//! A store for the setup phase of benches: the blocks of a local directory store, written
//! without fsync. Filling a 100,000-object vault through [`DirStore`] spends most of its time in
//! the two fsyncs of every block (file and directory); the figures a bench reports are measured
//! afterwards on the ordinary, durable [`DirStore`] over the same directory, which reads these
//! files like any other (same layout, same names). Heads go through the durable store (a fill
//! writes few of them).

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use coffer::block::Cid;
use coffer::store::{
    BlockStore, ConditionalWrites, DirStore, Head, HeadCondition, HeadStore, HeadVersion,
    StoreError, StoreResult,
};

use crate::config::AnyStore;

/// [`DirStore`] whose block writes skip fsync (bench setup only: a crash loses them).
pub(crate) struct Unsynced {
    dir: DirStore,
}

impl Unsynced {
    /// Over the directory store `dir`.
    pub(crate) fn new(dir: DirStore) -> Self {
        Self { dir }
    }
}

/// The store a bench fills its vaults through, and the one it measures on: without `--store`, a
/// local directory under `tmp` (filled without fsync, measured durable); with it, that store for
/// both.
pub(crate) async fn bench_stores(
    url: Option<&str>,
    tmp: &Path,
) -> crate::CliResult<(Arc<dyn AnyStore>, Arc<dyn AnyStore>)> {
    match url {
        Some(url) => {
            let s = crate::config::StoreUrl::parse(url)?.connect().await?;
            Ok((s.clone(), s))
        }
        None => {
            let dir = DirStore::open(tmp.join("store"))
                .map_err(|e| crate::CliError::other(e.to_string()))?;
            Ok((Arc::new(Unsynced::new(dir.clone())), Arc::new(dir)))
        }
    }
}

fn io_error(path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Other(format!("{}: {e}", path.display()))
}

#[async_trait::async_trait]
impl BlockStore for Unsynced {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        let path = self.dir.block_path(cid);
        if path.is_file() {
            return Ok(());
        }
        let parent = path
            .parent()
            .ok_or_else(|| StoreError::Other("block path has no parent".into()))?;
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        // Write beside, then rename: a reader never sees a part of a block.
        let tmp = parent.join(format!(".fill-{cid}"));
        std::fs::write(&tmp, &bytes).map_err(|e| io_error(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))
    }
    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        self.dir.get(cid).await
    }
    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        self.dir.get_range(cid, range).await
    }
    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        self.dir.get_max(cid, max_len).await
    }
    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        self.dir.has(cid).await
    }
    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        self.dir.delete(cid).await
    }
    async fn list(&self) -> StoreResult<Vec<Cid>> {
        self.dir.list().await
    }
}

#[async_trait::async_trait]
impl HeadStore for Unsynced {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        self.dir.read_heads(vault).await
    }
    async fn read_head(&self, vault: &str, writer: &str) -> StoreResult<Option<Head>> {
        self.dir.read_head(vault, writer).await
    }
    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<HeadVersion> {
        self.dir.write_head(vault, writer, bytes, condition).await
    }
    fn conditional_writes(&self) -> ConditionalWrites {
        self.dir.conditional_writes()
    }
}
