//! Random access: open any plaintext byte range by reading only the segments that hold it.

use std::io;
use std::ops::Range;

use super::header::{HeaderSigner, ObjectKeys, Unlock};
use super::segments::{Layout, PayloadCipher, TAG_LEN};
use super::trailer::{self, TRAILER_LEN};
use super::{Header, SealError};
use crate::keys::{Identity, Recipient};
use crate::verify::Outboard;

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
/// [`OpenedHeader::ciphertext_range`] then [`OpenedHeader::decrypt_range`]. A signed v2 object's
/// signer is in its trailer: [`OpenedHeader::trailer_range`] says where, and
/// [`OpenedHeader::verify_trailer`] checks it against the object's root with the trailer zeroed.
pub struct OpenedHeader {
    cipher: PayloadCipher,
    keys: ObjectKeys,
    signer: Option<Recipient>,
    header_only: bool,
    trailer: bool,
    sealed_len: u64,
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
        Self::open(header_bytes, sealed_len, Unlock::Identity(identity))
    }

    /// [`OpenedHeader::new`] with any [`Unlock`].
    pub fn open(
        header_bytes: &[u8],
        sealed_len: u64,
        unlock: Unlock<'_>,
    ) -> Result<Self, SealError> {
        let header = Header::parse(header_bytes)?;
        let (keys, _, found) = header.unlock(unlock)?;
        let header_len = header.len() as u64;
        let payload_len = sealed_len
            .checked_sub(header_len + header.trailer_len() as u64)
            .ok_or(SealError::Truncated)?;
        let layout = Layout {
            segment_size: header.segment_size() as u64,
            payload_len,
        };
        let segments = layout.segments()?;
        let (signer, header_only) = match found {
            HeaderSigner::HeaderOnly(s) => (Some(s), true),
            HeaderSigner::Unsigned | HeaderSigner::Trailer => (None, false),
        };
        Ok(Self {
            cipher: super::cipher_for(&header, &keys),
            keys,
            signer,
            header_only,
            trailer: header.trailer_len() > 0,
            sealed_len,
            header_len,
            layout,
            segments,
        })
    }

    /// Where the signature trailer is (signed v2 objects), in the sealed object's bytes.
    pub fn trailer_range(&self) -> Option<Range<u64>> {
        self.trailer
            .then(|| self.sealed_len - TRAILER_LEN as u64..self.sealed_len)
    }

    /// Checks the trailer `bytes` against `zeroed_root`, the BLAKE3 root of the whole object with
    /// its trailer zeroed (hash it, or get it from the Bao outboard with
    /// [`RangeReader::with_outboard`]); on success the signer is known.
    pub fn verify_trailer(
        &mut self,
        bytes: &[u8],
        zeroed_root: &[u8; 32],
    ) -> Result<&Recipient, SealError> {
        if !self.trailer {
            return Err(SealError::InvalidHeader(
                "the object has no signature trailer",
            ));
        }
        let signer = trailer::verify(&self.keys, bytes, zeroed_root, self.sealed_len)?;
        Ok(self.signer.insert(signer))
    }

    /// Whether the signature (v1) covers the header only, not the content.
    pub fn header_only(&self) -> bool {
        self.header_only
    }

    /// Whether the object is signed (v2: the signer is known once the trailer is verified).
    pub fn is_signed(&self) -> bool {
        self.trailer || self.signer.is_some()
    }

    /// Length of the plaintext.
    pub fn plaintext_len(&self) -> u64 {
        self.layout.payload_len - self.segments * TAG_LEN as u64
    }

    /// Who signed the object, if it is signed and the signature was verified (v1: at once; v2:
    /// after [`OpenedHeader::verify_trailer`]).
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
/// A signed v2 object's signature covers the whole object: [`RangeReader::new`] checks it by
/// hashing the source once (a local file: one read at BLAKE3 speed); with the object's Bao
/// outboard, [`RangeReader::with_outboard`] checks it from the outboard's right spine and the
/// last 16 KiB group, and every range against the outboard.
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
    outboard: Option<Outboard>,
}

impl<S: ReadAt> RangeReader<S> {
    /// Reads and unlocks the header of the object in `source`; for a signed v2 object, hashes the
    /// source once to check the signature trailer.
    pub fn new(source: S, identity: &Identity) -> Result<Self, SealError> {
        Self::open(source, Unlock::Identity(identity))
    }

    /// [`RangeReader::new`] with any [`Unlock`].
    pub fn open(source: S, unlock: Unlock<'_>) -> Result<Self, SealError> {
        let mut reader = Self::unlocked(source, unlock, None)?;
        if let Some(t) = reader.opened.trailer_range() {
            let zeroed = hash_with_zeroed_tail(&reader.source, t.start)?;
            let mut bytes = vec![0u8; TRAILER_LEN];
            reader.source.read_exact_at(&mut bytes, t.start)?;
            reader.opened.verify_trailer(&bytes, &zeroed)?;
        }
        Ok(reader)
    }

    /// Like [`RangeReader::open`] for an object whose Bao outboard (over the sealed bytes) is at
    /// hand: the trailer is checked through the outboard (O(log n) hashing, the last group read),
    /// and each range read is verified against it before it is decrypted. The outboard's length
    /// must be the source's.
    pub fn with_outboard(
        source: S,
        unlock: Unlock<'_>,
        outboard: Outboard,
    ) -> Result<Self, SealError> {
        let size = source.size()?;
        if outboard.len() != size {
            return Err(SealError::InvalidHeader(
                "the outboard is for an object of another length",
            ));
        }
        let mut reader = Self::unlocked(source, unlock, Some(outboard))?;
        if let Some(t) = reader.opened.trailer_range() {
            let bytes = reader.verified(t.clone())?;
            let ob = reader
                .outboard
                .as_ref()
                .ok_or(SealError::Internal("outboard"))?;
            let proof = ob
                .range_proof(t.clone())
                .map_err(|_| SealError::BadSignature)?;
            let cover =
                crate::verify::covering_range(size, t).map_err(|_| SealError::BadSignature)?;
            let mut covering = vec![0u8; (cover.end - cover.start) as usize];
            reader.source.read_exact_at(&mut covering, cover.start)?;
            let zeroed = trailer::zeroed_root_from_proof(&proof, &covering)?;
            reader.opened.verify_trailer(&bytes, &zeroed)?;
        }
        Ok(reader)
    }

    /// Like [`RangeReader::with_outboard`] with only the outboard's bytes (the hash pairs, as
    /// `coffer seal --outboard` writes them): the root is computed from them and the object's last
    /// 16 KiB group. That root is not trusted by itself; the signature trailer, which covers the
    /// whole object through the same pairs, is what the reads are checked against, so this is
    /// for signed objects.
    pub fn with_outboard_bytes(
        source: S,
        unlock: Unlock<'_>,
        pairs: Vec<u8>,
    ) -> Result<Self, SealError> {
        let size = source.size()?;
        let bad = |_| SealError::InvalidHeader("the outboard does not fit the object");
        let placeholder = Outboard::from_parts(blake3::hash(b""), size, pairs).map_err(bad)?;
        let root = if size == 0 {
            blake3::hash(b"")
        } else {
            let last = size - 1..size;
            let proof = placeholder.range_proof(last.clone()).map_err(bad)?;
            let cover = crate::verify::covering_range(size, last).map_err(bad)?;
            let mut covering = vec![0u8; (cover.end - cover.start) as usize];
            source.read_exact_at(&mut covering, cover.start)?;
            proof.root_of(&covering).map_err(bad)?
        };
        let outboard = Outboard::from_parts(root, size, placeholder.into_bytes()).map_err(bad)?;
        Self::with_outboard(source, unlock, outboard)
    }

    /// Reads `range` of the sealed bytes, verified against the outboard when there is one.
    fn verified(&self, range: Range<u64>) -> Result<Vec<u8>, SealError> {
        match &self.outboard {
            None => {
                let mut buf = vec![0u8; (range.end - range.start) as usize];
                self.source.read_exact_at(&mut buf, range.start)?;
                Ok(buf)
            }
            Some(ob) => {
                let size = ob.len();
                let cover = crate::verify::covering_range(size, range.clone())
                    .map_err(|_| SealError::Truncated)?;
                let mut buf = vec![0u8; (cover.end - cover.start) as usize];
                self.source.read_exact_at(&mut buf, cover.start)?;
                let ok = ob
                    .verify_range(range, &buf)
                    .map_err(|_| SealError::PayloadMismatch)?;
                Ok(ok.to_vec())
            }
        }
    }

    fn unlocked(
        source: S,
        unlock: Unlock<'_>,
        outboard: Option<Outboard>,
    ) -> Result<Self, SealError> {
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
        if let Some(ob) = &outboard {
            let cover = crate::verify::covering_range(size, 0..header_len as u64)
                .map_err(|_| SealError::Truncated)?;
            let mut buf = vec![0u8; (cover.end - cover.start) as usize];
            source.read_exact_at(&mut buf, cover.start)?;
            ob.verify_range(0..header_len as u64, &buf)
                .map_err(|_| SealError::HeaderTampered)?;
        }
        let opened = OpenedHeader::open(&header, size, unlock)?;
        Ok(Self {
            source,
            opened,
            outboard,
        })
    }

    /// Length of the plaintext.
    pub fn plaintext_len(&self) -> u64 {
        self.opened.plaintext_len()
    }

    /// Who signed the object, if it is signed (checked at construction).
    pub fn signer(&self) -> Option<&Recipient> {
        self.opened.signer()
    }

    /// Whether the signature (v1) covers the header only, not the content.
    pub fn header_only(&self) -> bool {
        self.opened.header_only()
    }

    /// The unlocked header.
    pub fn opened_header(&self) -> &OpenedHeader {
        &self.opened
    }

    /// Opens plaintext `range`, reading only the segments that hold it.
    pub fn read_range(&self, range: Range<u64>) -> Result<Vec<u8>, SealError> {
        let ct = self.opened.ciphertext_range(range.clone())?;
        let buf = self.verified(ct)?;
        self.opened.decrypt_range(range, &buf)
    }
}

/// The BLAKE3 root of `source` with everything from `tail_start` on zeroed, read in 1 MiB pieces.
fn hash_with_zeroed_tail<S: ReadAt>(source: &S, tail_start: u64) -> Result<[u8; 32], SealError> {
    let size = source.size()?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < tail_start {
        let n = ((tail_start - at) as usize).min(buf.len());
        source.read_exact_at(&mut buf[..n], at)?;
        h.update(&buf[..n]);
        at += n as u64;
    }
    buf.fill(0);
    while at < size {
        let n = ((size - at) as usize).min(buf.len());
        h.update(&buf[..n]);
        at += n as u64;
    }
    Ok(*h.finalize().as_bytes())
}
