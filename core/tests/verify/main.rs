//! Tests of `coffer::verify`: known answers, equality with bao-tree's outboards and proofs, and
//! detection of every corrupted bit.

mod bao_tree_equality;
mod corruption;
mod vectors;

use std::io::Cursor;
use std::ops::Range;

use bao_tree::io::outboard::PostOrderMemOutboard;
use bao_tree::io::sync::{DecodeResponseIter, encode_ranges};
use bao_tree::io::{BaoContentItem, Parent};
use bao_tree::{BlockSize, ChunkNum, ChunkRanges};

/// 16 KiB groups: 2^4 chunks of 1 KiB.
pub const BLOCK_SIZE: BlockSize = BlockSize::from_chunk_log(4);
/// Bytes per group.
pub const GROUP: u64 = 16 * 1024;

/// The BLAKE3 test-vector input: the repeating bytes 0, 1, ..., 250.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Pseudo-random bytes from a seed (xorshift64*), so property tests do not hash only patterns.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Root and post-order outboard as bao-tree computes them.
pub fn bao_outboard(data: &[u8]) -> (blake3::Hash, Vec<u8>) {
    let ob = PostOrderMemOutboard::create(data, BLOCK_SIZE);
    (ob.root, ob.data)
}

/// The hash pairs bao-tree sends for the groups overlapping `range`, in the order it sends them
/// (its encoded response with the data left out).
pub fn bao_proof(data: &[u8], range: Range<u64>) -> Vec<u8> {
    if range.is_empty() {
        return Vec::new();
    }
    let ob = PostOrderMemOutboard::create(data, BLOCK_SIZE);
    let first = range.start / GROUP * 16;
    let end = range.end.div_ceil(GROUP) * 16;
    let ranges = ChunkRanges::from(ChunkNum(first)..ChunkNum(end));
    let mut encoded = Vec::new();
    encode_ranges(data, &ob, &ranges, &mut encoded).expect("bao-tree encodes from memory");
    let mut proof = Vec::new();
    for item in DecodeResponseIter::new(ob.root, ob.tree, Cursor::new(&encoded), &ranges) {
        if let BaoContentItem::Parent(Parent { pair: (l, r), .. }) =
            item.expect("bao-tree decodes its own encoding")
        {
            proof.extend_from_slice(l.as_bytes());
            proof.extend_from_slice(r.as_bytes());
        }
    }
    proof
}

/// Path of a file in the repository's `test-vectors/`.
pub fn vector_path(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../test-vectors")
        .join(name)
}
