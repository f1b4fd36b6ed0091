//! Merging replicas as a state-based CRDT, and compacting tombstones.
//!
//! A tree is a map from key to [`Entry`]; entries are totally ordered by
//! (time, writer, tombstone, value). The merge of two trees keeps, per key, the greater entry:
//! a pointwise maximum, so merge is commutative, associative and idempotent, and (by history
//! independence) equal merged maps have equal root CIDs. Only the keys a diff reports are read.

use super::entry::{Entry, Hlc};
use super::error::IndexResult;
use super::tree::ProllyTree;
use super::write::Op;
use crate::block::Cid;
use crate::store::BlockStore;

impl<S: BlockStore + ?Sized> ProllyTree<S> {
    /// The CRDT merge of the trees at `a` and `b`: per key the greater entry. Returns the root.
    pub async fn merge(&self, a: &Cid, b: &Cid) -> IndexResult<Cid> {
        if a == b {
            return Ok(*a);
        }
        let mut diff = self.diff(a, b);
        let mut ops = Vec::new();
        while let Some(d) = diff.next().await? {
            if let Some(new) = d.new
                && d.old.as_ref().is_none_or(|old| &new > old)
            {
                ops.push((d.key, Op::Join(new)));
            }
        }
        self.rewrite(a, ops).await
    }

    /// Erases tombstones stamped at or before `seen_by_all` and returns `(new root, erased)`.
    ///
    /// Safe only when every writer that may ever merge into this tree has already merged a state
    /// at least as new as `seen_by_all` (so none still holds an older live entry for the key that
    /// a later merge would bring back). The vault computes `seen_by_all` as the minimum HLC over
    /// the latest heads of all known writers. This pass reads every leaf.
    pub async fn compact_tombstones(
        &self,
        root: &Cid,
        seen_by_all: Hlc,
    ) -> IndexResult<(Cid, usize)> {
        let mut iter = self.range(root, None, None).await?;
        let mut ops = Vec::new();
        while let Some((key, entry)) = iter.next().await? {
            if is_expired(&entry, seen_by_all) {
                ops.push((key, Op::Remove));
            }
        }
        let erased = ops.len();
        Ok((self.rewrite(root, ops).await?, erased))
    }
}

fn is_expired(entry: &Entry, seen_by_all: Hlc) -> bool {
    entry.is_tombstone() && entry.time <= seen_by_all
}
