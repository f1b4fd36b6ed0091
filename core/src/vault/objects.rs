//! Object operations: put, get, ranges, head, delete, copy, list, versions.

use std::collections::BTreeMap;
use std::ops::Range;

use super::format::{IndexValue, Manifest};
use super::gc::retry_gc;
use super::reserved::{self, PurgeValue, grave_key, is_reserved, purge_key};
use super::{ObjectInfo, PutOptions, Vault, VaultError, VaultResult, now_ms};
use crate::block::Cid;
use crate::index::{Entry, ListRequest, MAX_KEY_LEN, Mutation};

use crate::store::{BlockStore, HeadStore, StoreError};
use crate::verify::{Outboard, RangeProof, covering_range};

/// One page of [`Vault::list`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListPage {
    /// The objects, in key order.
    pub contents: Vec<ListedObject>,
    /// Common prefixes (with a delimiter), in order.
    pub common_prefixes: Vec<Vec<u8>>,
    /// `contents.len() + common_prefixes.len()`.
    pub key_count: u32,
    /// Whether more items follow.
    pub is_truncated: bool,
    /// Pass back as `continuation_token` for the next page; present exactly when truncated.
    pub next_continuation_token: Option<String>,
}

/// One object in a [`ListPage`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedObject {
    /// The key.
    pub key: Vec<u8>,
    /// Plaintext size.
    pub size: u64,
    /// ETag of the current version (its version id).
    pub etag: String,
    /// When the current version was written (ms since the Unix epoch, the writer's clock).
    pub last_modified_ms: u64,
    /// The current version's S3 ETag, when one was given at put ([`super::PutOptions::s3_etag`]).
    pub s3_etag: Option<String>,
}

/// The result for one key of [`Vault::delete_many`].
#[derive(Debug)]
pub struct DeleteResult {
    /// The key.
    pub key: Vec<u8>,
    /// `Ok` when it was deleted; [`VaultError::NotFound`] when it held no object.
    pub result: VaultResult<()>,
}

/// At most this many tags per object (S3's limit).
const MAX_TAGS: usize = 10;

/// Above this many separate outboard reads for one range, the whole outboard block is fetched.
const MAX_PROOF_REQUESTS: usize = 24;

/// A block the vault refers to that the store does not have (or has shorter) is corruption.
pub(super) fn missing_as_corrupt(cid: &Cid, e: StoreError) -> VaultError {
    match e {
        StoreError::NotFound(_) => VaultError::corrupt(cid, super::MISSING),
        StoreError::RangeOutOfBounds { .. } => {
            VaultError::corrupt(cid, "shorter than its manifest says")
        }
        StoreError::Corrupt { detail, .. } => VaultError::corrupt(cid, detail),
        other => VaultError::Store(other),
    }
}

pub(crate) fn check_key(key: &[u8]) -> VaultResult<()> {
    if key.is_empty() {
        return Err(VaultError::InvalidKey("keys must not be empty".into()));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(VaultError::KeyTooLong { len: key.len() });
    }
    if is_reserved(key) {
        return Err(VaultError::InvalidKey(
            "keys starting with the byte 0xFF are reserved (no UTF-8 text starts with it)".into(),
        ));
    }
    Ok(())
}

/// What a new version of a key continues: the live value's history, or a deleted key's graveyard
/// (which the new version then ends).
pub(super) struct HistoryBase {
    /// The current version of a live key (what conditions are checked against).
    pub live: Option<Cid>,
    /// The new version's `prev`.
    pub prev: Option<Cid>,
    /// Concurrent versions and cut points carried forward.
    pub c: Vec<Cid>,
    pub p: Vec<Cid>,
    /// The graveyard entry the new version ends.
    pub grave: Option<Entry>,
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// The current index value of `key`, or `None` when it holds no live object.
    pub(super) async fn current(&self, key: &[u8]) -> VaultResult<Option<IndexValue>> {
        check_key(key)?;
        match self.tree.get(&self.state.root, key).await? {
            Some(entry) => match entry.value() {
                Some(v) => Ok(Some(IndexValue::decode(v)?)),
                None => Ok(None),
            },
            None => Ok(None),
        }
    }

    /// The live value of `key` or, for a deleted key, its graveyard entry and value.
    pub(super) async fn history_base(&self, key: &[u8]) -> VaultResult<HistoryBase> {
        if let Some(v) = self.current(key).await? {
            return Ok(HistoryBase {
                live: Some(v.m),
                prev: Some(v.m),
                c: v.c,
                p: v.p,
                grave: None,
            });
        }
        match self.grave(key).await? {
            Some((entry, v)) => Ok(HistoryBase {
                live: None,
                prev: Some(v.m),
                c: v.c,
                p: v.p,
                grave: Some(entry),
            }),
            None => Ok(HistoryBase {
                live: None,
                prev: None,
                c: Vec::new(),
                p: Vec::new(),
                grave: None,
            }),
        }
    }

    /// The live graveyard of `key`, if it was deleted and its history is kept.
    pub(super) async fn grave(&self, key: &[u8]) -> VaultResult<Option<(Entry, IndexValue)>> {
        match self.tree.get(&self.state.root, &grave_key(key)).await? {
            Some(e) => {
                let v = IndexValue::decode(e.value().unwrap_or_default())?;
                Ok(Some((e, v)))
            }
            None => Ok(None),
        }
    }

    /// The manifest stored at `cid`.
    async fn manifest(&self, cid: &Cid) -> VaultResult<Manifest> {
        let bytes = self.fetch_block(cid).await?;
        let plain = self.open_manifest_bytes(cid, &bytes)?;
        Manifest::decode(&plain).map_err(|e| VaultError::corrupt(cid, e))
    }

    /// The manifest stored at `cid`, a CID read from this device's index (see
    /// [`Vault::open_indexed_manifest`]).
    async fn indexed_manifest(&self, cid: &Cid) -> VaultResult<Manifest> {
        let bytes = self.fetch_block(cid).await?;
        let plain = self.open_indexed_manifest(cid, &bytes)?;
        Manifest::decode(&plain).map_err(|e| VaultError::corrupt(cid, e))
    }

    /// The current manifest of `key`.
    pub(super) async fn current_manifest(&self, key: &[u8]) -> VaultResult<(Cid, Manifest)> {
        let value = self.current(key).await?.ok_or(VaultError::NotFound)?;
        let m = self.indexed_manifest(&value.m).await?;
        if m.key != key {
            return Err(VaultError::corrupt(
                &value.m,
                "the manifest belongs to another key",
            ));
        }
        Ok((value.m, m))
    }

    /// Writes `manifest` (sealed) and points `key` at it with tags block `t`; commits the head.
    pub(super) async fn link(
        &mut self,
        key: &[u8],
        manifest: &Manifest,
        t: Option<Cid>,
    ) -> VaultResult<ObjectInfo> {
        let plain = manifest.encode()?;
        let (cid, _) = self.put_sealed(&plain).await?;
        // Concurrent versions that lost earlier merges, and cut points, stay with the new value.
        let base = self.history_base(key).await?;
        let value = IndexValue {
            c: base.c,
            t,
            e: manifest.etag.clone(),
            p: base.p,
            ..IndexValue::new(cid, manifest.plain_len)
        }
        .encode()?;
        let mut batch = Vec::with_capacity(2);
        if let Some(g) = base.grave {
            batch.push((
                grave_key(key),
                Mutation::Put(Entry::tombstone(g.time, g.writer)),
            ));
        }
        let time = self.tick();
        batch.push((
            key.to_vec(),
            Mutation::Put(Entry::live(value, time, self.writer)),
        ));
        self.state.root = self.tree.apply(&self.state.root, batch).await?;
        self.commit().await?;
        Ok(ObjectInfo::from_manifest(&cid, manifest))
    }

    /// Points `key` at the encoded index `value` (a live entry at a fresh clock tick) and commits.
    pub(super) async fn commit_value(&mut self, key: &[u8], value: Vec<u8>) -> VaultResult<()> {
        let time = self.tick();
        let entry = Entry::live(value, time, self.writer);
        self.state.root = self.tree.put(&self.state.root, key, entry).await?;
        self.commit().await
    }

    /// Checks the conditions of a put against the current version of `key`.
    pub(super) async fn check_conditions(
        &self,
        key: &[u8],
        opts: &PutOptions,
    ) -> VaultResult<Option<Cid>> {
        let current = self.current(key).await?.map(|v| v.m);
        super::upload::check_against(current.as_ref(), opts)?;
        Ok(current)
    }

    /// Stores `bytes` under `key` as a new version and commits it (the device's head is written).
    /// Returns the new version. The previous version stays readable through
    /// [`Vault::versions`]. Conditions are checked against this device's view (before a sync).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, Vault}};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// let opts = PutOptions { content_type: Some("text/plain".into()), if_absent: true, ..Default::default() };
    /// let v1 = vault.put(b"notes.txt", b"hello".to_vec(), opts.clone()).await?;
    /// assert!(vault.put(b"notes.txt", b"again".to_vec(), opts).await.is_err());
    /// assert_eq!(vault.head(b"notes.txt").await?.etag(), v1.etag());
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn put(
        &mut self,
        key: &[u8],
        bytes: Vec<u8>,
        opts: PutOptions,
    ) -> VaultResult<ObjectInfo> {
        let upload = self.upload(key, bytes, opts).await?;
        self.commit_one(upload).await
    }

    /// Commits one upload; its refusal (a condition) is the error.
    pub(super) async fn commit_one(
        &mut self,
        upload: super::upload::Upload,
    ) -> VaultResult<ObjectInfo> {
        let mut results = self.commit_uploads(vec![upload]).await?;
        results
            .pop()
            .unwrap_or_else(|| Err(VaultError::Source("internal: no commit result".into())))
    }

    /// Checks tags against S3's limits and stores them sealed; `None` when there are none.
    pub(super) async fn put_tags_block(
        &self,
        tags: &BTreeMap<String, String>,
    ) -> VaultResult<Option<Cid>> {
        Ok(self.put_tags_block_kept(tags).await?.map(|(c, _)| c))
    }

    /// [`Vault::put_tags_block`], returning the sealed block too.
    pub(super) async fn put_tags_block_kept(
        &self,
        tags: &BTreeMap<String, String>,
    ) -> VaultResult<Option<(Cid, bytes::Bytes)>> {
        if tags.is_empty() {
            return Ok(None);
        }
        if tags.len() > MAX_TAGS {
            return Err(VaultError::InvalidTags(format!(
                "{} tags; at most {MAX_TAGS}",
                tags.len()
            )));
        }
        for (k, v) in tags {
            if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
                return Err(VaultError::InvalidTags(
                    "tag keys are 1 to 128 characters, values at most 256".into(),
                ));
            }
        }
        let plain = super::format::encode_tags(tags)?;
        let (cid, sealed) = self.put_sealed(&plain).await?;
        Ok(Some((cid, bytes::Bytes::from(sealed))))
    }

    /// The tags of the current version of `key` (empty when it has none).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::collections::BTreeMap;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, Vault}};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// let tags = BTreeMap::from([("project".to_string(), "apollo".to_string())]);
    /// let v1 = vault.put(b"k", b"x".to_vec(), PutOptions { tags: tags.clone(), ..Default::default() }).await?;
    /// assert_eq!(vault.tags(b"k").await?, tags);
    /// vault.set_tags(b"k", BTreeMap::from([("state".into(), "final".into())])).await?;
    /// assert_eq!(vault.tags(b"k").await?["state"], "final");
    /// assert_eq!(vault.head(b"k").await?.version, v1.version); // tags do not make a version
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn tags(&self, key: &[u8]) -> VaultResult<BTreeMap<String, String>> {
        let value = self.current(key).await?.ok_or(VaultError::NotFound)?;
        match value.t {
            None => Ok(BTreeMap::new()),
            Some(cid) => {
                let plain = self.open_sealed(&cid).await?;
                super::format::decode_tags(&plain).map_err(|e| VaultError::corrupt(&cid, e))
            }
        }
    }

    /// Replaces the tags of the current version of `key` (an empty map removes them) and
    /// commits. The version id and ETag do not change; tags follow S3's limits (at most 10, keys
    /// 1..=128 characters, values at most 256).
    pub async fn set_tags(
        &mut self,
        key: &[u8],
        tags: BTreeMap<String, String>,
    ) -> VaultResult<()> {
        retry_gc!(self.set_tags_once(key, &tags).await)
    }

    async fn set_tags_once(
        &mut self,
        key: &[u8],
        tags: &BTreeMap<String, String>,
    ) -> VaultResult<()> {
        let value = self.current(key).await?.ok_or(VaultError::NotFound)?;
        let t = self.put_tags_block(tags).await?;
        let value = IndexValue { t, ..value }.encode()?;
        self.commit_value(key, value).await
    }

    /// The current version of `key`, verified and opened.
    pub async fn get(&self, key: &[u8]) -> VaultResult<Vec<u8>> {
        let (_, m) = self.current_manifest(key).await?;
        self.read_whole(&m).await
    }

    /// Version `version` (an id from [`Vault::versions`] or an ETag) of `key`.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, Vault, VaultError}};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// let v1 = vault.put(b"k", b"one".to_vec(), PutOptions::default()).await?;
    /// vault.put(b"k", b"two".to_vec(), PutOptions::default()).await?;
    /// assert_eq!(vault.get_version(b"k", &v1.version).await?, b"one");
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn get_version(&self, key: &[u8], version: &str) -> VaultResult<Vec<u8>> {
        let m = self.version_manifest(key, version).await?;
        self.read_whole(&m).await
    }

    pub(super) async fn version_manifest(
        &self,
        key: &[u8],
        version: &str,
    ) -> VaultResult<Manifest> {
        check_key(key)?;
        let cid: Cid = version
            .parse()
            .map_err(|_| VaultError::InvalidVersion("not a CID".into()))?;
        let m = match self.manifest(&cid).await {
            Ok(m) => m,
            // A version id that names no block of this vault.
            Err(VaultError::Corrupt { .. }) => return Err(VaultError::NotFound),
            Err(e) => return Err(e),
        };
        if m.key != key || self.purged(key).await?.binary_search(&cid).is_ok() {
            return Err(VaultError::NotFound);
        }
        Ok(m)
    }

    /// The versions of `key` a purge took out of the history (sorted).
    pub(super) async fn purged(&self, key: &[u8]) -> VaultResult<Vec<Cid>> {
        match self.tree.get(&self.state.root, &purge_key(key)).await? {
            Some(e) => Ok(PurgeValue::decode(e.value().unwrap_or_default())?.x),
            None => Ok(Vec::new()),
        }
    }

    /// The sealed object of `m`, checked against the manifest (length, BLAKE3 root): the bytes
    /// the manifest carries (`inline`) or, for other objects, block `data` fetched whole. Every
    /// reader of whole sealed objects goes through here, so inline and stored bytes are checked
    /// alike.
    pub(super) async fn sealed_object(&self, m: &Manifest) -> VaultResult<bytes::Bytes> {
        let sealed = match m.inline_bytes() {
            Some(b) => b,
            None => match self.fetch_block_max(&m.data, m.sealed_len).await {
                // More bytes than the owner-signed manifest says: the store inflated the block.
                Err(VaultError::Store(StoreError::TooLarge { .. })) => {
                    return Err(VaultError::corrupt(
                        &m.data,
                        "longer than its manifest says",
                    ));
                }
                other => other?,
            },
        };
        // A fetched block already hashed to `data` (`fetch_block_max`); when `data` names the
        // manifest's root, as every manifest coffer writes does, its length is what is left to
        // check, and the bytes are not hashed a second time.
        let fetched_root =
            m.inline.is_none() && crate::block::blake3_digest(&m.data).is_ok_and(|d| d == m.blake3);
        let matches = if fetched_root {
            sealed.len() as u64 == m.sealed_len
        } else {
            m.check_sealed(&sealed)
        };
        if !matches {
            return Err(VaultError::corrupt(&m.data, "does not match its manifest"));
        }
        Ok(sealed)
    }

    /// Fetches the whole sealed object, checks its BLAKE3 root, and opens it.
    async fn read_whole(&self, m: &Manifest) -> VaultResult<Vec<u8>> {
        let sealed = self.sealed_object(m).await?;
        let plain = self
            .with_unlock(|u| crate::seal::open_to_vec_with(u, &sealed))
            .map_err(|e| VaultError::corrupt(&m.data, e))?
            .plaintext;
        if plain.len() as u64 != m.plain_len {
            return Err(VaultError::corrupt(
                &m.data,
                "plaintext length differs from the manifest",
            ));
        }
        Ok(plain)
    }

    /// Bytes `range` of the current version of `key`: fetches the header and only the segments
    /// that hold the range (widened to 16 KiB verification groups) plus the outboard pairs that
    /// prove them, checks them against the manifest's BLAKE3 root, then decrypts them.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, Vault}};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    /// vault.put(b"big", data.clone(), PutOptions::default()).await?;
    /// assert_eq!(vault.get_range(b"big", 150_000..150_100).await?, &data[150_000..150_100]);
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn get_range(&self, key: &[u8], range: Range<u64>) -> VaultResult<Vec<u8>> {
        let (_, m) = self.current_manifest(key).await?;
        self.manifest_range(&m, range).await
    }

    /// The range proof of `range` of the sealed object of `m`: only the outboard pairs it needs,
    /// fetched as runs of adjacent pairs (the whole outboard block when that is about as cheap).
    /// The pairs are checked later against the manifest's BLAKE3 root, not here.
    async fn proof(&self, m: &Manifest, range: Range<u64>) -> VaultResult<RangeProof> {
        let root = blake3::Hash::from_bytes(m.blake3);
        let pieces = RangeProof::outboard_ranges(m.sealed_len, range.clone())
            .map_err(|e| VaultError::corrupt(&m.data, e))?;
        let mut bytes = Vec::with_capacity(pieces.len() * 64);
        if !pieces.is_empty() {
            let outboard = m.outboard.as_ref().ok_or_else(|| {
                VaultError::corrupt(&m.data, "the manifest names no outboard for a large object")
            })?;
            let mut runs: Vec<Range<u64>> = Vec::new();
            for piece in pieces {
                match runs.last_mut() {
                    Some(last) if last.end == piece.start => last.end = piece.end,
                    _ => runs.push(piece),
                }
            }
            let needed: u64 = runs.iter().map(|r| r.end - r.start).sum();
            let whole_len = Outboard::size_for(m.sealed_len);
            if runs.len() > MAX_PROOF_REQUESTS || needed * 2 > whole_len {
                // The whole outboard: its size follows from the sealed length (over 4 MiB for
                // objects over 1 GiB, so not the metadata cap).
                let all = self.fetch_block_max(outboard, whole_len).await?;
                for run in runs {
                    let piece = usize::try_from(run.start)
                        .ok()
                        .zip(usize::try_from(run.end).ok())
                        .and_then(|(a, b)| all.get(a..b))
                        .ok_or_else(|| VaultError::corrupt(outboard, "outboard is too short"))?;
                    bytes.extend_from_slice(piece);
                }
            } else {
                for run in runs {
                    let piece = self
                        .store
                        .get_range(outboard, run)
                        .await
                        .map_err(|e| missing_as_corrupt(outboard, e))?;
                    bytes.extend_from_slice(&piece);
                }
            }
        }
        RangeProof::from_parts(root, m.sealed_len, range, bytes)
            .map_err(|e| VaultError::corrupt(&m.data, e))
    }

    /// Fetches the covering groups of `range` of the sealed object and returns `range` of them,
    /// verified against the manifest's BLAKE3 root with the outboard pairs they need.
    pub(super) async fn verified_range(
        &self,
        m: &Manifest,
        range: Range<u64>,
    ) -> VaultResult<Vec<u8>> {
        if m.inline.is_some() {
            // Checked whole against the root: any range of it is then verified.
            let sealed = self.sealed_object(m).await?;
            return usize::try_from(range.start)
                .ok()
                .zip(usize::try_from(range.end).ok())
                .and_then(|(a, b)| sealed.get(a..b))
                .map(<[u8]>::to_vec)
                .ok_or_else(|| VaultError::corrupt(&m.data, "a range beyond the sealed object"));
        }
        let proof = self.proof(m, range.clone()).await?;
        let cover = covering_range(m.sealed_len, range)?;
        let bytes = self
            .store
            .get_range(&m.data, cover)
            .await
            .map_err(|e| missing_as_corrupt(&m.data, e))?;
        let ok = proof
            .verify(&bytes)
            .map_err(|e| VaultError::corrupt(&m.data, e))?;
        Ok(ok.to_vec())
    }

    /// The current version's metadata (no object bytes are fetched).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, Vault, VaultError}};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// let opts = PutOptions { content_type: Some("image/jpeg".into()), ..Default::default() };
    /// vault.put(b"cat.jpg", b"meow".to_vec(), opts).await?;
    /// let info = vault.head(b"cat.jpg").await?;
    /// assert_eq!((info.size, info.content_type.as_deref()), (4, Some("image/jpeg")));
    /// assert!(matches!(vault.head(b"dog.jpg").await, Err(VaultError::NotFound)));
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn head(&self, key: &[u8]) -> VaultResult<ObjectInfo> {
        let (cid, m) = self.current_manifest(key).await?;
        Ok(ObjectInfo::from_manifest(&cid, &m))
    }

    /// Every version of `key` reachable from the current one: the current version first, then
    /// its predecessors and the concurrent versions other devices wrote (kept when a sync merged
    /// them), newest first by creation time.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, Vault, VaultError}};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// vault.put(b"k", b"one".to_vec(), PutOptions::default()).await?;
    /// let v2 = vault.put(b"k", b"two".to_vec(), PutOptions::default()).await?;
    /// let versions = vault.versions(b"k").await?;
    /// assert_eq!(versions.len(), 2);
    /// assert_eq!(versions[0].version, v2.version);
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn versions(&self, key: &[u8]) -> VaultResult<Vec<ObjectInfo>> {
        let grave = self.grave(key).await?.map(|(_, g)| g);
        let (value, cut) = match self.current(key).await? {
            // Behind its graveyard's cut points too (a put concurrent with a delete leaves
            // both), as a collection walks it: what is listed is what a collection keeps.
            Some(v) => {
                let mut cut = v.p.clone();
                cut.extend(grave.iter().flat_map(|g| g.p.iter().copied()));
                cut.sort();
                cut.dedup();
                (v, cut)
            }
            // A deleted key: its history is in its graveyard until a retention rule expires it.
            None => {
                let g = grave.ok_or(VaultError::NotFound)?;
                let cut = g.p.clone();
                (g, cut)
            }
        };
        let heads: Vec<Cid> = std::iter::once(value.m)
            .chain(value.c.iter().copied())
            .collect();
        let found = self.walk_history(key, &heads, &cut).await?;
        let first = found
            .get(&value.m)
            .ok_or_else(|| VaultError::corrupt(&value.m, super::MISSING))?;
        let mut out = vec![ObjectInfo::from_manifest(&value.m, first)];
        let mut rest: Vec<ObjectInfo> = found
            .iter()
            .filter(|(c, _)| **c != value.m)
            .map(|(c, m)| ObjectInfo::from_manifest(c, m))
            .collect();
        // The current (or last) version stays first; the others newest first (within one
        // millisecond, a version before its predecessors; see `retention::plan_cuts`).
        let depth =
            super::retention::chain_depths(&found.iter().map(|(c, m)| (*c, m.prev)).collect());
        let depth_of = |v: &str| v.parse::<Cid>().ok().and_then(|c| depth.get(&c).copied());
        rest.sort_by(|a, b| {
            b.created_ms
                .cmp(&a.created_ms)
                .then_with(|| depth_of(&b.version).cmp(&depth_of(&a.version)))
                .then_with(|| a.version.cmp(&b.version))
        });
        out.extend(rest);
        Ok(out)
    }

    /// Deletes `key` and commits. Its versions stay readable through [`Vault::versions`] and
    /// [`Vault::get_version`] (its graveyard) until a retention rule expires them, or
    /// [`Vault::purge`]; a new put of the key continues its history.
    /// [`VaultError::NotFound`] when the key holds no object.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, Vault, VaultError}};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// vault.put(b"k", b"x".to_vec(), PutOptions::default()).await?;
    /// vault.delete(b"k").await?;
    /// assert!(matches!(vault.get(b"k").await, Err(VaultError::NotFound)));
    /// assert_eq!(vault.versions(b"k").await?.len(), 1); // kept until a retention rule expires it
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn delete(&mut self, key: &[u8]) -> VaultResult<()> {
        let mut results = self.delete_many(&[key]).await?;
        results.pop().map_or(Ok(()), |r| r.result)
    }

    /// Deletes several keys in one index batch and one commit, with a result per key.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, Vault, VaultError}};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// vault.put(b"a", b"x".to_vec(), PutOptions::default()).await?;
    /// let results = vault.delete_many(&[b"a", b"missing"]).await?;
    /// assert!(results[0].result.is_ok());
    /// assert!(matches!(results[1].result, Err(VaultError::NotFound)));
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn delete_many(&mut self, keys: &[&[u8]]) -> VaultResult<Vec<DeleteResult>> {
        retry_gc!(self.delete_many_once(keys).await)
    }

    async fn delete_many_once(&mut self, keys: &[&[u8]]) -> VaultResult<Vec<DeleteResult>> {
        let mut results = Vec::with_capacity(keys.len());
        let mut batch = Vec::new();
        let time = self.tick();
        let deleted_ms = time.wall_ms();
        for key in keys {
            let result = match self.current(key).await {
                Ok(Some(v)) => {
                    // The key's history goes to its graveyard (joined with a graveyard left by a
                    // concurrent delete this device merged, if any).
                    let mut c = v.c.clone();
                    let mut p = v.p.clone();
                    if let Some((_, old)) = self.grave(key).await? {
                        if old.m != v.m {
                            c.push(old.m);
                        }
                        c.extend(old.c);
                        p.extend(old.p);
                    }
                    c.retain(|x| *x != v.m);
                    let grave = IndexValue {
                        c: reserved::union(&c, &[]),
                        e: v.e.clone(),
                        p: reserved::union(&p, &[]),
                        k: Some(serde_bytes::ByteBuf::from(key.to_vec())),
                        d: Some(deleted_ms),
                        ..IndexValue::new(v.m, v.n)
                    }
                    .encode()?;
                    batch.push((
                        grave_key(key),
                        Mutation::Put(Entry::live(grave, time, self.writer)),
                    ));
                    batch.push((
                        key.to_vec(),
                        Mutation::Put(Entry::tombstone(time, self.writer)),
                    ));
                    Ok(())
                }
                Ok(None) => Err(VaultError::NotFound),
                Err(e) => Err(e),
            };
            results.push(DeleteResult {
                key: key.to_vec(),
                result,
            });
        }
        if !batch.is_empty() {
            self.state.root = self.tree.apply(&self.state.root, batch).await?;
            self.commit().await?;
        }
        Ok(results)
    }

    /// Copies the current version of `src` to `dst` by reference: a new manifest for `dst`
    /// pointing at the same sealed object (nothing is re-encrypted or uploaded). Commits.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, Vault, VaultError}};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// vault.put(b"a", b"x".to_vec(), PutOptions::default()).await?;
    /// let copy = vault.copy(b"a", b"b").await?;
    /// assert_eq!(copy.data, vault.head(b"a").await?.data); // the same sealed object
    /// assert_eq!(vault.get(b"b").await?, b"x");
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn copy(&mut self, src: &[u8], dst: &[u8]) -> VaultResult<ObjectInfo> {
        retry_gc!(self.copy_once(src, dst).await)
    }

    async fn copy_once(&mut self, src: &[u8], dst: &[u8]) -> VaultResult<ObjectInfo> {
        check_key(dst)?;
        let (_, m) = self.current_manifest(src).await?;
        let t = self.current(src).await?.and_then(|v| v.t);
        let prev = self.history_base(dst).await?.prev;
        let manifest = Manifest {
            key: dst.to_vec(),
            created_ms: now_ms(),
            prev,
            ..m
        };
        self.link(dst, &manifest, t).await
    }

    /// One page of the ListObjectsV2 listing of this device's view.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, Vault, VaultError}};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// use coffer::vault::ListRequest;
    /// for key in ["a/1", "a/2", "b"] {
    ///     vault.put(key.as_bytes(), Vec::new(), PutOptions::default()).await?;
    /// }
    /// let page = vault.list(&ListRequest { delimiter: Some(b"/".to_vec()), ..Default::default() }).await?;
    /// assert_eq!(page.common_prefixes, vec![b"a/".to_vec()]);
    /// assert_eq!(page.contents[0].key, b"b");
    /// let page = vault.list(&ListRequest { max_keys: Some(2), ..Default::default() }).await?;
    /// assert!(page.is_truncated);
    /// let next = ListRequest { continuation_token: page.next_continuation_token, ..Default::default() };
    /// assert_eq!(vault.list(&next).await?.contents.len(), 1);
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn list(&self, req: &ListRequest) -> VaultResult<ListPage> {
        if is_reserved(&req.prefix) {
            return Ok(ListPage {
                contents: Vec::new(),
                common_prefixes: Vec::new(),
                key_count: 0,
                is_truncated: false,
                next_continuation_token: None,
            });
        }
        let mut page = self.tree.list(&self.state.root, req).await?;
        // The vault's own keys (0xFF…) sort after every object key: a page ends before them.
        let reserved_at = page.contents.iter().position(|o| is_reserved(&o.key));
        let prefixes_at = page.common_prefixes.iter().position(|p| is_reserved(p));
        if reserved_at.is_some() || prefixes_at.is_some() {
            page.contents
                .truncate(reserved_at.unwrap_or(page.contents.len()));
            page.common_prefixes
                .truncate(prefixes_at.unwrap_or(page.common_prefixes.len()));
            page.key_count = (page.contents.len() + page.common_prefixes.len()) as u32;
            page.is_truncated = false;
            page.next_continuation_token = None;
        } else if page.is_truncated {
            let last = page
                .contents
                .iter()
                .map(|o| o.key.as_slice())
                .chain(page.common_prefixes.iter().map(Vec::as_slice))
                .max()
                .map(<[u8]>::to_vec);
            if let Some(last) = last
                && self.only_reserved_after(&last, req).await?
            {
                page.is_truncated = false;
                page.next_continuation_token = None;
            }
        }
        let mut contents = Vec::with_capacity(page.contents.len());
        for obj in page.contents {
            let value = obj
                .entry
                .value()
                .map(IndexValue::decode)
                .transpose()?
                .ok_or_else(|| VaultError::Corrupt {
                    cid: "(index entry)".into(),
                    detail: "a listed key has no value".into(),
                })?;
            contents.push(ListedObject {
                key: obj.key,
                size: value.n,
                etag: value.m.to_string(),
                s3_etag: value.e,
                last_modified_ms: obj.entry.time.wall_ms(),
            });
        }
        Ok(ListPage {
            contents,
            common_prefixes: page.common_prefixes,
            key_count: page.key_count,
            is_truncated: page.is_truncated,
            next_continuation_token: page.next_continuation_token,
        })
    }
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// Whether the listing `req` has nothing but reserved keys after `last`.
    async fn only_reserved_after(&self, last: &[u8], req: &ListRequest) -> VaultResult<bool> {
        let next = ListRequest {
            prefix: req.prefix.clone(),
            delimiter: req.delimiter.clone(),
            start_after: Some(last.to_vec()),
            max_keys: Some(1),
            ..Default::default()
        };
        let page = self.tree.list(&self.state.root, &next).await?;
        let first = page
            .contents
            .first()
            .map(|o| o.key.as_slice())
            .into_iter()
            .chain(page.common_prefixes.iter().map(Vec::as_slice))
            .min();
        Ok(first.is_none_or(is_reserved))
    }
}

#[cfg(feature = "bench-internals")]
impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// Benchmarks only: adds `n` keys `{prefix}{i:09}` that all point at one small real object, in
    /// index batches and one commit, so a listing bench can have a 1,000,000-object vault without
    /// sealing a million objects. Reading those keys' contents fails (their manifest names another
    /// key); listing them is the point.
    #[doc(hidden)]
    pub async fn bench_fill(&mut self, prefix: &str, n: usize) -> VaultResult<()> {
        let seed = format!("{prefix}seed");
        let info = self
            .put(
                seed.as_bytes(),
                b"bench".to_vec(),
                super::PutOptions::default(),
            )
            .await?;
        let m: Cid = info
            .version
            .parse()
            .map_err(|_| VaultError::InvalidVersion("not a CID".into()))?;
        let value = IndexValue::new(m, info.size).encode()?;
        let mut i = 0;
        let mut root = self.state.root;
        while i < n {
            let end = (i + 100_000).min(n);
            let time = self.tick();
            let batch: Vec<(Vec<u8>, Mutation)> = (i..end)
                .map(|k| {
                    (
                        format!("{prefix}{k:09}").into_bytes(),
                        Mutation::Put(Entry::live(value.clone(), time, self.writer)),
                    )
                })
                .collect();
            root = self.tree.apply(&root, batch).await?;
            i = end;
        }
        self.state.root = root;
        self.commit().await
    }
}
