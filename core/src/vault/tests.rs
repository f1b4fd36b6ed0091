//! Vault tests that need internals or fault injection (the suite every store runs is in
//! `core/tests/common/vault.rs`).

use std::sync::Arc;

use bytes::Bytes;
use futures_executor::block_on;

use super::*;
use crate::index::ListRequest;
use crate::store::{DirStore, HeadCondition, MemoryStore};

/// What a damaging server does: rewrites a (read-only) block file of the directory store.
fn overwrite_block_file(path: &std::path::Path, bytes: &[u8]) {
    let mut perms = std::fs::metadata(path).expect("meta").permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).expect("chmod");
    std::fs::write(path, bytes).expect("overwrite block file");
}

fn identity() -> Identity {
    Identity::from_seed(&[7u8; 32])
}

fn data(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ salt)
        .collect()
}

fn keys_of(page: &ListPage) -> Vec<String> {
    page.contents
        .iter()
        .map(|o| String::from_utf8(o.key.clone()).expect("utf-8 test keys"))
        .collect()
}

async fn all_keys<S: BlockStore + HeadStore + ?Sized>(v: &Vault<S>) -> Vec<String> {
    keys_of(&v.list(&ListRequest::default()).await.expect("list"))
}

#[test]
fn corrupted_ciphertext_is_reported() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut v = Vault::open_or_create(store.clone(), identity(), "c", "d")
            .await
            .expect("open");
        let big = data(100_000, 1);
        v.put(b"obj", big.clone(), PutOptions::default())
            .await
            .expect("put");
        let cid: Cid = v
            .head(b"obj")
            .await
            .expect("head")
            .data
            .parse()
            .expect("cid");
        let mut bad = store.get(&cid).await.expect("get").to_vec();
        bad[50_000] ^= 1;
        store.put(&cid, Bytes::from(bad)).await.expect("overwrite");
        match v.get(b"obj").await {
            Err(VaultError::Corrupt { cid: c, .. }) => assert_eq!(c, cid.to_string()),
            other => panic!("expected Corrupt, got {other:?}"),
        }
        // a range in the damaged group is caught by the outboard; one elsewhere still reads
        assert!(matches!(
            v.get_range(b"obj", 49_000..49_100).await,
            Err(VaultError::Corrupt { .. })
        ));
        assert_eq!(
            v.get_range(b"obj", 90_000..90_010)
                .await
                .expect("intact range"),
            &big[90_000..90_010]
        );
        // a missing block is corruption too
        store.delete(&cid).await.expect("delete");
        assert!(matches!(
            v.get(b"obj").await,
            Err(VaultError::Corrupt { .. })
        ));
    });
}

#[test]
fn corrupted_block_file_on_dir_store_is_reported() {
    block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(DirStore::open(dir.path()).expect("dir store"));
        let mut v = Vault::open_or_create(store.clone(), identity(), "c", "d")
            .await
            .expect("open");
        v.put(b"obj", data(50_000, 2), PutOptions::default())
            .await
            .expect("put");
        let cid: Cid = v
            .head(b"obj")
            .await
            .expect("head")
            .data
            .parse()
            .expect("cid");
        let path = store.block_path(&cid);
        let mut bytes = std::fs::read(&path).expect("read block file");
        bytes[100] ^= 0x80;
        overwrite_block_file(&path, &bytes);
        assert!(matches!(
            v.get(b"obj").await,
            Err(VaultError::Corrupt { .. })
        ));
        assert!(matches!(
            v.get_range(b"obj", 0..10).await,
            Err(VaultError::Corrupt { .. })
        ));
    });
}

#[test]
fn streamed_object_corrupted_on_dir_store_is_reported_before_any_plaintext() {
    block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(DirStore::open(dir.path()).expect("dir store"));
        let mut v = Vault::open_or_create(store.clone(), identity(), "c", "d")
            .await
            .expect("open");
        let bytes = data(2_500_000, 9);
        let mut src: &[u8] = &bytes;
        let info = v
            .put_source(b"big", &mut src, PutOptions::default(), None)
            .await
            .expect("put");
        let cid: Cid = info.data.parse().expect("cid");
        let path = store.block_path(&cid);
        let mut sealed = std::fs::read(&path).expect("read block file");
        // Damage the second 1 MiB chunk: the first chunk may be written, nothing after it.
        sealed[1_500_000] ^= 1;
        overwrite_block_file(&path, &sealed);
        let mut out = futures_util::io::Cursor::new(Vec::new());
        let err = v.get_to(b"big", &mut out, None).await;
        assert!(matches!(err, Err(VaultError::Corrupt { .. })), "{err:?}");
        let written = out.into_inner();
        assert!(
            written.len() < 1_100_000,
            "only verified chunks reach the writer"
        );
        assert_eq!(written, &bytes[..written.len()]);
        // Truncated on the server.
        std::fs::write(&path, &sealed[..1_000_000]).expect("truncate block file");
        let mut out = futures_util::io::Cursor::new(Vec::new());
        assert!(matches!(
            v.get_to(b"big", &mut out, None).await,
            Err(VaultError::Corrupt { .. })
        ));
    });
}

/// A source that gives different bytes each time it is opened.
struct Shifty(u8);

impl PutSource for Shifty {
    fn open(&mut self) -> std::io::Result<Box<dyn std::io::Read + Send + '_>> {
        self.0 += 1;
        Ok(Box::new(std::io::Cursor::new(vec![self.0; 100_000])))
    }
}

#[test]
fn a_source_that_changes_while_put_commits_nothing() {
    block_on(async {
        let mut v = Vault::create(Arc::new(MemoryStore::new()), identity(), "c", "d")
            .await
            .expect("create");
        let root = v.root();
        assert!(matches!(
            v.put_source(b"k", &mut Shifty(0), PutOptions::default(), None)
                .await,
            Err(VaultError::SourceChanged)
        ));
        assert_eq!(v.root(), root);
        assert!(matches!(v.head(b"k").await, Err(VaultError::NotFound)));
    });
}

/// Two devices edit offline, then sync in `order` (0 = a, 1 = b); returns both listings.
async fn two_writers(order: &[usize]) -> (Vec<String>, Vec<String>, Cid, Cid) {
    let store = Arc::new(MemoryStore::new());
    let mut a = Vault::open_or_create(store.clone(), identity(), "shared", "a")
        .await
        .expect("open a");
    let mut b = Vault::open_or_create(store.clone(), identity(), "shared", "b")
        .await
        .expect("open b");
    assert_ne!(a.writer(), b.writer());
    a.put(b"both", b"from a".to_vec(), PutOptions::default())
        .await
        .expect("put");
    a.put(b"only-a", b"a".to_vec(), PutOptions::default())
        .await
        .expect("put");
    a.put(b"doomed", b"d".to_vec(), PutOptions::default())
        .await
        .expect("put");
    // b has not synced: it cannot see a's changes
    assert!(matches!(b.get(b"only-a").await, Err(VaultError::NotFound)));
    b.put(b"only-b", b"b".to_vec(), PutOptions::default())
        .await
        .expect("put");
    b.put(b"both", b"from b".to_vec(), PutOptions::default())
        .await
        .expect("put");
    a.delete(b"doomed").await.expect("delete");
    for &who in order {
        let v = if who == 0 { &mut a } else { &mut b };
        v.sync().await.expect("sync");
    }
    let (ka, kb) = (all_keys(&a).await, all_keys(&b).await);
    // the later put of "both" (b's) wins on both devices
    assert_eq!(a.get(b"both").await.expect("get"), b"from b");
    assert_eq!(b.get(b"both").await.expect("get"), b"from b");
    assert_eq!(b.get(b"only-a").await.expect("get"), b"a");
    (ka, kb, a.root(), b.root())
}

#[test]
fn two_writers_converge_in_any_order() {
    block_on(async {
        let expected = ["both", "only-a", "only-b"];
        for order in [
            &[0, 1, 0][..],
            &[1, 0, 1][..],
            &[0, 1, 1, 0][..],
            &[1, 1, 0][..],
        ] {
            let (ka, kb, ra, rb) = two_writers(order).await;
            assert_eq!(ka, expected, "order {order:?}");
            assert_eq!(kb, expected, "order {order:?}");
            assert_eq!(ra, rb, "order {order:?}");
        }
    });
}

#[test]
fn new_device_catches_up_and_versions_follow_the_merge() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut a = Vault::open_or_create(store.clone(), identity(), "v", "a")
            .await
            .expect("open");
        let first = a
            .put(b"k", b"1".to_vec(), PutOptions::default())
            .await
            .expect("put");
        let mut b = Vault::open_or_create(store.clone(), identity(), "v", "b")
            .await
            .expect("open b");
        assert!(all_keys(&b).await.is_empty());
        let report = b.sync().await.expect("sync");
        assert_eq!(report.merged, vec![writer_name(a.writer())]);
        b.put(b"k", b"2".to_vec(), PutOptions::default())
            .await
            .expect("put");
        a.sync().await.expect("sync");
        assert_eq!(a.get(b"k").await.expect("get"), b"2");
        let versions = a.versions(b"k").await.expect("versions");
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[1].version, first.version);
    });
}

fn head_for(v: &Vault<MemoryStore>, signer: &Identity, writer: WriterId) -> HeadBody {
    HeadBody {
        v: FORMAT_VERSION,
        vault: "v".into(),
        writer: writer.0,
        recipient: signer.recipient().to_string(),
        key: v.key_block,
        root: v.root(),
        seq: 1,
        time: 0,
        vv: Default::default(),
        gc: 0,
        pol: None,
        ho: None,
        rec: Default::default(),
    }
}

#[test]
fn foreign_and_forged_heads_are_skipped_and_reported_not_fatal() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut a = Vault::open_or_create(store.clone(), identity(), "v", "a")
            .await
            .expect("open");
        a.put(b"k", b"1".to_vec(), PutOptions::default())
            .await
            .expect("put");
        let mallory = Identity::from_seed(&[9u8; 32]);
        let writer = writer_id_for(&mallory, "evil");
        let name = writer_name(writer);
        let write = |bytes: Vec<u8>| {
            let store = store.clone();
            let name = name.clone();
            async move {
                store
                    .write_head("v", &name, Bytes::from(bytes), HeadCondition::Any)
                    .await
                    .expect("write head")
            }
        };
        // Encrypted with the vault's head key (as if it leaked), signed by another identity.
        let foreign = head_for(&a, &mallory, writer)
            .seal(&mallory, &a.head_key)
            .expect("seal");
        write(foreign).await;
        let report = a
            .sync()
            .await
            .expect("one foreign head does not stop a sync");
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(report.skipped[0].writer, name);
        assert!(
            report.skipped[0].reason.contains("another identity"),
            "{report:?}"
        );
        // Claims to be the owner, but another key encrypted it (a store cannot make a real one).
        let mut key = *a.head_key;
        key[0] ^= 1;
        write(
            head_for(&a, &identity(), writer)
                .seal(&mallory, &key)
                .expect("seal"),
        )
        .await;
        let b = Vault::open_or_create(store.clone(), identity(), "v", "b")
            .await
            .expect("a second device opens despite the stray head");
        assert!(
            b.skipped_heads()[0].reason.contains("decrypt"),
            "{:?}",
            b.skipped_heads()
        );
        // Garbage.
        write(b"\xa0junk".to_vec()).await;
        let report = a.sync().await.expect("sync");
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(a.get(b"k").await.expect("get"), b"1");
    });
}

#[test]
fn a_known_writer_whose_head_is_replaced_or_removed_is_an_error() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut a = Vault::open_or_create(store.clone(), identity(), "v", "a")
            .await
            .expect("open");
        let mut b = Vault::open_or_create(store.clone(), identity(), "v", "b")
            .await
            .expect("open");
        b.put(b"k", b"from b".to_vec(), PutOptions::default())
            .await
            .expect("put");
        a.sync().await.expect("a sees b");
        let b_name = writer_name(b.writer());
        store
            .write_head(
                "v",
                &b_name,
                Bytes::from_static(b"\xa0junk"),
                HeadCondition::Any,
            )
            .await
            .expect("overwrite");
        match a.sync().await {
            Err(VaultError::Trust(crate::trust::TrustError::MissingHead { what, .. })) => {
                assert!(what.contains(&b_name), "{what}")
            }
            other => panic!("expected MissingHead, got {other:?}"),
        }
    });
}

#[test]
fn open_and_create_modes() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        assert!(matches!(
            Vault::open(store.clone(), identity(), "v", "a").await,
            Err(VaultError::NoSuchVault { .. })
        ));
        let mut v = Vault::create(store.clone(), identity(), "v", "a")
            .await
            .expect("create");
        v.put(b"k", b"1".to_vec(), PutOptions::default())
            .await
            .expect("put");
        assert!(matches!(
            Vault::create(store.clone(), identity(), "v", "b").await,
            Err(VaultError::AlreadyExists { .. })
        ));
        let mut b = Vault::open(store.clone(), identity(), "v", "b")
            .await
            .expect("open");
        b.sync().await.expect("sync");
        assert_eq!(b.get(b"k").await.expect("get"), b"1");
        // another vault in the same store is separate
        let other = Vault::create(store, identity(), "w", "a")
            .await
            .expect("create w");
        assert!(matches!(other.get(b"k").await, Err(VaultError::NotFound)));
        assert!(matches!(
            Vault::create(Arc::new(MemoryStore::new()), identity(), "bad/name", "a").await,
            Err(VaultError::Store(_))
        ));
    });
}

#[test]
fn wrong_identity_cannot_open() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        Vault::open_or_create(store.clone(), identity(), "v", "a")
            .await
            .expect("open");
        let other = Identity::from_seed(&[1u8; 32]);
        assert!(matches!(
            Vault::open_or_create(store, other, "v", "a").await,
            Err(VaultError::WrongIdentity)
        ));
    });
}

#[test]
fn head_round_trip_and_decoders_reject_garbage() {
    let id = identity();
    let body = HeadBody {
        v: FORMAT_VERSION,
        vault: "v".into(),
        writer: writer_id_for(&id, "d").0,
        recipient: id.recipient().to_string(),
        key: crate::block::raw_cid(b"k"),
        root: crate::block::raw_cid(b"r"),
        seq: 3,
        time: 42,
        vv: std::collections::BTreeMap::from([("ab".to_string(), 7)]),
        gc: 2,
        pol: None,
        ho: None,
        rec: Default::default(),
    };
    let key = [5u8; 32];
    let bytes = body.seal(&id, &key).expect("seal");
    let name = writer_name(WriterId(body.writer));
    assert_eq!(decode_head(&key, "v", &name, &bytes).expect("decode"), body);
    // Bound to its name and vault: moved, it does not decrypt.
    assert!(matches!(
        decode_head(&key, "v", "0000", &bytes),
        Err(VaultError::BadHead { .. })
    ));
    assert!(decode_head(&key, "w", &name, &bytes).is_err());
    assert!(decode_head(&[6u8; 32], "v", &name, &bytes).is_err());
    assert!(decode_head(&key, "v", &name, &bytes[..bytes.len() - 1]).is_err());
    assert!(check_manifest(b"\xa1").is_err());
    // The store sees neither the owner nor the clock.
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("coffer1"));
    assert!(!bytes.windows(2).any(|w| w == b"vv"));
}

/// A real memory store that counts the bytes it hands out (to check what a range read fetches).
#[derive(Default)]
struct CountingStore {
    inner: MemoryStore,
    read: std::sync::atomic::AtomicU64,
}

impl CountingStore {
    fn take(&self) -> u64 {
        self.read.swap(0, std::sync::atomic::Ordering::SeqCst)
    }
    fn count(&self, b: &Bytes) {
        self.read
            .fetch_add(b.len() as u64, std::sync::atomic::Ordering::SeqCst);
    }
}

#[async_trait::async_trait]
impl BlockStore for CountingStore {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> crate::store::StoreResult<()> {
        self.inner.put(cid, bytes).await
    }
    async fn get(&self, cid: &Cid) -> crate::store::StoreResult<Bytes> {
        let b = self.inner.get(cid).await?;
        self.count(&b);
        Ok(b)
    }
    async fn get_range(
        &self,
        cid: &Cid,
        range: std::ops::Range<u64>,
    ) -> crate::store::StoreResult<Bytes> {
        let b = self.inner.get_range(cid, range).await?;
        self.count(&b);
        Ok(b)
    }
    async fn has(&self, cid: &Cid) -> crate::store::StoreResult<bool> {
        self.inner.has(cid).await
    }
    async fn delete(&self, cid: &Cid) -> crate::store::StoreResult<()> {
        BlockStore::delete(&self.inner, cid).await
    }
    async fn list(&self) -> crate::store::StoreResult<Vec<Cid>> {
        BlockStore::list(&self.inner).await
    }
}

#[async_trait::async_trait]
impl HeadStore for CountingStore {
    async fn read_heads(&self, vault: &str) -> crate::store::StoreResult<Vec<crate::store::Head>> {
        self.inner.read_heads(vault).await
    }
    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> crate::store::StoreResult<crate::store::HeadVersion> {
        self.inner.write_head(vault, writer, bytes, condition).await
    }
    fn conditional_writes(&self) -> crate::store::ConditionalWrites {
        self.inner.conditional_writes()
    }
}

#[test]
fn range_reads_fetch_only_what_they_need() {
    block_on(async {
        let store = Arc::new(CountingStore::default());
        let mut v = Vault::open_or_create(store.clone(), identity(), "r", "d")
            .await
            .expect("open");
        let big = data(2 << 20, 3);
        v.put(b"big", big.clone(), PutOptions::default())
            .await
            .expect("put");
        store.take();
        let got = v
            .get_range(b"big", 1_500_000..1_500_100)
            .await
            .expect("range");
        assert_eq!(got, &big[1_500_000..1_500_100]);
        let fetched = store.take();
        // index path + manifest + the first group (header) + one 64 KiB segment widened to
        // groups + a few outboard pairs: far below the 2 MiB object and its 8 KiB outboard.
        assert!(
            fetched < 120_000,
            "a 100-byte range read fetched {fetched} bytes"
        );
        v.get(b"big").await.expect("get");
        assert!(store.take() > 2 << 20);
    });
}

mod convergence {
    use proptest::prelude::*;

    use super::*;

    #[derive(Clone, Debug)]
    enum Op {
        Put { dev: usize, key: u8, val: u8 },
        Delete { dev: usize, key: u8 },
        Copy { dev: usize, src: u8, dst: u8 },
        Sync { dev: usize },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..3usize, 0..6u8, any::<u8>()).prop_map(|(dev, key, val)| Op::Put { dev, key, val }),
            1 => (0..3usize, 0..6u8).prop_map(|(dev, key)| Op::Delete { dev, key }),
            1 => (0..3usize, 0..6u8, 0..6u8).prop_map(|(dev, src, dst)| Op::Copy { dev, src, dst }),
            2 => (0..3usize).prop_map(|dev| Op::Sync { dev }),
        ]
    }

    async fn listing(v: &Vault<MemoryStore>) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for key in all_keys(v).await {
            let bytes = v.get(key.as_bytes()).await.expect("listed keys read");
            out.push((key, bytes));
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
        /// Three devices, random offline edits and syncs, then everyone syncs twice in any
        /// rotation: all devices hold the same root and the same objects.
        #[test]
        fn devices_converge(ops in proptest::collection::vec(op(), 1..24), rotation in 0..3usize) {
            block_on(async {
                let store = Arc::new(MemoryStore::new());
                let mut devs = Vec::new();
                for name in ["d0", "d1", "d2"] {
                    devs.push(Vault::open_or_create(store.clone(), identity(), "p", name).await.expect("open"));
                }
                for op in ops {
                    match op {
                        Op::Put { dev, key, val } => {
                            devs[dev].put(&[b'k', key], vec![val; 3], PutOptions::default()).await.expect("put");
                        }
                        Op::Delete { dev, key } => match devs[dev].delete(&[b'k', key]).await {
                            Ok(()) | Err(VaultError::NotFound) => {}
                            Err(e) => panic!("delete: {e}"),
                        },
                        Op::Copy { dev, src, dst } => match devs[dev].copy(&[b'k', src], &[b'k', dst]).await {
                            Ok(_) | Err(VaultError::NotFound) => {}
                            Err(e) => panic!("copy: {e}"),
                        },
                        Op::Sync { dev } => {
                            devs[dev].sync().await.expect("sync");
                        }
                    }
                }
                for round in 0..2 {
                    for i in 0..3 {
                        let _ = round;
                        devs[(i + rotation) % 3].sync().await.expect("sync");
                    }
                }
                let first = listing(&devs[0]).await;
                for dev in &devs[1..] {
                    assert_eq!(dev.root(), devs[0].root());
                    assert_eq!(listing(dev).await, first);
                }
            });
        }
    }
}

#[test]
fn concurrent_versions_stay_visible_after_sync() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut a = Vault::open_or_create(store.clone(), identity(), "v", "a")
            .await
            .expect("open");
        let mut b = Vault::open_or_create(store.clone(), identity(), "v", "b")
            .await
            .expect("open");
        let base = a
            .put(b"doc", b"base".to_vec(), PutOptions::default())
            .await
            .expect("put");
        b.sync().await.expect("sync");
        // offline edits on both devices, b's a millisecond or more later (the newest wins; two
        // edits in the same millisecond would be ordered by writer id, which is random here)
        let ea = a
            .put(b"doc", b"edit on a".to_vec(), PutOptions::default())
            .await
            .expect("put");
        let t = crate::vault::now_ms();
        while crate::vault::now_ms() <= t {
            std::thread::yield_now();
        }
        let eb = b
            .put(b"doc", b"edit on b".to_vec(), PutOptions::default())
            .await
            .expect("put");
        a.sync().await.expect("sync");
        b.sync().await.expect("sync");
        a.sync().await.expect("sync");
        assert_eq!(a.root(), b.root());
        for dev in [&a, &b] {
            assert_eq!(dev.get(b"doc").await.expect("get"), b"edit on b");
            let versions: Vec<String> = dev
                .versions(b"doc")
                .await
                .expect("versions")
                .into_iter()
                .map(|i| i.version)
                .collect();
            assert_eq!(versions[0], eb.version);
            let mut rest = versions[1..].to_vec();
            rest.sort();
            let mut want = vec![ea.version.clone(), base.version.clone()];
            want.sort();
            assert_eq!(rest, want, "both edits and the base are versions");
            assert_eq!(
                dev.get_version(b"doc", &ea.version).await.expect("loser"),
                b"edit on a"
            );
        }
        // a later put keeps the concurrent version reachable
        a.put(b"doc", b"after".to_vec(), PutOptions::default())
            .await
            .expect("put");
        assert_eq!(a.versions(b"doc").await.expect("versions").len(), 4);
        // a non-concurrent update does not add redundant links
        b.sync().await.expect("sync");
        let value = b.current(b"doc").await.expect("current").expect("live");
        assert_eq!(value.c.len(), 1);
    });
}

/// A store that fails a third of its operations: every vault operation either commits or fails
/// with a typed store error and changes nothing; the vault always reopens with exactly the
/// committed state.
#[test]
fn an_unreliable_store_never_leaves_half_a_commit() {
    use crate::store::{FaultConfig, FaultyStore, StoreError};
    block_on(async {
        let inner = Arc::new(MemoryStore::new());
        let faulty = Arc::new(FaultyStore::new(
            inner.clone(),
            FaultConfig {
                seed: 7,
                fail_rate: 0.2,
                ..FaultConfig::default()
            },
        ));
        // Create on the healthy store, then work through the faulty one.
        drop(
            Vault::create(inner.clone(), identity(), "f", "d")
                .await
                .expect("create"),
        );
        let mut model: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = Default::default();
        let (mut ok, mut failed) = (0, 0);
        // One vault object for the whole run: an operation that failed must not ride along with
        // a later commit.
        let mut v = loop {
            match Vault::open(faulty.clone(), identity(), "f", "d").await {
                Ok(v) => break v,
                Err(
                    VaultError::Store(StoreError::Unavailable(_))
                    | VaultError::Index(crate::index::IndexError::Store(StoreError::Unavailable(_))),
                ) => {}
                Err(e) => panic!("open: {e:?}"),
            }
        };
        for i in 0..120u32 {
            let key = format!("k{}", i % 7).into_bytes();
            let res = if i % 5 == 4 {
                v.delete(&key).await.map(|()| None)
            } else if i % 3 == 0 {
                let big = data(200_000 + i as usize, i as u8);
                let mut src: &[u8] = &big;
                v.put_source(&key, &mut src, PutOptions::default(), None)
                    .await
                    .map(|_| Some(big))
            } else {
                let small = data(100 + i as usize, i as u8);
                v.put(&key, small.clone(), PutOptions::default())
                    .await
                    .map(|_| Some(small))
            };
            match res {
                Ok(Some(bytes)) => {
                    model.insert(key, bytes);
                    ok += 1;
                }
                Ok(None) => {
                    model.remove(&key);
                    ok += 1;
                }
                Err(VaultError::NotFound) => {}
                Err(
                    VaultError::Store(StoreError::Unavailable(_))
                    | VaultError::Index(crate::index::IndexError::Store(StoreError::Unavailable(_))),
                ) => failed += 1,
                Err(e) => panic!("operation {i}: unexpected error {e:?}"),
            }
            // The healthy view holds exactly the committed state.
            let check = Vault::open(inner.clone(), identity(), "f", "d")
                .await
                .expect("reopens after a failure");
            for k in 0..7 {
                let key = format!("k{k}").into_bytes();
                match (check.get(&key).await, model.get(&key)) {
                    (Ok(got), Some(want)) => assert!(got == *want, "op {i}: k{k} differs"),
                    (Err(VaultError::NotFound), None) => {}
                    (got, want) => panic!(
                        "op {i}: k{k} is {:?}, committed {:?}",
                        got.map(|b| b.len()),
                        want.map(Vec::len)
                    ),
                }
            }
        }
        assert!(ok > 10 && failed > 10, "{ok} committed, {failed} failed");
    });
}

#[test]
fn an_s3_etag_given_at_put_is_kept_by_head_listings_copies_and_sync() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut v = Vault::create(store.clone(), identity(), "e", "laptop")
            .await
            .expect("create");
        let etag = "\"5d41402abc4b2a76b9719d911017c592\"".to_string();
        let opts = PutOptions {
            s3_etag: Some(etag.clone()),
            ..Default::default()
        };
        v.put(b"hello", b"hello".to_vec(), opts).await.expect("put");
        v.put(b"plain", b"x".to_vec(), PutOptions::default())
            .await
            .expect("put");
        assert_eq!(
            v.head(b"hello").await.expect("head").s3_etag,
            Some(etag.clone())
        );
        assert_eq!(v.head(b"plain").await.expect("head").s3_etag, None);
        v.copy(b"hello", b"copy").await.expect("copy");
        let mut phone = Vault::open(store, identity(), "e", "phone")
            .await
            .expect("open");
        phone.sync().await.expect("sync");
        let page = phone.list(&ListRequest::default()).await.expect("list");
        let etags: Vec<(String, Option<String>)> = page
            .contents
            .iter()
            .map(|o| {
                (
                    String::from_utf8_lossy(&o.key).into_owned(),
                    o.s3_etag.clone(),
                )
            })
            .collect();
        assert_eq!(
            etags,
            vec![
                ("copy".to_string(), Some(etag.clone())),
                ("hello".to_string(), Some(etag)),
                ("plain".to_string(), None),
            ]
        );
    });
}

#[test]
fn an_upload_reads_back_verified_before_its_commit() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let v = Vault::open_or_create(store.clone(), identity(), "c", "d")
            .await
            .expect("open");
        let bytes = data(300_000, 3);
        let up = v
            .upload(b"obj", bytes.clone(), PutOptions::default())
            .await
            .expect("upload");
        let mut out = futures_util::io::Cursor::new(Vec::new());
        v.read_upload_to(&up, &mut out, None)
            .await
            .expect("read back");
        assert_eq!(out.into_inner(), bytes);
        // A store that damaged or lost the sealed object fails the read-back.
        let mut bad = store.get(up.data()).await.expect("get").to_vec();
        bad[1000] ^= 1;
        store
            .put(up.data(), Bytes::from(bad))
            .await
            .expect("overwrite");
        let mut out = futures_util::io::Cursor::new(Vec::new());
        assert!(matches!(
            v.read_upload_to(&up, &mut out, None).await,
            Err(VaultError::Corrupt { .. })
        ));
        store.delete(up.data()).await.expect("delete");
        assert!(matches!(
            v.read_upload_to(&up, futures_util::io::sink(), None).await,
            Err(VaultError::Corrupt { .. })
        ));
    });
}

/// Manifests reached through the index are bound by their hash (the signature is not verified
/// again); one named by a caller's version id is verified with its signature, and either way an
/// unsigned or damaged manifest is refused.
#[test]
fn manifests_named_by_a_caller_are_verified_and_indexed_ones_bound_by_hash() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut v = Vault::open_or_create(store.clone(), identity(), "m", "d")
            .await
            .expect("open");
        let v1 = v
            .put(b"k", b"one".to_vec(), PutOptions::default())
            .await
            .expect("put");
        let good: Cid = v1.version.parse().expect("cid");
        let (_, m) = v.current_manifest(b"k").await.expect("manifest");
        assert_eq!(v.get(b"k").await.expect("get"), b"one");

        // A manifest under the object key signed by a stranger (what a holder of a leaked file
        // key could make by reusing a stanza): a caller's version id naming it is refused.
        let stranger = Identity::from_seed(&[9u8; 32]);
        let forged_plain = Manifest {
            created_ms: m.created_ms + 1,
            ..m.clone()
        }
        .encode()
        .expect("encode");
        let forged = seal::seal_to_vec(
            &SealOptions::to_key(v.object_key.clone()).signed_by(&stranger),
            &forged_plain,
        )
        .expect("seal");
        let forged_cid = raw_cid(&forged);
        store
            .put(&forged_cid, Bytes::from(forged.clone()))
            .await
            .expect("put forged");
        assert!(matches!(
            v.get_version(b"k", &forged_cid.to_string()).await,
            Err(VaultError::NotFound)
        ));
        assert!(v.open_manifest_bytes(&forged_cid, &forged).is_err());
        // The store cannot put those bytes under the indexed CID: the hash refuses them.
        store
            .put(&good, Bytes::from(forged))
            .await
            .expect("overwrite");
        assert!(matches!(v.get(b"k").await, Err(VaultError::Corrupt { .. })));
        assert!(matches!(
            v.head(b"k").await,
            Err(VaultError::Corrupt { .. })
        ));

        // An unsigned manifest is refused even when the owner's index names it.
        let unsigned = seal::seal_to_vec(&SealOptions::to_key(v.object_key.clone()), &forged_plain)
            .expect("seal");
        let unsigned_cid = raw_cid(&unsigned);
        store
            .put(&unsigned_cid, Bytes::from(unsigned))
            .await
            .expect("put");
        let value = format::IndexValue::new(unsigned_cid, 3)
            .encode()
            .expect("value");
        v.commit_value(b"u", value).await.expect("link");
        match v.get(b"u").await {
            Err(VaultError::Corrupt { cid, detail }) => {
                assert_eq!(cid, unsigned_cid.to_string());
                assert!(detail.contains("not signed"), "{detail}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    });
}

/// A grouped commit writes its manifests together with the index nodes: every manifest is in
/// the store and every object reads back on another device (failing writes:
/// `an_unreliable_store_never_leaves_half_a_commit`).
#[test]
fn a_grouped_commit_writes_every_manifest_before_its_head() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let mut v = Vault::open_or_create(store.clone(), identity(), "g", "d")
            .await
            .expect("open");
        let mut uploads = Vec::new();
        for i in 0..40u8 {
            uploads.push(
                v.upload(
                    format!("o{i:02}").as_bytes(),
                    data(100, i),
                    PutOptions::default(),
                )
                .await
                .expect("upload"),
            );
        }
        let results = v.commit_uploads(uploads).await.expect("commit");
        for (i, r) in results.iter().enumerate() {
            let info = r.as_ref().expect("committed");
            let cid: Cid = info.version.parse().expect("cid");
            assert!(store.has(&cid).await.expect("has"), "manifest {i} stored");
        }
        let mut phone = Vault::open(store.clone(), identity(), "g", "p")
            .await
            .expect("open");
        phone.sync().await.expect("sync");
        for i in 0..40u8 {
            assert_eq!(
                phone.get(format!("o{i:02}").as_bytes()).await.expect("get"),
                data(100, i)
            );
        }
    });
}
