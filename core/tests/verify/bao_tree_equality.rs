//! The builder's outboard and the range proofs are byte-for-byte bao-tree's.

use coffer::verify::{Outboard, OutboardBuilder, RangeProof, covering_range};
use proptest::prelude::*;

use super::{GROUP, bao_outboard, bao_proof, noise, pattern};

/// Sizes around every boundary that matters: chunks, groups, powers of two of groups.
fn edge_sizes() -> Vec<usize> {
    let g = GROUP as usize;
    let mut sizes = vec![
        0,
        1,
        1023,
        1024,
        1025,
        16383,
        16384,
        16385,
        2 * g - 1,
        2 * g,
        2 * g + 1,
    ];
    for groups in [
        3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 256,
    ] {
        sizes.extend([
            groups * g - 1,
            groups * g,
            groups * g + 1,
            groups * g + 12345,
        ]);
    }
    sizes.push(4 * 1024 * 1024 + 7);
    sizes
}

fn build_in_pieces(data: &[u8], piece: usize) -> Outboard {
    let mut builder = OutboardBuilder::new();
    for part in data.chunks(piece.max(1)) {
        builder.update(part);
    }
    assert_eq!(builder.len(), data.len() as u64);
    builder.finalize()
}

#[test]
fn outboard_equals_bao_tree_at_edge_sizes() {
    for len in edge_sizes() {
        let data = pattern(len);
        let (root, outboard) = bao_outboard(&data);
        assert_eq!(
            root,
            blake3::hash(&data),
            "bao-tree root is plain BLAKE3 (len {len})"
        );
        for piece in [len.max(1), 1000, 16384, 65552] {
            let ours = build_in_pieces(&data, piece);
            assert_eq!(ours.root(), root, "root, len {len}, pieces of {piece}");
            assert_eq!(ours.len(), len as u64);
            assert_eq!(
                ours.as_bytes(),
                &outboard[..],
                "outboard, len {len}, pieces of {piece}"
            );
            assert_eq!(Outboard::size_for(len as u64), outboard.len() as u64);
        }
    }
}

#[test]
fn byte_at_a_time_equals_one_update() {
    let data = noise(3 * GROUP as usize + 17, 7);
    assert_eq!(build_in_pieces(&data, 1), Outboard::compute(&data));
}

#[test]
fn proofs_equal_bao_tree_at_edge_sizes() {
    for len in [16385usize, 5 * GROUP as usize, 17 * GROUP as usize + 3] {
        let data = pattern(len);
        let outboard = Outboard::compute(&data);
        let len = len as u64;
        for start in (0..len).step_by(4099) {
            for end in [start + 1, start + GROUP, start + 3 * GROUP + 5, len] {
                let end = end.min(len);
                let proof = outboard
                    .range_proof(start..end)
                    .expect("range inside the object");
                assert_eq!(
                    proof.as_bytes(),
                    &bao_proof(&data, start..end)[..],
                    "{start}..{end}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn outboard_equals_bao_tree(len in 0usize..3 * 1024 * 1024, piece in 1usize..200_000, seed: u64) {
        let data = noise(len, seed);
        let (root, outboard) = bao_outboard(&data);
        let ours = build_in_pieces(&data, piece);
        prop_assert_eq!(ours.root(), root);
        prop_assert_eq!(ours.as_bytes(), &outboard[..]);
    }

    #[test]
    fn proof_equals_bao_tree_and_verifies(
        len in 1u64..2 * 1024 * 1024,
        a in any::<u64>(),
        b in any::<u64>(),
        seed: u64,
    ) {
        let data = noise(len as usize, seed);
        let (a, b) = (a % (len + 1), b % (len + 1));
        let range = a.min(b)..a.max(b);
        let outboard = Outboard::compute(&data);
        let proof = outboard.range_proof(range.clone()).expect("range inside the object");
        prop_assert_eq!(proof.as_bytes(), &bao_proof(&data, range.clone())[..]);
        prop_assert_eq!(
            proof.as_bytes().len() as u64,
            RangeProof::size_for(len, range.clone()).expect("valid range")
        );

        // The proof is the listed outboard pieces, in order.
        let pieces = RangeProof::outboard_ranges(len, range.clone()).expect("valid range");
        let fetched: Vec<u8> = pieces
            .iter()
            .flat_map(|p| outboard.as_bytes()[p.start as usize..p.end as usize].to_vec())
            .collect();
        prop_assert_eq!(&fetched[..], proof.as_bytes());

        let span = covering_range(len, range.clone()).expect("valid range");
        let covering = &data[span.start as usize..span.end as usize];
        let wanted = &data[range.start as usize..range.end as usize];
        prop_assert_eq!(outboard.verify_range(range.clone(), covering), Ok(wanted));
        let received = RangeProof::from_parts(outboard.root(), len, range, fetched)
            .expect("proof of the right length");
        prop_assert_eq!(received.verify(covering), Ok(wanted));
    }
}
