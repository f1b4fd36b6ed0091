//! `coffer import ./photos`: a local directory tree as an import source (see [`crate::import`]).
//! Files are found as `put -r` finds them ([`crate::tree_put::walk`]: regular files, symbolic
//! links not followed); each file's modification time is kept in `coffer-mtime`.

use std::path::PathBuf;

use crate::config::StoreUrl;
use crate::import::{Body, Fetched, Item, Refused, WHOLE_OBJECT_MAX, put_options};
use crate::tree;
use crate::{CliError, CliResult};

/// A local directory to import.
pub struct DirSource {
    dir: PathBuf,
}

impl DirSource {
    /// The directory `path`; refused when it holds (or is inside) the vault's own store
    /// directory, whose files are coffer's ciphertext.
    pub fn new(path: &str, target: &StoreUrl) -> CliResult<Self> {
        let dir = PathBuf::from(path);
        let meta = std::fs::metadata(&dir).map_err(|e| CliError::io(&dir, e))?;
        if !meta.is_dir() {
            return Err(CliError::usage(format!(
                "{} is not a directory (coffer import DIR, or s3://bucket/prefix)",
                dir.display()
            )));
        }
        let canon = dir.canonicalize().map_err(|e| CliError::io(&dir, e))?;
        for store in local_stores(target) {
            let store = store.canonicalize().unwrap_or(store);
            if canon.starts_with(&store) || store.starts_with(&canon) {
                return Err(CliError::usage(format!(
                    "refusing to import {}: it overlaps the vault's own store {} (that would \
                     import coffer's own ciphertext)",
                    dir.display(),
                    store.display()
                )));
            }
        }
        Ok(Self { dir })
    }

    /// How reports name it.
    pub fn describe(&self) -> String {
        self.dir.display().to_string()
    }

    /// Every regular file, in key order; names that cannot be keys are reported in `skipped`.
    pub fn list(&self, skipped: &mut Vec<(String, String)>) -> CliResult<Vec<Item>> {
        let mut files = Vec::new();
        let mut walked = tree::Summary::default();
        crate::tree_put::walk(&self.dir, "", &mut files, &mut walked)?;
        for (name, e) in walked.failed {
            skipped.push((name, e.message));
        }
        let mut items: Vec<Item> = files
            .into_iter()
            .map(|f| Item {
                name: f.rel.clone(),
                rel: f.rel,
                size: f.size,
                etag: None,
                mtime_ns: f.mtime,
                path: Some(f.path),
            })
            .collect();
        items.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(items)
    }

    /// Reads a file: whole when small, else hashed in place (the streaming upload reads it
    /// again and refuses it if it changes meanwhile).
    pub fn fetch(
        &self,
        item: &Item,
        progress: &indicatif::ProgressBar,
    ) -> Result<Fetched, Refused> {
        let path = item
            .path
            .as_deref()
            .ok_or_else(|| Refused::Failed(CliError::other("a directory item without a path")))?;
        let meta = std::fs::metadata(path).map_err(|e| CliError::io(path, e))?;
        let mtime = tree::mtime_ns(&meta);
        if meta.len() != item.size || mtime != item.mtime_ns {
            return Err(Refused::Skipped(
                "changed during the import (size or modification time differs from the listing): not imported".into(),
            ));
        }
        let (body, hash) = if meta.len() <= WHOLE_OBJECT_MAX {
            let bytes = std::fs::read(path).map_err(|e| CliError::io(path, e))?;
            if bytes.len() as u64 != item.size {
                return Err(Refused::Skipped(
                    "changed while it was read: not imported".into(),
                ));
            }
            let hash = blake3::hash(&bytes);
            (Body::Memory(bytes), hash)
        } else {
            let mut hasher = blake3::Hasher::new();
            let file = std::fs::File::open(path).map_err(|e| CliError::io(path, e))?;
            let n = tokio::task::block_in_place(|| hasher.update_reader(file).map(|_| ()))
                .map_err(|e| CliError::io(path, e));
            n?;
            (
                Body::File {
                    path: path.to_path_buf(),
                    _spool: None,
                },
                hasher.finalize(),
            )
        };
        progress.inc(item.size);
        Ok(Fetched {
            body,
            blake3: hash,
            opts: put_options(None, Default::default(), mtime, &hash, None),
        })
    }

    /// Deletes a file, unless it changed since it was listed.
    pub fn delete(&self, item: &Item) -> CliResult {
        let Some(path) = item.path.as_deref() else {
            return Ok(());
        };
        let meta = std::fs::metadata(path).map_err(|e| CliError::io(path, e))?;
        if meta.len() != item.size || tree::mtime_ns(&meta) != item.mtime_ns {
            return Err(CliError::other(format!(
                "{}: changed since it was imported; kept",
                path.display()
            )));
        }
        std::fs::remove_file(path).map_err(|e| CliError::io(path, e))
    }
}

/// The local directories a store URL keeps blocks in.
fn local_stores(url: &StoreUrl) -> Vec<PathBuf> {
    match url {
        StoreUrl::File(p) => vec![p.clone()],
        StoreUrl::Erasure { backends, .. } => backends.iter().flat_map(local_stores).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_overlapping_the_store_is_refused() {
        let d = tempfile::tempdir().expect("temp dir");
        let store = d.path().join("store");
        std::fs::create_dir_all(store.join("blocks")).expect("mkdir");
        let url = StoreUrl::File(store.clone());
        for bad in [d.path().to_path_buf(), store.clone(), store.join("blocks")] {
            let r = DirSource::new(&bad.display().to_string(), &url);
            assert!(r.is_err(), "{}", bad.display());
        }
        let other = d.path().join("photos");
        std::fs::create_dir_all(&other).expect("mkdir");
        assert!(DirSource::new(&other.display().to_string(), &url).is_ok());
    }
}
