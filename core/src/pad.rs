//! Padmé padding (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and
//! Communication with PURBs", PETS 2019): a length `L` is rounded up so that only its top
//! `floor(log2(log2 L)) + 1` bits are free, which leaks O(log log L) bits of the length and costs
//! at most about 12 % (less for larger `L`).
//!
//! coffer pads the plaintext of manifests, tags blocks and heads (`docs/FORMAT.md` §8), so the
//! store cannot tell key-name, metadata or writer-count lengths exactly from block sizes.

/// The Padmé length of `len` (at least `len`).
pub fn padme(len: u64) -> u64 {
    if len < 2 {
        return len;
    }
    let e = 63 - u64::from(len.leading_zeros()); // floor(log2 len)
    let s = 64 - u64::from(e.leading_zeros()); // floor(log2 e) + 1
    let last_bits = e - s;
    let mask = (1u64 << last_bits) - 1;
    (len + mask) & !mask
}

/// How many zero bytes to put in a DAG-CBOR byte-string field `pad` so that a structure whose
/// encoding is `base` bytes long with an empty pad (one header byte) comes as close as possible to
/// its Padmé length without passing it.
pub(crate) fn pad_bytes(base: usize) -> usize {
    let target = padme(base as u64) as usize;
    // The empty pad is one header byte; a pad of `p` bytes costs `p` plus its header.
    let header = |p: usize| match p {
        0..=23 => 1,
        24..=255 => 2,
        256..=65_535 => 3,
        _ => 5,
    };
    let mut p = target.saturating_sub(base);
    while p > 0 && base - 1 + header(p) + p > target {
        p -= 1;
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        // Small lengths stay exact; larger ones lose their low bits.
        for (l, p) in [
            (0, 0),
            (1, 1),
            (2, 2),
            (7, 7),
            (8, 8),
            (9, 10),
            (100, 104),
            (1000, 1024),
            (1025, 1088),
            (65_537, 67_584),
            (1 << 30, 1 << 30),
        ] {
            assert_eq!(padme(l), p, "padme({l})");
        }
    }

    #[test]
    fn never_shrinks_and_overhead_is_bounded() {
        for l in (1..200_000u64).step_by(7) {
            let p = padme(l);
            assert!(p >= l);
            assert!(p - l <= l / 8 + 1, "{l} -> {p}");
        }
    }

    #[test]
    fn pad_bytes_reaches_the_target_within_two_bytes() {
        for base in 1..5000usize {
            let p = pad_bytes(base);
            let header = if p < 24 {
                1
            } else if p < 256 {
                2
            } else {
                3
            };
            let total = base - 1 + header + p;
            let target = padme(base as u64) as usize;
            assert!(total <= target, "{base}");
            assert!(target - total <= 2, "{base}: {total} vs {target}");
        }
    }
}
