//! uniffi bindings of coffer for Kotlin and Swift (proc-macros, no UDL).
//!
//! Exported: [`Identity`] and [`Recipient`] (generate, parse, text forms, sign/verify), [`seal`] and
//! [`open`], Bao verification ([`compute_outboard`], [`verify_outboard`], [`verify_range`]),
//! CIDs ([`cid_raw`], [`cid_verify`]), and the [`Vault`] with async methods, opened over a local
//! directory, S3 (feature `s3`, on by default; without it `open_s3` fails with `Unsupported`) or
//! an app-provided [`Transport`] implemented in Kotlin or Swift. Identities can also be derived
//! from a passphrase or a wallet signature ([`wallet_message`]).
//!
//! Sharing (`docs/FORMAT.md` §9): `Vault.share`/`shares`/`revoke`/`rotate` on the owner's side;
//! [`read_inbox`], [`ShareBook`], [`Share`] and [`SharedReader`] on the recipient's, over a
//! [`CofferStore`] (the same directory, S3 or transport choices as the vault). Read-write
//! shares (§9.1): `Vault.share(…, write = true)`, the co-writer's [`SharedWriter`] and the owner's
//! `Vault.mergeCowriters` (which `sync` also does).
//!
//! Identity rotation (§8): `Vault.rotateIdentity`, `Vault.handovers`, `Vault.owner` and
//! [`open_and_rotate_identity`].
//!
//! Trust memory: every `Vault.open*` takes optional [`VaultOptions`] whose `trust` (a
//! [`TrustMemory`]: a directory, this process's memory, or the app's own [`TrustStorage`]) keeps
//! what the device saw across restarts, so a store that rolls it back is refused (`Untrusted`).
//!
//! Every error is a [`CofferError`] with a stable numeric code (table in [`error`]). Panics are
//! caught at the boundary and reported as `Internal` (code 13). Async methods run on a tokio
//! runtime (`async_runtime = "tokio"`), which the S3 client needs.
//!
//! The exported API is the same on every target: nothing exported is behind `#[cfg]`.

mod cowrite;
mod crypto;
pub mod error;
mod link;
mod rotate;
mod share;
mod transport;
mod trust;
mod vault;

pub use cowrite::SharedWriter;
pub use crypto::{
    ByteRange, Identity, Opened, OutboardInfo, Recipient, blake3_hex, cid_dag_cbor, cid_raw,
    cid_verify, compute_outboard, covering_range, open, seal, verify_outboard, verify_range,
    wallet_message,
};
pub use error::CofferError;
pub use link::Link;
pub use rotate::{Handover, IdentityRotation, RotatedVault, open_and_rotate_identity};
pub use share::{
    Accepted, CofferStore, InboxEntry, RotationReport, Share, ShareBook, ShareInfo, ShareScope,
    ShareStatus, SharedObjectInfo, SharedReader, now_ms, parse_duration_ms, read_inbox,
};
pub use transport::{HeadRecord, HeadWriteCondition, Transport, TransportError};
pub use trust::{TrustMemory, TrustStorage, TrustStorageError};
pub use vault::{
    DeleteOutcome, ListParams, ListResult, ListedObject, ObjectInfo, OpenMode, PutParams,
    S3Credentials, S3Settings, SkippedHead, SyncResult, Vault, VaultOptions,
};

/// The version of coffer these bindings wrap.
#[uniffi::export]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

uniffi::setup_scaffolding!();

#[cfg(test)]
mod tests;
