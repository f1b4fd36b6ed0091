//! The collection protocol under a real race: one device prunes in a loop with no window (every
//! unreferenced block goes at once) and a short grace period, keeping no noncurrent version and
//! expiring deleted keys at once, while another device puts, overwrites, copies, tags, streams and
//! deletes in a loop. No committed object may ever be lost: the writer checks its objects as it
//! goes, and at the end both devices read every key back.
//!
//! The race ends on progress, not on a clock: both loops go on until the writer has done
//! [`Goal::ops`] operations and the pruner [`Goal::prunes`] collections, so a slow machine runs
//! longer instead of failing. A step of either loop that does not finish within [`STALL`] fails
//! the test (a starved writer or a hung store call would otherwise hang CI).
//!
//! Runs on the memory and directory stores here, and on SeaweedFS in `store_s3.rs`'s environment
//! (`.ci/seaweedfs.sh start`; the S3 test fails, never skips, without it).
// Test code: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use coffer::keys::Identity;
use coffer::store::{BlockStore, DirStore, HeadStore, MemoryStore};
use coffer::vault::{
    GcTiming, Noncurrent, PruneOptions, PutOptions, RetentionPolicy, RetentionRule, Vault,
    VaultError,
};

const KEYS: u64 = 24;
/// `T`, short for a test yet far above the few ms a writer takes from reading the GC record to
/// finishing its head write here (with `T = 0` this test loses objects within a second).
pub const GRACE_MS: u64 = 150;

fn identity() -> Identity {
    Identity::from_seed(&[77u8; 32])
}

fn content(n: u64) -> Vec<u8> {
    let h = blake3::hash(&n.to_le_bytes());
    let b = h.as_bytes();
    // Mostly small; some with an outboard; now and then a streamed multi-chunk object.
    let len = match b[0] % 16 {
        0 => 1_200_000 + usize::from(b[1]) * 100,
        1..=4 => 40_000 + usize::from(b[1]) * 50,
        _ => usize::from(b[1]) * 20,
    };
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(&n.to_le_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

fn timing(grace_ms: u64) -> GcTiming {
    GcTiming {
        grace_ms,
        lease_ms: 30_000,
        skew_ms: 2_000,
        poll_ms: 5,
    }
}

/// How much racing makes a run: the writer's operations and the pruner's collections.
#[derive(Debug, Clone, Copy)]
pub struct Goal {
    /// Writer operations attempted.
    pub ops: u64,
    /// Prunes completed.
    pub prunes: u64,
}

/// The longest either loop may go without finishing one step: far above any step here (a
/// liveness guard against a starved writer, not a speed claim).
const STALL: Duration = Duration::from_secs(300);

/// Both loops' progress, shared: each goes on until both goals are met.
#[derive(Default)]
struct Progress {
    ops: AtomicU64,
    prunes: AtomicU64,
}

impl Progress {
    fn done(&self, goal: Goal) -> bool {
        self.ops.load(Ordering::Relaxed) >= goal.ops
            && self.prunes.load(Ordering::Relaxed) >= goal.prunes
    }
}

/// Runs one step of a loop; panics when it does not finish within [`STALL`].
async fn step<T>(what: &str, work: impl Future<Output = T>) -> T {
    match tokio::time::timeout(STALL, work).await {
        Ok(out) => out,
        Err(_) => panic!("a step of the {what} did not finish within {STALL:?}"),
    }
}

/// What the race did.
#[derive(Debug, Default)]
pub struct RaceReport {
    /// Writer operations attempted.
    pub ops: u64,
    /// Prunes completed.
    pub prunes: u64,
    /// Blocks they deleted.
    pub swept: u64,
    /// Streamed puts refused because every attempt's blocks were collected before the commit.
    pub streamed_refused: u64,
}

/// Runs the race on `store` until `goal` is met; panics on any lost object.
pub async fn race<S>(
    store: Arc<S>,
    vault: &str,
    goal: Goal,
    grace_ms: u64,
    pause_ms: u64,
) -> RaceReport
where
    S: BlockStore + HeadStore + ?Sized + 'static,
{
    let mut writer = Vault::open_or_create(store.clone(), identity(), vault, "writer")
        .await
        .expect("writer opens");
    writer.set_gc_timing(timing(grace_ms));
    let mut pruner = Vault::open(store.clone(), identity(), vault, "pruner")
        .await
        .expect("pruner opens");
    pruner.set_gc_timing(timing(grace_ms));
    pruner
        .set_retention(&RetentionPolicy {
            rules: vec![RetentionRule {
                prefix: Vec::new(),
                noncurrent: Noncurrent::KeepNone,
                deleted_after_ms: Some(0),
            }],
        })
        .await
        .expect("policy");
    let progress = Arc::new(Progress::default());
    let (pruner_progress, writer_progress) = (progress.clone(), progress.clone());
    let spool = tempfile::NamedTempFile::new().expect("spool");
    let spool_path = spool.path().to_path_buf();

    let pruning = async move {
        let mut swept = 0u64;
        while !pruner_progress.done(goal) {
            let options = PruneOptions {
                window_ms: 0,
                ..Default::default()
            };
            let r = step("pruner", pruner.prune(options, None))
                .await
                .expect("prune");
            assert!(r.missing.is_empty(), "referenced blocks missing: {r:?}");
            swept += r.swept.blocks;
            pruner_progress.prunes.fetch_add(1, Ordering::Relaxed);
            // A writer waits out every collection: leave it room between them (a pruner in a
            // tight loop would starve it, never make it lose anything).
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        }
        (pruner, swept)
    };
    let writing = async move {
        let mut model: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        let mut n = 0u64;
        let mut streamed_refused = 0u64;
        while !writer_progress.done(goal) {
            n += 1;
            writer_progress.ops.fetch_add(1, Ordering::Relaxed);
            let refused = step("writer", async {
                let h = blake3::hash(&n.to_be_bytes());
                let b = h.as_bytes();
                let key = format!("k/{:02}", u64::from(b[0]) % KEYS);
                match b[1] % 10 {
                    0 => {
                        let r = writer.delete(key.as_bytes()).await;
                        match r {
                            Ok(()) => assert!(model.remove(&key).is_some()),
                            Err(VaultError::NotFound) => assert!(!model.contains_key(&key)),
                            Err(e) => panic!("delete {key}: {e}"),
                        }
                    }
                    1 => {
                        let src = format!("k/{:02}", u64::from(b[2]) % KEYS);
                        match writer.copy(src.as_bytes(), key.as_bytes()).await {
                            Ok(_) => {
                                let v = model.get(&src).expect("copied a live key").clone();
                                model.insert(key.clone(), v);
                            }
                            Err(VaultError::NotFound) => assert!(!model.contains_key(&src)),
                            Err(e) => panic!("copy {src} {key}: {e}"),
                        }
                    }
                    2 if model.contains_key(&key) => {
                        let tags = BTreeMap::from([("n".to_string(), n.to_string())]);
                        writer
                            .set_tags(key.as_bytes(), tags.clone())
                            .await
                            .expect("tags");
                        assert_eq!(writer.tags(key.as_bytes()).await.expect("tags"), tags);
                    }
                    _ => {
                        let c = content(n);
                        if c.len() > 1_000_000 {
                            std::fs::write(&spool_path, &c).expect("spool");
                            let r = writer
                                .put_source(
                                    key.as_bytes(),
                                    &mut spool_path.clone(),
                                    PutOptions::default(),
                                    None,
                                )
                                .await;
                            match r {
                                Ok(_) => {}
                                // A collection with no window took the streamed object every time
                                // it was sent: refused, nothing committed (the model stays).
                                Err(VaultError::UploadCollected) => return true,
                                Err(e) => panic!("streamed put: {e}"),
                            }
                        } else {
                            writer
                                .put(key.as_bytes(), c.clone(), PutOptions::default())
                                .await
                                .expect("put");
                        }
                        model.insert(key.clone(), c);
                    }
                }
                // Read back a committed object now and then, while the pruner runs.
                if n.is_multiple_of(5) {
                    let probe = format!("k/{:02}", u64::from(b[3]) % KEYS);
                    check_read(&probe, writer.get(probe.as_bytes()).await, &model);
                }
                false
            })
            .await;
            streamed_refused += u64::from(refused);
        }
        (writer, model, n, streamed_refused)
    };
    // Each device on its own task: their store calls run in parallel.
    let pruning = tokio::spawn(pruning);
    let writing = tokio::spawn(writing);
    let (mut writer, model, ops, streamed_refused) = writing.await.expect("the writer");
    let (mut pruner, swept) = pruning.await.expect("the pruner");
    let report = RaceReport {
        ops,
        prunes: progress.prunes.load(Ordering::Relaxed),
        swept,
        streamed_refused,
    };
    // One more prune with everything settled, then both devices read everything back.
    writer.sync().await.expect("writer syncs");
    pruner.sync().await.expect("pruner syncs");
    pruner
        .prune(
            PruneOptions {
                window_ms: 0,
                ..Default::default()
            },
            None,
        )
        .await
        .expect("last prune");
    writer.sync().await.expect("writer syncs");
    for v in [&writer, &pruner] {
        for k in 0..KEYS {
            let key = format!("k/{k:02}");
            check_read(&key, v.get(key.as_bytes()).await, &model);
        }
    }
    eprintln!("race on {vault}: {report:?}");
    report
}

/// Asserts that what a device read of `key` is what the model says was committed: the same
/// bytes, or no such key.
fn check_read(key: &str, got: Result<Vec<u8>, VaultError>, model: &BTreeMap<String, Vec<u8>>) {
    match (got, model.get(key)) {
        (Ok(got), Some(want)) => assert!(got == *want, "{key} lost or changed its content"),
        (Err(VaultError::NotFound), None) => {}
        (got, want) => panic!(
            "{key}: read {:?}, committed {:?}",
            got.map(|g| g.len()),
            want.map(Vec::len)
        ),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn race_on_tasks<S>(store: Arc<S>, vault: &'static str, goal: Goal, grace_ms: u64) -> RaceReport
where
    S: BlockStore + HeadStore + ?Sized + 'static,
{
    runtime().block_on(race(store, vault, goal, grace_ms, grace_ms))
}

#[test]
fn a_pruner_never_loses_a_writers_committed_objects_in_memory() {
    let goal = Goal {
        ops: 200,
        prunes: 15,
    };
    race_on_tasks(Arc::new(MemoryStore::new()), "race-mem", goal, GRACE_MS);
}

#[test]
fn a_pruner_never_loses_a_writers_committed_objects_on_a_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(DirStore::open(dir.path()).expect("dir store"));
    let goal = Goal {
        ops: 100,
        prunes: 15,
    };
    race_on_tasks(store, "race-dir", goal, GRACE_MS);
}

/// The same race on SeaweedFS: conditional head writes over HTTP, batched `DeleteObjects`.
#[cfg(feature = "s3")]
#[test]
fn a_pruner_never_loses_a_writers_committed_objects_on_seaweedfs() {
    use coffer::store::s3::{S3Config, S3Store};
    let env = |name: &str| match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: this test needs SeaweedFS. Start it with `.ci/seaweedfs.sh \
             start` and `source .ci/state/env`, or run `.ci/test-stores.sh`"
        ),
    };
    runtime().block_on(async {
        env("AWS_ACCESS_KEY_ID");
        let mut config = S3Config::new(env("COFFER_TEST_S3_BUCKET"));
        config.endpoint = Some(env("COFFER_TEST_S3_ENDPOINT"));
        config.path_style = true;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        config.prefix = format!("tests/prune-race-{nanos}-{}", std::process::id());
        let store = S3Store::connect(config).await.expect("S3 client");
        store.check_bucket().await.expect("the test bucket");
        let goal = Goal {
            ops: 60,
            prunes: 10,
        };
        race(Arc::new(store), "race-s3", goal, 300, 300).await
    });
}
