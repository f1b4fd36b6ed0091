//! A bounded cache of decoded nodes, keyed by CID.
//!
//! Least-recently-used by approximation: each hit stamps the entry with a counter; when the
//! budget is exceeded, the oldest quarter of the budget is evicted in one pass (sort by stamp),
//! so eviction costs O(log n) per insert amortised and a hit costs one hash lookup.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::node::Node;
use crate::block::Cid;

struct Slot {
    node: Arc<Node>,
    bytes: usize,
    stamp: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Cid, Slot>,
    bytes: usize,
    clock: u64,
}

/// Decoded nodes, at most about `budget` bytes of them.
pub(crate) struct NodeCache {
    inner: Mutex<Inner>,
    budget: usize,
}

impl NodeCache {
    pub(crate) fn new(budget: usize) -> Self {
        NodeCache { inner: Mutex::new(Inner::default()), budget }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent map (every update is one insert or
        // one remove), so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn get(&self, cid: &Cid) -> Option<Arc<Node>> {
        let mut g = self.lock();
        g.clock += 1;
        let now = g.clock;
        let slot = g.map.get_mut(cid)?;
        slot.stamp = now;
        Some(slot.node.clone())
    }

    pub(crate) fn insert(&self, cid: Cid, node: Arc<Node>) {
        if self.budget == 0 {
            return;
        }
        let bytes = node.approx_bytes();
        let mut g = self.lock();
        g.clock += 1;
        let stamp = g.clock;
        if let Some(old) = g.map.insert(cid, Slot { node, bytes, stamp }) {
            g.bytes -= old.bytes;
        }
        g.bytes += bytes;
        if g.bytes > self.budget {
            Self::evict(&mut g, self.budget - self.budget / 4);
        }
    }

    fn evict(g: &mut Inner, keep: usize) {
        let mut by_age: Vec<(u64, Cid, usize)> = g.map.iter().map(|(c, s)| (s.stamp, *c, s.bytes)).collect();
        by_age.sort_unstable_by_key(|(stamp, _, _)| *stamp);
        for (_, cid, bytes) in by_age {
            if g.bytes <= keep {
                break;
            }
            g.map.remove(&cid);
            g.bytes -= bytes;
        }
    }

    pub(crate) fn clear(&self) {
        let mut g = self.lock();
        g.map.clear();
        g.bytes = 0;
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }
}
