//! The vault's error type.

use crate::block::BlockError;
use crate::index::IndexError;
use crate::seal::SealError;
use crate::store::StoreError;
use crate::verify::VerifyError;

/// Errors of [`super::Vault`] operations. Messages name keys' lengths, CIDs and writer ids, never
/// object contents or key material.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No live object under the key (or no such version of it).
    #[error("no object under that key (or no such version); list the vault to see what exists")]
    NotFound,
    /// A conditional put's condition did not hold.
    #[error("precondition failed: {0}; re-read the object and retry")]
    PreconditionFailed(String),
    /// The key is longer than 1024 bytes.
    #[error("object key of {len} bytes is too long; keys are at most 1024 bytes")]
    KeyTooLong {
        /// The key's length in bytes.
        len: usize,
    },
    /// The key is not usable (empty).
    #[error("invalid object key: {0}")]
    InvalidKey(String),
    /// Tags beyond S3's limits.
    #[error("invalid tags: {0}")]
    InvalidTags(String),
    /// A version id that is not a version of this vault.
    #[error("invalid version id: {0}; use an id returned by versions() or head()")]
    InvalidVersion(String),
    /// A block the vault refers to is damaged, missing parts, or does not match its CID.
    #[error("block {cid} is corrupt: {detail}; restore it from a replica or another device")]
    Corrupt {
        /// The damaged block.
        cid: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A writer head whose signature does not verify: it was forged or damaged.
    #[error("the head of writer {writer} has a bad signature; it was rejected (forged or damaged)")]
    BadHeadSignature {
        /// The writer whose head was rejected.
        writer: String,
    },
    /// A writer head signed by someone who is not the vault owner.
    #[error(
        "the head of writer {writer} is signed by an unknown identity; it was rejected \
         (only the vault owner's devices may write in this version)"
    )]
    UnknownWriter {
        /// The writer whose head was rejected.
        writer: String,
    },
    /// A writer head that is not well formed.
    #[error("the head of writer {writer} is malformed: {detail}; it was rejected")]
    BadHead {
        /// The writer whose head was rejected.
        writer: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Heads of one vault that name different vault keys (two devices created the vault at once).
    #[error(
        "the heads of vault {vault} name different vault keys (it was created twice \
         concurrently); keep one writer's head and remove the others"
    )]
    ConflictingVaultKeys {
        /// The vault.
        vault: String,
    },
    /// The vault belongs to another identity (no head is signed by this one), or this identity
    /// cannot open the vault's key.
    #[error("this identity cannot open the vault's key; open the vault with the owner's identity")]
    WrongIdentity,
    /// The store holds no vault of that name.
    #[error("no vault named {vault} in this store; create it first or check the store and name")]
    NoSuchVault {
        /// The vault name.
        vault: String,
    },
    /// The store already holds a vault of that name.
    #[error("a vault named {vault} already exists in this store; open it instead")]
    AlreadyExists {
        /// The vault name.
        vault: String,
    },
    /// Reading the data to put failed (the file could not be opened or read).
    #[error("reading the data to put failed: {0}; nothing was committed")]
    Source(String),
    /// The data to put changed while it was being read (its reads gave different bytes).
    #[error(
        "the data to put changed while it was read; nothing was committed, put it again once it is stable"
    )]
    SourceChanged,
    /// Writing what was read to the caller's writer failed (e.g. a full disk).
    #[error("writing the object out failed: {0}")]
    Output(String),
    /// A retention policy that makes no sense (see [`super::RetentionPolicy::validate`]).
    #[error("invalid retention policy: {0}")]
    InvalidPolicy(String),
    /// Garbage collections kept running while this operation was in flight; nothing was
    /// committed. (Operations redo themselves when a collection interrupts them; this is what is
    /// left when that happened too many times in a row.)
    #[error(
        "garbage collections kept interrupting this operation; nothing was committed, retry later"
    )]
    GcInterrupted,
    /// Another collection is running on this vault (or took over this one).
    #[error("garbage collection refused: {0}")]
    GcBusy(String),
    /// The blocks of an upload waiting to be committed were removed by a collection (it was older
    /// than the collection's window, or a collection ran with no window); nothing was committed.
    #[error(
        "the upload of this object was collected as garbage before it was committed; upload it again"
    )]
    UploadCollected,
    /// A sharing error: a refused capability, an unknown share, an invalid expiry.
    #[error(transparent)]
    Share(#[from] crate::share::ShareError),
    /// What the store served contradicts what this device saw before (a rollback, a fork, a
    /// hidden writer): the store's state must not be trusted.
    #[error(transparent)]
    Trust(#[from] crate::trust::TrustError),
    /// An identity handover or rotation was refused (forged, broken, competing; this identity
    /// handed the vault over; a rotation the rules refuse).
    #[error(transparent)]
    Handover(#[from] super::handover::HandoverError),
    /// A store error.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A sealing or opening error.
    #[error(transparent)]
    Seal(#[from] SealError),
    /// An index error.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// A verification error outside a fetched block (e.g. a malformed outboard).
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// An encoding error of a vault structure.
    #[error(transparent)]
    Block(#[from] BlockError),
}

/// Result of vault operations.
pub type VaultResult<T> = Result<T, VaultError>;

impl VaultError {
    pub(crate) fn corrupt(cid: &crate::block::Cid, detail: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            cid: cid.to_string(),
            detail: detail.to_string(),
        }
    }
}
