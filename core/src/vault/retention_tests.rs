//! Retention, graveyards, purge and garbage collection (single-process tests; the concurrent
//! race, the crash test and the property test are in `core/tests/prune_*.rs`).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use bytes::Bytes;
use futures_executor::block_on;

use super::*;
use crate::block::Cid;
use crate::index::ListRequest;
use crate::store::{Head, HeadCondition, HeadStore, HeadVersion, MemoryStore, StoreResult};

fn me() -> Identity {
    Identity::from_seed(&[9u8; 32])
}

fn fast() -> GcTiming {
    GcTiming {
        grace_ms: 0,
        lease_ms: 60_000,
        skew_ms: 1_000,
        poll_ms: 5,
    }
}

fn now_prune() -> PruneOptions {
    PruneOptions {
        window_ms: 0,
        ..Default::default()
    }
}

fn keep_none() -> RetentionPolicy {
    RetentionPolicy {
        rules: vec![RetentionRule {
            prefix: Vec::new(),
            noncurrent: Noncurrent::KeepNone,
            deleted_after_ms: None,
        }],
    }
}

async fn open<S: BlockStore + HeadStore + ?Sized>(store: Arc<S>, device: &str) -> Vault<S> {
    let mut v = Vault::open_or_create(store, me(), "r", device)
        .await
        .unwrap();
    v.set_gc_timing(fast());
    v
}

fn content(n: u8) -> Vec<u8> {
    vec![n; 40_000]
}

async fn data_cid<S: BlockStore + HeadStore + ?Sized>(v: &Vault<S>, key: &[u8]) -> Cid {
    v.head(key).await.unwrap().data.parse().unwrap()
}

#[test]
fn a_deleted_key_keeps_its_history_and_a_put_continues_it() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut v = open(store, "d").await;
        let a = v
            .put(b"k", content(1), PutOptions::default())
            .await
            .unwrap();
        let b = v
            .put(b"k", content(2), PutOptions::default())
            .await
            .unwrap();
        v.put(b"other", content(3), PutOptions::default())
            .await
            .unwrap();
        v.delete(b"k").await.unwrap();
        assert!(matches!(v.get(b"k").await, Err(VaultError::NotFound)));
        let versions = v.versions(b"k").await.unwrap();
        assert_eq!(
            versions
                .iter()
                .map(|i| i.version.clone())
                .collect::<Vec<_>>(),
            vec![b.version.clone(), a.version.clone()]
        );
        assert_eq!(v.get_version(b"k", &a.version).await.unwrap(), content(1));
        // Listings never show the vault's own keys.
        let page = v.list(&ListRequest::default()).await.unwrap();
        assert_eq!(page.key_count, 1);
        assert_eq!(page.contents[0].key, b"other");
        let one = v
            .list(&ListRequest {
                max_keys: Some(1),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(!one.is_truncated, "nothing but reserved keys follows");
        let delimited = v
            .list(&ListRequest {
                delimiter: Some(b"/".to_vec()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(delimited.key_count, 1);
        assert!(delimited.common_prefixes.is_empty());
        // A new put continues the history.
        let c = v
            .put(b"k", content(4), PutOptions::default())
            .await
            .unwrap();
        let versions = v.versions(b"k").await.unwrap();
        assert_eq!(versions.len(), 3);
        assert_eq!(versions[0].version, c.version);
        // Reserved keys are refused as object keys.
        assert!(matches!(
            v.put(b"\xFFgy/x", Vec::new(), PutOptions::default()).await,
            Err(VaultError::InvalidKey(_))
        ));
    });
}

#[test]
fn the_policy_travels_with_heads_and_the_newest_wins() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut a = open(store.clone(), "a").await;
        let mut b = open(store, "b").await;
        assert_eq!(a.retention().await.unwrap(), RetentionPolicy::default());
        a.set_retention(&keep_none()).await.unwrap();
        b.sync().await.unwrap();
        assert_eq!(b.retention().await.unwrap(), keep_none());
        let later = RetentionPolicy {
            rules: vec![RetentionRule {
                prefix: b"logs/".to_vec(),
                noncurrent: Noncurrent::Keep {
                    newest: Some(1),
                    younger_than_ms: None,
                },
                deleted_after_ms: Some(0),
            }],
        };
        b.set_retention(&later).await.unwrap();
        a.sync().await.unwrap();
        assert_eq!(a.retention().await.unwrap(), later);
        b.sync().await.unwrap();
        assert_eq!(b.retention().await.unwrap(), later);
        assert!(matches!(
            a.set_retention(&RetentionPolicy {
                rules: vec![RetentionRule {
                    prefix: Vec::new(),
                    noncurrent: Noncurrent::Keep {
                        newest: Some(0),
                        younger_than_ms: None
                    },
                    deleted_after_ms: None,
                }],
            })
            .await,
            Err(VaultError::InvalidPolicy(_))
        ));
    });
}

#[test]
fn prune_expires_old_versions_and_frees_their_blocks() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut a = open(store.clone(), "a").await;
        let mut b = open(store.clone(), "b").await;
        for i in 0..4 {
            a.put(b"k", content(i), PutOptions::default())
                .await
                .unwrap();
        }
        let old_data = {
            let vs = a.versions(b"k").await.unwrap();
            vs[3].data.parse::<Cid>().unwrap()
        };
        b.sync().await.unwrap();
        // Nothing expires without a policy; garbage (old index nodes) still goes.
        let before = store.len();
        let report = a.prune(now_prune(), None).await.unwrap();
        assert_eq!(report.versions_expired, 0);
        assert!(store.len() < before, "dead index nodes were swept");
        assert_eq!(a.versions(b"k").await.unwrap().len(), 4);
        a.set_retention(&RetentionPolicy {
            rules: vec![RetentionRule {
                prefix: Vec::new(),
                noncurrent: Noncurrent::Keep {
                    newest: Some(1),
                    younger_than_ms: None,
                },
                deleted_after_ms: None,
            }],
        })
        .await
        .unwrap();
        let report = a.prune(now_prune(), None).await.unwrap();
        assert_eq!(report.versions_expired, 2);
        assert!(report.swept.blocks >= 4, "{report:?}");
        assert!(!store.has(&old_data).await.unwrap());
        assert_eq!(a.versions(b"k").await.unwrap().len(), 2);
        assert_eq!(a.get(b"k").await.unwrap(), content(3));
        // A device that has not synced still reads its current version, and its history walk
        // stops where the blocks are gone.
        assert_eq!(b.get(b"k").await.unwrap(), content(3));
        assert_eq!(b.versions(b"k").await.unwrap().len(), 2);
        b.sync().await.unwrap();
        assert_eq!(b.versions(b"k").await.unwrap().len(), 2);
        // Pruning again changes nothing.
        let again = a.prune(now_prune(), None).await.unwrap();
        assert_eq!(again.versions_expired, 0);
        assert_eq!(a.get(b"k").await.unwrap(), content(3));
    });
}

#[test]
fn a_graveyard_expires_and_a_purge_erases() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut a = open(store.clone(), "a").await;
        let mut b = open(store.clone(), "b").await;
        a.put(b"gone", content(1), PutOptions::default())
            .await
            .unwrap();
        a.put(b"secret", content(2), PutOptions::default())
            .await
            .unwrap();
        let secret_v1 = a.head(b"secret").await.unwrap();
        a.put(b"secret", content(3), PutOptions::default())
            .await
            .unwrap();
        let gone_data = data_cid(&a, b"gone").await;
        let secret_data = data_cid(&a, b"secret").await;
        let secret_old: Cid = secret_v1.data.parse().unwrap();
        b.sync().await.unwrap();
        a.delete(b"gone").await.unwrap();
        a.set_retention(&RetentionPolicy {
            rules: vec![RetentionRule {
                prefix: Vec::new(),
                noncurrent: Noncurrent::KeepAll,
                deleted_after_ms: Some(0),
            }],
        })
        .await
        .unwrap();
        let report = a.purge(b"secret").await.unwrap();
        assert_eq!(report.versions, 2);
        assert!(matches!(
            a.versions(b"secret").await,
            Err(VaultError::NotFound)
        ));
        assert!(matches!(
            a.get_version(b"secret", &secret_v1.version).await,
            Err(VaultError::NotFound)
        ));
        let report = a.prune(now_prune(), None).await.unwrap();
        assert_eq!(report.graveyards_expired, 1);
        assert!(matches!(
            a.versions(b"gone").await,
            Err(VaultError::NotFound)
        ));
        // b has not synced: its head still names "gone" and "secret". The expired graveyard's
        // version is b's current one and stays; the purged versions go all the same.
        assert!(store.has(&gone_data).await.unwrap());
        assert!(!store.has(&secret_data).await.unwrap());
        assert!(!store.has(&secret_old).await.unwrap());
        b.sync().await.unwrap();
        assert!(matches!(b.get(b"secret").await, Err(VaultError::NotFound)));
        a.sync().await.unwrap();
        a.prune(now_prune(), None).await.unwrap();
        assert!(!store.has(&gone_data).await.unwrap());
        // The key can be used again, with a fresh history.
        a.put(b"secret", content(9), PutOptions::default())
            .await
            .unwrap();
        assert_eq!(a.versions(b"secret").await.unwrap().len(), 1);
        a.prune(now_prune(), None).await.unwrap();
        assert_eq!(a.get(b"secret").await.unwrap(), content(9));
    });
}

#[test]
fn a_window_keeps_young_garbage_until_a_later_collection() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut a = open(store.clone(), "a").await;
        a.put(b"k", content(1), PutOptions::default())
            .await
            .unwrap();
        a.put(b"k", content(2), PutOptions::default())
            .await
            .unwrap();
        a.set_retention(&keep_none()).await.unwrap();
        // A streamed upload never committed: garbage, but young.
        let bytes = content(7);
        let stray = a
            .upload_source(b"later", &mut &bytes[..], PutOptions::default(), None)
            .await
            .unwrap();
        let window = PruneOptions {
            window_ms: 150,
            ..Default::default()
        };
        let first = a.prune(window, None).await.unwrap();
        assert_eq!(first.swept.blocks, 0, "{first:?}");
        assert!(first.kept_young.blocks >= 3);
        assert!(store.has(stray.data()).await.unwrap());
        assert!(!a.gc_state().await.unwrap().candidates.is_empty());
        std::thread::sleep(std::time::Duration::from_millis(200));
        let second = a.prune(window, None).await.unwrap();
        assert!(
            second.swept.blocks >= first.kept_young.blocks - 2,
            "{second:?}"
        );
        assert!(!store.has(stray.data()).await.unwrap());
        // The upload's commit notices and says so (an in-memory one would be put back).
        let results = a.commit_uploads(vec![stray]).await.unwrap();
        assert!(matches!(results[0], Err(VaultError::UploadCollected)));
        assert_eq!(a.get(b"k").await.unwrap(), content(2));
    });
}

#[test]
fn an_in_memory_upload_outlives_a_collection_with_no_window() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut a = open(store.clone(), "a").await;
        let mut b = open(store.clone(), "b").await;
        let up = a
            .upload(b"k", content(5), PutOptions::default())
            .await
            .unwrap();
        b.prune(now_prune(), None).await.unwrap();
        assert!(!store.has(up.data()).await.unwrap(), "collected");
        let results = a.commit_uploads(vec![up]).await.unwrap();
        assert!(results[0].is_ok());
        assert_eq!(a.get(b"k").await.unwrap(), content(5));
        b.sync().await.unwrap();
        assert_eq!(b.get(b"k").await.unwrap(), content(5));
    });
}

#[test]
fn a_dry_run_changes_nothing() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut a = open(store.clone(), "a").await;
        for i in 0..3 {
            a.put(b"k", content(i), PutOptions::default())
                .await
                .unwrap();
        }
        a.set_retention(&keep_none()).await.unwrap();
        let blocks = store.len();
        let root = a.root();
        let report = a
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
        assert!(report.dry_run);
        assert_eq!(report.versions_expired, 2);
        assert!(report.swept.blocks >= 4);
        assert_eq!(a.versions(b"k").await.unwrap().len(), 3);
        assert_eq!(a.gc_state().await.unwrap().epoch, 0);
        // The sync of a dry run writes a head (like any sync) and nothing else.
        assert!(store.len() <= blocks + 1);
        assert_eq!(a.root(), root);
    });
}

#[test]
fn a_writer_waits_for_a_collection_and_ends_an_abandoned_one() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut a = open(store.clone(), "a").await;
        let collector = open(store.clone(), "c").await;
        // A collector that died in its mark phase, its lease long gone.
        let mut lease = collector.read_gc().await.unwrap();
        let dead = GcState {
            epoch: 1,
            phase: GcPhase::Mark,
            by: "dead".into(),
            started_ms: 1,
            lease_until_ms: 2,
            grace_ms: 0,
            aborted_by: None,
            candidates: Vec::new(),
        };
        collector.write_gc(&mut lease, dead).await.unwrap();
        a.put(b"k", content(1), PutOptions::default())
            .await
            .unwrap();
        let state = a.gc_state().await.unwrap();
        assert_eq!((state.phase, state.epoch), (GcPhase::Idle, 1));
        assert_eq!(state.aborted_by.as_deref(), Some(a.writer_name.as_str()));
        // A live collection: the writer waits until it ends.
        let mut lease = collector.read_gc().await.unwrap();
        let live = GcState {
            epoch: 2,
            phase: GcPhase::Sweep,
            by: "c".into(),
            started_ms: now_ms(),
            lease_until_ms: now_ms() + 60_000,
            ..state
        };
        collector.write_gc(&mut lease, live.clone()).await.unwrap();
        let release = async {
            futures_timer::Delay::new(std::time::Duration::from_millis(150)).await;
            let idle = GcState {
                phase: GcPhase::Idle,
                ..live.clone()
            };
            collector.write_gc(&mut lease, idle).await.unwrap();
            web_time::Instant::now()
        };
        let put = async {
            a.put(b"k", content(2), PutOptions::default())
                .await
                .unwrap();
            web_time::Instant::now()
        };
        let (released, put_done) = futures_util::future::join(release, put).await;
        assert!(
            put_done >= released,
            "the head was written only after the collection"
        );
        assert_eq!(a.get(b"k").await.unwrap(), content(2));
        // A second collector is refused while one runs.
        let mut c2 = open(store, "c2").await;
        let mut lease = c2.read_gc().await.unwrap();
        let running = GcState {
            epoch: 3,
            phase: GcPhase::Mark,
            by: "c".into(),
            started_ms: now_ms(),
            lease_until_ms: now_ms() + 60_000,
            ..live
        };
        c2.write_gc(&mut lease, running).await.unwrap();
        assert!(matches!(
            c2.prune(now_prune(), None).await,
            Err(VaultError::GcBusy(_))
        ));
    });
}

/// A store whose block deletes are refused (read-only credentials, object lock).
struct NoDeletes(MemoryStore);

#[async_trait::async_trait]
impl BlockStore for NoDeletes {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        self.0.put(cid, bytes).await
    }
    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        self.0.get(cid).await
    }
    async fn get_range(&self, cid: &Cid, range: std::ops::Range<u64>) -> StoreResult<Bytes> {
        self.0.get_range(cid, range).await
    }
    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        self.0.has(cid).await
    }
    async fn delete(&self, _: &Cid) -> StoreResult<()> {
        Err(StoreError::AccessDenied(
            "DeleteObject is not allowed".into(),
        ))
    }
    async fn list(&self) -> StoreResult<Vec<Cid>> {
        self.0.list().await
    }
}

#[async_trait::async_trait]
impl HeadStore for NoDeletes {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        self.0.read_heads(vault).await
    }
    async fn read_head(&self, vault: &str, writer: &str) -> StoreResult<Option<Head>> {
        self.0.read_head(vault, writer).await
    }
    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<HeadVersion> {
        self.0.write_head(vault, writer, bytes, condition).await
    }
    fn conditional_writes(&self) -> crate::store::ConditionalWrites {
        self.0.conditional_writes()
    }
    async fn probe_conditional_writes(&self) -> StoreResult<crate::store::ConditionalWrites> {
        self.0.probe_conditional_writes().await
    }
}

#[test]
fn a_store_that_refuses_deletes_loses_nothing_and_the_report_says_why() {
    block_on(async {
        let store = Arc::new(NoDeletes(MemoryStore::new()));
        let mut a = open(store.clone(), "a").await;
        a.put(b"k", content(1), PutOptions::default())
            .await
            .unwrap();
        a.put(b"k", content(2), PutOptions::default())
            .await
            .unwrap();
        a.set_retention(&keep_none()).await.unwrap();
        let report = a.prune(now_prune(), None).await.unwrap();
        assert_eq!(report.swept.blocks, 0);
        assert!(report.left.blocks >= 2);
        assert!(
            report.left_blocks[0]
                .reason
                .contains("DeleteObject is not allowed")
        );
        assert_eq!(a.get(b"k").await.unwrap(), content(2));
        assert_eq!(a.gc_state().await.unwrap().phase, GcPhase::Idle);
    });
}

#[test]
fn shares_keep_their_views_and_versions() {
    block_on(async {
        use crate::share::{Scope, ShareBook, SharedReader, read_inbox};
        let store = Arc::new(MemoryStore::new());
        let bob = Identity::from_seed(&[10u8; 32]);
        let mut a = open(store.clone(), "a").await;
        a.put(b"p/x", content(1), PutOptions::default())
            .await
            .unwrap();
        let pinned = a
            .put(b"v", content(2), PutOptions::default())
            .await
            .unwrap();
        let week = now_ms() + 7 * 86_400_000;
        let opts = ShareOptions {
            expires_ms: week,
            ..Default::default()
        };
        a.share(Scope::Prefix(b"p/".to_vec()), bob.recipient(), opts.clone())
            .await
            .unwrap();
        a.share(
            Scope::Version {
                key: b"v".to_vec(),
                version: pinned.version.clone(),
            },
            bob.recipient(),
            opts,
        )
        .await
        .unwrap();
        a.put(b"p/x", content(3), PutOptions::default())
            .await
            .unwrap();
        a.put(b"v", content(4), PutOptions::default())
            .await
            .unwrap();
        a.set_retention(&keep_none()).await.unwrap();
        a.prune(now_prune(), None).await.unwrap();
        let mut book = ShareBook::new();
        for entry in read_inbox(&*store, &bob).await.unwrap() {
            book.accept(entry.share.unwrap(), now_ms()).unwrap();
        }
        for share in book.iter() {
            let reader = SharedReader::open(store.clone(), share.clone())
                .await
                .unwrap();
            match share.scope() {
                Scope::Prefix(_) => assert_eq!(reader.get(b"p/x").await.unwrap(), content(3)),
                _ => assert_eq!(reader.get(b"v").await.unwrap(), content(2)),
            }
        }
        // The owner's next write publishes the view again from what the prune left.
        a.put(b"p/y", content(5), PutOptions::default())
            .await
            .unwrap();
        assert!(
            a.share_publish_error().is_none(),
            "{:?}",
            a.share_publish_error()
        );
    });
}

#[test]
fn a_device_that_joins_after_a_purge_and_a_prune_reads_what_is_live() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut a = open(store.clone(), "a").await;
        a.put(b"big", content(1), PutOptions::default())
            .await
            .unwrap();
        a.put(b"small", content(2), PutOptions::default())
            .await
            .unwrap();
        a.delete(b"big").await.unwrap();
        a.purge(b"big").await.unwrap();
        a.prune(now_prune(), None).await.unwrap();
        let mut b = Vault::open(store.clone(), me(), "r", "b").await.unwrap();
        b.sync().await.unwrap();
        assert_eq!(b.get(b"small").await.unwrap(), content(2));
        assert!(matches!(b.get(b"big").await, Err(VaultError::NotFound)));
        assert!(b.versions(b"big").await.map_or(true, |v| v.is_empty()));
    });
}
