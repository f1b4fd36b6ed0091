//! The vault's byte formats: object manifests, index values, tags blocks, and the key
//! derivation (writer heads are in `heads.rs`). Specified field by field in `docs/FORMAT.md §8`.

use std::collections::BTreeMap;

use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::error::{VaultError, VaultResult};
use crate::block::{CODEC_RAW, Cid, cid_from_blake3, from_dag_cbor, to_dag_cbor};
use crate::index::{IndexKey, WriterId};
use crate::keys::Identity;

/// Format version of manifests, tags blocks and heads written by this build (1 is read too).
pub const FORMAT_VERSION: u8 = 2;

/// A sealed object of at most this many bytes is stored inside its manifest (`inline`), not as a
/// block of its own: one block per small object, one read per small get. 16 KiB is the BLAKE3
/// group size, the size up to which a sealed object has no outboard (`docs/FORMAT.md §8`).
pub const INLINE_MAX: u64 = crate::verify::GROUP_SIZE;

/// HKDF-SHA256 `info` of the index key, derived from the vault root key.
const INDEX_KEY_INFO: &[u8] = b"coffer/vault/v1/index-key";
/// HKDF-SHA256 `info` of the upload key (keys the upload seeds of streaming puts).
const UPLOAD_KEY_INFO: &[u8] = b"coffer/vault/v1/upload-key";
/// HKDF-SHA256 `info` of the share registry key (keys the names of share records).
const REGISTRY_KEY_INFO: &[u8] = b"coffer/vault/v1/share-registry";
/// HKDF-SHA256 `info` of the object key (wraps the file keys of the vault's own blocks, v2).
const OBJECT_KEY_INFO: &[u8] = b"coffer/vault/v2/object-key";
/// HKDF-SHA256 `info` of the head key (encrypts v2 head bodies).
const HEAD_KEY_INFO: &[u8] = b"coffer/vault/v2/head-key";
/// HKDF-SHA256 `info` of the writer-id key (keys v2 writer ids).
const WRITER_KEY_INFO: &[u8] = b"coffer/vault/v2/writer-id";
/// BLAKE3 `derive_key` context of v1 writer ids.
const WRITER_ID_CONTEXT: &str = "coffer vault v1 writer id";

/// The vault root key: 32 random bytes, stored sealed to the owner. Zeroized on drop. The flag
/// says whether its key block is sealed to the owner's post-quantum (X-Wing) recipient: such a
/// vault seals everything else it wraps to an identity (share keyrings) with X-Wing too.
pub(crate) struct RootKey(pub(crate) Zeroizing<[u8; 32]>, pub(crate) bool);

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
        self.expand(UPLOAD_KEY_INFO)
    }

    /// The object key (v2): wraps the file keys of every block the vault seals for itself.
    pub(crate) fn object_key(&self) -> crate::seal::WrapKey {
        crate::seal::WrapKey::from_bytes(*self.expand(OBJECT_KEY_INFO))
    }

    /// The head key (v2): AES-256-GCM key of head bodies.
    pub(crate) fn head_key(&self) -> Zeroizing<[u8; 32]> {
        self.expand(HEAD_KEY_INFO)
    }

    /// The writer-id key (v2): keys writer ids, so device names cannot be confirmed by the store.
    pub(crate) fn writer_key(&self) -> Zeroizing<[u8; 32]> {
        self.expand(WRITER_KEY_INFO)
    }

    fn expand(&self, info: &[u8]) -> Zeroizing<[u8; 32]> {
        let hk = Hkdf::<Sha256>::new(None, self.0.as_ref());
        let mut okm = Zeroizing::new([0u8; 32]);
        hk.expand(info, okm.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        okm
    }
}

/// The v2 writer id of `device`: the first 16 bytes of
/// `BLAKE3-keyed(writer-id key, owner recipient (64 bytes) || device name)`.
pub(crate) fn writer_id_v2(key: &[u8; 32], identity: &Identity, device: &str) -> WriterId {
    let mut hasher = blake3::Hasher::new_keyed(key);
    hasher.update(&identity.recipient().to_bytes());
    hasher.update(device.as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    WriterId(id)
}

/// The v1 writer id of a device: the first 16 bytes of
/// `BLAKE3-derive_key("coffer vault v1 writer id", owner recipient (64 bytes) || device name)`.
/// A device that wrote a v1 head continues from it; new heads use a keyed id (format v2).
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
    /// Zero bytes that bring the encoded manifest to its Padmé length (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad: Option<serde_bytes::ByteBuf>,
    /// The sealed object itself (v2, at most [`INLINE_MAX`] bytes): exactly the bytes of block
    /// `data`, which is then usually not stored. Checked like fetched bytes
    /// ([`Manifest::check_sealed`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline: Option<serde_bytes::ByteBuf>,
}

/// The value of an index entry: DAG-CBOR `{m: manifest CID, n: plaintext length, c?: [CID],
/// t?: CID, e?: text, p?: [CID], k?: bytes, d?: uint}` (`docs/FORMAT.md §8`).
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
    /// Cut points (retention): manifests at which a walk of this key's versions stops, because
    /// they and every version behind them expired (sorted, no duplicates; absent when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub p: Vec<Cid>,
    /// Graveyard values only (reserved keys, see `reserved.rs`): the deleted object key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<serde_bytes::ByteBuf>,
    /// Graveyard values only: when the key was deleted (ms since the Unix epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub d: Option<u64>,
}

impl IndexValue {
    /// A value pointing at manifest `m` of a `n`-byte object, with no history links.
    pub(crate) fn new(m: Cid, n: u64) -> Self {
        Self {
            m,
            n,
            c: Vec::new(),
            t: None,
            e: None,
            p: Vec::new(),
            k: None,
            d: None,
        }
    }
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

/// DAG-CBOR of `value` with its `pad` field set so the encoding is (about) its Padmé length.
pub(crate) fn encode_padded<T: Serialize>(
    value: &mut T,
    pad: impl Fn(&mut T) -> &mut Option<serde_bytes::ByteBuf>,
) -> VaultResult<Vec<u8>> {
    *pad(value) = Some(serde_bytes::ByteBuf::new());
    let base = to_dag_cbor(&*value)?.len();
    *pad(value) = Some(serde_bytes::ByteBuf::from(vec![
        0u8;
        crate::pad::pad_bytes(base)
    ]));
    Ok(to_dag_cbor(&*value)?)
}

/// A v2 tags block: `{v: 2, tags: {text: text}, pad: bytes}` (v1's was the bare map).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagsBlock {
    v: u8,
    tags: BTreeMap<String, String>,
    pad: Option<serde_bytes::ByteBuf>,
}

/// Encodes a tags block (v2, padded).
pub(crate) fn encode_tags(tags: &BTreeMap<String, String>) -> VaultResult<Vec<u8>> {
    let mut block = TagsBlock {
        v: FORMAT_VERSION,
        tags: tags.clone(),
        pad: None,
    };
    encode_padded(&mut block, |b| &mut b.pad)
}

/// Decodes a tags block of either version.
pub(crate) fn decode_tags(bytes: &[u8]) -> VaultResult<BTreeMap<String, String>> {
    if let Ok(block) = from_dag_cbor::<TagsBlock>(bytes)
        && block.v == FORMAT_VERSION
    {
        return Ok(block.tags);
    }
    Ok(from_dag_cbor(bytes)?)
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
        let bad = |what: String| Err(VaultError::Block(crate::block::BlockError::Decode(what)));
        if m.v != 1 && m.v != FORMAT_VERSION {
            return bad(format!("unsupported manifest version {}", m.v));
        }
        if let Some(inline) = &m.inline {
            if m.v == 1 {
                return bad("a v1 manifest carries no inline object".into());
            }
            if m.outboard.is_some() {
                return bad("an inline object has no outboard".into());
            }
            if inline.len() as u64 != m.sealed_len || m.sealed_len > INLINE_MAX {
                return bad("the inline object's length is not the sealed length".into());
            }
            if m.data != cid_from_blake3(CODEC_RAW, &m.blake3) {
                return bad("the inline object's CID is not its BLAKE3 root".into());
            }
        }
        Ok(m)
    }

    /// The sealed object's bytes when the manifest carries them (`inline`), unchecked.
    pub(crate) fn inline_bytes(&self) -> Option<bytes::Bytes> {
        self.inline
            .as_ref()
            .map(|b| bytes::Bytes::copy_from_slice(b.as_slice()))
    }

    /// Whether `sealed` (carried inline or fetched from block `data`) is the manifest's sealed
    /// object: its length is `sealed_len` and its BLAKE3 root `blake3`. Every reader of the whole
    /// object checks this before opening it.
    pub(crate) fn check_sealed(&self, sealed: &[u8]) -> bool {
        // `blake3::Hash` compares in constant time.
        sealed.len() as u64 == self.sealed_len
            && blake3::hash(sealed) == blake3::Hash::from_bytes(self.blake3)
    }

    /// Encodes as v2, padded to its Padmé length.
    pub(crate) fn encode(&self) -> VaultResult<Vec<u8>> {
        let mut m = Manifest {
            v: FORMAT_VERSION,
            ..self.clone()
        };
        encode_padded(&mut m, |m| &mut m.pad)
    }
}
