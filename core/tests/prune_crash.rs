//! Crash safety of pruning: a process that writes and prunes a vault on the local directory
//! store (no window, a short grace period, keeping no noncurrent version) is killed (SIGKILL) at
//! random points, again and again. After each kill every committed object must read back (the
//! operation in flight all there or not at all), no block a head references may be missing, and
//! the next run must take over the collection the killed one left and prune again.
//!
//! The child is this test binary run again with `COFFER_PRUNE_CHILD` set (`prune_child` below).
// Test code: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer::keys::Identity;
use coffer::store::DirStore;
use coffer::vault::{
    GcPhase, GcTiming, Noncurrent, PruneOptions, PutOptions, RetentionPolicy, RetentionRule, Vault,
    VaultError,
};
use futures_executor::block_on;

const KEYS: u64 = 10;
const ITERATIONS: u64 = 20;
const OPS_PER_CHILD: u64 = 400;
/// The child prunes after every this many operations.
const PRUNE_EVERY: u64 = 3;

fn identity() -> Identity {
    Identity::from_seed(&[43u8; 32])
}

fn timing() -> GcTiming {
    GcTiming {
        grace_ms: 30,
        lease_ms: 60_000,
        skew_ms: 1_000,
        poll_ms: 5,
    }
}

/// Operation `n`: `(key, Some(content))` puts, `(key, None)` deletes.
fn op(n: u64) -> (String, Option<Vec<u8>>) {
    let h = blake3::hash(&n.to_le_bytes());
    let b = h.as_bytes();
    let key = format!("k/{:02}", u64::from(b[0]) % KEYS);
    if b[1].is_multiple_of(5) {
        return (key, None);
    }
    let len = if b[2].is_multiple_of(8) {
        60_000 + usize::from(b[3]) * 100
    } else {
        usize::from(b[3]) * 37
    };
    let mut content = vec![0u8; len];
    blake3::Hasher::new()
        .update(&n.to_le_bytes())
        .finalize_xof()
        .fill(&mut content);
    (key, Some(content))
}

fn prune_now() -> PruneOptions {
    PruneOptions {
        window_ms: 0,
        ..Default::default()
    }
}

/// The child: operations `first..`, printing `committed N` after each and pruning every
/// [`PRUNE_EVERY`]. Runs only when the parent sets `COFFER_PRUNE_CHILD`.
#[test]
fn prune_child() {
    let Ok(dir) = std::env::var("COFFER_PRUNE_CHILD") else {
        return;
    };
    let first: u64 = std::env::var("COFFER_PRUNE_FIRST")
        .unwrap()
        .parse()
        .unwrap();
    block_on(async {
        let store = Arc::new(DirStore::open(&dir).unwrap());
        let mut v = Vault::open_or_create(store, identity(), "pc", "device")
            .await
            .unwrap();
        v.set_gc_timing(timing());
        if v.retention().await.unwrap().rules.is_empty() {
            v.set_retention(&RetentionPolicy {
                rules: vec![RetentionRule {
                    prefix: Vec::new(),
                    noncurrent: Noncurrent::KeepNone,
                    deleted_after_ms: Some(0),
                }],
            })
            .await
            .unwrap();
        }
        let mut out = std::io::stdout().lock();
        for n in first..first + OPS_PER_CHILD {
            let (key, content) = op(n);
            match content {
                Some(c) => {
                    v.put(key.as_bytes(), c, PutOptions::default())
                        .await
                        .unwrap();
                }
                None => match v.delete(key.as_bytes()).await {
                    Ok(()) | Err(VaultError::NotFound) => {}
                    Err(e) => panic!("delete: {e}"),
                },
            }
            writeln!(out, "committed {n}").unwrap();
            out.flush().unwrap();
            if n % PRUNE_EVERY == 0 {
                v.prune(prune_now(), None).await.unwrap();
                writeln!(out, "pruned").unwrap();
                out.flush().unwrap();
            }
        }
    });
}

/// A small xorshift generator for kill delays (the seed is printed to reproduce a failure).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Opens the vault as the child's device, checks every key against the model (the operation in
/// flight may show, whole), and that no head references a missing block; returns the GC phase
/// the killed child left.
fn check(
    dir: &std::path::Path,
    model: &BTreeMap<String, Option<Vec<u8>>>,
    in_flight: &(String, Option<Vec<u8>>),
    iteration: u64,
) -> GcPhase {
    block_on(async {
        let store = Arc::new(DirStore::open(dir).unwrap());
        let mut v = Vault::open(store, identity(), "pc", "device")
            .await
            .unwrap_or_else(|e| panic!("iteration {iteration}: the vault no longer opens: {e}"));
        v.set_gc_timing(timing());
        let left = v.gc_state().await.unwrap().phase;
        for k in 0..KEYS {
            let key = format!("k/{k:02}");
            let got = match v.get(key.as_bytes()).await {
                Ok(bytes) => Some(bytes),
                Err(VaultError::NotFound) => None,
                Err(e) => panic!("iteration {iteration}: {key} is unreadable: {e}"),
            };
            let want = model.get(&key).cloned().flatten();
            assert!(
                got == want || (key == in_flight.0 && got == in_flight.1),
                "iteration {iteration}: {key} holds {:?} bytes, committed {:?}",
                got.map(|g| g.len()),
                want.map(|w| w.len())
            );
        }
        // Everything the heads reference is in the store (a dry run marks and lists).
        let report = v
            .prune(
                PruneOptions {
                    dry_run: true,
                    window_ms: 0,
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        assert!(
            report.missing.is_empty(),
            "iteration {iteration}: {:?}",
            report.missing
        );
        left
    })
}

#[test]
fn a_prune_killed_at_random_points_loses_nothing_and_runs_again() {
    if std::env::var("COFFER_PRUNE_CHILD").is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let seed = std::env::var("COFFER_PRUNE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("COFFER_PRUNE_SEED={seed}");
    let mut rng = Rng(seed);
    let exe = std::env::current_exe().unwrap();
    let mut model: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    let mut next = 0u64;
    let (mut kills, mut in_collection, mut prunes) = (0, 0, 0);
    for iteration in 0..ITERATIONS {
        let mut child = Command::new(&exe)
            .args(["prune_child", "--exact", "--nocapture", "--test-threads=1"])
            .env("COFFER_PRUNE_CHILD", dir.path())
            .env("COFFER_PRUNE_FIRST", next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("committed ") {
                    tx.send(Some(n.parse::<u64>().unwrap())).unwrap();
                } else if line == "pruned" {
                    tx.send(None).unwrap();
                }
            }
        });
        // Let it commit a few operations (and prune), then kill it a random moment later: a
        // prune (grace period, marking, deleting) takes most of its time.
        let target = 1 + rng.below(6);
        let mut last = None;
        let mut seen = 0;
        let deadline = Instant::now() + Duration::from_secs(300);
        while seen < target {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Some(n)) => {
                    last = Some(n);
                    seen += 1;
                }
                Ok(None) => prunes += 1,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    assert!(Instant::now() < deadline, "no progress in 5 minutes");
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("the child exited early: {:?}", child.wait());
                }
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(250_000)));
        let killed = child.kill().is_ok();
        let status = child.wait().unwrap();
        reader.join().unwrap();
        while let Ok(event) = rx.try_recv() {
            match event {
                Some(n) => last = Some(n),
                None => prunes += 1,
            }
        }
        if killed && !status.success() {
            kills += 1;
        }
        let done = last.map_or(next, |n| n + 1);
        for n in next..done {
            let (key, content) = op(n);
            model.insert(key, content);
        }
        let in_flight = op(done);
        next = done;
        if check(dir.path(), &model, &in_flight, iteration) != GcPhase::Idle {
            in_collection += 1;
        }
        // The check read the in-flight operation's result, if any: it is the model from now on.
        let (key, content) = &in_flight;
        let now = block_on(async {
            let store = Arc::new(DirStore::open(dir.path()).unwrap());
            let v = Vault::open(store, identity(), "pc", "device")
                .await
                .unwrap();
            v.get(key.as_bytes()).await.ok()
        });
        if now == *content {
            model.insert(key.clone(), content.clone());
        }
    }
    // A prune after the last kill takes over whatever collection was left, and deletes.
    block_on(async {
        let store = Arc::new(DirStore::open(dir.path()).unwrap());
        let mut v = Vault::open(store, identity(), "pc", "device")
            .await
            .unwrap();
        v.set_gc_timing(timing());
        let report = v.prune(prune_now(), None).await.unwrap();
        assert!(report.missing.is_empty(), "{:?}", report.missing);
        assert_eq!(v.gc_state().await.unwrap().phase, GcPhase::Idle);
        for (key, want) in &model {
            match (v.get(key.as_bytes()).await, want) {
                (Ok(got), Some(w)) => assert!(got == *w, "{key} changed"),
                (Err(VaultError::NotFound), None) => {}
                (got, want) => panic!(
                    "{key}: read {:?}, committed {:?}",
                    got.map(|g| g.len()),
                    want.as_ref().map(Vec::len)
                ),
            }
        }
    });
    println!(
        "{kills} kills, {in_collection} of them inside a collection, {prunes} prunes completed, \
         {next} operations committed"
    );
    assert!(kills >= ITERATIONS / 2, "too few kills landed: {kills}");
    assert!(
        in_collection >= 2,
        "too few kills landed inside a collection: {in_collection}"
    );
}
