//! Large objects with bounded memory: puts that stream from a re-readable source, gets that
//! stream verified plaintext into a writer.
//!
//! **Put.** A store addresses a blob by its CID, so the CID of the sealed object must be known
//! before its upload starts. [`Vault::put_source`] therefore reads the source three times, holding
//! about one segment and one chunk in memory each time:
//! 1. hashes the plaintext (BLAKE3) and derives the object's **upload seed** from the vault's
//!    upload key, the object key, that hash and the length;
//! 2. seals the plaintext with randomness drawn from the seed and computes the Bao outboard of the
//!    sealed bytes (whose root is the sealed object's CID), discarding the sealed bytes;
//! 3. seals again (the same bytes, since the randomness is the same) straight into the store's
//!    [`BlockStore::put_stream`], which checks the bytes against the CID while they stream.
//!
//! The same source put under the same key of the same vault seals to the same bytes, which makes
//! an interrupted upload **resumable**: putting the file again resumes where the store left off
//! (S3 lists the multipart parts already uploaded; a sealed object already in the store is not
//! uploaded again). The price is that the store can tell when identical content is put again under
//! the same key (the CIDs are equal); it learns nothing else. Different content, or another key
//! or vault, gives an unrelated seed, so a file key and its nonces are never reused.
//!
//! **Get.** [`Vault::get_to`] reads an object of at most 1 MiB sealed whole, checked against the
//! manifest's BLAKE3 root before it is opened (one round trip). A larger one: it fetches the
//! outboard (1/256 of the object), then streams the sealed object, verifying each 1 MiB chunk
//! against the root before it is decrypted, and writes plaintext as each segment authenticates.
//! Nothing unverified reaches the writer; if an error comes back part-way, what was written is an
//! authenticated prefix and the caller should discard it (the `coffer` CLI writes to a temporary
//! file and renames it only on success).

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_io::{AsyncRead, AsyncWrite};

use super::format::{INLINE_MAX, Manifest};
use super::objects::{check_key, missing_as_corrupt};
use super::upload::Upload;
use super::{ObjectInfo, PutOptions, Vault, VaultError, VaultResult};
use crate::block::{Cid, cid_from_blake3};
use crate::seal::{SealWriter, SeededRng, open_async_with};
use crate::store::{BlockStore, ByteStream, HeadStore, StoreError};
use crate::verify::Outboard;

/// Plaintext is read, and sealed bytes verified, in chunks of this many bytes (a multiple of the
/// 16 KiB verification group).
const CHUNK: usize = 1 << 20;

/// Blocks up to this size are stored with one `put`; larger ones stream.
const SMALL_BLOCK: usize = 1 << 20;

/// Objects up to this sealed size are read whole into memory, checked against their root, then
/// opened ([`Vault::get_to`]): one store round trip instead of the outboard's and the object's.
/// Larger ones stream, verified group by group against their outboard (bounded memory).
pub(super) const WHOLE_READ_MAX: u64 = 1 << 20;

/// Where [`Vault::put_source`] reads an object from: a source that can be read from its start
/// more than once (a file, a byte slice). A one-shot stream must be spooled to a file first.
pub trait PutSource: Send {
    /// Opens the source from its start.
    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>>;
}

impl PutSource for std::path::PathBuf {
    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(std::fs::File::open(&*self)?))
    }
}

impl PutSource for &std::path::Path {
    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(std::fs::File::open(self)?))
    }
}

impl PutSource for &[u8] {
    fn open(&mut self) -> io::Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(io::Cursor::new(*self)))
    }
}

/// Progress of a streaming put or get, in plaintext bytes; called often, keep it cheap.
pub type Progress<'a> = &'a mut (dyn FnMut(u64) + Send);

fn source_error(e: io::Error) -> VaultError {
    VaultError::Source(e.to_string())
}

/// Reads `r` to its end in chunks, feeding each chunk to `f`; returns the length read.
fn for_each_chunk(
    r: &mut dyn Read,
    mut f: impl FnMut(&[u8]) -> io::Result<()>,
) -> VaultResult<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(source_error(e)),
        };
        f(&buf[..n]).map_err(|e| VaultError::Seal(crate::seal::SealError::from_io(e)))?;
        total += n as u64;
    }
}

/// An `AsyncRead` of the sealed bytes of a plaintext `Read`, sealed as they are read, and
/// released only once they match the outboard computed by the previous pass: if the source
/// changed since, nothing sealed from the changed content leaves the machine (its bytes would
/// be sealed under the same key and nonces as the content that was measured).
struct SealingReader<'a> {
    plain: Box<dyn Read + Send + 'a>,
    writer: Option<SealWriter<Vec<u8>>>,
    /// The outboard of the previous pass: what the sealed bytes must be.
    outboard: &'a Outboard,
    /// Sealed bytes not yet verified.
    sealed: Vec<u8>,
    /// Sealed bytes verified since the start.
    verified: u64,
    /// Verified bytes waiting to be read, from `pos`.
    out: Vec<u8>,
    pos: usize,
    chunk: Vec<u8>,
    plain_len: u64,
}

impl SealingReader<'_> {
    /// Refills `out` with the next verified sealed bytes; false at the end.
    fn refill(&mut self) -> io::Result<bool> {
        loop {
            let ended = self.writer.is_none();
            if self.sealed.len() >= CHUNK || (ended && !self.sealed.is_empty()) {
                let n = if ended { self.sealed.len() } else { CHUNK };
                let range = self.verified..self.verified + n as u64;
                let fits = range.end <= self.outboard.len()
                    && self.outboard.verify_range(range, &self.sealed[..n]).is_ok();
                if !fits || (ended && self.verified + n as u64 != self.outboard.len()) {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, SOURCE_CHANGED));
                }
                self.out.clear();
                self.out.extend(self.sealed.drain(..n));
                self.pos = 0;
                self.verified += n as u64;
                return Ok(true);
            }
            if ended {
                return Ok(false);
            }
            let n = loop {
                match self.plain.read(&mut self.chunk) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                if let Some(w) = self.writer.take() {
                    let (rest, _) = w.finish()?;
                    self.sealed.extend_from_slice(&rest);
                }
            } else if let Some(writer) = self.writer.as_mut() {
                self.plain_len += n as u64;
                writer.write_all(&self.chunk[..n])?;
                self.sealed.append(writer.get_mut());
            }
        }
    }
}

/// The message of the error a [`SealingReader`] ends with when the source changed.
const SOURCE_CHANGED: &str = "the source changed since it was measured";

impl AsyncRead for SealingReader<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if this.pos < this.out.len() {
                let n = buf.len().min(this.out.len() - this.pos);
                buf[..n].copy_from_slice(&this.out[this.pos..this.pos + n]);
                this.pos += n;
                return Poll::Ready(Ok(n));
            }
            match this.refill() {
                Ok(true) => {}
                Ok(false) => return Poll::Ready(Ok(0)),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// An `AsyncRead` of a sealed object streamed from a store, yielding only bytes verified against
/// the object's outboard, one chunk at a time.
struct VerifiedReader<'a> {
    stream: ByteStream,
    outboard: &'a Outboard,
    cid: &'a Cid,
    /// Bytes verified so far (and handed out or in `ready`).
    pos: u64,
    pending: BytesMut,
    ready: Bytes,
    /// Why reading stopped, when the object is at fault (told apart from writer errors).
    failure: Option<VaultError>,
}

impl VerifiedReader<'_> {
    fn fail(&mut self, e: VaultError) -> io::Error {
        let msg = e.to_string();
        self.failure = Some(e);
        io::Error::new(io::ErrorKind::InvalidData, msg)
    }

    /// Verifies the next chunk in `pending` once it is complete.
    fn try_verify(&mut self, ended: bool) -> Result<bool, io::Error> {
        let len = self.outboard.len();
        let want = (CHUNK as u64).min(len - self.pos) as usize;
        if self.pending.len() < want && !ended {
            return Ok(false);
        }
        if self.pending.len() < want {
            let e = VaultError::corrupt(self.cid, "shorter than its manifest says");
            return Err(self.fail(e));
        }
        let chunk = self.pending.split_to(want).freeze();
        let range = self.pos..self.pos + want as u64;
        if let Err(e) = self.outboard.verify_range(range, &chunk) {
            let e = VaultError::corrupt(self.cid, e);
            return Err(self.fail(e));
        }
        self.pos += want as u64;
        self.ready = chunk;
        Ok(true)
    }
}

impl AsyncRead for VerifiedReader<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        loop {
            if !this.ready.is_empty() {
                let n = buf.len().min(this.ready.len());
                buf[..n].copy_from_slice(&this.ready.split_to(n));
                return Poll::Ready(Ok(n));
            }
            if this.pos == this.outboard.len() {
                if !this.pending.is_empty() {
                    let e = VaultError::corrupt(this.cid, "longer than its manifest says");
                    return Poll::Ready(Err(this.fail(e)));
                }
                return Poll::Ready(Ok(0));
            }
            match this.try_verify(false) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
            match this.stream.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) => this.pending.extend_from_slice(&bytes),
                Poll::Ready(Some(Err(e))) => {
                    let e = missing_as_corrupt(this.cid, e);
                    return Poll::Ready(Err(this.fail(e)));
                }
                Poll::Ready(None) => {
                    if let Err(e) = this.try_verify(true) {
                        return Poll::Ready(Err(e));
                    }
                }
            }
        }
    }
}

/// A sink that keeps what is written when it holds a buffer, and drops it otherwise.
struct KeepIf(Option<Vec<u8>>);

impl Write for KeepIf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(v) = self.0.as_mut() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A writer that reports progress.
struct Counting<'p, W> {
    inner: W,
    progress: Option<Progress<'p>>,
    written: u64,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Counting<'_, W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res {
            this.written += n as u64;
            if let Some(p) = this.progress.as_mut() {
                p(this.written);
            }
        }
        res
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

/// An `AsyncRead` that reports how much of the sealed object was read (progress of an upload).
struct ReadProgress<'r, 'p> {
    inner: SealingReader<'r>,
    progress: Option<Progress<'p>>,
}

impl AsyncRead for ReadProgress<'_, '_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(_)), Some(p)) = (&res, this.progress.as_mut()) {
            p(this.inner.plain_len);
        }
        res
    }
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// The seed of the sealed form of `plain_hash`/`plain_len` under `key` (see the module docs):
    /// `BLAKE3-keyed(upload key, u64le(len key) ‖ key ‖ plaintext BLAKE3 ‖ u64le(plaintext len))`.
    fn upload_seed(&self, key: &[u8], plain_hash: &blake3::Hash, plain_len: u64) -> [u8; 32] {
        let mut h = blake3::Hasher::new_keyed(&self.upload_key);
        h.update(&(key.len() as u64).to_le_bytes());
        h.update(key);
        h.update(plain_hash.as_bytes());
        h.update(&plain_len.to_le_bytes());
        *h.finalize().as_bytes()
    }

    /// Stores the object read from `source` under `key` as a new version, streaming with bounded
    /// memory (a few MiB whatever the size), and commits it. Putting the same content under the
    /// same key again after an interruption resumes the upload (see the [module docs](self)).
    ///
    /// [`VaultError::SourceChanged`] when the source changed between its reads (nothing is
    /// committed); [`VaultError::Source`] when reading it failed.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, Vault}};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// let dir = std::env::temp_dir().join(format!("coffer-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let path = dir.join("report.pdf");
    /// std::fs::write(&path, vec![7u8; 300_000]).unwrap();
    /// let info = vault.put_source(b"docs/report.pdf", &mut path.clone(), PutOptions::default(), None).await?;
    /// assert_eq!(info.size, 300_000);
    ///
    /// let mut out = futures_util::io::Cursor::new(Vec::new());
    /// vault.get_to(b"docs/report.pdf", &mut out, None).await?;
    /// assert_eq!(out.into_inner(), vec![7u8; 300_000]);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn put_source(
        &mut self,
        key: &[u8],
        source: &mut dyn PutSource,
        opts: PutOptions,
        progress: Option<Progress<'_>>,
    ) -> VaultResult<ObjectInfo> {
        let mut progress = progress;
        let mut tries = 0;
        loop {
            let mut forward = |n: u64| {
                if let Some(p) = progress.as_mut() {
                    p(n)
                }
            };
            let upload = self
                .upload_source(key, source, opts.clone(), Some(&mut forward))
                .await?;
            match self.commit_one(upload).await {
                // A collection took the object while it waited for its commit: send it again.
                Err(VaultError::UploadCollected) if tries < super::gc::RETRIES => tries += 1,
                r => return r,
            }
        }
    }

    /// Like [`Vault::put_source`] without the commit: seals and stores the object (streaming,
    /// resumable) and returns it for [`Vault::commit_uploads`]. Borrows the vault shared, so several
    /// can run at once.
    pub async fn upload_source(
        &self,
        key: &[u8],
        source: &mut dyn PutSource,
        opts: PutOptions,
        progress: Option<Progress<'_>>,
    ) -> VaultResult<Upload> {
        check_key(key)?;
        self.check_conditions(key, &opts).await?;
        let gc_epoch = self.gc_seen;
        let tags = self.put_tags_block_kept(&opts.tags).await?;

        // 1. Hash the plaintext.
        let mut hasher = blake3::Hasher::new();
        let plain_len = {
            let mut r = source.open().map_err(source_error)?;
            for_each_chunk(&mut r, |c| {
                hasher.update(c);
                Ok(())
            })?
        };
        let plain_hash = hasher.finalize();
        let seed = zeroize::Zeroizing::new(self.upload_seed(key, &plain_hash, plain_len));
        let seal_opts = self.data_options();

        // 2. Seal once to learn the sealed object's CID and outboard (keeping the bytes of a
        // small object: it goes inside its manifest).
        let keep = plain_len <= INLINE_MAX;
        let (outboard, sealed_len, kept) = {
            let mut r = source.open().map_err(source_error)?;
            let sink = KeepIf(keep.then(Vec::new));
            let mut w = SealWriter::start(sink, &seal_opts, &mut SeededRng::new(&seed), true)?;
            let mut again = blake3::Hasher::new();
            let n = for_each_chunk(&mut r, |c| {
                again.update(c);
                w.write_all(c)
            })?;
            if n != plain_len || again.finalize() != plain_hash {
                return Err(VaultError::SourceChanged);
            }
            let (sink, summary, outboard) = w
                .finish_outboard()
                .map_err(|e| VaultError::Seal(crate::seal::SealError::from_io(e)))?;
            (outboard, summary.sealed_len, sink.0)
        };
        let data = cid_from_blake3(crate::block::CODEC_RAW, outboard.root().as_bytes());
        let inline = kept
            .filter(|b| b.len() as u64 == sealed_len && sealed_len <= INLINE_MAX)
            .map(Bytes::from);

        // 3. Seal again into the store, unless it already holds the sealed object or the object
        // goes inside its manifest.
        if inline.is_some() {
            if let Some(p) = progress {
                p(plain_len);
            }
        } else if !self.store.has(&data).await? {
            let plain = source.open().map_err(source_error)?;
            let writer = SealWriter::with_rng(Vec::new(), &seal_opts, &mut SeededRng::new(&seed))?;
            let mut reader = ReadProgress {
                inner: SealingReader {
                    plain,
                    writer: Some(writer),
                    outboard: &outboard,
                    sealed: Vec::new(),
                    verified: 0,
                    out: Vec::new(),
                    pos: 0,
                    chunk: vec![0u8; CHUNK],
                    plain_len: 0,
                },
                progress,
            };
            let stored = self
                .store
                .put_stream(&data, &mut reader, Some(sealed_len))
                .await;
            stored.map_err(|e| match e {
                // The bytes no longer hash to the CID: the source changed under us (the check
                // above stops such bytes first; this is the store's own check).
                StoreError::Corrupt { .. } => VaultError::SourceChanged,
                StoreError::Io { source, .. } if source.to_string().contains(SOURCE_CHANGED) => {
                    VaultError::SourceChanged
                }
                StoreError::Other(m) | StoreError::Unavailable(m) if m.contains(SOURCE_CHANGED) => {
                    VaultError::SourceChanged
                }
                other => VaultError::Store(other),
            })?;
        } else if let Some(p) = progress {
            p(plain_len);
        }
        let outboard_cid = self.put_outboard(&outboard).await?;
        let mut blocks = Vec::with_capacity(3);
        if inline.is_none() {
            blocks.push((data, None));
        }
        if let Some((cid, bytes)) = &tags {
            blocks.push((*cid, Some(bytes.clone())));
        }
        if let Some(cid) = outboard_cid {
            // Kept when small (1/256 of the object): a large one is sent again with the object.
            let kept = (outboard.as_bytes().len() <= 4 << 20)
                .then(|| Bytes::copy_from_slice(outboard.as_bytes()));
            blocks.push((cid, kept));
        }
        Ok(Upload {
            key: key.to_vec(),
            data,
            sealed_len,
            plain_len,
            blake3: *outboard.root().as_bytes(),
            outboard: outboard_cid,
            inline,
            tags: tags.map(|(c, _)| c),
            opts,
            gc_epoch,
            blocks,
        })
    }

    /// Stores an outboard block (streamed when large); `None` when it is empty.
    pub(super) async fn put_outboard(&self, outboard: &Outboard) -> VaultResult<Option<Cid>> {
        let bytes = outboard.as_bytes();
        if bytes.is_empty() {
            return Ok(None);
        }
        let cid = crate::block::raw_cid(bytes);
        if bytes.len() <= SMALL_BLOCK {
            self.store.put(&cid, Bytes::copy_from_slice(bytes)).await?;
        } else {
            let mut r = futures_util::io::Cursor::new(bytes);
            self.store
                .put_stream(&cid, &mut r, Some(bytes.len() as u64))
                .await?;
        }
        Ok(Some(cid))
    }

    /// Streams the current version of `key` into `writer`, verified (see the [module docs](self));
    /// returns the version read. On an error, discard what was written.
    pub async fn get_to<W: AsyncWrite + Unpin>(
        &self,
        key: &[u8],
        writer: W,
        progress: Option<Progress<'_>>,
    ) -> VaultResult<ObjectInfo> {
        let (cid, m) = self.current_manifest(key).await?;
        self.read_to(&m, writer, progress).await?;
        Ok(ObjectInfo::from_manifest(&cid, &m))
    }

    /// [`Vault::get_to`] for version `version` of `key`.
    pub async fn get_version_to<W: AsyncWrite + Unpin>(
        &self,
        key: &[u8],
        version: &str,
        writer: W,
        progress: Option<Progress<'_>>,
    ) -> VaultResult<ObjectInfo> {
        let m = self.version_manifest(key, version).await?;
        self.read_to(&m, writer, progress).await?;
        let cid: Cid = version
            .parse()
            .map_err(|_| VaultError::InvalidVersion("not a CID".into()))?;
        Ok(ObjectInfo::from_manifest(&cid, &m))
    }

    /// Reads an upload back from the store before it is committed: fetches its sealed object,
    /// checks it against its CID and outboard and authenticates every segment, streaming the
    /// plaintext into `writer` (bounded memory). What `coffer import` uses to prove that the store
    /// holds exactly what it was given before committing it. On an error, discard what was
    /// written.
    pub async fn read_upload_to<W: AsyncWrite + Unpin>(
        &self,
        upload: &Upload,
        writer: W,
        progress: Option<Progress<'_>>,
    ) -> VaultResult<()> {
        let m = Manifest {
            v: super::format::FORMAT_VERSION,
            key: upload.key.clone(),
            data: upload.data,
            sealed_len: upload.sealed_len,
            plain_len: upload.plain_len,
            blake3: upload.blake3,
            outboard: upload.outboard,
            content_type: None,
            metadata: Default::default(),
            created_ms: 0,
            prev: None,
            etag: None,
            pad: None,
            inline: upload
                .inline
                .clone()
                .map(|b| serde_bytes::ByteBuf::from(b.to_vec())),
        };
        self.read_to(&m, writer, progress).await
    }

    async fn read_to<W: AsyncWrite + Unpin>(
        &self,
        m: &Manifest,
        writer: W,
        progress: Option<Progress<'_>>,
    ) -> VaultResult<()> {
        // A small object is fetched whole and checked against its root before a byte is used
        // (what `Vault::get` does): one round trip, where the streaming path below fetches the
        // outboard first and then the object. An inline one comes from its manifest.
        let writer = Counting {
            inner: writer,
            progress,
            written: 0,
        };
        if m.inline.is_some() || m.sealed_len <= WHOLE_READ_MAX {
            let sealed = self.sealed_object(m).await?;
            let mut reader = futures_util::io::Cursor::new(sealed.clone());
            return self
                .open_verified(m, Some(&sealed), &mut reader, writer)
                .await;
        }
        let root = blake3::Hash::from_bytes(m.blake3);
        let outboard_bytes = match &m.outboard {
            Some(cid) => self
                .fetch_block_max(cid, Outboard::size_for(m.sealed_len))
                .await?
                .to_vec(),
            None => Vec::new(),
        };
        let outboard = Outboard::from_parts(root, m.sealed_len, outboard_bytes)
            .map_err(|e| VaultError::corrupt(&m.data, e))?;
        let stream = self
            .store
            .get_stream(&m.data)
            .await
            .map_err(|e| missing_as_corrupt(&m.data, e))?;
        let mut reader = VerifiedReader {
            stream,
            outboard: &outboard,
            cid: &m.data,
            pos: 0,
            pending: BytesMut::new(),
            ready: Bytes::new(),
            failure: None,
        };
        let res = self.open_verified(m, None, &mut reader, writer).await;
        if let Some(e) = reader.failure.take() {
            return Err(e);
        }
        res?;
        if reader.pos != m.sealed_len {
            return Err(VaultError::corrupt(
                &m.data,
                "its length differs from its manifest",
            ));
        }
        Ok(())
    }

    /// Opens the sealed object of `m` from `reader` (whose bytes are verified against the
    /// manifest's root before they are read) into `writer`; checks the plaintext length.
    /// `whole`: the same object, when it is already in memory and verified.
    async fn open_verified<R, W>(
        &self,
        m: &Manifest,
        whole: Option<&[u8]>,
        reader: &mut R,
        writer: W,
    ) -> VaultResult<()>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        // After an identity rotation, a co-writer's object opens only with its share epoch's key
        // (`Vault::with_unlock`): find its file key from the verified header first (from the
        // object in memory when it is there, instead of fetching the header again).
        let file_key = match (self.handovers().is_empty(), whole) {
            (true, _) => None,
            (false, Some(sealed)) => Some(
                self.with_unlock(|u| crate::seal::file_key_of(u, sealed))
                    .map_err(|e| VaultError::corrupt(&m.data, e))?,
            ),
            (false, None) => Some(self.verified_file_key(m).await?),
        };
        let unlock = match &file_key {
            Some(k) => crate::seal::Unlock::FileKey(k),
            None => self.unlock(),
        };
        // The bytes were verified against the manifest's root before decryption: the owner-signed
        // manifest vouches for them (v2 data carries no signature of its own).
        let summary = open_async_with(unlock, reader, writer, None)
            .await
            .map_err(|e| match e {
                crate::seal::SealError::Io(err) => VaultError::Output(err.to_string()),
                other => VaultError::corrupt(&m.data, other),
            })?;
        if summary.plaintext_len != m.plain_len {
            return Err(VaultError::corrupt(
                &m.data,
                "plaintext length differs from the manifest",
            ));
        }
        Ok(())
    }
}
