//! Byte formats of sharing: capabilities, epoch key derivation, view heads, keyring chunks,
//! inbox and view names (`docs/FORMAT.md` §9).

use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteArray;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::{ShareError, ShareResult};
use crate::block::{Cid, from_dag_cbor, to_dag_cbor};
use crate::index::IndexKey;
use crate::keys::{Identity, Recipient, SIGNATURE_LEN};

/// Format version of capabilities, view heads, keyring chunks and share records this build
/// writes; version 1 is read too.
pub(crate) const SHARE_VERSION: u8 = 2;

/// Whether `v` is a share format version this build reads.
pub(crate) fn readable(v: u8) -> bool {
    v == 1 || v == SHARE_VERSION
}
const CAPABILITY_CONTEXT: &[u8] = b"coffer/v1/share-capability\0";
const VIEW_CONTEXT: &[u8] = b"coffer/vault/v1/view\0";
const INBOX_CONTEXT: &str = "coffer v1 inbox";
const EPOCH_SALT: &[u8] = b"coffer/vault/v1/epoch";

/// A share's id: 16 random bytes, shown as 32 lowercase hex characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShareId(pub [u8; 16]);

impl std::fmt::Display for ShareId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&data_encoding::HEXLOWER.encode(&self.0))
    }
}

impl std::str::FromStr for ShareId {
    type Err = ShareError;
    fn from_str(s: &str) -> ShareResult<Self> {
        let bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(s.as_bytes())
            .map_err(|_| ShareError::Invalid(format!("{s:?} is not a share id (32 hex digits)")))?;
        let id: [u8; 16] = bytes
            .try_into()
            .map_err(|_| ShareError::Invalid(format!("{s:?} is not a share id (32 hex digits)")))?;
        Ok(Self(id))
    }
}

/// What a share covers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// One key: its current version and every version written while the share is live.
    Object(Vec<u8>),
    /// Every key starting with these bytes (empty: the whole vault).
    Prefix(Vec<u8>),
    /// One version of one key (its version id), nothing else.
    Version {
        /// The key.
        key: Vec<u8>,
        /// The version id (the manifest's CID, text form).
        version: String,
    },
}

impl Scope {
    /// Whether `key` lies inside the scope.
    pub fn contains(&self, key: &[u8]) -> bool {
        match self {
            Scope::Object(k) | Scope::Version { key: k, .. } => k.as_slice() == key,
            Scope::Prefix(p) => key.starts_with(p),
        }
    }

    /// The smallest prefix of every key inside (for listings).
    pub fn prefix(&self) -> &[u8] {
        match self {
            Scope::Object(k) | Scope::Version { key: k, .. } => k,
            Scope::Prefix(p) => p,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Object(k) => write!(f, "object {}", String::from_utf8_lossy(k)),
            Scope::Prefix(p) => write!(f, "prefix {}", String::from_utf8_lossy(p)),
            Scope::Version { key, version } => {
                write!(f, "version {version} of {}", String::from_utf8_lossy(key))
            }
        }
    }
}

/// DAG-CBOR form of a scope: `{kind: "object"|"prefix"|"version", key: bytes, version?: CID}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScopeWire {
    pub kind: String,
    #[serde(with = "serde_bytes")]
    pub key: Vec<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Cid>,
}

impl ScopeWire {
    pub(crate) fn from_scope(scope: &Scope) -> ShareResult<Self> {
        Ok(match scope {
            Scope::Object(k) => Self {
                kind: "object".into(),
                key: k.clone(),
                version: None,
            },
            Scope::Prefix(p) => Self {
                kind: "prefix".into(),
                key: p.clone(),
                version: None,
            },
            Scope::Version { key, version } => Self {
                kind: "version".into(),
                key: key.clone(),
                version: Some(version.parse().map_err(|_| {
                    ShareError::Invalid(format!("{version:?} is not a version id"))
                })?),
            },
        })
    }

    /// Whether this is a version scope (no epochs, no view).
    pub(crate) fn is_version(&self) -> bool {
        self.kind == "version"
    }

    pub(crate) fn to_scope(&self) -> Scope {
        match (self.kind.as_str(), &self.version) {
            ("object", _) => Scope::Object(self.key.clone()),
            ("version", Some(v)) => Scope::Version {
                key: self.key.clone(),
                version: v.to_string(),
            },
            _ => Scope::Prefix(self.key.clone()),
        }
    }

    fn check(&self) -> ShareResult<()> {
        match (self.kind.as_str(), &self.version) {
            ("object", None) | ("prefix", None) | ("version", Some(_)) => Ok(()),
            _ => Err(ShareError::Malformed(format!(
                "unknown scope kind {:?}",
                self.kind
            ))),
        }
    }
}

/// The keys a capability carries: an epoch secret (object and prefix shares) or a version's
/// manifest and its two file keys (version shares).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeysWire {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<ByteArray<32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<Cid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mk: Option<ByteArray<32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dk: Option<ByteArray<32>>,
}

impl Drop for KeysWire {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for k in [&mut self.epoch, &mut self.mk, &mut self.dk]
            .into_iter()
            .flatten()
        {
            k.as_mut_slice().zeroize();
        }
    }
}

/// The signed body of a capability.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CapabilityBody {
    pub v: u8,
    #[serde(with = "serde_bytes")]
    pub id: [u8; 16],
    /// Grant number (1, then +1 per re-grant after a rotation).
    pub n: u64,
    pub issuer: String,
    pub audience: String,
    pub vault: String,
    pub scope: ScopeWire,
    pub rights: Vec<String>,
    pub nbf: u64,
    pub exp: u64,
    pub iat: u64,
    pub keys: KeysWire,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Signed {
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    #[serde(with = "serde_bytes")]
    sig: Vec<u8>,
}

fn message(context: &[u8], body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(context.len() + body.len());
    m.extend_from_slice(context);
    m.extend_from_slice(body);
    m
}

fn sign(context: &[u8], identity: &Identity, body: Vec<u8>) -> ShareResult<Vec<u8>> {
    let sig = identity.sign(&message(context, &body)).to_vec();
    Ok(to_dag_cbor(&Signed { body, sig })?)
}

/// Decodes `{body, sig}` and verifies `sig` with `signer`; returns the body bytes.
fn verify(context: &[u8], signer: &Recipient, bytes: &[u8]) -> ShareResult<Vec<u8>> {
    let signed: Signed = from_dag_cbor(bytes)?;
    let sig: &[u8; SIGNATURE_LEN] = signed
        .sig
        .as_slice()
        .try_into()
        .map_err(|_| ShareError::Forged("the signature is not 64 bytes".into()))?;
    if !signer.verify(&message(context, &signed.body), sig) {
        return Err(ShareError::Forged("the signature does not verify".into()));
    }
    Ok(signed.body)
}

pub(crate) fn sign_capability(issuer: &Identity, body: &CapabilityBody) -> ShareResult<Vec<u8>> {
    sign(CAPABILITY_CONTEXT, issuer, to_dag_cbor(body)?)
}

/// Decodes a signed capability and verifies it against the issuer it names.
pub(crate) fn decode_signed_capability(bytes: &[u8]) -> ShareResult<(CapabilityBody, Recipient)> {
    let signed: Signed = from_dag_cbor(bytes)?;
    let body: CapabilityBody = from_dag_cbor(&signed.body)?;
    if !readable(body.v) {
        return Err(ShareError::Malformed(format!(
            "unsupported capability version {}",
            body.v
        )));
    }
    let issuer: Recipient = body
        .issuer
        .parse()
        .map_err(|_| ShareError::Malformed("the issuer is not a recipient".into()))?;
    verify(CAPABILITY_CONTEXT, &issuer, bytes)?;
    body.scope.check()?;
    let write = match body.rights.as_slice() {
        [r] if r == "read" => false,
        [r, w] if r == "read" && w == "write" => true,
        _ => {
            return Err(ShareError::Malformed(format!(
                "unsupported rights {:?} (this version grants [\"read\"] or [\"read\", \"write\"])",
                body.rights
            )));
        }
    };
    if write && body.scope.is_version() {
        return Err(ShareError::Malformed(
            "a version share cannot grant write (a version is immutable)".into(),
        ));
    }
    if body.exp <= body.nbf {
        return Err(ShareError::Malformed(
            "the capability expires before it starts".into(),
        ));
    }
    let k = &body.keys;
    let keys_fit = match body.scope.kind.as_str() {
        "version" => k.epoch.is_none() && k.manifest.is_some() && k.mk.is_some() && k.dk.is_some(),
        _ => k.epoch.is_some() && k.manifest.is_none() && k.mk.is_none() && k.dk.is_none(),
    };
    if !keys_fit {
        return Err(ShareError::Malformed(
            "the keys do not fit the scope kind".into(),
        ));
    }
    if let Some(m) = &k.manifest
        && body.scope.version.as_ref() != Some(m)
    {
        return Err(ShareError::Malformed(
            "the version share's manifest is not the version in its scope".into(),
        ));
    }
    Ok((body, issuer))
}

/// Keys derived from an epoch secret (32 random bytes per scope epoch).
pub(crate) struct EpochKeys {
    /// Names the epoch's views in the head store.
    pub id: [u8; 16],
    /// Keyring chunks are sealed to this identity's recipient.
    pub identity: Identity,
    /// Encrypts the epoch's view index.
    pub index_key: IndexKey,
    /// Encrypts co-writer heads of the epoch (read-write shares, FORMAT §9.1).
    pub head_key: Zeroizing<[u8; 32]>,
}

impl EpochKeys {
    /// `prk = HKDF-Extract("coffer/vault/v1/epoch", secret)`, then `id`, `identity` seed and
    /// `index-key` as HKDF-Expand with info `coffer/vault/v1/epoch/<name>`.
    pub(crate) fn derive(secret: &[u8; 32]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(EPOCH_SALT), secret);
        let mut id = [0u8; 16];
        let mut seed = Zeroizing::new([0u8; 32]);
        let mut index = Zeroizing::new([0u8; 32]);
        let mut head_key = Zeroizing::new([0u8; 32]);
        for (info, out) in [
            (&b"coffer/vault/v1/epoch/id"[..], &mut id[..]),
            (b"coffer/vault/v1/epoch/identity", &mut seed[..]),
            (b"coffer/vault/v1/epoch/index-key", &mut index[..]),
            (b"coffer/vault/v2/epoch/head-key", &mut head_key[..]),
        ] {
            hk.expand(info, out)
                .expect("short outputs are valid for HKDF-SHA256");
        }
        Self {
            id,
            identity: Identity::from_seed(&seed),
            index_key: IndexKey::from_bytes(*index),
            head_key,
        }
    }
}

/// Head-store namespace of a recipient's inbox: `_coffer-inbox-` and the first 16 bytes (hex) of
/// `BLAKE3-derive_key("coffer v1 inbox", recipient (64 bytes))`.
pub fn inbox_name(recipient: &Recipient) -> String {
    let mut h = blake3::Hasher::new_derive_key(INBOX_CONTEXT);
    h.update(&recipient.to_bytes());
    format!(
        "_coffer-inbox-{}",
        data_encoding::HEXLOWER.encode(&h.finalize().as_bytes()[..16])
    )
}

/// Head-store namespace of an epoch's views: `_coffer-view-<hex epoch id>`.
pub(crate) fn view_name(epoch_id: &[u8; 16]) -> String {
    format!("_coffer-view-{}", data_encoding::HEXLOWER.encode(epoch_id))
}

/// One device's view of a scope epoch, signed by the owner.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ViewBody {
    pub v: u8,
    pub vault: String,
    #[serde(with = "serde_bytes")]
    pub epoch: [u8; 16],
    #[serde(with = "serde_bytes")]
    pub writer: [u8; 16],
    /// The view's index root; `None` once the epoch is retired (revoked or rotated away).
    pub root: Option<Cid>,
    /// The vault index root this view reflects (the owner's bookkeeping).
    pub src: Option<Cid>,
    /// Keyring chunks: sealed to the epoch identity, signed by the owner. Full chunks first.
    pub keys: Vec<Cid>,
    /// How many of the last `keys` are not full (the owner merges them when they are many).
    pub tail: u64,
    pub time: u64,
    /// Views this device wrote of the epoch (v2; 0 in v1 views): a reader refuses an older one
    /// than it saw.
    #[serde(default)]
    pub seq: u64,
    /// Who may write in the scope besides the owner (v2, co-writing): recipient, key prefix and
    /// expiry of each live co-writer of the epoch (FORMAT §9.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writers: Vec<ViewWriter>,
}

/// A co-writer of a shared scope, as a view head lists it (format v2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ViewWriter {
    /// The writer's recipient (text form).
    pub r: String,
    /// The key prefix it may write under.
    #[serde(with = "serde_bytes")]
    pub p: Vec<u8>,
    /// Until when (exclusive, ms since the Unix epoch).
    pub exp: u64,
}

impl ViewBody {
    pub(crate) fn sign(&self, owner: &Identity) -> ShareResult<Vec<u8>> {
        sign(VIEW_CONTEXT, owner, to_dag_cbor(self)?)
    }

    pub(crate) fn decode_verified(owner: &Recipient, bytes: &[u8]) -> ShareResult<Self> {
        let body: ViewBody = from_dag_cbor(&verify(VIEW_CONTEXT, owner, bytes)?)?;
        if !readable(body.v) {
            return Err(ShareError::Malformed(format!(
                "unsupported view version {}",
                body.v
            )));
        }
        Ok(body)
    }
}

/// One keyring entry: a block's CID and its file key.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyringEntry {
    pub c: Cid,
    pub k: ByteArray<32>,
}

impl Drop for KeyringEntry {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self.k.as_mut_slice());
    }
}

/// A keyring chunk (plaintext; stored sealed to the epoch identity, signed by the owner).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyringChunk {
    pub v: u8,
    pub keys: Vec<KeyringEntry>,
}

/// Decodes a capability, a view head (with `owner`) and a keyring chunk: for fuzzing. `Ok` only
/// when the bytes decode and verify.
#[doc(hidden)]
pub fn fuzz_decoders(owner: &Recipient, bytes: &[u8]) -> bool {
    let a = decode_signed_capability(bytes).is_ok();
    let b = ViewBody::decode_verified(owner, bytes).is_ok();
    let c = from_dag_cbor::<KeyringChunk>(bytes).is_ok();
    a || b || c
}
