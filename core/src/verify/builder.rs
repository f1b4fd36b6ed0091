//! Streaming computation of the root and post-order outboard of data of unknown length.

use blake3::hazmat::{ChainingValue, Mode, merge_subtrees_non_root};

use super::Outboard;
use super::tree::{GROUP_LEN, group_hash, parent_hash};

const GROUP: usize = GROUP_LEN as usize;

/// Computes the BLAKE3 root and the post-order outboard of a byte stream whose length need not be
/// known in advance.
///
/// Feed the bytes with [`update`](Self::update) in pieces of any size, then call
/// [`finalize`](Self::finalize). Memory stays bounded: one 16 KiB group of pending data, a stack
/// of at most 64 chaining values, and the outboard itself (64 bytes per 16 KiB of data, ~0.4 %).
/// Whole groups are hashed with one BLAKE3 call each, so BLAKE3's SIMD paths apply and building
/// the outboard costs about what plain hashing costs.
#[derive(Clone)]
pub struct OutboardBuilder {
    /// Bytes of the current group not yet hashed; a full group is held until more data shows it
    /// is not the last one.
    pending: Box<[u8; GROUP]>,
    pending_len: usize,
    tree: Subtrees,
}

/// The groups hashed so far and what they completed.
#[derive(Clone, Default)]
struct Subtrees {
    /// Groups hashed so far (all of them full and followed by more data).
    groups: u64,
    /// Chaining values of the complete subtrees so far, left to right, sizes strictly decreasing
    /// powers of two (the binary digits of `groups`).
    stack: Vec<ChainingValue>,
    /// The outboard so far: pairs of complete subtrees, in post order.
    pairs: Vec<u8>,
}

impl Default for OutboardBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for OutboardBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboardBuilder")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl OutboardBuilder {
    /// A builder that has seen no data yet.
    pub fn new() -> Self {
        Self {
            pending: Box::new([0; GROUP]),
            pending_len: 0,
            tree: Subtrees::default(),
        }
    }

    /// Number of bytes fed so far.
    pub fn len(&self) -> u64 {
        self.tree.groups * GROUP_LEN + self.pending_len as u64
    }

    /// Whether no bytes were fed yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Feeds the next bytes of the stream.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.pending_len == GROUP {
                // More data follows, so the held group is not the last one.
                self.tree.push_group(&self.pending[..]);
                self.pending_len = 0;
            }
            if self.pending_len == 0 {
                // Hash whole groups straight from the input, keeping back the last one in case the
                // stream ends with it.
                while data.len() > GROUP {
                    let (group, rest) = data.split_at(GROUP);
                    self.tree.push_group(group);
                    data = rest;
                }
            }
            let take = (GROUP - self.pending_len).min(data.len());
            let (head, rest) = data.split_at(take);
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(head);
            self.pending_len += take;
            data = rest;
        }
    }

    /// The BLAKE3 root the stream would have if `extra` were fed and the stream ended there,
    /// without changing the builder (the outboard pairs are not copied). A sealer uses it for
    /// the root of an object whose trailer is still zero.
    pub fn root_after(&self, extra: &[u8]) -> blake3::Hash {
        let mut pending = self.pending[..self.pending_len].to_vec();
        let mut groups = self.tree.groups;
        let mut stack = self.tree.stack.clone();
        for &b in extra {
            if pending.len() == GROUP {
                push_cv(&mut stack, &mut groups, &pending);
                pending.clear();
            }
            pending.push(b);
        }
        if groups == 0 {
            return blake3::hash(&pending);
        }
        let mut right = group_hash(groups, &pending, false);
        while let Some(left) = stack.pop() {
            right = parent_hash(&left, right.as_bytes(), stack.is_empty());
        }
        right
    }

    /// Ends the stream: returns the root, the length and the outboard.
    pub fn finalize(self) -> Outboard {
        let len = self.len();
        let last = &self.pending[..self.pending_len];
        let Subtrees {
            groups,
            mut stack,
            mut pairs,
        } = self.tree;
        if groups == 0 {
            // One group (possibly empty): the root is the plain BLAKE3 hash, no pairs.
            return Outboard::new_unchecked(blake3::hash(last), len, Vec::new());
        }
        let mut right = group_hash(groups, last, false);
        // Merge the right edge of the tree from the bottom up; each merge is a parent whose pair
        // follows its subtrees in post order.
        while let Some(left) = stack.pop() {
            pairs.extend_from_slice(&left);
            pairs.extend_from_slice(right.as_bytes());
            right = parent_hash(&left, right.as_bytes(), stack.is_empty());
        }
        Outboard::new_unchecked(right, len, pairs)
    }
}

/// [`Subtrees::push_group`] without recording pairs (for [`OutboardBuilder::root_after`]).
fn push_cv(stack: &mut Vec<ChainingValue>, groups: &mut u64, group: &[u8]) {
    let cv = group_hash(*groups, group, false);
    stack.push(*cv.as_bytes());
    *groups += 1;
    for _ in 0..groups.trailing_zeros() {
        let [.., left, right] = stack[..] else {
            break;
        };
        stack.truncate(stack.len() - 2);
        stack.push(merge_subtrees_non_root(&left, &right, Mode::Hash));
    }
}

impl Subtrees {
    /// Adds a full group known not to be the last one, and merges the subtrees it completes.
    fn push_group(&mut self, group: &[u8]) {
        let cv = group_hash(self.groups, group, false);
        self.stack.push(*cv.as_bytes());
        self.groups += 1;
        // A subtree of 2^k groups is complete when `groups` has k trailing zeros. None of these
        // merges is the root: at least one more byte follows.
        for _ in 0..self.groups.trailing_zeros() {
            // The stack holds one value per binary digit of `groups`, so two are always there.
            let [.., left, right] = self.stack[..] else {
                debug_assert!(false, "subtree stack out of step with the group count");
                break;
            };
            self.stack.truncate(self.stack.len() - 2);
            self.pairs.extend_from_slice(&left);
            self.pairs.extend_from_slice(&right);
            self.stack
                .push(merge_subtrees_non_root(&left, &right, Mode::Hash));
        }
    }
}
