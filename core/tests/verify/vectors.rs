//! Known answers: the official BLAKE3 vectors, and pinned outboards and range proofs.

use std::ops::Range;

use coffer::verify::{Outboard, OutboardBuilder, RangeProof, covering_range, verify_all};
use serde_json::{Value, json};

use super::{GROUP, bao_outboard, bao_proof, pattern, vector_path};

fn load(name: &str) -> Value {
    let path = vector_path(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("test vectors are valid JSON")
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` is a number in {v}"))
}

fn hex_of(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("`{key}` is a string")),
    )
    .expect("hex in test vectors")
}

#[test]
fn blake3_official_vectors() {
    let vectors = load("blake3.json");
    let cases = vectors["cases"].as_array().expect("cases");
    assert!(cases.len() >= 10);
    for case in cases {
        let len = u64_of(case, "input_len") as usize;
        let expected = hex_of(case, "hash");
        let data = pattern(len);
        let mut extended = vec![0; expected.len()];
        blake3::Hasher::new()
            .update(&data)
            .finalize_xof()
            .fill(&mut extended);
        assert_eq!(extended, expected, "extended output, len {len}");
        assert_eq!(
            blake3::hash(&data).as_bytes()[..],
            expected[..32],
            "hash, len {len}"
        );
        // The outboard's root is the plain BLAKE3 hash, however the input is fed.
        assert_eq!(
            Outboard::compute(&data).root().as_bytes()[..],
            expected[..32],
            "root, len {len}"
        );
        let mut builder = OutboardBuilder::new();
        for piece in data.chunks(333) {
            builder.update(piece);
        }
        assert_eq!(
            builder.finalize().root().as_bytes()[..],
            expected[..32],
            "streamed root, len {len}"
        );
    }
}

/// Object lengths pinned in `outboard.json`: one and several groups, partial and full last groups,
/// power-of-two and other group counts.
const OUTBOARD_LENGTHS: [u64; 16] = [
    0, 1, 1024, 16383, 16384, 16385, 32768, 32769, 49153, 65536, 65537, 114788, 131072, 147457,
    1048576, 1048577,
];

/// Ranges pinned for each length: first byte, last byte, a span across groups, everything.
fn pinned_ranges(len: u64) -> Vec<Range<u64>> {
    if len == 0 {
        return std::iter::once(0..0).collect();
    }
    let mut ranges = vec![0..1, len - 1..len, 0..len];
    if len > GROUP {
        ranges.push(GROUP - 100..(2 * GROUP + 100).min(len));
        ranges.push(len / 3..len / 2 + 1);
    }
    ranges
}

/// Writes `test-vectors/outboard.json` from bao-tree's functions alone (not coffer's). Run once,
/// on purpose: `COFFER_WRITE_VECTORS=1 cargo test -p coffer --test verify -- --ignored write_outboard_vectors`.
#[test]
#[ignore = "writes the pinned vectors; run on purpose only"]
fn write_outboard_vectors() {
    assert_eq!(
        std::env::var("COFFER_WRITE_VECTORS").as_deref(),
        Ok("1"),
        "set COFFER_WRITE_VECTORS=1"
    );
    let mut cases = Vec::new();
    for len in OUTBOARD_LENGTHS {
        let data = pattern(len as usize);
        let (root, outboard) = bao_outboard(&data);
        let proofs: Vec<Value> = pinned_ranges(len)
            .into_iter()
            .map(|r| {
                let covering = if r.is_empty() {
                    r.start..r.start
                } else {
                    r.start / GROUP * GROUP..(r.end.div_ceil(GROUP) * GROUP).min(len)
                };
                json!({
                    "start": r.start,
                    "end": r.end,
                    "covering_start": covering.start,
                    "covering_end": covering.end,
                    "proof": hex::encode(bao_proof(&data, r)),
                })
            })
            .collect();
        cases.push(json!({
            "input_len": len,
            "root": root.to_hex().as_str(),
            "outboard": hex::encode(outboard),
            "ranges": proofs,
        }));
    }
    let doc = json!({
        "_comment": "BLAKE3 roots, post-order Bao outboards (16 KiB groups, no length prefix or suffix) and range proofs (the hash pairs for the 16 KiB groups overlapping [start, end), in pre-order) of input_len bytes of the repeating sequence 0, 1, ..., 250. Generated with bao-tree 0.17 (PostOrderMemOutboard::create with BlockSize::from_chunk_log(4); proofs are the parent pairs of io::sync::encode_ranges over the group-aligned chunk ranges). covering_start..covering_end are the object bytes a verifier hashes. Layout: docs/FORMAT.md §4.",
        "group_size": GROUP,
        "cases": cases,
    });
    let text = serde_json::to_string_pretty(&doc).expect("JSON") + "\n";
    std::fs::write(vector_path("outboard.json"), text).expect("write test-vectors/outboard.json");
}

#[test]
fn outboard_vectors() {
    let vectors = load("outboard.json");
    assert_eq!(u64_of(&vectors, "group_size"), GROUP);
    let cases = vectors["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), OUTBOARD_LENGTHS.len());
    for case in cases {
        let len = u64_of(case, "input_len");
        let data = pattern(len as usize);
        let root = blake3::Hash::from_hex(case["root"].as_str().expect("root")).expect("hex root");
        let expected = hex_of(case, "outboard");

        let (bao_root, bao_bytes) = bao_outboard(&data);
        assert_eq!(
            (bao_root, &bao_bytes),
            (root, &expected),
            "bao-tree, len {len}"
        );
        let ours = Outboard::compute(&data);
        assert_eq!(
            (ours.root(), ours.as_bytes()),
            (root, &expected[..]),
            "coffer, len {len}"
        );
        assert_eq!(verify_all(&root, &data, &expected), Ok(()));

        for r in case["ranges"].as_array().expect("ranges") {
            let range = u64_of(r, "start")..u64_of(r, "end");
            let covering = u64_of(r, "covering_start")..u64_of(r, "covering_end");
            let proof = hex_of(r, "proof");
            assert_eq!(
                bao_proof(&data, range.clone()),
                proof,
                "bao-tree proof {range:?} of {len}"
            );
            assert_eq!(covering_range(len, range.clone()), Ok(covering.clone()));
            let ours = ours.range_proof(range.clone()).expect("valid range");
            assert_eq!(
                ours.as_bytes(),
                &proof[..],
                "coffer proof {range:?} of {len}"
            );
            let bytes = &data[covering.start as usize..covering.end as usize];
            let wanted = &data[range.start as usize..range.end as usize];
            let received = RangeProof::from_parts(root, len, range.clone(), proof).expect("length");
            assert_eq!(received.verify(bytes), Ok(wanted), "{range:?} of {len}");
        }
    }
}
