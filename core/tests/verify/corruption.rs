//! Every flipped bit in data, outboard or proof is caught by the ranges that depend on it, and
//! only by those; malformed arguments get typed errors.

use std::ops::Range;

use coffer::verify::{GROUP_SIZE, Outboard, RangeProof, VerifyError, covering_range, verify_all};
use proptest::prelude::*;

use super::noise;

fn slice(data: &[u8], r: &Range<u64>) -> Vec<u8> {
    data[r.start as usize..r.end as usize].to_vec()
}

fn range_in(len: u64, a: u64, b: u64) -> Range<u64> {
    let (a, b) = (a % (len + 1), b % (len + 1));
    a.min(b)..a.max(b)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn flipped_data_bit_fails_exactly_the_ranges_covering_it(
        len in 1u64..600_000,
        pos in any::<u64>(),
        bit in 0u8..8,
        a in any::<u64>(),
        b in any::<u64>(),
        seed: u64,
    ) {
        let mut data = noise(len as usize, seed);
        let outboard = Outboard::compute(&data);
        let pos = pos % len;
        data[pos as usize] ^= 1 << bit;
        let range = range_in(len, a, b);
        let span = covering_range(len, range.clone()).expect("valid range");
        let covering = slice(&data, &span);
        let result = outboard.verify_range(range.clone(), &covering);
        let proof = outboard.range_proof(range.clone()).expect("valid range");
        prop_assert_eq!(&proof.verify(&covering), &result);
        if span.contains(&pos) {
            let group = pos / GROUP_SIZE * GROUP_SIZE..((pos / GROUP_SIZE + 1) * GROUP_SIZE).min(len);
            let expected = if len <= GROUP_SIZE {
                VerifyError::RootMismatch
            } else {
                VerifyError::CorruptData { start: group.start, end: group.end }
            };
            prop_assert_eq!(result, Err(expected));
        } else {
            prop_assert_eq!(result, Ok(&covering[(range.start - span.start) as usize..(range.end - span.start) as usize]));
        }
        prop_assert!(verify_all(&outboard.root(), &data, outboard.as_bytes()).is_err());
    }

    #[test]
    fn flipped_outboard_bit_fails_exactly_the_ranges_using_it(
        len in GROUP_SIZE + 1..1_500_000,
        pos in any::<u64>(),
        bit in 0u8..8,
        a in any::<u64>(),
        b in any::<u64>(),
        seed: u64,
    ) {
        let data = noise(len as usize, seed);
        let good = Outboard::compute(&data);
        let mut bytes = good.as_bytes().to_vec();
        let pos = pos % bytes.len() as u64;
        bytes[pos as usize] ^= 1 << bit;
        let bad = Outboard::from_parts(good.root(), len, bytes.clone()).expect("same length");
        let range = range_in(len, a, b);
        let span = covering_range(len, range.clone()).expect("valid range");
        let covering = slice(&data, &span);
        let pair = pos / 64 * 64;
        let uses_pair = RangeProof::outboard_ranges(len, range.clone())
            .expect("valid range")
            .iter()
            .any(|p| p.start == pair);
        let result = bad.verify_range(range.clone(), &covering);
        if uses_pair {
            // The root's pair is the last one; any other is checked against a verified parent.
            let root_pair = bytes.len() as u64 - 64;
            if pair == root_pair {
                prop_assert_eq!(result, Err(VerifyError::RootMismatch));
            } else {
                prop_assert!(
                    matches!(result, Err(VerifyError::CorruptOutboard { offset, .. }) if offset == pair),
                    "{:?}", result
                );
            }
        } else {
            prop_assert!(result.is_ok(), "{:?}", result);
        }
        prop_assert!(verify_all(&good.root(), &data, &bytes).is_err());
        prop_assert_eq!(verify_all(&good.root(), &data, good.as_bytes()), Ok(()));
    }

    #[test]
    fn flipped_proof_bit_is_caught(
        len in GROUP_SIZE + 1..1_500_000,
        pos in any::<u64>(),
        bit in 0u8..8,
        a in any::<u64>(),
        b in any::<u64>(),
        seed: u64,
    ) {
        let data = noise(len as usize, seed);
        let outboard = Outboard::compute(&data);
        let range = range_in(len, a, b);
        prop_assume!(!range.is_empty());
        let mut bytes = outboard.range_proof(range.clone()).expect("valid range").into_bytes();
        let pos = pos % bytes.len() as u64;
        bytes[pos as usize] ^= 1 << bit;
        let proof = RangeProof::from_parts(outboard.root(), len, range.clone(), bytes)
            .expect("same length");
        let span = covering_range(len, range.clone()).expect("valid range");
        let covering = slice(&data, &span);
        let result = proof.verify(&covering);
        // Every pair of a proof is used; the first one is the root's.
        if pos < 64 {
            prop_assert_eq!(result, Err(VerifyError::RootMismatch));
        } else {
            prop_assert!(
                matches!(result, Err(VerifyError::CorruptProof { offset, .. }) if offset == pos / 64 * 64),
                "{:?}", result
            );
        }
    }
}

#[test]
fn wrong_root_is_root_mismatch() {
    for len in [0u64, 5, GROUP_SIZE, 3 * GROUP_SIZE + 1] {
        let data = noise(len as usize, 1);
        let good = Outboard::compute(&data);
        let other = blake3::hash(b"another object");
        let bad = Outboard::from_parts(other, len, good.as_bytes().to_vec()).expect("same length");
        assert_eq!(
            verify_all(&other, &data, good.as_bytes()),
            Err(VerifyError::RootMismatch)
        );
        if len > 0 {
            assert_eq!(
                bad.verify_range(0..1, &data[..(len.min(GROUP_SIZE)) as usize]),
                Err(VerifyError::RootMismatch)
            );
        }
    }
}

#[test]
fn empty_object_and_empty_ranges() {
    let empty = Outboard::compute(&[]);
    assert_eq!(empty.root(), blake3::hash(&[]));
    assert!(empty.as_bytes().is_empty());
    assert_eq!(verify_all(&empty.root(), &[], &[]), Ok(()));
    assert_eq!(empty.verify_range(0..0, &[]), Ok(&[][..]));
    let data = noise(100_000, 2);
    let outboard = Outboard::compute(&data);
    assert_eq!(covering_range(100_000, 40_000..40_000), Ok(40_000..40_000));
    assert_eq!(outboard.verify_range(40_000..40_000, &[]), Ok(&[][..]));
    assert!(
        outboard
            .range_proof(5..5)
            .expect("empty range")
            .as_bytes()
            .is_empty()
    );
}

#[test]
fn malformed_arguments_get_typed_errors() {
    let len = 5 * GROUP_SIZE + 3;
    let data = noise(len as usize, 3);
    let outboard = Outboard::compute(&data);
    assert_eq!(
        outboard.verify_range(10..len + 1, &data),
        Err(VerifyError::RangeBeyondEnd {
            start: 10,
            end: len + 1,
            len
        })
    );
    assert_eq!(
        covering_range(len, Range { start: 9, end: 3 }),
        Err(VerifyError::InvalidRange { start: 9, end: 3 })
    );
    // 20 000..40 000 lies in groups 1 and 2.
    assert_eq!(
        covering_range(len, 20_000..40_000),
        Ok(GROUP_SIZE..3 * GROUP_SIZE)
    );
    let short = &data[GROUP_SIZE as usize..3 * GROUP_SIZE as usize - 1];
    assert_eq!(
        outboard.verify_range(20_000..40_000, short),
        Err(VerifyError::DataLength {
            start: GROUP_SIZE,
            expected: 2 * GROUP_SIZE,
            actual: 2 * GROUP_SIZE - 1
        })
    );
    // Shifted data (the wrong groups) is corrupt data, not accepted.
    let shifted = &data[..2 * GROUP_SIZE as usize];
    assert_eq!(
        outboard.verify_range(20_000..40_000, shifted),
        Err(VerifyError::CorruptData {
            start: GROUP_SIZE,
            end: 2 * GROUP_SIZE
        })
    );
    let truncated = outboard.as_bytes()[..64].to_vec();
    assert_eq!(
        Outboard::from_parts(outboard.root(), len, truncated.clone()),
        Err(VerifyError::OutboardLength {
            len,
            expected: 5 * 64,
            actual: 64
        })
    );
    assert_eq!(
        verify_all(&outboard.root(), &data, &truncated),
        Err(VerifyError::OutboardLength {
            len,
            expected: 5 * 64,
            actual: 64
        })
    );
    assert!(matches!(
        RangeProof::from_parts(outboard.root(), len, 0..1, Vec::new()),
        Err(VerifyError::ProofLength {
            expected: 192,
            actual: 0,
            ..
        })
    ));
    // Truncated data for the whole object changes the tree, so the root no longer matches.
    assert!(verify_all(&outboard.root(), &data[1..], outboard.as_bytes()).is_err());
}

#[test]
fn errors_and_debug_never_show_data() {
    let data = vec![0xAB; 40_000];
    let outboard = Outboard::compute(&data);
    let proof = outboard.range_proof(0..10).expect("valid range");
    let mut corrupt = data.clone();
    corrupt[0] ^= 1;
    let err = outboard
        .verify_range(0..10, &corrupt[..16384])
        .expect_err("corrupt");
    let shown = format!("{err} {err:?} {outboard:?} {proof:?}");
    assert!(!shown.to_lowercase().contains("abab"), "{shown}");
    assert!(shown.contains("0..16384"), "{shown}");
}
