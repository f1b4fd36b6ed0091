//! The measured index workload behind `coffer bench index` (feature `bench-internals`, native).
//!
//! Keys have S3 shapes, `photos/<year>/<album>/IMG_<n>.jpg`; values are 36-byte CIDs. Times are
//! wall-clock on the calling thread, with the in-memory store and a warm node cache unless said.

use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::{
    Entry, Hlc, IndexConfig, IndexKey, IndexResult, ListRequest, Mutation, ProllyTree, WriterId,
};
use crate::block::{Cid, raw_cid};
use crate::store::MemoryStore;

/// Figures of one run of [`run`].
#[derive(Clone, Debug, Serialize)]
pub struct IndexBenchReport {
    /// Number of keys loaded.
    pub keys: usize,
    /// Bulk load (sorted build, encryption and store writes included), keys per second.
    pub bulk_load_keys_per_s: f64,
    /// Random `get` of an existing key, warm cache, microseconds.
    pub get_us: f64,
    /// Random `get` with an empty cache (decrypt and decode every node on the path), microseconds.
    pub get_cold_us: f64,
    /// A 1,000-key ListObjectsV2 page under a prefix, warm, milliseconds.
    pub list_page_ms: f64,
    /// A 1,000-common-prefix page with delimiter `/` (each prefix rolls up ~100 keys), warm, ms.
    pub list_page_delimiter_ms: f64,
    /// Keys changed between the two diffed trees.
    pub diff_changes: usize,
    /// Nodes read (both trees) by the diff of two trees that differ in `diff_changes` keys.
    pub diff_nodes_read: u64,
    /// Time of that diff, milliseconds.
    pub diff_ms: f64,
    /// Levels of the tree.
    pub depth: u32,
    /// CRDT merge of two writers' trees, each with 1,000 concurrent changes, milliseconds.
    pub merge_ms: f64,
    /// Store bytes (encrypted nodes, all levels) per key.
    pub bytes_per_key: f64,
    /// Node blocks in the store.
    pub blocks: usize,
    /// Target node size used.
    pub target_node_bytes: u32,
}

/// A small deterministic PRNG (xorshift64*), so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The key of item `i`: 10 years, 1,000 albums each, then images.
pub fn photo_key(i: usize) -> Vec<u8> {
    format!(
        "photos/{}/{:04}/IMG_{:05}.jpg",
        2015 + i % 10,
        (i / 10) % 1000,
        i / 10_000
    )
    .into_bytes()
}

fn value_for(i: usize, salt: u64) -> Vec<u8> {
    raw_cid(&(i as u64 ^ salt).to_le_bytes()).to_bytes()
}

/// `n` entries with [`photo_key`]s, sorted by key.
pub fn photo_entries(n: usize) -> Vec<(Vec<u8>, Entry)> {
    let writer = WriterId([1; 16]);
    let mut v: Vec<_> = (0..n)
        .map(|i| {
            (
                photo_key(i),
                Entry::live(value_for(i, 0), Hlc::new(1_700_000_000_000, 0), writer),
            )
        })
        .collect();
    v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    v
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Changes `count` random existing keys, as `writer` at `time`.
async fn change(
    tree: &ProllyTree<MemoryStore>,
    root: &Cid,
    n: usize,
    count: usize,
    rng: &mut Rng,
    writer: WriterId,
    time: Hlc,
) -> IndexResult<Cid> {
    let batch: Vec<_> = (0..count)
        .map(|_| {
            let i = rng.below(n);
            (
                photo_key(i),
                Mutation::Put(Entry::live(value_for(i, rng.next()), time, writer)),
            )
        })
        .collect();
    tree.apply(root, batch).await
}

/// Runs the index workload on `n_keys` keys (1,000,000 for the published figures).
pub async fn run(n_keys: usize) -> IndexResult<IndexBenchReport> {
    let n = n_keys.max(1);
    let store = Arc::new(MemoryStore::new());
    let config = IndexConfig {
        cache_bytes: 2 << 30,
        ..IndexConfig::default()
    };
    let tree = ProllyTree::new(store.clone(), &IndexKey::from_bytes([42; 32]), config)?;
    let entries = photo_entries(n);

    let t = Instant::now();
    let root = tree.build(entries).await?;
    let bulk_s = t.elapsed().as_secs_f64();
    let blocks = store.len();
    let bytes_per_key = store.total_bytes() as f64 / n as f64;
    let depth = tree.depth(&root).await?;

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let probes: Vec<Vec<u8>> = (0..20_000).map(|_| photo_key(rng.below(n))).collect();
    tree.clear_cache();
    let t = Instant::now();
    for k in probes.iter().take(2_000) {
        tree.get(&root, k).await?;
    }
    let get_cold_us = t.elapsed().as_secs_f64() * 1e6 / 2_000f64;
    // Warm every node (a full scan) so gets measure the warm path.
    tree.range(&root, None, None).await?.collect().await?;
    let t = Instant::now();
    let mut found = 0usize;
    for _ in 0..5 {
        for k in &probes {
            found += usize::from(tree.get(&root, k).await?.is_some());
        }
    }
    let get_us = t.elapsed().as_secs_f64() * 1e6 / (5 * probes.len()) as f64;
    debug_assert_eq!(found, 5 * probes.len());

    let flat = ListRequest {
        prefix: b"photos/2024/".to_vec(),
        max_keys: Some(1000),
        ..ListRequest::default()
    };
    let delim = ListRequest {
        delimiter: Some(b"/".to_vec()),
        ..flat.clone()
    };
    let list_page_ms = time_list(&tree, &root, &flat).await?;
    let list_page_delimiter_ms = time_list(&tree, &root, &delim).await?;

    let diff_changes = 100.min(n);
    let changed = change(
        &tree,
        &root,
        n,
        diff_changes,
        &mut rng,
        WriterId([2; 16]),
        Hlc::new(1_800_000_000_000, 0),
    )
    .await?;
    let t = Instant::now();
    let (_, diff_nodes_read) = tree.diff(&root, &changed).collect().await?;
    let diff_ms = ms(t);

    let a = change(
        &tree,
        &root,
        n,
        1000.min(n),
        &mut rng,
        WriterId([3; 16]),
        Hlc::new(1_800_000_000_001, 0),
    )
    .await?;
    let b = change(
        &tree,
        &root,
        n,
        1000.min(n),
        &mut rng,
        WriterId([4; 16]),
        Hlc::new(1_800_000_000_001, 0),
    )
    .await?;
    let t = Instant::now();
    tree.merge(&a, &b).await?;
    let merge_ms = ms(t);

    Ok(IndexBenchReport {
        keys: n,
        bulk_load_keys_per_s: n as f64 / bulk_s,
        get_us,
        get_cold_us,
        list_page_ms,
        list_page_delimiter_ms,
        diff_changes,
        diff_nodes_read,
        diff_ms,
        depth,
        merge_ms,
        bytes_per_key,
        blocks,
        target_node_bytes: config.target_node_bytes,
    })
}

async fn time_list(
    tree: &ProllyTree<MemoryStore>,
    root: &Cid,
    req: &ListRequest,
) -> IndexResult<f64> {
    tree.list(root, req).await?;
    let runs = 20;
    let t = Instant::now();
    for _ in 0..runs {
        tree.list(root, req).await?;
    }
    Ok(ms(t) / f64::from(runs))
}
