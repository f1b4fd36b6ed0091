//! Transfers apart from commits: [`Vault::upload`] and [`Vault::upload_source`] seal and store an
//! object through `&self` (so many can run at once on one vault), and [`Vault::commit_uploads`]
//! links any number of them into the index with one index batch and one head write.
//!
//! [`Vault::put`] and [`Vault::put_source`] are an upload followed by a commit of one. Until it is
//! committed an upload is invisible: its blocks are in the store, no head names them (a pruning
//! collector treats them as garbage once they are older than its window).

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};

use super::format::{FORMAT_VERSION, INLINE_MAX, IndexValue, Manifest};
use super::gc::retry_gc;
use super::objects::{HistoryBase, check_key};
use super::reserved::grave_key;
use super::{ObjectInfo, PutOptions, Vault, VaultError, VaultResult, now_ms};
use crate::block::{Cid, raw_cid};
use crate::index::{Entry, Mutation};
use crate::store::{BlockStore, HeadStore};
use crate::verify::Outboard;

/// Manifests of one commit written to the store at once, at most.
const MANIFEST_WRITES: usize = 16;

/// An object sealed and stored, waiting for [`Vault::commit_uploads`]. Holds no plaintext and no
/// key material (the object's key travels inside its sealed header).
#[derive(Clone, Debug)]
pub struct Upload {
    pub(super) key: Vec<u8>,
    pub(super) data: Cid,
    pub(super) sealed_len: u64,
    pub(super) plain_len: u64,
    pub(super) blake3: [u8; 32],
    pub(super) outboard: Option<Cid>,
    /// The sealed object when it goes inside the manifest (at most [`INLINE_MAX`] bytes): then no
    /// block `data` was written.
    pub(super) inline: Option<Bytes>,
    pub(super) tags: Option<Cid>,
    pub(super) opts: PutOptions,
    /// The GC epoch this device had seen idle before the upload wrote anything (`None`: not
    /// known), and the blocks it wrote with their bytes when it holds them (not the sealed
    /// object of a streamed upload): a collection that ran since may have taken them, and the
    /// commit puts them back (see `gc.rs`).
    pub(super) gc_epoch: Option<u64>,
    pub(super) blocks: Vec<(Cid, Option<Bytes>)>,
}

impl Upload {
    /// The object key it will be committed under.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Plaintext length.
    pub fn size(&self) -> u64 {
        self.plain_len
    }

    /// The sealed object's CID.
    pub fn data(&self) -> &Cid {
        &self.data
    }
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// Seals `bytes` and stores the sealed object, its outboard and its tags, without committing:
    /// pass the result to [`Vault::commit_uploads`]. Conditions in `opts` are checked now (to fail
    /// early) and again at the commit, against the state then.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, Vault}};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// // Transfers can run at once (they borrow the vault shared); one head write commits them all.
    /// let (a, b) = futures_util::future::join(
    ///     vault.upload(b"a.txt", b"one".to_vec(), PutOptions::default()),
    ///     vault.upload(b"b.txt", b"two".to_vec(), PutOptions::default()),
    /// ).await;
    /// let results = vault.commit_uploads(vec![a?, b?]).await?;
    /// assert!(results.iter().all(|r| r.is_ok()));
    /// assert_eq!(vault.get(b"b.txt").await?, b"two");
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn upload(
        &self,
        key: &[u8],
        bytes: Vec<u8>,
        opts: PutOptions,
    ) -> VaultResult<Upload> {
        check_key(key)?;
        self.check_conditions(key, &opts).await?;
        let gc_epoch = self.gc_seen;
        let mut blocks = Vec::with_capacity(3);
        let tags = self.put_tags_block_kept(&opts.tags).await?;
        if let Some((cid, bytes)) = &tags {
            blocks.push((*cid, Some(bytes.clone())));
        }
        let sealed = Bytes::from(crate::seal::seal_to_vec(&self.data_options(), &bytes)?);
        let data = raw_cid(&sealed);
        let outboard = Outboard::compute(&sealed);
        // A small sealed object goes inside its manifest: one block per object.
        let inline = (sealed.len() as u64 <= INLINE_MAX).then(|| sealed.clone());
        if inline.is_none() {
            self.store.put(&data, sealed.clone()).await?;
            blocks.push((data, Some(sealed)));
        }
        let outboard_cid = self.put_outboard(&outboard).await?;
        if let Some(cid) = outboard_cid {
            blocks.push((cid, Some(Bytes::copy_from_slice(outboard.as_bytes()))));
        }
        Ok(Upload {
            key: key.to_vec(),
            data,
            sealed_len: outboard.len(),
            plain_len: bytes.len() as u64,
            blake3: *outboard.root().as_bytes(),
            outboard: outboard_cid,
            inline,
            tags: tags.map(|(c, _)| c),
            opts,
            gc_epoch,
            blocks,
        })
    }

    /// Puts back what a collection took of `up` if one ran since it was uploaded: false when
    /// a block is gone that this device does not hold (a streamed object).
    async fn recheck_upload(&self, up: &mut Upload) -> VaultResult<bool> {
        if self.gc_seen.is_none() || up.gc_epoch == self.gc_seen {
            // Not known idle: the commit's gate waits, and the redo checks.
            return Ok(true);
        }
        for (cid, bytes) in &up.blocks {
            if !self.store.has(cid).await? {
                match bytes {
                    Some(b) => self.store.put(cid, b.clone()).await?,
                    None => return Ok(false),
                }
            }
        }
        up.gc_epoch = self.gc_seen;
        Ok(true)
    }

    /// Links `uploads` into the index in order, with one index batch and one head write, and
    /// returns a result per upload: the new version, or why that one was refused (a condition that
    /// no longer holds; later uploads of the same key see the earlier ones;
    /// [`VaultError::UploadCollected`] when a collection took its blocks meanwhile). The outer
    /// error is a failure of the commit itself: then none of them is committed.
    ///
    /// A new version of a deleted key continues the key's history (its graveyard).
    pub async fn commit_uploads(
        &mut self,
        uploads: Vec<Upload>,
    ) -> VaultResult<Vec<VaultResult<ObjectInfo>>> {
        retry_gc!(self.commit_uploads_once(uploads.clone()).await)
    }

    async fn commit_uploads_once(
        &mut self,
        mut uploads: Vec<Upload>,
    ) -> VaultResult<Vec<VaultResult<ObjectInfo>>> {
        let mut kept = Vec::with_capacity(uploads.len());
        for up in &mut uploads {
            kept.push(self.recheck_upload(up).await?);
        }
        // What this batch has linked so far, by key: what later uploads of the key see.
        let mut values: BTreeMap<Vec<u8>, IndexValue> = BTreeMap::new();
        let mut graves: BTreeMap<Vec<u8>, Entry> = BTreeMap::new();
        let mut results = Vec::with_capacity(uploads.len());
        // The sealed manifests, written together with the index nodes (below).
        let mut manifests: Vec<(Cid, Bytes)> = Vec::with_capacity(uploads.len());
        for (up, kept) in uploads.into_iter().zip(kept) {
            if !kept {
                results.push(Err(VaultError::UploadCollected));
                continue;
            }
            let base = match values.get(&up.key) {
                Some(v) => Ok(HistoryBase {
                    live: Some(v.m),
                    prev: Some(v.m),
                    c: v.c.clone(),
                    p: v.p.clone(),
                    grave: None,
                }),
                None => self.history_base(&up.key).await,
            };
            let base = match base {
                Ok(b) => b,
                Err(e) => {
                    results.push(Err(e));
                    continue;
                }
            };
            if let Err(e) = check_against(base.live.as_ref(), &up.opts) {
                results.push(Err(e));
                continue;
            }
            let manifest = Manifest {
                v: FORMAT_VERSION,
                key: up.key.clone(),
                data: up.data,
                sealed_len: up.sealed_len,
                plain_len: up.plain_len,
                blake3: up.blake3,
                outboard: up.outboard,
                content_type: up.opts.content_type.clone(),
                metadata: up.opts.metadata.clone(),
                created_ms: now_ms(),
                prev: base.prev,
                etag: up.opts.s3_etag.clone(),
                pad: None,
                inline: up
                    .inline
                    .as_ref()
                    .map(|b| serde_bytes::ByteBuf::from(b.to_vec())),
            };
            let (cid, sealed) = self.seal_meta(&manifest.encode()?)?;
            manifests.push((cid, Bytes::from(sealed)));
            if let Some(g) = base.grave {
                graves.insert(grave_key(&up.key), g);
            }
            values.insert(
                up.key.clone(),
                IndexValue {
                    c: base.c,
                    t: up.tags,
                    e: manifest.etag.clone(),
                    p: base.p,
                    ..IndexValue::new(cid, manifest.plain_len)
                },
            );
            results.push(Ok(ObjectInfo::from_manifest(&cid, &manifest)));
        }
        if !values.is_empty() {
            let time = self.tick();
            let mut batch = Vec::with_capacity(values.len() + graves.len());
            for (key, value) in values {
                batch.push((
                    key,
                    Mutation::Put(Entry::live(value.encode()?, time, self.writer)),
                ));
            }
            for (key, g) in graves {
                // The graveyard ends at its own time and writer: a later delete's stays.
                batch.push((key, Mutation::Put(Entry::tombstone(g.time, g.writer))));
            }
            // The manifests and the new index nodes do not depend on each other: one round of
            // concurrent writes instead of one write per manifest before the nodes. The head
            // (the commit point) is written only once all of them are in the store.
            let store = &self.store;
            let writes = futures_util::stream::iter(manifests)
                .map(|(cid, bytes)| async move { store.put(&cid, bytes).await })
                .buffer_unordered(MANIFEST_WRITES)
                .try_collect::<()>();
            let apply = self.tree.apply(&self.state.root, batch);
            let (written, root) = futures_util::future::join(writes, apply).await;
            written?;
            self.state.root = root?;
            self.commit().await?;
        }
        Ok(results)
    }
}

/// Checks `opts`' conditions against the current manifest of the key.
pub(super) fn check_against(current: Option<&Cid>, opts: &PutOptions) -> VaultResult<()> {
    if opts.if_absent && current.is_some() {
        return Err(VaultError::PreconditionFailed(
            "the key already holds an object".into(),
        ));
    }
    if let Some(want) = &opts.if_match
        && current.map(|c| c.to_string()).as_deref() != Some(want.as_str())
    {
        return Err(VaultError::PreconditionFailed(
            "the key's current version is not the one given".into(),
        ));
    }
    Ok(())
}
