//! The one error type every export returns, with stable numeric codes.
//!
//! | code | variant              | meaning                                                              |
//! |------|----------------------|----------------------------------------------------------------------|
//! | 1    | `InvalidInput`       | an argument is not usable (range, object key, name, option)          |
//! | 2    | `InvalidKey`         | a recipient or identity text/bytes does not parse                    |
//! | 3    | `WrongIdentity`      | this identity is not a recipient of the object / cannot open a vault |
//! | 4    | `Corrupt`            | data failed authentication or verification (tampered, truncated)     |
//! | 5    | `NotFound`           | no live object under that key (or no such version)                   |
//! | 6    | `NoSuchVault`        | the store holds no vault of that name                                |
//! | 7    | `AlreadyExists`      | a vault of that name already exists                                  |
//! | 8    | `PreconditionFailed` | a conditional write lost (if-absent / if-match / head condition)     |
//! | 9    | `StoreUnavailable`   | the store is unreachable, throttling or timed out: retry later       |
//! | 10   | `StoreAccessDenied`  | the store refused the credentials                                    |
//! | 11   | `Store`              | any other store failure, including a foreign transport that threw   |
//! | 12   | `Unsupported`        | not available in this build or by this store                         |
//! | 13   | `Internal`           | a bug in coffer (a panic was caught at the FFI boundary)             |
//! | 14   | `Untrusted`          | the store rolled back, forked or hid what this device saw before    |
//! | 15   | `TrustStorage`       | the device's trust memory could not be read or saved, or is damaged  |
//! | 16   | `NotWriter`          | the share is read-only, or the owner no longer lists this co-writer  |
//! | 17   | `WriteOutsideScope`  | a co-writer's write to a key outside its share's scope               |
//! | 18   | `HandedOver`         | this identity handed the vault over to another one (rotation)        |
//!
//! Codes never change meaning; new codes are only appended. Messages never contain secrets or
//! object contents.

use coffer::block::BlockError;
use coffer::index::IndexError;
use coffer::keys::KeyError;
use coffer::seal::SealError;
use coffer::share::ShareError;
use coffer::store::StoreError;
use coffer::vault::{HandoverError, VaultError};
use coffer::verify::VerifyError;

/// Errors of coffer's Kotlin/Swift API. Every variant carries its stable numeric `code` (see the
/// table in the crate docs and in `packages-kotlin/README.md`) and a human-readable `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, uniffi::Error)]
pub enum CofferError {
    /// Code 1: an argument is not usable.
    #[error("invalid input: {detail}")]
    InvalidInput {
        /// Always 1.
        code: u32,
        /// What is wrong.
        detail: String,
    },
    /// Code 2: a recipient or identity does not parse.
    #[error("invalid key: {detail}")]
    InvalidKey {
        /// Always 2.
        code: u32,
        /// What is wrong.
        detail: String,
    },
    /// Code 3: this identity cannot open the object or vault.
    #[error("wrong identity: {detail}")]
    WrongIdentity {
        /// Always 3.
        code: u32,
        /// What is wrong.
        detail: String,
    },
    /// Code 4: data failed authentication or verification.
    #[error("corrupt data: {detail}")]
    Corrupt {
        /// Always 4.
        code: u32,
        /// What is wrong.
        detail: String,
    },
    /// Code 5: no live object under that key.
    #[error("not found: {detail}")]
    NotFound {
        /// Always 5.
        code: u32,
        /// What is missing.
        detail: String,
    },
    /// Code 6: no vault of that name.
    #[error("no such vault: {detail}")]
    NoSuchVault {
        /// Always 6.
        code: u32,
        /// Which vault.
        detail: String,
    },
    /// Code 7: the vault already exists.
    #[error("already exists: {detail}")]
    AlreadyExists {
        /// Always 7.
        code: u32,
        /// Which vault.
        detail: String,
    },
    /// Code 8: a conditional write lost.
    #[error("precondition failed: {detail}")]
    PreconditionFailed {
        /// Always 8.
        code: u32,
        /// Which condition.
        detail: String,
    },
    /// Code 9: the store is unreachable, throttling or timed out.
    #[error("store unavailable: {detail}")]
    StoreUnavailable {
        /// Always 9.
        code: u32,
        /// What the store said.
        detail: String,
    },
    /// Code 10: the store refused the credentials.
    #[error("store access denied: {detail}")]
    StoreAccessDenied {
        /// Always 10.
        code: u32,
        /// What the store said.
        detail: String,
    },
    /// Code 11: any other store failure (including a foreign transport that threw).
    #[error("store error: {detail}")]
    Store {
        /// Always 11.
        code: u32,
        /// What the store said.
        detail: String,
    },
    /// Code 12: not available in this build or by this store.
    #[error("unsupported: {detail}")]
    Unsupported {
        /// Always 12.
        code: u32,
        /// What is missing.
        detail: String,
    },
    /// Code 13: a bug in coffer (a panic caught at the FFI boundary).
    #[error("internal error: {detail}")]
    Internal {
        /// Always 13.
        code: u32,
        /// What happened.
        detail: String,
    },
    /// Code 14: the store served an older state of a writer than this device saw (rolled back),
    /// a different head at a seq it saw (forked), or no longer serves a writer it saw: do not
    /// trust the store's current state (see `VaultOptions.trust`).
    #[error("untrusted store state: {detail}")]
    Untrusted {
        /// Always 14.
        code: u32,
        /// Which writer, and the seqs seen and served.
        detail: String,
    },
    /// Code 15: the device's trust memory (`TrustMemory`) could not be read or saved, or is
    /// damaged; nothing was refused or accepted on its account.
    #[error("trust memory: {detail}")]
    TrustStorage {
        /// Always 15.
        code: u32,
        /// What failed.
        detail: String,
    },
    /// Code 16: the share does not grant `write` (it is read-only), or the owner's views no
    /// longer list this identity as a writer of it.
    #[error("not a writer: {detail}")]
    NotWriter {
        /// Always 16.
        code: u32,
        /// What is wrong.
        detail: String,
    },
    /// Code 17: a co-writer tried to put or delete a key outside its share's scope (nothing was
    /// written).
    #[error("write outside the share's scope: {detail}")]
    WriteOutsideScope {
        /// Always 17.
        code: u32,
        /// Which key.
        detail: String,
    },
    /// Code 18: this identity handed the vault over to another one (identity rotation): it can no
    /// longer open or write the vault; open it with the identity the detail names.
    #[error("handed over: {detail}")]
    HandedOver {
        /// Always 18.
        code: u32,
        /// The vault and the identity it was handed over to.
        detail: String,
    },
}

macro_rules! ctor {
    ($($fn:ident => $variant:ident = $code:expr),* $(,)?) => {
        impl CofferError {
            $(
                #[doc = concat!("A `", stringify!($variant), "` (code ", stringify!($code), ").")]
                pub fn $fn(detail: impl std::fmt::Display) -> Self {
                    Self::$variant { code: $code, detail: detail.to_string() }
                }
            )*

            /// The stable numeric code.
            pub fn code(&self) -> u32 {
                match self {
                    $(Self::$variant { code, .. } => *code,)*
                }
            }
        }

        /// The code table: (code, variant name), in code order.
        pub const ERROR_CODES: &[(u32, &str)] = &[$(($code, stringify!($variant))),*];
    };
}

ctor! {
    invalid_input => InvalidInput = 1,
    invalid_key => InvalidKey = 2,
    wrong_identity => WrongIdentity = 3,
    corrupt => Corrupt = 4,
    not_found => NotFound = 5,
    no_such_vault => NoSuchVault = 6,
    already_exists => AlreadyExists = 7,
    precondition_failed => PreconditionFailed = 8,
    store_unavailable => StoreUnavailable = 9,
    store_access_denied => StoreAccessDenied = 10,
    store => Store = 11,
    unsupported => Unsupported = 12,
    internal => Internal = 13,
    untrusted => Untrusted = 14,
    trust_storage => TrustStorage = 15,
    not_writer => NotWriter = 16,
    write_outside_scope => WriteOutsideScope = 17,
    handed_over => HandedOver = 18,
}

impl CofferError {
    /// A trust error: a refusal of the store's state is `Untrusted`, a failing or damaged trust
    /// memory `TrustStorage`.
    pub(crate) fn from_trust(e: coffer::trust::TrustError) -> Self {
        use coffer::trust::TrustError as T;
        match e {
            e @ (T::RolledBack { .. } | T::Forked { .. } | T::MissingHead { .. }) => {
                Self::untrusted(e)
            }
            e => Self::trust_storage(e),
        }
    }
}

impl From<KeyError> for CofferError {
    fn from(e: KeyError) -> Self {
        Self::invalid_key(e)
    }
}

impl From<StoreError> for CofferError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::NotFound(_) | StoreError::Corrupt { .. } | StoreError::TooLarge { .. } => {
                Self::corrupt(e)
            }
            StoreError::RangeOutOfBounds { .. } | StoreError::InvalidName(_) => {
                Self::invalid_input(e)
            }
            StoreError::PreconditionFailed(_) => Self::precondition_failed(e),
            StoreError::AccessDenied(_) => Self::store_access_denied(e),
            StoreError::Unavailable(_) | StoreError::Throttled(_) | StoreError::Timeout(_) => {
                Self::store_unavailable(e)
            }
            StoreError::Unsupported(_) => Self::unsupported(e),
            _ => Self::store(e),
        }
    }
}

impl From<SealError> for CofferError {
    fn from(e: SealError) -> Self {
        match &e {
            SealError::NoMatchingRecipient => Self::wrong_identity(e),
            SealError::NoRecipients
            | SealError::TooManyRecipients(_)
            | SealError::InvalidRecipient
            | SealError::InvalidSegmentSize(_)
            | SealError::RangeOutOfBounds { .. } => Self::invalid_input(e),
            SealError::UnsupportedVersion(_) => Self::unsupported(e),
            SealError::Internal(_) | SealError::Cipher(_) => Self::internal(e),
            _ => Self::corrupt(e),
        }
    }
}

impl From<VerifyError> for CofferError {
    fn from(e: VerifyError) -> Self {
        match &e {
            VerifyError::InvalidRange { .. } | VerifyError::RangeBeyondEnd { .. } => {
                Self::invalid_input(e)
            }
            VerifyError::TooLarge { .. } => Self::unsupported(e),
            _ => Self::corrupt(e),
        }
    }
}

impl From<BlockError> for CofferError {
    fn from(e: BlockError) -> Self {
        match &e {
            BlockError::UnsupportedCid(_) => Self::invalid_input(e),
            _ => Self::corrupt(e),
        }
    }
}

impl From<IndexError> for CofferError {
    fn from(e: IndexError) -> Self {
        match e {
            IndexError::Store(s) => s.into(),
            IndexError::Block(b) => b.into(),
            e @ (IndexError::EmptyKey
            | IndexError::KeyTooLong { .. }
            | IndexError::ValueTooLarge { .. }
            | IndexError::InvalidToken(_)
            | IndexError::InvalidConfig(_)) => Self::invalid_input(e),
            e @ IndexError::Random => Self::internal(e),
            e => Self::corrupt(e),
        }
    }
}

impl From<ShareError> for CofferError {
    fn from(e: ShareError) -> Self {
        match e {
            ShareError::Store(st) => st.into(),
            ShareError::Index(i) => i.into(),
            e @ (ShareError::Expired { .. }
            | ShareError::NotYetValid { .. }
            | ShareError::Revoked) => Self::precondition_failed(e),
            e @ ShareError::NotForMe => Self::wrong_identity(e),
            e @ ShareError::NotFound => Self::not_found(e),
            e @ (ShareError::OutOfScope | ShareError::Invalid(_)) => Self::invalid_input(e),
            e @ ShareError::NotWriter => Self::not_writer(e),
            e @ ShareError::WriteOutsideScope { .. } => Self::write_outside_scope(e),
            e => Self::corrupt(e),
        }
    }
}

impl From<HandoverError> for CofferError {
    fn from(e: HandoverError) -> Self {
        match e {
            e @ HandoverError::HandedOver { .. } => Self::handed_over(e),
            e @ HandoverError::Refused(_) => Self::invalid_input(e),
            e @ HandoverError::V1Vault { .. } => Self::unsupported(e),
            // Two handovers from one identity: someone else holds its key; nothing was accepted.
            e @ HandoverError::Competing { .. } => Self::untrusted(e),
            // Malformed, forged, another vault's, a broken chain (and variants to come).
            e => Self::corrupt(e),
        }
    }
}

impl From<VaultError> for CofferError {
    #[allow(unreachable_patterns)] // VaultError may grow variants: they map to Internal-free defaults.
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::Store(s) => s.into(),
            VaultError::Seal(s) => s.into(),
            VaultError::Index(i) => i.into(),
            VaultError::Verify(v) => v.into(),
            VaultError::Block(b) => b.into(),
            VaultError::Share(s) => s.into(),
            e @ VaultError::NotFound => Self::not_found(e),
            e @ VaultError::PreconditionFailed(_) => Self::precondition_failed(e),
            e @ (VaultError::KeyTooLong { .. }
            | VaultError::InvalidKey(_)
            | VaultError::InvalidVersion(_)
            | VaultError::InvalidTags(_)
            | VaultError::Source(_)
            | VaultError::SourceChanged
            | VaultError::Output(_)) => Self::invalid_input(e),
            e @ VaultError::WrongIdentity => Self::wrong_identity(e),
            e @ VaultError::NoSuchVault { .. } => Self::no_such_vault(e),
            e @ VaultError::AlreadyExists { .. } => Self::already_exists(e),
            e @ (VaultError::Corrupt { .. }
            | VaultError::BadHeadSignature { .. }
            | VaultError::UnknownWriter { .. }
            | VaultError::BadHead { .. }
            | VaultError::ConflictingVaultKeys { .. }) => Self::corrupt(e),
            // A rollback, fork or hidden writer (the store's state is not trusted), or a failing
            // trust memory.
            VaultError::Trust(t) => Self::from_trust(t),
            VaultError::Handover(h) => h.into(),
            e => Self::store(e),
        }
    }
}

/// Runs `f`, turning a panic into [`CofferError::Internal`] so none crosses the FFI boundary.
pub(crate) fn guard<T>(f: impl FnOnce() -> Result<T, CofferError>) -> Result<T, CofferError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|p| Err(CofferError::internal(panic_text(&p))))
}

/// Runs `fut` on coffer's own runtime and awaits it there, turning a panic into
/// [`CofferError::Internal`].
///
/// uniffi polls an exported future on the thread that called it (Kotlin's dispatcher, Swift's
/// executor): work done inside a poll (sealing, hashing, a directory store's file I/O) would run
/// on an Android app's main thread when called from it. Spawned here, a poll only checks the
/// task, so every async export is safe to call from a UI thread. Dropping the returned future
/// (Kotlin cancelling its coroutine) aborts the task at its next await point.
pub(crate) async fn guard_async<T: Send + 'static>(
    fut: impl std::future::Future<Output = Result<T, CofferError>> + Send + 'static,
) -> Result<T, CofferError> {
    /// Aborts the task when the awaiting future is dropped (cancelled) before it finishes.
    struct AbortOnDrop<R>(tokio::task::JoinHandle<R>);
    impl<R> Drop for AbortOnDrop<R> {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let mut task = AbortOnDrop(runtime()?.spawn(fut));
    match (&mut task.0).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(CofferError::internal(panic_text(&e.into_panic()))),
        Err(e) => Err(CofferError::internal(format!(
            "the call's task ended early: {e}"
        ))),
    }
}

/// The multi-threaded tokio runtime every async export runs on (one worker per core; the S3
/// client needs its I/O and timer drivers), started on first use.
fn runtime() -> Result<&'static tokio::runtime::Runtime, CofferError> {
    static RUNTIME: std::sync::OnceLock<Result<tokio::runtime::Runtime, String>> =
        std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("coffer")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| CofferError::internal(format!("cannot start coffer's runtime: {e}")))
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    let what = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    format!("panic caught at the FFI boundary: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table is part of the public contract: changing a number is a breaking change.
    #[test]
    fn codes_are_stable() {
        let expected = [
            (1, "InvalidInput"),
            (2, "InvalidKey"),
            (3, "WrongIdentity"),
            (4, "Corrupt"),
            (5, "NotFound"),
            (6, "NoSuchVault"),
            (7, "AlreadyExists"),
            (8, "PreconditionFailed"),
            (9, "StoreUnavailable"),
            (10, "StoreAccessDenied"),
            (11, "Store"),
            (12, "Unsupported"),
            (13, "Internal"),
            (14, "Untrusted"),
            (15, "TrustStorage"),
            (16, "NotWriter"),
            (17, "WriteOutsideScope"),
            (18, "HandedOver"),
        ];
        assert_eq!(ERROR_CODES, expected.as_slice());
        assert_eq!(CofferError::corrupt("x").code(), 4);
    }

    /// Async exports run on coffer's runtime, not on the polling (caller's) thread; a panic there
    /// is an `Internal` error; dropping the call (a cancelled coroutine) drops the work.
    #[tokio::test]
    async fn async_calls_run_off_the_callers_thread_and_stop_when_dropped() {
        let caller = std::thread::current().id();
        let ran_on = guard_async(async { Ok(std::thread::current().id()) })
            .await
            .expect("no error");
        assert_ne!(ran_on, caller);

        let r: Result<(), _> = guard_async(async { panic!("boom") }).await;
        let e = r.expect_err("a panic is an error");
        assert_eq!(e.code(), 13);
        assert!(e.to_string().contains("boom"));

        struct SetOnDrop(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for SetOnDrop {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = SetOnDrop(dropped.clone());
        let call = guard_async(async move {
            let _flag = flag;
            std::future::pending::<Result<(), CofferError>>().await
        });
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(20), call).await;
        assert!(timed_out.is_err());
        for _ in 0..500 {
            if dropped.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the task kept running after its call was dropped");
    }

    #[test]
    fn panics_become_internal_errors() {
        let r: Result<(), _> = guard(|| panic!("boom"));
        let e = r.unwrap_err();
        assert_eq!(e.code(), 13);
        assert!(e.to_string().contains("boom"));
    }
}
