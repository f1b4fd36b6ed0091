//! Ordered reading: a cursor that seeks to a key and steps through entries leaf by leaf.

use std::sync::Arc;

use super::entry::Entry;
use super::error::IndexResult;
use super::node::Node;
use super::tree::ProllyTree;
use crate::block::Cid;
use crate::store::BlockStore;

/// A position in a tree: the path of internal nodes (with the child taken) and a leaf slot.
pub(crate) struct Cursor<'t, S: BlockStore + ?Sized> {
    tree: &'t ProllyTree<S>,
    root: Arc<Node>,
    path: Vec<(Arc<Node>, usize)>,
    leaf: Option<Arc<Node>>,
    pos: usize,
}

impl<'t, S: BlockStore + ?Sized> Cursor<'t, S> {
    pub(crate) async fn new(tree: &'t ProllyTree<S>, root: &Cid) -> IndexResult<Self> {
        let root = tree.load(root).await?;
        Ok(Cursor {
            tree,
            root,
            path: Vec::new(),
            leaf: None,
            pos: 0,
        })
    }

    /// The entry under the cursor, or `None` at the end.
    pub(crate) fn current(&self) -> Option<(&[u8], &Entry)> {
        let leaf = self.leaf.as_ref()?;
        let entries = leaf.entries()?;
        Some((leaf.keys().get(self.pos)?, entries.get(self.pos)?))
    }

    /// Moves to the first entry with key `>= target` (`None`: to the end).
    pub(crate) async fn seek(&mut self, target: Option<&[u8]>) -> IndexResult<()> {
        let Some(target) = target else {
            self.leaf = None;
            self.path.clear();
            return Ok(());
        };
        // Fast path: the target lies within the current leaf, at or after the cursor.
        if let Some(leaf) = &self.leaf {
            let keys = leaf.keys();
            if self.pos < keys.len()
                && &keys[self.pos] <= target
                && keys.last().is_some_and(|l| target <= l)
            {
                self.pos = keys.partition_from(self.pos, |k| k < target);
                return Ok(());
            }
        }
        // Restart the descent from the deepest node on the path whose key range holds the target
        // (when seeking backwards, that is the root).
        let mut restart = 0;
        let mut upper: Option<&[u8]> = None;
        for (d, (node, i)) in self.path.iter().enumerate() {
            if upper.is_none_or(|u| target < u)
                && (d == 0 || node.keys().first().is_some_and(|f| f <= target))
            {
                restart = d;
            } else {
                break;
            }
            upper = node.keys().get(i + 1).or(upper);
        }
        let mut node = match self.path.get(restart) {
            Some((n, _)) => n.clone(),
            None => self.root.clone(),
        };
        self.path.truncate(restart);
        while node.entries().is_none() {
            let i = node.child_for(target);
            let child = self.tree.load_child(&node, i).await?;
            self.path.push((node, i));
            node = child;
        }
        self.pos = node.keys().lower_bound(target);
        let at_end = self.pos >= node.len();
        self.leaf = Some(node);
        if at_end {
            self.next_leaf().await
        } else {
            Ok(())
        }
    }

    /// Moves to the next entry.
    pub(crate) async fn advance(&mut self) -> IndexResult<()> {
        let Some(leaf) = &self.leaf else {
            return Ok(());
        };
        self.pos += 1;
        if self.pos >= leaf.len() {
            self.next_leaf().await
        } else {
            Ok(())
        }
    }

    async fn next_leaf(&mut self) -> IndexResult<()> {
        loop {
            let Some((node, i)) = self.path.pop() else {
                self.leaf = None;
                return Ok(());
            };
            if i + 1 < node.len() {
                let mut node = node;
                let mut i = i + 1;
                loop {
                    let child = self.tree.load_child(&node, i).await?;
                    self.path.push((node, i));
                    if child.entries().is_some() {
                        self.leaf = Some(child);
                        self.pos = 0;
                        return Ok(());
                    }
                    node = child;
                    i = 0;
                }
            }
        }
    }
}

/// Entries of a key range in order, tombstones included. Pull with [`RangeIter::next`].
pub struct RangeIter<'t, S: BlockStore + ?Sized> {
    cursor: Cursor<'t, S>,
    end: Option<Vec<u8>>,
}

impl<S: BlockStore + ?Sized> RangeIter<'_, S> {
    /// The next `(key, entry)`, or `None` past the end of the range.
    pub async fn next(&mut self) -> IndexResult<Option<(Vec<u8>, Entry)>> {
        let Some((k, e)) = self.cursor.current() else {
            return Ok(None);
        };
        if self.end.as_deref().is_some_and(|end| k >= end) {
            return Ok(None);
        }
        let item = (k.to_vec(), e.clone());
        self.cursor.advance().await?;
        Ok(Some(item))
    }

    /// Collects the rest of the range.
    pub async fn collect(mut self) -> IndexResult<Vec<(Vec<u8>, Entry)>> {
        let mut out = Vec::new();
        while let Some(item) = self.next().await? {
            out.push(item);
        }
        Ok(out)
    }
}

impl<S: BlockStore + ?Sized> ProllyTree<S> {
    /// Iterates the entries with `start <= key < end` (`None`: unbounded), tombstones included.
    pub async fn range(
        &self,
        root: &Cid,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
    ) -> IndexResult<RangeIter<'_, S>> {
        let mut cursor = Cursor::new(self, root).await?;
        cursor.seek(Some(start.unwrap_or(&[]))).await?;
        Ok(RangeIter {
            cursor,
            end: end.map(<[u8]>::to_vec),
        })
    }

    /// Every entry of the tree in key order, tombstones included.
    pub async fn entries(&self, root: &Cid) -> IndexResult<Vec<(Vec<u8>, Entry)>> {
        self.range(root, None, None).await?.collect().await
    }
}
