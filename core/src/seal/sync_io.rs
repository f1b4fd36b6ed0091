//! Streaming seal and open over `std::io`.

use std::io::{self, Read, Write};

use super::header::{HeaderSigner, ObjectKeys, Unlock};
use super::segments::{PayloadCipher, TAG_LEN};
use super::trailer::{self, Hashing, HoldBack, TRAILER_LEN};
use super::{Header, OsRng, SealError, SealOptions, SealRng, SealSummary};
use crate::keys::{Identity, Recipient};
use crate::verify::Outboard;

/// A `Write` that seals everything written to it into `inner`.
///
/// Holds at most one segment of plaintext. Call [`SealWriter::finish`] at the end: it writes
/// the final segment (and, when signed, the signature trailer), without which the object does
/// not open (it reads as truncated).
pub struct SealWriter<W: Write> {
    inner: W,
    cipher: PayloadCipher,
    buf: Vec<u8>,
    index: u64,
    summary: SealSummary,
    failed: bool,
    hashing: Hashing,
    /// The object's keys and the signer, when the object is signed.
    signing: Option<(ObjectKeys, Identity)>,
}

impl<W: Write> SealWriter<W> {
    /// Starts a sealed object: writes its header to `inner`.
    pub fn new(inner: W, opts: &SealOptions) -> Result<Self, SealError> {
        Self::with_rng(inner, opts, &mut OsRng)
    }

    /// Like [`SealWriter::new`], also computing the Bao outboard (and so the BLAKE3 root, the
    /// content id) of the sealed bytes in the same pass; get it with
    /// [`SealWriter::finish_outboard`].
    pub fn with_outboard(inner: W, opts: &SealOptions) -> Result<Self, SealError> {
        Self::start(inner, opts, &mut OsRng, true)
    }

    /// Like [`SealWriter::new`] with the randomness drawn from `rng` (test vectors only).
    #[doc(hidden)]
    pub fn with_rng(
        inner: W,
        opts: &SealOptions,
        rng: &mut impl SealRng,
    ) -> Result<Self, SealError> {
        Self::start(inner, opts, rng, false)
    }

    pub(crate) fn start(
        mut inner: W,
        opts: &SealOptions,
        rng: &mut impl SealRng,
        outboard: bool,
    ) -> Result<Self, SealError> {
        let (header, keys) = opts.start(rng)?;
        let cipher = super::cipher_for(&header, &keys);
        let bytes = header.to_bytes();
        let signed = opts.signer.is_some();
        let mut hashing = if outboard {
            Hashing::Outboard(Box::default())
        } else if signed {
            Hashing::Plain(Box::default())
        } else {
            Hashing::None
        };
        hashing.update(&bytes);
        inner.write_all(&bytes)?;
        let seg = cipher.segment_size();
        Ok(Self {
            inner,
            cipher,
            buf: Vec::with_capacity(seg + TAG_LEN),
            index: 0,
            summary: SealSummary {
                plaintext_len: 0,
                sealed_len: bytes.len() as u64,
                root: None,
            },
            failed: false,
            hashing,
            signing: opts.signer.clone().map(|id| (keys, id)),
        })
    }

    fn write_out(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.hashing.update(bytes);
        let res = self.inner.write_all(bytes);
        self.summary.sealed_len += bytes.len() as u64;
        if res.is_err() {
            self.failed = true;
        }
        res
    }

    fn emit(&mut self, last: bool) -> io::Result<()> {
        self.cipher.seal_segment(self.index, last, &mut self.buf);
        let buf = std::mem::take(&mut self.buf);
        let res = self.write_out(&buf);
        self.buf = buf;
        self.buf.clear();
        self.index += 1;
        res
    }

    fn check(&self) -> io::Result<()> {
        if self.failed {
            Err(io::Error::other(
                "a previous write failed; the sealed output is incomplete",
            ))
        } else {
            Ok(())
        }
    }

    /// The inner writer (the vault drains sealed bytes from it as they are produced).
    pub(crate) fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Writes the final segment and the trailer (when signed).
    fn end(&mut self) -> io::Result<()> {
        self.check()?;
        self.emit(true)?;
        if let Some((keys, id)) = self.signing.take() {
            let zeroed = self
                .hashing
                .zeroed_root()
                .ok_or_else(|| io::Error::other("internal: a signed seal is not hashed"))?;
            let total = self.summary.sealed_len + TRAILER_LEN as u64;
            let t = trailer::sign(&keys, &id, &zeroed, total);
            self.write_out(&t)?;
        }
        self.inner.flush()
    }

    /// Writes the final segment (and the trailer when signed), flushes, and returns the inner
    /// writer with the sizes (and the BLAKE3 root when it was computed: signed objects).
    pub fn finish(mut self) -> io::Result<(W, SealSummary)> {
        self.end()?;
        let (root, _) = std::mem::replace(&mut self.hashing, Hashing::None).finish();
        self.summary.root = root;
        Ok((self.inner, self.summary))
    }

    /// [`SealWriter::finish`] for a writer made by [`SealWriter::with_outboard`]: also returns
    /// the Bao outboard of the sealed object (its root is the object's BLAKE3 root).
    pub fn finish_outboard(mut self) -> io::Result<(W, SealSummary, Outboard)> {
        self.end()?;
        let (root, outboard) = std::mem::replace(&mut self.hashing, Hashing::None).finish();
        self.summary.root = root;
        let outboard =
            outboard.ok_or_else(|| io::Error::other("this writer was not made with_outboard"))?;
        Ok((self.inner, self.summary, outboard))
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check()?;
        let seg = self.cipher.segment_size();
        let mut rest = data;
        while !rest.is_empty() {
            if self.buf.len() == seg {
                // More plaintext follows, so the buffered segment is not the last one.
                self.emit(false)?;
            }
            let take = (seg - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
        self.summary.plaintext_len += data.len() as u64;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // A partial segment cannot be flushed without ending the object.
        self.inner.flush()
    }
}

/// The input of an opener: `inner` read through a [`HoldBack`].
struct Input<R: Read> {
    inner: R,
    hold: HoldBack,
    eof: bool,
    chunk: Vec<u8>,
}

impl<R: Read> Input<R> {
    /// Fills `buf` with released bytes until it is full or only the held-back tail is left.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            if self.hold.releasable() == 0 {
                if self.eof {
                    break;
                }
                if self.hold.direct(buf.len() - n) {
                    // Straight into the caller's buffer, after the bytes still held back: no
                    // copy through the hold buffer for the bulk of the object.
                    let t = self.hold.unload(&mut buf[n..]);
                    let k = loop {
                        match self.inner.read(&mut buf[n + t..]) {
                            Ok(k) => break k,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    };
                    if k == 0 {
                        self.eof = true;
                    }
                    n += self.hold.settle(&buf[n..n + t + k]);
                    continue;
                }
                let want = (buf.len() - n + TRAILER_LEN).max(1 << 16);
                self.chunk.resize(want, 0);
                let k = loop {
                    match self.inner.read(&mut self.chunk) {
                        Ok(k) => break k,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                };
                if k == 0 {
                    self.eof = true;
                } else {
                    self.hold.push(&self.chunk[..k]);
                }
                continue;
            }
            n += self.hold.take(&mut buf[n..]);
        }
        Ok(n)
    }

    /// Reads the header (released without hold-back: no trailer can be inside it).
    fn read_header(&mut self) -> Result<Header, SealError> {
        let mut bytes = vec![0u8; super::PREFIX_LEN];
        let n = self.fill(&mut bytes)?;
        bytes.truncate(n);
        let len = Header::len_from_prefix(&bytes)?;
        if len < bytes.len() {
            // Every header is longer than the prefix read (v1: at least 188 bytes).
            return Err(SealError::Internal("a header shorter than its prefix"));
        }
        if len > bytes.len() {
            let have = bytes.len();
            bytes.resize(len, 0);
            let got = have + self.fill(&mut bytes[have..])?;
            if got < len {
                return Err(SealError::TruncatedHeader {
                    expected: len,
                    found: got,
                });
            }
        }
        Header::parse(&bytes)
    }
}

/// A `Read` that opens a sealed object from `inner`, yielding only authenticated plaintext.
///
/// Each segment is released only after it authenticated with the right position and final
/// flag; for a signed v2 object, the final segment is released only after the signature trailer
/// verified (so every byte handed out is content the signer signed, once the stream ends
/// cleanly). Damage anywhere ends the stream with an `io::Error` of kind `InvalidData` that
/// [`SealError::from_io`] turns back into the precise [`SealError`]. A consumer that must not act
/// on a prefix of a damaged object should write to a temporary place and commit only when the
/// stream ended cleanly (the CLI does).
pub struct OpenReader<R: Read> {
    input: Input<R>,
    cipher: PayloadCipher,
    keys: ObjectKeys,
    signer: Option<Recipient>,
    header_only: bool,
    trailer: bool,
    /// Whether the trailer's signature is verified (always, but for callers that hold the
    /// object by a hash from a signed structure: [`super::open_to_vec_hash_bound`]).
    verify_trailer: bool,
    expected: Option<Recipient>,
    root: Option<[u8; 32]>,
    cur: Vec<u8>,
    next: Vec<u8>,
    plain: Vec<u8>,
    index: u64,
    pos: usize,
    len: usize,
    done: bool,
    error: Option<String>,
}

impl<R: Read> std::fmt::Debug for OpenReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenReader")
            .field("segment", &self.index)
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl OpenReader<&[u8]> {
    /// An upper bound of the plaintext still to come: the input's rest plus what is buffered.
    pub(crate) fn input_left(&self) -> usize {
        self.next.len() + self.input.inner.len()
    }
}

impl<R: Read> OpenReader<R> {
    /// Reads the header from `inner` and unlocks it with `identity`.
    pub fn new(inner: R, identity: &Identity) -> Result<Self, SealError> {
        Self::open(inner, Unlock::Identity(identity))
    }

    /// Reads the header from `inner` and unlocks it with a file key obtained outside the header
    /// (a share's keyring): the key commitment, signature and MAC are checked as usual.
    pub fn with_file_key(inner: R, file_key: &super::FileKey) -> Result<Self, SealError> {
        Self::open(inner, Unlock::FileKey(file_key))
    }

    /// Reads the header from `inner` and unlocks it with `unlock`.
    pub fn open(inner: R, unlock: Unlock<'_>) -> Result<Self, SealError> {
        Self::open_sized(inner, unlock, None)
    }

    /// [`OpenReader::open`] for an input known to be at most `len_hint` bytes long: the first
    /// segment's buffer is no longer than that (a small object does not pay for a 64 KiB one).
    pub(crate) fn open_sized(
        inner: R,
        unlock: Unlock<'_>,
        len_hint: Option<usize>,
    ) -> Result<Self, SealError> {
        let mut input = Input {
            inner,
            hold: HoldBack::new(0),
            eof: false,
            chunk: Vec::new(),
        };
        let header = input.read_header()?;
        let (keys, _, signer) = header.unlock(unlock)?;
        let trailer = header.trailer_len() > 0;
        input.hold.set(header.trailer_len(), trailer);
        let cipher = super::cipher_for(&header, &keys);
        let stride = cipher.segment_size() + TAG_LEN;
        // A buffer at least as long as the rest of the input reads it all, as a full one would.
        let mut next = vec![0u8; len_hint.map_or(stride, |h| h.min(stride))];
        let n = input.fill(&mut next)?;
        next.truncate(n);
        let (signer, header_only) = match signer {
            HeaderSigner::HeaderOnly(s) => (Some(s), true),
            HeaderSigner::Unsigned | HeaderSigner::Trailer => (None, false),
        };
        Ok(Self {
            input,
            cipher,
            keys,
            signer,
            header_only,
            trailer,
            verify_trailer: true,
            expected: None,
            root: None,
            cur: Vec::with_capacity(stride),
            next,
            plain: Vec::with_capacity(stride),
            index: 0,
            pos: 0,
            len: 0,
            done: false,
            error: None,
        })
    }

    /// Who signed the object, once known and verified: for a v2 object, after the stream ended
    /// (the trailer is at the end); for a v1 object, from the start (see [`Self::header_only`]).
    pub fn signer(&self) -> Option<&Recipient> {
        self.signer.as_ref()
    }

    /// Whether the object is signed in the v1 way: the signature covers the header and file key,
    /// not the content, so a co-recipient could have written the content.
    pub fn header_only(&self) -> bool {
        self.header_only
    }

    /// Whether the object is signed (its signer is known at the end, or now for v1).
    pub fn is_signed(&self) -> bool {
        self.trailer || self.signer.is_some()
    }

    /// The BLAKE3 root (content id digest) of the whole sealed object, once the stream ended,
    /// when it was computed (signed v2 objects).
    pub fn root(&self) -> Option<&[u8; 32]> {
        self.root.as_ref()
    }

    /// Requires the object to be signed by `expected`: checked now for v1 and unsigned objects,
    /// and at the end for v2 (where the final segment is withheld unless the trailer's signer is
    /// `expected`). A v1 header-only signature is accepted here; callers that need the content to
    /// be the signer's check [`Self::header_only`].
    pub fn require_signer(mut self, expected: &Recipient) -> Result<Self, SealError> {
        if self.trailer {
            self.expected = Some(expected.clone());
            return Ok(self);
        }
        if self
            .signer
            .as_ref()
            .is_some_and(|s| s.same_identity(expected))
        {
            Ok(self)
        } else {
            Err(SealError::UnexpectedSigner)
        }
    }

    /// Does not verify the signature trailer of a v2 object (it must still be there, and the
    /// payload still authenticates): for a caller that holds the object's bytes by a hash named
    /// in a structure whose signature it verified. [`Self::signer`] then stays `None`.
    pub(crate) fn skip_trailer_signature(mut self) -> Self {
        self.verify_trailer = false;
        self
    }

    fn advance(&mut self) -> Result<(), SealError> {
        self.advance_into(None).map(|_| ())
    }

    /// Opens the next segment into `direct` (the caller's buffer, at least a segment long) or,
    /// when `None`, into `self.plain`; returns the plaintext length. A final segment whose
    /// trailer does not verify leaves zeros in `direct`, never its plaintext.
    fn advance_into(&mut self, direct: Option<&mut [u8]>) -> Result<usize, SealError> {
        let stride = self.cipher.segment_size() + TAG_LEN;
        std::mem::swap(&mut self.cur, &mut self.next);
        if self.cur.is_empty() {
            // The previous segment was full and nothing followed it, yet it was not final
            // (it would have opened as final and ended the stream).
            return Err(SealError::Truncated);
        }
        if self.cur.len() == stride {
            // `next` now holds the previous segment's ciphertext, a full stride but for the
            // first: resizing it writes nothing, and `fill` overwrites what it reads (clearing
            // first zeroed a segment's worth of memory per segment).
            self.next.resize(stride, 0);
            let n = self.input.fill(&mut self.next)?;
            self.next.truncate(n);
        } else {
            self.next.clear();
        }
        let last = self.next.is_empty();
        let next = (!last).then_some(self.next.as_slice());
        let n = match direct {
            Some(out) => {
                let n = self
                    .cipher
                    .open_segment_into(self.index, last, &self.cur, out, next)?;
                if last && let Err(e) = self.end() {
                    out[..n].fill(0);
                    return Err(e);
                }
                self.plain.clear();
                n
            }
            None => {
                self.cipher
                    .open_segment(self.index, last, &self.cur, &mut self.plain, next)?;
                if last {
                    self.end()?;
                }
                self.plain.len()
            }
        };
        self.len = self.plain.len();
        self.pos = 0;
        self.index += 1;
        self.done = last;
        Ok(n)
    }

    /// At the final segment: checks what follows it (the trailer, or nothing).
    fn end(&mut self) -> Result<(), SealError> {
        let tail = self.input.hold.finish()?;
        self.root = tail.root;
        if self.trailer && !self.verify_trailer {
            if tail.bytes.len() != super::trailer::TRAILER_LEN {
                return Err(SealError::Truncated);
            }
        } else if self.trailer {
            let zeroed = tail
                .zeroed_root
                .ok_or(SealError::Internal("a signed object was not hashed"))?;
            let signer = trailer::verify(&self.keys, &tail.bytes, &zeroed, tail.total_len)?;
            if self
                .expected
                .as_ref()
                .is_some_and(|e| !e.same_identity(&signer))
            {
                self.plain.clear();
                return Err(SealError::UnexpectedSigner);
            }
            self.signer = Some(signer);
        }
        Ok(())
    }
}

impl<R: Read> Read for OpenReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(msg) = &self.error {
            return Err(io::Error::new(io::ErrorKind::InvalidData, msg.clone()));
        }
        if self.pos == self.len && !self.done && out.len() >= self.cipher.segment_size() {
            // Nothing buffered and room for a whole segment: open it straight into `out`.
            match self.advance_into(Some(out)) {
                Ok(n) if n > 0 || self.done => return Ok(n),
                Ok(_) => {}
                Err(e) => {
                    self.plain.clear();
                    self.error = Some(e.to_string());
                    return Err(e.into_io());
                }
            }
        }
        while self.pos == self.len {
            if self.done {
                return Ok(0);
            }
            if let Err(e) = self.advance() {
                self.plain.clear();
                self.error = Some(e.to_string());
                return Err(e.into_io());
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.plain[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
