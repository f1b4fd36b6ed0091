//! The tree handle: a block store, the codec for one index key, and the node cache.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::IndexConfig;
use super::cache::NodeCache;
use super::entry::Entry;
use super::error::{IndexError, IndexResult};
use super::keys::IndexKey;
use super::node::{Body, Node, NodeCodec};
use crate::block::{self, CODEC_RAW, Cid};
use crate::store::BlockStore;

/// An encrypted, history-independent Prolly tree stored in a [`BlockStore`].
///
/// The handle holds no root: every operation takes the root [`Cid`] to read and returns the new
/// root it wrote, so versions are values and any number of them share unchanged nodes.
pub struct ProllyTree<S: BlockStore + ?Sized> {
    pub(crate) store: Arc<S>,
    pub(crate) codec: NodeCodec,
    cache: NodeCache,
    loads: AtomicU64,
    store_reads: AtomicU64,
    blocks_written: AtomicU64,
}

/// Counters of the work a [`ProllyTree`] has done since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexStats {
    /// Nodes looked up (cache hits and misses).
    pub nodes_loaded: u64,
    /// Nodes fetched from the store (cache misses).
    pub store_reads: u64,
    /// Node blocks written to the store (including rewrites of identical blocks).
    pub blocks_written: u64,
    /// Nodes in the cache now.
    pub cached_nodes: u64,
}

impl<S: BlockStore + ?Sized> ProllyTree<S> {
    /// A tree handle over `store`, encrypting with `key`, chunking and caching per `config`.
    ///
    /// Every device of a vault must use the same `config.target_node_bytes`: it is part of the
    /// tree format (a node chunked with another size is rejected as malformed).
    pub fn new(store: Arc<S>, key: &IndexKey, config: IndexConfig) -> IndexResult<Self> {
        Ok(ProllyTree {
            store,
            codec: NodeCodec::new(key, &config)?,
            cache: NodeCache::new(config.cache_bytes),
            loads: AtomicU64::new(0),
            store_reads: AtomicU64::new(0),
            blocks_written: AtomicU64::new(0),
        })
    }

    /// The block store.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The node codec (for tools and proofs).
    pub fn codec(&self) -> &NodeCodec {
        &self.codec
    }

    /// Drops every cached node (to measure cold reads).
    pub fn clear_cache(&self) {
        self.cache.clear();
    }

    /// Work counters.
    pub fn stats(&self) -> IndexStats {
        IndexStats {
            nodes_loaded: self.loads.load(Ordering::Relaxed),
            store_reads: self.store_reads.load(Ordering::Relaxed),
            blocks_written: self.blocks_written.load(Ordering::Relaxed),
            cached_nodes: self.cache.len() as u64,
        }
    }

    /// Loads and checks the node `cid` (from the cache when possible).
    pub(crate) async fn load(&self, cid: &Cid) -> IndexResult<Arc<Node>> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        // The cache is keyed by digest: only coffer node CIDs (raw, blake3-256) may reach it.
        if cid.codec() != CODEC_RAW {
            return Err(IndexError::Structure {
                cid: cid.to_string(),
                detail: "index nodes use the raw codec",
            });
        }
        block::blake3_digest(cid)?;
        if let Some(node) = self.cache.get(cid) {
            return Ok(node);
        }
        self.store_reads.fetch_add(1, Ordering::Relaxed);
        let bytes = self.store.get(cid).await?;
        let node = Arc::new(self.codec.open(cid, &bytes)?);
        self.cache.insert(*cid, node.clone());
        Ok(node)
    }

    /// Loads child `i` of `parent` and checks that it fits: one level down, non-empty, and
    /// starting with the parent's separator key.
    pub(crate) async fn load_child(&self, parent: &Node, i: usize) -> IndexResult<Arc<Node>> {
        let Body::Internal(children) = parent.body() else {
            return Err(IndexError::Structure {
                cid: String::new(),
                detail: "a leaf has no children",
            });
        };
        let cid = &children[i];
        let child = self.load(cid).await?;
        let structure = |detail| {
            Err(IndexError::Structure {
                cid: cid.to_string(),
                detail,
            })
        };
        if child.level() + 1 != parent.level() {
            return structure(
                "its level is not its parent's minus one (a cycle or a misplaced node)",
            );
        }
        if child.keys().first() != Some(&parent.keys()[i]) {
            return structure("its first key differs from its parent's separator key");
        }
        Ok(child)
    }

    /// Encrypts `node`, caches it, and returns its block for the store.
    pub(crate) fn seal_node(&self, node: Node) -> IndexResult<(Cid, Bytes)> {
        let (cid, bytes) = self.codec.seal(&node)?;
        self.cache.insert(cid, Arc::new(node));
        Ok((cid, Bytes::from(bytes)))
    }

    /// Writes blocks to the store, a few at a time.
    pub(crate) async fn put_blocks(&self, blocks: &mut Vec<(Cid, Bytes)>) -> IndexResult<()> {
        if blocks.is_empty() {
            return Ok(());
        }
        self.blocks_written
            .fetch_add(blocks.len() as u64, Ordering::Relaxed);
        let puts = blocks
            .drain(..)
            .map(|(cid, bytes)| async move { self.store.put(&cid, bytes).await });
        futures_util::future::try_join_all(puts).await?;
        Ok(())
    }

    /// Writes the empty tree and returns its root: a leaf with no entries.
    pub async fn empty_root(&self) -> IndexResult<Cid> {
        let (cid, bytes) = self.seal_node(Node::leaf(Vec::new(), Vec::new()))?;
        self.put_blocks(&mut vec![(cid, bytes)]).await?;
        Ok(cid)
    }

    /// The root [`ProllyTree::empty_root`] writes, without writing it (the node is deterministic
    /// under the index key).
    pub fn empty_root_cid(&self) -> IndexResult<Cid> {
        Ok(self.seal_node(Node::leaf(Vec::new(), Vec::new()))?.0)
    }

    /// The number of levels of the tree at `root` (1 for a single leaf).
    pub async fn depth(&self, root: &Cid) -> IndexResult<u32> {
        Ok(u32::from(self.load(root).await?.level()) + 1)
    }

    /// The entry stored under `key`, tombstones included.
    pub async fn get_entry(&self, root: &Cid, key: &[u8]) -> IndexResult<Option<Entry>> {
        let mut node = self.load(root).await?;
        while !node.is_empty() {
            match node.body() {
                Body::Internal(_) => {
                    let i = node.child_for(key);
                    node = self.load_child(&node, i).await?;
                }
                Body::Leaf(entries) => {
                    return Ok(node.keys().find(key).map(|i| entries[i].clone()));
                }
            }
        }
        Ok(None)
    }

    /// The live entry under `key`: `None` when the key is absent or deleted (a tombstone).
    pub async fn get(&self, root: &Cid, key: &[u8]) -> IndexResult<Option<Entry>> {
        Ok(self
            .get_entry(root, key)
            .await?
            .filter(|e| !e.is_tombstone()))
    }
}
