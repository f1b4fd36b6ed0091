//! Sealed objects, format v2 (reads v1 too; `docs/FORMAT.md` §3).
//!
//! Each object gets a fresh random 256-bit file key. HKDF-SHA256 (with a random per-object salt)
//! derives from it the payload key, a key commitment and a header MAC key. The payload is a
//! STREAM of AES-256-GCM segments (64 KiB of plaintext each by default) whose nonces carry the
//! segment counter and a last-segment flag, so truncation, extension and reordering are detected.
//! The file key is wrapped once per recipient: with HPKE (RFC 9180, base mode, DHKEM(X25519,
//! HKDF-SHA256), HKDF-SHA256, AES-256-GCM) to a public key, or with AES-256-GCM under a secret
//! [`WrapKey`]. The header is authenticated by an HMAC. A signed object ends with a trailer: the
//! sender's Ed25519 signature over the whole object (its BLAKE3 root with the trailer zeroed), so
//! no co-recipient who knows the file key can pass off other content as the sender's. Objects of
//! format v1, whose signature covers only the header, still open and say so
//! ([`Opened::header_only`]).
//!
//! Four ways in and out (the first three with memory bounded by two segments):
//! - synchronous streams: [`SealWriter`] (a `std::io::Write`) and [`OpenReader`] (a
//!   `std::io::Read`);
//! - asynchronous streams: [`seal_async`] and [`open_async`] over `futures-io` traits;
//! - whole objects in memory through an asynchronous AES-GCM backend that works on batches of
//!   segments (WebCrypto in the npm package): [`seal_batched`] and [`open_batched`];
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
mod batch;
mod gcm;
mod header;
mod range;
mod rng;
mod segments;
mod sync_io;
mod trailer;

use std::io;

use zeroize::Zeroizing;

pub(crate) use async_io::open_async_with;
pub use async_io::{open_async, seal_async};
#[doc(hidden)]
pub use batch::seal_batched_with_rng;
pub use batch::{
    BatchBytes, BatchCipher, BatchOutput, CoreBatch, CoreKey, open_batched, open_batched_with_root,
    seal_batched, seal_batched_with_outboard,
};
pub use gcm::BACKEND as AEAD_BACKEND;
pub use header::{
    DEFAULT_SEGMENT_LOG2, Header, MAX_RECIPIENTS, MAX_SEGMENT_LOG2, MIN_SEGMENT_LOG2,
    OLDEST_VERSION, PREFIX_LEN, SealTo, Unlock, VERSION, WrapKey,
};
pub use range::{OpenedHeader, RangeReader, ReadAt};
#[doc(hidden)]
pub use rng::FixedRng;
pub(crate) use rng::SeededRng;
pub use rng::{OsRng, SealRng};
pub use segments::TAG_LEN;
pub use sync_io::{OpenReader, SealWriter};
pub use trailer::TRAILER_LEN;

use crate::keys::{Identity, Recipient};
use header::{HeaderSigner, ObjectKeys};
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
    /// A specific signer was required, and the object is format v1, whose signature covers only
    /// the header and file key: anyone the object was sealed to could have written its content.
    #[error(
        "the object is format v1: its signature covers the header, not the content, so any of its \
         recipients could have written the content; ask the sender to seal it again"
    )]
    HeaderOnlySignature,
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
    /// An asynchronous AES-GCM backend ([`BatchCipher`], e.g. WebCrypto) failed for a reason
    /// other than a segment that does not authenticate (no such backend, a refused key).
    #[error("the AES-GCM backend failed: {0}")]
    Cipher(String),
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
    to: Vec<SealTo>,
    pub(crate) signer: Option<Identity>,
    segment_log2: u8,
}

impl SealOptions {
    /// Seal to `recipients`, unsigned, with 64 KiB segments.
    pub fn new(recipients: Vec<Recipient>) -> Self {
        Self {
            to: recipients.into_iter().map(SealTo::Recipient).collect(),
            signer: None,
            segment_log2: DEFAULT_SEGMENT_LOG2,
        }
    }

    /// Seal to a secret wrap key (and nothing else yet; add recipients with [`Self::also_to`]).
    pub fn to_key(key: WrapKey) -> Self {
        Self {
            to: vec![SealTo::Key(key)],
            signer: None,
            segment_log2: DEFAULT_SEGMENT_LOG2,
        }
    }

    /// Also seal to `to` (one more stanza).
    pub fn also_to(mut self, to: SealTo) -> Self {
        self.to.push(to);
        self
    }

    /// Sign the object with `identity`: a trailer signature over the whole sealed object, so
    /// recipients can check who sealed it and that the content is theirs.
    pub fn signed_by(mut self, identity: &Identity) -> Self {
        self.signer = Some(identity.clone());
        self
    }

    /// Use segments of `2^log2` plaintext bytes (10..=24; default 16, i.e. 64 KiB).
    pub fn segment_size_log2(mut self, log2: u8) -> Self {
        self.segment_log2 = log2;
        self
    }

    /// The public-key recipients (not the secret wrap keys).
    pub fn recipients(&self) -> Vec<Recipient> {
        self.to
            .iter()
            .filter_map(|t| match t {
                SealTo::Recipient(r) => Some(r.clone()),
                SealTo::Key(_) => None,
            })
            .collect()
    }

    /// Starts a new object: draws its file key and salt and builds its header.
    pub(crate) fn start(&self, rng: &mut impl SealRng) -> Result<(Header, ObjectKeys), SealError> {
        let mut file_key = Zeroizing::new([0u8; 32]);
        let mut salt = [0u8; 32];
        let Ok(()) = hpke::rand_core::TryRng::try_fill_bytes(rng, file_key.as_mut());
        let Ok(()) = hpke::rand_core::TryRng::try_fill_bytes(rng, &mut salt);
        Header::build(
            &file_key,
            salt,
            self.segment_log2,
            &self.to,
            self.signer.is_some(),
            rng,
        )
    }
}

#[allow(dead_code)]
fn _header_signer_is_used(_: HeaderSigner) {}

fn cipher_for(header: &Header, keys: &ObjectKeys) -> PayloadCipher {
    PayloadCipher::new(&keys.payload, header.segment_size())
}

/// Sizes of a sealed object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealSummary {
    /// Plaintext bytes sealed.
    pub plaintext_len: u64,
    /// Bytes of the sealed object (header, segments and trailer).
    pub sealed_len: u64,
    /// The BLAKE3 root of the sealed object (its content id digest), when it was computed (signed
    /// objects, and writers made with an outboard).
    pub root: Option<[u8; 32]>,
}

/// What opening an object yielded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenSummary {
    /// Plaintext bytes produced.
    pub plaintext_len: u64,
    /// Who signed the object, if it was signed (the signature was verified).
    pub signer: Option<Recipient>,
    /// Whether the signature (format v1) covers only the header, not the content.
    pub header_only: bool,
}

/// A fully opened object held in memory.
#[derive(Clone, PartialEq, Eq)]
pub struct Opened {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// Who signed the object, if it was signed (the signature was verified).
    pub signer: Option<Recipient>,
    /// Whether the signature is format v1's, which covers only the header and file key: any
    /// recipient could have written the content. `false` for v2 signatures (they cover the
    /// content) and for unsigned objects.
    pub header_only: bool,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("plaintext_len", &self.plaintext.len())
            .field("signer", &self.signer)
            .field("header_only", &self.header_only)
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
/// authenticated (and, when signed, the signature).
pub fn open_to_vec(identity: &Identity, sealed: &[u8]) -> Result<Opened, SealError> {
    open_to_vec_with(Unlock::Identity(identity), sealed)
}

/// [`open_to_vec`] with any [`Unlock`].
pub fn open_to_vec_with(unlock: Unlock<'_>, sealed: &[u8]) -> Result<Opened, SealError> {
    let r = OpenReader::open_sized(sealed, unlock, Some(sealed.len()))?;
    read_opened(r)
}

/// [`open_to_vec_with`] for an object the caller holds by a hash named in a structure whose
/// signature it verified (a vault manifest reached from a verified head through the index):
/// everything is checked as usual except the signature trailer of a v2 object, which must be
/// there but is not verified (the hash already binds the bytes, signature included). Returns
/// the plaintext and whether the object is signed (a trailer, or a verified v1 header
/// signature); `signer` is `None` for v2.
pub(crate) fn open_to_vec_hash_bound(
    unlock: Unlock<'_>,
    sealed: &[u8],
) -> Result<(Opened, bool), SealError> {
    let r = OpenReader::open_sized(sealed, unlock, Some(sealed.len()))?.skip_trailer_signature();
    let signed = r.is_signed();
    Ok((read_opened(r)?, signed))
}

fn read_opened(mut r: OpenReader<&[u8]>) -> Result<Opened, SealError> {
    // The plaintext is shorter than what is left of the input: one allocation.
    let mut plaintext = Vec::with_capacity(r.input_left());
    if let Err(e) = io::Read::read_to_end(&mut r, &mut plaintext) {
        zeroize::Zeroize::zeroize(&mut plaintext);
        return Err(SealError::from_io(e));
    }
    Ok(Opened {
        plaintext,
        signer: r.signer().cloned(),
        header_only: r.header_only(),
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
/// header) with `unlock`, after checking the header with it (commitment, v1 signature, MAC).
/// This is how an owner re-wraps keys for others without touching the object. It says nothing
/// about the payload: callers get `header_bytes` verified against the object's hash first.
pub fn file_key_of(unlock: Unlock<'_>, header_bytes: &[u8]) -> Result<FileKey, SealError> {
    let header = Header::parse(header_bytes)?;
    let (_, key, _) = header.unlock(unlock)?;
    Ok(FileKey(key))
}

/// Opens a whole sealed object held in memory with a file key given directly (see [`FileKey`]).
pub fn open_to_vec_with_key(file_key: &FileKey, sealed: &[u8]) -> Result<Opened, SealError> {
    open_to_vec_with(Unlock::FileKey(file_key), sealed)
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
