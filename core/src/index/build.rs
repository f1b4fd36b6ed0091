//! The chunker: turns a sorted stream of entries (and reused subtrees) into nodes, level by level.
//!
//! Every level is cut the same way: an item closes its node when its keyed boundary hash falls
//! under its weight (see [`NodeCodec::is_boundary`](super::node::NodeCodec)); the last item of a
//! level closes the last node. A level with one node is the root. Because each cut depends only
//! on the item itself, the tree is a function of the set of entries: history independence.
//!
//! A node produced at level `l` is held back until a second node appears at that level, so no
//! parent is ever written for a level that turns out to hold a single node.

use bytes::Bytes;

use super::MAX_LEVEL;
use super::entry::Entry;
use super::error::{IndexError, IndexResult};
use super::node::{Node, inner_weight, leaf_weight};
use super::tree::ProllyTree;
use crate::block::Cid;
use crate::store::BlockStore;

#[derive(Default)]
struct Pending {
    keys: Vec<Vec<u8>>,
    children: Vec<Cid>,
}

pub(crate) struct Builder<'t, S: BlockStore + ?Sized> {
    tree: &'t ProllyTree<S>,
    leaf_keys: Vec<Vec<u8>>,
    leaf_entries: Vec<Entry>,
    /// Pending items of levels 1, 2, …: `inner[l - 1]`.
    inner: Vec<Pending>,
    /// Per level, the last node produced and not yet handed to the level above.
    held: Vec<Option<(Vec<u8>, Cid)>>,
    /// Per level, how many nodes were handed to the level above (at least 1 once a reused node
    /// contains nodes of that level): non-zero means the level needs a parent.
    handed_up: Vec<u64>,
    /// Sealed blocks not yet written to the store.
    pub(crate) outbox: Vec<(Cid, Bytes)>,
}

impl<'t, S: BlockStore + ?Sized> Builder<'t, S> {
    pub(crate) fn new(tree: &'t ProllyTree<S>) -> Self {
        Builder {
            tree,
            leaf_keys: Vec::new(),
            leaf_entries: Vec::new(),
            inner: Vec::new(),
            held: Vec::new(),
            handed_up: Vec::new(),
            outbox: Vec::new(),
        }
    }

    /// Appends a leaf entry; keys must arrive in strictly increasing order.
    pub(crate) fn push_entry(&mut self, key: Vec<u8>, entry: Entry) -> IndexResult<()> {
        let boundary = self
            .tree
            .codec
            .is_boundary(0, &key, leaf_weight(&key, &entry));
        self.leaf_keys.push(key);
        self.leaf_entries.push(entry);
        if boundary { self.close(0) } else { Ok(()) }
    }

    /// Prepares to hand over a whole old node of `level` and says whether it may be reused:
    /// first hands every held node below `level` to its parent (they precede the old node, and
    /// their levels have at least two nodes since the old node has descendants there), then
    /// checks that nothing is pending at `level` or below.
    pub(crate) fn ready_for(&mut self, level: u8) -> IndexResult<bool> {
        for l in 0..level {
            if let Some((k, c)) = self.held.get_mut(usize::from(l)).and_then(Option::take) {
                self.handed_up[usize::from(l)] += 1;
                self.push_item(l + 1, k, c)?;
            }
        }
        Ok(self.leaf_keys.is_empty()
            && self
                .inner
                .iter()
                .take(usize::from(level))
                .all(|p| p.keys.is_empty()))
    }

    /// Hands over a whole old node of `level` (after [`Builder::ready_for`] said yes). The levels
    /// below now have nodes inside it, so none of them can be the root any more.
    pub(crate) fn reuse(&mut self, level: u8, key: Vec<u8>, cid: Cid) -> IndexResult<()> {
        let l = usize::from(level);
        if self.handed_up.len() <= l {
            self.held.resize(l + 1, None);
            self.handed_up.resize(l + 1, 0);
        }
        for up in &mut self.handed_up[..l] {
            *up = (*up).max(1);
        }
        self.produce(level, key, cid)
    }

    /// Records a finished node of `level` starting at `key`.
    fn produce(&mut self, level: u8, key: Vec<u8>, cid: Cid) -> IndexResult<()> {
        let l = usize::from(level);
        if self.held.len() <= l {
            self.held.resize(l + 1, None);
            self.handed_up.resize(l + 1, 0);
        }
        if let Some((k, c)) = self.held[l].replace((key, cid)) {
            self.handed_up[l] += 1;
            self.push_item(level + 1, k, c)?;
        }
        Ok(())
    }

    fn push_item(&mut self, level: u8, key: Vec<u8>, cid: Cid) -> IndexResult<()> {
        if level > MAX_LEVEL {
            return Err(IndexError::TooDeep(MAX_LEVEL));
        }
        let boundary = self.tree.codec.is_boundary(level, &key, inner_weight(&key));
        let l = usize::from(level) - 1;
        if self.inner.len() <= l {
            self.inner.resize_with(l + 1, Pending::default);
        }
        self.inner[l].keys.push(key);
        self.inner[l].children.push(cid);
        if boundary { self.close(level) } else { Ok(()) }
    }

    fn pending_len(&self, level: u8) -> usize {
        match level {
            0 => self.leaf_keys.len(),
            l => self
                .inner
                .get(usize::from(l) - 1)
                .map_or(0, |p| p.keys.len()),
        }
    }

    fn close(&mut self, level: u8) -> IndexResult<()> {
        let node = if level == 0 {
            Node::leaf(
                std::mem::take(&mut self.leaf_keys),
                std::mem::take(&mut self.leaf_entries),
            )
        } else {
            let p = std::mem::take(&mut self.inner[usize::from(level) - 1]);
            Node::internal(level, p.keys, p.children)
        };
        let first = node.keys()[0].to_vec();
        let (cid, bytes) = self.tree.seal_node(node)?;
        self.outbox.push((cid, bytes));
        self.produce(level, first, cid)
    }

    /// Closes every level and returns the root (writing an empty leaf for an empty tree).
    pub(crate) fn finish(&mut self) -> IndexResult<Cid> {
        let mut level = 0u8;
        loop {
            if self.pending_len(level) > 0 {
                self.close(level)?;
            }
            let l = usize::from(level);
            let held = self.held.get_mut(l).and_then(Option::take);
            let handed_up = self.handed_up.get(l).copied().unwrap_or(0);
            match held {
                Some((_, cid)) if handed_up == 0 => return Ok(cid),
                Some((key, cid)) => {
                    self.handed_up[l] += 1;
                    self.push_item(level + 1, key, cid)?;
                }
                // Everything of this level was handed up already.
                None if handed_up > 0 => {}
                None => {
                    // Only level 0 of an empty tree produces nothing.
                    let (cid, bytes) = self.tree.seal_node(Node::leaf(Vec::new(), Vec::new()))?;
                    self.outbox.push((cid, bytes));
                    return Ok(cid);
                }
            }
            level += 1;
            if level > MAX_LEVEL {
                return Err(IndexError::TooDeep(MAX_LEVEL));
            }
        }
    }
}
