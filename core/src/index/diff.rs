//! Diffs of two roots: a stream of changed keys that skips every subtree both trees share.
//!
//! Each side is a stack of pending items in key order: whole subtrees (not yet read) or single
//! entries. Two subtrees with the same CID at the heads are skipped together, unread; otherwise
//! the higher-level head is opened (both, at equal levels), and an entry that sorts before the
//! other side's head is reported at once. Because chunking is content-defined, both trees cut
//! unchanged regions at the same places, so the nodes read grow with (changes × depth).

use std::cmp::Ordering;

use super::entry::Entry;
use super::error::IndexResult;
use super::node::{Body, Node};
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

enum Item {
    Tree { key: Vec<u8>, cid: Cid, level: u8 },
    Entry { key: Vec<u8>, entry: Entry },
}

impl Item {
    fn key(&self) -> &[u8] {
        match self {
            Item::Tree { key, .. } | Item::Entry { key, .. } => key,
        }
    }

    /// Entries sort below every node level.
    fn rank(&self) -> i16 {
        match self {
            Item::Tree { level, .. } => i16::from(*level),
            Item::Entry { .. } => -1,
        }
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
        let mut items: Vec<Item> = match node.body() {
            Body::Leaf(entries) => node
                .keys()
                .iter()
                .zip(entries)
                .map(|(k, e)| Item::Entry {
                    key: k.to_vec(),
                    entry: e.clone(),
                })
                .collect(),
            Body::Internal(children) => node
                .keys()
                .iter()
                .zip(children)
                .map(|(k, c)| Item::Tree {
                    key: k.to_vec(),
                    cid: *c,
                    level: node.level() - 1,
                })
                .collect(),
        };
        items.reverse();
        Ok(items)
    }

    async fn expand(&mut self, old_side: bool) -> IndexResult<()> {
        let side = if old_side {
            &mut self.old
        } else {
            &mut self.new
        };
        let Some(Item::Tree { key, cid, level }) = side.pop() else {
            return Ok(());
        };
        let items = self.open(&cid, Some((level, &key))).await?;
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
                    if let Some(Item::Entry { key, entry }) = self.old.pop() {
                        return Ok(Some(DiffEntry {
                            key,
                            old: Some(entry),
                            new: None,
                        }));
                    }
                }
                Step::EmitNew => {
                    if let Some(Item::Entry { key, entry }) = self.new.pop() {
                        return Ok(Some(DiffEntry {
                            key,
                            old: None,
                            new: Some(entry),
                        }));
                    }
                }
                Step::EmitBoth => {
                    if let (Some(Item::Entry { key, entry: a }), Some(Item::Entry { entry: b, .. })) =
                        (self.old.pop(), self.new.pop())
                        && a != b
                    {
                        return Ok(Some(DiffEntry {
                            key,
                            old: Some(a),
                            new: Some(b),
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
        (Some(Item::Tree { .. }), None) => Step::ExpandOld,
        (Some(Item::Entry { .. }), None) => Step::EmitOld,
        (None, Some(Item::Tree { .. })) => Step::ExpandNew,
        (None, Some(Item::Entry { .. })) => Step::EmitNew,
        (Some(a), Some(b)) => match (a, b) {
            (Item::Tree { cid: x, .. }, Item::Tree { cid: y, .. }) if x == y => Step::SkipBoth,
            (Item::Entry { .. }, Item::Entry { .. }) => match a.key().cmp(b.key()) {
                Ordering::Less => Step::EmitOld,
                Ordering::Greater => Step::EmitNew,
                Ordering::Equal => Step::EmitBoth,
            },
            (Item::Entry { .. }, Item::Tree { .. }) if a.key() < b.key() => Step::EmitOld,
            (Item::Tree { .. }, Item::Entry { .. }) if b.key() < a.key() => Step::EmitNew,
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
