//! Where a device keeps its trust memory (`coffer::trust`): what it saw of every writer's head, so
//! that a store serving an older state, a forked one or hiding a writer is refused, across
//! restarts too. A directory ([`TrustMemory::dir`]), this process's memory
//! ([`TrustMemory::in_memory`]), or the app's own storage ([`TrustStorage`], implemented in
//! Kotlin or Swift).

use std::sync::Arc;

use coffer::trust::{FileTrust, MemoryTrust, TrustError, TrustResult, TrustStore};

use crate::error::{CofferError, guard};

/// What an app's [`TrustStorage`] reports when it cannot load or save. Kotlin: throw
/// `TrustStorageException.Failed("…")`; any other exception is taken the same way. The vault
/// operation then fails with `TrustStorage` (code 15).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum TrustStorageError {
    /// The document could not be loaded or saved.
    #[error("failed: {detail}")]
    Failed {
        /// What the storage said.
        detail: String,
    },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for TrustStorageError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Failed {
            detail: format!("the trust storage threw: {}", e.reason),
        }
    }
}

/// Storage the app implements (Kotlin/Swift) for its trust memory: small named documents (a few
/// KiB each) that must survive restarts (a preferences store, a database table, the keychain…).
/// Keep one per store and identity, private to the app.
#[uniffi::export(foreign)]
#[async_trait::async_trait]
pub trait TrustStorage: Send + Sync {
    /// The document saved under `name`, or `null` when there is none.
    async fn load(&self, name: String) -> Result<Option<Vec<u8>>, TrustStorageError>;
    /// Saves `bytes` under `name`, replacing what was there (atomically if the medium allows).
    async fn save(&self, name: String, bytes: Vec<u8>) -> Result<(), TrustStorageError>;
}

/// A [`TrustStorage`] as a coffer [`TrustStore`].
struct ForeignTrust(Arc<dyn TrustStorage>);

fn storage_error(e: TrustStorageError, what: &str) -> TrustError {
    match e {
        TrustStorageError::Failed { detail } => {
            TrustError::Storage(format!("the app's trust storage, {what}: {detail}"))
        }
    }
}

#[async_trait::async_trait]
impl TrustStore for ForeignTrust {
    async fn load(&self, name: &str) -> TrustResult<Option<Vec<u8>>> {
        self.0
            .load(name.to_string())
            .await
            .map_err(|e| storage_error(e, "load"))
    }

    async fn save(&self, name: &str, bytes: Vec<u8>) -> TrustResult<()> {
        self.0
            .save(name.to_string(), bytes)
            .await
            .map_err(|e| storage_error(e, "save"))
    }
}

/// Where a device keeps what it saw of a vault (give one to `VaultOptions.trust`). Without one, a
/// vault remembers in memory only, for as long as it stays open: a store can then roll the
/// device back across a restart.
#[derive(uniffi::Object)]
pub struct TrustMemory {
    pub(crate) inner: Arc<dyn TrustStore>,
    kind: &'static str,
}

impl std::fmt::Debug for TrustMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustMemory")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl TrustMemory {
    /// Trust memory in a local directory (created when missing, mode 0700; one file per
    /// document, mode 0600, replaced atomically): e.g. a directory of the app's private files
    /// next to its store. `TrustStorage` (code 15) when the directory cannot be created.
    #[uniffi::constructor]
    pub fn dir(path: String) -> Result<Arc<Self>, CofferError> {
        guard(|| {
            let t = FileTrust::open(&path).map_err(CofferError::from_trust)?;
            Ok(Arc::new(Self {
                inner: Arc::new(t),
                kind: "directory",
            }))
        })
    }

    /// Memory of this process only, shared by every vault opened with this object (a vault
    /// reopened with it still refuses a rollback; a restart forgets).
    #[uniffi::constructor]
    pub fn in_memory() -> Arc<Self> {
        Arc::new(Self {
            inner: Arc::new(MemoryTrust::new()),
            kind: "memory",
        })
    }

    /// The app's own storage.
    #[uniffi::constructor]
    pub fn custom(storage: Arc<dyn TrustStorage>) -> Arc<Self> {
        Arc::new(Self {
            inner: Arc::new(ForeignTrust(storage)),
            kind: "custom",
        })
    }
}
