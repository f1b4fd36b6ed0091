//! Random access: open any plaintext byte range by reading only the segments that hold it.

use std::io;
use std::ops::Range;

use super::segments::{Layout, PayloadCipher, TAG_LEN};
use super::{Header, SealError};
use crate::keys::{Identity, Recipient};

/// A source of bytes readable at any offset (`pread`-style), such as a file or a buffer.
pub trait ReadAt {
    /// Total length in bytes.
    fn size(&self) -> io::Result<u64>;
    /// Fills `buf` from `offset`; fails if the source ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for [u8] {
    fn size(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl ReadAt for Vec<u8> {
    fn size(&self) -> io::Result<u64> {
        self.as_slice().size()
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.as_slice().read_exact_at(buf, offset)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn size(&self) -> io::Result<u64> {
        (**self).size()
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        (**self).read_exact_at(buf, offset)
    }
}

#[cfg(unix)]
impl ReadAt for std::fs::File {
    fn size(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

/// An unlocked header plus the sealed object's total length: everything needed to map a
/// plaintext range to the ciphertext bytes that hold it and to decrypt them, without I/O.
///
/// Callers that fetch bytes themselves (e.g. ranged GETs from a store) use
/// [`OpenedHeader::ciphertext_range`] then [`OpenedHeader::decrypt_range`].
pub struct OpenedHeader {
    cipher: PayloadCipher,
    signer: Option<Recipient>,
    header_len: u64,
    layout: Layout,
    segments: u64,
}

impl std::fmt::Debug for OpenedHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedHeader")
            .field("header_len", &self.header_len)
            .field("segments", &self.segments)
            .field("signer", &self.signer)
            .finish_non_exhaustive()
    }
}

impl OpenedHeader {
    /// Parses and unlocks `header_bytes` (at least the whole header) of a sealed object that is
    /// `sealed_len` bytes long in total.
    pub fn new(
        header_bytes: &[u8],
        sealed_len: u64,
        identity: &Identity,
    ) -> Result<Self, SealError> {
        let header = Header::parse(header_bytes)?;
        let (keys, signer) = header.unlock(identity)?;
        let header_len = header.len() as u64;
        let payload_len = sealed_len
            .checked_sub(header_len)
            .ok_or(SealError::Truncated)?;
        let layout = Layout {
            segment_size: header.segment_size() as u64,
            payload_len,
        };
        let segments = layout.segments()?;
        Ok(Self {
            cipher: super::cipher_for(&header, &keys),
            signer,
            header_len,
            layout,
            segments,
        })
    }

    /// Length of the plaintext.
    pub fn plaintext_len(&self) -> u64 {
        self.layout.payload_len - self.segments * TAG_LEN as u64
    }

    /// Who signed the header, if it was signed (the signature has been verified).
    pub fn signer(&self) -> Option<&Recipient> {
        self.signer.as_ref()
    }

    fn check(&self, range: &Range<u64>) -> Result<(), SealError> {
        let len = self.plaintext_len();
        if range.start > range.end || range.end > len {
            return Err(SealError::RangeOutOfBounds {
                start: range.start,
                end: range.end,
                len,
            });
        }
        Ok(())
    }

    fn segments_for(&self, range: &Range<u64>) -> Range<u64> {
        let seg = self.layout.segment_size;
        if range.is_empty() {
            return 0..0;
        }
        range.start / seg..(range.end - 1) / seg + 1
    }

    /// The byte range of the sealed object that holds plaintext `range`: whole segments,
    /// tags included. Empty for an empty range.
    pub fn ciphertext_range(&self, range: Range<u64>) -> Result<Range<u64>, SealError> {
        self.check(&range)?;
        let segs = self.segments_for(&range);
        if segs.is_empty() {
            return Ok(self.header_len..self.header_len);
        }
        let stride = self.layout.stride();
        let start = self.header_len + segs.start * stride;
        let end =
            (self.header_len + segs.end * stride).min(self.header_len + self.layout.payload_len);
        Ok(start..end)
    }

    /// Decrypts plaintext `range` from `ciphertext`, the bytes at
    /// [`OpenedHeader::ciphertext_range`] of the same range.
    pub fn decrypt_range(
        &self,
        range: Range<u64>,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>, SealError> {
        let want = self.ciphertext_range(range.clone())?;
        if ciphertext.len() as u64 != want.end - want.start {
            return Err(SealError::Truncated);
        }
        let seg = self.layout.segment_size;
        let stride = self.layout.stride() as usize;
        let segs = self.segments_for(&range);
        let mut out = Vec::with_capacity((range.end - range.start) as usize);
        let mut buf = Vec::with_capacity(stride);
        for (k, index) in segs.clone().enumerate() {
            let chunk_start = k * stride;
            let chunk = &ciphertext[chunk_start..(chunk_start + stride).min(ciphertext.len())];
            let last = index + 1 == self.segments;
            self.cipher
                .open_segment(index, last, chunk, &mut buf, None)?;
            let n = buf.len();
            let seg_start = index * seg;
            let from = range.start.saturating_sub(seg_start) as usize;
            let to = ((range.end - seg_start) as usize).min(n);
            out.extend_from_slice(&buf[from..to]);
        }
        Ok(out)
    }
}

/// Opens byte ranges of a sealed object in a [`ReadAt`] source, reading only the header and the
/// segments each range needs.
///
/// ```
/// use coffer::keys::Identity;
/// use coffer::seal::{self, RangeReader, SealOptions};
///
/// let me = Identity::generate();
/// let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
/// let sealed = seal::seal_to_vec(&SealOptions::new(vec![me.recipient().clone()]), &data).unwrap();
/// let reader = RangeReader::new(sealed.as_slice(), &me).unwrap();
/// assert_eq!(reader.read_range(70_000..70_010).unwrap(), &data[70_000..70_010]);
/// ```
pub struct RangeReader<S: ReadAt> {
    source: S,
    opened: OpenedHeader,
}

impl<S: ReadAt> RangeReader<S> {
    /// Reads and unlocks the header of the object in `source`.
    pub fn new(source: S, identity: &Identity) -> Result<Self, SealError> {
        let size = source.size()?;
        let mut prefix = vec![0u8; (super::PREFIX_LEN as u64).min(size) as usize];
        source.read_exact_at(&mut prefix, 0)?;
        let header_len = Header::len_from_prefix(&prefix)?;
        if (header_len as u64) > size {
            return Err(SealError::TruncatedHeader {
                expected: header_len,
                found: size as usize,
            });
        }
        let mut header = vec![0u8; header_len];
        source.read_exact_at(&mut header, 0)?;
        let opened = OpenedHeader::new(&header, size, identity)?;
        Ok(Self { source, opened })
    }

    /// Length of the plaintext.
    pub fn plaintext_len(&self) -> u64 {
        self.opened.plaintext_len()
    }

    /// Who signed the header, if it was signed.
    pub fn signer(&self) -> Option<&Recipient> {
        self.opened.signer()
    }

    /// The unlocked header.
    pub fn opened_header(&self) -> &OpenedHeader {
        &self.opened
    }

    /// Opens plaintext `range`, reading only the segments that hold it.
    pub fn read_range(&self, range: Range<u64>) -> Result<Vec<u8>, SealError> {
        let ct = self.opened.ciphertext_range(range.clone())?;
        let mut buf = vec![0u8; (ct.end - ct.start) as usize];
        self.source.read_exact_at(&mut buf, ct.start)?;
        self.opened.decrypt_range(range, &buf)
    }
}
