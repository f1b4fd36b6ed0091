//! Co-writing (read-write shares, `docs/FORMAT.md` §9.1): the co-writer head, and the checks
//! every device (the owner's and the recipients') applies before it merges a co-writer's entries.
//!
//! A co-writer keeps an index of its own entries only, encrypted with the epoch's index key, and
//! publishes it in a head of the epoch's view namespace named `w-<hex co-writer id>`, signed by
//! its identity and encrypted under the epoch's head key with the epoch id and name as associated
//! data. An entry is merged only if the head verifies, its signer is an allowed writer of the
//! epoch (not expired by the *reader's* clock), the entry carries that writer's id, its key lies
//! under the writer's prefix and the share's scope (not a reserved key), and its manifest is
//! signed by that writer and names that key.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteArray;

use super::format::EpochKeys;
use super::{Scope, ShareError, ShareResult};
use crate::block::{Cid, from_dag_cbor, to_dag_cbor};
use crate::index::{Entry, IndexConfig, ProllyTree, WriterId};
use crate::keys::{Identity, Recipient, SIGNATURE_LEN};
use crate::seal::{self, Unlock};
use crate::store::{BlockStore, HeadStore};
use crate::vault::format::{IndexValue, Manifest};

/// Signature context and associated-data prefix of co-writer heads.
const WRITER_HEAD_CONTEXT: &[u8] = b"coffer/v2/cowriter-head\0";
const COWRITER_ID_CONTEXT: &str = "coffer v2 co-writer id";
/// Version of co-writer heads this build writes and reads.
const WRITER_HEAD_VERSION: u8 = 2;
/// Head-store names of co-writer heads start with this (owner views are 32 hex digits).
pub(crate) const WRITER_HEAD_PREFIX: &str = "w-";

/// The co-writer id of `recipient`: the first 16 bytes of
/// `BLAKE3-derive_key("coffer v2 co-writer id", R)` (`R` the recipient's 64 bytes). Index entries
/// a co-writer writes carry it as their writer.
pub fn cowriter_id(recipient: &Recipient) -> WriterId {
    let mut h = blake3::Hasher::new_derive_key(COWRITER_ID_CONTEXT);
    h.update(&recipient.to_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&h.finalize().as_bytes()[..16]);
    WriterId(id)
}

/// The head-store name of a co-writer's head in an epoch's view namespace: `w-<hex id>`.
pub(crate) fn writer_head_name(id: &WriterId) -> String {
    format!(
        "{WRITER_HEAD_PREFIX}{}",
        data_encoding::HEXLOWER.encode(&id.0)
    )
}

/// The signed body of a co-writer head.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WriterHeadBody {
    pub v: u8,
    pub vault: String,
    #[serde(with = "serde_bytes")]
    pub epoch: [u8; 16],
    /// The share (capability id) the writer writes under.
    #[serde(with = "serde_bytes")]
    pub share: [u8; 16],
    /// The co-writer's recipient (text form); the signature must verify with it and its
    /// co-writer id must be the head's name.
    pub writer: String,
    /// The root of the co-writer's own entries (an index under the epoch's index key).
    pub root: Cid,
    /// Heads this co-writer wrote in this epoch, 1 for the first.
    pub seq: u64,
    /// The co-writer's packed HLC when it wrote the head (its own claim; nothing trusts it).
    pub time: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Signed {
    #[serde(with = "serde_bytes")]
    body: Vec<u8>,
    #[serde(with = "serde_bytes")]
    sig: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    v: u8,
    n: ByteArray<12>,
    #[serde(with = "serde_bytes")]
    c: Vec<u8>,
}

fn cipher(key: &[u8; 32]) -> aes_gcm::Aes256Gcm {
    use aes_gcm::KeyInit as _;
    aes_gcm::Aes256Gcm::new(key.into())
}

fn aad(epoch: &[u8; 16], name: &str) -> Vec<u8> {
    let mut a = WRITER_HEAD_CONTEXT.to_vec();
    a.extend_from_slice(epoch);
    a.extend_from_slice(name.as_bytes());
    a
}

fn forged(why: impl Into<String>) -> ShareError {
    ShareError::ForgedWriterHead(why.into())
}

impl WriterHeadBody {
    /// Signs the body with `identity` and encrypts it under the epoch's head key for its name.
    pub(crate) fn seal(&self, identity: &Identity, keys: &EpochKeys) -> ShareResult<Vec<u8>> {
        let mut n = [0u8; 12];
        crate::keys::fill_random(&mut n);
        self.seal_with_nonce(identity, keys, n)
    }

    /// [`WriterHeadBody::seal`] with a given nonce (test vectors).
    pub(crate) fn seal_with_nonce(
        &self,
        identity: &Identity,
        keys: &EpochKeys,
        n: [u8; 12],
    ) -> ShareResult<Vec<u8>> {
        use aes_gcm::aead::{Aead as _, Payload};
        let body = to_dag_cbor(self)?;
        let mut msg = WRITER_HEAD_CONTEXT.to_vec();
        msg.extend_from_slice(&body);
        let sig = identity.sign(&msg).to_vec();
        let pt = zeroize::Zeroizing::new(to_dag_cbor(&Signed { body, sig })?);
        let name = writer_head_name(&cowriter_id(identity.recipient()));
        let c = cipher(&keys.head_key)
            .encrypt(
                (&n).into(),
                Payload {
                    msg: &pt,
                    aad: &aad(&keys.id, &name),
                },
            )
            .map_err(|_| ShareError::Invalid("head encryption failed".into()))?;
        Ok(to_dag_cbor(&Stored {
            v: WRITER_HEAD_VERSION,
            n: ByteArray::new(n),
            c,
        })?)
    }

    /// Decrypts and verifies a co-writer head stored under `name` in the epoch of `keys`:
    /// [`ShareError::ForgedWriterHead`] unless it decrypts under that name, is signed by the
    /// recipient it names, and that recipient's co-writer id is the name.
    pub(crate) fn open(
        keys: &EpochKeys,
        name: &str,
        bytes: &[u8],
    ) -> ShareResult<(Self, Recipient)> {
        use aes_gcm::aead::{Aead as _, Payload};
        let stored: Stored = from_dag_cbor(bytes).map_err(|e| forged(e.to_string()))?;
        if stored.v != WRITER_HEAD_VERSION {
            return Err(forged(format!(
                "unsupported co-writer head version {}",
                stored.v
            )));
        }
        let pt = zeroize::Zeroizing::new(
            cipher(&keys.head_key)
                .decrypt(
                    (&*stored.n).into(),
                    Payload {
                        msg: &stored.c,
                        aad: &aad(&keys.id, name),
                    },
                )
                .map_err(|_| {
                    forged("it does not decrypt with the epoch's head key under this name (moved or foreign)")
                })?,
        );
        let signed: Signed = from_dag_cbor(&pt).map_err(|e| forged(e.to_string()))?;
        let body: WriterHeadBody =
            from_dag_cbor(&signed.body).map_err(|e| forged(e.to_string()))?;
        if body.v != WRITER_HEAD_VERSION {
            return Err(forged(format!(
                "unsupported co-writer head version {}",
                body.v
            )));
        }
        let signer: Recipient = body
            .writer
            .parse()
            .map_err(|_| forged("the writer is not a recipient"))?;
        if writer_head_name(&cowriter_id(&signer)) != name {
            return Err(forged("the writer inside does not match the head's name"));
        }
        let sig: &[u8; SIGNATURE_LEN] = signed
            .sig
            .as_slice()
            .try_into()
            .map_err(|_| forged("the signature is not 64 bytes"))?;
        let mut msg = WRITER_HEAD_CONTEXT.to_vec();
        msg.extend_from_slice(&signed.body);
        if !signer.verify(&msg, sig) {
            return Err(forged("its signature does not verify"));
        }
        if body.epoch != keys.id {
            return Err(forged("it names another epoch"));
        }
        Ok((body, signer))
    }
}

/// A co-writer the epoch allows: who, under which prefix, until when (exclusive, ms).
#[derive(Clone, Debug)]
pub(crate) struct AllowedWriter {
    pub recipient: Recipient,
    pub prefix: Vec<u8>,
    pub exp: u64,
}

/// A co-writer head that verified, with its entries that passed every check.
pub(crate) struct AcceptedHead {
    /// Its head-store name.
    pub name: String,
    pub seq: u64,
    pub time: u64,
    /// The root of its entries.
    pub root: Cid,
    /// Its entries that passed the checks, by key (empty when `known`, see
    /// [`read_writer_heads`]).
    pub entries: Vec<(Vec<u8>, Entry)>,
    /// Whether its entries were not read because the caller had merged this seq and root.
    pub known: bool,
    /// Whether every entry passed (nothing of it was refused).
    pub clean: bool,
}

/// Why a co-writer head, or one entry of it, was not merged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The head-store name of the co-writer head.
    pub head: String,
    /// The entry's key, when one entry was refused (the rest of the head may be merged).
    pub key: Option<Vec<u8>>,
    /// Why.
    pub reason: String,
}

/// What reading an epoch's co-writer heads gave.
#[derive(Default)]
pub(crate) struct WriterHeads {
    pub accepted: Vec<AcceptedHead>,
    pub refused: Vec<Refusal>,
    /// The names of every co-writer head the store served (accepted or not).
    pub served: Vec<String>,
}

/// Reads every co-writer head of the epoch of `keys` and keeps, of those that verify and whose
/// writer is in `allowed` and not expired at `now`, the entries that pass the checks (module
/// doc). Nothing is refused silently: every refusal is in the result.
///
/// `known(name)` gives the seq and root of a head whose entries the caller has already merged
/// (all of them passed): such a head, served again at that seq and root, is checked as a head
/// (signature, vault, writer, expiry) but its entries are not read again (`known` is set). An
/// index is content-addressed, so the same root means the same entries.
pub(crate) async fn read_writer_heads<S: BlockStore + HeadStore + ?Sized>(
    store: &Arc<S>,
    keys: &EpochKeys,
    vault: &str,
    scope: &Scope,
    allowed: &[AllowedWriter],
    now: u64,
    known: impl Fn(&str) -> Option<(u64, Cid)>,
) -> ShareResult<WriterHeads> {
    let mut out = WriterHeads::default();
    let heads = store.read_heads(&super::view_name(&keys.id)).await?;
    for head in heads {
        if !head.writer.starts_with(WRITER_HEAD_PREFIX) {
            continue;
        }
        out.served.push(head.writer.clone());
        let refuse = |reason: String| Refusal {
            head: head.writer.clone(),
            key: None,
            reason,
        };
        let (body, signer) = match WriterHeadBody::open(keys, &head.writer, &head.bytes) {
            Ok(v) => v,
            Err(e) => {
                out.refused.push(refuse(e.to_string()));
                continue;
            }
        };
        if body.vault != vault {
            out.refused
                .push(refuse("a co-writer head of another vault".into()));
            continue;
        }
        let Some(w) = allowed.iter().find(|a| a.recipient.same_identity(&signer)) else {
            out.refused.push(refuse(
                "its writer is not (or no longer) allowed to write in this share".into(),
            ));
            continue;
        };
        if now >= w.exp {
            out.refused.push(refuse(format!(
                "its writer's right expired at {} ms",
                w.exp
            )));
            continue;
        }
        if known(&head.writer) == Some((body.seq, body.root)) {
            out.accepted.push(AcceptedHead {
                name: head.writer,
                seq: body.seq,
                time: body.time,
                root: body.root,
                entries: Vec::new(),
                known: true,
                clean: true,
            });
            continue;
        }
        // A head whose index does not read (missing or damaged nodes) is refused, not fatal: one
        // co-writer cannot lock everyone else out of the share.
        let refused_before = out.refused.len();
        let read = writer_entries(
            store,
            keys,
            scope,
            w,
            &signer,
            &body,
            &head.writer,
            &mut out,
        );
        let entries = match read.await {
            Ok(e) => e,
            Err(e) => {
                out.refused
                    .push(refuse(format!("its index does not read: {e}")));
                continue;
            }
        };
        let clean = out.refused.len() == refused_before;
        out.accepted.push(AcceptedHead {
            name: head.writer,
            seq: body.seq,
            time: body.time,
            root: body.root,
            entries,
            known: false,
            clean,
        });
    }
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
async fn writer_entries<S: BlockStore + HeadStore + ?Sized>(
    store: &Arc<S>,
    keys: &EpochKeys,
    scope: &Scope,
    w: &AllowedWriter,
    signer: &Recipient,
    body: &WriterHeadBody,
    name: &str,
    out: &mut WriterHeads,
) -> ShareResult<Vec<(Vec<u8>, Entry)>> {
    let id = cowriter_id(signer);
    let tree = ProllyTree::new(store.clone(), &keys.index_key, IndexConfig::default())?;
    let mut iter = tree.range(&body.root, None, None).await?;
    let mut entries = Vec::new();
    while let Some((key, entry)) = iter.next().await? {
        let reason = if entry.writer != id {
            Some("the entry claims another writer".to_string())
        } else if !key.starts_with(&w.prefix)
            || !scope.contains(&key)
            || crate::vault::reserved::is_reserved(&key)
        {
            Some("the key is outside the writer's scope".to_string())
        } else if let Some(v) = entry.value() {
            check_value(store, keys, signer, &key, v).await.err()
        } else {
            None
        };
        match reason {
            Some(reason) => out.refused.push(Refusal {
                head: name.to_string(),
                key: Some(key),
                reason,
            }),
            None => entries.push((key, entry)),
        }
    }
    Ok(entries)
}

/// A co-written value: a bare pointer at a manifest signed by the writer that names `key`.
async fn check_value<S: BlockStore + ?Sized>(
    store: &Arc<S>,
    keys: &EpochKeys,
    signer: &Recipient,
    key: &[u8],
    value: &[u8],
) -> Result<(), String> {
    let v = IndexValue::decode(value).map_err(|e| e.to_string())?;
    if !v.c.is_empty() || !v.p.is_empty() || v.t.is_some() || v.k.is_some() || v.d.is_some() {
        return Err("a co-written value may only name a manifest".into());
    }
    let m = open_cowritten_manifest(&**store, keys, &v.m)
        .await
        .map_err(|e| e.to_string())?;
    if !m.1.same_identity(signer) {
        return Err("its manifest is not signed by the writer".into());
    }
    if m.0.key != key {
        return Err("its manifest belongs to another key".into());
    }
    if m.0.plain_len != v.n {
        return Err("its length differs from the manifest's".into());
    }
    Ok(())
}

/// Opens a co-written manifest with the epoch identity's stanza; returns it and its signer.
pub(crate) async fn open_cowritten_manifest<S: BlockStore + ?Sized>(
    store: &S,
    keys: &EpochKeys,
    cid: &Cid,
) -> ShareResult<(Manifest, Recipient)> {
    let bytes = super::reader::fetch(store, cid).await?;
    let opened = seal::open_to_vec_with(Unlock::Identity(&keys.identity), &bytes)
        .map_err(|e| ShareError::corrupt(cid, e))?;
    let signer = opened
        .signer
        .ok_or_else(|| ShareError::corrupt(cid, "a co-written manifest must be signed"))?;
    let m = Manifest::decode(&opened.plaintext).map_err(|e| ShareError::corrupt(cid, e))?;
    Ok((m, signer))
}
