//! Everything a vault references: the blocks its heads reach and the head records themselves,
//! enumerated by the same walk a collection marks with (`prune.rs`), for moving a vault to
//! another store ([`crate::car`]).

use bytes::Bytes;

use super::Vault;
use super::error::VaultResult;
use super::prune::LeftBlock;
use crate::block::Cid;
use crate::store::{BlockStore, HeadStore};

/// One block a vault references.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReachableBlock {
    /// Its CID.
    pub cid: Cid,
    /// Its length, when a manifest tells it (sealed objects); other blocks are metadata, at most
    /// [`super::MAX_META_BLOCK`] bytes, or outboards.
    pub len: Option<u64>,
}

/// One head record a vault needs in a store: a device head, the GC record, a share registry
/// record or a share view, as the store holds it (signed, and for heads encrypted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadRecord {
    /// The head-store namespace: the vault's name, or a `_coffer-…` namespace of the vault.
    pub namespace: String,
    /// The writer (the record's name in the namespace).
    pub writer: String,
    /// The record's bytes.
    pub bytes: Bytes,
}

/// What [`Vault::reachable`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reachable {
    /// Every block the heads reach, sorted by CID bytes, each once.
    pub blocks: Vec<ReachableBlock>,
    /// The head records, sorted by namespace then writer.
    pub heads: Vec<HeadRecord>,
    /// Referenced blocks the store does not have where the vault cannot do without them (a
    /// current version's manifest, an index node a share view was made from); empty in a sound
    /// store. Older versions whose manifest is gone end their history there and are not listed.
    pub missing: Vec<LeftBlock>,
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// Every block reachable from the vault's heads (the vault's own device heads, verified; its
    /// share views; its GC record's candidate chunks) and those head records: exactly what a
    /// collection would keep, less the blocks a collection keeps only because they are young.
    /// Reads every index node and manifest (not object data).
    pub async fn reachable(&mut self) -> VaultResult<Reachable> {
        let (collected, missing) = self.mark_for_export().await?;
        let mut absent = collected.absent;
        absent.sort();
        let mut blocks: Vec<ReachableBlock> = collected
            .blocks
            .into_iter()
            .filter(|(c, _)| absent.binary_search(c).is_err())
            .map(|(cid, len)| ReachableBlock { cid, len })
            .collect();
        blocks.sort_by_key(|b| b.cid.to_bytes());
        blocks.dedup_by_key(|b| b.cid);
        let mut heads: Vec<HeadRecord> = collected
            .heads
            .into_iter()
            .flat_map(|(namespace, hs)| {
                hs.into_iter().map(move |h| HeadRecord {
                    namespace: namespace.clone(),
                    writer: h.writer,
                    bytes: h.bytes,
                })
            })
            .collect();
        heads.sort_by(|a, b| (&a.namespace, &a.writer).cmp(&(&b.namespace, &b.writer)));
        heads.dedup_by(|a, b| a.namespace == b.namespace && a.writer == b.writer);
        Ok(Reachable {
            blocks,
            heads,
            missing,
        })
    }
}
