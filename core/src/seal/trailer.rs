//! The v2 signature trailer (`docs/FORMAT.md` §3.3): a signature over the whole object.
//!
//! A signed v2 object ends with 144 bytes, `AES-256-GCM(signature key, nonce 0, signer keys ‖
//! signature)`, where the signature covers `R'`, the BLAKE3 root of the object with those 144
//! bytes set to zero, and the object's length. `R'` has the object's length, so its tree has the
//! stored object's shape: a range reader with the Bao outboard recomputes `R'` from the right
//! spine and the last group instead of hashing everything.
//!
//! Also here: [`Hashing`], what a sealer feeds its output through, and [`HoldBack`], the
//! sans-IO tail buffer an opener reads through (it keeps the last bytes back until the input
//! ends, hashing what it releases).

use super::SealError;
use super::header::{ObjectKeys, SEALED_SIGNATURE_LEN};
use crate::keys::{Identity, Recipient};
use crate::verify::{Outboard, OutboardBuilder};

/// Bytes of the trailer of a signed v2 object.
pub const TRAILER_LEN: usize = SEALED_SIGNATURE_LEN;

const CONTEXT: &[u8] = b"coffer/v2/object-signature\0";

/// The signed message: context, the signer's keys, `R'`, the object's total length.
fn message(signer: &Recipient, zeroed_root: &[u8; 32], total_len: u64) -> Vec<u8> {
    let mut m = Vec::with_capacity(CONTEXT.len() + Recipient::LEN + 40);
    m.extend_from_slice(CONTEXT);
    m.extend_from_slice(&signer.to_bytes());
    m.extend_from_slice(zeroed_root);
    m.extend_from_slice(&total_len.to_be_bytes());
    m
}

/// The trailer of an object whose root with a zero trailer is `zeroed_root` and whose length
/// (trailer included) is `total_len`.
pub(crate) fn sign(
    keys: &ObjectKeys,
    identity: &Identity,
    zeroed_root: &[u8; 32],
    total_len: u64,
) -> [u8; TRAILER_LEN] {
    let sig = identity.sign(&message(identity.recipient(), zeroed_root, total_len));
    keys.seal_signature(identity.recipient(), &sig)
}

/// Checks a trailer; returns the signer.
pub(crate) fn verify(
    keys: &ObjectKeys,
    trailer: &[u8],
    zeroed_root: &[u8; 32],
    total_len: u64,
) -> Result<Recipient, SealError> {
    let sealed: &[u8; TRAILER_LEN] = trailer.try_into().map_err(|_| SealError::Truncated)?;
    let (signer, sig) = keys.open_signature(sealed).ok_or(SealError::BadSignature)?;
    if !signer.verify(&message(&signer, zeroed_root, total_len), &sig) {
        return Err(SealError::BadSignature);
    }
    Ok(signer)
}

/// `R'` from a range proof of the trailer's bytes: `covering` is the object bytes the proof
/// covers (the trailer's 16 KiB groups), verified against the proof's root here; then the root
/// is recomputed with the trailer zeroed. O(log n) hashing, whatever the object's size.
pub(crate) fn zeroed_root_from_proof(
    proof: &crate::verify::RangeProof,
    covering: &[u8],
) -> Result<[u8; 32], SealError> {
    let bad = |_| SealError::BadSignature;
    proof.verify(covering).map_err(bad)?;
    let mut zeroed = covering.to_vec();
    let n = zeroed.len();
    if n < TRAILER_LEN {
        return Err(SealError::Truncated);
    }
    zeroed[n - TRAILER_LEN..].fill(0);
    Ok(*proof.root_of(&zeroed).map_err(bad)?.as_bytes())
}

/// What a sealer hashes its output with: nothing, BLAKE3, or BLAKE3 with a Bao outboard.
pub(crate) enum Hashing {
    None,
    Plain(Box<blake3::Hasher>),
    Outboard(Box<OutboardBuilder>),
}

impl Hashing {
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Hashing::None => {}
            Hashing::Plain(h) => {
                h.update(bytes);
            }
            Hashing::Outboard(b) => b.update(bytes),
        }
    }

    /// The root of what was hashed followed by `TRAILER_LEN` zero bytes.
    pub(crate) fn zeroed_root(&self) -> Option<[u8; 32]> {
        let zeros = [0u8; TRAILER_LEN];
        match self {
            Hashing::None => None,
            Hashing::Plain(h) => {
                let mut h = (**h).clone();
                h.update(&zeros);
                Some(*h.finalize().as_bytes())
            }
            Hashing::Outboard(b) => Some(*b.root_after(&zeros).as_bytes()),
        }
    }

    /// Ends: the root of everything hashed, and the outboard when one was built.
    pub(crate) fn finish(self) -> (Option<[u8; 32]>, Option<Outboard>) {
        match self {
            Hashing::None => (None, None),
            Hashing::Plain(h) => (Some(*h.finalize().as_bytes()), None),
            Hashing::Outboard(b) => {
                let o = b.finalize();
                (Some(*o.root().as_bytes()), Some(o))
            }
        }
    }
}

/// The least useful read straight into a caller's buffer (smaller reads go through the buffer).
const DIRECT_MIN: usize = 512;

/// Bytes read from a sealed object, with the last `hold` bytes kept back until the input ends
/// (the trailer), and everything released hashed (for `R'` and the object's root).
pub(crate) struct HoldBack {
    hold: usize,
    buf: Vec<u8>,
    start: usize,
    hasher: Option<blake3::Hasher>,
    released: u64,
}

impl HoldBack {
    /// Starts holding back `hold` bytes, hashing.
    pub(crate) fn new(hold: usize) -> Self {
        Self {
            hold,
            buf: Vec::new(),
            start: 0,
            hasher: Some(blake3::Hasher::new()),
            released: 0,
        }
    }

    /// Changes how many bytes are held back (once the header said whether there is a trailer),
    /// and whether released bytes are still hashed.
    pub(crate) fn set(&mut self, hold: usize, hash: bool) {
        self.hold = hold;
        if !hash {
            self.hasher = None;
        }
    }

    /// Bytes buffered and not released.
    pub(crate) fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Appends bytes read from the input.
    pub(crate) fn push(&mut self, data: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Whether a caller's buffer with `room` bytes free is worth reading the input straight into
    /// (see [`HoldBack::unload`]): nothing is releasable from the buffer, and the room holds the
    /// pending bytes, the held-back tail and a useful read besides.
    pub(crate) fn direct(&self, room: usize) -> bool {
        self.releasable() == 0 && room >= self.buffered() + self.hold + DIRECT_MIN
    }

    /// Moves the pending bytes (fewer than the held-back length when [`HoldBack::direct`]) to
    /// the start of `dst`; returns how many. The caller reads the input into `dst` right after
    /// them and hands the whole to [`HoldBack::settle`].
    pub(crate) fn unload(&mut self, dst: &mut [u8]) -> usize {
        let pending = &self.buf[self.start..];
        let t = pending.len();
        dst[..t].copy_from_slice(pending);
        self.buf.clear();
        self.start = 0;
        t
    }

    /// `bytes` is what [`HoldBack::unload`] moved out followed by fresh input, in order: releases
    /// all but its last `hold` bytes in place (hashed and counted, as [`HoldBack::take`] does)
    /// and keeps those back. Returns how many bytes at the start of `bytes` were released.
    pub(crate) fn settle(&mut self, bytes: &[u8]) -> usize {
        let n = bytes.len().saturating_sub(self.hold);
        if let Some(h) = self.hasher.as_mut() {
            h.update(&bytes[..n]);
        }
        self.released += n as u64;
        self.buf.extend_from_slice(&bytes[n..]);
        n
    }

    /// How many bytes could be released now (all but the held-back tail).
    pub(crate) fn releasable(&self) -> usize {
        self.buffered().saturating_sub(self.hold)
    }

    /// Releases up to `out.len()` bytes (never the held-back tail); returns how many.
    pub(crate) fn take(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.releasable());
        let src = &self.buf[self.start..self.start + n];
        out[..n].copy_from_slice(src);
        if let Some(h) = self.hasher.as_mut() {
            h.update(src);
        }
        self.start += n;
        self.released += n as u64;
        n
    }

    /// At the end of the input: the held-back bytes (the trailer, when `hold` > 0), `R'` (the
    /// root with them zeroed) and the object's root, when hashing. Fails when fewer than `hold`
    /// bytes remain or more were left unreleased.
    pub(crate) fn finish(&mut self) -> Result<Tail, SealError> {
        if self.buffered() != self.hold {
            return Err(SealError::Truncated);
        }
        let tail = self.buf[self.start..].to_vec();
        let total_len = self.released + tail.len() as u64;
        let (zeroed_root, root) = match self.hasher.take() {
            Some(h) => {
                let mut z = h.clone();
                z.update(&vec![0u8; tail.len()]);
                let mut r = h;
                r.update(&tail);
                (
                    Some(*z.finalize().as_bytes()),
                    Some(*r.finalize().as_bytes()),
                )
            }
            None => (None, None),
        };
        Ok(Tail {
            bytes: tail,
            total_len,
            zeroed_root,
            root,
        })
    }
}

/// What [`HoldBack::finish`] found at the end of an object.
pub(crate) struct Tail {
    pub bytes: Vec<u8>,
    pub total_len: u64,
    pub zeroed_root: Option<[u8; 32]>,
    pub root: Option<[u8; 32]>,
}
