//! Reading a blob out of a CAR v1 file, as a trustless IPFS gateway serves it
//! (`/ipfs/<cid>?format=car`, `docs/FORMAT.md` §7 and §9): share links to objects on IPFS fetch
//! one. Nothing in the file is trusted: every block must hash to its CID (BLAKE3 only, as coffer
//! writes), a large blob's root must be a [`BlobRoot`] naming the expected blob, and the caller
//! still checks the whole blob against its own BLAKE3 root.
//!
//! CAR v1: `varint(len) ‖ DAG-CBOR {version: 1, roots: [CID…]}`, then sections
//! `varint(len) ‖ CID bytes ‖ block bytes` until the end.

use std::collections::HashMap;

use serde::Deserialize;

use super::blob_root::{MAX_BLOCK, MAX_LEAVES, decode_blob_root};
use super::{StoreError, StoreResult};
use crate::block::{Cid, from_dag_cbor, verify_block};

/// Largest CAR header accepted (a handful of roots is a few hundred bytes).
pub(crate) const MAX_HEADER: u64 = 64 << 10;

#[derive(Deserialize)]
struct Header {
    version: u64,
    roots: Vec<Cid>,
}

/// The bytes of blob `blob` (a raw block of at most 1 MiB, or a DAG of leaves under a
/// [`BlobRoot`]) out of the CAR file `car`. [`StoreError::Corrupt`] names what is wrong: a
/// malformed file, a block that does not match its CID, a missing leaf.
pub fn blob_from_car(blob: &Cid, car: &[u8]) -> StoreResult<Vec<u8>> {
    let corrupt = |detail: String| StoreError::Corrupt {
        cid: blob.to_string(),
        detail: format!("gateway CAR: {detail}"),
    };
    let mut rest = car;
    let header_len = read_varint(&mut rest).ok_or_else(|| corrupt("no header".into()))?;
    if header_len > MAX_HEADER || header_len > rest.len() as u64 {
        return Err(corrupt(format!("header of {header_len} bytes")));
    }
    let (header, mut rest) = rest.split_at(header_len as usize);
    let header: Header =
        from_dag_cbor(header).map_err(|e| corrupt(format!("unreadable header: {e}")))?;
    if header.version != 1 {
        return Err(corrupt(format!(
            "CAR version {} (v1 expected)",
            header.version
        )));
    }
    let mut blocks: HashMap<Cid, &[u8]> = HashMap::new();
    while !rest.is_empty() {
        if blocks.len() > MAX_LEAVES {
            return Err(corrupt(format!("more than {} blocks", MAX_LEAVES + 1)));
        }
        let len = read_varint(&mut rest).ok_or_else(|| corrupt("bad section length".into()))?;
        if len > rest.len() as u64 || len > (MAX_BLOCK + 128) as u64 {
            return Err(corrupt(format!("section of {len} bytes")));
        }
        let (section, after) = rest.split_at(len as usize);
        rest = after;
        let mut cursor = std::io::Cursor::new(section);
        let cid = Cid::read_bytes(&mut cursor)
            .map_err(|e| corrupt(format!("unreadable block CID: {e}")))?;
        let data = &section[cursor.position() as usize..];
        verify_block(&cid, data).map_err(|e| corrupt(e.to_string()))?;
        blocks.insert(cid, data);
    }
    if let Some(whole) = blocks.get(blob) {
        return Ok(whole.to_vec());
    }
    for root_cid in &header.roots {
        let Some(bytes) = blocks.get(root_cid) else {
            continue;
        };
        let Ok(root) = decode_blob_root(blob, bytes) else {
            continue;
        };
        let mut out = Vec::with_capacity(usize::try_from(root.size).unwrap_or(0).min(64 << 20));
        for (i, leaf) in root.leaves.iter().enumerate() {
            let data = blocks
                .get(leaf)
                .ok_or_else(|| corrupt(format!("leaf {i} ({leaf}) is missing")))?;
            let want = root.leaf_range(i);
            if data.len() as u64 != want.end - want.start {
                return Err(corrupt(format!("leaf {i} has {} bytes", data.len())));
            }
            out.extend_from_slice(data);
        }
        return Ok(out);
    }
    Err(corrupt(
        "neither the blob nor a root naming it is in the file".into(),
    ))
}

/// What a CAR file may add to the blocks of a blob: room for a header (a real gateway writes
/// about 60 bytes) ...
const CAR_HEADER_ALLOWANCE: u64 = 4 << 10;
/// ... and, per block, a section length varint (at most 10 bytes) and a CID (36 bytes for
/// coffer's blake3 CIDs; room for 64) ...
const CAR_PER_BLOCK: u64 = 10 + 64;
/// ... and for a large blob its [`BlobRoot`] block: a fixed part and one CID per leaf.
const ROOT_FIXED: u64 = 512;
const ROOT_PER_LEAF: u64 = 48;

/// The largest CAR file a gateway may answer for a blob of `blob_len` bytes (the blob, its
/// blocks' section overhead, a large blob's root, a header): the cap on reading a gateway's
/// `?format=car` answer, such as a share link's.
pub fn max_car_len(blob_len: u64) -> u64 {
    let leaves = blob_len.div_ceil(MAX_BLOCK as u64).max(1);
    let (blocks, root) = if blob_len <= MAX_BLOCK as u64 {
        (1, 0)
    } else {
        (leaves + 1, ROOT_FIXED + leaves * ROOT_PER_LEAF)
    };
    CAR_HEADER_ALLOWANCE
        .saturating_add(blocks.saturating_mul(CAR_PER_BLOCK))
        .saturating_add(root)
        .saturating_add(blob_len)
}

/// An unsigned LEB128 varint of at most 9 bytes (63 bits), minimal encoding.
pub(crate) fn read_varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &b) in input.iter().enumerate().take(9) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return None;
            }
            *input = &input[i + 1..];
            return Some(value);
        }
    }
    None
}

/// Runs the decoder on arbitrary bytes (the fuzz target `store_car`): never panics.
pub fn fuzz_car(data: &[u8]) {
    let blob = crate::block::raw_cid(b"fuzz");
    let _ = blob_from_car(&blob, data);
    // A realistic header in front, so the fuzzer reaches the sections quickly.
    let mut car = car_header(&[blob]);
    car.extend_from_slice(data);
    let _ = blob_from_car(&blob, &car);
}

/// `varint(len) ‖ header` of a CAR v1 with these roots.
pub(crate) fn car_header(roots: &[Cid]) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct H<'a> {
        roots: &'a [Cid],
        version: u64,
    }
    let header = crate::block::to_dag_cbor(&H { roots, version: 1 }).unwrap_or_default();
    let mut out = Vec::new();
    write_varint(&mut out, header.len() as u64);
    out.extend_from_slice(&header);
    out
}

/// The roots of a CAR v1 header's DAG-CBOR bytes (after its length varint).
pub(crate) fn parse_header(bytes: &[u8]) -> Result<Vec<Cid>, String> {
    if bytes.len() as u64 > MAX_HEADER {
        return Err(format!("header of {} bytes", bytes.len()));
    }
    let header: Header = from_dag_cbor(bytes).map_err(|e| format!("unreadable header: {e}"))?;
    if header.version != 1 {
        return Err(format!("CAR version {} (v1 expected)", header.version));
    }
    Ok(header.roots)
}

/// `varint(len) ‖ CID bytes` in front of a section of `data_len` bytes of block data.
pub(crate) fn section_prefix(cid: &Cid, data_len: u64) -> Vec<u8> {
    let id = cid.to_bytes();
    let mut out = Vec::with_capacity(id.len() + 10);
    write_varint(&mut out, id.len() as u64 + data_len);
    out.extend_from_slice(&id);
    out
}

pub(crate) fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// A CAR v1 with these roots and blocks (tests).
#[cfg(test)]
pub(crate) fn write_car(roots: &[Cid], blocks: &[(Cid, &[u8])]) -> Vec<u8> {
    let mut out = car_header(roots);
    for (cid, data) in blocks {
        out.extend_from_slice(&section_prefix(cid, data.len() as u64));
        out.extend_from_slice(data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{dag_cbor_cid, raw_cid, to_dag_cbor};
    use crate::store::blob_root::{BlobRoot, LEAF_SIZE};

    /// Pseudo-random bytes (no two leaves alike).
    fn bytes(n: usize, seed: u8) -> Vec<u8> {
        let mut out = vec![0; n];
        blake3::Hasher::new()
            .update(&[seed])
            .finalize_xof()
            .fill(&mut out);
        out
    }

    fn large() -> (Cid, Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
        let blob = bytes(2 * LEAF_SIZE + 77, 5);
        let cid = raw_cid(&blob);
        let leaves: Vec<Vec<u8>> = blob.chunks(LEAF_SIZE).map(<[u8]>::to_vec).collect();
        let root = BlobRoot::new(
            &cid,
            blob.len() as u64,
            leaves.iter().map(|l| raw_cid(l)).collect(),
        );
        let root = to_dag_cbor(&root).unwrap();
        (cid, blob, root, leaves)
    }

    #[test]
    fn a_small_blob_is_its_own_block() {
        let blob = bytes(1000, 1);
        let cid = raw_cid(&blob);
        let car = write_car(&[cid], &[(cid, &blob)]);
        assert_eq!(blob_from_car(&cid, &car).unwrap(), blob);
    }

    #[test]
    fn real_car_files_fit_under_max_car_len() {
        let (_, whole, root_bytes, leaves) = large();
        let root_cid = dag_cbor_cid(&root_bytes);
        let mut blocks: Vec<(Cid, &[u8])> = vec![(root_cid, &root_bytes)];
        for l in &leaves {
            blocks.push((raw_cid(l), l));
        }
        let car = write_car(&[root_cid], &blocks);
        assert!(car.len() as u64 <= max_car_len(whole.len() as u64));
        let small = bytes(100, 3);
        let car = write_car(&[raw_cid(&small)], &[(raw_cid(&small), &small)]);
        assert!(car.len() as u64 <= max_car_len(100));
        assert!(max_car_len(100) < 100 + (8 << 10));
    }

    #[test]
    fn a_large_blob_is_assembled_from_its_leaves_in_any_order() {
        let (cid, blob, root, leaves) = large();
        let root_cid = dag_cbor_cid(&root);
        let mut blocks: Vec<(Cid, &[u8])> = vec![(root_cid, &root)];
        for l in leaves.iter().rev() {
            blocks.push((raw_cid(l), l));
        }
        let car = write_car(&[root_cid], &blocks);
        assert_eq!(blob_from_car(&cid, &car).unwrap(), blob);
    }

    #[test]
    fn tampering_and_gaps_are_corrupt() {
        let (cid, _, root, leaves) = large();
        let root_cid = dag_cbor_cid(&root);
        // A missing leaf.
        let car = write_car(
            &[root_cid],
            &[(root_cid, &root), (raw_cid(&leaves[0]), &leaves[0])],
        );
        let err = blob_from_car(&cid, &car).unwrap_err().to_string();
        assert!(err.contains("leaf 1"), "{err}");
        // A leaf whose bytes do not match its CID.
        let mut bad = leaves[1].clone();
        bad[9] ^= 1;
        let blocks: Vec<(Cid, &[u8])> = vec![
            (root_cid, &root),
            (raw_cid(&leaves[0]), &leaves[0]),
            (raw_cid(&leaves[1]), &bad),
            (raw_cid(&leaves[2]), &leaves[2]),
        ];
        assert!(matches!(
            blob_from_car(&cid, &write_car(&[root_cid], &blocks)),
            Err(StoreError::Corrupt { .. })
        ));
        // Another blob's root.
        let other = raw_cid(b"other");
        let blocks: Vec<(Cid, &[u8])> = vec![(root_cid, &root)];
        assert!(blob_from_car(&other, &write_car(&[root_cid], &blocks)).is_err());
        // Truncated anywhere.
        let full = write_car(
            &[root_cid],
            &[(root_cid, &root), (raw_cid(&leaves[0]), &leaves[0])],
        );
        for cut in [0, 1, 5, 40, full.len() - 1] {
            assert!(blob_from_car(&cid, &full[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn varints_are_minimal_and_bounded() {
        let mut s: &[u8] = &[0x80, 0x01];
        assert_eq!(read_varint(&mut s), Some(128));
        let mut s: &[u8] = &[0x80, 0x00];
        assert_eq!(read_varint(&mut s), None, "overlong zero");
        let mut s: &[u8] = &[0xff; 12];
        assert_eq!(read_varint(&mut s), None);
        let mut out = Vec::new();
        write_varint(&mut out, 300);
        let mut s: &[u8] = &out;
        assert_eq!(read_varint(&mut s), Some(300));
    }

    #[test]
    fn the_fuzz_entry_point_survives_garbage() {
        for seed in 0..64u8 {
            fuzz_car(&bytes(seed as usize * 7, seed));
        }
    }
}
