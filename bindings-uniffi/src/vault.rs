//! The vault as a uniffi object with async methods, over a local directory, S3 or an app-provided
//! transport.

use std::collections::HashMap;
use std::sync::Arc;

use coffer::store::{BlockStore, HeadStore};
use coffer::vault::{ListRequest, PutOptions};
use tokio::sync::Mutex;

use crate::crypto::Identity;
use crate::error::{CofferError, guard_async};
use crate::share::CofferStore;
use crate::transport::{ForeignStore, Transport};
use crate::trust::TrustMemory;

/// Any block + head store, as a trait object.
pub(crate) trait AnyStore: BlockStore + HeadStore {}
impl<T: BlockStore + HeadStore + ?Sized> AnyStore for T {}

pub(crate) type CoreVault = coffer::vault::Vault<dyn AnyStore>;

/// Whether opening a vault may or must create it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum OpenMode {
    /// The vault must exist (`NoSuchVault` otherwise).
    Open,
    /// The vault must not exist (`AlreadyExists` otherwise).
    Create,
    /// Open it, creating it when missing.
    OpenOrCreate,
}

/// How a vault is opened (the optional last argument of every `Vault.open*`).
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct VaultOptions {
    /// Where this device remembers what it saw of the vault, so that a store serving an older
    /// state (a rollback), a forked one or hiding a writer is refused with `Untrusted` (code 14),
    /// across restarts too. `null` (the default): memory of this open vault only, so a store can
    /// roll the device back across a restart. Use one per store and identity.
    #[uniffi(default = None)]
    pub trust: Option<Arc<TrustMemory>>,
    /// When creating a vault: wrap its key, and every share keyring, with X-Wing (ML-KEM-768 +
    /// X25519) instead of X25519 alone. Ignored when the vault exists (its key says which).
    #[uniffi(default = false)]
    pub post_quantum: bool,
}

/// A head skipped by the last open or sync, and why (not this vault's owner's, malformed, moved).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SkippedHead {
    /// The head-store name it was stored under.
    pub writer: String,
    /// Why it was skipped.
    pub reason: String,
}

/// How to reach an S3-compatible bucket.
#[derive(Clone, uniffi::Record)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Endpoint URL (`http://127.0.0.1:8333`); `null` means AWS, resolved from the region.
    #[uniffi(default = None)]
    pub endpoint: Option<String>,
    /// Region; `null`: from the AWS environment, else `us-east-1`.
    #[uniffi(default = None)]
    pub region: Option<String>,
    /// Key prefix inside the bucket (empty: the bucket root).
    #[uniffi(default = "")]
    pub prefix: String,
    /// Path-style addressing (`endpoint/bucket/key`), needed by most self-hosted stores.
    #[uniffi(default = true)]
    pub path_style: bool,
    /// Explicit credentials; `null` uses the standard AWS credential chain (environment, profile,
    /// web identity, ECS/IMDS).
    #[uniffi(default = None)]
    pub credentials: Option<Arc<S3Credentials>>,
}

/// S3 credentials. An object rather than a record so that printing it (or the `S3Settings` that
/// holds it) shows the access key id only, never the secret.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
#[cfg_attr(not(feature = "s3"), allow(dead_code))] // read only by the S3 store
pub struct S3Credentials {
    access_key_id: String,
    secret_access_key: zeroize::Zeroizing<String>,
    session_token: Option<zeroize::Zeroizing<String>>,
}

impl std::fmt::Display for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "S3Credentials(access_key_id={}, secret=<redacted>)",
            self.access_key_id
        )
    }
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

#[uniffi::export]
impl S3Credentials {
    /// Credentials from an access key id, its secret and, for temporary credentials, a session
    /// token. The secret is kept in zeroizing memory on the Rust side.
    #[uniffi::constructor(default(session_token = None))]
    pub fn new(
        access_key_id: String,
        secret_access_key: String,
        session_token: Option<String>,
    ) -> Arc<Self> {
        Arc::new(Self {
            access_key_id,
            secret_access_key: zeroize::Zeroizing::new(secret_access_key),
            session_token: session_token.map(zeroize::Zeroizing::new),
        })
    }

    /// The access key id (not secret).
    pub fn access_key_id(&self) -> String {
        self.access_key_id.clone()
    }
}

impl std::fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Settings")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("prefix", &self.prefix)
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// Options of [`Vault::put`].
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct PutParams {
    /// The object's content type (stored encrypted).
    #[uniffi(default = None)]
    pub content_type: Option<String>,
    /// User metadata (stored encrypted).
    #[uniffi(default)]
    pub metadata: HashMap<String, String>,
    /// Fail with `PreconditionFailed` if the key holds a live object.
    #[uniffi(default = false)]
    pub if_absent: bool,
    /// Fail with `PreconditionFailed` unless the key's current version is this one.
    #[uniffi(default = None)]
    pub if_match: Option<String>,
    /// Tags of the new version (at most 10; stored encrypted; see `setTags`).
    #[uniffi(default)]
    pub tags: HashMap<String, String>,
}

impl PutParams {
    fn into_core(self) -> PutOptions {
        PutOptions {
            content_type: self.content_type,
            metadata: self.metadata.into_iter().collect(),
            if_absent: self.if_absent,
            if_match: self.if_match,
            tags: self.tags.into_iter().collect(),
            s3_etag: None,
        }
    }
}

/// One version of an object.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ObjectInfo {
    /// The object key.
    pub key: Vec<u8>,
    /// The version id, also the ETag.
    pub version: String,
    /// Plaintext length.
    pub size: u64,
    /// Sealed length.
    pub sealed_len: u64,
    /// The content type given at put.
    pub content_type: Option<String>,
    /// The user metadata given at put.
    pub metadata: HashMap<String, String>,
    /// When the version was written (ms since the Unix epoch, the writer's clock).
    pub created_ms: u64,
    /// The sealed object's CID.
    pub data_cid: String,
}

impl From<coffer::vault::ObjectInfo> for ObjectInfo {
    fn from(o: coffer::vault::ObjectInfo) -> Self {
        Self {
            key: o.key,
            version: o.version,
            size: o.size,
            sealed_len: o.sealed_len,
            content_type: o.content_type,
            metadata: o.metadata.into_iter().collect(),
            created_ms: o.created_ms,
            data_cid: o.data,
        }
    }
}

/// ListObjectsV2 parameters.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct ListParams {
    /// Only keys starting with this.
    #[uniffi(default)]
    pub prefix: Vec<u8>,
    /// Roll keys up to common prefixes at this delimiter.
    #[uniffi(default = None)]
    pub delimiter: Option<Vec<u8>>,
    /// Only keys after this one.
    #[uniffi(default = None)]
    pub start_after: Option<Vec<u8>>,
    /// The token of the previous page.
    #[uniffi(default = None)]
    pub continuation_token: Option<String>,
    /// Page size (at most 1000; `null`: 1000).
    #[uniffi(default = None)]
    pub max_keys: Option<u32>,
}

impl ListParams {
    pub(crate) fn into_core(self) -> ListRequest {
        #[allow(clippy::needless_update)]
        ListRequest {
            prefix: self.prefix,
            delimiter: self.delimiter,
            start_after: self.start_after,
            continuation_token: self.continuation_token,
            max_keys: self.max_keys,
            ..Default::default()
        }
    }
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ListedObject {
    /// The key.
    pub key: Vec<u8>,
    /// Plaintext length.
    pub size: u64,
    /// The current version id.
    pub etag: String,
    /// When it was written (ms since the Unix epoch).
    pub last_modified_ms: u64,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ListResult {
    /// Objects, in key order.
    pub contents: Vec<ListedObject>,
    /// Common prefixes (with a delimiter).
    pub common_prefixes: Vec<Vec<u8>>,
    /// Entries on this page.
    pub key_count: u32,
    /// Whether more pages follow.
    pub is_truncated: bool,
    /// The token for the next page.
    pub next_continuation_token: Option<String>,
}

impl From<coffer::vault::ListPage> for ListResult {
    fn from(page: coffer::vault::ListPage) -> Self {
        Self {
            contents: page
                .contents
                .into_iter()
                .map(|o| ListedObject {
                    key: o.key,
                    size: o.size,
                    etag: o.etag,
                    last_modified_ms: o.last_modified_ms,
                })
                .collect(),
            common_prefixes: page.common_prefixes,
            key_count: page.key_count,
            is_truncated: page.is_truncated,
            next_continuation_token: page.next_continuation_token,
        }
    }
}

/// The outcome of deleting one key in [`Vault::delete_many`].
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct DeleteOutcome {
    /// The key.
    pub key: Vec<u8>,
    /// `null` when deleted, else the error code (see `CofferError`).
    pub error_code: Option<u32>,
    /// `null` when deleted, else why not.
    pub error: Option<String>,
}

/// What [`Vault::sync`] did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SyncResult {
    /// The other writers whose heads were merged.
    pub merged: Vec<String>,
    /// The index root before.
    pub root_before: String,
    /// The index root after.
    pub root_after: String,
}

/// A vault opened on one device: an S3-style bucket of sealed, verified, versioned objects.
/// Every method is `suspend` in Kotlin and `async` in Swift; calls on one vault are serialized.
#[derive(uniffi::Object)]
pub struct Vault {
    pub(crate) inner: Mutex<CoreVault>,
    name: String,
    device: String,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("name", &self.name)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

async fn open_on(
    store: Arc<dyn AnyStore>,
    identity: &Identity,
    vault: String,
    device: String,
    mode: OpenMode,
    options: Option<VaultOptions>,
) -> Result<Arc<Vault>, CofferError> {
    let id = identity.inner.clone();
    let create = match mode {
        OpenMode::Open => None,
        OpenMode::Create => Some(true),
        OpenMode::OpenOrCreate => Some(false),
    };
    let options = core_options(options);
    let v = CoreVault::open_with_options(store, id, &vault, &device, create, options).await?;
    Ok(Vault::wrap(v, vault, device))
}

/// The core's options from the exported ones.
pub(crate) fn core_options(options: Option<VaultOptions>) -> coffer::vault::VaultOptions {
    let post_quantum = options.as_ref().is_some_and(|o| o.post_quantum);
    coffer::vault::VaultOptions {
        trust: options.and_then(|o| o.trust).map(|t| t.inner.clone()),
        post_quantum,
    }
}

impl Vault {
    /// Wraps a vault the core opened as `device`.
    pub(crate) fn wrap(v: CoreVault, name: String, device: String) -> Arc<Self> {
        Arc::new(Vault {
            inner: Mutex::new(v),
            name,
            device,
        })
    }
}

#[cfg(feature = "s3")]
pub(crate) async fn s3_store(settings: S3Settings) -> Result<Arc<dyn AnyStore>, CofferError> {
    use coffer::store::s3::{S3Config, S3Credentials as CoreCredentials, S3Store};
    let mut config = S3Config::new(settings.bucket);
    config.endpoint = settings.endpoint;
    config.region = settings.region;
    config.prefix = settings.prefix;
    config.path_style = settings.path_style;
    config.credentials = settings.credentials.map(|c| CoreCredentials {
        access_key_id: c.access_key_id.clone(),
        secret_access_key: c.secret_access_key.clone(),
        session_token: c.session_token.clone(),
    });
    Ok(Arc::new(S3Store::connect(config).await?))
}

#[cfg(not(feature = "s3"))]
pub(crate) async fn s3_store(settings: S3Settings) -> Result<Arc<dyn AnyStore>, CofferError> {
    drop(settings);
    Err(CofferError::unsupported(
        "this build of coffer has no S3 support (feature `s3` of coffer-uniffi)",
    ))
}

fn keys_of(keys: &[Vec<u8>]) -> Vec<&[u8]> {
    keys.iter().map(Vec::as_slice).collect()
}

#[uniffi::export(async_runtime = "tokio")]
impl Vault {
    /// Opens vault `vault` as writer `device` in a local directory (created when missing).
    #[uniffi::constructor(default(options = None))]
    pub async fn open_dir(
        path: String,
        identity: Arc<Identity>,
        vault: String,
        device: String,
        mode: OpenMode,
        options: Option<VaultOptions>,
    ) -> Result<Arc<Self>, CofferError> {
        guard_async(async move {
            let store = coffer::store::DirStore::open(&path)?;
            open_on(Arc::new(store), &identity, vault, device, mode, options).await
        })
        .await
    }

    /// Opens vault `vault` as writer `device` in an S3-compatible bucket. `Unsupported` in builds
    /// without S3.
    #[uniffi::constructor(default(options = None))]
    pub async fn open_s3(
        settings: S3Settings,
        identity: Arc<Identity>,
        vault: String,
        device: String,
        mode: OpenMode,
        options: Option<VaultOptions>,
    ) -> Result<Arc<Self>, CofferError> {
        guard_async(async move {
            let store = s3_store(settings).await?;
            open_on(store, &identity, vault, device, mode, options).await
        })
        .await
    }

    /// Opens vault `vault` as writer `device` over an app-provided transport.
    #[uniffi::constructor(default(options = None))]
    pub async fn open_transport(
        transport: Arc<dyn Transport>,
        identity: Arc<Identity>,
        vault: String,
        device: String,
        mode: OpenMode,
        options: Option<VaultOptions>,
    ) -> Result<Arc<Self>, CofferError> {
        guard_async(async move {
            let store = ForeignStore::new(transport);
            open_on(Arc::new(store), &identity, vault, device, mode, options).await
        })
        .await
    }

    /// Opens vault `vault` as writer `device` on a [`CofferStore`] (a directory, S3 or a
    /// transport, opened once and shared with share readers and inboxes).
    #[uniffi::constructor(default(options = None))]
    pub async fn open_store(
        store: Arc<CofferStore>,
        identity: Arc<Identity>,
        vault: String,
        device: String,
        mode: OpenMode,
        options: Option<VaultOptions>,
    ) -> Result<Arc<Self>, CofferError> {
        guard_async(async move {
            open_on(store.inner.clone(), &identity, vault, device, mode, options).await
        })
        .await
    }

    /// The vault's name.
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// This device's name.
    pub fn device(&self) -> String {
        self.device.clone()
    }

    /// This device's current index root (a CID; changes with every mutation and sync).
    pub async fn root(&self) -> String {
        self.inner.lock().await.root().to_string()
    }

    /// A short code of the vault state this device has seen (every writer's seq and head),
    /// `XXXX-XXXX-XXXX-XXXX`: compare it with another device's out of band after both synced;
    /// equal codes mean both see the same history.
    pub async fn state_fingerprint(&self) -> String {
        self.inner.lock().await.state_fingerprint()
    }

    /// Heads skipped by the last open or sync (not this vault's owner's, malformed, or moved),
    /// with the reason for each.
    pub async fn skipped_heads(&self) -> Vec<SkippedHead> {
        self.inner
            .lock()
            .await
            .skipped_heads()
            .iter()
            .map(|h| SkippedHead {
                writer: h.writer.clone(),
                reason: h.reason.clone(),
            })
            .collect()
    }

    /// Seals `data` and stores it under `key`; returns the new version.
    #[uniffi::method(default(options = None))]
    pub async fn put(
        self: Arc<Self>,
        key: Vec<u8>,
        data: Vec<u8>,
        options: Option<PutParams>,
    ) -> Result<ObjectInfo, CofferError> {
        guard_async(async move {
            let opts = options.unwrap_or_default().into_core();
            let mut v = self.inner.lock().await;
            Ok(v.put(&key, data, opts).await?.into())
        })
        .await
    }

    /// Stores the file at `path` under `key`, streaming it with bounded memory (a few MiB whatever
    /// its size). Putting the same file under the same key again after an interruption resumes
    /// the upload. `InvalidInput` when the file cannot be read or changes while it is read.
    #[uniffi::method(default(options = None))]
    pub async fn put_file(
        self: Arc<Self>,
        key: Vec<u8>,
        path: String,
        options: Option<PutParams>,
    ) -> Result<ObjectInfo, CofferError> {
        guard_async(async move {
            let opts = options.unwrap_or_default().into_core();
            let mut source = std::path::PathBuf::from(path);
            let mut v = self.inner.lock().await;
            Ok(v.put_source(&key, &mut source, opts, None).await?.into())
        })
        .await
    }

    /// Writes the current version of `key` to the file at `path`, streaming and verified: the file
    /// appears (replacing any file there) only once every byte has been verified.
    pub async fn get_to_file(
        self: Arc<Self>,
        key: Vec<u8>,
        path: String,
    ) -> Result<ObjectInfo, CofferError> {
        guard_async(async move {
            let target = std::path::PathBuf::from(&path);
            let dir = match target.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => std::path::PathBuf::from("."),
            };
            let io = |e: std::io::Error| CofferError::invalid_input(format!("{path}: {e}"));
            let temp = tempfile::NamedTempFile::new_in(&dir).map_err(io)?;
            let file = temp.reopen().map_err(io)?;
            let v = self.inner.lock().await;
            let info = v
                .get_to(&key, futures_util::io::AllowStdIo::new(file), None)
                .await?;
            temp.as_file().sync_all().map_err(io)?;
            temp.persist(&target).map_err(|e| io(e.error))?;
            Ok(info.into())
        })
        .await
    }

    /// The tags of the current version of `key` (empty when none).
    pub async fn tags(
        self: Arc<Self>,
        key: Vec<u8>,
    ) -> Result<HashMap<String, String>, CofferError> {
        guard_async(async move {
            let v = self.inner.lock().await;
            Ok(v.tags(&key).await?.into_iter().collect())
        })
        .await
    }

    /// Replaces the tags of the current version of `key` (empty removes them); the version id
    /// does not change.
    pub async fn set_tags(
        self: Arc<Self>,
        key: Vec<u8>,
        tags: HashMap<String, String>,
    ) -> Result<(), CofferError> {
        guard_async(async move {
            let mut v = self.inner.lock().await;
            Ok(v.set_tags(&key, tags.into_iter().collect()).await?)
        })
        .await
    }

    /// The current version of `key`, verified and opened. `NotFound` when absent.
    pub async fn get(self: Arc<Self>, key: Vec<u8>) -> Result<Vec<u8>, CofferError> {
        guard_async(async move { Ok(self.inner.lock().await.get(&key).await?) }).await
    }

    /// Bytes `start..end` of the current version of `key`, fetching and verifying only the
    /// segments that hold them.
    pub async fn get_range(
        self: Arc<Self>,
        key: Vec<u8>,
        start: u64,
        end: u64,
    ) -> Result<Vec<u8>, CofferError> {
        guard_async(async move {
            if start > end {
                return Err(CofferError::invalid_input(format!(
                    "range start {start} is after its end {end}"
                )));
            }
            Ok(self.inner.lock().await.get_range(&key, start..end).await?)
        })
        .await
    }

    /// A version of `key` by its version id (from `versions` or `head`).
    pub async fn get_version(
        self: Arc<Self>,
        key: Vec<u8>,
        version: String,
    ) -> Result<Vec<u8>, CofferError> {
        guard_async(async move { Ok(self.inner.lock().await.get_version(&key, &version).await?) })
            .await
    }

    /// What is known about the current version of `key` (without reading its data).
    pub async fn head(self: Arc<Self>, key: Vec<u8>) -> Result<ObjectInfo, CofferError> {
        guard_async(async move { Ok(self.inner.lock().await.head(&key).await?.into()) }).await
    }

    /// Every version of `key`, newest first.
    pub async fn versions(self: Arc<Self>, key: Vec<u8>) -> Result<Vec<ObjectInfo>, CofferError> {
        guard_async(async move {
            let v = self.inner.lock().await.versions(&key).await?;
            Ok(v.into_iter().map(Into::into).collect())
        })
        .await
    }

    /// Deletes `key`. `NotFound` when it holds no object.
    pub async fn delete(self: Arc<Self>, key: Vec<u8>) -> Result<(), CofferError> {
        guard_async(async move { Ok(self.inner.lock().await.delete(&key).await?) }).await
    }

    /// Deletes several keys in one commit, with an outcome per key.
    pub async fn delete_many(
        self: Arc<Self>,
        keys: Vec<Vec<u8>>,
    ) -> Result<Vec<DeleteOutcome>, CofferError> {
        guard_async(async move {
            let results = self.inner.lock().await.delete_many(&keys_of(&keys)).await?;
            Ok(results
                .into_iter()
                .map(|r| {
                    let err = r.result.err().map(CofferError::from);
                    DeleteOutcome {
                        key: r.key,
                        error_code: err.as_ref().map(CofferError::code),
                        error: err.map(|e| e.to_string()),
                    }
                })
                .collect())
        })
        .await
    }

    /// Copies the current version of `src` to `dst` by reference (nothing re-encrypted).
    pub async fn copy(
        self: Arc<Self>,
        src: Vec<u8>,
        dst: Vec<u8>,
    ) -> Result<ObjectInfo, CofferError> {
        guard_async(async move { Ok(self.inner.lock().await.copy(&src, &dst).await?.into()) }).await
    }

    /// One page of the ListObjectsV2 listing of this device's view.
    #[uniffi::method(default(params = None))]
    pub async fn list(
        self: Arc<Self>,
        params: Option<ListParams>,
    ) -> Result<ListResult, CofferError> {
        guard_async(async move {
            let req = params.unwrap_or_default().into_core();
            Ok(self.inner.lock().await.list(&req).await?.into())
        })
        .await
    }

    /// Takes in the other devices' changes (verifying every head) and publishes this device's.
    pub async fn sync(self: Arc<Self>) -> Result<SyncResult, CofferError> {
        guard_async(async move {
            let r = self.inner.lock().await.sync().await?;
            Ok(SyncResult {
                merged: r.merged,
                root_before: r.root_before.to_string(),
                root_after: r.root_after.to_string(),
            })
        })
        .await
    }
}
