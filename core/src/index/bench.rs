//! The measured index workload behind `coffer bench index` (feature `bench-internals`, native).
//!
//! Keys have S3 shapes, `photos/<year>/<album>/IMG_<n>.jpg`; values are 36-byte CIDs. Everything
//! runs on the calling thread with the in-memory store and a warm node cache unless said. Times
//! are the calling thread's CPU time where Linux reports it (`/proc/thread-self/schedstat`), so the
//! figures mean "on one core" even on a busy machine; elsewhere they are wall-clock time
//! (`timing` in the report says which).

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
    /// Random `get` without a cache (fetch, verify, decrypt, decode and check every node on the
    /// path), microseconds.
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
    /// `"thread-cpu"` or `"wall"`: what the times measure.
    pub timing: &'static str,
    /// Wall-clock seconds of the whole run.
    pub wall_s: f64,
}

/// A stopwatch of the calling thread's CPU time (Linux), else of wall-clock time.
struct Stopwatch {
    cpu_ns: Option<u64>,
    wall: Instant,
}

fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

impl Stopwatch {
    fn start() -> Self {
        Stopwatch {
            cpu_ns: thread_cpu_ns(),
            wall: Instant::now(),
        }
    }

    fn secs(&self) -> f64 {
        match (self.cpu_ns, thread_cpu_ns()) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64 / 1e9,
            _ => self.wall.elapsed().as_secs_f64(),
        }
    }

    /// Whether enough time has passed for a figure that does not suffer from the scheduler's
    /// tick-granular CPU accounting (at least `MIN_RUN_S` of wall time and `min_runs` runs).
    fn enough(&self, runs: u32, min_runs: u32) -> bool {
        runs >= min_runs && self.wall.elapsed().as_secs_f64() >= MIN_RUN_S
    }
}

/// Each timed figure repeats its operation for at least this long (CPU time is accounted per
/// scheduler tick, a few ms, so short runs would be mostly rounding).
const MIN_RUN_S: f64 = 1.0;

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
    let run_start = Instant::now();
    let store = Arc::new(MemoryStore::new());
    let config = IndexConfig {
        cache_bytes: 2 << 30,
        ..IndexConfig::default()
    };
    let tree = ProllyTree::new(store.clone(), &IndexKey::from_bytes([42; 32]), config)?;
    let entries = photo_entries(n);

    let t = Stopwatch::start();
    let root = tree.build(entries).await?;
    let bulk_s = t.secs();
    let blocks = store.len();
    let bytes_per_key = store.total_bytes() as f64 / n as f64;
    let depth = tree.depth(&root).await?;

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let probes: Vec<Vec<u8>> = (0..20_000).map(|_| photo_key(rng.below(n))).collect();
    // Cold: a handle without a cache on the same store, so every get fetches, verifies,
    // decrypts, decodes and checks each node on its path.
    let uncached = ProllyTree::new(
        store.clone(),
        &IndexKey::from_bytes([42; 32]),
        IndexConfig {
            cache_bytes: 0,
            ..config
        },
    )?;
    let t = Stopwatch::start();
    let mut cold = 0u32;
    while !t.enough(cold, 100) {
        uncached
            .get(&root, &probes[cold as usize % probes.len()])
            .await?;
        cold += 1;
    }
    let get_cold_us = t.secs() * 1e6 / f64::from(cold);
    drop(uncached);
    // Warm every node (a full scan) so gets measure the warm path.
    tree.range(&root, None, None).await?.collect().await?;
    let t = Stopwatch::start();
    let mut rounds = 0u32;
    while !t.enough(rounds, 5) {
        for k in &probes {
            if tree.get(&root, k).await?.is_none() {
                return Err(super::IndexError::InvalidProof(
                    "bench: a loaded key is missing".into(),
                ));
            }
        }
        rounds += 1;
    }
    let get_us = t.secs() * 1e6 / (rounds as usize * probes.len()) as f64;

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
    let (_, diff_nodes_read) = tree.diff(&root, &changed).collect().await?;
    let t = Stopwatch::start();
    let mut runs = 0u32;
    while !t.enough(runs, 3) {
        tree.diff(&root, &changed).collect().await?;
        runs += 1;
    }
    let diff_ms = t.secs() * 1e3 / f64::from(runs);

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
    let t = Stopwatch::start();
    let mut runs = 0u32;
    while !t.enough(runs, 3) {
        tree.merge(&a, &b).await?;
        runs += 1;
    }
    let merge_ms = t.secs() * 1e3 / f64::from(runs);

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
        timing: if thread_cpu_ns().is_some() {
            "thread-cpu"
        } else {
            "wall"
        },
        wall_s: run_start.elapsed().as_secs_f64(),
    })
}

async fn time_list(
    tree: &ProllyTree<MemoryStore>,
    root: &Cid,
    req: &ListRequest,
) -> IndexResult<f64> {
    tree.list(root, req).await?;
    let t = Stopwatch::start();
    let mut runs = 0u32;
    while !t.enough(runs, 20) {
        tree.list(root, req).await?;
        runs += 1;
    }
    Ok(t.secs() * 1e3 / f64::from(runs))
}
