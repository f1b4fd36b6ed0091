//! Reed–Solomon over one stripe, on `reed-solomon-simd` (GF(2^16), the Leopard-RS algorithm).
//!
//! A stripe's data is zero-padded to `k * shard_len` bytes and cut into `k` data shards; the
//! codec adds `m` parity shards of the same length. Any `k` of the `k + m` give the data back.

use super::layout::shard_len;

/// Why encoding or decoding a stripe failed (a geometry the codec refuses, or too few shards).
#[derive(Debug, thiserror::Error)]
#[error("Reed–Solomon codec: {0}")]
pub struct CodecError(String);

/// The `k + m` shard bodies of a stripe holding `data`.
pub fn encode_stripe(data: &[u8], k: usize, m: usize) -> Result<Vec<Vec<u8>>, CodecError> {
    let len = shard_len(data.len(), k);
    let mut shards: Vec<Vec<u8>> = (0..k)
        .map(|i| {
            let start = (i * len).min(data.len());
            let end = ((i + 1) * len).min(data.len());
            let mut s = Vec::with_capacity(len);
            s.extend_from_slice(&data[start..end]);
            s.resize(len, 0);
            s
        })
        .collect();
    let parity = reed_solomon_simd::encode(k, m, &shards).map_err(|e| CodecError(e.to_string()))?;
    shards.extend(parity);
    Ok(shards)
}

/// The `data_len` bytes of a stripe rebuilt from shards `(index, body)`: at least `k` of them,
/// all the same length; only the first `k` are used.
pub fn decode_stripe(
    shards: &[(usize, &[u8])],
    k: usize,
    m: usize,
    data_len: usize,
) -> Result<Vec<u8>, CodecError> {
    let use_: Vec<(usize, &[u8])> = shards.iter().take(k).copied().collect();
    if use_.len() < k {
        return Err(CodecError(format!(
            "{} shards given, {k} needed",
            use_.len()
        )));
    }
    let mut data: Vec<Option<&[u8]>> = vec![None; k];
    for &(i, body) in &use_ {
        if i < k {
            data[i] = Some(body);
        }
    }
    let restored = if data.iter().all(Option::is_some) {
        Default::default()
    } else {
        let original = use_.iter().filter(|(i, _)| *i < k).copied();
        let recovery = use_
            .iter()
            .filter(|(i, _)| *i >= k)
            .map(|&(i, b)| (i - k, b));
        reed_solomon_simd::decode(k, m, original, recovery)
            .map_err(|e| CodecError(e.to_string()))?
    };
    let mut out = Vec::with_capacity(data_len);
    for (i, slot) in data.iter().enumerate() {
        let body = match slot {
            Some(b) => *b,
            None => restored
                .get(&i)
                .map(Vec::as_slice)
                .ok_or_else(|| CodecError(format!("data shard {i} was not restored")))?,
        };
        let want = data_len - out.len();
        out.extend_from_slice(&body[..body.len().min(want)]);
        if out.len() == data_len {
            break;
        }
    }
    if out.len() != data_len {
        return Err(CodecError(format!(
            "shards hold {} bytes, the stripe has {data_len}",
            out.len()
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any k of the k + m shards rebuild the stripe.
        #[test]
        fn any_k_shards_rebuild_the_stripe(
            data in proptest::collection::vec(any::<u8>(), 1..5000),
            k in 1usize..8,
            m in 1usize..5,
            seed in any::<u64>(),
        ) {
            let shards = encode_stripe(&data, k, m).unwrap();
            prop_assert_eq!(shards.len(), k + m);
            // A seeded shuffle picks which k survive.
            let mut order: Vec<usize> = (0..k + m).collect();
            let mut x = seed | 1;
            for i in (1..order.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                order.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let pick: Vec<(usize, &[u8])> =
                order[..k].iter().map(|&i| (i, shards[i].as_slice())).collect();
            prop_assert_eq!(decode_stripe(&pick, k, m, data.len()).unwrap(), data);
        }
    }

    #[test]
    fn fewer_than_k_is_an_error() {
        let shards = encode_stripe(b"hello world", 3, 2).unwrap();
        let pick: Vec<(usize, &[u8])> = vec![(0, &shards[0]), (4, &shards[4])];
        assert!(decode_stripe(&pick, 3, 2, 11).is_err());
    }
}
