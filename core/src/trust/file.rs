//! Trust memory in a local directory: one file per document, written atomically, mode 0600.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{TrustError, TrustResult, TrustStore};

/// Trust documents as files in a directory (created with mode 0700 on Unix), each written to a
/// temporary file, synced and renamed over the old one, readable by the owner only. File names
/// are the BLAKE3 of the document name, so any name is safe.
#[derive(Clone, Debug)]
pub struct FileTrust {
    dir: PathBuf,
}

impl FileTrust {
    /// Trust memory in `dir` (created when missing).
    pub fn open(dir: impl AsRef<Path>) -> TrustResult<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| storage(&dir, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| storage(&dir, e))?;
        }
        Ok(Self { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        let h = blake3::hash(name.as_bytes());
        self.dir.join(format!("{}.trust", &h.to_hex()[..32]))
    }
}

fn storage(path: &Path, e: std::io::Error) -> TrustError {
    TrustError::Storage(format!("{}: {e}", path.display()))
}

#[async_trait::async_trait]
impl TrustStore for FileTrust {
    async fn load(&self, name: &str) -> TrustResult<Option<Vec<u8>>> {
        let path = self.path(name);
        match std::fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(storage(&path, e)),
        }
    }

    async fn save(&self, name: &str, bytes: Vec<u8>) -> TrustResult<()> {
        let path = self.path(name);
        let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
        let write = || -> std::io::Result<()> {
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            Ok(())
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            storage(&path, e)
        })
    }
}
