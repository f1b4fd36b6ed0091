//! Sealed objects, format v1 (`docs/FORMAT.md` §3).
//!
//! Each object gets a fresh random 256-bit file key. HKDF-SHA256 (with a random per-object salt)
//! derives from it the payload key, a key commitment and a header MAC key. The payload is a
//! STREAM of AES-256-GCM segments (64 KiB of plaintext each by default) whose nonces carry the
//! segment counter and a last-segment flag, so truncation, extension and reordering are detected.
//! The file key is wrapped with HPKE (RFC 9180, base mode, DHKEM(X25519, HKDF-SHA256),
//! HKDF-SHA256, AES-256-GCM) once per recipient. The header is authenticated by an HMAC and,
//! optionally, signed with the sender's Ed25519 key.
//!
//! Three ways in and out, all with memory bounded by two segments:
//! - synchronous streams: [`SealWriter`] (a `std::io::Write`) and [`OpenReader`] (a
//!   `std::io::Read`);
//! - asynchronous streams: [`seal_async`] and [`open_async`] over `futures-io` traits;
//! - random access: [`RangeReader`] reads only the segments a byte range needs, and
//!   [`OpenedHeader`] does the same without I/O, for callers that fetch bytes themselves.
//!
//! ```
//! use coffer::keys::Identity;
//! use coffer::seal::{self, SealOptions};
//!
//! let alice = Identity::generate();
//! let bob = Identity::generate();
//! let opts = SealOptions::new(vec![bob.recipient().clone()]).signed_by(&alice);
//! let sealed = seal::seal_to_vec(&opts, b"meet at noon").unwrap();
//!
//! let opened = seal::open_to_vec(&bob, &sealed).unwrap();
//! assert_eq!(opened.plaintext, b"meet at noon");
//! assert_eq!(opened.signer.as_ref(), Some(alice.recipient()));
//! // Anyone else gets a typed error, never bytes.
//! assert!(seal::open_to_vec(&Identity::generate(), &sealed).is_err());
//! ```

mod async_io;
mod gcm;
mod header;
mod range;
mod rng;
mod segments;
mod sync_io;

use std::io;

use zeroize::Zeroizing;

pub(crate) use async_io::open_async_signed;
pub use async_io::{open_async, seal_async};
pub use gcm::BACKEND as AEAD_BACKEND;
pub use header::{
    DEFAULT_SEGMENT_LOG2, Header, MAX_RECIPIENTS, MAX_SEGMENT_LOG2, MIN_SEGMENT_LOG2, PREFIX_LEN,
    VERSION,
};
pub use range::{OpenedHeader, RangeReader, ReadAt};
#[doc(hidden)]
pub use rng::FixedRng;
pub(crate) use rng::SeededRng;
pub use rng::{OsRng, SealRng};
pub use segments::TAG_LEN;
pub use sync_io::{OpenReader, SealWriter};

use crate::keys::{Identity, Recipient};
use header::ObjectKeys;
use segments::PayloadCipher;

/// Why sealing or opening failed. Each kind of damage has its own variant; none carries key
/// material or plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The input does not start with the `COFFER` magic bytes.
    #[error("not a coffer sealed object (the magic bytes are missing)")]
    NotSealed,
    /// The object was written by a newer format version.
    #[error(
        "sealed-object format version {0} is not supported by this version of coffer; upgrade coffer"
    )]
    UnsupportedVersion(u8),
    /// A header field has a value the format does not allow.
    #[error("the sealed header is invalid: {0}")]
    InvalidHeader(&'static str),
    /// The segment size is outside 1 KiB..=16 MiB (or not a power of two).
    #[error("segment size 2^{0} is outside the allowed 2^10..=2^24 bytes")]
    InvalidSegmentSize(u8),
    /// The input ends inside the header.
    #[error("the sealed header is cut short: {found} of {expected} bytes")]
    TruncatedHeader {
        /// Bytes the header should have.
        expected: usize,
        /// Bytes that were there.
        found: usize,
    },
    /// None of the header's recipient stanzas opens with this identity.
    #[error("this object is not sealed to this identity (or its recipient list was modified)")]
    NoMatchingRecipient,
    /// The file key does not match the header's key commitment: the header was tampered with.
    #[error("the file key does not match the header's key commitment: the header was modified")]
    KeyCommitmentMismatch,
    /// The header's signature does not verify.
    #[error("the header's signature does not verify: the object was modified or forged")]
    BadSignature,
    /// The header MAC does not verify.
    #[error("the sealed header was modified (its MAC does not verify)")]
    HeaderTampered,
    /// The object is unsigned, or signed by someone else, but a specific signer was required.
    #[error("the object is not signed by the expected sender")]
    UnexpectedSigner,
    /// The payload ends early: segments are missing at the end.
    #[error("the sealed object is truncated: its final segment is missing")]
    Truncated,
    /// Bytes follow the final segment.
    #[error("the sealed object has data after its final segment")]
    TrailingData,
    /// A segment sits at the wrong position (reordered, duplicated or dropped segments).
    #[error(
        "segment {found} appears at position {position}: segments were reordered, duplicated or dropped"
    )]
    SegmentOutOfOrder {
        /// Where the segment was found.
        position: u64,
        /// Which segment it really is.
        found: u64,
    },
    /// A segment failed authentication.
    #[error(
        "segment {index} failed authentication: {}",
        if *last { "the data was modified or the object was cut short" } else { "the data was modified" }
    )]
    SegmentCorrupt {
        /// The segment's index.
        index: u64,
        /// Whether it is the last segment present (then truncation is as likely as damage).
        last: bool,
    },
    /// The payload was sealed under another header (e.g. a header swapped between objects).
    #[error("the payload does not belong to this header")]
    PayloadMismatch,
    /// The requested plaintext range lies beyond the end of the object.
    #[error("range {start}..{end} is outside the object's {len} bytes")]
    RangeOutOfBounds {
        /// Start of the requested range.
        start: u64,
        /// End of the requested range.
        end: u64,
        /// Plaintext length of the object.
        len: u64,
    },
    /// No recipients were given.
    #[error("at least one recipient is needed to seal")]
    NoRecipients,
    /// More than [`MAX_RECIPIENTS`] recipients were given.
    #[error("{0} recipients is more than the 1024 one object can have")]
    TooManyRecipients(usize),
    /// A recipient's public key was rejected by HPKE.
    #[error("a recipient's public key cannot be used for encryption")]
    InvalidRecipient,
    /// Reading or writing the underlying stream failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// A bug: an invariant of this module did not hold.
    #[error("internal error in coffer's seal module ({0}); please report it")]
    Internal(&'static str),
}

impl SealError {
    /// Recovers a `SealError` carried inside an `io::Error` returned by [`OpenReader`] or
    /// [`SealWriter`]; any other I/O error becomes [`SealError::Io`].
    pub fn from_io(e: io::Error) -> Self {
        if e.get_ref().is_some_and(|inner| inner.is::<SealError>()) {
            let inner = e.into_inner().expect("checked above");
            match inner.downcast::<SealError>() {
                Ok(seal) => *seal,
                Err(other) => SealError::Io(io::Error::new(io::ErrorKind::InvalidData, other)),
            }
        } else {
            SealError::Io(e)
        }
    }

    pub(crate) fn into_io(self) -> io::Error {
        match self {
            SealError::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// How to seal: to whom, signed by whom, with what segment size.
#[derive(Clone, Debug)]
pub struct SealOptions {
    recipients: Vec<Recipient>,
    signer: Option<Identity>,
    segment_log2: u8,
}

impl SealOptions {
    /// Seal to `recipients`, unsigned, with 64 KiB segments.
    pub fn new(recipients: Vec<Recipient>) -> Self {
        Self {
            recipients,
            signer: None,
            segment_log2: DEFAULT_SEGMENT_LOG2,
        }
    }

    /// Sign the header with `identity`, so recipients can check who sealed the object.
    pub fn signed_by(mut self, identity: &Identity) -> Self {
        self.signer = Some(identity.clone());
        self
    }

    /// Use segments of `2^log2` plaintext bytes (10..=24; default 16, i.e. 64 KiB).
    pub fn segment_size_log2(mut self, log2: u8) -> Self {
        self.segment_log2 = log2;
        self
    }

    /// The recipients.
    pub fn recipients(&self) -> &[Recipient] {
        &self.recipients
    }

    /// Starts a new object: draws its file key and salt and builds its header.
    pub(crate) fn start(
        &self,
        rng: &mut impl SealRng,
    ) -> Result<(Header, PayloadCipher), SealError> {
        let mut file_key = Zeroizing::new([0u8; 32]);
        let mut salt = [0u8; 32];
        let Ok(()) = hpke::rand_core::TryRng::try_fill_bytes(rng, file_key.as_mut());
        let Ok(()) = hpke::rand_core::TryRng::try_fill_bytes(rng, &mut salt);
        let (header, keys) = Header::build(
            &file_key,
            salt,
            self.segment_log2,
            &self.recipients,
            self.signer.as_ref(),
            rng,
        )?;
        let cipher = cipher_for(&header, &keys);
        Ok((header, cipher))
    }
}

fn cipher_for(header: &Header, keys: &ObjectKeys) -> PayloadCipher {
    PayloadCipher::new(&keys.payload, header.segment_size())
}

/// Sizes of a sealed object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealSummary {
    /// Plaintext bytes sealed.
    pub plaintext_len: u64,
    /// Bytes of the sealed object (header and segments).
    pub sealed_len: u64,
}

/// What opening an object yielded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenSummary {
    /// Plaintext bytes produced.
    pub plaintext_len: u64,
    /// Who signed the header, if it was signed (the signature was verified).
    pub signer: Option<Recipient>,
}

/// A fully opened object held in memory.
#[derive(Clone, PartialEq, Eq)]
pub struct Opened {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// Who signed the header, if it was signed (the signature was verified).
    pub signer: Option<Recipient>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("plaintext_len", &self.plaintext.len())
            .field("signer", &self.signer)
            .finish()
    }
}

/// Seals `plaintext` in memory.
pub fn seal_to_vec(opts: &SealOptions, plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
    seal_to_vec_with_rng(opts, plaintext, &mut OsRng)
}

/// Seals `plaintext` drawing all randomness from `rng`. Only for reproducing test vectors.
#[doc(hidden)]
pub fn seal_to_vec_with_rng(
    opts: &SealOptions,
    plaintext: &[u8],
    rng: &mut impl SealRng,
) -> Result<Vec<u8>, SealError> {
    let mut w = SealWriter::with_rng(Vec::new(), opts, rng)?;
    io::Write::write_all(&mut w, plaintext).map_err(SealError::from_io)?;
    let (out, _) = w.finish().map_err(SealError::from_io)?;
    Ok(out)
}

/// Opens a whole sealed object held in memory. Returns the plaintext only if every segment
/// authenticated.
pub fn open_to_vec(identity: &Identity, sealed: &[u8]) -> Result<Opened, SealError> {
    let mut r = OpenReader::new(sealed, identity)?;
    let mut plaintext = Vec::new();
    io::Read::read_to_end(&mut r, &mut plaintext).map_err(SealError::from_io)?;
    Ok(Opened {
        plaintext,
        signer: r.signer().cloned(),
    })
}

/// An object's file key, held outside its header: what a share's keyring hands a reader who has
/// no stanza of their own. Zeroized on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct FileKey(Zeroizing<[u8; 32]>);

impl FileKey {
    /// Wraps 32 key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(…)")
    }
}

/// Recovers the file key of the sealed object starting with `header_bytes` (at least its whole
/// header), wrapped to `identity`, after checking the header with it (commitment, signature,
/// MAC). Returns it with the verified signer. This is how an owner re-wraps keys for others
/// without touching the object.
pub fn file_key_of(
    identity: &Identity,
    header_bytes: &[u8],
) -> Result<(FileKey, Option<Recipient>), SealError> {
    let header = Header::parse(header_bytes)?;
    let (key, signer) = header.recover_file_key(identity)?;
    Ok((FileKey(key), signer))
}

/// Opens a whole sealed object held in memory with a file key given directly (see [`FileKey`]).
pub fn open_to_vec_with_key(file_key: &FileKey, sealed: &[u8]) -> Result<Opened, SealError> {
    let mut r = OpenReader::with_file_key(sealed, file_key)?;
    let mut plaintext = Vec::new();
    io::Read::read_to_end(&mut r, &mut plaintext).map_err(SealError::from_io)?;
    Ok(Opened {
        plaintext,
        signer: r.signer().cloned(),
    })
}

#[cfg(test)]
mod tests;

/// HPKE single-shot seal in coffer's suite with caller-chosen `info`/`aad` (RFC 9180 vectors).
#[cfg(test)]
pub(crate) fn hpke_seal_for_tests(
    pk: &crate::keys::KemPublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut impl SealRng,
) -> ([u8; 32], Vec<u8>) {
    header::hpke_seal(pk, info, aad, plaintext, rng).expect("valid vector")
}

/// The bare segment cipher (same AEAD backend as sealing), for benchmarks that compare sealing
/// with raw AES-256-GCM. Not for sealing data: use [`SealWriter`].
#[doc(hidden)]
pub struct RawSegmentCipher(PayloadCipher);

impl RawSegmentCipher {
    /// A cipher under `key` for segments of `segment_size` bytes.
    pub fn new(key: &[u8; 32], segment_size: usize) -> Self {
        Self(PayloadCipher::new(key, segment_size))
    }

    /// Encrypts `buf` in place and appends the tag.
    pub fn seal_segment(&self, index: u64, last: bool, buf: &mut Vec<u8>) {
        self.0.seal_segment(index, last, buf);
    }
}
