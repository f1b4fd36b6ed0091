//! Durability: a process writing to a vault on the local directory store is killed (SIGKILL) at
//! random points, again and again; after each kill the vault must open, every operation the child
//! reported as committed must be there, and the one in flight must be all there or not at all.
//!
//! The child is this test binary run again with `COFFER_CRASH_CHILD` set (`crash_child` below).
// Test code: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer::keys::Identity;
use coffer::store::DirStore;
use coffer::vault::{PutOptions, Vault, VaultError};
use futures_executor::block_on;

const KEYS: u64 = 12;
const ITERATIONS: u64 = 14;
const OPS_PER_CHILD: u64 = 400;

fn identity() -> Identity {
    Identity::from_seed(&[42u8; 32])
}

/// Operation `n` of the deterministic sequence: `(key, Some(content))` puts, `(key, None)` deletes.
fn op(n: u64) -> (String, Option<Vec<u8>>) {
    let h = blake3::hash(&n.to_le_bytes());
    let b = h.as_bytes();
    let key = format!("k/{:02}", u64::from(b[0]) % KEYS);
    if b[1].is_multiple_of(5) {
        return (key, None);
    }
    // Mostly small; now and then a streamed multi-chunk object.
    let len = if b[2].is_multiple_of(16) {
        1_500_000 + usize::from(b[3]) * 1000
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

/// The child: applies operations `first..first + OPS_PER_CHILD`, printing `committed N` after
/// each returns. Runs only when the parent sets `COFFER_CRASH_CHILD`.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("COFFER_CRASH_CHILD") else {
        return;
    };
    let first: u64 = std::env::var("COFFER_CRASH_FIRST")
        .unwrap()
        .parse()
        .unwrap();
    block_on(async {
        let store = Arc::new(DirStore::open(&dir).unwrap());
        let mut v = Vault::open_or_create(store, identity(), "crash", "device")
            .await
            .unwrap();
        let spool = std::path::Path::new(&dir).join("spool");
        let mut out = std::io::stdout().lock();
        for n in first..first + OPS_PER_CHILD {
            let (key, content) = op(n);
            match content {
                Some(c) if c.len() > 1_000_000 => {
                    std::fs::write(&spool, &c).unwrap();
                    v.put_source(
                        key.as_bytes(),
                        &mut spool.clone(),
                        PutOptions::default(),
                        None,
                    )
                    .await
                    .unwrap();
                }
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

#[test]
fn killed_at_random_points_loses_nothing_committed() {
    if std::env::var("COFFER_CRASH_CHILD").is_ok() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let seed = std::env::var("COFFER_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("COFFER_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let exe = std::env::current_exe().unwrap();
    // The model: what each key must hold after the committed operations.
    let mut model: BTreeMap<String, Option<Vec<u8>>> = BTreeMap::new();
    let mut next = 0u64;
    let mut kills = 0;
    for iteration in 0..ITERATIONS {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env("COFFER_CRASH_CHILD", dir.path())
            .env("COFFER_CRASH_FIRST", next.to_string())
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
                    tx.send(n.parse::<u64>().unwrap()).unwrap();
                }
            }
        });
        // Let it commit a random number of operations, then kill it a random moment later: most
        // kills land inside an operation (sealing, writing blocks, or writing the head).
        let target = 1 + rng.below(8);
        let mut last = None;
        let mut seen = 0;
        let deadline = Instant::now() + Duration::from_secs(300);
        while seen < target {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(n) => {
                    last = Some(n);
                    seen += 1;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    assert!(
                        Instant::now() < deadline,
                        "the child made no progress in 5 minutes"
                    );
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    panic!("the child exited early: {:?}", child.wait());
                }
            }
        }
        std::thread::sleep(Duration::from_micros(rng.below(40_000)));
        let killed = child.kill().is_ok();
        let status = child.wait().unwrap();
        reader.join().unwrap();
        while let Ok(n) = rx.try_recv() {
            last = Some(n);
        }
        if killed && !status.success() {
            kills += 1;
        }
        // Apply the committed operations to the model; the next one may be half done.
        let done = last.map_or(next, |n| n + 1);
        for n in next..done {
            let (key, content) = op(n);
            model.insert(key, content);
        }
        let in_flight = op(done);
        next = done;

        let got = block_on(async {
            let store = Arc::new(DirStore::open(dir.path()).unwrap());
            let v = Vault::open(store, identity(), "crash", "device")
                .await
                .unwrap_or_else(|e| {
                    panic!("iteration {iteration}: the vault no longer opens: {e}")
                });
            let mut got = BTreeMap::new();
            for k in 0..KEYS {
                let key = format!("k/{k:02}");
                let value = match v.get(key.as_bytes()).await {
                    Ok(bytes) => Some(bytes),
                    Err(VaultError::NotFound) => None,
                    Err(e) => panic!("iteration {iteration}: {key} is unreadable: {e}"),
                };
                got.insert(key, value);
            }
            got
        });
        for (key, value) in &got {
            let want = model.get(key).cloned().flatten();
            if *value == want {
                continue;
            }
            // Only the operation in flight may show, and only whole.
            assert!(
                *key == in_flight.0 && *value == in_flight.1,
                "iteration {iteration} (seed {seed}): {key} lost a committed write \
                 (has {:?} bytes, committed {:?} bytes)",
                value.as_ref().map(Vec::len),
                want.as_ref().map(Vec::len)
            );
            // It did commit: account for it.
            model.insert(key.clone(), value.clone());
            next = done + 1;
        }
    }
    println!("{kills} kills, {next} operations committed");
    assert!(
        kills >= ITERATIONS / 2,
        "the child was rarely killed mid-run ({kills})"
    );
    assert!(
        next > 20,
        "too few operations committed to mean anything ({next})"
    );
}
