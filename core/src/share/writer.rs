//! The co-writer's side of a read-write share (`docs/FORMAT.md` §9.1): puts and deletes under the
//! shared prefix, kept in the co-writer's own index and published by its signed head.

use std::sync::Arc;

use bytes::Bytes;

use super::cowrite::{WriterHeadBody, cowriter_id, writer_head_name};
use super::format::{EpochKeys, ViewBody, view_name};
use super::{Clock, Share, ShareError, ShareResult, SharedReader};
use crate::block::{Cid, raw_cid};
use crate::index::{Entry, Hlc, IndexConfig, Mutation, ProllyTree, WriterId};
use crate::keys::Identity;
use crate::seal::{self, SealOptions};
use crate::store::{BlockStore, HeadCondition, HeadStore, HeadVersion, StoreError};
use crate::vault::format::{IndexValue, Manifest};

/// Writes under a read-write share: every put and delete lands in this co-writer's own index and
/// becomes visible to the owner's devices and the other recipients at [`SharedWriter::commit`].
///
/// Blocks are sealed to the owner and to the epoch (so both open them without a keyring);
/// manifests are signed by this identity. Every call checks the capability's clock
/// ([`ShareError::Expired`]) and the key against the share's scope
/// ([`ShareError::WriteOutsideScope`]); a commit after the owner revoked the share or rotated
/// its epoch fails with [`ShareError::Revoked`].
pub struct SharedWriter<S: BlockStore + HeadStore + ?Sized> {
    store: Arc<S>,
    identity: Identity,
    share: Share,
    keys: EpochKeys,
    tree: ProllyTree<S>,
    id: WriterId,
    name: String,
    root: Cid,
    /// The root of the last head written (nothing to commit when equal).
    committed: Cid,
    seq: u64,
    hlc: Hlc,
    version: Option<HeadVersion>,
    clock: Clock,
}

impl<S: BlockStore + HeadStore + ?Sized> std::fmt::Debug for SharedWriter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedWriter")
            .field("share", &self.share)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl<S: BlockStore + HeadStore + ?Sized> SharedWriter<S> {
    /// Opens `share` for writing as `identity` (its audience), continuing from this co-writer's
    /// own head of the share's epoch if it has one. [`ShareError::NotWriter`] when the capability
    /// does not grant `write`.
    pub async fn open(store: Arc<S>, identity: Identity, share: Share) -> ShareResult<Self> {
        Self::open_with_clock(store, identity, share, super::system_clock()).await
    }

    /// [`SharedWriter::open`] with expiry checked against `clock`.
    pub async fn open_with_clock(
        store: Arc<S>,
        identity: Identity,
        share: Share,
        clock: Clock,
    ) -> ShareResult<Self> {
        if !share.can_write() {
            return Err(ShareError::NotWriter);
        }
        if !share.audience().same_identity(identity.recipient()) {
            return Err(ShareError::NotForMe);
        }
        share.check_time(clock())?;
        let keys = share.epoch_keys()?;
        let tree = ProllyTree::new(store.clone(), &keys.index_key, IndexConfig::default())?;
        let id = cowriter_id(identity.recipient());
        let name = writer_head_name(&id);
        let empty = tree.empty_root().await?;
        let (root, seq, hlc, version) = match store.read_head(&view_name(&keys.id), &name).await? {
            Some(head) => {
                let (body, signer) = WriterHeadBody::open(&keys, &name, &head.bytes)?;
                if !signer.same_identity(identity.recipient()) || body.share != share.id().0 {
                    return Err(ShareError::ForgedWriterHead(
                        "this co-writer's head names another writer or share".into(),
                    ));
                }
                (
                    body.root,
                    body.seq,
                    Hlc::from_u64(body.time),
                    Some(head.version),
                )
            }
            None => (empty, 0, Hlc::default(), None),
        };
        Ok(Self {
            store,
            identity,
            share,
            keys,
            tree,
            id,
            name,
            root,
            committed: root,
            seq,
            hlc,
            version,
            clock,
        })
    }

    /// The share written under.
    pub fn share(&self) -> &Share {
        &self.share
    }

    /// The writer id this co-writer's entries carry (derived from its recipient).
    pub fn writer_id(&self) -> WriterId {
        self.id
    }

    /// A reader of the share as it stands in the store now: the owner's views merged with every
    /// allowed co-writer's committed head (this one's included).
    pub async fn reader(&self) -> ShareResult<SharedReader<S>> {
        SharedReader::open_with_clock(self.store.clone(), self.share.clone(), self.clock.clone())
            .await
    }

    fn check(&self, key: &[u8]) -> ShareResult<()> {
        self.share.check_time((self.clock)())?;
        if !self.share.scope().contains(key) || crate::vault::reserved::is_reserved(key) {
            return Err(ShareError::WriteOutsideScope { key: key.to_vec() });
        }
        crate::vault::objects::check_key(key).map_err(|e| ShareError::Invalid(e.to_string()))
    }

    /// The next entry time for `key`: after this writer's clock and after the entry it overwrites
    /// (as the merged share shows it), so the write wins over what it saw.
    async fn tick_for(&mut self, key: &[u8]) -> ShareResult<(Hlc, Option<Cid>)> {
        let now = crate::vault::now_ms();
        let reader = self.reader().await?;
        let seen = reader.entry(key).await?;
        let own = self.tree.get_entry(&self.root, key).await?;
        let mut prev = None;
        for e in [seen, own].into_iter().flatten() {
            self.hlc = self.hlc.observe(e.time, now);
            if let Some(v) = e.value()
                && let Ok(v) = IndexValue::decode(v)
            {
                prev = Some(v.m);
            }
        }
        self.hlc = self.hlc.tick(now);
        Ok((self.hlc, prev))
    }

    /// Puts `data` under `key` (inside the share's scope). Not visible to others until
    /// [`SharedWriter::commit`].
    pub async fn put(
        &mut self,
        key: &[u8],
        data: &[u8],
        content_type: Option<String>,
    ) -> ShareResult<Cid> {
        self.check(key)?;
        let (time, prev) = self.tick_for(key).await?;
        let to = vec![
            self.share.issuer().clone(),
            self.keys.identity.recipient().clone(),
        ];
        let sealed = seal::seal_to_vec(&SealOptions::new(to.clone()), data)
            .map_err(|e| ShareError::Invalid(e.to_string()))?;
        let data_cid = raw_cid(&sealed);
        let outboard = crate::verify::Outboard::compute(&sealed);
        // No outboard block when it has no bytes (a sealed object of at most 16 KiB), as the
        // owner writes (`Outboard::is_empty` tells whether the object is empty, not this).
        let outboard_cid = if outboard.as_bytes().is_empty() {
            None
        } else {
            let bytes = outboard.as_bytes().to_vec();
            let cid = raw_cid(&bytes);
            self.store.put(&cid, Bytes::from(bytes)).await?;
            Some(cid)
        };
        let mut manifest = Manifest {
            v: crate::vault::FORMAT_VERSION,
            key: key.to_vec(),
            data: data_cid,
            sealed_len: sealed.len() as u64,
            plain_len: data.len() as u64,
            blake3: *outboard.root().as_bytes(),
            outboard: outboard_cid,
            content_type,
            metadata: Default::default(),
            created_ms: crate::vault::now_ms(),
            prev,
            etag: None,
            pad: None,
            inline: None,
        };
        // A small sealed object goes inside its manifest (one block); a larger one is a block.
        if manifest.sealed_len <= crate::vault::format::INLINE_MAX {
            manifest.inline = Some(serde_bytes::ByteBuf::from(sealed));
        } else {
            self.store.put(&data_cid, Bytes::from(sealed)).await?;
        }
        let plain = manifest
            .encode()
            .map_err(|e| ShareError::Invalid(e.to_string()))?;
        let sealed_m = seal::seal_to_vec(&SealOptions::new(to).signed_by(&self.identity), &plain)
            .map_err(|e| ShareError::Invalid(e.to_string()))?;
        let m_cid = raw_cid(&sealed_m);
        self.store.put(&m_cid, Bytes::from(sealed_m)).await?;
        let value = IndexValue::new(m_cid, data.len() as u64)
            .encode()
            .map_err(|e| ShareError::Invalid(e.to_string()))?;
        let entry = Entry::live(value, time, self.id);
        self.root = self
            .tree
            .apply(&self.root, vec![(key.to_vec(), Mutation::Put(entry))])
            .await?;
        Ok(m_cid)
    }

    /// Deletes `key` (a tombstone in this co-writer's index; earlier versions stay in the
    /// owner's history). Not visible to others until [`SharedWriter::commit`].
    pub async fn delete(&mut self, key: &[u8]) -> ShareResult<()> {
        self.check(key)?;
        let (time, _) = self.tick_for(key).await?;
        let entry = Entry::tombstone(time, self.id);
        self.root = self
            .tree
            .apply(&self.root, vec![(key.to_vec(), Mutation::Put(entry))])
            .await?;
        Ok(())
    }

    /// Publishes this co-writer's head (conditional on the one it last wrote). Fails with
    /// [`ShareError::Revoked`] when the owner retired the epoch (a revocation or rotation: a new
    /// grant may wait in the inbox) and [`ShareError::NotWriter`] when the owner's views do not
    /// list this identity as a writer of the epoch. Returns the head's seq.
    pub async fn commit(&mut self) -> ShareResult<u64> {
        self.share.check_time((self.clock)())?;
        self.check_listed().await?;
        if self.root == self.committed && self.version.is_some() {
            return Ok(self.seq);
        }
        let body = WriterHeadBody {
            v: 2,
            vault: self.share.vault().to_string(),
            epoch: self.keys.id,
            share: self.share.id().0,
            writer: self.identity.recipient().to_string(),
            root: self.root,
            seq: self.seq + 1,
            time: self.hlc.as_u64(),
        };
        let bytes = body.seal(&self.identity, &self.keys)?;
        let condition = match &self.version {
            Some(v) => HeadCondition::Matches(v.clone()),
            None => HeadCondition::Absent,
        };
        let version = self
            .store
            .write_head(
                &view_name(&self.keys.id),
                &self.name,
                Bytes::from(bytes),
                condition,
            )
            .await
            .map_err(|e| match e {
                StoreError::PreconditionFailed(d) => ShareError::Invalid(format!(
                    "another process wrote this co-writer's head ({d}); open the share again"
                )),
                other => ShareError::Store(other),
            })?;
        self.seq += 1;
        self.version = Some(version);
        self.committed = self.root;
        Ok(self.seq)
    }

    /// The epoch must be live (no retired view) and list this writer.
    async fn check_listed(&self) -> ShareResult<()> {
        let heads = self.store.read_heads(&view_name(&self.keys.id)).await?;
        let me = self.identity.recipient();
        let mut listed = false;
        for head in heads {
            let Ok(body) = ViewBody::decode_verified(self.share.issuer(), &head.bytes) else {
                continue;
            };
            if body.vault != self.share.vault() || body.epoch != self.keys.id {
                continue;
            }
            if body.root.is_none() {
                return Err(ShareError::Revoked);
            }
            listed |= body.writers.iter().any(|w| {
                w.r.parse::<crate::keys::Recipient>()
                    .is_ok_and(|r| r.same_identity(me))
                    && self.share.scope().prefix().starts_with(&w.p)
            });
        }
        if listed {
            Ok(())
        } else {
            Err(ShareError::NotWriter)
        }
    }
}

impl Share {
    /// Whether the capability grants `write` (a read-write share).
    pub fn can_write(&self) -> bool {
        self.rights().iter().any(|r| r == "write")
    }
}
