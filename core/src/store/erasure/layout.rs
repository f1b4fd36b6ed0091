//! Shard names, the shard header, stripe geometry and the BLAKE3 subtree hashes that bind every
//! stripe to the block's CID (`docs/FORMAT.md`, "Erasure-coded blocks").

use blake3::hazmat::{
    ChainingValue, HasherExt, Mode, merge_subtrees_non_root, merge_subtrees_root,
};

use crate::block::{Cid, MULTIHASH_BLAKE3, blake3_digest, cid_from_blake3};

/// Multihash code of a shard name (private-use range): its digest is the block's BLAKE3 digest,
/// the stripe index and the shard index, not a hash of the shard's bytes.
pub const SHARD_MULTIHASH: u64 = 0x0030_ec01;
/// The first bytes of every shard.
pub const SHARD_MAGIC: [u8; 4] = *b"CFEC";
/// The shard format version.
pub const SHARD_VERSION: u8 = 1;
/// Bytes of the fixed part of a shard header.
pub const PREFIX_LEN: usize = 32;
/// Most stripes in one block (so the stripe hash list stays at most 32 MiB).
pub const MAX_STRIPES: u64 = 1 << 20;
/// Most shards per stripe (k + m).
pub const MAX_SHARDS: usize = 255;
/// Smallest stripe: one BLAKE3 chunk.
pub const MIN_STRIPE: u32 = 1024;
/// Largest stripe.
pub const MAX_STRIPE: u32 = 1 << 26;

/// Why shard bytes were refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShardError {
    /// Shorter than its header says.
    #[error("shard is truncated: {0}")]
    Truncated(&'static str),
    /// Not a coffer shard.
    #[error("not a coffer shard (bad magic)")]
    BadMagic,
    /// A version this build cannot read.
    #[error("shard format version {0} is not supported (this build reads version 1)")]
    Version(u8),
    /// A header field out of range or inconsistent with the others.
    #[error("invalid shard header: {0}")]
    Invalid(&'static str),
    /// The body length is not what the geometry implies.
    #[error("shard body is {got} bytes, the header implies {want}")]
    BodyLength {
        /// Bytes present.
        got: u64,
        /// Bytes implied.
        want: u64,
    },
}

/// The decoded header of one shard: the geometry of its stripe and the hashes it vouches for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardHeader {
    /// Data shards per stripe (k).
    pub k: u8,
    /// Parity shards per stripe (m).
    pub m: u8,
    /// This shard's index in its stripe (`0..k` data, `k..k+m` parity).
    pub index: u8,
    /// This shard's stripe.
    pub stripe: u32,
    /// Bytes of block data per full stripe (a power of two, at least 1 KiB).
    pub stripe_size: u32,
    /// Bytes of block data in this stripe.
    pub data_len: u32,
    /// The block's length (stripe 0 only; 0 in the others).
    pub block_len: u64,
    /// BLAKE3 of every shard body of this stripe, by shard index.
    pub shard_hashes: Vec<[u8; 32]>,
    /// The BLAKE3 chaining value of every stripe (stripe 0 of a block of several stripes only).
    pub stripe_cvs: Vec<[u8; 32]>,
}

impl ShardHeader {
    /// Shards per stripe.
    pub fn shards(&self) -> usize {
        usize::from(self.k) + usize::from(self.m)
    }

    /// Bytes of the encoded header.
    pub fn encoded_len(&self) -> usize {
        header_len(self.shards(), self.stripe_cvs.len())
    }

    /// Bytes of this shard's body.
    pub fn body_len(&self) -> usize {
        shard_len(self.data_len as usize, usize::from(self.k))
    }

    /// The header bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&SHARD_MAGIC);
        out.push(SHARD_VERSION);
        out.push(self.k);
        out.push(self.m);
        out.push(self.index);
        out.extend_from_slice(&self.stripe.to_be_bytes());
        out.extend_from_slice(&self.stripe_size.to_be_bytes());
        out.extend_from_slice(&self.data_len.to_be_bytes());
        out.extend_from_slice(&self.block_len.to_be_bytes());
        out.extend_from_slice(&(self.stripe_cvs.len() as u32).to_be_bytes());
        for h in self.shard_hashes.iter().chain(&self.stripe_cvs) {
            out.extend_from_slice(h);
        }
        out
    }

    /// What every shard of this stripe shares: the header with the shard index zeroed. Shards
    /// that agree on it vouch for the same hashes.
    pub fn stripe_key(&self) -> Vec<u8> {
        let mut key = self.encode();
        key[7] = 0;
        key
    }
}

/// Bytes of a header for `shards` shards and `cvs` stripe hashes.
pub fn header_len(shards: usize, cvs: usize) -> usize {
    PREFIX_LEN + 32 * (shards + cvs)
}

/// Bytes of each shard of a stripe holding `data_len` bytes over `k` data shards: rounded up to
/// an even number (the codec works on 16-bit symbols).
pub fn shard_len(data_len: usize, k: usize) -> usize {
    let per = data_len.div_ceil(k.max(1));
    per + (per & 1)
}

/// Stripes of a block of `len` bytes (at least one).
pub fn stripe_count(len: u64, stripe_size: u32) -> u64 {
    len.div_ceil(u64::from(stripe_size)).max(1)
}

/// Bytes of block data in stripe `s` of a block of `len` bytes.
pub fn stripe_data_len(len: u64, stripe_size: u32, s: u64) -> u32 {
    let start = s * u64::from(stripe_size);
    len.saturating_sub(start).min(u64::from(stripe_size)) as u32
}

/// Reads the fixed part of a header: returns `(shards, stripe hash count)`, from which the whole
/// header's length follows ([`header_len`]).
pub fn decode_prefix(bytes: &[u8]) -> Result<(usize, usize), ShardError> {
    let p = bytes
        .get(..PREFIX_LEN)
        .ok_or(ShardError::Truncated("fixed header"))?;
    if p[..4] != SHARD_MAGIC {
        return Err(ShardError::BadMagic);
    }
    if p[4] != SHARD_VERSION {
        return Err(ShardError::Version(p[4]));
    }
    let shards = usize::from(p[5]) + usize::from(p[6]);
    let cvs = u32::from_be_bytes([p[28], p[29], p[30], p[31]]) as usize;
    if cvs as u64 > MAX_STRIPES {
        return Err(ShardError::Invalid(
            "more stripe hashes than stripes allowed",
        ));
    }
    Ok((shards, cvs))
}

/// Decodes and checks a shard header at the start of `bytes`; returns it and the header's
/// length. Every field is checked against the others; the hashes are not checked here.
pub fn decode_header(bytes: &[u8]) -> Result<(ShardHeader, usize), ShardError> {
    let (shards, cvs) = decode_prefix(bytes)?;
    let len = header_len(shards, cvs);
    let b = bytes
        .get(..len)
        .ok_or(ShardError::Truncated("hash lists"))?;
    let u32_at = |o: usize| u32::from_be_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let (k, m, index) = (b[5], b[6], b[7]);
    let stripe = u32_at(8);
    let stripe_size = u32_at(12);
    let data_len = u32_at(16);
    let mut block_len = [0u8; 8];
    block_len.copy_from_slice(&b[20..28]);
    let block_len = u64::from_be_bytes(block_len);
    if k == 0 || m == 0 {
        return Err(ShardError::Invalid("k and m must be at least 1"));
    }
    if shards > MAX_SHARDS {
        return Err(ShardError::Invalid("more than 255 shards per stripe"));
    }
    if usize::from(index) >= shards {
        return Err(ShardError::Invalid("shard index is not below k + m"));
    }
    if !stripe_size.is_power_of_two() || !(MIN_STRIPE..=MAX_STRIPE).contains(&stripe_size) {
        return Err(ShardError::Invalid(
            "stripe size must be a power of two from 1 KiB to 64 MiB",
        ));
    }
    if data_len == 0 || data_len > stripe_size {
        return Err(ShardError::Invalid("stripe data length out of range"));
    }
    if stripe == 0 {
        let count = stripe_count(block_len, stripe_size);
        if count > MAX_STRIPES {
            return Err(ShardError::Invalid("block has too many stripes"));
        }
        if data_len != stripe_data_len(block_len, stripe_size, 0) {
            return Err(ShardError::Invalid(
                "stripe 0 data length disagrees with the block length",
            ));
        }
        let want_cvs = if count > 1 { count as usize } else { 0 };
        if cvs != want_cvs {
            return Err(ShardError::Invalid(
                "stripe hash list does not have one hash per stripe",
            ));
        }
    } else {
        if u64::from(stripe) >= MAX_STRIPES {
            return Err(ShardError::Invalid("stripe index too large"));
        }
        if block_len != 0 || cvs != 0 {
            return Err(ShardError::Invalid(
                "only stripe 0 carries the block length and stripe hashes",
            ));
        }
    }
    let hashes = |from: usize, n: usize| -> Vec<[u8; 32]> {
        (0..n)
            .map(|i| {
                let mut h = [0u8; 32];
                h.copy_from_slice(&b[from + 32 * i..from + 32 * (i + 1)]);
                h
            })
            .collect()
    };
    let header = ShardHeader {
        k,
        m,
        index,
        stripe,
        stripe_size,
        data_len,
        block_len,
        shard_hashes: hashes(PREFIX_LEN, shards),
        stripe_cvs: hashes(PREFIX_LEN + 32 * shards, cvs),
    };
    Ok((header, len))
}

/// Decodes a whole shard: its header and its body, whose length must be what the header implies.
/// The body is not checked against the header's hash here (see [`body_matches`]).
pub fn decode_shard(bytes: &[u8]) -> Result<(ShardHeader, &[u8]), ShardError> {
    let (header, len) = decode_header(bytes)?;
    let body = &bytes[len..];
    let want = header.body_len() as u64;
    if body.len() as u64 != want {
        return Err(ShardError::BodyLength {
            got: body.len() as u64,
            want,
        });
    }
    Ok((header, body))
}

/// Whether `body` hashes to the entry its header vouches for (constant time).
pub fn body_matches(header: &ShardHeader, body: &[u8]) -> bool {
    header
        .shard_hashes
        .get(usize::from(header.index))
        .is_some_and(|h| blake3::Hash::from(*h) == blake3::hash(body))
}

/// The name of shard `index` of stripe `stripe` of `block`:
/// CIDv1(block's codec, multihash(SHARD_MULTIHASH, digest ‖ stripe u32 BE ‖ index u8)).
pub fn shard_cid(block: &Cid, stripe: u32, index: u8) -> Result<Cid, crate::block::BlockError> {
    let digest = blake3_digest(block)?;
    let mut name = [0u8; 37];
    name[..32].copy_from_slice(&digest);
    name[32..36].copy_from_slice(&stripe.to_be_bytes());
    name[36] = index;
    let mh = multihash::Multihash::<64>::wrap(SHARD_MULTIHASH, &name)
        .expect("37 bytes fit a 64-byte multihash");
    Ok(Cid::new_v1(block.codec(), mh))
}

/// What a shard name stands for: `(block, stripe, index)`, or `None` for any other CID.
pub fn parse_shard_cid(cid: &Cid) -> Option<(Cid, u32, u8)> {
    let mh = cid.hash();
    if mh.code() != SHARD_MULTIHASH || mh.size() != 37 {
        return None;
    }
    let d = mh.digest();
    let mut digest = [0u8; 32];
    digest.copy_from_slice(&d[..32]);
    let stripe = u32::from_be_bytes([d[32], d[33], d[34], d[35]]);
    Some((cid_from_blake3(cid.codec(), &digest), stripe, d[36]))
}

/// Whether `cid` names a whole block coffer can verify (a replicated small block).
pub fn is_block_cid(cid: &Cid) -> bool {
    cid.hash().code() == MULTIHASH_BLAKE3 && cid.hash().size() == 32
}

/// The block a stored name belongs to: the block of a shard name, a whole block's own CID, or
/// `None` for anything else a backend lists.
pub fn block_of(name: &Cid) -> Option<Cid> {
    match parse_shard_cid(name) {
        Some((block, _, _)) => Some(block),
        None => is_block_cid(name).then_some(*name),
    }
}

/// The first backend of `block`'s placement: shard `i` (and copy `i`) lives on backend
/// `(first + i) % backends`.
pub fn first_backend(block: &Cid, backends: usize) -> usize {
    let d = block.hash().digest();
    let mut x = [0u8; 8];
    for (o, b) in x.iter_mut().zip(d) {
        *o = *b;
    }
    (u64::from_be_bytes(x) % backends.max(1) as u64) as usize
}

/// The BLAKE3 chaining value of stripe `s` (non-root: the block has several stripes).
pub fn stripe_cv(data: &[u8], stripe_size: u32, s: u64) -> ChainingValue {
    blake3::Hasher::new()
        .set_input_offset(s * u64::from(stripe_size))
        .update(data)
        .finalize_non_root()
}

/// The BLAKE3 root of a block of several stripes whose stripe chaining values are `cvs`: stripes
/// are whole power-of-two subtrees, so the root is BLAKE3's left-balanced merge of them.
pub fn root_of(cvs: &[ChainingValue]) -> Option<blake3::Hash> {
    if cvs.len() < 2 {
        return None;
    }
    let split = left_count(cvs.len());
    Some(merge_subtrees_root(
        &subtree(&cvs[..split]),
        &subtree(&cvs[split..]),
        Mode::Hash,
    ))
}

fn subtree(cvs: &[ChainingValue]) -> ChainingValue {
    if cvs.len() == 1 {
        return cvs[0];
    }
    let split = left_count(cvs.len());
    merge_subtrees_non_root(&subtree(&cvs[..split]), &subtree(&cvs[split..]), Mode::Hash)
}

/// The largest power of two strictly below `n >= 2`.
fn left_count(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// Fuzzing entry point: decodes untrusted shard bytes and checks the decoder's promises.
#[doc(hidden)]
pub fn fuzz_shard(bytes: &[u8]) {
    if let Ok((h, body)) = decode_shard(bytes) {
        assert_eq!(h.encode().as_slice(), &bytes[..h.encoded_len()]);
        assert_eq!(body.len(), h.body_len());
        assert!(usize::from(h.index) < h.shards());
        let _ = body_matches(&h, body);
    }
    if let Ok((shards, cvs)) = decode_prefix(bytes) {
        assert!(header_len(shards, cvs) >= PREFIX_LEN);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_hashes_merge_to_the_block_hash() {
        for (len, stripe) in [(4096usize, 1024u32), (5000, 1024), (3 * 2048 + 1, 2048)] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let cvs: Vec<_> = data
                .chunks(stripe as usize)
                .enumerate()
                .map(|(s, c)| stripe_cv(c, stripe, s as u64))
                .collect();
            assert_eq!(root_of(&cvs), Some(blake3::hash(&data)), "len {len}");
        }
    }

    /// Every one-byte change and every truncation of a valid shard is decoded or refused
    /// without a panic (the fuzz target's checks, on a small deterministic corpus).
    #[test]
    fn damaged_shards_are_refused_without_panics() {
        let header = ShardHeader {
            k: 2,
            m: 1,
            index: 1,
            stripe: 0,
            stripe_size: 1024,
            data_len: 1024,
            block_len: 1500,
            shard_hashes: vec![[1; 32], [2; 32], [3; 32]],
            stripe_cvs: vec![[4; 32], [5; 32]],
        };
        let mut shard = header.encode();
        shard.extend(std::iter::repeat_n(9u8, header.body_len()));
        assert_eq!(decode_shard(&shard).map(|(h, _)| h), Ok(header));
        fuzz_shard(&shard);
        for at in 0..PREFIX_LEN + 8 {
            for v in [0u8, 1, 0x80, 0xff] {
                let mut bad = shard.clone();
                bad[at] = v;
                fuzz_shard(&bad);
            }
        }
        for cut in 0..shard.len() {
            fuzz_shard(&shard[..cut]);
            assert!(decode_shard(&shard[..cut]).is_err());
        }
    }

    #[test]
    fn shard_names_round_trip() {
        let block = crate::block::raw_cid(b"x");
        let name = shard_cid(&block, 7, 3).expect("blake3 cid");
        assert_eq!(parse_shard_cid(&name), Some((block, 7, 3)));
        assert_eq!(parse_shard_cid(&block), None);
        let text = name.to_string();
        assert_eq!(Cid::try_from(text.as_str()).ok(), Some(name));
    }
}
