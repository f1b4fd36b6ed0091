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

mod error;
pub(crate) mod format;
pub(crate) mod objects;
mod share;
mod stream;
mod sync;
mod upload;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

/// ListObjectsV2 parameters, as for the index.
pub use crate::index::ListRequest;
pub use error::{VaultError, VaultResult};
pub use format::{
    FORMAT_VERSION, HeadBody, check_index_value, check_manifest, decode_head, writer_id_for,
    writer_name,
};
pub use objects::{DeleteResult, ListPage, ListedObject};
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
use crate::seal::{self, SealOptions};
use crate::store::{BlockStore, HeadStore, HeadVersion, StoreError};
use format::{Manifest, RootKey};

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

/// A writer's own state.
#[derive(Clone, Debug)]
struct WriterState {
    root: Cid,
    hlc: Hlc,
    seq: u64,
    head_version: Option<HeadVersion>,
    parents: Vec<Cid>,
}

/// A vault opened on one device (one writer). See the [module docs](self).
pub struct Vault<S: BlockStore + HeadStore + ?Sized> {
    store: Arc<S>,
    tree: ProllyTree<S>,
    identity: Identity,
    name: String,
    writer: WriterId,
    writer_name: String,
    key_block: Cid,
    /// Keys the upload seeds of streaming puts (derived from the vault root key).
    upload_key: zeroize::Zeroizing<[u8; 32]>,
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
    /// Every head found is verified (a bad one fails the open loudly). The device starts from its
    /// own last head; call [`Vault::sync`] to take in the other devices' changes.
    pub async fn open(
        store: Arc<S>,
        identity: Identity,
        name: &str,
        device: &str,
    ) -> VaultResult<Self> {
        Self::open_with(store, identity, name, device, OpenMode::Open).await
    }

    /// Creates vault `name` in `store` with `identity` as its owner and opens it as `device`.
    /// [`VaultError::AlreadyExists`] when the store already holds a head of it.
    pub async fn create(
        store: Arc<S>,
        identity: Identity,
        name: &str,
        device: &str,
    ) -> VaultResult<Self> {
        Self::open_with(store, identity, name, device, OpenMode::Create).await
    }

    /// Opens vault `name`, creating it when the store holds no head of it.
    pub async fn open_or_create(
        store: Arc<S>,
        identity: Identity,
        name: &str,
        device: &str,
    ) -> VaultResult<Self> {
        Self::open_with(store, identity, name, device, OpenMode::OpenOrCreate).await
    }

    async fn open_with(
        store: Arc<S>,
        identity: Identity,
        name: &str,
        device: &str,
        mode: OpenMode,
    ) -> VaultResult<Self> {
        crate::store::validate_name(name)?;
        if name.starts_with("_coffer") {
            // Inboxes, share registries and views live in head-store namespaces named so.
            return Err(StoreError::InvalidName(format!(
                "{name} (names starting with _coffer are reserved)"
            ))
            .into());
        }
        let writer = writer_id_for(&identity, device);
        let writer_name = writer_name(writer);
        let heads = sync::read_verified_heads(&*store, &identity, name).await?;
        let mut key_blocks: Vec<Cid> = heads.iter().map(|(h, _)| h.body.key).collect();
        key_blocks.sort();
        key_blocks.dedup();
        let (root_key, key_block) = match key_blocks.as_slice() {
            [] if mode == OpenMode::Open => {
                return Err(VaultError::NoSuchVault {
                    vault: name.to_string(),
                });
            }
            [] => create_root_key(&*store, &identity).await?,
            _ if mode == OpenMode::Create => {
                return Err(VaultError::AlreadyExists {
                    vault: name.to_string(),
                });
            }
            [cid] => (open_root_key(&*store, &identity, cid).await?, *cid),
            _ => {
                return Err(VaultError::ConflictingVaultKeys {
                    vault: name.to_string(),
                });
            }
        };
        let tree = ProllyTree::new(store.clone(), &root_key.index_key(), IndexConfig::default())?;
        let upload_key = root_key.upload_key();
        let registry_key = root_key.registry_key();
        let own = heads.into_iter().find(|(h, _)| h.writer == writer_name);
        let (state, fresh) = match own {
            Some((head, version)) => (
                WriterState {
                    root: head.body.root,
                    hlc: Hlc::from_u64(head.body.time),
                    seq: head.body.seq,
                    head_version: Some(version),
                    parents: head.body.parents,
                },
                false,
            ),
            None => (
                WriterState {
                    root: tree.empty_root().await?,
                    hlc: Hlc::ZERO,
                    seq: 0,
                    head_version: None,
                    parents: Vec::new(),
                },
                true,
            ),
        };
        let mut vault = Self {
            store,
            tree,
            identity,
            name: name.to_string(),
            writer,
            writer_name,
            key_block,
            upload_key,
            committed: state.clone(),
            state,
            registry_key,
            scopes: Vec::new(),
            share_publish_error: None,
            share_clock: crate::share::system_clock(),
        };
        vault.load_shares().await?;
        if fresh {
            vault.tick();
            vault.commit().await?;
        }
        Ok(vault)
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

    /// Fetches a block and checks it against its CID. A missing or mismatching block is
    /// [`VaultError::Corrupt`]: the vault refers to it, so it must be there.
    async fn fetch_block(&self, cid: &Cid) -> VaultResult<Bytes> {
        let bytes = self.store.get(cid).await.map_err(|e| match e {
            StoreError::NotFound(_) => VaultError::corrupt(cid, "missing from the store"),
            StoreError::Corrupt { detail, .. } => VaultError::corrupt(cid, detail),
            other => VaultError::Store(other),
        })?;
        verify_block(cid, &bytes)
            .map_err(|_| VaultError::corrupt(cid, "its bytes do not hash to its CID"))?;
        Ok(bytes)
    }

    /// Seals `plaintext` to the owner, signed by the owner, and stores it; returns its CID.
    async fn put_sealed(&self, plaintext: &[u8]) -> VaultResult<(Cid, Vec<u8>)> {
        let sealed = seal_to_owner(&self.identity, plaintext)?;
        let cid = raw_cid(&sealed);
        self.store.put(&cid, Bytes::from(sealed.clone())).await?;
        Ok((cid, sealed))
    }

    /// Fetches and opens a sealed block that must be signed by the owner.
    async fn open_sealed(&self, cid: &Cid) -> VaultResult<Vec<u8>> {
        let bytes = self.fetch_block(cid).await?;
        open_owner_signed(&self.identity, cid, &bytes)
    }

    /// Writes this writer's head: conditional on the last version it wrote (or on none).
    async fn commit(&mut self) -> VaultResult<()> {
        let body = HeadBody {
            v: FORMAT_VERSION,
            vault: self.name.clone(),
            writer: self.writer.0,
            recipient: self.identity.recipient().to_string(),
            key: self.key_block,
            root: self.state.root,
            seq: self.state.seq + 1,
            time: self.state.hlc.as_u64(),
            parents: self.state.parents.clone(),
        };
        let bytes = body.sign(&self.identity)?;
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
        self.committed = self.state.clone();
        self.publish_after_commit().await;
        Ok(())
    }
}

/// Sealed to the owner alone, signed by the owner: how the vault seals everything it stores.
fn owner_seal_options(identity: &Identity) -> SealOptions {
    SealOptions::new(vec![identity.recipient().clone()]).signed_by(identity)
}

/// Seals the content of an object (today: as everything else, to the owner, signed).
pub(crate) fn seal_data(identity: &Identity, plaintext: &[u8]) -> VaultResult<Vec<u8>> {
    seal_to_owner(identity, plaintext)
}

pub(crate) fn seal_to_owner(identity: &Identity, plaintext: &[u8]) -> VaultResult<Vec<u8>> {
    Ok(seal::seal_to_vec(&owner_seal_options(identity), plaintext)?)
}

pub(crate) fn open_owner_signed(
    identity: &Identity,
    cid: &Cid,
    sealed: &[u8],
) -> VaultResult<Vec<u8>> {
    let opened = seal::open_to_vec(identity, sealed).map_err(|e| VaultError::corrupt(cid, e))?;
    if opened.signer.as_ref() != Some(identity.recipient()) {
        return Err(VaultError::corrupt(cid, "not signed by the vault owner"));
    }
    Ok(opened.plaintext)
}

async fn create_root_key<S: BlockStore + ?Sized>(
    store: &S,
    identity: &Identity,
) -> VaultResult<(RootKey, Cid)> {
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    crate::keys::fill_random(key.as_mut());
    let sealed = seal_to_owner(identity, key.as_ref())?;
    let cid = raw_cid(&sealed);
    store.put(&cid, Bytes::from(sealed)).await?;
    Ok((RootKey(key), cid))
}

async fn open_root_key<S: BlockStore + ?Sized>(
    store: &S,
    identity: &Identity,
    cid: &Cid,
) -> VaultResult<RootKey> {
    let bytes = store.get(cid).await.map_err(|e| match e {
        StoreError::NotFound(_) => VaultError::corrupt(cid, "the vault key block is missing"),
        other => VaultError::Store(other),
    })?;
    verify_block(cid, &bytes)
        .map_err(|_| VaultError::corrupt(cid, "its bytes do not hash to its CID"))?;
    let opened = seal::open_to_vec(identity, &bytes).map_err(|e| match e {
        seal::SealError::NoMatchingRecipient => VaultError::WrongIdentity,
        other => VaultError::corrupt(cid, other),
    })?;
    if opened.signer.as_ref() != Some(identity.recipient()) {
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
    Ok(RootKey(key))
}
