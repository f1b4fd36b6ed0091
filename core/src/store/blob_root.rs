//! Large blobs as DAGs: raw leaves of at most 1 MiB under one DAG-CBOR root (the IPFS layout).
//!
//! Kubo refuses (and bitswap cannot exchange) blocks over its block limit, so a blob larger than
//! [`MAX_BLOCK`] is cut into leaves of [`LEAF_SIZE`] bytes (the last one shorter), each a raw
//! block named by its own blake3 CID. The root lists them in order:
//!
//! ```text
//! { "coffer": "blob-v1", "blob": "<coffer CID of the whole, as text>", "size": <u64>,
//!   "leafSize": 1048576, "leaves": [<link>, …] }
//! ```
//!
//! Leaf `i` holds bytes `i*leafSize .. min((i+1)*leafSize, size)`, so a byte range maps to the
//! leaves that hold it without reading the others. `blob` is text, not a link: the whole blob is
//! never a block, and a link to it would make Kubo search for it when pinning recursively.

use serde::{Deserialize, Serialize};

use crate::block::Cid;
use crate::store::{StoreError, StoreResult};

/// Largest blob stored as one block (Kubo's exchangeable block limit).
pub const MAX_BLOCK: usize = 1 << 20;
/// Size of a leaf of a large blob.
pub const LEAF_SIZE: usize = 1 << 20;
/// Most leaves one root lists (keeps the root itself under [`MAX_BLOCK`]): blobs up to 16 GiB.
pub const MAX_LEAVES: usize = 16_384;
/// Value of the root's `coffer` field.
const KIND: &str = "blob-v1";

/// The root node of a large blob.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct BlobRoot {
    /// Always `"blob-v1"`.
    pub coffer: String,
    /// The coffer CID of the whole blob, as text.
    pub blob: String,
    /// Length of the whole blob in bytes.
    pub size: u64,
    /// Length of every leaf but the last.
    #[serde(rename = "leafSize")]
    pub leaf_size: u64,
    /// The leaves, in order.
    pub leaves: Vec<Cid>,
}

impl BlobRoot {
    /// The root of blob `blob` of `size` bytes cut into [`LEAF_SIZE`] leaves.
    pub fn new(blob: &Cid, size: u64, leaves: Vec<Cid>) -> Self {
        Self {
            coffer: KIND.into(),
            blob: blob.to_string(),
            size,
            leaf_size: LEAF_SIZE as u64,
            leaves,
        }
    }

    /// Checks that the root describes `blob` consistently (kind, CID, leaf count).
    pub fn check(&self, blob: &Cid) -> StoreResult<()> {
        if self.leaves.len() > MAX_LEAVES {
            return Err(StoreError::Corrupt {
                cid: blob.to_string(),
                detail: format!(
                    "blob root lists {} leaves, more than {MAX_LEAVES}",
                    self.leaves.len()
                ),
            });
        }
        let corrupt = |detail: String| {
            Err(StoreError::Corrupt {
                cid: blob.to_string(),
                detail,
            })
        };
        if self.coffer != KIND {
            return corrupt(format!("blob root of unknown kind {:?}", self.coffer));
        }
        if self.blob != blob.to_string() {
            return corrupt(format!("blob root describes {} instead", self.blob));
        }
        if self.leaf_size != LEAF_SIZE as u64 {
            return corrupt(format!(
                "blob root has leaves of {} bytes; v1 uses {LEAF_SIZE}",
                self.leaf_size
            ));
        }
        if self.leaves.len() as u64 != self.size.div_ceil(self.leaf_size) {
            return corrupt(format!(
                "blob root lists {} leaves of {} bytes for {} bytes",
                self.leaves.len(),
                self.leaf_size,
                self.size
            ));
        }
        Ok(())
    }

    /// The byte range leaf `i` holds.
    pub fn leaf_range(&self, i: usize) -> std::ops::Range<u64> {
        let start = i as u64 * self.leaf_size;
        start..start.saturating_add(self.leaf_size).min(self.size)
    }
}

/// Decodes a blob root and checks it describes `blob`: what readers do with an untrusted root.
pub fn decode_blob_root(blob: &Cid, bytes: &[u8]) -> StoreResult<BlobRoot> {
    let root: BlobRoot = crate::block::from_dag_cbor(bytes).map_err(|e| StoreError::Corrupt {
        cid: blob.to_string(),
        detail: format!("blob root: {e}"),
    })?;
    root.check(blob)?;
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{from_dag_cbor, raw_cid, to_dag_cbor};

    #[test]
    fn root_round_trip_and_checks() {
        let blob = raw_cid(b"whole");
        let leaves = vec![raw_cid(b"a"), raw_cid(b"b"), raw_cid(b"c")];
        let root = BlobRoot::new(&blob, 2 * LEAF_SIZE as u64 + 5, leaves);
        let bytes = to_dag_cbor(&root).unwrap();
        let back: BlobRoot = from_dag_cbor(&bytes).unwrap();
        assert_eq!(back, root);
        back.check(&blob).unwrap();
        assert_eq!(
            back.leaf_range(2),
            2 * LEAF_SIZE as u64..2 * LEAF_SIZE as u64 + 5
        );
        assert!(back.check(&raw_cid(b"other")).is_err());
        let mut short = back.clone();
        short.leaves.pop();
        assert!(short.check(&blob).is_err());
    }
}
