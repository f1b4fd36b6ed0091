//! Backends with places and placement policies over real stores: directory stores, and
//! SeaweedFS and Ceph RGW prefixes mixed with directory stores (`.ci/seaweedfs.sh start`,
//! `.ci/ceph.sh start`; never skipped).
//! Backends are taken down with the fault-injection wrapper.
#![cfg(feature = "erasure")]
// Test helpers too: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use coffer::block::{Cid, raw_cid};
use coffer::keys::Identity;
use coffer::store::erasure::ErasureConfig;
use coffer::store::erasure::layout::parse_shard_cid;
use coffer::store::placed::{
    Backend, BackendState, BackendStore, PlacedStore, Policy, RebalanceOptions,
};
use coffer::store::{BlockStore, DirStore, FaultyStore, StoreError};
use coffer::vault::{PutOptions, Vault, VaultError};
use common::{data, run_tag};

type Faulty = Arc<FaultyStore<Arc<dyn BackendStore>>>;

/// Backends behind fault switches, with their places.
struct Registry {
    faulty: Vec<Faulty>,
    backends: Vec<Backend>,
    _dirs: Vec<tempfile::TempDir>,
}

/// rs with 64 KiB stripes and blocks up to 4 KiB replicated (small, so tests cross stripes).
fn template() -> ErasureConfig {
    let mut c = ErasureConfig::new(4, 2);
    c.stripe_size = 64 << 10;
    c.small_block = 4 << 10;
    c
}

/// `(name, region, jurisdiction)`.
const PLACES: [(&str, &str, &str); 8] = [
    ("paris", "eu-west", "EU"),
    ("dublin", "eu-west", "EU"),
    ("frankfurt", "eu-central", "EU"),
    ("warsaw", "eu-central", "EU"),
    ("zurich", "eu-central", "CH"),
    ("virginia", "us-east", "US"),
    ("oregon", "us-west", "US"),
    ("tokyo", "ap-northeast", "JP"),
];

impl Registry {
    fn new() -> Self {
        Self {
            faulty: Vec::new(),
            backends: Vec::new(),
            _dirs: Vec::new(),
        }
    }

    fn add(&mut self, store: Arc<dyn BackendStore>, place: usize) {
        let (name, region, jurisdiction) = PLACES[place];
        let faulty = Arc::new(FaultyStore::healthy(store));
        let mut b = Backend::new(name, faulty.clone() as Arc<dyn BackendStore>);
        b.region = Some(region.into());
        b.jurisdiction = Some(jurisdiction.into());
        self.faulty.push(faulty);
        self.backends.push(b);
    }

    fn add_dir(&mut self, place: usize) {
        let dir = tempfile::tempdir().unwrap();
        self.add(Arc::new(DirStore::open(dir.path()).unwrap()), place);
        self._dirs.push(dir);
    }

    fn dirs(n: usize) -> Self {
        let mut r = Self::new();
        for i in 0..n {
            r.add_dir(i);
        }
        r
    }

    fn store(&self, policy: &str) -> PlacedStore {
        PlacedStore::with_erasure_config(
            self.backends.clone(),
            policy.parse::<Policy>().unwrap(),
            template(),
        )
        .unwrap()
    }

    fn down(&self, which: &[usize], down: bool) {
        for &i in which {
            self.faulty[i].set_down(down);
        }
    }

    /// The blocks (copies and shards, by block) backend `i` holds.
    async fn held(&self, i: usize) -> BTreeSet<Cid> {
        self.faulty[i]
            .inner()
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|c| parse_shard_cid(&c).map_or(c, |(b, _, _)| b))
            .collect()
    }
}

/// `n` blocks, every third larger than a stripe (erasure-coded under `rs`), the others small.
fn blocks(tag: &str, n: usize) -> Vec<(Cid, Bytes)> {
    (0..n)
        .map(|i| {
            let len = if i % 3 == 0 { 100_000 } else { 500 + i };
            let bytes = Bytes::from(data(&format!("{tag}/{i}"), len));
            (raw_cid(&bytes), bytes)
        })
        .collect()
}

async fn all_read(store: &PlacedStore, blocks: &[(Cid, Bytes)]) {
    for (cid, bytes) in blocks {
        assert_eq!(&store.get(cid).await.unwrap(), bytes, "{cid}");
        assert_eq!(
            store.get_range(cid, 100..400).await.unwrap(),
            bytes.slice(100..400),
            "{cid}"
        );
        let streamed = coffer::store::collect_stream(store.get_stream(cid).await.unwrap())
            .await
            .unwrap();
        assert_eq!(&streamed, bytes, "{cid}");
    }
}

/// Which backends hold `cid` (a copy or any shard).
async fn holders(r: &Registry, cid: &Cid) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    for i in 0..r.faulty.len() {
        if r.held(i).await.contains(cid) {
            out.insert(i);
        }
    }
    out
}

#[tokio::test]
async fn policies_are_enforced() {
    let r = Registry::dirs(8);
    let tag = run_tag("placed-enforced");
    let store = r.store("replicate 2 regions>=2");
    let bs = blocks(&tag, 12);
    for (cid, bytes) in &bs {
        store.put(cid, bytes.clone()).await.unwrap();
        let at = holders(&r, cid).await;
        assert_eq!(at.len(), 2, "{at:?}");
        let regions: BTreeSet<&str> = at.iter().map(|&i| PLACES[i].1).collect();
        assert_eq!(regions.len(), 2, "{at:?}");
    }
    // EU only: shards and copies land on the four EU backends... which are too few for 4+2.
    store.set_policy("rs 4+2 eu-only".parse().unwrap()).unwrap();
    let fresh = blocks(&format!("{tag}/eu"), 6);
    for (cid, bytes) in &fresh {
        let err = store.put(cid, bytes.clone()).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::PolicyUnsatisfiable(m) if m.contains("rs 4+2 jurisdiction=EU needs 6 eligible backends, 4 are")),
            "{err}"
        );
        assert!(
            holders(&r, cid).await.is_empty(),
            "a refused write left pieces"
        );
    }
    store
        .set_policy("rs 2+2 jurisdiction=EU".parse().unwrap())
        .unwrap();
    for (cid, bytes) in &fresh {
        store.put(cid, bytes.clone()).await.unwrap();
        let at = holders(&r, cid).await;
        assert!(
            !at.is_empty() && at.iter().all(|&i| PLACES[i].2 == "EU"),
            "{at:?}"
        );
    }
    all_read(&store, &fresh).await;
    // A vault refuses to commit under an unsatisfiable policy, and writes nothing.
    let before: Vec<BTreeSet<Cid>> =
        futures_util::future::join_all((0..8).map(|i| r.held(i))).await;
    store
        .set_policy("replicate 3 tag=cold".parse().unwrap())
        .unwrap();
    let Err(err) = Vault::create(Arc::new(store.clone()), Identity::generate(), "v", "d").await
    else {
        panic!("a vault was created under an unsatisfiable policy");
    };
    assert!(
        matches!(err, VaultError::Store(StoreError::PolicyUnsatisfiable(_))),
        "{err}"
    );
    let after: Vec<BTreeSet<Cid>> = futures_util::future::join_all((0..8).map(|i| r.held(i))).await;
    assert_eq!(before, after);
}

/// A vault on rs 4+2 over eight backends reads everything with two of them dead (the first
/// active one, which holds the heads, among them).
#[tokio::test]
async fn a_vault_on_rs_4_2_survives_two_dead_backends() {
    let r = Registry::dirs(8);
    let store = Arc::new(r.store("rs 4+2"));
    let id = Identity::from_seed(&[3u8; 32]);
    let mut v = Vault::create(store.clone(), id.clone(), "photos", "laptop")
        .await
        .unwrap();
    let mut objects = Vec::new();
    for i in 0..8 {
        let body = data(&format!("obj{i}"), if i % 2 == 0 { 200_000 } else { 3_000 });
        let key = format!("k/{i}");
        v.put(key.as_bytes(), body.clone(), PutOptions::default())
            .await
            .unwrap();
        objects.push((key, body));
    }
    r.down(&[0, 5], true);
    let v = Vault::open(store.clone(), id.clone(), "photos", "laptop")
        .await
        .unwrap();
    for (key, body) in &objects {
        assert_eq!(&v.get(key.as_bytes()).await.unwrap(), body, "{key}");
    }
    r.down(&[0, 5], false);
    // Three dead backends among a block's six are one too many.
    let bytes = Bytes::from(data("three", 100_000));
    let cid = raw_cid(&bytes);
    store.put(&cid, bytes.clone()).await.unwrap();
    let placed = store.placement(&cid).unwrap();
    r.down(&placed[..2], true);
    assert_eq!(store.get(&cid).await.unwrap(), bytes);
    r.down(&placed[2..3], true);
    let err = store.get(&cid).await.unwrap_err();
    assert!(
        matches!(err, StoreError::InsufficientShards { .. }),
        "{err}"
    );
}

/// Adding a backend moves only the blocks it wins, and everything reads before, during and after.
#[tokio::test]
async fn adding_a_backend_then_rebalancing_moves_only_some_blocks() {
    for policy in ["replicate 2", "rs 2+1"] {
        let mut r = Registry::dirs(5);
        let tag = run_tag("placed-add");
        let store = r.store(policy);
        let bs = blocks(&tag, 30);
        for (cid, bytes) in &bs {
            store.put(cid, bytes.clone()).await.unwrap();
        }
        r.add_dir(5);
        let grown = r.store(policy);
        // Before any rebalance: every block reads, from where it was.
        all_read(&grown, &bs).await;
        // Half a rebalance (from the middle on), then reads, then the rest.
        let mut sorted: Vec<Cid> = bs.iter().map(|(c, _)| *c).collect();
        sorted.sort();
        let half = grown
            .rebalance_with(&RebalanceOptions {
                start_after: Some(sorted[14]),
            })
            .await
            .unwrap();
        assert_eq!(half.blocks, 15, "{policy}: {half:?}");
        all_read(&grown, &bs).await;
        let report = grown.rebalance().await.unwrap();
        assert!(report.clean(), "{policy}: {report:?}");
        let moved = report.moved + half.moved;
        assert!(moved > 0 && moved < 30, "{policy}: moved {moved} of 30");
        assert!(r.held(5).await.len() as u64 >= moved / 2, "{policy}");
        for (cid, _) in &bs {
            let want: BTreeSet<usize> = grown.placement(cid).unwrap().into_iter().collect();
            let at = holders(&r, cid).await;
            if want.len() == at.len() || policy.starts_with("replicate") {
                assert_eq!(at, want, "{policy}: {cid}");
            } else {
                // A small block under rs keeps m+1 copies on the first placed backends.
                assert!(at.is_subset(&want), "{policy}: {cid}");
            }
        }
        all_read(&grown, &bs).await;
        let again = grown.rebalance().await.unwrap();
        assert_eq!((again.moved, again.already_placed), (0, 30), "{policy}");
    }
}

/// A draining backend ends empty; a change of code (rs 2+1 → rs 3+1 → replicate 2) reads
/// throughout and is converted by a rebalance.
#[tokio::test]
async fn draining_empties_a_backend_and_codes_convert() {
    let mut r = Registry::dirs(6);
    let tag = run_tag("placed-drain");
    let bs = blocks(&tag, 24);
    let store = r.store("rs 2+1");
    for (cid, bytes) in &bs {
        store.put(cid, bytes.clone()).await.unwrap();
    }
    assert!(!r.held(2).await.is_empty());
    r.backends[2].state = BackendState::Draining;
    let draining = r.store("rs 2+1");
    all_read(&draining, &bs).await;
    let report = draining.rebalance().await.unwrap();
    assert!(report.clean() && report.moved > 0, "{report:?}");
    assert!(
        r.held(2).await.is_empty(),
        "the draining backend still holds blocks"
    );
    all_read(&draining, &bs).await;
    // Another code: reads find the old shards by their headers, a rebalance re-codes.
    draining.set_policy("rs 3+1".parse().unwrap()).unwrap();
    all_read(&draining, &bs).await;
    let recoded = draining.rebalance().await.unwrap();
    assert!(recoded.clean(), "{recoded:?}");
    all_read(&draining, &bs).await;
    draining.set_policy("replicate 2".parse().unwrap()).unwrap();
    all_read(&draining, &bs).await;
    let copied = draining.rebalance().await.unwrap();
    assert!(copied.clean() && copied.moved > 0, "{copied:?}");
    for (cid, _) in &bs {
        let want: BTreeSet<usize> = draining.placement(cid).unwrap().into_iter().collect();
        assert_eq!(holders(&r, cid).await, want, "{cid}");
    }
    all_read(&draining, &bs).await;
    assert!(r.held(2).await.is_empty());
    // Deleting removes every piece everywhere.
    for (cid, _) in &bs {
        draining.delete(cid).await.unwrap();
        assert!(holders(&r, cid).await.is_empty());
        assert!(!draining.has(cid).await.unwrap());
    }
}

#[cfg(feature = "s3")]
mod s3_servers {
    use super::*;
    use coffer::store::s3::{S3Config, S3Store};
    use common::require_env;

    /// A store under `prefix` of the test bucket of SeaweedFS (`ceph` false) or Ceph RGW.
    async fn prefix_store(ceph: bool, prefix: &str) -> Arc<dyn BackendStore> {
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

    /// Two SeaweedFS prefixes, two Ceph RGW prefixes and two directory stores on rs 4+2: a vault
    /// survives two dead (an S3 and a directory backend); a seventh backend (Ceph) joins and a
    /// rebalance moves some blocks to it; a SeaweedFS backend drains empty.
    #[tokio::test]
    async fn mixed_seaweedfs_ceph_and_directory_backends() {
        let tag = run_tag("placed-mixed");
        let mut r = Registry::new();
        // Backends 0..6: SeaweedFS, dir, Ceph, dir, SeaweedFS, Ceph.
        for (i, kind) in ["sw", "dir", "ceph", "dir", "sw", "ceph"]
            .iter()
            .enumerate()
        {
            if *kind == "dir" {
                r.add_dir(i);
            } else {
                r.add(
                    prefix_store(*kind == "ceph", &format!("{tag}/{i}")).await,
                    i,
                );
            }
        }
        let store = Arc::new(r.store("rs 4+2"));
        let id = Identity::from_seed(&[5u8; 32]);
        let mut v = Vault::create(store.clone(), id.clone(), "mixed", "a")
            .await
            .unwrap();
        let mut objects = Vec::new();
        for i in 0..6 {
            let body = data(
                &format!("{tag}/o{i}"),
                if i % 2 == 0 { 150_000 } else { 2_000 },
            );
            let key = format!("o/{i}");
            v.put(key.as_bytes(), body.clone(), PutOptions::default())
                .await
                .unwrap();
            objects.push((key, body));
        }
        r.down(&[0, 3], true);
        let v = Vault::open(store.clone(), id.clone(), "mixed", "a")
            .await
            .unwrap();
        for (key, body) in &objects {
            assert_eq!(&v.get(key.as_bytes()).await.unwrap(), body, "{key}");
        }
        r.down(&[0, 3], false);
        r.add(prefix_store(true, &format!("{tag}/6")).await, 6);
        let grown = Arc::new(r.store("rs 4+2"));
        let report = grown.rebalance().await.unwrap();
        assert!(
            report.clean() && report.moved > 0 && report.already_placed > 0,
            "{report:?}"
        );
        assert!(!r.held(6).await.is_empty());
        r.backends[4].state = BackendState::Draining;
        let drained = Arc::new(r.store("rs 4+2"));
        let report = drained.rebalance().await.unwrap();
        assert!(report.clean(), "{report:?}");
        assert!(
            r.held(4).await.is_empty(),
            "the draining S3 backend still holds blocks"
        );
        let v = Vault::open(drained.clone(), id, "mixed", "a")
            .await
            .unwrap();
        for (key, body) in &objects {
            assert_eq!(&v.get(key.as_bytes()).await.unwrap(), body, "{key}");
        }
    }
}

/// The placement policy is stored sealed in the vault beside the retention policy: set on one
/// device, seen on another after a sync, kept when the retention policy changes (and the other
/// way round), cleared with `None`.
#[tokio::test]
async fn the_placement_policy_lives_in_the_vault() {
    use coffer::vault::{Noncurrent, RetentionPolicy, RetentionRule};
    let r = Registry::dirs(6);
    let store = Arc::new(r.store("replicate 2"));
    let id = Identity::from_seed(&[9u8; 32]);
    let mut a = Vault::create(store.clone(), id.clone(), "p", "a")
        .await
        .unwrap();
    let mut b = Vault::open(store.clone(), id.clone(), "p", "b")
        .await
        .unwrap();
    assert_eq!(a.placement().await.unwrap(), None);
    let policy: Policy = "rs 3+2 jurisdiction=EU,CH".parse().unwrap();
    a.set_placement(Some(&policy)).await.unwrap();
    assert_eq!(a.placement().await.unwrap(), Some(policy.clone()));
    assert_eq!(b.placement().await.unwrap(), None);
    b.sync().await.unwrap();
    assert_eq!(b.placement().await.unwrap(), Some(policy.clone()));
    // Applying it: new writes are coded 3+2 on EU and CH backends only.
    store
        .set_policy(b.placement().await.unwrap().unwrap())
        .unwrap();
    let body = data("applied", 90_000);
    b.put(b"big", body.clone(), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(b.get(b"big").await.unwrap(), body);
    let keep = RetentionPolicy {
        rules: vec![RetentionRule {
            prefix: Vec::new(),
            noncurrent: Noncurrent::KeepNone,
            deleted_after_ms: None,
        }],
    };
    b.set_retention(&keep).await.unwrap();
    assert_eq!(b.placement().await.unwrap(), Some(policy.clone()));
    a.sync().await.unwrap();
    assert_eq!(a.retention().await.unwrap(), keep);
    assert_eq!(a.placement().await.unwrap(), Some(policy));
    a.set_placement(None).await.unwrap();
    assert_eq!(a.placement().await.unwrap(), None);
    assert_eq!(a.retention().await.unwrap(), keep);
}

/// A rebalance whose new place is down deletes nothing: the blocks it could not move stay
/// readable where they were, and a later rebalance finishes the move.
#[tokio::test]
async fn a_rebalance_that_cannot_write_deletes_nothing() {
    for policy in ["replicate 2", "rs 2+1"] {
        let mut r = Registry::dirs(5);
        let tag = run_tag("placed-safe");
        let store = r.store(policy);
        let bs = blocks(&tag, 24);
        for (cid, bytes) in &bs {
            store.put(cid, bytes.clone()).await.unwrap();
        }
        let names = |r: &Registry| {
            let stores: Vec<Faulty> = r.faulty[..5].to_vec();
            async move {
                let mut all = Vec::new();
                for s in stores {
                    let mut l = s.inner().list().await.unwrap();
                    l.sort();
                    all.push(l);
                }
                all
            }
        };
        let before = names(&r).await;
        r.add_dir(5);
        let grown = r.store(policy);
        r.down(&[5], true);
        let report = grown.rebalance().await.unwrap();
        assert!(
            !report.failed.is_empty() && report.moved == 0,
            "{policy}: {report:?}"
        );
        let after = names(&r).await;
        for (b, a) in before.iter().zip(&after) {
            assert!(
                b.iter().all(|c| a.contains(c)),
                "{policy}: a failed move deleted pieces"
            );
        }
        all_read(&grown, &bs).await;
        r.down(&[5], false);
        let report = grown.rebalance().await.unwrap();
        assert!(report.clean() && report.moved > 0, "{policy}: {report:?}");
        all_read(&grown, &bs).await;
    }
}
