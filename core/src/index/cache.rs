//! A bounded cache of decoded nodes, keyed by CID.
//!
//! Least-recently-used by approximation: each hit stamps the entry with a counter; when the
//! budget is exceeded, the oldest quarter of the budget is evicted in one pass (sort by stamp),
//! so eviction costs O(log n) per insert amortised and a hit costs one hash lookup.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::{Arc, Mutex, MutexGuard};

use super::node::Node;
use crate::block::Cid;

/// A CID's 32-byte digest: already uniformly random, so its first 8 bytes are the hash.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key([u8; 32]);

impl Key {
    fn of(cid: &Cid) -> Self {
        let mut k = [0u8; 32];
        let d = cid.hash().digest();
        let n = d.len().min(32);
        k[..n].copy_from_slice(&d[..n]);
        Key(k)
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

/// Passes the one `u64` a [`Key`] writes through unchanged.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

struct Slot {
    node: Arc<Node>,
    bytes: usize,
    stamp: u64,
}

#[derive(Default)]
struct Inner {
    map: HashMap<Key, Slot, BuildHasherDefault<PassThrough>>,
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
        NodeCache {
            inner: Mutex::new(Inner::default()),
            budget,
        }
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
        let slot = g.map.get_mut(&Key::of(cid))?;
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
        if let Some(old) = g.map.insert(Key::of(&cid), Slot { node, bytes, stamp }) {
            g.bytes -= old.bytes;
        }
        g.bytes += bytes;
        if g.bytes > self.budget {
            Self::evict(&mut g, self.budget - self.budget / 4);
        }
    }

    fn evict(g: &mut Inner, keep: usize) {
        let mut by_age: Vec<(u64, Key, usize)> =
            g.map.iter().map(|(k, s)| (s.stamp, *k, s.bytes)).collect();
        by_age.sort_unstable_by_key(|(stamp, _, _)| *stamp);
        for (_, key, bytes) in by_age {
            if g.bytes <= keep {
                break;
            }
            g.map.remove(&key);
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
