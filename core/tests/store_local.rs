//! The block-store and head-store suites against the memory and directory stores, the directory
//! store across processes, and replication and verification against injected faults.
// Test helpers too: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use coffer::block::raw_cid;
use coffer::store::hostile::{Attack, HostileStore};
use coffer::store::{
    BlockStore, DirStore, FaultConfig, FaultyStore, HeadCondition, HeadStore, MAX_HEADS,
    MemoryStore, ReplicatedStore, ReplicationConfig, StoreError, VerifyingStore, collect_stream,
};
use common::{block_store_suite, data, head_cas_race, head_store_suite};

#[tokio::test]
async fn memory_store_passes_the_vault_suite() {
    common::vault::vault_suite(Arc::new(MemoryStore::new()), "suite").await;
}

#[tokio::test]
async fn dir_store_passes_the_vault_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(DirStore::open(dir.path()).unwrap());
    common::vault::vault_suite(store, "suite").await;
}

#[tokio::test]
async fn memory_store_passes_the_share_suite() {
    common::share::share_suite(Arc::new(MemoryStore::new()), "shared").await;
}

#[tokio::test]
async fn dir_store_passes_the_share_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(DirStore::open(dir.path()).unwrap());
    common::share::share_suite(store, "shared").await;
}

#[tokio::test]
async fn memory_store_passes_the_suites() {
    let store = MemoryStore::new();
    block_store_suite(&store, "memory", 3 << 20).await;
    head_store_suite(&store, "vault-mem").await;
    head_cas_race(&store, "vault-mem-race", 8).await;
}

#[tokio::test]
async fn dir_store_passes_the_suites() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    block_store_suite(&store, "dir", 5 << 20).await;
    head_store_suite(&store, "vault-dir").await;
    head_cas_race(&store, "vault-dir-race", 8).await;
    // Reopening finds the same blocks; a foreign directory is refused.
    let b = Bytes::from_static(b"persisted");
    let cid = raw_cid(&b);
    store.put(&cid, b.clone()).await.unwrap();
    let reopened = DirStore::open(dir.path()).unwrap();
    assert_eq!(reopened.get(&cid).await.unwrap(), b);
    let foreign = tempfile::tempdir().unwrap();
    std::fs::write(foreign.path().join("coffer-store"), b"something else").unwrap();
    assert!(matches!(
        DirStore::open(foreign.path()),
        Err(StoreError::Config(_))
    ));
}

/// The bench-only store without fsync behaves like the durable one and writes the same layout: a
/// durable store over the same directory reads what it wrote (benches fill with one and measure
/// with the other).
#[tokio::test]
async fn dir_store_without_fsync_passes_the_suites_and_shares_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let fast = DirStore::open(dir.path()).unwrap().without_fsync();
    block_store_suite(&fast, "dir-nofsync", 3 << 20).await;
    head_store_suite(&fast, "vault-nofsync").await;
    let b = Bytes::from_static(b"written without fsync");
    let cid = raw_cid(&b);
    fast.put(&cid, b.clone()).await.unwrap();
    let blob = data("dir-nofsync/streamed", 3 << 20);
    let mut src = futures_util::io::Cursor::new(blob.clone());
    fast.put_stream(&raw_cid(&blob), &mut src, Some(blob.len() as u64))
        .await
        .unwrap();
    fast.write_head("v", "w", Bytes::from_static(b"head"), HeadCondition::Any)
        .await
        .unwrap();
    let durable = DirStore::open(dir.path()).unwrap();
    assert_eq!(durable.get(&cid).await.unwrap(), b);
    assert_eq!(durable.get(&raw_cid(&blob)).await.unwrap(), blob);
    assert_eq!(
        durable.read_head("v", "w").await.unwrap().unwrap().bytes,
        Bytes::from_static(b"head")
    );
    assert_eq!(durable.clean_temp_files(Duration::ZERO).unwrap(), 0);
}

#[tokio::test]
async fn dir_store_layout_and_leftovers() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    let b = Bytes::from_static(b"layout");
    let cid = raw_cid(&b);
    store.put(&cid, b).await.unwrap();
    let s = cid.to_string();
    let expected = dir
        .path()
        .join("blocks")
        .join(&s[s.len() - 3..s.len() - 1])
        .join(&s);
    assert!(expected.is_file(), "block not at {}", expected.display());
    // A crash mid-write leaves only a temp file: invisible to list/has, removed by the cleaner.
    let temp = expected.parent().unwrap().join(".tmp-deadbeef");
    std::fs::write(&temp, b"half").unwrap();
    assert_eq!(store.list().await.unwrap(), vec![cid]);
    assert_eq!(
        store.clean_temp_files(Duration::from_secs(3600)).unwrap(),
        0,
        "young temp files stay"
    );
    assert_eq!(store.clean_temp_files(Duration::ZERO).unwrap(), 1);
    assert!(!temp.exists());
    // A streamed put that fails half-way leaves no block and no temp file.
    let blob = data("dir/interrupted", 3 << 20);
    let mut src =
        futures_util::io::AsyncReadExt::take(futures_util::io::Cursor::new(blob.clone()), 1 << 20);
    let err = store
        .put_stream(&raw_cid(&blob), &mut src, Some(blob.len() as u64))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Other(_)), "{err:?}");
    assert!(!store.has(&raw_cid(&blob)).await.unwrap());
    assert_eq!(
        store.clean_temp_files(Duration::ZERO).unwrap(),
        0,
        "the failed put removed its temp file"
    );
}

const CHILD_ENV: &str = "COFFER_DIR_STORE_CHILD";
const ROUNDS: u64 = 25;

/// Run by `dir_store_is_safe_across_processes` in child processes: increments a counter head
/// with compare-and-swap `ROUNDS` times and writes shared blocks.
#[tokio::test]
#[ignore = "helper: run as a child process by dir_store_is_safe_across_processes"]
async fn dir_store_child_process() {
    let root = std::env::var(CHILD_ENV).expect("run by dir_store_is_safe_across_processes only");
    let store = DirStore::open(&root).unwrap();
    for round in 0..ROUNDS {
        let b = Bytes::from(data(&format!("shared block {round}"), 70_000));
        store.put(&raw_cid(&b), b).await.unwrap();
        loop {
            let current = store
                .read_head("shared", "counter")
                .await
                .unwrap()
                .expect("seeded by the parent");
            let n: u64 = std::str::from_utf8(&current.bytes)
                .unwrap()
                .parse()
                .unwrap();
            let next = Bytes::from((n + 1).to_string());
            match store
                .write_head(
                    "shared",
                    "counter",
                    next,
                    HeadCondition::Matches(current.version),
                )
                .await
            {
                Ok(_) => break,
                Err(StoreError::PreconditionFailed(_)) => continue,
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[tokio::test]
async fn dir_store_is_safe_across_processes() {
    let dir = tempfile::tempdir().unwrap();
    let store = DirStore::open(dir.path()).unwrap();
    store
        .write_head(
            "shared",
            "counter",
            Bytes::from_static(b"0"),
            HeadCondition::Absent,
        )
        .await
        .unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "dir_store_child_process",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a child process failed");
    }
    let head = store.read_head("shared", "counter").await.unwrap().unwrap();
    assert_eq!(
        head.bytes,
        Bytes::from((4 * ROUNDS).to_string()),
        "an increment was lost"
    );
    for round in 0..ROUNDS {
        let b = data(&format!("shared block {round}"), 70_000);
        assert_eq!(store.get(&raw_cid(&b)).await.unwrap(), b);
    }
    assert_eq!(
        store.clean_temp_files(Duration::ZERO).unwrap(),
        0,
        "no temp file left behind"
    );
}

fn faulty(seed: u64) -> Arc<FaultyStore<MemoryStore>> {
    Arc::new(FaultyStore::new(
        MemoryStore::new(),
        FaultConfig {
            seed,
            ..Default::default()
        },
    ))
}

fn replicated(backends: &[Arc<FaultyStore<MemoryStore>>], quorum: usize) -> ReplicatedStore {
    let stores: Vec<Arc<dyn BlockStore>> = backends
        .iter()
        .map(|b| b.clone() as Arc<dyn BlockStore>)
        .collect();
    ReplicatedStore::new(
        stores,
        ReplicationConfig {
            write_quorum: quorum,
            timeout: Some(Duration::from_millis(500)),
        },
    )
    .expect("valid quorum")
}

#[tokio::test]
async fn replicated_store_passes_the_suite() {
    let backends = [faulty(1), faulty(2), faulty(3)];
    let store = replicated(&backends, 2);
    block_store_suite(&store, "replicated", 2 << 20).await;
}

#[tokio::test]
async fn two_of_three_with_one_down_succeeds_and_repair_fills_the_gap() {
    let backends = [faulty(1), faulty(2), faulty(3)];
    let store = replicated(&backends, 2);
    backends[1].set_down(true);
    let b = Bytes::from(data("2of3", 5000));
    let cid = raw_cid(&b);
    store.put(&cid, b.clone()).await.unwrap();
    assert!(backends[0].inner().has(&cid).await.unwrap());
    assert!(!backends[1].inner().has(&cid).await.unwrap());
    assert!(backends[2].inner().has(&cid).await.unwrap());
    assert_eq!(store.get(&cid).await.unwrap(), b);
    assert!(
        store.health()[1].failures > 0,
        "the down backend's failures are tracked"
    );

    backends[1].set_down(false);
    let report = store.repair().await.unwrap();
    assert_eq!(report.copied, 1, "{report:?}");
    assert!(
        report.unrecoverable.is_empty() && report.failed.is_empty(),
        "{report:?}"
    );
    assert_eq!(backends[1].inner().get(&cid).await.unwrap(), b);
}

#[tokio::test]
async fn three_of_three_with_one_down_fails_and_commits_nothing() {
    let backends = [faulty(1), faulty(2), faulty(3)];
    let store = replicated(&backends, 3);
    // A block backend 0 already held (from another writer) must survive the rollback.
    let shared = Bytes::from(data("shared", 100));
    let shared_cid = raw_cid(&shared);
    backends[0]
        .inner()
        .put(&shared_cid, shared.clone())
        .await
        .unwrap();

    backends[2].set_down(true);
    for (b, cid) in [
        (Bytes::from(data("3of3", 5000)), None),
        (shared.clone(), Some(shared_cid)),
    ] {
        let cid = cid.unwrap_or_else(|| raw_cid(&b));
        let err = store.put(&cid, b).await.unwrap_err();
        match &err {
            StoreError::QuorumFailed {
                acked,
                needed,
                cid: c,
                ..
            } => {
                assert_eq!((*acked, *needed), (2, 3));
                assert_eq!(c, &cid.to_string());
            }
            other => panic!("expected QuorumFailed, got {other:?}"),
        }
        assert!(
            !backends[1].inner().has(&cid).await.unwrap(),
            "backend 1 kept an uncommitted copy"
        );
        assert!(!backends[2].inner().has(&cid).await.unwrap());
    }
    assert!(
        !backends[0]
            .inner()
            .has(&raw_cid(&data("3of3", 5000)))
            .await
            .unwrap()
    );
    assert_eq!(
        backends[0].inner().get(&shared_cid).await.unwrap(),
        shared,
        "rollback deleted a prior block"
    );
}

#[tokio::test]
async fn corrupt_bytes_are_caught_and_name_the_cid() {
    let b = Bytes::from(data("corrupt", 3000));
    let cid = raw_cid(&b);
    let bad = FaultyStore::new(
        MemoryStore::new(),
        FaultConfig {
            seed: 9,
            corrupt_rate: 1.0,
            ..Default::default()
        },
    );
    bad.put(&cid, b.clone()).await.unwrap();
    let verifying = VerifyingStore::new(bad);
    match verifying.get(&cid).await {
        Err(StoreError::Corrupt { cid: c, detail }) => {
            assert_eq!(c, cid.to_string());
            assert!(detail.contains("hash to"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    let streamed = collect_stream(verifying.get_stream(&cid).await.unwrap()).await;
    assert!(
        matches!(streamed, Err(StoreError::Corrupt { .. })),
        "{streamed:?}"
    );
    assert!(verifying.inner().stats().corrupted >= 2);

    // Replication reads past the corrupting backend and marks it.
    // The honest backends are slow, so the liar is read first until it is marked unhealthy.
    let slow = |seed| {
        Arc::new(FaultyStore::new(
            MemoryStore::new(),
            FaultConfig {
                seed,
                stall_rate: 1.0,
                stall: Duration::from_millis(20),
                ..Default::default()
            },
        ))
    };
    let backends = [slow(1), slow(2)];
    let liar = Arc::new(FaultyStore::new(
        MemoryStore::new(),
        FaultConfig {
            seed: 5,
            corrupt_rate: 1.0,
            ..Default::default()
        },
    ));
    let stores: Vec<Arc<dyn BlockStore>> = vec![
        liar.clone(),
        backends[0].clone() as Arc<dyn BlockStore>,
        backends[1].clone() as Arc<dyn BlockStore>,
    ];
    let store = ReplicatedStore::new(
        stores,
        ReplicationConfig {
            write_quorum: 3,
            timeout: None,
        },
    )
    .unwrap();
    store.put(&cid, b.clone()).await.unwrap();
    for _ in 0..4 {
        assert_eq!(store.get(&cid).await.unwrap(), b);
    }
    let health = store.health();
    assert_eq!(health[0].failures, 3, "{health:?}");
    assert!(
        !health[0].healthy,
        "three corrupt answers make a backend unhealthy: {health:?}"
    );
    assert_eq!(
        collect_stream(store.get_stream(&cid).await.unwrap())
            .await
            .unwrap(),
        b
    );
}

#[tokio::test]
async fn stalled_backend_times_out_and_lost_writes_are_repaired() {
    let stalled = Arc::new(FaultyStore::new(
        MemoryStore::new(),
        FaultConfig {
            seed: 3,
            stall_rate: 1.0,
            stall: Duration::from_secs(30),
            ..Default::default()
        },
    ));
    let lossy = Arc::new(FaultyStore::new(
        MemoryStore::new(),
        FaultConfig {
            seed: 4,
            lose_write_rate: 1.0,
            ..Default::default()
        },
    ));
    let good = faulty(5);
    let stores: Vec<Arc<dyn BlockStore>> = vec![stalled.clone(), lossy.clone(), good.clone()];
    let store = ReplicatedStore::new(
        stores,
        ReplicationConfig {
            write_quorum: 2,
            timeout: Some(Duration::from_millis(200)),
        },
    )
    .unwrap();
    let b = Bytes::from(data("stall", 777));
    let cid = raw_cid(&b);
    // The stalled backend times out; the lossy one acknowledges without storing.
    store.put(&cid, b.clone()).await.unwrap();
    assert!(matches!(store.health()[0].consecutive_failures, 1..));
    assert!(
        !lossy.inner().has(&cid).await.unwrap(),
        "the write was lost as injected"
    );
    assert_eq!(
        store.get(&cid).await.unwrap(),
        b,
        "read falls back to the good backend"
    );
    let report = store.repair().await.unwrap();
    assert!(report.copied >= 1, "{report:?}");
    assert!(lossy.stats().lost_writes >= 1);
}

#[tokio::test]
async fn out_of_order_completion_keeps_every_block() {
    let make = |seed| {
        Arc::new(FaultyStore::new(
            MemoryStore::new(),
            FaultConfig {
                seed,
                reorder_jitter: Duration::from_millis(20),
                fail_rate: 0.1,
                ..Default::default()
            },
        ))
    };
    let backends = [make(11), make(12), make(13)];
    let stores: Vec<Arc<dyn BlockStore>> = backends
        .iter()
        .map(|b| b.clone() as Arc<dyn BlockStore>)
        .collect();
    let store = ReplicatedStore::new(
        stores,
        ReplicationConfig {
            write_quorum: 2,
            timeout: None,
        },
    )
    .unwrap();
    let blocks: Vec<Bytes> = (0..40)
        .map(|i| Bytes::from(data(&format!("reorder {i}"), 100 + i)))
        .collect();
    let cids: Vec<_> = blocks.iter().map(|b| raw_cid(b)).collect();
    let puts = futures_util::future::join_all(
        blocks
            .iter()
            .zip(&cids)
            .map(|(b, c)| store.put(c, b.clone())),
    )
    .await;
    let ok: Vec<&Bytes> = blocks
        .iter()
        .zip(&puts)
        .filter(|(_, r)| r.is_ok())
        .map(|(b, _)| b)
        .collect();
    assert!(
        ok.len() >= 30,
        "too few writes reached a 2-of-3 quorum: {}",
        ok.len()
    );
    for (b, r) in blocks.iter().zip(&puts) {
        if let Err(e) = r {
            assert!(matches!(e, StoreError::QuorumFailed { .. }), "{e:?}");
            // A failed write left no copy anywhere.
            for be in &backends {
                assert!(!be.inner().has(&raw_cid(b)).await.unwrap());
            }
        }
    }
    let ok_cids: Vec<_> = ok.iter().map(|b| raw_cid(b)).collect();
    let gets = futures_util::future::join_all(ok_cids.iter().map(|c| store.get(c))).await;
    for (b, g) in ok.iter().zip(gets) {
        match g {
            Ok(got) => assert_eq!(&got, *b),
            // Reads may still hit injected failures on every backend holding the block.
            Err(e) => assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}"),
        }
    }
}

#[tokio::test]
async fn streamed_replication_keeps_the_quorum_rules() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let backends: Vec<Arc<FaultyStore<DirStore>>> = dirs
        .iter()
        .map(|d| Arc::new(FaultyStore::healthy(DirStore::open(d.path()).unwrap())))
        .collect();
    let as_dyn = || {
        backends
            .iter()
            .map(|b| b.clone() as Arc<dyn BlockStore>)
            .collect::<Vec<_>>()
    };
    let blob = data("streamed replication", 9 << 20);
    let cid = raw_cid(&blob);

    // 3 of 3 with one down: fails, and the two directories that got the blob lose it again.
    let all = ReplicatedStore::new(
        as_dyn(),
        ReplicationConfig {
            write_quorum: 3,
            timeout: None,
        },
    )
    .unwrap();
    backends[0].set_down(true);
    let mut src = futures_util::io::Cursor::new(blob.clone());
    let err = all
        .put_stream(&cid, &mut src, Some(blob.len() as u64))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::QuorumFailed {
                acked: 2,
                needed: 3,
                ..
            }
        ),
        "{err:?}"
    );
    for b in &backends {
        assert!(
            !b.inner().has(&cid).await.unwrap(),
            "an uncommitted copy was left"
        );
    }

    // 2 of 3 with the same backend down: succeeds, streamed to the other two.
    let two = ReplicatedStore::new(
        as_dyn(),
        ReplicationConfig {
            write_quorum: 2,
            timeout: None,
        },
    )
    .unwrap();
    let mut src = futures_util::io::Cursor::new(blob.clone());
    two.put_stream(&cid, &mut src, Some(blob.len() as u64))
        .await
        .unwrap();
    assert!(!backends[0].inner().has(&cid).await.unwrap());
    for b in &backends[1..] {
        assert_eq!(b.inner().get(&cid).await.unwrap(), blob);
    }
    assert_eq!(
        collect_stream(two.get_stream(&cid).await.unwrap())
            .await
            .unwrap(),
        blob
    );

    // Bytes that do not match the CID: Corrupt, nothing stored anywhere.
    backends[0].set_down(false);
    let claimed = raw_cid(b"not these bytes");
    let mut src = futures_util::io::Cursor::new(blob.clone());
    let err = two.put_stream(&claimed, &mut src, None).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    for b in &backends {
        assert!(!b.inner().has(&claimed).await.unwrap());
    }
}

#[tokio::test]
async fn dir_store_refuses_an_inflated_block_file_before_reading_it() {
    let dir = tempfile::tempdir().unwrap();
    let s = DirStore::open(dir.path()).unwrap();
    let bytes = Bytes::from(data("dir-inflated", 1000));
    let cid = raw_cid(&bytes);
    s.put(&cid, bytes.clone()).await.unwrap();
    // Whoever holds the disk replaces the block by a sparse 1 TiB file.
    let f = std::fs::File::create(s.block_path(&cid)).unwrap();
    f.set_len(1 << 40).unwrap();
    let err = s.get_max(&cid, 1000).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::TooLarge { what, limit: 1000 } if what.contains("1099511627776 bytes")),
        "refused from the file's length, before reading: {err}"
    );
    // A stream never yields more than the length the file had when it was opened.
    std::fs::write(s.block_path(&cid), &bytes).unwrap();
    let streamed = collect_stream(s.get_stream(&cid).await.unwrap())
        .await
        .unwrap();
    assert_eq!(streamed, bytes);
}

/// Writes `n` head files straight into a directory store's namespace (as its disk's owner can).
fn fill_heads(dir: &std::path::Path, ns: &str, n: usize) {
    let heads = dir.join("heads").join(ns);
    std::fs::create_dir_all(&heads).unwrap();
    for i in 0..n {
        std::fs::write(heads.join(format!("w{i}")), b"h").unwrap();
    }
}

#[tokio::test]
async fn a_namespace_of_more_than_max_heads_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = DirStore::open(dir.path()).unwrap();
    fill_heads(dir.path(), "inbox", MAX_HEADS);
    assert_eq!(s.read_heads("inbox").await.unwrap().len(), MAX_HEADS);
    fill_heads(dir.path(), "flooded", MAX_HEADS + 1);
    assert!(matches!(
        s.read_heads("flooded").await,
        Err(StoreError::TooLarge { limit, .. }) if limit == MAX_HEADS as u64
    ));

    let m = MemoryStore::new();
    for i in 0..=MAX_HEADS {
        m.write_head(
            "flooded",
            &format!("w{i}"),
            Bytes::from_static(b"h"),
            HeadCondition::Any,
        )
        .await
        .unwrap();
    }
    assert!(matches!(
        m.read_heads("flooded").await,
        Err(StoreError::TooLarge { .. })
    ));
}

/// An app-provided store: only the required methods, so `get_max` is the trait's default.
struct AppStore(HostileStore<MemoryStore>);

#[async_trait::async_trait]
impl BlockStore for AppStore {
    async fn put(&self, cid: &coffer::block::Cid, bytes: Bytes) -> coffer::store::StoreResult<()> {
        self.0.put(cid, bytes).await
    }
    async fn get(&self, cid: &coffer::block::Cid) -> coffer::store::StoreResult<Bytes> {
        self.0.get(cid).await
    }
    async fn get_range(
        &self,
        cid: &coffer::block::Cid,
        range: std::ops::Range<u64>,
    ) -> coffer::store::StoreResult<Bytes> {
        self.0.get_range(cid, range).await
    }
    async fn has(&self, cid: &coffer::block::Cid) -> coffer::store::StoreResult<bool> {
        self.0.has(cid).await
    }
    async fn delete(&self, cid: &coffer::block::Cid) -> coffer::store::StoreResult<()> {
        self.0.delete(cid).await
    }
    async fn list(&self) -> coffer::store::StoreResult<Vec<coffer::block::Cid>> {
        self.0.list().await
    }
}

#[tokio::test]
async fn the_default_get_max_and_replication_refuse_inflated_answers() {
    let bytes = Bytes::from(data("inflated", 1000));
    let cid = raw_cid(&bytes);
    let app = AppStore(HostileStore::new(MemoryStore::new(), 1));
    app.0.set_enforce_caps(false);
    app.put(&cid, bytes.clone()).await.unwrap();
    app.0.arm(Attack::OversizeBlock {
        target: cid,
        extra: 1,
    });
    assert!(matches!(
        app.get_max(&cid, 1000).await,
        Err(StoreError::TooLarge { limit: 1000, .. })
    ));

    // Replication: an inflating backend counts as failed and the next one answers.
    let honest = Arc::new(MemoryStore::new());
    honest.put(&cid, bytes.clone()).await.unwrap();
    let app = Arc::new(app);
    let r = ReplicatedStore::new(
        vec![app.clone() as Arc<dyn BlockStore>, honest.clone()],
        ReplicationConfig {
            write_quorum: 1,
            timeout: None,
        },
    )
    .unwrap();
    for _ in 0..3 {
        assert_eq!(r.get_max(&cid, 1000).await.unwrap(), bytes);
        // A range answer longer than asked is refused too, and another backend answers.
        assert_eq!(
            r.get_range(&cid, 10..20).await.unwrap(),
            bytes.slice(10..20)
        );
    }
    honest.delete(&cid).await.unwrap();
    assert!(matches!(
        r.get_max(&cid, 1000).await,
        Err(StoreError::TooLarge { .. })
    ));
    assert!(matches!(
        r.get_range(&cid, 10..20).await,
        Err(StoreError::TooLarge { .. })
    ));
}

/// Deterministic bytes of any length, generated as they are read (no buffer of the whole).
struct Generated {
    len: u64,
}

impl Generated {
    /// The byte at `pos`.
    fn at(pos: u64) -> u8 {
        (pos.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
    }
}

impl coffer::vault::PutSource for Generated {
    fn open(&mut self) -> std::io::Result<Box<dyn std::io::Read + Send + '_>> {
        struct R {
            pos: u64,
            len: u64,
        }
        impl std::io::Read for R {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = (buf.len() as u64).min(self.len - self.pos) as usize;
                for (i, b) in buf[..n].iter_mut().enumerate() {
                    *b = Generated::at(self.pos + i as u64);
                }
                self.pos += n as u64;
                Ok(n)
            }
        }
        Ok(Box::new(R {
            pos: 0,
            len: self.len,
        }))
    }
}

/// A range of an object over 1 GiB reads: its outboard is over 4 MiB (64 bytes per 16 KiB), so
/// a reader that fetches the whole outboard must cap it by the outboard's size, not by the 4 MiB
/// metadata limit (the S3 gateway's GET of a 1 GiB object failed on that).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_of_an_object_over_one_gib_reads() {
    use coffer::keys::Identity;
    use coffer::vault::{PutOptions, Vault};
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(DirStore::open(dir.path()).unwrap());
    let mut v = Vault::create(store, Identity::generate(), "big", "d")
        .await
        .unwrap();
    let len: u64 = (1 << 30) + (3 << 20) + 123;
    let info = v
        .put_source(b"big", &mut Generated { len }, PutOptions::default(), None)
        .await
        .unwrap();
    assert_eq!(info.size, len);
    // Ranges spread over the object: the reader fetches the whole outboard for them.
    // Small ranges fetch only their proof's pairs; an 8 MiB piece not aligned to a subtree (what
    // the gateway reads) needs many runs of pairs, so the reader fetches the whole outboard.
    let piece = (len / 3 + 12_345)..(len / 3 + 12_345 + (8 << 20));
    for range in [0..100, (len - 5000)..len, piece] {
        let got = v.get_range(b"big", range.clone()).await.unwrap();
        let want: Vec<u8> = range.clone().map(Generated::at).collect();
        assert!(got == want, "range {range:?} differs");
    }
}

/// Blocks in a [`ReplicatedStore`], heads in another store: what an app composes to keep a
/// vault's blocks on several backends.
struct BlocksAndHeads {
    blocks: ReplicatedStore,
    heads: MemoryStore,
}

#[async_trait::async_trait]
impl BlockStore for BlocksAndHeads {
    async fn put(&self, cid: &coffer::block::Cid, bytes: Bytes) -> coffer::store::StoreResult<()> {
        self.blocks.put(cid, bytes).await
    }
    async fn get(&self, cid: &coffer::block::Cid) -> coffer::store::StoreResult<Bytes> {
        self.blocks.get(cid).await
    }
    async fn get_range(
        &self,
        cid: &coffer::block::Cid,
        range: std::ops::Range<u64>,
    ) -> coffer::store::StoreResult<Bytes> {
        self.blocks.get_range(cid, range).await
    }
    async fn get_max(
        &self,
        cid: &coffer::block::Cid,
        max_len: u64,
    ) -> coffer::store::StoreResult<Bytes> {
        self.blocks.get_max(cid, max_len).await
    }
    async fn has(&self, cid: &coffer::block::Cid) -> coffer::store::StoreResult<bool> {
        self.blocks.has(cid).await
    }
    async fn delete(&self, cid: &coffer::block::Cid) -> coffer::store::StoreResult<()> {
        self.blocks.delete(cid).await
    }
    async fn list(&self) -> coffer::store::StoreResult<Vec<coffer::block::Cid>> {
        self.blocks.list().await
    }
    async fn delete_many(
        &self,
        cids: &[coffer::block::Cid],
    ) -> coffer::store::StoreResult<Vec<(coffer::block::Cid, StoreError)>> {
        self.blocks.delete_many(cids).await
    }
}

#[async_trait::async_trait]
impl HeadStore for BlocksAndHeads {
    async fn read_heads(
        &self,
        vault: &str,
    ) -> coffer::store::StoreResult<Vec<coffer::store::Head>> {
        self.heads.read_heads(vault).await
    }
    async fn read_head(
        &self,
        vault: &str,
        writer: &str,
    ) -> coffer::store::StoreResult<Option<coffer::store::Head>> {
        self.heads.read_head(vault, writer).await
    }
    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> coffer::store::StoreResult<coffer::store::HeadVersion> {
        self.heads.write_head(vault, writer, bytes, condition).await
    }
    fn conditional_writes(&self) -> coffer::store::ConditionalWrites {
        self.heads.conditional_writes()
    }
    async fn probe_conditional_writes(
        &self,
    ) -> coffer::store::StoreResult<coffer::store::ConditionalWrites> {
        self.heads.probe_conditional_writes().await
    }
}

/// Space comes back on a replicated store: a prune deletes unreferenced blocks from every
/// backend, and what is live stays on every backend.
#[tokio::test]
async fn a_prune_deletes_garbage_from_every_replica() {
    use coffer::keys::Identity;
    use coffer::vault::{GcTiming, PruneOptions, PutOptions, Vault};
    let backends: Vec<Arc<FaultyStore<MemoryStore>>> = (0..3)
        .map(|i| {
            Arc::new(FaultyStore::new(
                MemoryStore::new(),
                FaultConfig {
                    seed: i,
                    fail_rate: 0.0,
                    ..Default::default()
                },
            ))
        })
        .collect();
    let store = Arc::new(BlocksAndHeads {
        blocks: replicated(&backends, 3),
        heads: MemoryStore::new(),
    });
    let mut v = Vault::create(store.clone(), Identity::generate(), "rep", "d")
        .await
        .unwrap();
    v.set_gc_timing(GcTiming {
        grace_ms: 0,
        lease_ms: 60_000,
        skew_ms: 1_000,
        poll_ms: 5,
    });
    v.put(b"gone", vec![1; 50_000], PutOptions::default())
        .await
        .unwrap();
    v.put(b"kept", vec![2; 50_000], PutOptions::default())
        .await
        .unwrap();
    let gone: coffer::block::Cid = v.head(b"gone").await.unwrap().data.parse().unwrap();
    let kept: coffer::block::Cid = v.head(b"kept").await.unwrap().data.parse().unwrap();
    v.purge(b"gone").await.unwrap();
    let report = v
        .prune(
            PruneOptions {
                window_ms: 0,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert!(report.swept.blocks >= 1, "{report:?}");
    assert_eq!(report.left.blocks, 0, "{report:?}");
    for (i, b) in backends.iter().enumerate() {
        assert!(
            !b.has(&gone).await.unwrap(),
            "backend {i} still holds the purged object"
        );
        assert!(
            b.has(&kept).await.unwrap(),
            "backend {i} lost the live object"
        );
    }
    assert_eq!(v.get(b"kept").await.unwrap(), vec![2; 50_000]);
}
