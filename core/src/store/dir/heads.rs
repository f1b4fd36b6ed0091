//! Writer heads in the directory store.
//!
//! Reads need no lock: a head file is only ever replaced by an atomic rename. Writes take an
//! exclusive advisory lock (`flock`/`LockFileEx` through `File::lock`) on `heads/<vault>/.lock`,
//! read the current head, check the condition, replace the file atomically and unlock, so a
//! compare-and-swap is atomic across threads and processes on one machine. Advisory locks are not
//! reliable on some network file systems; keep the store on a local disk.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

use bytes::Bytes;

use super::DirStore;
use super::atomic::{create_dir_durable, write_atomic};
use crate::store::head::{
    check_condition, check_head_count, check_head_len, content_version, head_too_large,
};
use crate::store::{
    ConditionalWrites, Head, HeadCondition, HeadStore, HeadVersion, StoreError, StoreResult,
    validate_name,
};

/// Reads a head file, refusing one over [`crate::store::MAX_HEAD_BYTES`] before reading it;
/// `None` when it does not exist.
fn read_head_file(path: &Path, vault: &str, writer: &str) -> StoreResult<Option<Bytes>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    let len = file.metadata().map_err(|e| StoreError::io(path, e))?.len();
    check_head_len(vault, writer, len)?;
    let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(crate::store::MAX_HEAD_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| StoreError::io(path, e))?;
    if buf.len() as u64 > crate::store::MAX_HEAD_BYTES {
        return Err(head_too_large(vault, writer, None));
    }
    Ok(Some(Bytes::from(buf)))
}

#[async_trait::async_trait]
impl HeadStore for DirStore {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        validate_name(vault)?;
        let dir = self.root.join("heads").join(vault);
        let mut heads = Vec::new();
        let mut paths = Vec::new();
        for path in super::read_dir(&dir)? {
            let named = path
                .file_name()
                .and_then(|n| n.to_str())
                // The lock file and temp files start with '.'.
                .is_some_and(|w| validate_name(w).is_ok());
            if named {
                paths.push(path);
                check_head_count(vault, paths.len())?;
            }
        }
        for path in paths {
            let Some(writer) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            // `None`: removed between listing and reading.
            let Some(bytes) = read_head_file(&path, vault, writer)? else {
                continue;
            };
            heads.push(Head {
                writer: writer.to_string(),
                version: content_version(&bytes),
                bytes,
            });
        }
        Ok(heads)
    }

    async fn read_head(&self, vault: &str, writer: &str) -> StoreResult<Option<Head>> {
        validate_name(vault)?;
        validate_name(writer)?;
        let path = self.root.join("heads").join(vault).join(writer);
        Ok(read_head_file(&path, vault, writer)?.map(|bytes| Head {
            writer: writer.to_string(),
            version: content_version(&bytes),
            bytes,
        }))
    }

    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<HeadVersion> {
        validate_name(vault)?;
        validate_name(writer)?;
        let dir = self.root.join("heads").join(vault);
        create_dir_durable(&dir, self.fsync)?;
        let lock_path = dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::io(&lock_path, e))?;
        lock.lock().map_err(|e| StoreError::io(&lock_path, e))?;
        let path = dir.join(writer);
        let current = match read_head_file(&path, vault, writer) {
            Ok(b) => b.map(|b| content_version(&b)),
            // Not read whole; no version it could have matches a head coffer accepted.
            Err(StoreError::TooLarge { .. }) => Some(HeadVersion("oversized".into())),
            Err(e) => return Err(e),
        };
        check_condition(
            &format!("head {vault}/{writer}"),
            current.as_ref(),
            &condition,
        )?;
        write_atomic(&path, &bytes, self.fsync)?;
        // Dropping `lock` closes the file, which releases the lock.
        drop(lock);
        Ok(content_version(&bytes))
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        ConditionalWrites::Enforced
    }
}
