//! The erasure-coded store over real stores: directory stores, and SeaweedFS prefixes mixed
//! with directory stores (`.ci/seaweedfs.sh start`; never skipped: a missing server fails the
//! S3 tests with what to do). Backends are taken down, emptied and corrupted with the
//! fault-injection wrapper and on disk.
#![cfg(feature = "erasure")]
// Test helpers too: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use coffer::block::{Cid, raw_cid};
use coffer::store::erasure::{ErasureConfig, ErasureStore, ScrubOptions, ScrubReport};
use coffer::store::{
    BlockStore, DirStore, FaultConfig, FaultyStore, SplitStore, StoreError, collect_stream,
};
use common::{block_store_suite, data, run_tag};
use futures_util::StreamExt;
use futures_util::io::{AsyncRead, Cursor};

/// Six directory stores, each behind a fault switch, and their directories.
struct Federation {
    faulty: Vec<Arc<FaultyStore<Arc<dyn BlockStore>>>>,
    dirs: Vec<Option<tempfile::TempDir>>,
    store: ErasureStore,
}

/// rs 4+2 with 64 KiB stripes and blocks up to 4 KiB replicated (small, so tests cross stripes).
fn config() -> ErasureConfig {
    let mut c = ErasureConfig::new(4, 2);
    c.stripe_size = 64 << 10;
    c.small_block = 4 << 10;
    c
}

fn federate(
    backends: Vec<Arc<dyn BlockStore>>,
    dirs: Vec<Option<tempfile::TempDir>>,
) -> Federation {
    let faulty: Vec<_> = backends
        .into_iter()
        .map(|b| Arc::new(FaultyStore::healthy(b)))
        .collect();
    let store = ErasureStore::new(
        faulty
            .iter()
            .map(|f| f.clone() as Arc<dyn BlockStore>)
            .collect(),
        config(),
    )
    .unwrap();
    Federation {
        faulty,
        dirs,
        store,
    }
}

fn dir_federation(n: usize) -> Federation {
    let dirs: Vec<tempfile::TempDir> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
    let backends = dirs
        .iter()
        .map(|d| Arc::new(DirStore::open(d.path()).unwrap()) as Arc<dyn BlockStore>)
        .collect();
    federate(backends, dirs.into_iter().map(Some).collect())
}

impl Federation {
    fn down(&self, which: &[usize], down: bool) {
        for &i in which {
            self.faulty[i].set_down(down);
        }
    }

    /// Every file under backend `i`'s block directory.
    fn files(&self, i: usize) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        let root = self.dirs[i].as_ref().unwrap().path().join("blocks");
        let mut stack = vec![root];
        while let Some(d) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
        out
    }

    async fn inner_count(&self) -> usize {
        let mut n = 0;
        for f in &self.faulty {
            n += f.inner().list().await.unwrap().len();
        }
        n
    }
}

fn totals(r: &ScrubReport) -> (u64, u64, u64, u64) {
    r.backends.iter().fold((0, 0, 0, 0), |t, b| {
        (t.0 + b.ok, t.1 + b.missing, t.2 + b.corrupt, t.3 + b.healed)
    })
}

/// A source that runs `at` once, after `after` bytes were read: a backend fails mid-write.
struct Trigger<F: FnMut() + Unpin> {
    inner: Cursor<Vec<u8>>,
    read: usize,
    after: usize,
    at: Option<F>,
}

impl<F: FnMut() + Unpin> AsyncRead for Trigger<F> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = &mut *self;
        if this.read >= this.after
            && let Some(mut f) = this.at.take()
        {
            f();
        }
        let p = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(n)) = &p {
            this.read += n;
        }
        p
    }
}

#[tokio::test]
async fn erasure_store_passes_the_block_suite() {
    let f = dir_federation(6);
    block_store_suite(&f.store, &run_tag("ec-suite"), 700 << 10).await;
}

#[tokio::test]
async fn blocks_of_every_size_round_trip_and_delete_leaves_nothing() {
    let f = dir_federation(7);
    let tag = run_tag("ec-sizes");
    let sizes = [0usize, 1, 4096, 4097, 65_536, 65_537, 300_001];
    let mut cids = Vec::new();
    for (j, len) in sizes.into_iter().enumerate() {
        let bytes = Bytes::from(data(&format!("{tag}/{j}"), len));
        let cid = raw_cid(&bytes);
        if j % 2 == 0 {
            f.store.put(&cid, bytes.clone()).await.unwrap();
        } else {
            let mut src = Cursor::new(bytes.to_vec());
            f.store
                .put_stream(&cid, &mut src, Some(len as u64))
                .await
                .unwrap();
        }
        assert_eq!(f.store.get(&cid).await.unwrap(), bytes, "len {len}");
        assert_eq!(
            collect_stream(f.store.get_stream(&cid).await.unwrap())
                .await
                .unwrap(),
            bytes
        );
        for r in [0..len as u64, 0..len as u64 / 2, len as u64 / 3..len as u64] {
            assert_eq!(
                f.store.get_range(&cid, r.clone()).await.unwrap(),
                bytes.slice(r.start as usize..r.end as usize),
                "len {len} range {r:?}"
            );
        }
        assert!(f.store.has(&cid).await.unwrap());
        cids.push(cid);
    }
    // Overhead: a 300 KB block takes about (k + m) / k = 1.5 times its size.
    let big = *cids.last().unwrap();
    let mut stored = 0u64;
    for i in 0..7 {
        for p in f.files(i) {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let shard_of = Cid::try_from(name.as_str())
                .ok()
                .and_then(|c| coffer::store::erasure::layout::parse_shard_cid(&c));
            if shard_of.is_some_and(|(block, _, _)| block == big) {
                stored += std::fs::metadata(&p).unwrap().len();
            }
        }
    }
    assert!(stored > 450_000 && stored < 470_000, "stored {stored}");
    let mut listed = f.store.list().await.unwrap();
    listed.sort();
    let mut want = cids.clone();
    want.sort();
    assert_eq!(listed, want);
    for c in &cids {
        f.store.delete(c).await.unwrap();
    }
    assert_eq!(f.inner_count().await, 0, "a delete left shards or copies");
    assert!(!f.store.has(&big).await.unwrap());
}

#[tokio::test]
async fn one_then_m_backends_fail_mid_write_and_mid_read() {
    let f = Arc::new(dir_federation(6));
    let tag = run_tag("ec-down");
    let bytes = data(&format!("{tag}/blob"), 1_000_000);
    let cid = raw_cid(&bytes);

    // One backend dies while the blob streams in: k + 1 = 5 shards per stripe still land.
    let g = f.clone();
    let mut src = Trigger {
        inner: Cursor::new(bytes.clone()),
        read: 0,
        after: 400_000,
        at: Some(move || g.down(&[2], true)),
    };
    f.store
        .put_stream(&cid, &mut src, Some(bytes.len() as u64))
        .await
        .unwrap();
    assert_eq!(f.store.get(&cid).await.unwrap(), bytes);

    // A second one dies mid-write: only k = 4 shards per stripe, below k + 1: refused, and what
    // the write stored is removed.
    let other = data(&format!("{tag}/other"), 500_000);
    let other_cid = raw_cid(&other);
    let g = f.clone();
    let mut src = Trigger {
        inner: Cursor::new(other.clone()),
        read: 0,
        after: 200_000,
        at: Some(move || g.down(&[4], true)),
    };
    let err = f
        .store
        .put_stream(&other_cid, &mut src, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::QuorumFailed {
                acked: 4,
                needed: 5,
                ..
            }
        ),
        "{err}"
    );
    f.down(&[2, 4], false);
    assert!(!f.store.has(&other_cid).await.unwrap());
    assert!(f.store.get(&other_cid).await.is_err());
    // Backend 4 was down during the rollback, so the stripes it took before it died are
    // orphans; the scrub names the block, a delete (what a prune sends) removes them.
    let report = f.store.scrub().await.unwrap();
    assert!(
        report
            .unrecoverable
            .iter()
            .any(|(c, _)| *c == other_cid.to_string()),
        "{report:?}"
    );
    f.store.delete(&other_cid).await.unwrap();
    assert!(f.store.scrub().await.unwrap().unrecoverable.is_empty());
    assert!(
        !f.store.list().await.unwrap().contains(&other_cid),
        "a delete left orphan shards behind"
    );

    // The first blob lacks backend 2's shards of the stripes written after it died: one more
    // loss is all it survives until a repair puts them back.
    let repaired = f.store.repair().await.unwrap();
    assert!(repaired.backends[2].healed > 0, "{repaired:?}");
    assert!(f.store.scrub().await.unwrap().clean());

    // Reads: m = 2 backends die while the blob streams out; the rest rebuild it.
    let mut stream = f.store.get_stream(&cid).await.unwrap();
    let mut got = stream.next().await.unwrap().unwrap().to_vec();
    f.down(&[0, 5], true);
    while let Some(chunk) = stream.next().await {
        got.extend_from_slice(&chunk.unwrap());
    }
    assert!(got == bytes, "the stream differs");
    assert_eq!(
        f.store.get_range(&cid, 123_456..654_321).await.unwrap(),
        &bytes[123_456..654_321]
    );
    // A third one: fewer than k, a typed error.
    f.down(&[1], true);
    let err = f.store.get(&cid).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InsufficientShards { needed: 4, .. }),
        "{err}"
    );
    let err = f.store.get_range(&cid, 0..10).await.unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::InsufficientShards { .. } | StoreError::Unavailable(_)
        ),
        "{err}"
    );
    f.down(&[0, 1, 5], false);
    assert_eq!(f.store.get(&cid).await.unwrap(), bytes);
    // Small blocks are m + 1 copies: any m backends may go.
    let small = Bytes::from(data(&format!("{tag}/small"), 2000));
    let small_cid = raw_cid(&small);
    f.store.put(&small_cid, small.clone()).await.unwrap();
    for pair in [[0usize, 1], [2, 3], [4, 5], [1, 4]] {
        f.down(&pair, true);
        assert_eq!(
            f.store.get(&small_cid).await.unwrap(),
            small,
            "{pair:?} down"
        );
        f.down(&pair, false);
    }
}

/// Any k of the k + m backends rebuild every block, whichever m are down.
#[tokio::test]
async fn any_k_backends_rebuild_every_block() {
    let f = dir_federation(6);
    let tag = run_tag("ec-anyk");
    let mut blobs = Vec::new();
    for (j, len) in [5000usize, 70_000, 200_000].into_iter().enumerate() {
        let b = Bytes::from(data(&format!("{tag}/{j}"), len));
        let c = raw_cid(&b);
        f.store.put(&c, b.clone()).await.unwrap();
        blobs.push((c, b));
    }
    for a in 0..6 {
        for b in a + 1..6 {
            f.down(&[a, b], true);
            for (c, bytes) in &blobs {
                assert_eq!(&f.store.get(c).await.unwrap(), bytes, "down {a} {b}");
            }
            f.down(&[a, b], false);
        }
    }
}

#[tokio::test]
async fn corrupt_shards_are_detected_skipped_scrubbed_and_repaired() {
    let f = dir_federation(6);
    let tag = run_tag("ec-corrupt");
    let bytes = Bytes::from(data(&format!("{tag}/blob"), 333_333));
    let cid = raw_cid(&bytes);
    f.store.put(&cid, bytes.clone()).await.unwrap();
    let small = Bytes::from(data(&format!("{tag}/small"), 1000));
    let small_cid = raw_cid(&small);
    f.store.put(&small_cid, small.clone()).await.unwrap();
    let clean = f.store.scrub().await.unwrap();
    assert!(clean.clean(), "{clean:?}");
    let (ok, missing, corrupt, _) = totals(&clean);
    // 6 stripes of 6 shards, and 3 copies.
    assert_eq!((ok, missing, corrupt), (6 * 6 + 3, 0, 0), "{clean:?}");

    // Flip a byte in every file of two backends: shards and copies alike.
    for i in [1usize, 3] {
        for p in f.files(i) {
            let mut b = std::fs::read(&p).unwrap();
            let at = b.len() / 2;
            b[at] ^= 0x40;
            std::fs::write(&p, b).unwrap();
        }
    }
    assert_eq!(f.store.get(&cid).await.unwrap(), bytes);
    assert_eq!(
        f.store.get_range(&cid, 100_000..250_000).await.unwrap(),
        bytes.slice(100_000..250_000)
    );
    assert_eq!(f.store.get(&small_cid).await.unwrap(), small);
    let counts = f.store.corrupt_counts();
    assert!(
        counts[1] + counts[3] > 0 && counts[0] + counts[2] + counts[4] + counts[5] == 0,
        "{counts:?}"
    );
    // The progress observer sees the count first, then every block once, in order.
    let mut seen = Vec::new();
    let found = f
        .store
        .scrub_observed(&ScrubOptions::default(), |so_far, todo| {
            seen.push((so_far.blocks, todo, so_far.last_block.clone()));
        })
        .await
        .unwrap();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!((seen[0].0, seen[0].1, seen[0].2.is_none()), (0, 2, true));
    assert_eq!((seen[2].0, seen[2].1), (2, 2));
    assert_eq!(seen[2].2, found.last_block);
    assert!(!found.clean());
    let corrupt: u64 = found.backends.iter().map(|b| b.corrupt).sum();
    let on_bad: u64 = [1, 3].iter().map(|&i| found.backends[i].corrupt).sum();
    assert!(corrupt >= 12 && corrupt == on_bad, "{found:?}");
    let repaired = f.store.repair().await.unwrap();
    assert!(repaired.clean(), "{repaired:?}");
    let after = f.store.scrub().await.unwrap();
    assert!(after.clean(), "{after:?}");
    assert_eq!(totals(&after).0, 6 * 6 + 3);
    // The healed shards are real: the two untouched parity holders can go now.
    f.down(&[0, 2], true);
    assert_eq!(f.store.get(&cid).await.unwrap(), bytes);
}

#[tokio::test]
async fn a_backend_that_reads_back_corrupt_bytes_is_outvoted() {
    // Backend 2 flips a bit in everything it returns (the fault store's corruption).
    let dirs: Vec<tempfile::TempDir> = (0..6).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut backends: Vec<Arc<dyn BlockStore>> = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        let s: Arc<dyn BlockStore> = Arc::new(DirStore::open(d.path()).unwrap());
        if i == 2 {
            backends.push(Arc::new(FaultyStore::new(
                s,
                FaultConfig {
                    seed: 9,
                    corrupt_rate: 1.0,
                    ..Default::default()
                },
            )));
        } else {
            backends.push(s);
        }
    }
    let f = federate(backends, dirs.into_iter().map(Some).collect());
    let bytes = Bytes::from(data("corrupt-reads", 250_000));
    let cid = raw_cid(&bytes);
    f.store.put(&cid, bytes.clone()).await.unwrap();
    for _ in 0..3 {
        assert_eq!(f.store.get(&cid).await.unwrap(), bytes);
    }
    assert!(f.store.corrupt_counts()[2] > 0);
    let report = f.store.scrub().await.unwrap();
    assert!(report.backends[2].corrupt >= 4, "{report:?}");
    assert_eq!(report.backends[2].ok, 0, "{report:?}");
    // With backend 2 lying, one more lost backend is still survivable: 4 honest remain.
    f.down(&[0], true);
    assert_eq!(f.store.get(&cid).await.unwrap(), bytes);
}

#[tokio::test]
async fn a_backend_that_comes_back_empty_is_restored_by_repair() {
    let f = dir_federation(6);
    let tag = run_tag("ec-empty");
    let mut blobs = Vec::new();
    for (j, len) in [100usize, 9000, 150_000].into_iter().enumerate() {
        let b = Bytes::from(data(&format!("{tag}/{j}"), len));
        let c = raw_cid(&b);
        f.store.put(&c, b.clone()).await.unwrap();
        blobs.push((c, b));
    }
    let lost = 4;
    let before = f.files(lost).len();
    assert!(before > 0);
    for p in f.files(lost) {
        std::fs::remove_file(p).unwrap();
    }
    for (c, b) in &blobs {
        assert_eq!(&f.store.get(c).await.unwrap(), b);
    }
    let found = f.store.scrub().await.unwrap();
    assert_eq!(found.backends[lost].missing as usize, before, "{found:?}");
    assert_eq!(found.backends[lost].ok, 0);
    let repaired = f.store.repair().await.unwrap();
    assert_eq!(
        repaired.backends[lost].healed as usize, before,
        "{repaired:?}"
    );
    assert_eq!(f.files(lost).len(), before);
    assert!(f.store.scrub().await.unwrap().clean());
    // The restored backend carries its weight: two others may go now.
    let others: Vec<usize> = (0..6).filter(|&i| i != lost).take(2).collect();
    f.down(&others, true);
    for (c, b) in &blobs {
        assert_eq!(&f.store.get(c).await.unwrap(), b);
    }
}

#[tokio::test]
async fn bad_configurations_are_refused() {
    let f = dir_federation(6);
    let backends: Vec<Arc<dyn BlockStore>> = f
        .faulty
        .iter()
        .map(|s| s.clone() as Arc<dyn BlockStore>)
        .collect();
    let refused = |c: ErasureConfig, n: usize| {
        matches!(
            ErasureStore::new(backends[..n].to_vec(), c),
            Err(StoreError::Config(_))
        )
    };
    assert!(
        refused(ErasureConfig::new(4, 2), 5),
        "fewer backends than k + m"
    );
    assert!(refused(ErasureConfig::new(0, 2), 6));
    assert!(refused(ErasureConfig::new(4, 0), 6));
    let mut c = ErasureConfig::new(4, 2);
    c.min_durable = 7;
    assert!(refused(c, 6));
    let mut c = ErasureConfig::new(4, 2);
    c.stripe_size = 3000;
    assert!(refused(c, 6));
}

/// A vault lives on rs 4+2 (heads in a directory store): objects, a prune, two dead backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_lives_on_an_erasure_store() {
    use coffer::keys::Identity;
    use coffer::vault::{GcTiming, PruneOptions, PutOptions, Vault};
    let f = dir_federation(6);
    let heads_dir = tempfile::tempdir().unwrap();
    let heads = Arc::new(DirStore::open(heads_dir.path()).unwrap());
    let store = Arc::new(SplitStore::new(Arc::new(f.store.clone()), heads));
    common::vault::vault_suite(store.clone(), "suite").await;

    let mut v = Vault::create(store.clone(), Identity::generate(), "ec", "d")
        .await
        .unwrap();
    v.set_gc_timing(GcTiming {
        grace_ms: 0,
        lease_ms: 60_000,
        skew_ms: 1_000,
        poll_ms: 5,
    });
    let kept_bytes = data("kept", 400_000);
    v.put(b"gone", data("gone", 300_000), PutOptions::default())
        .await
        .unwrap();
    v.put(b"kept", kept_bytes.clone(), PutOptions::default())
        .await
        .unwrap();
    let gone: Cid = v.head(b"gone").await.unwrap().data.parse().unwrap();
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
    assert!(!f.store.has(&gone).await.unwrap());
    assert!(
        !f.store.list().await.unwrap().contains(&gone),
        "a prune left shards of the purged object"
    );
    f.down(&[1, 3], true);
    assert_eq!(v.get(b"kept").await.unwrap(), kept_bytes);
    assert_eq!(
        v.get_range(b"kept", 100_000..300_000).await.unwrap(),
        &kept_bytes[100_000..300_000]
    );
}

#[cfg(feature = "s3")]
mod s3_servers {
    use super::*;
    use coffer::store::s3::{S3Config, S3Store};
    use common::require_env;

    /// A store under `prefix` of the test bucket of SeaweedFS (`ceph` false) or Ceph RGW.
    async fn prefix_store(ceph: bool, prefix: &str) -> Arc<dyn BlockStore> {
        let (server, how) = if ceph {
            ("CEPH", ".ci/ceph.sh start")
        } else {
            ("S3", ".ci/seaweedfs.sh start")
        };
        require_env("AWS_ACCESS_KEY_ID", how);
        let mut c = S3Config::new(require_env(&format!("COFFER_TEST_{server}_BUCKET"), how));
        c.endpoint = Some(require_env(&format!("COFFER_TEST_{server}_ENDPOINT"), how));
        c.path_style = true;
        c.prefix = format!("tests/{prefix}");
        Arc::new(S3Store::connect(c).await.expect("S3 client"))
    }

    /// Two SeaweedFS prefixes, two Ceph RGW prefixes and two directory stores: round trip, two
    /// of them down (S3 and a directory), a Ceph backend emptied and repaired, then a directory
    /// and a Ceph backend down.
    #[tokio::test]
    async fn mixed_seaweedfs_ceph_and_directory_backends() {
        let tag = run_tag("ec-mixed");
        let mut backends: Vec<Arc<dyn BlockStore>> = Vec::new();
        let mut all_dirs = Vec::new();
        // Backends 0..6: SeaweedFS, dir, Ceph, dir, SeaweedFS, Ceph.
        for (i, kind) in ["sw", "dir", "ceph", "dir", "sw", "ceph"]
            .iter()
            .enumerate()
        {
            if *kind == "dir" {
                let d = tempfile::tempdir().unwrap();
                backends.push(Arc::new(DirStore::open(d.path()).unwrap()));
                all_dirs.push(Some(d));
            } else {
                backends.push(prefix_store(*kind == "ceph", &format!("{tag}/{i}")).await);
                all_dirs.push(None);
            }
        }
        let f = federate(backends, all_dirs);
        block_store_suite(&f.store, &tag, 300 << 10).await;
        let bytes = Bytes::from(data(&format!("{tag}/blob"), 600_000));
        let cid = raw_cid(&bytes);
        f.store.put(&cid, bytes.clone()).await.unwrap();
        f.down(&[0, 1], true);
        assert_eq!(f.store.get(&cid).await.unwrap(), bytes);
        assert_eq!(
            f.store.get_range(&cid, 70_000..80_000).await.unwrap(),
            bytes.slice(70_000..80_000)
        );
        f.down(&[0, 1], false);
        // Empty Ceph backend 2 (deleting through the store itself), then repair it.
        let inner = f.faulty[2].inner();
        let held = inner.list().await.unwrap();
        assert!(!held.is_empty());
        for c in &held {
            inner.delete(c).await.unwrap();
        }
        let found = f.store.scrub().await.unwrap();
        assert_eq!(found.backends[2].missing as usize, held.len(), "{found:?}");
        let repaired = f.store.repair().await.unwrap();
        assert!(repaired.clean(), "{repaired:?}");
        assert_eq!(inner.list().await.unwrap().len(), held.len());
        f.down(&[3, 5], true);
        assert_eq!(f.store.get(&cid).await.unwrap(), bytes);
        f.down(&[3, 5], false);
        f.store.delete(&cid).await.unwrap();
    }
}

/// A stored block put again while more than m backends are down: the write fails, and its
/// rollback deletes none of the shards the reachable backends already held (before, it deleted
/// them, and the block was lost once the others came back), for `put` and `put_stream` alike.
#[tokio::test]
async fn a_failed_rewrite_of_a_stored_block_deletes_none_of_it() {
    let f = dir_federation(6);
    let bytes = Bytes::from(data("rewrite/blob", 300_000));
    let cid = raw_cid(&bytes);
    f.store.put(&cid, bytes.clone()).await.unwrap();
    let held = f.inner_count().await;
    f.down(&[0, 1, 2], true);
    let err = f.store.put(&cid, bytes.clone()).await.unwrap_err();
    assert!(matches!(err, StoreError::QuorumFailed { .. }), "{err}");
    let mut src = futures_util::io::Cursor::new(bytes.to_vec());
    let err = f
        .store
        .put_stream(&cid, &mut src, Some(bytes.len() as u64))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::QuorumFailed { .. }), "{err}");
    f.down(&[0, 1, 2], false);
    assert_eq!(f.inner_count().await, held, "shards were deleted");
    assert_eq!(f.store.get(&cid).await.unwrap(), bytes);
    assert!(f.store.scrub().await.unwrap().clean());
}

/// k colluding backends serve a consistent set of another block's shards under this block's
/// names: the shards agree with each other and decode, but the stripe does not match the CID,
/// so the read fails instead of returning the other block's bytes.
#[tokio::test]
async fn colluding_backends_cannot_substitute_another_block() {
    use coffer::store::erasure::layout::{first_backend, shard_cid};
    let f = dir_federation(6);
    let a = Bytes::from(data("collude/a", 50_000));
    let b = Bytes::from(data("collude/b", 50_000));
    let (ca, cb) = (raw_cid(&a), raw_cid(&b));
    f.store.put(&ca, a.clone()).await.unwrap();
    f.store.put(&cb, b.clone()).await.unwrap();
    let (fa, fb) = (first_backend(&ca, 6), first_backend(&cb, 6));
    for i in 0..4u8 {
        let from = f.faulty[(fb + i as usize) % 6].inner();
        let to = f.faulty[(fa + i as usize) % 6].inner();
        let forged = from.get(&shard_cid(&cb, 0, i).unwrap()).await.unwrap();
        let name = shard_cid(&ca, 0, i).unwrap();
        to.delete(&name).await.unwrap();
        to.put(&name, forged).await.unwrap();
    }
    let err = f.store.get(&ca).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InsufficientShards { .. }),
        "{err}"
    );
    assert!(f.store.get_range(&ca, 0..100).await.is_err());
    let report = f.store.scrub().await.unwrap();
    assert!(
        report
            .unrecoverable
            .iter()
            .any(|(c, _)| *c == ca.to_string()),
        "{report:?}"
    );
    assert_eq!(f.store.get(&cb).await.unwrap(), b);
}
