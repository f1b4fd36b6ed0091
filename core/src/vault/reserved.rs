//! Keys the vault keeps for itself in its own index (`docs/FORMAT.md §8`, "Reserved keys").
//!
//! They start with the byte `0xFF`, which no UTF-8 key contains and which user keys may not start
//! with ([`check_key`](super::objects::check_key) refuses them), so they sort after every user key
//! and listings stop before them:
//!
//! - `0xFF ‖ "gy/" ‖ BLAKE3(key)`: the **graveyard** of a deleted key: an index value whose `m`
//!   is the version that was current when the key was deleted, with its `c` and `p`, plus `k` (the
//!   key) and `d` (when it was deleted). [`Vault::versions`](super::Vault::versions) of a deleted
//!   key reads it; a new put of the key continues its history; a retention rule expires it.
//! - `0xFF ‖ "px/" ‖ BLAKE3(key)`: a **purge record** ([`PurgeValue`]): every version of the key
//!   that [`Vault::purge`](super::Vault::purge) took out of the history, so a collection does not
//!   keep them alive through a device that has not synced the purge yet. Never expired.
//!
//! The key is hashed so that a reserved key fits the index's 1,024-byte limit whatever the length
//! of the user key (the index is encrypted: the hash hides nothing the store could see).

use serde::{Deserialize, Serialize};

use super::error::{VaultError, VaultResult};
use crate::block::{Cid, from_dag_cbor, to_dag_cbor};

/// The first byte of every reserved key.
pub(crate) const RESERVED: u8 = 0xFF;
const GRAVE_TAG: &[u8] = b"gy/";
const PURGE_TAG: &[u8] = b"px/";

/// What an index key is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// An object key.
    User,
    /// A graveyard (`0xFF gy/ …`).
    Grave,
    /// A purge record (`0xFF px/ …`).
    Purge,
    /// Reserved, of a kind this build does not know (written by a newer coffer).
    Unknown,
}

/// Classifies an index key.
pub(crate) fn classify(key: &[u8]) -> KeyKind {
    match key.split_first() {
        Some((&RESERVED, rest)) if rest.len() == 35 && rest.starts_with(GRAVE_TAG) => {
            KeyKind::Grave
        }
        Some((&RESERVED, rest)) if rest.len() == 35 && rest.starts_with(PURGE_TAG) => {
            KeyKind::Purge
        }
        Some((&RESERVED, _)) => KeyKind::Unknown,
        _ => KeyKind::User,
    }
}

/// Whether `key` is reserved (starts with `0xFF`).
pub(crate) fn is_reserved(key: &[u8]) -> bool {
    key.first() == Some(&RESERVED)
}

fn reserved(tag: &[u8], key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + tag.len() + 32);
    out.push(RESERVED);
    out.extend_from_slice(tag);
    out.extend_from_slice(blake3::hash(key).as_bytes());
    out
}

/// The graveyard key of object key `key`.
pub(crate) fn grave_key(key: &[u8]) -> Vec<u8> {
    reserved(GRAVE_TAG, key)
}

/// The purge-record key of object key `key`.
pub(crate) fn purge_key(key: &[u8]) -> Vec<u8> {
    reserved(PURGE_TAG, key)
}

/// A purge record: DAG-CBOR `{k: bytes, x: [CID], d: uint}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PurgeValue {
    /// The object key.
    #[serde(with = "serde_bytes")]
    pub k: Vec<u8>,
    /// Every manifest taken out of the key's history (sorted, no duplicates).
    pub x: Vec<Cid>,
    /// When the (latest) purge happened, ms since the Unix epoch.
    pub d: u64,
}

impl PurgeValue {
    pub(crate) fn encode(&self) -> VaultResult<Vec<u8>> {
        Ok(to_dag_cbor(self)?)
    }

    pub(crate) fn decode(bytes: &[u8]) -> VaultResult<Self> {
        from_dag_cbor(bytes).map_err(|e| VaultError::Corrupt {
            cid: "(purge record)".into(),
            detail: e.to_string(),
        })
    }
}

/// Sorted union of two CID lists.
pub(crate) fn union(a: &[Cid], b: &[Cid]) -> Vec<Cid> {
    let mut out: Vec<Cid> = a.iter().chain(b.iter()).copied().collect();
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_keys_are_classified_and_sort_last() {
        let g = grave_key(b"photos/cat.jpg");
        let p = purge_key(&[0xFFu8; 1024]);
        assert_eq!(classify(&g), KeyKind::Grave);
        assert_eq!(classify(&p), KeyKind::Purge);
        assert_eq!(classify(b"\xFFzz/"), KeyKind::Unknown);
        assert_eq!(classify("zzz\u{10FFFF}".as_bytes()), KeyKind::User);
        assert!(g.len() <= crate::index::MAX_KEY_LEN && p.len() == g.len());
        assert!(g.as_slice() > "\u{10FFFF}".as_bytes());
        assert_ne!(grave_key(b"a"), grave_key(b"b"));
    }
}
