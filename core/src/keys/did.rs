//! `did:key` text of Ed25519 keys (W3C did:key method, `docs/FORMAT.md` §2.2): `did:key:` then
//! multibase base58btc (`z`) of the multicodec varint 0xed 0x01 and the 32-byte key.

use super::KeyError;

const PREFIX: &str = "did:key:";
/// The unsigned-varint multicodec of an Ed25519 public key (0xed).
const ED25519_PUB: [u8; 2] = [0xed, 0x01];
/// Longest did:key text accepted (an Ed25519 one is 56 characters).
const MAX_LEN: usize = 128;

pub(super) fn encode(ed25519: &[u8; 32]) -> String {
    let mut bytes = Vec::with_capacity(34);
    bytes.extend_from_slice(&ED25519_PUB);
    bytes.extend_from_slice(ed25519);
    format!(
        "{PREFIX}{}",
        multibase::encode(multibase::Base::Base58Btc, bytes)
    )
}

pub(super) fn decode(text: &str) -> Result<[u8; 32], KeyError> {
    const KIND: &str = "did:key";
    let malformed = |reason: &str| KeyError::Malformed {
        kind: KIND,
        reason: reason.into(),
    };
    if text.len() > MAX_LEN {
        return Err(malformed("too long for a did:key of an Ed25519 key"));
    }
    let Some(rest) = text.strip_prefix(PREFIX) else {
        return Err(malformed("expected did:key:z…"));
    };
    // The method-specific id is a multibase string; did:key uses base58btc (`z`) only.
    if !rest.starts_with('z') {
        return Err(malformed(
            "did:key values are base58btc multibase (start with z)",
        ));
    }
    let (_, bytes) =
        multibase::decode(rest).map_err(|_| malformed("not valid base58btc after the z"))?;
    if bytes.len() < 2 || bytes[..2] != ED25519_PUB {
        return Err(KeyError::InvalidKey {
            kind: KIND,
            reason: "the did:key is not an Ed25519 key (multicodec 0xed); coffer accepts those only",
        });
    }
    let key: [u8; 32] = bytes[2..].try_into().map_err(|_| KeyError::InvalidKey {
        kind: KIND,
        reason: "an Ed25519 did:key holds 32 key bytes",
    })?;
    // One text per key: base58 has no padding ambiguity, but leading '1's (zero bytes) could be
    // added; re-encoding must give the same text.
    if encode(&key) != text {
        return Err(malformed("not the canonical did:key text of its key"));
    }
    Ok(key)
}
