//! Range verification with arbitrary outboards, proofs, data and ranges: never panics, accepts
//! untouched data, rejects data, outboard or proof bytes that were changed where the range
//! depends on them.
#![no_main]

use coffer::verify::{Outboard, RangeProof, covering_range, verify_all};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut u = Unstructured::new(bytes);
    let _ = if u.arbitrary::<bool>().unwrap_or(false) {
        consistent(&mut u)
    } else {
        hostile(&mut u)
    };
});

/// Everything chosen by the attacker: root, length, outboard, proof, data, range.
fn hostile(u: &mut Unstructured) -> Result<()> {
    let root = blake3::Hash::from(u.arbitrary::<[u8; 32]>()?);
    let small = u.arbitrary::<bool>()?;
    let len: u64 = if small {
        u.int_in_range(0..=200_000)?
    } else {
        u.arbitrary()?
    };
    let range = u.arbitrary::<u64>()? % len.saturating_add(1)..u.arbitrary::<u64>()?;
    let outboard: Vec<u8> = u.arbitrary()?;
    let proof: Vec<u8> = u.arbitrary()?;
    let data: Vec<u8> = u.arbitrary()?;

    let _ = covering_range(len, range.clone());
    let _ = verify_all(&root, &data, &outboard);
    if let Ok(ob) = Outboard::from_parts(root, len, outboard.clone()) {
        let _ = ob.verify_range(range.clone(), &data);
        if RangeProof::size_for(len, range.clone()).is_ok_and(|n| n <= 1 << 20) {
            let _ = ob.range_proof(range.clone());
        }
    }
    if RangeProof::size_for(len, range.clone()).is_ok_and(|n| n <= 1 << 20) {
        let _ = RangeProof::outboard_ranges(len, range.clone());
    }
    if let Ok(proof) = RangeProof::from_parts(root, len, range, proof) {
        let _ = proof.verify(&data);
    }
    Ok(())
}

/// A real object and its outboard, then at most one byte changed in the data, the outboard or
/// the proof: the result must match what changed.
fn consistent(u: &mut Unstructured) -> Result<()> {
    let len = u.int_in_range(0..=300_000u64)?;
    let seed: u8 = u.arbitrary()?;
    let data: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    let outboard = Outboard::compute(&data);
    let (a, b) = (u.int_in_range(0..=len)?, u.int_in_range(0..=len)?);
    let range = a.min(b)..a.max(b);
    let span = covering_range(len, range.clone()).expect("range inside the object");
    let mut covering = data[span.start as usize..span.end as usize].to_vec();
    let mut pairs = outboard.as_bytes().to_vec();
    let mut proof = outboard
        .range_proof(range.clone())
        .expect("range inside")
        .into_bytes();
    let wanted = &data[range.start as usize..range.end as usize];

    let target: u8 = u.int_in_range(0..=3)?;
    let flip: u8 = u.int_in_range(1..=255)?;
    let at: usize = u.arbitrary()?;
    let changed = match target {
        1 if !covering.is_empty() => {
            let n = covering.len();
            covering[at % n] ^= flip;
            true
        }
        2 if !pairs.is_empty() => {
            let at = at % pairs.len();
            pairs[at] ^= flip;
            let pair = (at / 64 * 64) as u64;
            RangeProof::outboard_ranges(len, range.clone())
                .expect("range inside")
                .iter()
                .any(|p| p.start == pair)
        }
        3 if !proof.is_empty() => {
            let at = at % proof.len();
            proof[at] ^= flip;
            true
        }
        _ => false,
    };

    let ob = Outboard::from_parts(outboard.root(), len, pairs).expect("same length");
    let by_outboard = ob.verify_range(range.clone(), &covering);
    let proof =
        RangeProof::from_parts(outboard.root(), len, range.clone(), proof).expect("same length");
    let by_proof = proof.verify(&covering);
    match target {
        1 => {
            assert_eq!(by_outboard.is_err(), changed);
            assert_eq!(by_proof.is_err(), changed);
        }
        2 => {
            assert_eq!(by_outboard.is_err(), changed);
            assert_eq!(by_proof, Ok(wanted));
        }
        3 => {
            assert_eq!(by_outboard, Ok(wanted));
            assert_eq!(by_proof.is_err(), changed);
        }
        _ => {
            assert_eq!(by_outboard, Ok(wanted));
            assert_eq!(by_proof, Ok(wanted));
        }
    }
    Ok(())
}
