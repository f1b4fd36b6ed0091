//! The local directory store, coffer's embedded default (native only).
//!
//! Layout under the root (see `docs/FORMAT.md §7`):
//!
//! ```text
//! coffer-store            marker: "coffer dir store v1\n"
//! blocks/<xy>/<cid>       one file per block; <xy> = the 3rd- and 2nd-last characters of the
//!                         base32 CID string (1024 fan-out directories, like Kubo's flatfs)
//! heads/<vault>/<writer>  one file per writer head
//! heads/<vault>/.lock     lock file serialising conditional head writes across processes
//! ```
//!
//! Every write goes to a `.tmp-…` file in the destination's directory, is fsynced, renamed over
//! the destination and the directory is fsynced: after a crash a reader sees the old file or the
//! new one, never a part (leftover temp files are ignored and removed by
//! [`DirStore::clean_temp_files`]). The I/O is blocking `std::fs` on the calling task: blocks are
//! small and coffer must not spawn onto a runtime. [`DirStore::without_fsync`] skips the fsyncs
//! (benches and tests only).

mod atomic;
mod heads;

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::stream::{check_digest, check_len, fill_buf};
use super::{
    BlobSource, BlockStore, ByteStream, StoreError, StoreResult, check_max, check_range_u64,
};
use crate::block::Cid;
use atomic::{TEMP_PREFIX, TempFile, create_dir_durable, sync_parent, write_atomic};

/// Contents of the marker file at the root.
const MARKER: &[u8] = b"coffer dir store v1\n";
/// Name of the marker file.
const MARKER_NAME: &str = "coffer-store";
/// Chunk size of streamed reads and writes.
const STREAM_CHUNK: usize = 1 << 20;

/// A block and head store in a local directory; safe to share between threads and processes.
#[derive(Clone, Debug)]
pub struct DirStore {
    root: PathBuf,
    /// Whether writes are fsynced (always, but for [`DirStore::without_fsync`]).
    fsync: bool,
}

impl DirStore {
    /// Opens the store at `root`, creating it when missing. Fails when `root` holds something
    /// that is not a coffer directory store of this version.
    pub fn open(root: impl AsRef<Path>) -> StoreResult<Self> {
        let root = root.as_ref().to_path_buf();
        create_dir_durable(&root, true)?;
        let marker = root.join(MARKER_NAME);
        match fs::read(&marker) {
            Ok(found) if found == MARKER => {}
            Ok(_) => {
                return Err(StoreError::Config(format!(
                    "{} is not a coffer directory store of layout v1 (unexpected {MARKER_NAME} file)",
                    root.display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => write_atomic(&marker, MARKER, true)?,
            Err(e) => return Err(StoreError::io(&marker, e)),
        }
        create_dir_durable(&root.join("blocks"), true)?;
        create_dir_durable(&root.join("heads"), true)?;
        Ok(Self { root, fsync: true })
    }

    /// The same store with no fsync on any write: files are still written beside and renamed
    /// into place (a reader never sees a part), but a crash of the machine can lose, or leave
    /// empty, files written shortly before it. **For benches and tests only** (filling a store
    /// fast before measuring on the durable one over the same directory); never for data.
    pub fn without_fsync(mut self) -> Self {
        self.fsync = false;
        self
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the block `cid` lives.
    pub fn block_path(&self, cid: &Cid) -> PathBuf {
        let name = cid.to_string();
        let n = name.len();
        let fan = name
            .get(n.saturating_sub(3)..n.saturating_sub(1))
            .unwrap_or("__");
        self.root.join("blocks").join(fan).join(name)
    }

    /// Removes temp files left by crashed writers that are older than `older_than` (younger ones
    /// may belong to a write in progress). Returns how many were removed.
    pub fn clean_temp_files(&self, older_than: Duration) -> StoreResult<usize> {
        let mut removed = 0;
        let mut dirs = vec![self.root.clone()];
        for top in ["blocks", "heads"] {
            for entry in read_dir(&self.root.join(top))? {
                if entry.is_dir() {
                    dirs.push(entry);
                }
            }
        }
        for dir in dirs {
            for path in read_dir(&dir)? {
                let is_temp = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(TEMP_PREFIX));
                let old = fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age >= older_than);
                if is_temp && old && fs::remove_file(&path).is_ok() {
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    fn open_block(&self, cid: &Cid) -> StoreResult<(File, PathBuf)> {
        let path = self.block_path(cid);
        match File::open(&path) {
            Ok(f) => Ok((f, path)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(StoreError::NotFound(cid.to_string()))
            }
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }
}

/// The entries of `dir` (empty when it does not exist).
fn read_dir(dir: &Path) -> StoreResult<Vec<PathBuf>> {
    match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.map(|e| e.path()).map_err(|e| StoreError::io(dir, e)))
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(StoreError::io(dir, e)),
    }
}

#[async_trait::async_trait]
impl BlockStore for DirStore {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        let path = self.block_path(cid);
        if path.is_file() {
            return Ok(());
        }
        let dir = path
            .parent()
            .ok_or_else(|| StoreError::Other("block path has no parent".into()))?;
        create_dir_durable(dir, self.fsync)?;
        write_atomic(&path, &bytes, self.fsync)
    }

    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        let (mut file, path) = self.open_block(cid)?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)
            .map_err(|e| StoreError::io(&path, e))?;
        Ok(Bytes::from(buf))
    }

    /// Checks the file's length before reading, then reads at most one byte more than the
    /// limit (a file replaced meanwhile is a different inode; this one cannot grow).
    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        let (file, path) = self.open_block(cid)?;
        let len = file.metadata().map_err(|e| StoreError::io(&path, e))?.len();
        check_max(cid, len, max_len)?;
        let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.take(max_len.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| StoreError::io(&path, e))?;
        check_max(cid, buf.len() as u64, max_len)?;
        Ok(Bytes::from(buf))
    }

    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        let (mut file, path) = self.open_block(cid)?;
        let len = file.metadata().map_err(|e| StoreError::io(&path, e))?.len();
        check_range_u64(cid, &range, len)?;
        let want = usize::try_from(range.end - range.start).map_err(|_| {
            StoreError::Unsupported("range larger than this platform's memory".into())
        })?;
        let mut buf = vec![0u8; want];
        file.seek(SeekFrom::Start(range.start))
            .and_then(|_| file.read_exact(&mut buf))
            .map_err(|e| StoreError::io(&path, e))?;
        Ok(Bytes::from(buf))
    }

    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        let path = self.block_path(cid);
        match fs::metadata(&path) {
            Ok(m) => Ok(m.is_file()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }

    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        let path = self.block_path(cid);
        match fs::remove_file(&path) {
            Ok(()) => sync_parent(&path, self.fsync),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }

    async fn list(&self) -> StoreResult<Vec<Cid>> {
        let mut out = Vec::new();
        for fan in read_dir(&self.root.join("blocks"))? {
            for path in read_dir(&fan)? {
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                if name.starts_with('.') {
                    continue;
                }
                if let Ok(cid) = Cid::try_from(name) {
                    out.push(cid);
                }
            }
        }
        Ok(out)
    }

    async fn for_each_block(
        &self,
        each: &mut (dyn FnMut(Cid, Option<u64>) + Send),
    ) -> StoreResult<()> {
        for fan in read_dir(&self.root.join("blocks"))? {
            let entries = fs::read_dir(&fan).map_err(|e| StoreError::io(&fan, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| StoreError::io(&fan, e))?;
                let name = entry.file_name();
                let Some(name) = name.to_str().filter(|n| !n.starts_with('.')) else {
                    continue;
                };
                if let Ok(cid) = Cid::try_from(name) {
                    each(cid, entry.metadata().ok().map(|m| m.len()));
                }
            }
        }
        Ok(())
    }

    /// Streams into a temp file with 1 MiB of memory, checks the BLAKE3 against `cid`, then
    /// commits with fsync + rename.
    async fn put_stream(
        &self,
        cid: &Cid,
        mut source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        let path = self.block_path(cid);
        let dir = path
            .parent()
            .ok_or_else(|| StoreError::Other("block path has no parent".into()))?;
        create_dir_durable(dir, self.fsync)?;
        let mut tmp = TempFile::new_in(dir)?;
        let mut hasher = blake3::Hasher::new();
        let mut buf = vec![0u8; STREAM_CHUNK];
        let mut total = 0u64;
        loop {
            let n = fill_buf(&mut source, &mut buf).await?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            tmp.write_all(&buf[..n])?;
            total += n as u64;
        }
        check_len(len, total)?;
        check_digest(cid, &hasher.finalize())?;
        if path.is_file() {
            return Ok(());
        }
        tmp.commit(&path, self.fsync)
    }

    /// Yields at most the file's length as it was when opened; more ends the stream with
    /// [`StoreError::TooLarge`].
    async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> {
        let (file, path) = self.open_block(cid)?;
        let len = file.metadata().map_err(|e| StoreError::io(&path, e))?.len();
        let cid = *cid;
        let state = (file, path, 0u64);
        let stream = futures_util::stream::unfold(Some(state), move |state| async move {
            let (mut file, path, sent) = state?;
            let mut buf = BytesMut::zeroed(STREAM_CHUNK);
            let mut filled = 0;
            while filled < buf.len() {
                match file.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Some((Err(StoreError::io(&path, e)), None)),
                }
            }
            if filled == 0 {
                return None;
            }
            let sent = sent + filled as u64;
            if sent > len {
                return Some((Err(StoreError::block_too_large(&cid, None, len)), None));
            }
            buf.truncate(filled);
            Some((Ok(buf.freeze()), Some((file, path, sent))))
        });
        Ok(Box::pin(stream))
    }
}
