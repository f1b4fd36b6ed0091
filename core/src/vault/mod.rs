//! The vault: an S3-style bucket of sealed, verified, versioned objects over any store, shared
//! between the owner's devices by merging signed writer heads.
//!
//! - **Objects.** [`Vault::put`] seals the bytes to the owner (signed by the owner), stores the
//!   sealed object as a raw block, its Bao outboard as another, and a sealed manifest (content
//!   type, user metadata, lengths, BLAKE3 root, the previous version) as a third. The index (an
//!   encrypted [`ProllyTree`](crate::index::ProllyTree)) maps the key to the manifest. Reads are
//!   verified: [`Vault::get`] checks the sealed object's BLAKE3 root before opening it,
//!   [`Vault::get_range`] fetches only the covering segments and checks them against the outboard.
//! - **Versions.** Each manifest links to the one it replaced; [`Vault::versions`] walks the chain
//!   and [`Vault::get_version`] reads any of them. The version id (and ETag) is the manifest's CID.
//! - **Writers.** Each device is a writer with its own signed head in the [`HeadStore`]; every
//!   mutation writes the device's head, so a committed change survives a restart. Devices do not
//!   see each other's changes until [`Vault::sync`], which verifies every head, merges the index
//!   roots (a CRDT: any order of syncs converges) and writes the device's head.
//! - **Keys.** A random 32-byte vault root key is sealed to the owner and stored as a block named
//!   in every head; the index key is derived from it with HKDF-SHA256. In this version all devices
//!   of a vault share the owner's identity (the same seed) and are told apart by a device name;
//!   sharing with other identities comes later.
//!
//! Formats: `docs/FORMAT.md §8`.
//!
//! ```
//! use std::sync::Arc;
//! use coffer::keys::Identity;
//! use coffer::store::MemoryStore;
//! use coffer::vault::{PutOptions, Vault};
//! # futures_executor::block_on(async {
//! let store = Arc::new(MemoryStore::new());
//! let me = Identity::generate();
//! let mut laptop = Vault::create(store.clone(), me.clone(), "photos", "laptop").await?;
//! laptop.put(b"cat.jpg", b"meow".to_vec(), PutOptions::default()).await?;
//! assert_eq!(laptop.get(b"cat.jpg").await?, b"meow");
//!
//! let mut phone = Vault::open(store, me, "photos", "phone").await?;
//! phone.sync().await?;
//! assert_eq!(phone.get(b"cat.jpg").await?, b"meow");
//! # Ok::<(), coffer::vault::VaultError>(())
//! # }).unwrap();
//! ```

#[cfg(feature = "bench-internals")]
mod bench_support;
mod cowrite;
mod error;
pub(crate) mod format;
pub(crate) mod gc;
pub mod handover;
mod heads;
mod mark;
pub(crate) mod objects;
mod pinned;
mod prune;
mod reach;
pub(crate) mod reserved;
mod retention;
mod rotate;
mod share;
mod stream;
mod sync;
mod upload;

#[cfg(test)]
mod inline_tests;
#[cfg(test)]
mod retention_tests;
#[cfg(test)]
mod rotate_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

/// ListObjectsV2 parameters, as for the index.
pub use crate::index::ListRequest;
pub use error::{VaultError, VaultResult};
pub use format::{
    FORMAT_VERSION, INLINE_MAX, check_index_value, check_manifest, writer_id_for, writer_name,
};
pub use gc::{GcPhase, GcState, GcTiming, gc_namespace};
pub use handover::{Handover, HandoverBody, HandoverError, fuzz_handover_plaintext};
pub use heads::{HeadBody, PolicyRef, SkippedHead, decode_head, fuzz_head_plaintext};
pub use rotate::IdentityRotation;

/// Runs the decoders of retention and garbage collection over `data` as if it were the plaintext
/// of a policy block, a GC record, a candidate chunk and a purge record (what their seals
/// protect: the fuzzer cannot forge them, so it reaches the inner decoders here). For fuzzing.
#[doc(hidden)]
pub fn fuzz_retention_plaintexts(data: &[u8]) {
    let _ = check_policy(data);
    let _ = gc::decode_record(data, "v");
    let mut out = Vec::new();
    let _ = prune::decode_candidates(&crate::block::raw_cid(b""), data, &mut out);
    let _ = reserved::PurgeValue::decode(data);
}
#[cfg(feature = "bench-internals")]
#[doc(hidden)]
pub use mark::bench_mark_set;
pub use objects::{DeleteResult, ListPage, ListedObject};
pub use pinned::CopyOptions;
pub use prune::{
    BlockCount, DEFAULT_WINDOW_MS, LeftBlock, PruneOptions, PruneProgress, PruneProgressFn,
    PruneReport, PurgeReport,
};
pub use reach::{HeadRecord, Reachable, ReachableBlock};
pub use retention::{
    MAX_DURATION_MS, MAX_KEEP_VERSIONS, MAX_RULES, Noncurrent, RetentionPolicy, RetentionRule,
    check_policy,
};
pub use share::{
    ReencryptReport, RotationReport, ShareInfo, ShareOptions, ShareStatus,
    registry_name as share_registry_name,
};
pub use stream::{Progress, PutSource};
pub use sync::{SyncReport, WriterStatus};
pub use upload::Upload;

use crate::block::{Cid, raw_cid, verify_block};
use crate::index::{Hlc, IndexConfig, ProllyTree, WriterId};
use crate::keys::Identity;
use crate::seal::{self, SealOptions, Unlock, WrapKey};
use crate::store::{BlockStore, HeadStore, HeadVersion, StoreError};
use crate::trust::{MemoryTrust, TrustStore, VaultTrust};
use format::{Manifest, RootKey};

/// What a block the vault refers to and the store does not have is reported as.
pub(crate) const MISSING: &str =
    "missing from the store (if another device pruned or purged since this one synced, sync first)";

/// Blocks the vault reads whole without knowing their length (manifests, index nodes, tags,
/// keyring chunks, key blocks) are refused beyond this size: none is legitimately near it.
pub const MAX_META_BLOCK: u64 = 4 << 20;

/// How a vault is opened: where this device keeps what it has seen.
#[derive(Clone, Default)]
pub struct VaultOptions {
    /// Where this device remembers the heads it saw ([`crate::trust`]), so a store that serves an
    /// older state, a forked one, or hides a writer is refused. Use one per store (and identity).
    /// `None`: memory of this process only.
    pub trust: Option<Arc<dyn TrustStore>>,
    /// When creating a vault: seal its key block to the owner's post-quantum hybrid recipient
    /// (X-Wing, ML-KEM-768 + X25519) instead of the classic X25519 one, and every share keyring
    /// to its epoch's X-Wing key. Everything else in a vault is under symmetric keys derived
    /// from that key, so the whole vault then resists a "harvest now, decrypt later" attacker.
    /// Opening an existing vault ignores it: the vault key block says which kind it is.
    pub post_quantum: bool,
}

impl std::fmt::Debug for VaultOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultOptions")
            .field("trust", &self.trust.as_ref().map(|_| "…"))
            .field("post_quantum", &self.post_quantum)
            .finish()
    }
}

/// Options of [`Vault::put`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// The object's content type (stored encrypted).
    pub content_type: Option<String>,
    /// User metadata (stored encrypted).
    pub metadata: BTreeMap<String, String>,
    /// Fail with [`VaultError::PreconditionFailed`] if the key holds a live object.
    pub if_absent: bool,
    /// Fail with [`VaultError::PreconditionFailed`] unless the key's current version is this one.
    pub if_match: Option<String>,
    /// Tags of the new version (stored encrypted; see [`Vault::set_tags`]).
    pub tags: BTreeMap<String, String>,
    /// The S3 ETag to keep with the new version (the S3 gateway passes the plaintext's MD5, or
    /// a multipart ETag); stored encrypted in the manifest and the index, answered by
    /// [`ObjectInfo::s3_etag`] and listings. coffer does not check it.
    pub s3_etag: Option<String>,
}

/// What [`Vault::head`] and [`Vault::versions`] tell about one version of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The object key.
    pub key: Vec<u8>,
    /// The version id, also the ETag: the manifest's CID in text form. Stable per version.
    pub version: String,
    /// Plaintext length.
    pub size: u64,
    /// Sealed length (what the store holds, without the outboard and manifest).
    pub sealed_len: u64,
    /// The content type given at put.
    pub content_type: Option<String>,
    /// The user metadata given at put.
    pub metadata: BTreeMap<String, String>,
    /// When the version was written (ms since the Unix epoch, the writer's clock).
    pub created_ms: u64,
    /// The sealed object's CID.
    pub data: String,
    /// The S3 ETag given at put ([`PutOptions::s3_etag`]), if any.
    pub s3_etag: Option<String>,
    /// Whether the sealed object is stored inside its manifest (small objects, see
    /// [`INLINE_MAX`]): then the store holds no block `data` for it.
    pub inline: bool,
}

impl ObjectInfo {
    /// The ETag: the version id.
    pub fn etag(&self) -> &str {
        &self.version
    }

    fn from_manifest(cid: &Cid, m: &Manifest) -> Self {
        Self {
            key: m.key.clone(),
            version: cid.to_string(),
            size: m.plain_len,
            sealed_len: m.sealed_len,
            content_type: m.content_type.clone(),
            metadata: m.metadata.clone(),
            created_ms: m.created_ms,
            data: m.data.to_string(),
            s3_etag: m.etag.clone(),
            inline: m.inline.is_some(),
        }
    }
}

/// Whether opening may or must create the vault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OpenMode {
    Open,
    Create,
    OpenOrCreate,
}

/// How a manifest's CID was reached, which decides how its signature is checked
/// ([`Vault::open_manifest_bytes`], [`Vault::open_indexed_manifest`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ManifestReach {
    /// Named from outside this device's index (a share, a version id, a GC record): the
    /// signature is verified.
    Named,
    /// Read from this device's own index: the hash chain binds the signature.
    Indexed,
}

/// A writer's own state.
#[derive(Clone, Debug)]
struct WriterState {
    root: Cid,
    hlc: Hlc,
    seq: u64,
    head_version: Option<HeadVersion>,
    /// What `root` has merged of the other writers (head-store name → seq).
    vv: std::collections::BTreeMap<String, u64>,
    /// The GC epoch this writer acknowledges.
    gc: u64,
    /// The retention policy register.
    pol: Option<PolicyRef>,
    /// Co-writer heads whose entries `root` holds (`"cw:" ‖ hex epoch id ‖ ":" ‖ head name` →
    /// (seq, index root)), as this process merged them: a later merge skips reading the entries
    /// of a head served again at the same seq and root. In memory only.
    cw_merged: BTreeMap<String, (u64, Cid)>,
}

/// A vault opened on one device (one writer). See the [module docs](self).
pub struct Vault<S: BlockStore + HeadStore + ?Sized> {
    store: Arc<S>,
    tree: ProllyTree<S>,
    identity: Identity,
    name: String,
    /// This device's name (its writer id is keyed by it and the owner's recipient).
    device: String,
    writer: WriterId,
    writer_name: String,
    key_block: Cid,
    /// Keys the upload seeds of streaming puts (derived from the vault root key).
    upload_key: zeroize::Zeroizing<[u8; 32]>,
    /// Whether the vault key is sealed with X-Wing: share keyrings are then sealed with X-Wing.
    post_quantum: bool,
    /// Wraps the file keys of the vault's own blocks (format v2).
    object_key: WrapKey,
    /// Encrypts head bodies (format v2).
    head_key: zeroize::Zeroizing<[u8; 32]>,
    /// Where this device remembers what it saw, and that memory.
    trust: Arc<dyn TrustStore>,
    seen: VaultTrust,
    /// Heads skipped by the last open or sync, and why.
    skipped: Vec<SkippedHead>,
    state: WriterState,
    /// The state as of the last head written: a failed commit rolls `state` back to it, so an
    /// operation that returned an error never rides along with a later commit.
    committed: WriterState,
    /// Keys the head-store names of share records (derived from the vault root key).
    registry_key: zeroize::Zeroizing<[u8; 32]>,
    /// The share registry as of the last open or sync, with this device's published views.
    scopes: Vec<share::ScopeState<S>>,
    /// Why publishing shared views failed after the last commit, if it did.
    share_publish_error: Option<String>,
    /// The time expiry decisions use.
    share_clock: crate::share::Clock,
    /// The epoch of the last idle GC record read (`None`: not known to be idle): the baseline of
    /// the collection protocol's writer rule (see `gc.rs`).
    gc_seen: Option<u64>,
    /// Timings of the collection protocol.
    gc_timing: gc::GcTiming,
    /// The vault's chain of identity handovers, oldest first (empty: never rotated).
    chain: Vec<Handover>,
    /// Handovers verified so far, by CID (blocks do not change).
    handover_cache: BTreeMap<Cid, Handover>,
    /// The length of the last head this device wrote (what a rotation reports as written).
    last_head_len: u64,
}

impl<S: BlockStore + HeadStore + ?Sized> std::fmt::Debug for Vault<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("name", &self.name)
            .field("writer", &self.writer_name)
            .field("root", &self.state.root)
            .field("seq", &self.state.seq)
            .finish_non_exhaustive()
    }
}

/// The wall clock in milliseconds since the Unix epoch (what expiries are compared with).
pub fn now_ms() -> u64 {
    web_time::SystemTime::now()
        .duration_since(web_time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// Opens the existing vault `name` in `store` as the writer `device` of `identity`.
    /// [`VaultError::NoSuchVault`] when the store holds no head of it.
    ///
    /// Every head found is verified; one that is not this vault's owner's is skipped and reported
    /// ([`Vault::skipped_heads`]). The device starts from its own last head; call [`Vault::sync`]
    /// to take in the other devices' changes. What it saw is remembered in memory only: use
    /// [`Vault::open_with_options`] with a [`TrustStore`] to remember across restarts.
    pub async fn open(
        store: Arc<S>,
        identity: Identity,
        name: &str,
        device: &str,
    ) -> VaultResult<Self> {
        Self::open_with(
            store,
            identity,
            name,
            device,
            OpenMode::Open,
            VaultOptions::default(),
        )
        .await
    }

    /// [`Vault::open`], [`Vault::create`] or [`Vault::open_or_create`] (by `create`: `None`
    /// opens, `Some(true)` creates, `Some(false)` does either) with options.
    pub async fn open_with_options(
        store: Arc<S>,
        identity: Identity,
        name: &str,
        device: &str,
        create: Option<bool>,
        options: VaultOptions,
    ) -> VaultResult<Self> {
        let mode = match create {
            None => OpenMode::Open,
            Some(true) => OpenMode::Create,
            Some(false) => OpenMode::OpenOrCreate,
        };
        Self::open_with(store, identity, name, device, mode, options).await
    }

    /// Creates vault `name` in `store` with `identity` as its owner and opens it as `device`.
    /// [`VaultError::AlreadyExists`] when the store already holds a head of it.
    pub async fn create(
        store: Arc<S>,
        identity: Identity,
        name: &str,
        device: &str,
    ) -> VaultResult<Self> {
        Self::open_with(
            store,
            identity,
            name,
            device,
            OpenMode::Create,
            VaultOptions::default(),
        )
        .await
    }

    /// Opens vault `name`, creating it when the store holds no head of it.
    pub async fn open_or_create(
        store: Arc<S>,
        identity: Identity,
        name: &str,
        device: &str,
    ) -> VaultResult<Self> {
        Self::open_with(
            store,
            identity,
            name,
            device,
            OpenMode::OpenOrCreate,
            VaultOptions::default(),
        )
        .await
    }

    async fn open_with(
        store: Arc<S>,
        identity: Identity,
        name: &str,
        device: &str,
        mode: OpenMode,
        options: VaultOptions,
    ) -> VaultResult<Self> {
        crate::store::validate_name(name)?;
        if name.starts_with("_coffer") {
            // Inboxes, share registries and views live in head-store namespaces named so.
            return Err(StoreError::InvalidName(format!(
                "{name} (names starting with _coffer are reserved)"
            ))
            .into());
        }
        let trust: Arc<dyn TrustStore> = match options.trust {
            Some(t) => t,
            None => Arc::new(MemoryTrust::new()),
        };
        let seen = VaultTrust::load(&*trust, &trust_name(name)).await?;
        let raw = store.read_heads(name).await?;
        let (root_key, key_block, mut skipped) =
            match sync::find_vault_key(&*store, &identity, name, &raw, seen.key).await? {
                sync::VaultKey::None {
                    skipped,
                    strangers,
                    damaged,
                } => {
                    if let Some(e) = damaged {
                        return Err(if mode == OpenMode::Create {
                            VaultError::AlreadyExists {
                                vault: name.to_string(),
                            }
                        } else {
                            e
                        });
                    }
                    if seen.key.is_some() || !seen.writers.is_empty() {
                        // This device saw the vault: the store hides it now.
                        return Err(VaultError::from(crate::trust::TrustError::MissingHead {
                            what: format!("every head of vault {name}"),
                            seen: seen.writers.values().map(|w| w.seq).max().unwrap_or(1),
                        }));
                    }
                    if strangers && mode != OpenMode::Create {
                        return Err(VaultError::WrongIdentity);
                    }
                    if mode == OpenMode::Open {
                        return Err(VaultError::NoSuchVault {
                            vault: name.to_string(),
                        });
                    }
                    let (k, c) = create_root_key(&*store, &identity, options.post_quantum).await?;
                    (k, c, skipped)
                }
                sync::VaultKey::Found { key, cid, skipped } => {
                    if mode == OpenMode::Create {
                        return Err(VaultError::AlreadyExists {
                            vault: name.to_string(),
                        });
                    }
                    // A key block other than the one this device knew is checked against the
                    // chain of identity handovers once the heads are read (`rotate.rs`).
                    (key, cid, skipped)
                }
            };
        let tree = ProllyTree::new(store.clone(), &root_key.index_key(), IndexConfig::default())?;
        // Written below only by a device whose first head points at it: opening writes nothing.
        let empty = tree.empty_root_cid()?;
        let writer = format::writer_id_v2(&root_key.writer_key(), &identity, device);
        let writer_name = writer_name(writer);
        let legacy_name = writer_name_v1(&identity, device);
        let mut vault = Self {
            store,
            tree,
            identity,
            name: name.to_string(),
            device: device.to_string(),
            writer,
            writer_name,
            key_block,
            upload_key: root_key.upload_key(),
            post_quantum: root_key.1,
            object_key: root_key.object_key(),
            head_key: root_key.head_key(),
            trust,
            seen,
            skipped: Vec::new(),
            committed: WriterState {
                root: empty,
                hlc: Hlc::ZERO,
                seq: 0,
                head_version: None,
                vv: Default::default(),
                gc: 0,
                pol: None,
                cw_merged: BTreeMap::new(),
            },
            state: WriterState {
                root: empty,
                hlc: Hlc::ZERO,
                seq: 0,
                head_version: None,
                vv: Default::default(),
                gc: 0,
                pol: None,
                cw_merged: BTreeMap::new(),
            },
            registry_key: root_key.registry_key(),
            scopes: Vec::new(),
            share_publish_error: None,
            share_clock: crate::share::system_clock(),
            gc_seen: None,
            gc_timing: gc::GcTiming::default(),
            chain: Vec::new(),
            handover_cache: BTreeMap::new(),
            last_head_len: 0,
        };
        let heads = vault.verify_heads(raw, &mut skipped).await?;
        vault.skipped = skipped;
        let own = heads.iter().find(|h| h.writer == vault.writer_name);
        let legacy = heads.iter().find(|h| h.writer == legacy_name);
        let fresh = own.is_none();
        let state = match (own, legacy) {
            (Some(h), _) => WriterState {
                root: h.head.body.root,
                hlc: Hlc::from_u64(h.head.body.time),
                seq: h.head.body.seq,
                head_version: Some(h.version.clone()),
                vv: h.head.body.vv.clone(),
                gc: h.head.body.gc,
                pol: h.head.body.pol.clone(),
                cw_merged: BTreeMap::new(),
            },
            // A device that wrote format v1 continues from its v1 head under its new name.
            (None, Some(h)) => WriterState {
                root: h.head.body.root,
                hlc: Hlc::from_u64(h.head.body.time),
                seq: 0,
                head_version: None,
                vv: std::collections::BTreeMap::from([(legacy_name.clone(), h.head.body.seq)]),
                gc: 0,
                pol: None,
                cw_merged: BTreeMap::new(),
            },
            (None, None) => WriterState {
                root: empty,
                hlc: Hlc::ZERO,
                seq: 0,
                head_version: None,
                vv: Default::default(),
                gc: 0,
                pol: None,
                cw_merged: BTreeMap::new(),
            },
        };
        vault.committed = state.clone();
        vault.state = state;
        vault.load_shares().await?;
        vault.gc_observe().await?;
        if fresh {
            if vault.state.root == empty {
                vault.tree.empty_root().await?;
            }
            vault.tick();
            let mut tries = 0;
            loop {
                match vault.commit().await {
                    // A collection may have taken the empty root just written: write it again.
                    Err(VaultError::GcInterrupted) if tries < gc::RETRIES => {
                        tries += 1;
                        if vault.state.root == empty {
                            vault.tree.empty_root().await?;
                        }
                    }
                    r => break r?,
                }
            }
        }
        Ok(vault)
    }

    /// Heads skipped by the last open or sync (not this vault's owner's, malformed, or moved),
    /// with the reason for each: what `coffer status` reports.
    pub fn skipped_heads(&self) -> &[SkippedHead] {
        &self.skipped
    }

    /// A short code of the vault state this device has seen (every writer's seq and head), to
    /// compare with another device out of band after both synced: equal codes mean both see the
    /// same history (see [`crate::trust`]).
    pub fn state_fingerprint(&self) -> String {
        self.seen.fingerprint(&self.name)
    }

    /// The vault's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This device's writer id.
    pub fn writer(&self) -> WriterId {
        self.writer
    }

    /// This device's current index root (changes with every mutation and sync).
    pub fn root(&self) -> Cid {
        self.state.root
    }

    /// The store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// Advances the writer's clock and returns the new time.
    fn tick(&mut self) -> Hlc {
        self.state.hlc = self.state.hlc.tick(now_ms());
        self.state.hlc
    }

    /// Fetches a metadata block (at most [`MAX_META_BLOCK`] bytes) and checks it against its
    /// CID. A missing or mismatching block is [`VaultError::Corrupt`]: the vault refers to it, so
    /// it must be there.
    async fn fetch_block(&self, cid: &Cid) -> VaultResult<Bytes> {
        self.fetch_block_max(cid, MAX_META_BLOCK).await
    }

    /// [`Vault::fetch_block`] for a block expected to be at most `max` bytes.
    async fn fetch_block_max(&self, cid: &Cid, max: u64) -> VaultResult<Bytes> {
        let bytes = self.store.get_max(cid, max).await.map_err(|e| match e {
            StoreError::NotFound(_) => VaultError::corrupt(cid, MISSING),
            StoreError::Corrupt { detail, .. } => VaultError::corrupt(cid, detail),
            other => VaultError::Store(other),
        })?;
        verify_block(cid, &bytes)
            .map_err(|_| VaultError::corrupt(cid, "its bytes do not hash to its CID"))?;
        Ok(bytes)
    }

    /// Seals a metadata block (a manifest, tags) under the object key, signed by the owner, and
    /// stores it; returns its CID.
    async fn put_sealed(&self, plaintext: &[u8]) -> VaultResult<(Cid, Vec<u8>)> {
        let (cid, sealed) = self.seal_meta(plaintext)?;
        self.store.put(&cid, Bytes::from(sealed.clone())).await?;
        Ok((cid, sealed))
    }

    /// Seals a metadata block as [`Vault::put_sealed`] does, without storing it.
    fn seal_meta(&self, plaintext: &[u8]) -> VaultResult<(Cid, Vec<u8>)> {
        let sealed = seal::seal_to_vec(&self.meta_options(), plaintext)?;
        Ok((raw_cid(&sealed), sealed))
    }

    /// How the vault seals its own metadata: under the object key, signed by the owner.
    fn meta_options(&self) -> SealOptions {
        SealOptions::to_key(self.object_key.clone()).signed_by(&self.identity)
    }

    /// How the vault seals object data: under the object key, unsigned (the owner-signed manifest
    /// names its BLAKE3 root; see `docs/decisions.md`).
    pub(crate) fn data_options(&self) -> SealOptions {
        SealOptions::to_key(self.object_key.clone())
    }

    /// What unlocks the vault's blocks: v2 ones with the object key, v1 ones with the identity.
    pub(crate) fn unlock(&self) -> Unlock<'_> {
        Unlock::KeyOrIdentity(&self.object_key, &self.identity)
    }

    /// Fetches and opens a sealed metadata block that must be signed by the owner.
    async fn open_sealed(&self, cid: &Cid) -> VaultResult<Vec<u8>> {
        let bytes = self.fetch_block(cid).await?;
        self.open_chained(cid, &bytes)
    }

    /// Opens a sealed manifest: signed by the owner, or by a co-writer this vault granted write
    /// to (see `cowrite.rs`).
    pub(crate) fn open_manifest_bytes(&self, cid: &Cid, sealed: &[u8]) -> VaultResult<Vec<u8>> {
        self.open_manifest_as(cid, sealed, ManifestReach::Named)
    }

    /// Opens a sealed manifest whose CID this device read from its own index (reached from a
    /// verified head through hash-linked, encrypted nodes, which only the owner's devices write,
    /// taking in a co-writer's manifest only after checking its signer: `cowrite.rs`). The hash
    /// binds every byte, signature included, so the v2 signature is not verified again here
    /// (`docs/decisions.md`, "Manifests reached through the index"); it must still be signed,
    /// and everything else (stanza, commitment, MAC, segments) is checked as usual. A manifest
    /// named any other way goes through [`Vault::open_manifest_bytes`].
    pub(crate) fn open_indexed_manifest(&self, cid: &Cid, sealed: &[u8]) -> VaultResult<Vec<u8>> {
        self.open_manifest_as(cid, sealed, ManifestReach::Indexed)
    }

    /// Both of the above: the open `reach` allows, then one check of who signed.
    fn open_manifest_as(
        &self,
        cid: &Cid,
        sealed: &[u8],
        reach: ManifestReach,
    ) -> VaultResult<Vec<u8>> {
        let (opened, hash_bound_signed) = match reach {
            ManifestReach::Named => self
                .with_unlock(|u| seal::open_to_vec_with(u, sealed))
                .map(|o| (o, false)),
            ManifestReach::Indexed => self.with_unlock(|u| seal::open_to_vec_hash_bound(u, sealed)),
        }
        .map_err(|e| VaultError::corrupt(cid, e))?;
        // A signature that was verified while opening (any named manifest, a v1 header's) names
        // its signer, still checked; an indexed v2 manifest must carry one (checked by the hash).
        let allowed = match &opened.signer {
            Some(s) => self.is_manifest_signer(s),
            None => hash_bound_signed,
        };
        if !allowed {
            return Err(VaultError::corrupt(cid, "not signed by the vault owner"));
        }
        Ok(opened.plaintext)
    }

    /// Writes this writer's head: conditional on the last version it wrote (or on none), once
    /// the garbage-collection record allows it ([`VaultError::GcInterrupted`] when a collection
    /// ran since this device last saw the record: the caller redoes its operation; see `gc.rs`).
    async fn commit(&mut self) -> VaultResult<()> {
        let gc = match self.gc_gate().await {
            Ok(epoch) => epoch,
            Err(e) => {
                let hlc = self.state.hlc;
                self.state = self.committed.clone();
                self.state.hlc = hlc;
                return Err(e);
            }
        };
        self.state.gc = gc;
        let body = HeadBody {
            v: FORMAT_VERSION,
            vault: self.name.clone(),
            writer: self.writer.0,
            recipient: self.identity.recipient().to_string(),
            key: self.key_block,
            root: self.state.root,
            seq: self.state.seq + 1,
            time: self.state.hlc.as_u64(),
            vv: self.state.vv.clone(),
            gc: self.state.gc,
            pol: self.state.pol.clone(),
            ho: self.chain.last().map(|h| h.cid),
            rec: self.record_counters(),
        };
        let bytes = body.seal(&self.identity, &self.head_key)?;
        let head_len = bytes.len() as u64;
        let condition = match &self.state.head_version {
            Some(v) => crate::store::HeadCondition::Matches(v.clone()),
            None => crate::store::HeadCondition::Absent,
        };
        let written = self
            .store
            .write_head(&self.name, &self.writer_name, Bytes::from(bytes), condition)
            .await;
        let version = match written {
            Ok(v) => v,
            Err(e) => {
                // Nothing of this operation is committed: forget it (the clock only moves on).
                let hlc = self.state.hlc;
                self.state = self.committed.clone();
                self.state.hlc = hlc;
                return Err(match e {
                    StoreError::PreconditionFailed(d) => VaultError::PreconditionFailed(format!(
                        "another process wrote this device's head ({d}); reopen the vault"
                    )),
                    other => VaultError::Store(other),
                });
            }
        };
        self.state.seq += 1;
        self.state.head_version = Some(version);
        self.last_head_len = head_len;
        self.committed = self.state.clone();
        self.remember_own(&body).await;
        self.publish_after_commit().await;
        Ok(())
    }

    /// Remembers this device's own new head in the trust state, so the store cannot later serve
    /// an older one. A failure to save is not a failed commit (the head is written); the next
    /// read saves again.
    async fn remember_own(&mut self, body: &HeadBody) {
        let Ok(bytes) = crate::block::to_dag_cbor(body) else {
            return;
        };
        let digest = *blake3::hash(&bytes).as_bytes();
        self.seen.key = Some(self.key_block);
        self.seen.record(&[crate::trust::ServedHead {
            writer: &self.writer_name,
            seq: body.seq,
            digest,
            claims: &body.vv,
        }]);
        let _ = self.seen.save(&*self.trust, &trust_name(&self.name)).await;
    }
}

/// The trust document name of vault `name`.
fn trust_name(name: &str) -> String {
    format!("vault:{name}")
}

/// The v1 head-store name of `device`'s writer.
fn writer_name_v1(identity: &Identity, device: &str) -> String {
    writer_name(writer_id_for(identity, device))
}

/// Sealed to the owner's identity (HPKE), signed by the owner: the key block, which must open
/// before any vault key is known.
fn owner_seal_options(identity: &Identity, post_quantum: bool) -> SealOptions {
    let to = if post_quantum {
        identity.post_quantum_recipient()
    } else {
        identity.recipient()
    };
    SealOptions::new(vec![to.clone()]).signed_by(identity)
}

pub(crate) fn seal_to_owner(
    identity: &Identity,
    plaintext: &[u8],
    post_quantum: bool,
) -> VaultResult<Vec<u8>> {
    Ok(seal::seal_to_vec(
        &owner_seal_options(identity, post_quantum),
        plaintext,
    )?)
}

/// Opens a sealed block that must be signed by `owner` (a v1 header-only signature is accepted:
/// inside a vault every block is also named by a hash from a signed head).
#[cfg_attr(
    not(all(feature = "gateway", not(target_arch = "wasm32"))),
    allow(dead_code)
)]
pub(crate) fn open_owner_signed(
    unlock: Unlock<'_>,
    owner: &crate::keys::Recipient,
    cid: &Cid,
    sealed: &[u8],
) -> VaultResult<Vec<u8>> {
    let opened = seal::open_to_vec_with(unlock, sealed).map_err(|e| VaultError::corrupt(cid, e))?;
    if !opened
        .signer
        .as_ref()
        .is_some_and(|s| s.same_identity(owner))
    {
        return Err(VaultError::corrupt(cid, "not signed by the vault owner"));
    }
    Ok(opened.plaintext)
}

async fn create_root_key<S: BlockStore + ?Sized>(
    store: &S,
    identity: &Identity,
    post_quantum: bool,
) -> VaultResult<(RootKey, Cid)> {
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    crate::keys::fill_random(key.as_mut());
    let sealed = seal_to_owner(identity, key.as_ref(), post_quantum)?;
    let cid = raw_cid(&sealed);
    store.put(&cid, Bytes::from(sealed)).await?;
    Ok((RootKey(key, post_quantum), cid))
}

pub(crate) async fn open_root_key<S: BlockStore + ?Sized>(
    store: &S,
    identity: &Identity,
    cid: &Cid,
) -> VaultResult<RootKey> {
    let bytes = store
        .get_max(cid, MAX_META_BLOCK)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => VaultError::corrupt(cid, "the vault key block is missing"),
            other => VaultError::Store(other),
        })?;
    verify_block(cid, &bytes)
        .map_err(|_| VaultError::corrupt(cid, "its bytes do not hash to its CID"))?;
    let opened = seal::open_to_vec(identity, &bytes).map_err(|e| match e {
        seal::SealError::NoMatchingRecipient => VaultError::WrongIdentity,
        other => VaultError::corrupt(cid, other),
    })?;
    if !opened
        .signer
        .as_ref()
        .is_some_and(|s| s.same_identity(identity.recipient()))
    {
        return Err(VaultError::corrupt(
            cid,
            "the vault key is not signed by the owner",
        ));
    }
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    if opened.plaintext.len() != 32 {
        return Err(VaultError::corrupt(cid, "the vault key is not 32 bytes"));
    }
    key.copy_from_slice(&opened.plaintext);
    let mut plain = opened.plaintext;
    zeroize::Zeroize::zeroize(&mut plain);
    let post_quantum = seal::Header::parse(&bytes)
        .map(|h| h.has_post_quantum_stanza())
        .unwrap_or(false);
    Ok(RootKey(key, post_quantum))
}
