//! Diffs of two roots: a stream of changed keys that skips every subtree both trees share.
//!
//! Each side is a stack of pending items in key order: whole subtrees (not yet read) or single
//! entries. Two subtrees with the same CID at the heads are skipped together, unread; otherwise
//! the higher-level head is opened (both, at equal levels), and an entry that sorts before the
//! other side's head is reported at once. Because chunking is content-defined, both trees cut
//! unchanged regions at the same places, so the nodes read grow with (changes × depth).

use std::cmp::Ordering;
use std::sync::Arc;

use super::entry::Entry;
use super::error::IndexResult;
use super::node::Node;
use super::tree::ProllyTree;
use crate::block::Cid;
use crate::store::BlockStore;

/// One changed key: its entry before (`old`) and after (`new`); `None` where absent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiffEntry {
    /// The key.
    pub key: Vec<u8>,
    /// Entry in the first tree.
    pub old: Option<Entry>,
    /// Entry in the second tree.
    pub new: Option<Entry>,
}

/// A pending item: slot `i` of a node, either a child subtree (internal node) or an entry (leaf).
/// Holding the node avoids copying keys and entries that are only compared.
struct Item {
    node: Arc<Node>,
    i: usize,
}

impl Item {
    fn key(&self) -> &[u8] {
        &self.node.keys()[self.i]
    }

    fn child(&self) -> Option<&Cid> {
        self.node.children().map(|c| &c[self.i])
    }

    fn entry(&self) -> Option<&Entry> {
        self.node.entries().map(|e| &e[self.i])
    }

    /// The level of the subtree; entries sort below every node level.
    fn rank(&self) -> i16 {
        i16::from(self.node.level()) - 1
    }
}

/// A diff in progress; pull changes with [`Diff::next`].
pub struct Diff<'t, S: BlockStore + ?Sized> {
    tree: &'t ProllyTree<S>,
    /// Pending items, next on top (so in reverse key order).
    old: Vec<Item>,
    new: Vec<Item>,
    started: Option<(Cid, Cid)>,
    nodes_read: u64,
}

impl<S: BlockStore + ?Sized> Diff<'_, S> {
    /// Nodes read so far (both trees, cache hits included).
    pub fn nodes_read(&self) -> u64 {
        self.nodes_read
    }

    async fn open(
        &mut self,
        cid: &Cid,
        expected_level: Option<(u8, &[u8])>,
    ) -> IndexResult<Vec<Item>> {
        self.nodes_read += 1;
        let node = self.tree.load(cid).await?;
        if let Some((level, first)) = expected_level {
            check_fits(cid, &node, level, first)?;
        }
        let mut items: Vec<Item> = (0..node.len())
            .map(|i| Item {
                node: node.clone(),
                i,
            })
            .collect();
        items.reverse();
        Ok(items)
    }

    async fn expand(&mut self, old_side: bool) -> IndexResult<()> {
        let side = if old_side {
            &mut self.old
        } else {
            &mut self.new
        };
        let Some(item) = side.pop() else {
            return Ok(());
        };
        let Some(cid) = item.child() else {
            return Ok(());
        };
        let level = item.node.level() - 1;
        let items = self.open(cid, Some((level, item.key()))).await?;
        let side = if old_side {
            &mut self.old
        } else {
            &mut self.new
        };
        side.extend(items);
        Ok(())
    }

    /// The next changed key, or `None` when the trees hold the same entries from here on.
    pub async fn next(&mut self) -> IndexResult<Option<DiffEntry>> {
        if let Some((a, b)) = self.started.take()
            && a != b
        {
            self.old = self.open(&a, None).await?;
            self.new = self.open(&b, None).await?;
        }
        loop {
            match decide(self.old.last(), self.new.last()) {
                Step::Done => return Ok(None),
                Step::SkipBoth => {
                    self.old.pop();
                    self.new.pop();
                }
                Step::ExpandOld => self.expand(true).await?,
                Step::ExpandNew => self.expand(false).await?,
                Step::ExpandBoth => {
                    self.expand(true).await?;
                    self.expand(false).await?;
                }
                Step::EmitOld => {
                    if let Some(item) = self.old.pop() {
                        return Ok(Some(DiffEntry {
                            key: item.key().to_vec(),
                            old: item.entry().cloned(),
                            new: None,
                        }));
                    }
                }
                Step::EmitNew => {
                    if let Some(item) = self.new.pop() {
                        return Ok(Some(DiffEntry {
                            key: item.key().to_vec(),
                            old: None,
                            new: item.entry().cloned(),
                        }));
                    }
                }
                Step::EmitBoth => {
                    if let (Some(a), Some(b)) = (self.old.pop(), self.new.pop())
                        && a.entry() != b.entry()
                    {
                        return Ok(Some(DiffEntry {
                            key: a.key().to_vec(),
                            old: a.entry().cloned(),
                            new: b.entry().cloned(),
                        }));
                    }
                }
            }
        }
    }

    /// Collects the remaining changes.
    pub async fn collect(mut self) -> IndexResult<(Vec<DiffEntry>, u64)> {
        let mut out = Vec::new();
        while let Some(d) = self.next().await? {
            out.push(d);
        }
        Ok((out, self.nodes_read))
    }
}

enum Step {
    Done,
    SkipBoth,
    ExpandOld,
    ExpandNew,
    ExpandBoth,
    EmitOld,
    EmitNew,
    EmitBoth,
}

fn decide(a: Option<&Item>, b: Option<&Item>) -> Step {
    match (a, b) {
        (None, None) => Step::Done,
        (Some(a), None) if a.child().is_some() => Step::ExpandOld,
        (Some(_), None) => Step::EmitOld,
        (None, Some(b)) if b.child().is_some() => Step::ExpandNew,
        (None, Some(_)) => Step::EmitNew,
        (Some(a), Some(b)) => match (a.child(), b.child()) {
            (Some(x), Some(y)) if x == y => Step::SkipBoth,
            (None, None) => match a.key().cmp(b.key()) {
                Ordering::Less => Step::EmitOld,
                Ordering::Greater => Step::EmitNew,
                Ordering::Equal => Step::EmitBoth,
            },
            (None, Some(_)) if a.key() < b.key() => Step::EmitOld,
            (Some(_), None) if b.key() < a.key() => Step::EmitNew,
            _ => match a.rank().cmp(&b.rank()) {
                Ordering::Greater => Step::ExpandOld,
                Ordering::Less => Step::ExpandNew,
                Ordering::Equal => Step::ExpandBoth,
            },
        },
    }
}

impl<S: BlockStore + ?Sized> ProllyTree<S> {
    /// The changes from the tree at `old` to the tree at `new`, in key order, tombstones
    /// included as entries. Nothing is read until the first [`Diff::next`].
    pub fn diff(&self, old: &Cid, new: &Cid) -> Diff<'_, S> {
        Diff {
            tree: self,
            old: Vec::new(),
            new: Vec::new(),
            started: Some((*old, *new)),
            nodes_read: 0,
        }
    }
}

fn check_fits(cid: &Cid, node: &Node, level: u8, first: &[u8]) -> IndexResult<()> {
    let structure = |detail| {
        Err(super::error::IndexError::Structure {
            cid: cid.to_string(),
            detail,
        })
    };
    if node.level() != level {
        return structure("its level is not its parent's minus one (a cycle or a misplaced node)");
    }
    if node.keys().first() != Some(first) {
        return structure("its first key differs from its parent's separator key");
    }
    Ok(())
}
