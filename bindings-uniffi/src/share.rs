//! Sharing (`docs/FORMAT.md` §9): the owner's side on [`Vault`] (share, list, revoke, rotate) and
//! the recipient's side ([`read_inbox`], [`ShareBook`], [`Share`], [`SharedReader`]) over a
//! [`CofferStore`]: a local directory, S3 or an app-provided transport, like the vault.

use std::sync::Arc;

use crate::crypto::{Identity, Recipient};
use crate::error::{CofferError, guard, guard_async};
use crate::transport::{ForeignStore, Transport};
use crate::vault::{AnyStore, ListParams, ListResult, S3Settings, Vault, s3_store};

/// A store opened once: a local directory, an S3-compatible bucket or an app-provided transport.
/// The recipient of a share reads their inbox and the shared objects from the owner's store
/// through it; a vault can be opened on it too (`Vault.openStore`).
#[derive(uniffi::Object)]
pub struct CofferStore {
    pub(crate) inner: Arc<dyn AnyStore>,
    kind: &'static str,
}

impl std::fmt::Debug for CofferStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CofferStore")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl CofferStore {
    /// A store in a local directory (created when missing).
    #[uniffi::constructor]
    pub fn dir(path: String) -> Result<Arc<Self>, CofferError> {
        guard(|| {
            let store = coffer::store::DirStore::open(&path)?;
            Ok(Arc::new(Self {
                inner: Arc::new(store),
                kind: "directory",
            }))
        })
    }

    /// An S3-compatible bucket. `Unsupported` in builds without S3.
    #[uniffi::constructor]
    pub async fn s3(settings: S3Settings) -> Result<Arc<Self>, CofferError> {
        guard_async(async move {
            Ok(Arc::new(Self {
                inner: s3_store(settings).await?,
                kind: "s3",
            }))
        })
        .await
    }

    /// An app-provided transport.
    #[uniffi::constructor]
    pub fn transport(transport: Arc<dyn Transport>) -> Arc<Self> {
        Arc::new(Self {
            inner: Arc::new(ForeignStore::new(transport)),
            kind: "transport",
        })
    }
}

/// What a share covers.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum ShareScope {
    /// Every key starting with `prefix` (empty: the whole vault), including keys written while
    /// the share is live.
    Prefix {
        /// The key prefix.
        prefix: Vec<u8>,
    },
    /// One key: its current version and every version written while the share is live.
    Object {
        /// The key.
        key: Vec<u8>,
    },
    /// One version of one key, nothing else (cannot be revoked before it expires).
    Version {
        /// The key.
        key: Vec<u8>,
        /// The version id (from `put`, `head` or `versions`).
        version: String,
    },
}

impl From<ShareScope> for coffer::share::Scope {
    fn from(s: ShareScope) -> Self {
        match s {
            ShareScope::Prefix { prefix } => Self::Prefix(prefix),
            ShareScope::Object { key } => Self::Object(key),
            ShareScope::Version { key, version } => Self::Version { key, version },
        }
    }
}

impl From<coffer::share::Scope> for ShareScope {
    fn from(s: coffer::share::Scope) -> Self {
        match s {
            coffer::share::Scope::Prefix(prefix) => Self::Prefix { prefix },
            coffer::share::Scope::Object(key) => Self::Object { key },
            coffer::share::Scope::Version { key, version } => Self::Version { key, version },
        }
    }
}

/// Where an issued share stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum ShareStatus {
    /// Valid now.
    Active,
    /// Not valid yet.
    Pending,
    /// Past its expiry.
    Expired,
    /// Revoked by the owner.
    Revoked,
}

/// One share the vault issued, as its registry records it.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ShareInfo {
    /// The share id (32 hex digits).
    pub id: String,
    /// What it covers.
    pub scope: ShareScope,
    /// Who it is for (`coffer1…`).
    pub recipient: String,
    /// Valid from (ms since the Unix epoch).
    pub not_before_ms: u64,
    /// Valid until, exclusive (ms since the Unix epoch).
    pub expires_ms: u64,
    /// When it was issued (ms since the Unix epoch).
    pub issued_ms: u64,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<u64>,
    /// The latest grant delivered (1, then one more per rotation it survived).
    pub grant: u64,
    /// Whether it grants `write` (a read-write share: the recipient writes with a
    /// `SharedWriter`).
    pub write: bool,
    /// Where it stands now.
    pub status: ShareStatus,
}

impl From<coffer::vault::ShareInfo> for ShareInfo {
    fn from(i: coffer::vault::ShareInfo) -> Self {
        use coffer::vault::ShareStatus as S;
        Self {
            id: i.id.to_string(),
            scope: i.scope.into(),
            recipient: i.to.to_string(),
            not_before_ms: i.not_before_ms,
            expires_ms: i.expires_ms,
            issued_ms: i.issued_ms,
            revoked_ms: i.revoked_ms,
            grant: i.grant,
            write: i.write,
            status: match i.status {
                S::Active => ShareStatus::Active,
                S::Pending => ShareStatus::Pending,
                S::Expired => ShareStatus::Expired,
                S::Revoked => ShareStatus::Revoked,
            },
        }
    }
}

/// What a rotation or revocation did to a scope's keys.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct RotationReport {
    /// The scope's epoch after it (0: nothing in the scope is shared any more).
    pub epoch: u64,
    /// Objects whose keys were wrapped into the new epoch's keyring.
    pub objects: u64,
    /// File keys written.
    pub keys: u64,
    /// Bytes of keyrings, view heads, the share record and grants written.
    pub bytes_written: u64,
    /// Grants delivered to the remaining recipients' inboxes.
    pub grants: u64,
}

impl From<coffer::vault::RotationReport> for RotationReport {
    fn from(r: coffer::vault::RotationReport) -> Self {
        Self {
            epoch: r.epoch,
            objects: r.objects,
            keys: r.keys,
            bytes_written: r.bytes_written,
            grants: r.grants,
        }
    }
}

fn share_id(id: &str) -> Result<coffer::share::ShareId, CofferError> {
    Ok(id.trim().parse::<coffer::share::ShareId>()?)
}

#[uniffi::export(async_runtime = "tokio")]
impl Vault {
    /// Shares `scope` with `recipient` (`coffer1…`) until `expires_ms` (ms since the Unix epoch,
    /// exclusive), from `not_before_ms` (`null`: now): drops a signed capability, sealed to the
    /// recipient, into their inbox on this vault's store. Returns the share id. `presign` (a
    /// version share on S3 only) adds a presigned URL the server stops honouring at expiry.
    /// `write` (object and prefix shares) also grants `write`: the recipient puts and deletes
    /// under the scope with a `SharedWriter`, and this vault merges what they commit at its next
    /// `sync` (or `mergeCowriters`). `InvalidKey` for a bad recipient, `InvalidInput` for an
    /// expiry not in the future or `write` on a version share.
    #[uniffi::method(default(not_before_ms = None, presign = false, write = false))]
    pub async fn share(
        self: Arc<Self>,
        scope: ShareScope,
        recipient: String,
        expires_ms: u64,
        not_before_ms: Option<u64>,
        presign: bool,
        write: bool,
    ) -> Result<String, CofferError> {
        guard_async(async move {
            let to: coffer::keys::Recipient = recipient.trim().parse()?;
            let opts = coffer::vault::ShareOptions {
                not_before_ms,
                expires_ms,
                presign,
                write,
            };
            let mut v = self.inner.lock().await;
            Ok(v.share(scope.into(), &to, opts).await?.to_string())
        })
        .await
    }

    /// Every share this vault issued (as of the last open or sync), with its status now.
    pub async fn shares(&self) -> Vec<ShareInfo> {
        let v = self.inner.lock().await;
        v.shares().into_iter().map(Into::into).collect()
    }

    /// Revokes share `id`: its scope gets new keys that only the remaining recipients receive (a
    /// new grant in their inbox). What the revoked recipient already read stays theirs.
    /// `InvalidInput` for an unknown id.
    pub async fn revoke(self: Arc<Self>, id: String) -> Result<RotationReport, CofferError> {
        guard_async(async move {
            let id = share_id(&id)?;
            Ok(self.inner.lock().await.revoke(&id).await?.into())
        })
        .await
    }

    /// Gives `scope` (an object or prefix with shares) new keys: a new keyring (metadata only, no
    /// object re-uploaded) and new grants for every live recipient. `InvalidInput` when the scope
    /// has no shares.
    pub async fn rotate(self: Arc<Self>, scope: ShareScope) -> Result<RotationReport, CofferError> {
        guard_async(async move {
            let scope: coffer::share::Scope = scope.into();
            Ok(self.inner.lock().await.rotate(&scope).await?.into())
        })
        .await
    }
}

/// A verified share (capability) addressed to this identity. It holds the keys it grants; its
/// text form shows only the id, issuer, vault, scope and validity.
#[derive(uniffi::Object)]
#[uniffi::export(Display)]
pub struct Share {
    pub(crate) inner: coffer::share::Share,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.inner, f)
    }
}

impl std::fmt::Display for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.inner;
        write!(
            f,
            "Share(id={}, grant={}, issuer={}, vault={}, scope={}, valid {}..{} ms)",
            s.id(),
            s.grant(),
            s.issuer(),
            s.vault(),
            s.scope(),
            s.not_before_ms(),
            s.expires_ms()
        )
    }
}

#[uniffi::export]
impl Share {
    /// Opens a sealed envelope (see `envelope`) with `identity`, verifying who sealed and signed
    /// it. `WrongIdentity` when it is addressed to someone else, `Corrupt` when forged or damaged.
    #[uniffi::constructor]
    pub fn open(identity: Arc<Identity>, envelope: Vec<u8>) -> Result<Arc<Self>, CofferError> {
        guard(|| {
            let inner = coffer::share::Share::open(&identity.inner, &envelope)?;
            Ok(Arc::new(Self { inner }))
        })
    }

    /// The share id (32 hex digits; the same for every grant of one share).
    pub fn id(&self) -> String {
        self.inner.id().to_string()
    }

    /// The grant number: 1, then one more each time the owner re-grants after a rotation.
    pub fn grant(&self) -> u64 {
        self.inner.grant()
    }

    /// Who issued it (the vault owner).
    pub fn issuer(&self) -> Arc<Recipient> {
        Arc::new(Recipient {
            inner: self.inner.issuer().clone(),
        })
    }

    /// Who it is for.
    pub fn audience(&self) -> Arc<Recipient> {
        Arc::new(Recipient {
            inner: self.inner.audience().clone(),
        })
    }

    /// The vault it reads from.
    pub fn vault(&self) -> String {
        self.inner.vault().to_string()
    }

    /// What it covers.
    pub fn scope(&self) -> ShareScope {
        self.inner.scope().into()
    }

    /// The rights granted: `["read"]`, or `["read", "write"]` for a read-write share.
    pub fn rights(&self) -> Vec<String> {
        self.inner.rights().to_vec()
    }

    /// Whether it grants `write` (open a `SharedWriter` with it).
    pub fn can_write(&self) -> bool {
        self.inner.can_write()
    }

    /// Valid from (ms since the Unix epoch).
    pub fn not_before_ms(&self) -> u64 {
        self.inner.not_before_ms()
    }

    /// Valid until, exclusive (ms since the Unix epoch).
    pub fn expires_ms(&self) -> u64 {
        self.inner.expires_ms()
    }

    /// When it was issued (ms since the Unix epoch).
    pub fn issued_ms(&self) -> u64 {
        self.inner.issued_ms()
    }

    /// A presigned URL of the shared version's sealed bytes, if the owner added one.
    pub fn presigned_url(&self) -> Option<String> {
        self.inner.presigned_url().map(str::to_string)
    }

    /// The sealed envelope: only the audience can open it (`Share.open`).
    pub fn envelope(&self) -> Vec<u8> {
        self.inner.envelope().to_vec()
    }

    /// `PreconditionFailed` unless `now_ms` lies in `[notBeforeMs, expiresMs)`.
    pub fn check_time(&self, now_ms: u64) -> Result<(), CofferError> {
        Ok(self.inner.check_time(now_ms)?)
    }
}

/// One entry of an inbox: the verified share, or why it was refused (a bad entry never hides
/// the others).
#[derive(Debug, Clone, uniffi::Record)]
pub struct InboxEntry {
    /// The entry's name in the inbox (`<share id>-<grant>`).
    pub name: String,
    /// The verified share; `null` when refused.
    pub share: Option<Arc<Share>>,
    /// `null` when verified, else the error code (see `CofferError`).
    pub error_code: Option<u32>,
    /// `null` when verified, else why it was refused.
    pub error: Option<String>,
}

/// Reads every share waiting in `identity`'s inbox on `store` (the owner's store). Each is
/// verified (sealed to `identity`, signed by its issuer); the clock is checked by
/// `ShareBook.accept`.
#[uniffi::export(async_runtime = "tokio")]
pub async fn read_inbox(
    store: Arc<CofferStore>,
    identity: Arc<Identity>,
) -> Result<Vec<InboxEntry>, CofferError> {
    guard_async(async move {
        let entries = coffer::share::read_inbox(&*store.inner, &identity.inner).await?;
        Ok(entries
            .into_iter()
            .map(|e| match e.share {
                Ok(s) => InboxEntry {
                    name: e.name,
                    share: Some(Arc::new(Share { inner: s })),
                    error_code: None,
                    error: None,
                },
                Err(err) => {
                    let err = CofferError::from(err);
                    InboxEntry {
                        name: e.name,
                        share: None,
                        error_code: Some(err.code()),
                        error: Some(err.to_string()),
                    }
                }
            })
            .collect())
    })
    .await
}

/// What `ShareBook.accept` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Accepted {
    /// A share not held before.
    New,
    /// A newer grant of a share already held (after the owner rotated its keys).
    Updated,
}

/// The shares a recipient accepted, by id. Refuses replays and expired capabilities; persists
/// sealed to its owner (`toBytes`).
#[derive(Debug, Default, uniffi::Object)]
pub struct ShareBook {
    inner: std::sync::Mutex<coffer::share::ShareBook>,
}

impl ShareBook {
    fn book(&self) -> std::sync::MutexGuard<'_, coffer::share::ShareBook> {
        // A panic while holding the lock cannot leave the book half-updated (every change is one
        // map insert or remove): keep using it.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[uniffi::export]
impl ShareBook {
    /// An empty book.
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Reads a book written by `toBytes`; every share in it is verified again.
    /// `WrongIdentity` when sealed to another identity, `Corrupt` when damaged.
    #[uniffi::constructor]
    pub fn from_bytes(identity: Arc<Identity>, bytes: Vec<u8>) -> Result<Arc<Self>, CofferError> {
        guard(|| {
            let book = coffer::share::ShareBook::from_bytes(&identity.inner, &bytes)?;
            Ok(Arc::new(Self {
                inner: std::sync::Mutex::new(book),
            }))
        })
    }

    /// Accepts `share` at `now_ms` (ms since the Unix epoch). `PreconditionFailed` when expired;
    /// `Corrupt` for a replay (the same or an older grant of a share already held) or a share id
    /// already held from another issuer.
    pub fn accept(&self, share: Arc<Share>, now_ms: u64) -> Result<Accepted, CofferError> {
        guard(|| {
            Ok(match self.book().accept(share.inner.clone(), now_ms)? {
                coffer::share::Accepted::New => Accepted::New,
                coffer::share::Accepted::Updated => Accepted::Updated,
            })
        })
    }

    /// The book sealed to `identity` and signed by it: safe to keep on disk.
    pub fn to_bytes(&self, identity: Arc<Identity>) -> Result<Vec<u8>, CofferError> {
        guard(|| Ok(self.book().to_bytes(&identity.inner)?))
    }

    /// Every share, by id.
    pub fn shares(&self) -> Vec<Arc<Share>> {
        self.book()
            .iter()
            .map(|s| Arc::new(Share { inner: s.clone() }))
            .collect()
    }

    /// The share whose id starts with `id_prefix` (at least 4 characters). `InvalidInput` when
    /// none or several match.
    pub fn find(&self, id_prefix: String) -> Result<Arc<Share>, CofferError> {
        guard(|| {
            let s = self.book().find(id_prefix.trim())?.clone();
            Ok(Arc::new(Share { inner: s }))
        })
    }

    /// Forgets share `id`; whether it was held.
    pub fn remove(&self, id: String) -> Result<bool, CofferError> {
        guard(|| Ok(self.book().remove(&share_id(&id)?).is_some()))
    }

    /// Number of shares.
    pub fn len(&self) -> u64 {
        self.book().len() as u64
    }

    /// Whether the book is empty.
    pub fn is_empty(&self) -> bool {
        self.book().is_empty()
    }
}

/// What `SharedReader.head` tells about a shared object.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct SharedObjectInfo {
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

/// Reads what one accepted share grants from the owner's store, verified like the owner's
/// reads. Every call checks the share against the clock (`PreconditionFailed` once expired) and
/// the key against its scope (`InvalidInput` outside it).
#[derive(uniffi::Object)]
pub struct SharedReader {
    pub(crate) inner: coffer::share::SharedReader<dyn AnyStore>,
}

impl std::fmt::Debug for SharedReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.inner, f)
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl SharedReader {
    /// Opens `share` on `store` (the owner's store). `PreconditionFailed` when the share expired,
    /// is not valid yet, or the owner revoked it or rotated its keys (a newer grant may be in
    /// the inbox).
    #[uniffi::constructor]
    pub async fn open(
        store: Arc<CofferStore>,
        share: Arc<Share>,
    ) -> Result<Arc<Self>, CofferError> {
        guard_async(async move {
            let inner =
                coffer::share::SharedReader::open(store.inner.clone(), share.inner.clone()).await?;
            Ok(Arc::new(Self { inner }))
        })
        .await
    }

    /// The share being read.
    pub fn share(&self) -> Arc<Share> {
        Arc::new(Share {
            inner: self.inner.share().clone(),
        })
    }

    /// One page of the shared keys (ListObjectsV2 semantics). The prefix must lie inside the
    /// share's scope (`InvalidInput` otherwise); an empty prefix lists the whole scope.
    #[uniffi::method(default(params = None))]
    pub async fn list(
        self: Arc<Self>,
        params: Option<ListParams>,
    ) -> Result<ListResult, CofferError> {
        guard_async(async move {
            let req = params.unwrap_or_default().into_core();
            Ok(self.inner.list(&req).await?.into())
        })
        .await
    }

    /// The object under `key`, verified and opened. `NotFound` when the share holds none.
    pub async fn get(self: Arc<Self>, key: Vec<u8>) -> Result<Vec<u8>, CofferError> {
        guard_async(async move { Ok(self.inner.get(&key).await?) }).await
    }

    /// What the share holds under `key` (without reading its data).
    pub async fn head(self: Arc<Self>, key: Vec<u8>) -> Result<SharedObjectInfo, CofferError> {
        guard_async(async move {
            let o = self.inner.head(&key).await?;
            Ok(SharedObjectInfo {
                key: o.key,
                version: o.version,
                size: o.size,
                content_type: o.content_type,
                created_ms: o.created_ms,
            })
        })
        .await
    }
}

/// Parses a duration such as `30s`, `15m`, `1h`, `7d` or `2w` into milliseconds (what the CLI's
/// `--expires` takes). `InvalidInput` otherwise.
#[uniffi::export]
pub fn parse_duration_ms(text: String) -> Result<u64, CofferError> {
    guard(|| Ok(coffer::share::parse_duration_ms(&text)?))
}

/// The current time in ms since the Unix epoch (the clock `ShareBook.accept` and the readers use).
#[uniffi::export]
pub fn now_ms() -> u64 {
    coffer::vault::now_ms()
}
