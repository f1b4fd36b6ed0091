//! Small objects stored inside their manifest (`format::INLINE_MAX`, `docs/FORMAT.md §8`): one
//! block per object and one read per get; hostile manifests end in `Corrupt`; every path that
//! reads, shares, moves or collects an object handles an inline one.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_executor::block_on;

use super::format::{INLINE_MAX, IndexValue, Manifest};
use super::*;
use crate::block::Cid;
use crate::share::{Link, Scope, ShareBook, SharedReader, SharedWriter, read_inbox};
use crate::store::{HeadCondition, MemoryStore, StoreResult};

const DAY: u64 = 86_400_000;

/// A real memory store that counts block reads, and makes links: a URL naming the block, which
/// [`ProbeStore::fetch`] answers from the store as an S3 server answers a presigned GET.
#[derive(Default)]
struct ProbeStore {
    inner: MemoryStore,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl ProbeStore {
    fn take(&self) -> u64 {
        self.reads.swap(0, Ordering::SeqCst)
    }

    fn take_writes(&self) -> u64 {
        self.writes.swap(0, Ordering::SeqCst)
    }

    async fn fetch(&self, url: &str) -> Bytes {
        let cid: Cid = url
            .strip_prefix("https://links.test/")
            .expect("a link of this store")
            .parse()
            .expect("cid");
        self.inner.get(&cid).await.expect("the link's block")
    }
}

#[async_trait::async_trait]
impl BlockStore for ProbeStore {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.put(cid, bytes).await
    }
    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get(cid).await
    }
    async fn get_range(&self, cid: &Cid, range: std::ops::Range<u64>) -> StoreResult<Bytes> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.get_range(cid, range).await
    }
    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        self.inner.has(cid).await
    }
    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        BlockStore::delete(&self.inner, cid).await
    }
    async fn list(&self) -> StoreResult<Vec<Cid>> {
        BlockStore::list(&self.inner).await
    }
    async fn presigned_get(
        &self,
        cid: &Cid,
        _expires_in: std::time::Duration,
    ) -> StoreResult<Option<String>> {
        Ok(Some(format!("https://links.test/{cid}")))
    }
}

#[async_trait::async_trait]
impl HeadStore for ProbeStore {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<crate::store::Head>> {
        self.inner.read_heads(vault).await
    }
    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<crate::store::HeadVersion> {
        self.inner.write_head(vault, writer, bytes, condition).await
    }
    fn conditional_writes(&self) -> crate::store::ConditionalWrites {
        self.inner.conditional_writes()
    }
}

fn identity() -> Identity {
    Identity::from_seed(&[17u8; 32])
}

fn data(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13) ^ salt)
        .collect()
}

fn data_cid(info: &ObjectInfo) -> Cid {
    info.data.parse().expect("cid")
}

/// Runs `work` and returns what it gave with the block reads of `store` it made, less the index
/// nodes the vault fetched.
async fn reads_of<S: BlockStore + HeadStore + ?Sized, T>(
    store: &ProbeStore,
    v: &Vault<S>,
    work: impl std::future::Future<Output = T>,
) -> (T, u64) {
    store.take();
    let index = v.tree.stats().store_reads;
    let out = work.await;
    (out, store.take() - (v.tree.stats().store_reads - index))
}

async fn streamed<S: BlockStore + HeadStore + ?Sized>(v: &Vault<S>, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    v.get_to(key, &mut out, None).await.expect("streamed get");
    out
}

#[test]
fn a_small_get_reads_one_block_after_the_index_and_a_large_one_two() {
    block_on(async {
        let store = Arc::new(ProbeStore::default());
        let mut v = Vault::open_or_create(store.clone(), identity(), "i", "d")
            .await
            .expect("open");
        let small = data(1024, 1);
        let big = data(100_000, 2);
        let s = v
            .put(b"small", small.clone(), PutOptions::default())
            .await
            .expect("put");
        let b = v
            .put(b"big", big.clone(), PutOptions::default())
            .await
            .expect("put");
        assert!(s.inline && !b.inline);
        // One block per small object: its manifest.
        assert!(!store.has(&data_cid(&s)).await.expect("has"));
        assert!(store.has(&data_cid(&b)).await.expect("has"));

        for (key, want, blocks) in [(&b"small"[..], &small, 1), (b"big", &big, 2)] {
            let (got, reads) = reads_of(&store, &v, v.get(key)).await;
            assert_eq!(&got.expect("get"), want);
            assert_eq!(reads, blocks, "get {key:?}");
        }
        // A streamed get reads a small object whole: its manifest, then (when not inline) the
        // object, never its outboard.
        for (key, want, blocks) in [(&b"small"[..], &small, 1), (b"big", &big, 2)] {
            let (got, reads) = reads_of(&store, &v, streamed(&v, key)).await;
            assert_eq!(&got, want);
            assert_eq!(reads, blocks, "streamed get {key:?}");
        }
        let (got, reads) = reads_of(&store, &v, v.get_range(b"small", 100..200)).await;
        assert_eq!(got.expect("range"), &small[100..200]);
        assert_eq!(reads, 1, "range get");
    });
}

/// Opening a vault as a device that already has a head, and reading from it, write nothing:
/// a read-only command costs no store write. A fresh device writes the empty root its first head
/// points at.
#[test]
fn opening_and_reading_write_no_block() {
    block_on(async {
        let store = Arc::new(ProbeStore::default());
        let mut v = Vault::open_or_create(store.clone(), identity(), "r", "d")
            .await
            .expect("create");
        assert!(store.take_writes() > 0, "a new vault writes");
        v.put(b"k", data(100_000, 5), PutOptions::default())
            .await
            .expect("put");
        drop(v);
        let mut phone = Vault::open(store.clone(), identity(), "r", "phone")
            .await
            .expect("a new device");
        phone.sync().await.expect("sync");
        drop(phone);
        store.take_writes();
        for device in ["d", "phone"] {
            let v = Vault::open(store.clone(), identity(), "r", device)
                .await
                .expect("open");
            assert_eq!(v.get(b"k").await.expect("get"), data(100_000, 5));
            assert_eq!(streamed(&v, b"k").await, data(100_000, 5));
        }
        assert_eq!(store.take_writes(), 0, "blocks written");
    });
}

/// A streamed get of an object read whole (no outboard fetched) still checks every byte before
/// the writer sees one: a swapped, truncated or inflated object is `Corrupt` and nothing is
/// written; one over `WHOLE_READ_MAX` streams and reads its outboard.
#[test]
fn a_streamed_get_read_whole_refuses_a_damaged_object_before_writing() {
    block_on(async {
        let store = Arc::new(ProbeStore::default());
        let mut v = Vault::open_or_create(store.clone(), identity(), "w", "d")
            .await
            .expect("open");
        let medium = data(200_000, 3);
        let info = v
            .put(b"medium", medium.clone(), PutOptions::default())
            .await
            .expect("put");
        let cid = data_cid(&info);
        let good = store.inner.get(&cid).await.expect("block");
        let mut flipped = good.to_vec();
        flipped[150_000] ^= 1;
        let mut longer = good.to_vec();
        longer.push(0);
        for (what, bad) in [
            ("flipped", flipped),
            ("truncated", good[..good.len() - 1].to_vec()),
            ("inflated", longer),
        ] {
            store.inner.put(&cid, Bytes::from(bad)).await.expect("swap");
            let mut out = Vec::new();
            let err = v.get_to(b"medium", &mut out, None).await;
            assert!(
                matches!(err, Err(VaultError::Corrupt { .. })),
                "{what}: {err:?}"
            );
            assert!(out.is_empty(), "{what}: bytes reached the writer");
        }
        store.inner.put(&cid, good).await.expect("restore");
        assert_eq!(streamed(&v, b"medium").await, medium);

        let large = data(super::stream::WHOLE_READ_MAX as usize + 100_000, 4);
        v.put(b"large", large.clone(), PutOptions::default())
            .await
            .expect("put");
        let (got, reads) = reads_of(&store, &v, streamed(&v, b"large")).await;
        assert_eq!(got, large);
        assert_eq!(reads, 3, "a large streamed get: manifest, outboard, object");
    });
}

/// Seals `m` as the owner does (signed), stores it and points `key` at it.
async fn forge<S: BlockStore + HeadStore + ?Sized>(v: &mut Vault<S>, key: &[u8], m: &Manifest) {
    let m = Manifest {
        key: key.to_vec(),
        ..m.clone()
    };
    let (cid, sealed) = v.seal_meta(&m.encode().expect("encode")).expect("seal");
    v.store
        .put(&cid, Bytes::from(sealed))
        .await
        .expect("put forged");
    let value = IndexValue::new(cid, m.plain_len).encode().expect("value");
    v.commit_value(key, value).await.expect("link forged");
}

/// Manifests the owner's key signed (a store cannot make them; a buggy or compromised writer
/// could) whose inline bytes disagree with them: every read is `Corrupt`, never data.
#[test]
fn inline_bytes_that_disagree_with_their_manifest_are_corrupt() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut v = Vault::open_or_create(store.clone(), identity(), "h", "d")
            .await
            .expect("open");
        v.put(b"k", data(1000, 3), PutOptions::default())
            .await
            .expect("put");
        v.put(b"other", data(1000, 4), PutOptions::default())
            .await
            .expect("put");
        let (_, m) = v.current_manifest(b"k").await.expect("manifest");
        let (_, o) = v.current_manifest(b"other").await.expect("manifest");
        let inline = m.inline.clone().expect("inline").into_vec();
        assert_eq!(inline.len(), o.inline.as_ref().expect("inline").len());
        let bytes = |b: Vec<u8>| Some(serde_bytes::ByteBuf::from(b));
        let mut flipped = inline.clone();
        flipped[50] ^= 1;
        let cases = [
            (
                "too short",
                Manifest {
                    inline: bytes(inline[..inline.len() - 1].to_vec()),
                    ..m.clone()
                },
            ),
            (
                "too long",
                Manifest {
                    inline: bytes([&inline[..], b"x"].concat()),
                    ..m.clone()
                },
            ),
            (
                "a flipped bit",
                Manifest {
                    inline: bytes(flipped),
                    ..m.clone()
                },
            ),
            (
                "another object's bytes",
                Manifest {
                    inline: o.inline.clone(),
                    ..m.clone()
                },
            ),
            (
                "with an outboard",
                Manifest {
                    outboard: Some(o.data),
                    ..m.clone()
                },
            ),
            (
                "naming another block",
                Manifest {
                    data: o.data,
                    ..m.clone()
                },
            ),
            (
                "over the inline limit",
                Manifest {
                    sealed_len: INLINE_MAX + 1,
                    inline: bytes(vec![0; INLINE_MAX as usize + 1]),
                    ..m.clone()
                },
            ),
        ];
        for (what, forged) in cases {
            forge(&mut v, b"f", &forged).await;
            assert!(
                matches!(v.get(b"f").await, Err(VaultError::Corrupt { .. })),
                "get, {what}"
            );
            assert!(
                matches!(
                    v.get_range(b"f", 0..10).await,
                    Err(VaultError::Corrupt { .. })
                ),
                "range, {what}"
            );
            let mut out = Vec::new();
            assert!(
                matches!(
                    v.get_to(b"f", &mut out, None).await,
                    Err(VaultError::Corrupt { .. })
                ),
                "streamed, {what}"
            );
            assert!(
                out.is_empty(),
                "streamed, {what}: wrote {} bytes",
                out.len()
            );
        }
        // The genuine manifest, forged the same way, reads: the refusals above are the bytes'.
        forge(&mut v, b"f", &m).await;
        assert_eq!(v.get(b"f").await.expect("genuine"), data(1000, 3));
    });
}

async fn grant(store: &ProbeStore, who: &Identity) -> crate::share::Share {
    let mut book = ShareBook::new();
    for e in read_inbox(store, who).await.expect("inbox") {
        let _ = book.accept(e.share.expect("share"), now_ms());
    }
    book.iter().last().expect("a grant").clone()
}

#[test]
fn every_path_handles_an_inline_object() {
    block_on(async {
        let store = Arc::new(ProbeStore::default());
        let mut v = Vault::open_or_create(store.clone(), identity(), "p", "d")
            .await
            .expect("open");
        v.set_gc_timing(GcTiming {
            grace_ms: 0,
            lease_ms: 60_000,
            skew_ms: 1_000,
            poll_ms: 5,
        });
        let body = data(3000, 5);
        let opts = PutOptions {
            content_type: Some("text/plain".into()),
            ..Default::default()
        };
        let a = v.put(b"p/a", body.clone(), opts).await.expect("put");
        assert!(a.inline);

        // Ranges and versions.
        let n = body.len() as u64;
        for r in [0..0, 0..n, 10..20, n - 1..n, 2000..3000] {
            let got = v.get_range(b"p/a", r.clone()).await.expect("range");
            assert_eq!(got, &body[r.start as usize..r.end as usize], "{r:?}");
        }
        assert!(v.get_range(b"p/a", 0..n + 1).await.is_err());
        assert_eq!(v.get_version(b"p/a", &a.version).await.expect("v"), body);
        assert_eq!(
            v.get_version_range(b"p/a", &a.version, 5..9)
                .await
                .expect("v range"),
            &body[5..9]
        );
        assert_eq!(streamed(&v, b"p/a").await, body);

        // A streamed put of a small object is inline too, and reads back every way.
        let s = v
            .put_source(b"p/s", &mut &body[..], PutOptions::default(), None)
            .await
            .expect("put_source");
        assert!(s.inline);
        assert!(!store.has(&data_cid(&s)).await.expect("has"));
        assert_eq!(v.get(b"p/s").await.expect("get"), body);
        assert_eq!(streamed(&v, b"p/s").await, body);

        // Copies carry the bytes along.
        let c = v.copy(b"p/a", b"p/c").await.expect("copy");
        assert!(c.inline);
        assert_eq!(c.data, a.data);
        assert_eq!(v.get(b"p/c").await.expect("copy get"), body);
        let cv = v
            .copy_version(b"p/a", Some(&a.version), b"p/cv", CopyOptions::default())
            .await
            .expect("copy_version");
        assert!(cv.inline);
        assert_eq!(v.get(b"p/cv").await.expect("copy get"), body);
        assert!(!store.has(&data_cid(&a)).await.expect("has"));

        // Shared readers: a prefix share and a version share.
        let bob = Identity::from_seed(&[18u8; 32]);
        let expires_ms = now_ms() + DAY;
        let share = |write| ShareOptions {
            expires_ms,
            write,
            ..Default::default()
        };
        v.share(Scope::Prefix(b"p/".to_vec()), bob.recipient(), share(true))
            .await
            .expect("share prefix");
        let reader = SharedReader::open(store.clone(), grant(&store, &bob).await)
            .await
            .expect("reader");
        assert_eq!(reader.get(b"p/a").await.expect("shared get"), body);
        assert_eq!(reader.get(b"p/s").await.expect("shared get"), body);
        let carol = Identity::from_seed(&[19u8; 32]);
        v.share(
            Scope::Version {
                key: b"p/a".to_vec(),
                version: a.version.clone(),
            },
            carol.recipient(),
            share(false),
        )
        .await
        .expect("share version");
        let reader = SharedReader::open(store.clone(), grant(&store, &carol).await)
            .await
            .expect("reader");
        assert_eq!(reader.get(b"p/a").await.expect("version share get"), body);

        // A co-writer's small put is inline; the owner reads it after merging.
        let mut w = SharedWriter::open(store.clone(), bob.clone(), grant(&store, &bob).await)
            .await
            .expect("writer");
        let cw_body = data(500, 6);
        w.put(b"p/w", &cw_body, None).await.expect("co-write");
        w.commit().await.expect("commit");
        v.sync().await.expect("merge");
        let cw = v.head(b"p/w").await.expect("head");
        assert!(cw.inline);
        assert!(!store.has(&data_cid(&cw)).await.expect("has"));
        assert_eq!(v.get(b"p/w").await.expect("co-written"), cw_body);

        // A link writes the block (the same bytes under the same CID), and the link reads.
        let url = v.share_link(b"p/a", expires_ms).await.expect("link");
        assert!(store.has(&data_cid(&a)).await.expect("has"));
        let link = Link::parse(&url).expect("parse");
        let fetched = store.fetch(link.fetch_url()).await;
        assert_eq!(link.open_response(&fetched, now_ms()).expect("open"), body);
        // Made again: the same block, nothing breaks.
        v.share_link(b"p/a", expires_ms).await.expect("link again");

        // A collection keeps the linked block while a manifest names it, and every inline
        // object reads after it.
        v.prune(
            PruneOptions {
                window_ms: 0,
                ..Default::default()
            },
            None,
        )
        .await
        .expect("prune");
        assert!(store.has(&data_cid(&a)).await.expect("kept"));
        for key in [&b"p/a"[..], b"p/s", b"p/c", b"p/cv", b"p/w"] {
            assert!(v.get(key).await.is_ok(), "{key:?} after a collection");
        }
        // Blocks listed for pinning and export are blocks the store must hold: not inline data.
        let referenced = v.referenced_blocks(None).await.expect("referenced");
        assert!(!referenced.contains(&data_cid(&s)));

        // Once no manifest names it, a linked block goes (an object no share holds).
        let q = v
            .put(b"q/x", data(700, 11), PutOptions::default())
            .await
            .expect("put");
        v.share_link(b"q/x", expires_ms).await.expect("link");
        let prune = PruneOptions {
            window_ms: 0,
            ..Default::default()
        };
        v.prune(prune, None).await.expect("prune");
        assert!(store.has(&data_cid(&q)).await.expect("kept"));
        v.delete(b"q/x").await.expect("delete");
        v.purge(b"q/x").await.expect("purge");
        v.prune(prune, None).await.expect("prune");
        assert!(!store.has(&data_cid(&q)).await.expect("swept"));
        assert_eq!(v.get(b"p/s").await.expect("still"), body);
    });
}

#[test]
fn a_car_round_trip_carries_inline_objects_without_data_blocks() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut v = Vault::open_or_create(store.clone(), identity(), "car", "d")
            .await
            .expect("open");
        let small = data(2000, 7);
        let big = data(40_000, 8);
        let s = v
            .put(b"small", small.clone(), PutOptions::default())
            .await
            .expect("put");
        v.put(b"big", big.clone(), PutOptions::default())
            .await
            .expect("put");
        let reach = v.reachable().await.expect("reachable");
        assert!(reach.missing.is_empty(), "{:?}", reach.missing);
        assert!(!reach.blocks.iter().any(|b| b.cid == data_cid(&s)));
        let mut car = std::io::Cursor::new(Vec::new());
        crate::car::export_car(&mut v, &mut car, None)
            .await
            .expect("export");
        let car = car.into_inner();
        let dst = Arc::new(MemoryStore::new());
        crate::car::import_car(&*dst, &identity(), std::io::Cursor::new(car), None)
            .await
            .expect("import");
        let mut w = Vault::open(dst.clone(), identity(), "car", "d2")
            .await
            .expect("open imported");
        w.sync().await.expect("sync");
        assert_eq!(w.get(b"small").await.expect("small"), small);
        assert_eq!(w.get(b"big").await.expect("big"), big);
        assert!(w.head(b"small").await.expect("head").inline);
    });
}

#[cfg(feature = "erasure")]
#[test]
fn a_scrub_finds_nothing_missing_for_inline_objects() {
    block_on(async {
        use crate::store::erasure::{ErasureConfig, ErasureStore};
        let backends: Vec<Arc<dyn BlockStore>> = (0..6)
            .map(|_| Arc::new(MemoryStore::new()) as Arc<dyn BlockStore>)
            .collect();
        let mut config = ErasureConfig::new(4, 2);
        config.small_block = 4 << 10;
        let ec = Arc::new(ErasureStore::new(backends, config).expect("erasure"));
        let store = Arc::new(crate::store::SplitStore::new(
            ec.clone(),
            Arc::new(MemoryStore::new()),
        ));
        let mut v = Vault::open_or_create(store, identity(), "ec", "d")
            .await
            .expect("open");
        let info = v
            .put(b"small", data(2000, 9), PutOptions::default())
            .await
            .expect("put");
        assert!(info.inline);
        v.put(b"big", data(200_000, 10), PutOptions::default())
            .await
            .expect("put");
        let report = ec.scrub().await.expect("scrub");
        assert!(report.clean(), "{report:?}");
        assert_eq!(v.get(b"small").await.expect("get"), data(2000, 9));
    });
}
