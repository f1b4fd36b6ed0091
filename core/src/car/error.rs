//! What can go wrong moving a vault in a CAR file.

use crate::store::StoreError;
use crate::vault::VaultError;

/// Why an export or import failed. Import errors about the file mean nothing was written, or
/// (for a file that changed while it was imported) no head was: the target never claims a vault
/// it does not hold whole.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CarError {
    /// Reading or writing the file failed.
    #[error("CAR file I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The file is not a coffer vault export: bad CAR header, bad varint, unreadable root block.
    #[error("not a coffer vault export: {0}")]
    Malformed(String),
    /// The file ends inside a section (an export that did not finish, or a cut copy).
    #[error("the CAR file is truncated: a section at byte {offset} runs past its end")]
    Truncated {
        /// Where the section starts.
        offset: u64,
    },
    /// A section is larger than its kind allows (see `docs/FORMAT.md` §10).
    #[error("a section at byte {offset} holds {len} bytes, more than the {limit} allowed for it")]
    TooLarge {
        /// Where the section starts.
        offset: u64,
        /// Its declared length.
        len: u64,
        /// The limit.
        limit: u64,
    },
    /// A block's bytes do not hash to its CID, or its CID is not one coffer writes (CIDv1,
    /// BLAKE3, raw or DAG-CBOR).
    #[error("block {cid} is corrupt: {detail}")]
    BadBlock {
        /// The block.
        cid: String,
        /// What is wrong.
        detail: String,
    },
    /// A CID appears twice in the file.
    #[error("block {0} appears twice in the file")]
    Duplicate(String),
    /// The root block announces another number of blocks than the file holds.
    #[error("the root block announces {declared} blocks but the file holds {found}")]
    CountMismatch {
        /// What the root block says.
        declared: u64,
        /// What the file holds (so far, when more).
        found: u64,
    },
    /// A block in the file that the vault's heads do not reference.
    #[error("block {0} in the file is not referenced by the vault: refusing a foreign block")]
    ForeignBlock(String),
    /// A block the vault references is in neither the file (import) nor the source store
    /// (export).
    #[error("block {cid} referenced by the vault is missing ({what})")]
    MissingBlock {
        /// The block.
        cid: String,
        /// Where it was looked for and what it is.
        what: String,
    },
    /// A head record that does not verify as the vault's (wrong owner, forged, another vault,
    /// a namespace that is not the vault's).
    #[error("head {writer} in {namespace} is not this vault's: {reason}")]
    BadHead {
        /// Its namespace.
        namespace: String,
        /// Its writer.
        writer: String,
        /// Why it was refused.
        reason: String,
    },
    /// The target already holds another version of a head of this vault: it has the vault
    /// already, with a different state. Import into a store without it (or sync the two).
    #[error(
        "the target already holds a different head {writer} in {namespace}: it has this vault \
         with another state; import into a store without it"
    )]
    HeadConflict {
        /// Its namespace.
        namespace: String,
        /// Its writer.
        writer: String,
    },
    /// Opening or walking the vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
