//! Writer heads (`docs/FORMAT.md` §8): what each device of a vault says it holds.
//!
//! **v2** (written): `{v: 2, key: <key block CID>, n: nonce, c: ciphertext}`, where the ciphertext
//! is AES-256-GCM under the vault's head key, with the vault and writer names as associated data,
//! of `{body, sig, pad}`: the signed body, its Ed25519 signature and Padmé padding. The store sees
//! which key block a head belongs to (every head of a vault names the same one) and a padded
//! size; not the owner, the clock, the seq or how many writers were merged. A head copied to
//! another name does not decrypt. The body carries the writer's version vector (`vv`: the seq of
//! every other writer its root has merged), which lets any device see that the store holds back
//! a head another device already merged.
//!
//! **v1** (read): `{body, sig}` in the clear, signed the same way with the v1 context.
//!
//! Reading never fails on one bad head: a head that does not decode, decrypt or verify, is not the
//! owner's, or names another vault, is skipped and reported ([`SkippedHead`]). What the device
//! remembers (the trust state) then decides whether a missing writer is an attack.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_bytes::{ByteArray, ByteBuf};

use super::error::{VaultError, VaultResult};
use super::format::{FORMAT_VERSION, writer_name};
use crate::block::{Cid, from_dag_cbor, to_dag_cbor};
use crate::index::WriterId;
use crate::keys::{Identity, Recipient, SIGNATURE_LEN};

const V1_CONTEXT: &[u8] = b"coffer/vault/v1/head\0";
const V2_CONTEXT: &[u8] = b"coffer/vault/v2/head\0";

/// The retention policy register of a head: the policy block and the HLC time it was set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    /// The sealed policy block.
    pub c: Cid,
    /// The packed HLC time it was set (the newest wins).
    pub t: u64,
}

/// The signed part of a writer head (format v2; v1 heads are read into it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadBody {
    /// Format version (2; 1 for a v1 head read back).
    pub v: u8,
    /// The vault name.
    pub vault: String,
    /// The writer id (16 bytes).
    #[serde(with = "serde_bytes")]
    pub writer: [u8; 16],
    /// The signer's recipient, in text form (`coffer1…`).
    pub recipient: String,
    /// The block holding the vault root key, sealed to the owner.
    pub key: Cid,
    /// The writer's index root.
    pub root: Cid,
    /// How many heads this writer has written (1 for the first).
    pub seq: u64,
    /// The writer's hybrid logical clock (packed `Hlc`) when it wrote the head.
    pub time: u64,
    /// The version vector: for every other writer whose changes `root` contains, the seq of the
    /// newest head of it merged (by head-store name).
    pub vv: BTreeMap<String, u64>,
    /// The garbage-collection epoch this writer acknowledged (0: none yet).
    pub gc: u64,
    /// The retention policy as this writer last saw it set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pol: Option<PolicyRef>,
    /// The newest identity handover of the vault this writer knows (co-writing and lasting keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ho: Option<Cid>,
}

/// v1's head body.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeadBodyV1 {
    v: u8,
    vault: String,
    #[serde(with = "serde_bytes")]
    writer: [u8; 16],
    recipient: String,
    key: Cid,
    root: Cid,
    seq: u64,
    time: u64,
    parents: Vec<Cid>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedV1 {
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    #[serde(with = "serde_bytes")]
    sig: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedV2 {
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    #[serde(with = "serde_bytes")]
    sig: Vec<u8>,
    pad: Option<ByteBuf>,
}

/// The stored form of a v2 head.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    v: u8,
    key: Cid,
    n: ByteArray<12>,
    #[serde(with = "serde_bytes")]
    c: Vec<u8>,
}

fn message(context: &[u8], body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(context.len() + body.len());
    m.extend_from_slice(context);
    m.extend_from_slice(body);
    m
}

fn aad(vault: &str, writer: &str) -> Vec<u8> {
    let mut a = V2_CONTEXT.to_vec();
    a.extend_from_slice(vault.as_bytes());
    a.push(0);
    a.extend_from_slice(writer.as_bytes());
    a
}

fn cipher(key: &[u8; 32]) -> aes_gcm::Aes256Gcm {
    use aes_gcm::KeyInit as _;
    aes_gcm::Aes256Gcm::new(key.into())
}

/// A head that decoded, verified, and belongs to this vault's owner.
#[derive(Clone, Debug)]
pub(crate) struct DecodedHead {
    pub body: HeadBody,
    /// BLAKE3 of the signed body bytes (what the trust state remembers).
    pub digest: [u8; 32],
}

impl HeadBody {
    /// Signs the body with `identity` and encrypts it under `head_key` for `writer`'s name in
    /// vault `self.vault`: the bytes to store.
    pub(crate) fn seal(&self, identity: &Identity, head_key: &[u8; 32]) -> VaultResult<Vec<u8>> {
        use aes_gcm::aead::{Aead as _, Payload};
        let body = to_dag_cbor(self)?;
        let sig = identity.sign(&message(V2_CONTEXT, &body)).to_vec();
        let mut inner = SignedV2 {
            body,
            sig,
            pad: None,
        };
        let pt = zeroize::Zeroizing::new(super::format::encode_padded(&mut inner, |s| &mut s.pad)?);
        let mut n = [0u8; 12];
        crate::keys::fill_random(&mut n);
        let writer = writer_name(WriterId(self.writer));
        let c = cipher(head_key)
            .encrypt(
                &n.into(),
                Payload {
                    msg: &pt,
                    aad: &aad(&self.vault, &writer),
                },
            )
            .map_err(|_| VaultError::BadHead {
                writer,
                detail: "encryption failed".into(),
            })?;
        Ok(to_dag_cbor(&Envelope {
            v: FORMAT_VERSION,
            key: self.key,
            n: ByteArray::new(n),
            c,
        })?)
    }
}

/// What can be read from a stored head before the vault's keys are known.
pub(crate) enum Peeked {
    /// A v2 head: the key block it names (its body needs the head key).
    V2 { key: Cid },
    /// A v1 head, signature verified (by whoever it names).
    V1 {
        head: Box<DecodedHead>,
        signer: Recipient,
    },
}

/// Reads the outer layer of a stored head: which key block it names, or (v1) the whole head.
pub(crate) fn peek(writer: &str, bytes: &[u8]) -> Result<Peeked, String> {
    if let Ok(env) = from_dag_cbor::<Envelope>(bytes) {
        if env.v != FORMAT_VERSION {
            return Err(format!("unsupported head format version {}", env.v));
        }
        return Ok(Peeked::V2 { key: env.key });
    }
    let (head, signer) = decode_v1(writer, bytes)?;
    Ok(Peeked::V1 {
        head: Box::new(head),
        signer,
    })
}

fn decode_v1(writer: &str, bytes: &[u8]) -> Result<(DecodedHead, Recipient), String> {
    let signed: SignedV1 = from_dag_cbor(bytes).map_err(|e| e.to_string())?;
    let v1: HeadBodyV1 = from_dag_cbor(&signed.body).map_err(|e| e.to_string())?;
    if v1.v != 1 {
        return Err(format!("unsupported head format version {}", v1.v));
    }
    if writer_name(WriterId(v1.writer)) != writer {
        return Err("the writer id inside does not match its name".into());
    }
    let signer: Recipient = v1
        .recipient
        .parse()
        .map_err(|_| "the recipient is not valid".to_string())?;
    let sig: &[u8; SIGNATURE_LEN] = signed
        .sig
        .as_slice()
        .try_into()
        .map_err(|_| "the signature is not 64 bytes".to_string())?;
    if !signer.verify(&message(V1_CONTEXT, &signed.body), sig) {
        return Err("its signature does not verify (forged or damaged)".into());
    }
    let digest = *blake3::hash(&signed.body).as_bytes();
    let body = HeadBody {
        v: 1,
        vault: v1.vault,
        writer: v1.writer,
        recipient: v1.recipient,
        key: v1.key,
        root: v1.root,
        seq: v1.seq,
        time: v1.time,
        vv: BTreeMap::new(),
        gc: 0,
        pol: None,
        ho: None,
    };
    Ok((DecodedHead { body, digest }, signer))
}

/// Decrypts and verifies a stored head of `vault` under `writer`'s name: `Ok` only for a head of
/// this vault and name, signed by the recipient it carries; returns the signer too.
pub(crate) fn open(
    head_key: &[u8; 32],
    vault: &str,
    writer: &str,
    bytes: &[u8],
) -> Result<(DecodedHead, Recipient), String> {
    use aes_gcm::aead::{Aead as _, Payload};
    let (head, signer) = match from_dag_cbor::<Envelope>(bytes) {
        Ok(env) => {
            if env.v != FORMAT_VERSION {
                return Err(format!("unsupported head format version {}", env.v));
            }
            let pt = zeroize::Zeroizing::new(
                cipher(head_key)
                    .decrypt(
                        (&*env.n).into(),
                        Payload {
                            msg: &env.c,
                            aad: &aad(vault, writer),
                        },
                    )
                    .map_err(|_| {
                        "it does not decrypt with this vault's head key (another vault's, or \
                         moved from another name)"
                            .to_string()
                    })?,
            );
            let inner: SignedV2 = from_dag_cbor(&pt).map_err(|e| e.to_string())?;
            let body: HeadBody = from_dag_cbor(&inner.body).map_err(|e| e.to_string())?;
            if body.v != FORMAT_VERSION {
                return Err(format!("unsupported head body version {}", body.v));
            }
            if body.key != env.key {
                return Err("the key block inside differs from the one outside".into());
            }
            if writer_name(WriterId(body.writer)) != writer {
                return Err("the writer id inside does not match its name".into());
            }
            let signer: Recipient = body
                .recipient
                .parse()
                .map_err(|_| "the recipient is not valid".to_string())?;
            let sig: &[u8; SIGNATURE_LEN] = inner
                .sig
                .as_slice()
                .try_into()
                .map_err(|_| "the signature is not 64 bytes".to_string())?;
            if !signer.verify(&message(V2_CONTEXT, &inner.body), sig) {
                return Err("its signature does not verify (forged or damaged)".into());
            }
            let digest = *blake3::hash(&inner.body).as_bytes();
            (DecodedHead { body, digest }, signer)
        }
        Err(_) => decode_v1(writer, bytes)?,
    };
    if head.body.vault != vault {
        return Err("it names another vault".into());
    }
    Ok((head, signer))
}

/// Decodes and verifies a stored head (for fuzzing and tools): `Ok` only for a well-formed head of
/// `vault` under `writer`, (v2) decrypting with `head_key`, signed by the recipient it carries.
pub fn decode_head(
    head_key: &[u8; 32],
    vault: &str,
    writer: &str,
    bytes: &[u8],
) -> VaultResult<HeadBody> {
    open(head_key, vault, writer, bytes)
        .map(|(h, _)| h.body)
        .map_err(|detail| VaultError::BadHead {
            writer: writer.to_string(),
            detail,
        })
}

/// Decodes the plaintext of a v2 head (what the head key decrypts) for fuzzing: `{body, sig,
/// pad}`, the body, and the signature against the recipient it names. `Ok` only when all hold.
#[doc(hidden)]
pub fn fuzz_head_plaintext(writer: &str, pt: &[u8]) -> Result<(), String> {
    let inner: SignedV2 = from_dag_cbor(pt).map_err(|e| e.to_string())?;
    let body: HeadBody = from_dag_cbor(&inner.body).map_err(|e| e.to_string())?;
    if writer_name(WriterId(body.writer)) != writer {
        return Err("name".into());
    }
    let signer: Recipient = body
        .recipient
        .parse()
        .map_err(|_| "recipient".to_string())?;
    let sig: &[u8; SIGNATURE_LEN] = inner
        .sig
        .as_slice()
        .try_into()
        .map_err(|_| "sig".to_string())?;
    if signer.verify(&message(V2_CONTEXT, &inner.body), sig) {
        Ok(())
    } else {
        Err("signature".into())
    }
}

/// A head that was not used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedHead {
    /// The head-store name it was stored under.
    pub writer: String,
    /// Why it was skipped.
    pub reason: String,
}
