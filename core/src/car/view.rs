//! A scanned export seen as a store, so the vault can be opened and walked from the file before
//! anything reaches the target: blocks are read from the file (what the check writes, such as a
//! fresh device's empty index root, stays in memory), heads come from the root block, and the
//! check's own head writes stay in memory too.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::sync::Mutex;

use bytes::Bytes;

use super::file::Section;
use crate::block::Cid;
use crate::store::{
    BlockStore, ConditionalWrites, Head, HeadCondition, HeadStore, HeadVersion, MemoryStore,
    StoreError, StoreResult,
};
use crate::vault::HeadRecord;

pub(crate) struct CarView<R> {
    file: Mutex<R>,
    index: HashMap<Cid, Section>,
    overlay: MemoryStore,
    heads: Mutex<HashMap<String, Vec<Head>>>,
}

impl<R: Read + Seek + Send> CarView<R> {
    pub(crate) fn new(file: R, sections: &[Section], records: &[HeadRecord]) -> Self {
        let mut heads: HashMap<String, Vec<Head>> = HashMap::new();
        for r in records {
            heads.entry(r.namespace.clone()).or_default().push(Head {
                writer: r.writer.clone(),
                bytes: r.bytes.clone(),
                version: HeadVersion("car".into()),
            });
        }
        Self {
            file: Mutex::new(file),
            index: sections.iter().map(|s| (s.cid, *s)).collect(),
            overlay: MemoryStore::new(),
            heads: Mutex::new(heads),
        }
    }

    /// `len` bytes of the file from `offset`.
    pub(crate) fn read_at(&self, offset: u64, len: u64) -> StoreResult<Bytes> {
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let io = |e: std::io::Error| StoreError::Io {
            path: "(CAR file)".into(),
            source: e,
        };
        f.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut out =
            vec![0u8; usize::try_from(len).map_err(|e| StoreError::Other(e.to_string()))?];
        f.read_exact(&mut out).map_err(io)?;
        Ok(Bytes::from(out))
    }

    /// Whether `cid` is a block the check wrote itself (not in the file).
    pub(crate) async fn wrote(&self, cid: &Cid) -> bool {
        !self.index.contains_key(cid) && self.overlay.has(cid).await.unwrap_or(false)
    }

    /// Whether the file holds `cid`.
    pub(crate) fn holds(&self, cid: &Cid) -> bool {
        self.index.contains_key(cid)
    }

    fn section(&self, cid: &Cid) -> StoreResult<Section> {
        self.index
            .get(cid)
            .copied()
            .ok_or_else(|| StoreError::NotFound(cid.to_string()))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<R: Read + Seek + Send> BlockStore for CarView<R> {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        self.overlay.put(cid, bytes).await
    }

    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        if self.overlay.has(cid).await? {
            return self.overlay.get(cid).await;
        }
        let s = self.section(cid)?;
        self.read_at(s.offset, s.len)
    }

    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        if self.overlay.has(cid).await? {
            return self.overlay.get_max(cid, max_len).await;
        }
        let s = self.section(cid)?;
        crate::store::check_max(cid, s.len, max_len)?;
        self.read_at(s.offset, s.len)
    }

    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        if self.overlay.has(cid).await? {
            return self.overlay.get_range(cid, range).await;
        }
        let s = self.section(cid)?;
        crate::store::check_range_u64(cid, &range, s.len)?;
        self.read_at(s.offset + range.start, range.end - range.start)
    }

    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        Ok(self.index.contains_key(cid) || self.overlay.has(cid).await?)
    }

    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        self.overlay.delete(cid).await
    }

    async fn list(&self) -> StoreResult<Vec<Cid>> {
        let mut out: Vec<Cid> = self.index.keys().copied().collect();
        out.extend(self.overlay.list().await?);
        Ok(out)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<R: Read + Seek + Send> HeadStore for CarView<R> {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        let heads = self.heads.lock().unwrap_or_else(|e| e.into_inner());
        Ok(heads.get(vault).cloned().unwrap_or_default())
    }

    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        _condition: HeadCondition,
    ) -> StoreResult<HeadVersion> {
        // The check's own device head (never copied to the target: only the file's records
        // are).
        let mut heads = self.heads.lock().unwrap_or_else(|e| e.into_inner());
        let list = heads.entry(vault.to_string()).or_default();
        list.retain(|h| h.writer != writer);
        list.push(Head {
            writer: writer.to_string(),
            bytes,
            version: HeadVersion("check".into()),
        });
        Ok(HeadVersion("check".into()))
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        ConditionalWrites::Enforced
    }
}
