//! The identity handover (`docs/FORMAT.md` §8, "Identity handover"): a block signed by the
//! vault's old owner identity (which authorises) and the new one (which accepts), naming the new
//! key block and pinning what the old identity signed last: its writers' final heads, the share
//! records and the GC record as they were. Heads of the new owner name the newest handover in
//! `ho`; handovers chain through `prev`.
//!
//! This module is the format: building, signing, decoding and checking one handover and a chain
//! of them. What a vault does with them is in `rotate.rs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_bytes::{ByteArray, ByteBuf};

use crate::block::{Cid, from_dag_cbor, to_dag_cbor};
use crate::keys::{Identity, Recipient, SIGNATURE_LEN};

/// Domain separation of both handover signatures.
const CONTEXT: &[u8] = b"coffer/vault/v2/handover\0";

/// The longest chain of handovers a reader follows.
pub const MAX_CHAIN: usize = 64;

/// Most final heads (and share records) one handover lists; more is refused as malformed.
pub const MAX_LISTED: usize = 100_000;

/// Why a handover, a chain of them, or a rotation was refused. Messages name recipients and
/// CIDs, never key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandoverError {
    /// The handover's bytes are not a well-formed handover.
    #[error("the identity handover is malformed: {0}")]
    Malformed(String),
    /// A signature does not verify: the handover was forged (or damaged).
    #[error(
        "the identity handover's {which} signature does not verify: it was forged or damaged, \
         and was refused"
    )]
    BadSignature {
        /// `"old identity"` or `"new identity"`.
        which: &'static str,
    },
    /// A handover of another vault.
    #[error("the identity handover belongs to vault {found:?}, not {expected:?}; it was refused")]
    OtherVault {
        /// The vault being read.
        expected: String,
        /// The vault the handover names.
        found: String,
    },
    /// The chain of handovers does not hold together.
    #[error("the chain of identity handovers is broken: {0}; it was refused")]
    BrokenChain(String),
    /// This identity handed the vault over to another one: it may no longer write to it.
    #[error(
        "this identity handed vault {vault} over to {to}; open the vault with that identity (check \
         its fingerprint with the owner out of band first: the holder of a stolen old key could \
         have signed this handover)"
    )]
    HandedOver {
        /// The vault.
        vault: String,
        /// The recipient it was handed over to (text form).
        to: String,
    },
    /// Two different handovers from the same identity, and this device remembers neither.
    #[error(
        "vault {vault} has two different identity handovers from the same identity (to {a} and \
         to {b}): someone else holds that identity's key; neither was accepted. Ask the owner \
         out of band which recipient is theirs"
    )]
    Competing {
        /// The vault.
        vault: String,
        /// One new owner (text form).
        a: String,
        /// The other.
        b: String,
    },
    /// A rotation that the rules refuse (same identity, a retired one, a share recipient).
    #[error("identity rotation refused: {0}")]
    Refused(String),
    /// The vault was created by format v1: its objects are wrapped to the owner's identity.
    #[error(
        "vault {vault} was created by format v1: its objects are sealed to the owner's identity, \
         which a new identity could not open; copy it into a new vault instead of rotating"
    )]
    V1Vault {
        /// The vault.
        vault: String,
    },
}

/// The last head a retiring identity signed for one writer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FinalHead {
    /// Its seq.
    pub s: u64,
    /// BLAKE3 of its signed body (as the trust state remembers heads).
    pub d: ByteArray<32>,
}

/// The signed body of a handover (format v2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverBody {
    /// Format version: 2.
    pub v: u8,
    /// The vault name.
    pub vault: String,
    /// Position in the vault's chain of handovers: 1 for the first.
    pub n: u64,
    /// The previous handover (absent exactly when `n` is 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Cid>,
    /// The retiring identity's recipient (text form).
    pub from: String,
    /// The new owner's recipient (text form).
    pub to: String,
    /// The key block sealed to `from`.
    pub from_key: Cid,
    /// The new key block: the same vault root key, sealed to `to` and signed by it.
    pub key: Cid,
    /// The final heads `from` signed, by writer (head-store name).
    pub heads: BTreeMap<String, FinalHead>,
    /// The share records as `from` signed them last: registry name → BLAKE3 of the stored bytes.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rec: BTreeMap<String, ByteArray<32>>,
    /// The GC record as `from` signed it last: BLAKE3 of the stored bytes (absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gc: Option<ByteArray<32>>,
    /// The rotating device's wall clock (ms since the Unix epoch); informational.
    pub time: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Signed {
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    #[serde(with = "serde_bytes")]
    old: Vec<u8>,
    #[serde(with = "serde_bytes")]
    new: Vec<u8>,
    pad: Option<ByteBuf>,
}

fn message(body: &[u8]) -> Vec<u8> {
    let mut m = CONTEXT.to_vec();
    m.extend_from_slice(body);
    m
}

/// A handover that decoded and whose two signatures verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handover {
    /// Its block's CID.
    pub cid: Cid,
    /// The signed body.
    pub body: HandoverBody,
    /// `body.from`, parsed.
    pub from: Recipient,
    /// `body.to`, parsed.
    pub to: Recipient,
}

impl HandoverBody {
    /// Signs the body with `old` (its `from`) and `new` (its `to`): the plaintext to seal
    /// (DAG-CBOR `{body, old, new, pad}`, padded to its Padmé length).
    pub fn sign(&self, old: &Identity, new: &Identity) -> Result<Vec<u8>, HandoverError> {
        let body = to_dag_cbor(self).map_err(|e| HandoverError::Malformed(e.to_string()))?;
        let m = message(&body);
        let mut signed = Signed {
            old: old.sign(&m).to_vec(),
            new: new.sign(&m).to_vec(),
            body,
            pad: None,
        };
        super::format::encode_padded(&mut signed, |s| &mut s.pad)
            .map_err(|e| HandoverError::Malformed(e.to_string()))
    }
}

/// Decodes a handover's plaintext and verifies both signatures against the recipients its body
/// names. Checks the body's own consistency (version, `n` and `prev`, two distinct identities,
/// list sizes); not the vault or the chain (see [`check_chain`]).
pub fn decode_plaintext(cid: Cid, pt: &[u8]) -> Result<Handover, HandoverError> {
    let signed: Signed = from_dag_cbor(pt).map_err(|e| HandoverError::Malformed(e.to_string()))?;
    let body: HandoverBody =
        from_dag_cbor(&signed.body).map_err(|e| HandoverError::Malformed(e.to_string()))?;
    if body.v != super::FORMAT_VERSION {
        return Err(HandoverError::Malformed(format!(
            "unsupported handover version {}",
            body.v
        )));
    }
    if body.n == 0 || (body.n == 1) != body.prev.is_none() {
        return Err(HandoverError::Malformed(
            "its position and its previous handover disagree".into(),
        ));
    }
    if body.heads.len() > MAX_LISTED || body.rec.len() > MAX_LISTED {
        return Err(HandoverError::Malformed("it lists too many heads".into()));
    }
    let from: Recipient = body
        .from
        .parse()
        .map_err(|_| HandoverError::Malformed("the old recipient is not valid".into()))?;
    let to: Recipient = body
        .to
        .parse()
        .map_err(|_| HandoverError::Malformed("the new recipient is not valid".into()))?;
    if from.same_identity(&to) {
        return Err(HandoverError::Malformed(
            "it hands the vault over to the same identity".into(),
        ));
    }
    let m = message(&signed.body);
    for (which, who, sig) in [
        ("old identity", &from, &signed.old),
        ("new identity", &to, &signed.new),
    ] {
        let sig: &[u8; SIGNATURE_LEN] = sig
            .as_slice()
            .try_into()
            .map_err(|_| HandoverError::Malformed("a signature is not 64 bytes".into()))?;
        if !who.verify(&m, sig) {
            return Err(HandoverError::BadSignature { which });
        }
    }
    Ok(Handover {
        cid,
        body,
        from,
        to,
    })
}

/// Checks that `chain` (oldest first) is one chain of handovers of `vault`: positions 1, 2, …,
/// each naming the previous one, each handing over from the identity (and key block) the previous
/// one handed over to, and no identity twice.
pub fn check_chain(vault: &str, chain: &[Handover]) -> Result<(), HandoverError> {
    if chain.len() > MAX_CHAIN {
        return Err(HandoverError::BrokenChain(format!(
            "more than {MAX_CHAIN} handovers"
        )));
    }
    let mut identities: Vec<&Recipient> = Vec::new();
    for (i, h) in chain.iter().enumerate() {
        if h.body.vault != vault {
            return Err(HandoverError::OtherVault {
                expected: vault.to_string(),
                found: h.body.vault.clone(),
            });
        }
        if h.body.n != i as u64 + 1 {
            return Err(HandoverError::BrokenChain(format!(
                "handover {} is at position {}",
                h.body.n,
                i + 1
            )));
        }
        if i > 0 {
            let before = &chain[i - 1];
            if h.body.prev != Some(before.cid) {
                return Err(HandoverError::BrokenChain(
                    "a handover does not name the one before it".into(),
                ));
            }
            if !h.from.same_identity(&before.to) || h.body.from_key != before.body.key {
                return Err(HandoverError::BrokenChain(
                    "a handover is not from the identity the one before handed over to".into(),
                ));
            }
        } else {
            identities.push(&h.from);
        }
        if identities.iter().any(|r| r.same_identity(&h.to)) {
            return Err(HandoverError::BrokenChain(
                "it hands the vault back to an identity it had before".into(),
            ));
        }
        identities.push(&h.to);
    }
    Ok(())
}

/// Decodes a handover plaintext for fuzzing: `Ok` only for a well-formed, doubly signed one.
#[doc(hidden)]
pub fn fuzz_handover_plaintext(data: &[u8]) -> Result<(), HandoverError> {
    let h = decode_plaintext(crate::block::raw_cid(b""), data)?;
    check_chain(&h.body.vault.clone(), &[h]).map(|_| ())
}
