//! Whole objects sealed and opened through an asynchronous AES-GCM backend that works on batches
//! of segments (`crypto.subtle` in the npm package; `docs/decisions.md`, "WebCrypto segments").
//!
//! Only AES-GCM leaves the core: the header, the STREAM nonces, the BLAKE3 hash the signature
//! covers and the trailer are computed here, with the same functions as [`super::SealWriter`]
//! and [`super::OpenReader`], so the bytes are identical and a damaged object gives the same
//! [`SealError`] on every backend: when a backend refuses a segment, the reference cipher
//! diagnoses it.

use std::collections::VecDeque;
use std::future::Future;

use zeroize::Zeroizing;

use super::gcm::Gcm;
use super::header::{HeaderSigner, Unlock};
use super::segments::{PayloadCipher, TAG_LEN, nonce};
use super::trailer::{self, Hashing, TRAILER_LEN};
use super::{Header, Opened, OsRng, PREFIX_LEN, SealError, SealOptions, SealRng};
use crate::verify::Outboard;

/// Bytes of segments handed to the backend in one call (at least one segment)...
const BATCH_BYTES: usize = 4 << 20;
/// ...and at most this many segments (64 of the default 64 KiB: WebCrypto in Node ran 1.5x
/// faster with 64 than with 16 per batch, slower again with 1,024).
const BATCH_SEGMENTS: usize = 64;
/// Batches handed to the backend before the first of them is awaited: the core hashes one
/// while the backend works on the next.
const IN_FLIGHT: usize = 2;

/// A backend's answer for one batch of segments.
#[derive(Clone, PartialEq, Eq)]
pub enum BatchOutput<T = Vec<u8>> {
    /// The segments' output back to back: `ciphertext ‖ tag` each when sealing, the plaintext
    /// when opening, wherever the backend holds it ([`BatchBytes`]).
    Done(T),
    /// Opening: the segment at this position in the batch (from 0), and maybe later ones,
    /// failed authentication; nothing of the batch may be used.
    Rejected(usize),
}

impl<T: BatchBytes> std::fmt::Debug for BatchOutput<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Done(b) => write!(f, "Done({} bytes)", b.byte_len()),
            Self::Rejected(i) => write!(f, "Rejected({i})"),
        }
    }
}

/// The output of a batch where the backend holds it (in wasm: JavaScript buffers), copied once,
/// straight to its place in the sealed object or the plaintext.
pub trait BatchBytes {
    /// Its length in bytes.
    fn byte_len(&self) -> usize;
    /// Copies it to `dst`, which is exactly [`Self::byte_len`] bytes long.
    fn copy_to(&self, dst: &mut [u8]);
}

impl BatchBytes for Vec<u8> {
    fn byte_len(&self) -> usize {
        self.len()
    }
    fn copy_to(&self, dst: &mut [u8]) {
        dst.copy_from_slice(self);
    }
}

impl BatchBytes for Zeroizing<Vec<u8>> {
    fn byte_len(&self) -> usize {
        self.len()
    }
    fn copy_to(&self, dst: &mut [u8]) {
        dst.copy_from_slice(self);
    }
}

/// AES-256-GCM over batches of segments, asynchronously. A batch is `nonces.len()` consecutive
/// segments whose input lies back to back in `data`: segment `i` is
/// `data[i * stride ..][..stride]`, the last one possibly shorter. Each segment is one
/// AES-256-GCM message with its 12-byte nonce, no associated data and a 16-byte tag appended
/// (`docs/FORMAT.md` §3.4).
///
/// The work of a batch may start when [`Self::seal`] or [`Self::open`] is called, before the
/// returned future is polled (a JavaScript promise does), so the core keeps a few in flight; the
/// future owns what it needs and does not borrow `data`.
pub trait BatchCipher {
    /// A payload key, imported once per object.
    type Key;
    /// The output of a batch, as the backend holds it.
    type Output: BatchBytes;
    /// A batch being sealed or opened.
    type Pending: Future<Output = Result<BatchOutput<Self::Output>, SealError>>;

    /// Imports the payload key of one object.
    fn import_key(&self, key: &[u8; 32]) -> impl Future<Output = Result<Self::Key, SealError>>;

    /// Seals the batch: `stride` is the segment size, the output `ciphertext ‖ tag` per segment.
    fn seal(
        &self,
        key: &Self::Key,
        nonces: &[[u8; 12]],
        data: &[u8],
        stride: usize,
    ) -> Self::Pending;

    /// Opens the batch: `stride` is the segment size plus the tag. Answers the plaintext, or
    /// the position of the first segment whose tag did not verify.
    fn open(
        &self,
        key: &Self::Key,
        nonces: &[[u8; 12]],
        data: &[u8],
        stride: usize,
    ) -> Self::Pending;
}

/// The reference backend: the core's own AES-GCM ([`super::AEAD_BACKEND`]: the portable one, or
/// `ring` with that feature), synchronously.
#[derive(Clone, Copy, Debug, Default)]
pub struct CoreBatch;

/// A payload key of [`CoreBatch`] (its key schedule, zeroized on drop).
pub struct CoreKey(Gcm);

impl std::fmt::Debug for CoreKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoreKey(…)")
    }
}

impl BatchCipher for CoreBatch {
    type Key = CoreKey;
    /// Zeroized on drop: when opening, it is plaintext.
    type Output = Zeroizing<Vec<u8>>;
    type Pending = std::future::Ready<Result<BatchOutput<Self::Output>, SealError>>;

    fn import_key(&self, key: &[u8; 32]) -> impl Future<Output = Result<CoreKey, SealError>> {
        std::future::ready(Ok(CoreKey(Gcm::new(key))))
    }

    fn seal(
        &self,
        key: &CoreKey,
        nonces: &[[u8; 12]],
        data: &[u8],
        stride: usize,
    ) -> Self::Pending {
        let mut out = Vec::with_capacity(data.len() + nonces.len() * TAG_LEN);
        let mut chunks = data.chunks(stride.max(1));
        for n in nonces {
            let start = out.len();
            out.extend_from_slice(chunks.next().unwrap_or_default());
            let tag = key.0.seal_in_place(*n, &mut out[start..]);
            out.extend_from_slice(&tag);
        }
        std::future::ready(Ok(BatchOutput::Done(Zeroizing::new(out))))
    }

    fn open(
        &self,
        key: &CoreKey,
        nonces: &[[u8; 12]],
        data: &[u8],
        stride: usize,
    ) -> Self::Pending {
        let mut out = Zeroizing::new(Vec::with_capacity(data.len()));
        let mut chunks = data.chunks(stride.max(1));
        for (i, n) in nonces.iter().enumerate() {
            let seg = chunks.next().unwrap_or_default();
            if seg.len() < TAG_LEN {
                return std::future::ready(Ok(BatchOutput::Rejected(i)));
            }
            let start = out.len();
            out.resize(start + seg.len() - TAG_LEN, 0);
            if !key.0.open_into(*n, seg, &mut out[start..]) {
                return std::future::ready(Ok(BatchOutput::Rejected(i)));
            }
        }
        std::future::ready(Ok(BatchOutput::Done(out)))
    }
}

/// Seals `plaintext` in memory with `backend`: the same bytes [`super::seal_to_vec`] writes.
pub async fn seal_batched<B: BatchCipher>(
    backend: &B,
    opts: &SealOptions,
    plaintext: &[u8],
) -> Result<Vec<u8>, SealError> {
    seal_batched_with_rng(backend, opts, plaintext, &mut OsRng).await
}

/// [`seal_batched`] drawing all randomness from `rng`. Only for reproducing test vectors.
#[doc(hidden)]
pub async fn seal_batched_with_rng<B: BatchCipher>(
    backend: &B,
    opts: &SealOptions,
    plaintext: &[u8],
    rng: &mut impl SealRng,
) -> Result<Vec<u8>, SealError> {
    Ok(seal_inner(backend, opts, plaintext, rng, false).await?.0)
}

/// [`seal_batched`], also computing the Bao outboard of the sealed object (its root is the
/// object's BLAKE3 root, the content id digest) while the backend encrypts.
pub async fn seal_batched_with_outboard<B: BatchCipher>(
    backend: &B,
    opts: &SealOptions,
    plaintext: &[u8],
) -> Result<(Vec<u8>, Outboard), SealError> {
    let (sealed, outboard) = seal_inner(backend, opts, plaintext, &mut OsRng, true).await?;
    let outboard = outboard.ok_or(SealError::Internal("the outboard was not built"))?;
    Ok((sealed, outboard))
}

async fn seal_inner<B: BatchCipher>(
    backend: &B,
    opts: &SealOptions,
    plaintext: &[u8],
    rng: &mut impl SealRng,
    outboard: bool,
) -> Result<(Vec<u8>, Option<Outboard>), SealError> {
    let (header, keys) = opts.start(rng)?;
    let seg = header.segment_size();
    let key = backend.import_key(&keys.payload).await?;
    // An empty plaintext is one empty segment (FORMAT.md §3.4).
    let count = plaintext.len().div_ceil(seg).max(1);
    let header_bytes = header.to_bytes();
    let trailer_len = if opts.signer.is_some() {
        TRAILER_LEN
    } else {
        0
    };
    let mut out =
        Vec::with_capacity(header_bytes.len() + plaintext.len() + count * TAG_LEN + trailer_len);
    let mut hashing = if outboard {
        Hashing::Outboard(Box::default())
    } else if opts.signer.is_some() {
        Hashing::Plain(Box::default())
    } else {
        Hashing::None
    };
    hashing.update(&header_bytes);
    out.extend_from_slice(&header_bytes);

    let per = (BATCH_BYTES / seg).clamp(1, BATCH_SEGMENTS);
    let mut next = 0usize;
    let mut pending = VecDeque::new();
    let mut start_batches = |pending: &mut VecDeque<_>| {
        while pending.len() < IN_FLIGHT && next < count {
            let n = per.min(count - next);
            let nonces: Vec<[u8; 12]> = (next..next + n)
                .map(|i| nonce(i as u64, i + 1 == count))
                .collect();
            let data = &plaintext
                [(next * seg).min(plaintext.len())..((next + n) * seg).min(plaintext.len())];
            pending.push_back((
                backend.seal(&key, &nonces, data, seg),
                data.len() + n * TAG_LEN,
            ));
            next += n;
        }
    };
    start_batches(&mut pending);
    while let Some((batch, expected)) = pending.pop_front() {
        let bytes = match batch.await? {
            BatchOutput::Done(b) if b.byte_len() == expected => b,
            _ => {
                return Err(SealError::Internal(
                    "the AES-GCM backend sealed a batch wrongly",
                ));
            }
        };
        start_batches(&mut pending);
        // Copied once, to its place in the object, and hashed there.
        let at = out.len();
        out.resize(at + expected, 0);
        bytes.copy_to(&mut out[at..]);
        drop(bytes);
        hashing.update(&out[at..]);
    }
    if let Some(id) = &opts.signer {
        let zeroed = hashing
            .zeroed_root()
            .ok_or(SealError::Internal("a signed seal is not hashed"))?;
        let total = (out.len() + TRAILER_LEN) as u64;
        let t = trailer::sign(&keys, id, &zeroed, total);
        hashing.update(&t);
        out.extend_from_slice(&t);
    }
    Ok((out, hashing.finish().1))
}

/// Opens a whole sealed object held in memory with `backend`: the same result and, for a damaged
/// object, the same error as [`super::open_to_vec_with`]. Returns the plaintext only once every
/// segment and (when signed) the signature verified.
pub async fn open_batched<B: BatchCipher>(
    backend: &B,
    unlock: Unlock<'_>,
    sealed: &[u8],
) -> Result<Opened, SealError> {
    Ok(open_inner(backend, unlock, sealed, false).await?.0)
}

/// [`open_batched`], also returning the BLAKE3 root of `sealed` (its content id digest),
/// hashed while the backend decrypts, so a caller checks the object against the root it
/// expected without a second pass.
pub async fn open_batched_with_root<B: BatchCipher>(
    backend: &B,
    unlock: Unlock<'_>,
    sealed: &[u8],
) -> Result<(Opened, [u8; 32]), SealError> {
    let (opened, root) = open_inner(backend, unlock, sealed, true).await?;
    Ok((
        opened,
        root.ok_or(SealError::Internal("the root was not computed"))?,
    ))
}

async fn open_inner<B: BatchCipher>(
    backend: &B,
    unlock: Unlock<'_>,
    sealed: &[u8],
    want_root: bool,
) -> Result<(Opened, Option<[u8; 32]>), SealError> {
    // The header, checked in the order the streaming reader checks it.
    let prefix = &sealed[..sealed.len().min(PREFIX_LEN)];
    let hlen = Header::len_from_prefix(prefix)?;
    if hlen < prefix.len() {
        return Err(SealError::Internal("a header shorter than its prefix"));
    }
    if sealed.len() < hlen {
        return Err(SealError::TruncatedHeader {
            expected: hlen,
            found: sealed.len(),
        });
    }
    let header = Header::parse(&sealed[..hlen])?;
    let (keys, _, found) = header.unlock(unlock)?;
    let (mut signer, header_only) = match found {
        HeaderSigner::HeaderOnly(s) => (Some(s), true),
        HeaderSigner::Unsigned | HeaderSigner::Trailer => (None, false),
    };
    let hold = header.trailer_len();
    let body = &sealed[hlen..];
    let payload = &body[..body.len().saturating_sub(hold)];
    if payload.is_empty() {
        return Err(SealError::Truncated);
    }
    let seg = header.segment_size();
    let stride = seg + TAG_LEN;
    let count = payload.len().div_ceil(stride);
    let chunk = |i: usize| &payload[i * stride..((i + 1) * stride).min(payload.len())];
    // What the reference cipher says of segment `i`, which the backend refused (or which is too
    // short to send): always an error, the streaming reader's.
    let diagnose = |i: usize| {
        let last = i + 1 == count;
        let next = (!last).then(|| chunk(i + 1));
        let mut scratch = Zeroizing::new(Vec::new());
        match PayloadCipher::new(&keys.payload, seg).open_segment(
            i as u64,
            last,
            chunk(i),
            &mut scratch,
            next,
        ) {
            Err(e) => e,
            Ok(()) => {
                SealError::Internal("the AES-GCM backend refused a segment that authenticates")
            }
        }
    };
    // A final segment shorter than a tag, or an empty final segment after others, cannot open.
    let last_len = chunk(count - 1).len();
    let sendable = if last_len < TAG_LEN || (count > 1 && last_len == TAG_LEN) {
        count - 1
    } else {
        count
    };

    let key = backend.import_key(&keys.payload).await?;
    let mut hashing = if hold > 0 || want_root {
        Hashing::Plain(Box::default())
    } else {
        Hashing::None
    };
    hashing.update(&sealed[..hlen]);
    let mut plaintext = Zeroizing::new(Vec::with_capacity(payload.len()));
    let per = (BATCH_BYTES / stride).clamp(1, BATCH_SEGMENTS);
    let mut next = 0usize;
    let mut pending = VecDeque::new();
    let mut start_batches = |pending: &mut VecDeque<_>| {
        while pending.len() < IN_FLIGHT && next < sendable {
            let n = per.min(sendable - next);
            let nonces: Vec<[u8; 12]> = (next..next + n)
                .map(|i| nonce(i as u64, i + 1 == count))
                .collect();
            let data = &payload[next * stride..((next + n) * stride).min(payload.len())];
            pending.push_back((backend.open(&key, &nonces, data, stride), next, data.len()));
            // Hashed now, while the backend decrypts this batch and the ones before it.
            hashing.update(data);
            next += n;
        }
    };
    start_batches(&mut pending);
    while let Some((batch, first, len)) = pending.pop_front() {
        let n = len.div_ceil(stride);
        match batch.await? {
            BatchOutput::Done(b) if b.byte_len() == len - n * TAG_LEN => {
                start_batches(&mut pending);
                let at = plaintext.len();
                plaintext.resize(at + b.byte_len(), 0);
                b.copy_to(&mut plaintext[at..]);
            }
            BatchOutput::Rejected(j) if j < n => return Err(diagnose(first + j)),
            _ => {
                return Err(SealError::Internal(
                    "the AES-GCM backend opened a batch wrongly",
                ));
            }
        }
    }
    if sendable < count {
        return Err(diagnose(count - 1));
    }
    if hold > 0 {
        if body.len() < hold {
            return Err(SealError::Truncated);
        }
        let zeroed = hashing
            .zeroed_root()
            .ok_or(SealError::Internal("a signed object was not hashed"))?;
        let t = &body[body.len() - hold..];
        signer = Some(trailer::verify(&keys, t, &zeroed, sealed.len() as u64)?);
        hashing.update(t);
    }
    let opened = Opened {
        plaintext: std::mem::take(&mut *plaintext),
        signer,
        header_only,
    };
    Ok((opened, hashing.finish().0))
}
