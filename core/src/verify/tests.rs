//! Unit tests of the tree geometry behind the public functions.

use super::tree::{count_pairs, group_count, group_hash, outboard_len, parent_hash, visit_pairs};
use super::*;

#[test]
fn geometry_of_small_objects() {
    assert_eq!(group_count(0), 1);
    assert_eq!(group_count(1), 1);
    assert_eq!(group_count(GROUP_SIZE), 1);
    assert_eq!(group_count(GROUP_SIZE + 1), 2);
    assert_eq!(outboard_len(0), 0);
    assert_eq!(outboard_len(GROUP_SIZE), 0);
    assert_eq!(outboard_len(GROUP_SIZE + 1), 64);
    assert_eq!(outboard_len(1 << 30), ((1 << 16) - 1) * 64);
    // No overflow at the largest lengths.
    assert_eq!(outboard_len(u64::MAX), ((u64::MAX >> 14) + 1 - 1) * 64);
}

#[test]
fn two_groups_hash_like_blake3() {
    let data: Vec<u8> = (0..GROUP_SIZE as usize + 5)
        .map(|i| (i % 251) as u8)
        .collect();
    let (a, b) = data.split_at(GROUP_SIZE as usize);
    let left = group_hash(0, a, false);
    let right = group_hash(1, b, false);
    assert_eq!(
        parent_hash(left.as_bytes(), right.as_bytes(), true),
        blake3::hash(&data)
    );
    assert_eq!(group_hash(0, a, true), blake3::hash(a));
}

#[test]
fn counted_pairs_are_the_visited_pairs() {
    for groups in 1..70u64 {
        let len = groups * GROUP_SIZE - 3;
        for first in 0..groups {
            for end in first + 1..=groups {
                let mut visited = Vec::new();
                assert!(visit_pairs(len, &(first..end), &mut |index, span| {
                    assert!(span.start < span.end && span.end <= len);
                    visited.push(index);
                    true
                }));
                assert_eq!(count_pairs(len, &(first..end)), visited.len() as u64);
                // Each pair at most once, each inside the outboard.
                let mut sorted = visited.clone();
                sorted.sort_unstable();
                sorted.dedup();
                assert_eq!(sorted.len(), visited.len());
                assert!(sorted.iter().all(|&i| (i + 1) * 64 <= outboard_len(len)));
                if first == 0 && end == groups {
                    assert_eq!(visited.len() as u64, groups - 1);
                }
            }
        }
    }
}

#[test]
fn huge_lengths_stay_cheap_and_fail_cleanly() {
    let len = u64::MAX;
    // A one-byte range of a 16 EiB object needs one pair per level.
    assert_eq!(RangeProof::size_for(len, 5..6), Ok(50 * 64));
    assert_eq!(RangeProof::size_for(len, 0..len), Ok(outboard_len(len)));
    let root = blake3::hash(b"");
    assert!(matches!(
        Outboard::from_parts(root, len, Vec::new()),
        Err(VerifyError::OutboardLength { .. })
    ));
    let proof = RangeProof::from_parts(root, len, 0..len, Vec::new());
    assert!(matches!(proof, Err(VerifyError::ProofLength { .. })));
}

#[test]
fn covering_range_examples() {
    assert_eq!(covering_range(10, 3..4), Ok(0..10));
    assert_eq!(covering_range(100_000, 16_384..16_385), Ok(16_384..32_768));
    assert_eq!(
        covering_range(100_000, 99_999..100_000),
        Ok(98_304..100_000)
    );
    assert_eq!(covering_range(100_000, 0..100_000), Ok(0..100_000));
}
