//! Moving a vault between stores in a CAR v1 file (`docs/FORMAT.md` §10, "Vault export"):
//! [`export_car`] writes everything a vault references (every block its heads reach, and the
//! head records themselves) to a file; [`import_car`] checks such a file completely and copies it
//! into another store of any kind, so a vault can leave an old IPFS node for a new one, a
//! cluster, S3 or a directory.
//!
//! **The file is hostile.** Import writes nothing until the whole file has been read and checked:
//! every block hashes to its CID (BLAKE3, raw or DAG-CBOR), no section is larger than the file or
//! its kind allows, no CID appears twice, the count matches the root block's; then the vault is
//! opened *from the file* with the owner's identity, its heads verified exactly as heads read from
//! a store are, and the same walk a collection marks with lists what they reference: a block in
//! the file that nothing references, or a referenced block missing from the file, fails the
//! import. Only then are blocks copied (skipping those the target has, which makes an interrupted
//! import resumable), each verified again as it is written, and the heads written last.
//!
//! **Export is resumable too:** the file's order is fixed (header, root block, blocks by CID
//! bytes), so re-running an export into a partial file keeps the verified prefix that matches
//! and appends the rest, unless the vault changed meanwhile (then it starts over).

mod error;
mod export;
mod file;
mod import;
mod view;

pub use error::CarError;
pub use export::{ExportReport, export_car};
pub use file::{CarFile, MAX_ROOT_BLOCK, MAX_SECTION, fuzz_vault_car};
pub use import::{ImportReport, import_car};

/// Which step of an export or import a [`CarProgress`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CarPhase {
    /// Export: walking the vault to list what it references.
    Walk,
    /// Import: reading and hashing every block of the file.
    Scan,
    /// Import: opening the vault from the file and checking what its heads reference.
    Check,
    /// Export: writing blocks to the file; import: writing blocks to the store.
    Copy,
    /// Import: writing the head records.
    Heads,
}

/// How far an export or import is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CarProgress {
    /// The step.
    pub phase: CarPhase,
    /// Blocks done in this step (including those skipped because already there).
    pub blocks_done: u64,
    /// Blocks in this step (0 while the walk still counts).
    pub blocks_total: u64,
    /// Bytes of block data done in this step.
    pub bytes_done: u64,
    /// Bytes of block data in this step, when known (import knows it after the scan).
    pub bytes_total: Option<u64>,
}

/// A progress callback, called after every block and at each step's start.
pub type CarProgressFn<'a> = &'a mut (dyn FnMut(&CarProgress) + Send);

fn report(progress: &mut Option<CarProgressFn<'_>>, p: CarProgress) {
    if let Some(f) = progress.as_mut() {
        f(&p);
    }
}
