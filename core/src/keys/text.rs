//! Bech32m text forms of recipients and identities (`docs/FORMAT.md` §2).

use bech32::primitives::decode::{
    CheckedHrpstring, CheckedHrpstringError, UncheckedHrpstringError,
};
use bech32::{Bech32m, Checksum, Hrp};
use zeroize::{Zeroize, Zeroizing};

use super::{KeyError, Recipient, SEED_LEN};

/// The first line of an identity file written by coffer.
pub const IDENTITY_FILE_HEADER: &str = "# coffer identity: keep this file secret";

const RECIPIENT_HRP: &str = "coffer";
const IDENTITY_HRP: &str = "coffer-secret-key-";
const RECIPIENT_PREFIX: &str = "coffer1";
const IDENTITY_PREFIX: &str = "COFFER-SECRET-KEY-1";
const KEY_VERSION: u8 = 1;
const PQ_RECIPIENT_HRP: &str = "cofferpq";
const PQ_RECIPIENT_PREFIX: &str = "cofferpq1";

/// Bech32m without its 1023-character limit, for post-quantum recipients (2,065 characters):
/// the same generator and constant, so the checksum is still 30 bits; its guarantee of detecting
/// any 4 substitutions holds only up to 1023 characters, beyond which a random typo goes
/// undetected with probability 2^-30. age's `age1pq` recipients do the same.
enum Bech32mLong {}

impl Checksum for Bech32mLong {
    type MidstateRepr = u32;
    const CODE_LENGTH: usize = 4096;
    const CHECKSUM_LENGTH: usize = 6;
    const GENERATOR_SH: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    const TARGET_RESIDUE: u32 = 0x2bc8_30a3;
}

pub(super) fn encode_recipient(r: &Recipient) -> String {
    let mut data = Vec::with_capacity(65);
    data.push(KEY_VERSION);
    data.extend_from_slice(&r.to_bytes());
    let hrp = Hrp::parse(RECIPIENT_HRP).expect("constant HRP is valid");
    bech32::encode_lower::<Bech32m>(hrp, &data).expect("65 bytes fit in a Bech32m string")
}

pub(super) fn decode_recipient(s: &str) -> Result<Recipient, KeyError> {
    const KIND: &str = "recipient";
    let s = s.trim();
    if s.to_ascii_uppercase().starts_with(IDENTITY_PREFIX) {
        return Err(KeyError::WrongKind {
            expected: KIND,
            prefix: RECIPIENT_PREFIX,
        });
    }
    let data = decode(s, KIND, RECIPIENT_HRP, RECIPIENT_PREFIX)?;
    let (version, key) = data.split_first().ok_or(KeyError::InvalidKey {
        kind: KIND,
        reason: "no key data",
    })?;
    if *version != KEY_VERSION {
        return Err(KeyError::UnsupportedVersion {
            kind: KIND,
            version: *version,
        });
    }
    Recipient::from_bytes(key)
}

pub(super) fn encode_pq_recipient(r: &Recipient) -> String {
    let pq = r
        .xwing_public_key()
        .expect("only post-quantum recipients are encoded this way");
    let mut data = Vec::with_capacity(1 + Recipient::LEN + pq.len());
    data.push(KEY_VERSION);
    data.extend_from_slice(&r.to_bytes());
    data.extend_from_slice(pq);
    let hrp = Hrp::parse(PQ_RECIPIENT_HRP).expect("constant HRP is valid");
    bech32::encode_lower::<Bech32mLong>(hrp, &data).expect("1281 bytes fit in 4096 characters")
}

pub(super) fn decode_pq_recipient(s: &str) -> Result<Recipient, KeyError> {
    const KIND: &str = "post-quantum recipient";
    let data = decode_with::<Bech32mLong>(
        s.trim(),
        KIND,
        PQ_RECIPIENT_HRP,
        PQ_RECIPIENT_PREFIX,
        1 + Recipient::LEN + super::XWING_PUBLIC_KEY_LEN,
    )?;
    let (version, key) = data.split_first().ok_or(KeyError::InvalidKey {
        kind: KIND,
        reason: "no key data",
    })?;
    if *version != KEY_VERSION {
        return Err(KeyError::UnsupportedVersion {
            kind: KIND,
            version: *version,
        });
    }
    if key.len() != Recipient::LEN + super::XWING_PUBLIC_KEY_LEN {
        return Err(KeyError::InvalidKey {
            kind: KIND,
            reason: "a post-quantum recipient is 64 + 1216 bytes",
        });
    }
    let classic = Recipient::from_bytes(&key[..Recipient::LEN])?;
    Recipient::with_xwing(&classic, &key[Recipient::LEN..])
}

pub(super) fn encode_identity(seed: &[u8; SEED_LEN]) -> Zeroizing<String> {
    let mut data = Zeroizing::new(Vec::with_capacity(1 + SEED_LEN));
    data.push(KEY_VERSION);
    data.extend_from_slice(seed);
    let hrp = Hrp::parse(IDENTITY_HRP).expect("constant HRP is valid");
    Zeroizing::new(
        bech32::encode_upper::<Bech32m>(hrp, &data).expect("33 bytes fit in a Bech32m string"),
    )
}

pub(super) fn decode_identity(s: &str) -> Result<Zeroizing<[u8; SEED_LEN]>, KeyError> {
    const KIND: &str = "identity";
    let s = s.trim();
    if s.to_ascii_lowercase().starts_with(RECIPIENT_PREFIX) {
        return Err(KeyError::WrongKind {
            expected: KIND,
            prefix: IDENTITY_PREFIX,
        });
    }
    let data = Zeroizing::new(decode(s, KIND, IDENTITY_HRP, IDENTITY_PREFIX)?);
    let (version, seed) = data.split_first().ok_or(KeyError::InvalidKey {
        kind: KIND,
        reason: "no key data",
    })?;
    if *version != KEY_VERSION {
        return Err(KeyError::UnsupportedVersion {
            kind: KIND,
            version: *version,
        });
    }
    if seed.len() != SEED_LEN {
        return Err(KeyError::InvalidKey {
            kind: KIND,
            reason: "an identity holds a 32-byte seed",
        });
    }
    let mut out = Zeroizing::new([0u8; SEED_LEN]);
    out.copy_from_slice(seed);
    Ok(out)
}

/// Decodes a Bech32m string with the expected HRP. Errors never quote the input, which may be a
/// secret.
fn decode(
    s: &str,
    kind: &'static str,
    hrp: &str,
    prefix: &'static str,
) -> Result<Vec<u8>, KeyError> {
    decode_with::<Bech32m>(s, kind, hrp, prefix, 128)
}

fn decode_with<Ck: Checksum>(
    s: &str,
    kind: &'static str,
    hrp: &str,
    prefix: &'static str,
    max_len: usize,
) -> Result<Vec<u8>, KeyError> {
    let checked = CheckedHrpstring::new::<Ck>(s).map_err(|e| match e {
        CheckedHrpstringError::Checksum(_) => KeyError::BadChecksum { kind },
        CheckedHrpstringError::Parse(UncheckedHrpstringError::Char(_)) => KeyError::Malformed {
            kind,
            // Not quoting the character: the input may be a secret.
            reason:
                "it contains a character outside the Bech32 alphabet, or mixes upper and lower case"
                    .into(),
        },
        _ => KeyError::Malformed {
            kind,
            reason: "expected <prefix>1<data>".into(),
        },
    })?;
    if !checked.hrp().as_str().eq_ignore_ascii_case(hrp) {
        return Err(KeyError::WrongKind {
            expected: kind,
            prefix,
        });
    }
    let mut data: Vec<u8> = checked.byte_iter().collect();
    // One text per key: the bits that pad the data to a multiple of 5 must be zero (re-encoding
    // gives the same string), so no two strings name the same key.
    let canonical = Hrp::parse(hrp)
        .ok()
        .and_then(|h| bech32::encode_lower::<Ck>(h, &data).ok())
        .is_some_and(|again| again.eq_ignore_ascii_case(s));
    if !canonical {
        data.zeroize();
        return Err(KeyError::Malformed {
            kind,
            reason: "its padding bits are not zero (not the canonical text of any key)".into(),
        });
    }
    if data.len() > max_len {
        data.zeroize();
        return Err(KeyError::InvalidKey {
            kind,
            reason: "too long",
        });
    }
    Ok(data)
}

#[cfg(test)]
mod canonical_tests {
    use super::*;
    use bech32::Fe32;

    /// A recipient text whose last data symbol has a padding bit set, with a valid checksum.
    #[test]
    fn non_zero_padding_bits_are_refused() {
        let r = crate::keys::Identity::from_seed(&[3; 32])
            .recipient()
            .clone();
        let good = encode_recipient(&r);
        decode_recipient(&good).expect("canonical");
        // 65 bytes = 520 bits = 104 symbols exactly: no padding. Identities (33 bytes = 264
        // bits) have 1 padding bit in their 53rd symbol.
        let seed = [9u8; 32];
        let text = encode_identity(&seed);
        let checked = CheckedHrpstring::new::<Bech32m>(&text).expect("valid");
        let fes: Vec<Fe32> = checked.fe32_iter::<std::vec::IntoIter<u8>>().collect();
        let hrp = Hrp::parse(IDENTITY_HRP).expect("hrp");
        let text_of = |fes: Vec<Fe32>| -> String {
            bech32::primitives::iter::Fe32IterExt::with_checksum::<Bech32m>(fes.into_iter(), &hrp)
                .chars()
                .collect::<String>()
                .to_ascii_uppercase()
        };
        assert_eq!(text_of(fes.clone()), *text, "the construction is faithful");
        let mut tweaked = fes;
        let last = tweaked.len() - 1;
        tweaked[last] = Fe32::try_from(tweaked[last].to_u8() | 1).expect("5 bits");
        let tweaked = text_of(tweaked);
        assert_ne!(tweaked, *text);
        assert!(matches!(
            decode_identity(&tweaked),
            Err(KeyError::Malformed { .. })
        ));
    }
}
