//! Writer heads in the directory store.
//!
//! Reads need no lock: a head file is only ever replaced by an atomic rename. Writes take an
//! exclusive advisory lock (`flock`/`LockFileEx` through `File::lock`) on `heads/<vault>/.lock`,
//! read the current head, check the condition, replace the file atomically and unlock, so a
//! compare-and-swap is atomic across threads and processes on one machine. Advisory locks are not
//! reliable on some network file systems; keep the store on a local disk.

use std::fs::{self, OpenOptions};
use std::io;

use bytes::Bytes;

use super::DirStore;
use super::atomic::{create_dir_durable, write_atomic};
use crate::store::head::{check_condition, content_version};
use crate::store::{
    ConditionalWrites, Head, HeadCondition, HeadStore, HeadVersion, StoreError, StoreResult,
    validate_name,
};

#[async_trait::async_trait]
impl HeadStore for DirStore {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        validate_name(vault)?;
        let dir = self.root.join("heads").join(vault);
        let mut heads = Vec::new();
        for path in super::read_dir(&dir)? {
            let Some(writer) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if validate_name(writer).is_err() {
                continue; // the lock file and temp files start with '.'
            }
            let bytes = match fs::read(&path) {
                Ok(b) => Bytes::from(b),
                // Removed between listing and reading.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io(&path, e)),
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
        match fs::read(&path) {
            Ok(b) => {
                let bytes = Bytes::from(b);
                Ok(Some(Head {
                    writer: writer.to_string(),
                    version: content_version(&bytes),
                    bytes,
                }))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(&path, e)),
        }
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
        create_dir_durable(&dir)?;
        let lock_path = dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StoreError::io(&lock_path, e))?;
        lock.lock().map_err(|e| StoreError::io(&lock_path, e))?;
        let path = dir.join(writer);
        let current = match fs::read(&path) {
            Ok(b) => Some(content_version(&b)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        check_condition(
            &format!("head {vault}/{writer}"),
            current.as_ref(),
            &condition,
        )?;
        write_atomic(&path, &bytes)?;
        // Dropping `lock` closes the file, which releases the lock.
        drop(lock);
        Ok(content_version(&bytes))
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        ConditionalWrites::Enforced
    }
}
