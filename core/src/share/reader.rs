//! The recipient's side: reading what a share grants, verified like the owner's reads.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use super::cowrite::{AllowedWriter, Refusal, cowriter_id, read_writer_heads};
use super::format::{EpochKeys, KeyringChunk, ViewBody, view_name};
use super::{Clock, Scope, Share, ShareError, ShareResult};
use crate::block::{Cid, from_dag_cbor, verify_block};
use crate::index::{Entry, IndexConfig, ListRequest, Mutation, ProllyTree};
use crate::seal::{self, FileKey};
use crate::store::{BlockStore, ByteStream, HeadStore, StoreError, StoreResult};
use crate::vault::format::{IndexValue, Manifest};
use crate::vault::{ListPage, ListedObject};

/// What [`SharedReader::head`] tells about a shared object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedObject {
    /// The key.
    pub key: Vec<u8>,
    /// The version id (ETag).
    pub version: String,
    /// Plaintext length.
    pub size: u64,
    /// The content type given at put.
    pub content_type: Option<String>,
    /// When the version was written (ms since the Unix epoch, the writer's clock).
    pub created_ms: u64,
}

pub(super) enum Kind<S: BlockStore + ?Sized> {
    Version {
        manifest: Cid,
        mk: FileKey,
        dk: FileKey,
    },
    View {
        tree: Box<ProllyTree<Overlay<S>>>,
        root: Cid,
        keyring: HashMap<Cid, FileKey>,
        /// The epoch's keys: co-written blocks open with its identity's stanza.
        epoch: Box<EpochKeys>,
        /// Co-writer heads and entries not merged, and why.
        refused: Vec<Refusal>,
    },
}

/// Reads what one accepted [`Share`] grants, from the owner's store. Every call first checks the
/// capability against the clock ([`ShareError::Expired`], [`ShareError::NotYetValid`]) and the key
/// against its scope ([`ShareError::OutOfScope`]); every block is checked against its CID, every
/// sealed block must be signed by the issuer, and object bytes must match their manifest.
pub struct SharedReader<S: BlockStore + HeadStore + ?Sized> {
    store: Arc<S>,
    share: Share,
    pub(super) kind: Kind<S>,
    clock: Clock,
}

impl<S: BlockStore + HeadStore + ?Sized> std::fmt::Debug for SharedReader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedReader")
            .field("share", &self.share)
            .finish_non_exhaustive()
    }
}

impl<S: BlockStore + HeadStore + ?Sized> SharedReader<S> {
    /// Opens `share` on `store` (the owner's store). For object and prefix shares this reads the
    /// epoch's views (one per owner device, merged) and keyrings: [`ShareError::Revoked`] when the
    /// owner retired the epoch (a revocation or rotation; a newer grant may be in the inbox).
    pub async fn open(store: Arc<S>, share: Share) -> ShareResult<Self> {
        Self::open_with_clock(store, share, super::system_clock()).await
    }

    /// [`SharedReader::open`] with expiry checked against `clock` instead of the system clock.
    pub async fn open_with_clock(store: Arc<S>, share: Share, clock: Clock) -> ShareResult<Self> {
        share.check_time(clock())?;
        let kind = match share.scope() {
            Scope::Version { .. } => {
                let (manifest, mk, dk) = share.version_keys()?;
                Kind::Version { manifest, mk, dk }
            }
            Scope::Object(_) | Scope::Prefix(_) => {
                Self::open_view(&store, &share, share.epoch_keys()?, clock()).await?
            }
        };
        Ok(Self {
            store,
            share,
            kind,
            clock,
        })
    }

    async fn open_view(
        store: &Arc<S>,
        share: &Share,
        epoch: EpochKeys,
        now: u64,
    ) -> ShareResult<Kind<S>> {
        let heads = store.read_heads(&view_name(&epoch.id)).await?;
        if heads.is_empty() {
            return Err(ShareError::Revoked);
        }
        let overlay = Arc::new(Overlay::new(store.clone()));
        let tree = ProllyTree::new(overlay, &epoch.index_key, IndexConfig::default())?;
        let mut roots = Vec::new();
        let mut chunks = Vec::new();
        let mut refused = None;
        let mut allowed: Vec<AllowedWriter> = Vec::new();
        for head in heads {
            if head.writer.starts_with(super::cowrite::WRITER_HEAD_PREFIX) {
                continue;
            }
            // A view head the issuer did not sign, or of another vault or epoch, is skipped:
            // anyone who can write to the store could have put it there.
            let body = match ViewBody::decode_verified(share.issuer(), &head.bytes) {
                Ok(b) if b.vault == share.vault() && b.epoch == epoch.id => b,
                Ok(_) => {
                    refused = Some("a view of another vault or epoch in this epoch's place");
                    continue;
                }
                Err(_) => {
                    refused = Some("a view head not signed by the share's issuer");
                    continue;
                }
            };
            let Some(root) = body.root else {
                return Err(ShareError::Revoked);
            };
            roots.push(root);
            chunks.extend(body.keys);
            for w in &body.writers {
                let Ok(recipient) = w.r.parse::<crate::keys::Recipient>() else {
                    continue;
                };
                if !allowed
                    .iter()
                    .any(|a| a.recipient.same_identity(&recipient))
                {
                    allowed.push(AllowedWriter {
                        recipient,
                        prefix: w.p.clone(),
                        exp: w.exp,
                    });
                }
            }
        }
        let Some(&first) = roots.first() else {
            return Err(ShareError::Forged(format!(
                "no valid view of the share's epoch: {}",
                refused.unwrap_or("none")
            )));
        };
        let mut root = first;
        for other in &roots[1..] {
            root = tree.merge(&root, other).await?;
        }
        // Co-writers' heads: only entries that pass every check (cowrite.rs), per key the
        // greatest entry (the index order), as the owner's devices merge them.
        let heads = read_writer_heads(
            store,
            &epoch,
            share.vault(),
            &share.scope(),
            &allowed,
            now,
            |_| None,
        )
        .await?;
        let mut best: std::collections::BTreeMap<Vec<u8>, Entry> = Default::default();
        for h in heads.accepted {
            for (key, entry) in h.entries {
                if best.get(&key).is_none_or(|e| entry > *e) {
                    best.insert(key, entry);
                }
            }
        }
        let mut muts = Vec::new();
        for (key, entry) in best {
            let have = tree.get_entry(&root, &key).await?;
            if have.is_none_or(|h| entry > h) {
                muts.push((key, Mutation::Put(entry)));
            }
        }
        if !muts.is_empty() {
            root = tree.apply(&root, muts).await?;
        }
        chunks.sort();
        chunks.dedup();
        let mut keyring = HashMap::new();
        for cid in chunks {
            let bytes = fetch(&**store, &cid).await?;
            let opened = seal::open_to_vec(&epoch.identity, &bytes)
                .map_err(|e| ShareError::corrupt(&cid, e))?;
            if !opened
                .signer
                .as_ref()
                .is_some_and(|s| s.same_identity(share.issuer()))
            {
                return Err(ShareError::Forged(
                    "a keyring chunk is not signed by the issuer".into(),
                ));
            }
            let chunk: KeyringChunk = from_dag_cbor(&opened.plaintext)?;
            for e in &chunk.keys {
                keyring.insert(e.c, FileKey::from_bytes(*e.k));
            }
        }
        Ok(Kind::View {
            tree: Box::new(tree),
            root,
            keyring,
            epoch: Box::new(epoch),
            refused: heads.refused,
        })
    }

    /// For the hostile-store tests: the blocks of this reader's keyring whose key does not open
    /// the block filed under it in `honest` (a store that tells the truth). Empty when the owner
    /// only ever wrapped each block's own key.
    #[doc(hidden)]
    pub async fn audit_keyring<T: BlockStore + ?Sized>(&self, honest: &T) -> Vec<Cid> {
        let Kind::View { keyring, .. } = &self.kind else {
            return Vec::new();
        };
        let mut bad = Vec::new();
        for (cid, key) in keyring {
            // A block gone from the honest store has nothing to check.
            if let Ok(bytes) = honest.get(cid).await
                && seal::file_key_of(seal::Unlock::FileKey(key), &bytes).is_err()
            {
                bad.push(*cid);
            }
        }
        bad
    }

    /// The share being read.
    pub fn share(&self) -> &Share {
        &self.share
    }

    /// Co-writer heads, and entries of them, that were not merged (forged, from a writer not or
    /// no longer allowed, expired by this reader's clock, outside the writer's scope), and why.
    pub fn refused(&self) -> &[Refusal] {
        match &self.kind {
            Kind::View { refused, .. } => refused,
            Kind::Version { .. } => &[],
        }
    }

    /// The merged entry of `key` (tombstones included), for a co-writer's clock.
    pub(crate) async fn entry(&self, key: &[u8]) -> ShareResult<Option<Entry>> {
        match &self.kind {
            Kind::View { tree, root, .. } => Ok(tree.get_entry(root, key).await?),
            Kind::Version { .. } => Ok(None),
        }
    }

    fn check(&self, key: &[u8]) -> ShareResult<()> {
        self.share.check_time((self.clock)())?;
        if self.share.scope().contains(key) {
            Ok(())
        } else {
            Err(ShareError::OutOfScope)
        }
    }

    /// One page of the shared keys (ListObjectsV2 semantics). The request's prefix must lie
    /// inside the share's scope; an empty prefix means the scope's own.
    pub async fn list(&self, req: &ListRequest) -> ShareResult<ListPage> {
        self.share.check_time((self.clock)())?;
        let scope = self.share.scope();
        let mut req = req.clone();
        if req.prefix.is_empty() {
            req.prefix = scope.prefix().to_vec();
        }
        if !req.prefix.starts_with(scope.prefix()) && !scope.prefix().starts_with(&req.prefix) {
            return Err(ShareError::OutOfScope);
        }
        if req.prefix.len() < scope.prefix().len() {
            req.prefix = scope.prefix().to_vec();
        }
        match &self.kind {
            Kind::Version { manifest, mk, .. } => {
                let m = self.manifest(manifest, mk).await?;
                let listed = req.max_keys != Some(0) && m.key.starts_with(&req.prefix);
                Ok(ListPage {
                    contents: listed
                        .then(|| ListedObject {
                            key: m.key.clone(),
                            size: m.plain_len,
                            etag: manifest.to_string(),
                            last_modified_ms: m.created_ms,
                            s3_etag: m.etag.clone(),
                        })
                        .into_iter()
                        .collect(),
                    common_prefixes: Vec::new(),
                    key_count: u32::from(listed),
                    is_truncated: false,
                    next_continuation_token: None,
                })
            }
            Kind::View { tree, root, .. } => {
                let page = tree.list(root, &req).await?;
                let mut contents = Vec::with_capacity(page.contents.len());
                for obj in page.contents {
                    if !scope.contains(&obj.key) {
                        // An object share's view holds one key; anything else is not granted.
                        continue;
                    }
                    let value = decode_value(obj.entry.value())?;
                    contents.push(ListedObject {
                        key: obj.key,
                        size: value.n,
                        etag: value.m.to_string(),
                        last_modified_ms: obj.entry.time.wall_ms(),
                        s3_etag: value.e,
                    });
                }
                Ok(ListPage {
                    key_count: u32::try_from(contents.len() + page.common_prefixes.len())
                        .unwrap_or(u32::MAX),
                    contents,
                    common_prefixes: page.common_prefixes,
                    is_truncated: page.is_truncated,
                    next_continuation_token: page.next_continuation_token,
                })
            }
        }
    }

    /// The manifest of `key`'s shared version with its id and the file key of its data.
    async fn resolve(&self, key: &[u8]) -> ShareResult<(Cid, Manifest, Option<FileKey>)> {
        self.check(key)?;
        let (cid, m, dk) = match &self.kind {
            Kind::Version { manifest, mk, dk } => (
                *manifest,
                self.manifest(manifest, mk).await?,
                Some(dk.clone()),
            ),
            Kind::View {
                tree,
                root,
                keyring,
                epoch,
                ..
            } => {
                let entry = tree.get(root, key).await?.ok_or(ShareError::NotFound)?;
                let Some(value) = entry.value() else {
                    return Err(ShareError::NotFound);
                };
                let value = decode_value(Some(value))?;
                let bytes = fetch(&*self.store, &value.m).await?;
                let opened = match keyring.get(&value.m) {
                    Some(mk) => seal::open_to_vec_with_key(mk, &bytes),
                    // Co-written: sealed to the epoch identity too.
                    None => seal::open_to_vec_with(seal::Unlock::Identity(&epoch.identity), &bytes),
                }
                .map_err(|e| match e {
                    seal::SealError::NoMatchingRecipient => ShareError::NotFound,
                    e => ShareError::corrupt(&value.m, e),
                })?;
                // The owner's manifest, or one signed by the co-writer whose id the entry carries:
                // nobody can put content under another writer's name.
                let by_issuer = opened
                    .signer
                    .as_ref()
                    .is_some_and(|s| s.same_identity(self.share.issuer()));
                let by_writer = opened
                    .signer
                    .as_ref()
                    .is_some_and(|s| cowriter_id(s) == entry.writer);
                // A manifest whose key the issuer wrapped in its keyring (chunks the issuer
                // signed): the issuer vouches for it whoever signed it. After an identity
                // rotation the owner's manifests from before it carry the retired identity's
                // signature (`vault/rotate.rs`). An entry pointing at one gains nothing: the
                // manifest must belong to the same key (checked below).
                let by_keyring = keyring.contains_key(&value.m) && opened.signer.is_some();
                if !by_issuer && !by_writer && !by_keyring {
                    return Err(ShareError::Forged(format!(
                        "block {} is signed neither by the share's issuer nor by the writer of its entry",
                        value.m
                    )));
                }
                let m = Manifest::decode(&opened.plaintext)
                    .map_err(|e| ShareError::corrupt(&value.m, e))?;
                let dk = keyring.get(&m.data).cloned();
                (value.m, m, dk)
            }
        };
        if m.key != key {
            return Err(ShareError::corrupt(
                &cid,
                "the manifest belongs to another key",
            ));
        }
        Ok((cid, m, dk))
    }

    async fn manifest(&self, cid: &Cid, key: &FileKey) -> ShareResult<Manifest> {
        let bytes = fetch(&*self.store, cid).await?;
        let plain = self.open_signed(cid, key, &bytes)?;
        Manifest::decode(&plain).map_err(|e| ShareError::corrupt(cid, e))
    }

    fn open_signed(&self, cid: &Cid, key: &FileKey, sealed: &[u8]) -> ShareResult<Vec<u8>> {
        let opened =
            seal::open_to_vec_with_key(key, sealed).map_err(|e| ShareError::corrupt(cid, e))?;
        if !opened
            .signer
            .as_ref()
            .is_some_and(|s| s.same_identity(self.share.issuer()))
        {
            return Err(ShareError::Forged(format!(
                "block {cid} is not signed by the share's issuer"
            )));
        }
        Ok(opened.plaintext)
    }

    /// What the share holds under `key`.
    pub async fn head(&self, key: &[u8]) -> ShareResult<SharedObject> {
        let (cid, m, _) = self.resolve(key).await?;
        Ok(SharedObject {
            key: m.key,
            version: cid.to_string(),
            size: m.plain_len,
            content_type: m.content_type,
            created_ms: m.created_ms,
        })
    }

    /// The whole object under `key` (the version the share grants, or the view's current one).
    pub async fn get(&self, key: &[u8]) -> ShareResult<Vec<u8>> {
        let (_, m, dk) = self.resolve(key).await?;
        // An inline object's bytes come from the manifest; both are checked alike.
        let sealed = match m.inline_bytes() {
            Some(b) => b,
            None => fetch_max(&*self.store, &m.data, m.sealed_len).await?,
        };
        if !m.check_sealed(&sealed) {
            return Err(ShareError::corrupt(&m.data, "does not match its manifest"));
        }
        // The bytes match the manifest's root, and the manifest is the issuer's (or the
        // co-writer's of its entry): that binds them (v2 data carries no signature of its own).
        let opened = match (&dk, &self.kind) {
            (Some(dk), _) => seal::open_to_vec_with_key(dk, &sealed),
            (None, Kind::View { epoch, .. }) => {
                seal::open_to_vec_with(seal::Unlock::Identity(&epoch.identity), &sealed)
            }
            (None, Kind::Version { .. }) => return Err(ShareError::NotFound),
        };
        let plain = opened
            .map_err(|e| ShareError::corrupt(&m.data, e))?
            .plaintext;
        if plain.len() as u64 != m.plain_len {
            return Err(ShareError::corrupt(
                &m.data,
                "plaintext length differs from the manifest",
            ));
        }
        Ok(plain)
    }
}

fn decode_value(value: Option<&[u8]>) -> ShareResult<IndexValue> {
    let v = value.ok_or(ShareError::NotFound)?;
    IndexValue::decode(v).map_err(|e| ShareError::Malformed(e.to_string()))
}

/// Fetches a metadata block (manifest, keyring chunk: at most 4 MiB) and checks it against its
/// CID.
pub(crate) async fn fetch<S: BlockStore + ?Sized>(store: &S, cid: &Cid) -> ShareResult<Bytes> {
    fetch_max(store, cid, crate::vault::MAX_META_BLOCK).await
}

/// Fetches a block of at most `max` bytes and checks it against its CID.
pub(crate) async fn fetch_max<S: BlockStore + ?Sized>(
    store: &S,
    cid: &Cid,
    max: u64,
) -> ShareResult<Bytes> {
    let bytes = store.get_max(cid, max).await.map_err(|e| match e {
        StoreError::NotFound(_) => ShareError::corrupt(cid, "missing from the store"),
        other => ShareError::Store(other),
    })?;
    verify_block(cid, &bytes)
        .map_err(|_| ShareError::corrupt(cid, "its bytes do not hash to its CID"))?;
    Ok(bytes)
}

/// Reads from the owner's store, keeps its own writes in memory: merging several device views
/// writes index nodes, and a recipient must not (and may not be able to) write to the store.
pub(crate) struct Overlay<S: ?Sized> {
    inner: Arc<S>,
    local: RwLock<HashMap<Cid, Bytes>>,
}

impl<S: ?Sized> Overlay<S> {
    fn new(inner: Arc<S>) -> Self {
        Self {
            inner,
            local: RwLock::new(HashMap::new()),
        }
    }

    fn local(&self, cid: &Cid) -> Option<Bytes> {
        self.local
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(cid)
            .cloned()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<S: BlockStore + ?Sized> BlockStore for Overlay<S> {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        self.local
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(*cid, bytes);
        Ok(())
    }
    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        match self.local(cid) {
            Some(b) => Ok(b),
            None => self.inner.get(cid).await,
        }
    }
    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        match self.local(cid) {
            Some(b) => {
                let r = crate::store::check_range(cid, &range, b.len() as u64)?;
                Ok(b.slice(r))
            }
            None => self.inner.get_range(cid, range).await,
        }
    }
    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        Ok(self.local(cid).is_some() || self.inner.has(cid).await?)
    }
    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        self.local
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(cid);
        Ok(())
    }
    async fn list(&self) -> StoreResult<Vec<Cid>> {
        let mut all = self.inner.list().await?;
        all.extend(
            self.local
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .keys()
                .copied(),
        );
        Ok(all)
    }
    async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> {
        match self.local(cid) {
            Some(b) => Ok(crate::store::bytes_stream(b)),
            None => self.inner.get_stream(cid).await,
        }
    }
}
