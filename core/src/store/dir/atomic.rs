//! Crash-safe file replacement: write a temp file in the target's directory, fsync it, rename it
//! over the target, fsync the directory. A reader sees the old file or the new one, never a part.
//!
//! Every function takes `fsync`: `false` (a store made with `DirStore::without_fsync`, benches and
//! tests only) keeps the temp file and the rename, so readers still never see a part, but leaves
//! durability to the OS's cache.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::store::{StoreError, StoreResult};

/// Prefix of temp files; listings skip names starting with '.'.
pub(super) const TEMP_PREFIX: &str = ".tmp-";

/// A temp file next to its destination, removed on drop unless committed.
pub(super) struct TempFile {
    path: PathBuf,
    file: Option<File>,
}

impl TempFile {
    /// Creates a fresh, exclusive temp file in `dir`.
    pub(super) fn new_in(dir: &Path) -> StoreResult<Self> {
        let mut rnd = [0u8; 12];
        getrandom::fill(&mut rnd)
            .map_err(|e| StoreError::Other(format!("no randomness for a temp file name: {e}")))?;
        let name = format!(
            "{TEMP_PREFIX}{}",
            rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let path = dir.join(name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        Ok(Self {
            path,
            file: Some(file),
        })
    }

    /// Appends `bytes`.
    pub(super) fn write_all(&mut self, bytes: &[u8]) -> StoreResult<()> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| StoreError::Other("temp file already committed".into()))?;
        file.write_all(bytes)
            .map_err(|e| StoreError::io(&self.path, e))
    }

    /// Makes the contents durable and renames the file to `dest`, then makes the rename durable
    /// (without `fsync`: only renames).
    pub(super) fn commit(mut self, dest: &Path, fsync: bool) -> StoreResult<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| StoreError::Other("temp file already committed".into()))?;
        if fsync {
            file.sync_all().map_err(|e| StoreError::io(&self.path, e))?;
        }
        drop(file);
        fs::rename(&self.path, dest).map_err(|e| StoreError::io(dest, e))?;
        // The rename is done; nothing is left to clean up even if the directory sync fails.
        self.path = PathBuf::new();
        sync_parent(dest, fsync)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes `bytes` to `dest` atomically and (with `fsync`) durably.
pub(super) fn write_atomic(dest: &Path, bytes: &[u8], fsync: bool) -> StoreResult<()> {
    let dir = dest
        .parent()
        .ok_or_else(|| StoreError::Other(format!("{} has no parent", dest.display())))?;
    let mut tmp = TempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.commit(dest, fsync)
}

/// fsyncs the directory holding `path`, so a create, rename or removal in it survives a crash
/// (nothing without `fsync`).
pub(super) fn sync_parent(path: &Path, fsync: bool) -> StoreResult<()> {
    match path.parent() {
        Some(dir) if fsync => sync_dir(dir),
        _ => Ok(()),
    }
}

/// fsyncs directory `dir`.
#[cfg(unix)]
pub(super) fn sync_dir(dir: &Path) -> StoreResult<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io(dir, e))
}

/// Directories cannot be opened for fsync on Windows; NTFS journals the rename itself.
#[cfg(not(unix))]
pub(super) fn sync_dir(_dir: &Path) -> StoreResult<()> {
    Ok(())
}

/// Creates `dir` (and missing parents) durably: each new directory's entry is fsynced (not
/// without `fsync`).
pub(super) fn create_dir_durable(dir: &Path, fsync: bool) -> StoreResult<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_durable(parent, fsync)?;
    }
    match fs::create_dir(dir) {
        Ok(()) => sync_parent(dir, fsync),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::io(dir, e)),
    }
}
