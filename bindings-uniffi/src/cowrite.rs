//! Read-write shares (`docs/FORMAT.md` §9.1): the co-writer's [`SharedWriter`] and the owner's
//! `Vault.mergeCowriters`. The owner grants write with `Vault.share(…, write = true)`.

use std::sync::Arc;

use tokio::sync::Mutex;

use crate::error::{CofferError, guard_async};
use crate::share::{CofferStore, Share, SharedReader};
use crate::vault::{AnyStore, Vault};

type CoreWriter = coffer::share::SharedWriter<dyn AnyStore>;

/// Writes under a read-write share as its recipient: puts and deletes land in this co-writer's
/// own signed index and reach the owner's devices and the other recipients at `commit`.
///
/// Every call checks the share's clock (`PreconditionFailed` once expired) and the key against
/// its scope (`WriteOutsideScope`, nothing written). `commit` fails with `PreconditionFailed`
/// once the owner revoked the share or rotated its keys (a newer grant may wait in the inbox),
/// and with `NotWriter` when the owner no longer lists this identity as a writer. Calls on one
/// writer are serialized.
#[derive(uniffi::Object)]
pub struct SharedWriter {
    inner: Mutex<CoreWriter>,
    share: coffer::share::Share,
    writer_id: String,
}

impl std::fmt::Debug for SharedWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedWriter")
            .field("share", &self.share)
            .field("writer_id", &self.writer_id)
            .finish_non_exhaustive()
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl SharedWriter {
    /// Opens `share` (a read-write share addressed to `identity`) for writing on `store` (the
    /// owner's store), continuing from this co-writer's last commit if any. `NotWriter` for a
    /// read-only share, `WrongIdentity` when the share is for another identity,
    /// `PreconditionFailed` when it expired or is not valid yet.
    #[uniffi::constructor]
    pub async fn open(
        store: Arc<CofferStore>,
        identity: Arc<crate::crypto::Identity>,
        share: Arc<Share>,
    ) -> Result<Arc<Self>, CofferError> {
        guard_async(async move {
            let share = share.inner.clone();
            let w = CoreWriter::open(store.inner.clone(), identity.inner.clone(), share.clone())
                .await?;
            let writer_id = hex(&w.writer_id().0);
            Ok(Arc::new(Self {
                inner: Mutex::new(w),
                share,
                writer_id,
            }))
        })
        .await
    }

    /// The share written under.
    pub fn share(&self) -> Arc<Share> {
        Arc::new(Share {
            inner: self.share.clone(),
        })
    }

    /// The writer id this co-writer's entries carry (32 hex digits, derived from its recipient).
    pub fn writer_id(&self) -> String {
        self.writer_id.clone()
    }

    /// Seals `data` to the owner and the share and puts it under `key` (inside the scope) in this
    /// co-writer's index; visible to others after `commit`. Returns the new version id.
    #[uniffi::method(default(content_type = None))]
    pub async fn put(
        self: Arc<Self>,
        key: Vec<u8>,
        data: Vec<u8>,
        content_type: Option<String>,
    ) -> Result<String, CofferError> {
        guard_async(async move {
            let mut w = self.inner.lock().await;
            Ok(w.put(&key, &data, content_type).await?.to_string())
        })
        .await
    }

    /// Deletes `key` (inside the scope): a tombstone in this co-writer's index, visible to
    /// others after `commit`; earlier versions stay in the owner's history.
    pub async fn delete(self: Arc<Self>, key: Vec<u8>) -> Result<(), CofferError> {
        guard_async(async move {
            let mut w = self.inner.lock().await;
            Ok(w.delete(&key).await?)
        })
        .await
    }

    /// Publishes what was put and deleted since the last commit (this co-writer's signed head);
    /// returns the head's seq.
    pub async fn commit(self: Arc<Self>) -> Result<u64, CofferError> {
        guard_async(async move {
            let mut w = self.inner.lock().await;
            Ok(w.commit().await?)
        })
        .await
    }

    /// A reader of the share as the store holds it now: the owner's view merged with what every
    /// allowed co-writer committed (this one's included).
    pub async fn reader(self: Arc<Self>) -> Result<Arc<SharedReader>, CofferError> {
        guard_async(async move {
            let w = self.inner.lock().await;
            let inner = w.reader().await?;
            Ok(Arc::new(SharedReader { inner }))
        })
        .await
    }
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[uniffi::export(async_runtime = "tokio")]
impl Vault {
    /// Merges what the co-writers of this vault's read-write shares committed into this
    /// device's index and commits, without reading the other devices' heads (`sync` does this
    /// too). An entry outside its writer's scope, or from a writer revoked or expired, is not
    /// merged and is reported in `skippedHeads`.
    pub async fn merge_cowriters(self: Arc<Self>) -> Result<(), CofferError> {
        guard_async(async move {
            let mut v = self.inner.lock().await;
            Ok(v.merge_cowriters().await?)
        })
        .await
    }
}
