//! The vault's byte formats: object manifests, index values, signed writer heads, and the key
//! derivation. Specified field by field in `docs/FORMAT.md §8`.

use std::collections::BTreeMap;

use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::error::{VaultError, VaultResult};
use crate::block::{Cid, from_dag_cbor, to_dag_cbor};
use crate::index::{IndexKey, WriterId};
use crate::keys::{Identity, Recipient, SIGNATURE_LEN};

/// Format version of manifests, index values and heads.
pub const FORMAT_VERSION: u8 = 1;

/// HKDF-SHA256 `info` of the index key, derived from the vault root key.
const INDEX_KEY_INFO: &[u8] = b"coffer/vault/v1/index-key";
/// HKDF-SHA256 `info` of the upload key (keys the upload seeds of streaming puts).
const UPLOAD_KEY_INFO: &[u8] = b"coffer/vault/v1/upload-key";
/// HKDF-SHA256 `info` of the share registry key (keys the names of share records).
const REGISTRY_KEY_INFO: &[u8] = b"coffer/vault/v1/share-registry";
/// Domain separation prefix of head signatures.
const HEAD_SIGNATURE_CONTEXT: &[u8] = b"coffer/vault/v1/head\0";
/// BLAKE3 `derive_key` context of writer ids.
const WRITER_ID_CONTEXT: &str = "coffer vault v1 writer id";

/// The vault root key: 32 random bytes, stored sealed to the owner. Zeroized on drop.
pub(crate) struct RootKey(pub(crate) Zeroizing<[u8; 32]>);

impl RootKey {
    /// The index key: `HKDF-SHA256(salt = none, ikm = root key, info = "coffer/vault/v1/index-key")`.
    pub(crate) fn index_key(&self) -> IndexKey {
        let hk = Hkdf::<Sha256>::new(None, self.0.as_ref());
        let mut okm = Zeroizing::new([0u8; 32]);
        hk.expand(INDEX_KEY_INFO, okm.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        IndexKey::from_bytes(*okm)
    }

    /// The share registry key: `HKDF-SHA256(salt = none, ikm = root key, info = "coffer/vault/v1/share-registry")`.
    pub(crate) fn registry_key(&self) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(None, self.0.as_ref());
        let mut okm = Zeroizing::new([0u8; 32]);
        hk.expand(REGISTRY_KEY_INFO, okm.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        okm
    }

    /// The upload key: `HKDF-SHA256(salt = none, ikm = root key, info = "coffer/vault/v1/upload-key")`.
    pub(crate) fn upload_key(&self) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(None, self.0.as_ref());
        let mut okm = Zeroizing::new([0u8; 32]);
        hk.expand(UPLOAD_KEY_INFO, okm.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        okm
    }
}

/// The writer id of a device: the first 16 bytes of
/// `BLAKE3-derive_key("coffer vault v1 writer id", owner recipient (64 bytes) || device name)`.
///
/// Devices sharing one identity need distinct device names.
pub fn writer_id_for(identity: &Identity, device: &str) -> WriterId {
    let mut hasher = blake3::Hasher::new_derive_key(WRITER_ID_CONTEXT);
    hasher.update(&identity.recipient().to_bytes());
    hasher.update(device.as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    WriterId(id)
}

/// The head-store name of a writer: its id in lowercase hex (32 characters).
pub fn writer_name(writer: WriterId) -> String {
    data_encoding::HEXLOWER.encode(&writer.0)
}

/// An object manifest: everything needed to find, verify and open one version of an object.
/// Stored as DAG-CBOR, sealed to the owner (signed), as a raw block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    /// Format version (1).
    pub v: u8,
    /// The object key this version was written under.
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    /// The sealed object (raw block).
    pub data: Cid,
    /// Length of the sealed object.
    pub sealed_len: u64,
    /// Length of the plaintext.
    pub plain_len: u64,
    /// BLAKE3 root of the sealed object.
    #[serde(with = "serde_bytes")]
    pub blake3: [u8; 32],
    /// The Bao outboard of the sealed object (raw block); absent when it is empty (≤ 16 KiB).
    pub outboard: Option<Cid>,
    /// Content type given at put.
    pub content_type: Option<String>,
    /// User metadata given at put.
    pub metadata: BTreeMap<String, String>,
    /// Wall-clock time of the put, milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// The manifest of the previous version of this key, if any.
    pub prev: Option<Cid>,
    /// The S3 ETag of this version as given at put (the S3 gateway stores the plaintext's MD5,
    /// or a multipart ETag `md5-of-md5s-N`); absent when none was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

/// The value of an index entry: DAG-CBOR `{m: manifest CID, n: plaintext length, c?: [CID], t?: CID}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct IndexValue {
    /// The manifest of the current version.
    pub m: Cid,
    /// Its plaintext length (so listings need not open manifests).
    pub n: u64,
    /// Manifests of concurrent versions that lost a merge to `m` (sorted, no duplicates; the key
    /// is absent when empty), so their history stays reachable.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub c: Vec<Cid>,
    /// The current version's tags: a sealed DAG-CBOR map text → text (absent when none).
    /// Changing tags rewrites the index value, not the manifest, so the version id stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<Cid>,
    /// The current version's S3 ETag (copied from its manifest), so listings can answer it
    /// without opening manifests; absent when the version has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
}

impl IndexValue {
    pub(crate) fn encode(&self) -> VaultResult<Vec<u8>> {
        Ok(to_dag_cbor(self)?)
    }

    pub(crate) fn decode(bytes: &[u8]) -> VaultResult<Self> {
        from_dag_cbor(bytes).map_err(|e| VaultError::Corrupt {
            cid: "(index entry)".into(),
            detail: e.to_string(),
        })
    }
}

/// The signed part of a writer head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadBody {
    /// Format version (1).
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
    /// The index roots of the other writers' heads merged into `root` by the sync that wrote it.
    pub parents: Vec<Cid>,
}

/// A signed writer head: DAG-CBOR `{body: bytes, sig: bytes(64)}`, where `body` is the DAG-CBOR
/// of [`HeadBody`] and `sig` the Ed25519 signature of `"coffer/vault/v1/head\0" || body`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedHead {
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    #[serde(with = "serde_bytes")]
    sig: Vec<u8>,
}

fn head_message(body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(HEAD_SIGNATURE_CONTEXT.len() + body.len());
    msg.extend_from_slice(HEAD_SIGNATURE_CONTEXT);
    msg.extend_from_slice(body);
    msg
}

impl HeadBody {
    /// Encodes and signs the head with `identity`.
    pub fn sign(&self, identity: &Identity) -> VaultResult<Vec<u8>> {
        let body = to_dag_cbor(self)?;
        let sig = identity.sign(&head_message(&body)).to_vec();
        Ok(to_dag_cbor(&SignedHead { body, sig })?)
    }

    /// Decodes a signed head stored under writer name `writer` and verifies its signature
    /// against the recipient it carries. Does not check who that recipient is.
    pub fn decode_verified(writer: &str, bytes: &[u8]) -> VaultResult<(Self, Recipient)> {
        let bad = |detail: String| VaultError::BadHead {
            writer: writer.to_string(),
            detail,
        };
        let signed: SignedHead = from_dag_cbor(bytes).map_err(|e| bad(e.to_string()))?;
        let body: HeadBody = from_dag_cbor(&signed.body).map_err(|e| bad(e.to_string()))?;
        if body.v != FORMAT_VERSION {
            return Err(bad(format!("unsupported head format version {}", body.v)));
        }
        if writer_name(WriterId(body.writer)) != writer {
            return Err(bad("the writer id inside does not match its name".into()));
        }
        let recipient: Recipient = body
            .recipient
            .parse()
            .map_err(|_| bad("the recipient is not valid".into()))?;
        let sig: &[u8; SIGNATURE_LEN] =
            signed
                .sig
                .as_slice()
                .try_into()
                .map_err(|_| VaultError::BadHeadSignature {
                    writer: writer.to_string(),
                })?;
        if !recipient.verify(&head_message(&signed.body), sig) {
            return Err(VaultError::BadHeadSignature {
                writer: writer.to_string(),
            });
        }
        Ok((body, recipient))
    }
}

/// Decodes and verifies a signed head (for fuzzing and tools): `Ok` only for a well-formed head
/// with a valid signature by the recipient it carries.
pub fn decode_head(writer: &str, bytes: &[u8]) -> VaultResult<HeadBody> {
    HeadBody::decode_verified(writer, bytes).map(|(body, _)| body)
}

/// Decodes a manifest plaintext (for fuzzing and tools); `Ok(())` when it is well formed.
pub fn check_manifest(bytes: &[u8]) -> VaultResult<()> {
    Manifest::decode(bytes).map(|_| ())
}

/// Decodes an index value and a tags plaintext (for fuzzing and tools); `Ok(())` when the index
/// value is well formed (the tags result is ignored: both decoders just must not panic).
pub fn check_index_value(bytes: &[u8]) -> VaultResult<()> {
    let _ = crate::block::from_dag_cbor::<BTreeMap<String, String>>(bytes);
    IndexValue::decode(bytes).map(|_| ())
}

impl Manifest {
    pub(crate) fn decode(bytes: &[u8]) -> VaultResult<Self> {
        let m: Manifest = from_dag_cbor(bytes)?;
        if m.v != FORMAT_VERSION {
            return Err(VaultError::Block(crate::block::BlockError::Decode(
                format!("unsupported manifest version {}", m.v),
            )));
        }
        Ok(m)
    }
}
