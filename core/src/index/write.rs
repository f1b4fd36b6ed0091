//! Writing: bulk load, batches of puts and removes, and the rewrite walk under both.
//!
//! A rewrite walks the old tree in key order next to the sorted batch and feeds the chunker.
//! A subtree whose key range holds no change is handed to the chunker whole (its CID, unread)
//! whenever the chunker has nothing pending at that subtree's level or below: the chunker would
//! cut exactly that node again. So a batch reads and writes about one path per change, and the
//! result is the tree a bulk load of the final entries would build.

use std::cmp::Ordering;
use std::sync::Arc;

use super::build::Builder;
use super::entry::{Entry, Hlc, WriterId};
use super::error::{IndexError, IndexResult};
use super::node::Node;
use super::tree::ProllyTree;
use super::{MAX_KEY_LEN, MAX_VALUE_LEN};
use crate::block::Cid;
use crate::store::BlockStore;

/// Blocks are written to the store in groups of this many.
const FLUSH_BLOCKS: usize = 64;

/// One change in a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// Store this entry (a live value or a tombstone), replacing whatever was there.
    Put(Entry),
    /// Erase the key entirely, leaving no tombstone. For single-writer trees and compaction;
    /// replicated trees delete with a tombstone ([`Mutation::Put`] of [`Entry::tombstone`]).
    Remove,
}

/// How a sorted change applies to the old entry.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    Put(Entry),
    Remove,
    /// Keep the greater of the old entry and this one (CRDT join).
    Join(Entry),
}

pub(crate) fn check_key(key: &[u8]) -> IndexResult<()> {
    match key.len() {
        0 => Err(IndexError::EmptyKey),
        n if n > MAX_KEY_LEN => Err(IndexError::KeyTooLong { len: n }),
        _ => Ok(()),
    }
}

pub(crate) fn check_entry(entry: &Entry) -> IndexResult<()> {
    match entry.value.as_ref().map_or(0, Vec::len) {
        n if n > MAX_VALUE_LEN => Err(IndexError::ValueTooLarge { len: n }),
        _ => Ok(()),
    }
}

impl<S: BlockStore + ?Sized> ProllyTree<S> {
    /// Builds a tree from entries sorted by strictly increasing key (the bulk-load fast path:
    /// no old tree is read) and returns its root.
    pub async fn build<I>(&self, entries: I) -> IndexResult<Cid>
    where
        I: IntoIterator<Item = (Vec<u8>, Entry)>,
        I::IntoIter: crate::CondSend,
    {
        let mut b = Builder::new(self);
        let mut last: Vec<u8> = Vec::new();
        for (position, (key, entry)) in entries.into_iter().enumerate() {
            check_key(&key)?;
            check_entry(&entry)?;
            if position > 0 && last.as_slice() >= key.as_slice() {
                return Err(IndexError::UnsortedInput { position });
            }
            last.clear();
            last.extend_from_slice(&key);
            b.push_entry(key, entry)?;
            if b.outbox.len() >= FLUSH_BLOCKS {
                self.put_blocks(&mut b.outbox).await?;
            }
        }
        let root = b.finish()?;
        self.put_blocks(&mut b.outbox).await?;
        Ok(root)
    }

    /// Applies a batch of changes to the tree at `root` and returns the new root. Later changes
    /// to the same key win. Sorted input is fastest; any order gives the same result.
    pub async fn apply<I>(&self, root: &Cid, batch: I) -> IndexResult<Cid>
    where
        I: IntoIterator<Item = (Vec<u8>, Mutation)>,
    {
        let mut ops: Vec<(Vec<u8>, Op)> = Vec::new();
        for (key, m) in batch {
            check_key(&key)?;
            ops.push((
                key,
                match m {
                    Mutation::Put(e) => {
                        check_entry(&e)?;
                        Op::Put(e)
                    }
                    Mutation::Remove => Op::Remove,
                },
            ));
        }
        self.rewrite(root, sort_last_wins(ops)).await
    }

    /// Stores `entry` under `key` and returns the new root.
    pub async fn put(&self, root: &Cid, key: &[u8], entry: Entry) -> IndexResult<Cid> {
        self.apply(root, [(key.to_vec(), Mutation::Put(entry))])
            .await
    }

    /// Deletes `key` by writing a tombstone stamped `(time, writer)`, and returns the new root.
    pub async fn delete(
        &self,
        root: &Cid,
        key: &[u8],
        time: Hlc,
        writer: WriterId,
    ) -> IndexResult<Cid> {
        self.put(root, key, Entry::tombstone(time, writer)).await
    }

    /// Erases `key` without a tombstone (see [`Mutation::Remove`]) and returns the new root.
    pub async fn remove(&self, root: &Cid, key: &[u8]) -> IndexResult<Cid> {
        self.apply(root, [(key.to_vec(), Mutation::Remove)]).await
    }

    /// Rewrites the tree at `root` with `ops`, sorted by strictly increasing key.
    pub(crate) async fn rewrite(&self, root: &Cid, ops: Vec<(Vec<u8>, Op)>) -> IndexResult<Cid> {
        if ops.is_empty() {
            return Ok(*root);
        }
        let root_node = self.load(root).await?;
        let mut b = Builder::new(self);
        let mut next = 0usize;
        struct Frame {
            node: Arc<Node>,
            next_child: usize,
            upper: Option<Vec<u8>>,
        }
        let mut stack: Vec<Frame> = Vec::new();
        if root_node.entries().is_some() {
            self.merge_leaf(&mut b, &root_node, None, &ops, &mut next)
                .await?;
        } else {
            stack.push(Frame {
                node: root_node,
                next_child: 0,
                upper: None,
            });
        }
        while let Some(top) = stack.last_mut() {
            if top.next_child == top.node.len() {
                stack.pop();
                continue;
            }
            let i = top.next_child;
            top.next_child += 1;
            let node = top.node.clone();
            let upper: Option<&[u8]> = node.keys().get(i + 1).or(top.upper.as_deref());
            let untouched = match (ops.get(next), upper) {
                (None, _) => true,
                (Some((k, _)), Some(u)) => k.as_slice() >= u,
                (Some(_), None) => false,
            };
            let child_level = node.level() - 1;
            if untouched
                && b.ready_for(child_level)?
                && let Some(children) = node.children()
            {
                b.reuse(child_level, node.keys()[i].to_vec(), children[i])?;
                continue;
            }
            let upper = upper.map(<[u8]>::to_vec);
            let child = self.load_child(&node, i).await?;
            if child.entries().is_some() {
                self.merge_leaf(&mut b, &child, upper.as_deref(), &ops, &mut next)
                    .await?;
            } else {
                stack.push(Frame {
                    node: child,
                    next_child: 0,
                    upper,
                });
            }
            if b.outbox.len() >= FLUSH_BLOCKS {
                self.put_blocks(&mut b.outbox).await?;
            }
        }
        let new_root = b.finish()?;
        self.put_blocks(&mut b.outbox).await?;
        Ok(new_root)
    }

    /// Feeds the merge of `leaf` and the ops below `upper` to the chunker.
    async fn merge_leaf(
        &self,
        b: &mut Builder<'_, S>,
        leaf: &Node,
        upper: Option<&[u8]>,
        ops: &[(Vec<u8>, Op)],
        next: &mut usize,
    ) -> IndexResult<()> {
        let entries = leaf.entries().unwrap_or(&[]);
        let keys = leaf.keys();
        let mut j = 0;
        loop {
            let op = ops
                .get(*next)
                .filter(|(k, _)| upper.is_none_or(|u| k.as_slice() < u));
            let order = match (keys.get(j), op) {
                (None, None) => break,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(k), Some((ok, _))) => k.cmp(ok.as_slice()),
            };
            match (order, op) {
                // (_, None) only comes with Less: the old entry is next.
                (Ordering::Less, _) | (_, None) => {
                    b.push_entry(keys[j].to_vec(), entries[j].clone())?;
                    j += 1;
                }
                (_, Some((ok, op))) => {
                    let old = (order == Ordering::Equal).then(|| &entries[j]);
                    let new = match op {
                        Op::Put(e) => Some(e.clone()),
                        Op::Remove => None,
                        Op::Join(e) => Some(match old {
                            Some(o) if o > e => o.clone(),
                            _ => e.clone(),
                        }),
                    };
                    if let Some(e) = new {
                        b.push_entry(ok.clone(), e)?;
                    }
                    if old.is_some() {
                        j += 1;
                    }
                    *next += 1;
                }
            }
            if b.outbox.len() >= FLUSH_BLOCKS {
                self.put_blocks(&mut b.outbox).await?;
            }
        }
        Ok(())
    }
}

/// Sorts ops by key, keeping the last op given for each key.
pub(crate) fn sort_last_wins(mut ops: Vec<(Vec<u8>, Op)>) -> Vec<(Vec<u8>, Op)> {
    ops.reverse();
    ops.sort_by(|a, b| a.0.cmp(&b.0)); // stable: the last given comes first per key
    ops.dedup_by(|later, first| later.0 == first.0);
    ops
}
