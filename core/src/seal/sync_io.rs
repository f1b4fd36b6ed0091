//! Streaming seal and open over `std::io`.

use std::io::{self, Read, Write};

use super::segments::{PayloadCipher, TAG_LEN};
use super::{Header, OsRng, SealError, SealOptions, SealRng, SealSummary};
use crate::keys::{Identity, Recipient};

/// A `Write` that seals everything written to it into `inner`.
///
/// Holds at most one segment of plaintext. Call [`SealWriter::finish`] at the end: it writes
/// the final segment, without which the object does not open (it reads as truncated).
pub struct SealWriter<W: Write> {
    inner: W,
    cipher: PayloadCipher,
    buf: Vec<u8>,
    index: u64,
    summary: SealSummary,
    failed: bool,
}

impl<W: Write> SealWriter<W> {
    /// Starts a sealed object: writes its header to `inner`.
    pub fn new(inner: W, opts: &SealOptions) -> Result<Self, SealError> {
        Self::with_rng(inner, opts, &mut OsRng)
    }

    /// Like [`SealWriter::new`] with the randomness drawn from `rng` (test vectors only).
    #[doc(hidden)]
    pub fn with_rng(
        mut inner: W,
        opts: &SealOptions,
        rng: &mut impl SealRng,
    ) -> Result<Self, SealError> {
        let (header, cipher) = opts.start(rng)?;
        let bytes = header.to_bytes();
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
            },
            failed: false,
        })
    }

    fn emit(&mut self, last: bool) -> io::Result<()> {
        self.cipher.seal_segment(self.index, last, &mut self.buf);
        let res = self.inner.write_all(&self.buf);
        self.summary.sealed_len += self.buf.len() as u64;
        self.buf.clear();
        self.index += 1;
        if res.is_err() {
            self.failed = true;
        }
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

    /// Writes the final segment, flushes, and returns the inner writer with the sizes.
    pub fn finish(mut self) -> io::Result<(W, SealSummary)> {
        self.check()?;
        self.emit(true)?;
        self.inner.flush()?;
        Ok((self.inner, self.summary))
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

/// Reads and checks a sealed header from `r`; returns it with its encoded length.
pub(crate) fn read_header(r: &mut impl Read) -> Result<(Header, usize), SealError> {
    let mut bytes = vec![0u8; super::PREFIX_LEN];
    let n = read_full(r, &mut bytes)?;
    bytes.truncate(n);
    let len = Header::len_from_prefix(&bytes)?;
    bytes.resize(len, 0);
    let got = super::PREFIX_LEN + read_full(r, &mut bytes[super::PREFIX_LEN..])?;
    if got < len {
        return Err(SealError::TruncatedHeader {
            expected: len,
            found: got,
        });
    }
    Ok((Header::parse(&bytes)?, len))
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub(crate) fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A `Read` that opens a sealed object from `inner`, yielding only authenticated plaintext.
///
/// Each segment is released only after it authenticated with the right position and final
/// flag; damage anywhere ends the stream with an `io::Error` of kind `InvalidData` that
/// [`SealError::from_io`] turns back into the precise [`SealError`]. A consumer that must not
/// act on a prefix of a damaged object should write to a temporary place and commit only when
/// the stream ended cleanly (the CLI does).
pub struct OpenReader<R: Read> {
    inner: R,
    cipher: PayloadCipher,
    signer: Option<Recipient>,
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

impl<R: Read> OpenReader<R> {
    /// Reads the header from `inner` and unlocks it with `identity`.
    pub fn new(mut inner: R, identity: &Identity) -> Result<Self, SealError> {
        let (header, _) = read_header(&mut inner)?;
        let (keys, signer) = header.unlock(identity)?;
        Self::start(inner, &header, &keys, signer)
    }

    /// Reads the header from `inner` and unlocks it with a file key obtained outside the header
    /// (a share's keyring): the key commitment, signature and MAC are checked as usual.
    pub fn with_file_key(mut inner: R, file_key: &super::FileKey) -> Result<Self, SealError> {
        let (header, _) = read_header(&mut inner)?;
        let (keys, signer) = header.unlock_with_key(file_key.as_bytes())?;
        Self::start(inner, &header, &keys, signer)
    }

    fn start(
        mut inner: R,
        header: &Header,
        keys: &super::header::ObjectKeys,
        signer: Option<Recipient>,
    ) -> Result<Self, SealError> {
        let cipher = super::cipher_for(header, keys);
        let stride = cipher.segment_size() + TAG_LEN;
        let mut next = vec![0u8; stride];
        let n = read_full(&mut inner, &mut next)?;
        next.truncate(n);
        Ok(Self {
            inner,
            cipher,
            signer,
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

    /// Who signed the header, if it was signed (the signature has been verified).
    pub fn signer(&self) -> Option<&Recipient> {
        self.signer.as_ref()
    }

    /// Requires the header to be signed by `expected`.
    pub fn require_signer(self, expected: &Recipient) -> Result<Self, SealError> {
        if self.signer.as_ref() == Some(expected) {
            Ok(self)
        } else {
            Err(SealError::UnexpectedSigner)
        }
    }

    fn advance(&mut self) -> Result<(), SealError> {
        let stride = self.cipher.segment_size() + TAG_LEN;
        std::mem::swap(&mut self.cur, &mut self.next);
        if self.cur.is_empty() {
            // The previous segment was full and nothing followed it, yet it was not final
            // (it would have opened as final and ended the stream).
            return Err(SealError::Truncated);
        }
        self.next.clear();
        if self.cur.len() == stride {
            self.next.resize(stride, 0);
            let n = read_full(&mut self.inner, &mut self.next)?;
            self.next.truncate(n);
        }
        let last = self.next.is_empty();
        let next = (!last).then_some(self.next.as_slice());
        self.cipher
            .open_segment(self.index, last, &self.cur, &mut self.plain, next)?;
        self.len = self.plain.len();
        self.pos = 0;
        self.index += 1;
        self.done = last;
        Ok(())
    }
}

impl<R: Read> Read for OpenReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(msg) = &self.error {
            return Err(io::Error::new(io::ErrorKind::InvalidData, msg.clone()));
        }
        while self.pos == self.len {
            if self.done {
                return Ok(0);
            }
            if let Err(e) = self.advance() {
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
