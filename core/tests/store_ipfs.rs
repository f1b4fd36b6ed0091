//! The IPFS store against a real Kubo node (`.ci/kubo.sh start`; never skipped: a missing node
//! fails the tests with what to do).
#![cfg(feature = "ipfs")]
// Test helpers too: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use bytes::Bytes;
use coffer::block::{encode_node, raw_cid};
use coffer::store::ipfs::{IpfsConfig, IpfsStore, LEAF_SIZE};
use coffer::store::{
    BlockStore, ConditionalWrites, HeadCondition, HeadStore, StoreError, collect_stream,
};
use common::{
    HttpAnswer, block_store_suite, curl, data, head_store_suite, hostile_http, refused,
    require_env, run_tag, within,
};

const HOW: &str = ".ci/kubo.sh start";

/// `repo/gc` racing MFS writes of other tests can lose MFS blocks inside Kubo (see
/// docs/FORMAT.md §7), so tests that collect garbage hold this exclusively and the others shared.
static GC: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn api() -> String {
    require_env("COFFER_TEST_IPFS_API", HOW)
}

async fn store(ns: &str) -> IpfsStore {
    let mut c = IpfsConfig::new(api());
    c.namespace = ns.to_string();
    IpfsStore::connect(c).await.unwrap()
}

/// Calls the Kubo RPC directly (what an `ipfs` CLI user would see).
async fn kubo(cmd: &str, query: &str) -> (u16, Vec<u8>) {
    curl(&["-X", "POST", &format!("{}/api/v0/{cmd}?{query}", api())]).await
}

#[tokio::test]
async fn kubo_passes_the_block_suite() {
    let _gc = GC.read().await;
    let tag = run_tag("ipfs-suite");
    // 3 MiB + a bit: a DAG of four leaves, ranges crossing leaf boundaries.
    block_store_suite(&store(&tag).await, &tag, 3 * LEAF_SIZE + 4321).await;
}

#[tokio::test]
async fn kubo_passes_the_share_suite() {
    let _gc = GC.read().await;
    let tag = run_tag("ipfs-share");
    common::share::share_suite(std::sync::Arc::new(store(&tag).await), "shared").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubo_passes_the_vault_suite() {
    let _gc = GC.read().await;
    let tag = run_tag("ipfs-vault");
    common::vault::vault_suite(std::sync::Arc::new(store(&tag).await), "suite").await;
}

/// Kubo's MFS does not read back its own writes while other `files/*` requests run on the node
/// (Kubo 0.42: with four clients each moving a file over its own head and reading it back, about
/// one read in seven returned the previous content or nothing, and some `files/mv` did not find
/// the file just written). A conditional head write reads the head first, so a stale read is a
/// false "another process wrote this device's head" (it failed the vault suite in CI). The store
/// runs one `files/*` call at a time per node, from every store of the process; here four
/// stores of one process, in their own namespaces, each chain 50 conditional writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_stores_on_one_node_read_their_own_head_writes() {
    let _gc = GC.read().await;
    let tag = run_tag("ipfs-mfs");
    let mut tasks = Vec::new();
    for t in 0..4 {
        let s = store(&format!("{tag}-{t}")).await;
        tasks.push(tokio::spawn(async move {
            let mut v = s
                .write_head(
                    "v",
                    "w",
                    Bytes::from(format!("{t}-0")),
                    HeadCondition::Absent,
                )
                .await
                .unwrap_or_else(|e| panic!("store {t}, first write: {e}"));
            for i in 1..50 {
                v = s
                    .write_head(
                        "v",
                        "w",
                        Bytes::from(format!("{t}-{i}")),
                        HeadCondition::Matches(v),
                    )
                    .await
                    .unwrap_or_else(|e| panic!("store {t}, write {i}: {e}"));
            }
            let heads = s.read_heads("v").await.expect("read heads");
            assert_eq!(heads.len(), 1);
            assert_eq!(heads[0].bytes, Bytes::from(format!("{t}-49")));
        }));
    }
    for task in tasks {
        task.await.expect("a writer");
    }
}

#[tokio::test]
async fn kubo_heads_are_best_effort_conditional() {
    let _gc = GC.read().await;
    let tag = run_tag("ipfs-heads");
    let s = store(&tag).await;
    assert_eq!(s.conditional_writes(), ConditionalWrites::BestEffort);
    // Sequential conflicts are still caught (the suite checks them when Enforced only).
    head_store_suite(&s, "vault").await;
    let v = s
        .write_head(
            "v2",
            "w",
            Bytes::from_static(b"1"),
            coffer::store::HeadCondition::Absent,
        )
        .await
        .unwrap();
    assert!(matches!(
        s.write_head(
            "v2",
            "w",
            Bytes::from_static(b"2"),
            coffer::store::HeadCondition::Absent
        )
        .await,
        Err(StoreError::PreconditionFailed(_))
    ));
    s.write_head(
        "v2",
        "w",
        Bytes::from_static(b"2"),
        coffer::store::HeadCondition::Matches(v),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn cids_match_kubo_and_blocks_are_pinned_and_readable() {
    let _gc = GC.write().await;
    let tag = run_tag("ipfs-cids");
    let s = store(&tag).await;
    let b = Bytes::from(data(&tag, 5000));
    let cid = raw_cid(&b);
    s.put(&cid, b.clone()).await.unwrap();
    // Pinned recursively under coffer's name: safe from `ipfs repo gc`.
    let (status, body) = kubo("pin/ls", &format!("arg={cid}&type=recursive&names=true")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains(&format!("coffer:{tag}")));
    let (status, _) = kubo("repo/gc", "").await;
    assert_eq!(status, 200);
    assert_eq!(s.get(&cid).await.unwrap(), b, "gc removed a pinned block");

    // A DAG-CBOR node is readable with `ipfs dag get`, its link intact.
    #[derive(serde::Serialize)]
    struct Node {
        name: String,
        data: coffer::block::Cid,
    }
    let (node_cid, node_bytes) = encode_node(&Node {
        name: "hello".into(),
        data: cid,
    })
    .unwrap();
    s.put(&node_cid, Bytes::from(node_bytes)).await.unwrap();
    let (status, body) = kubo("dag/get", &format!("arg={node_cid}")).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["name"], "hello");
    assert_eq!(json["data"]["/"], cid.to_string());

    // A put whose bytes are not the CID's is refused with Corrupt, and nothing is pinned.
    let claimed = raw_cid(b"something else");
    let err = s
        .put(&claimed, Bytes::from_static(b"not that"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(!s.has(&claimed).await.unwrap());

    // Deleting unpins.
    s.delete(&cid).await.unwrap();
    let (status, _) = kubo("pin/ls", &format!("arg={cid}&type=recursive")).await;
    assert_ne!(status, 200, "still pinned after delete");
}

#[tokio::test]
async fn large_blobs_are_dags_of_small_leaves() {
    let _gc = GC.write().await;
    let tag = run_tag("ipfs-dag");
    let s = store(&tag).await;
    let blob = data(&tag, 2 * LEAF_SIZE + 10);
    let cid = raw_cid(&blob);
    s.put(&cid, Bytes::from(blob.clone())).await.unwrap();
    // The whole blob is not a block on the node; its leaves and root are, all under 1 MiB.
    let (status, _) = kubo("block/stat", &format!("arg={cid}&offline=true")).await;
    assert_ne!(status, 200, "a blob over 1 MiB must not be one block");
    let (status, body) = kubo("files/read", &format!("arg=/coffer/{tag}/blobs/{cid}")).await;
    assert_eq!(status, 200);
    let root = String::from_utf8(body).unwrap();
    let (status, body) = kubo("dag/get", &format!("arg={}", root.trim())).await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["size"], blob.len() as u64);
    assert_eq!(json["blob"], cid.to_string());
    let leaves = json["leaves"].as_array().unwrap();
    assert_eq!(leaves.len(), 3);
    for l in leaves {
        let (status, body) = kubo("block/stat", &format!("arg={}", l["/"].as_str().unwrap())).await;
        assert_eq!(status, 200);
        let size = serde_json::from_slice::<serde_json::Value>(&body).unwrap()["Size"]
            .as_u64()
            .unwrap();
        assert!(size <= LEAF_SIZE as u64);
    }
    // Pinned recursively: gc keeps every leaf.
    kubo("repo/gc", "").await;
    assert_eq!(s.get(&cid).await.unwrap(), blob);
    assert!(s.list().await.unwrap().contains(&cid));
    s.delete(&cid).await.unwrap();
    assert!(!s.has(&cid).await.unwrap());
    assert!(matches!(s.get(&cid).await, Err(StoreError::NotFound(_))));
}

/// A source that stops at `pause_at` until the test opens the gate, and says when it got there.
struct PausingSource {
    data: Vec<u8>,
    pos: usize,
    pause_at: usize,
    reached: Option<tokio::sync::oneshot::Sender<()>>,
    gate: Option<tokio::sync::oneshot::Receiver<()>>,
}

impl futures_io::AsyncRead for PausingSource {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::future::Future as _;
        use std::task::Poll;
        let this = &mut *self;
        if this.pos == this.pause_at {
            if let Some(tx) = this.reached.take() {
                let _ = tx.send(());
            }
            if let Some(gate) = this.gate.as_mut() {
                match std::pin::Pin::new(gate).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(_) => this.gate = None,
                }
            }
        }
        let end = if this.pos < this.pause_at {
            this.pause_at
        } else {
            this.data.len()
        };
        let n = buf.len().min(end - this.pos);
        buf[..n].copy_from_slice(&this.data[this.pos..this.pos + n]);
        this.pos += n;
        Poll::Ready(Ok(n))
    }
}

/// `ipfs repo gc` in the middle of a large upload must not take the leaves already sent: each
/// is pinned as it is put, before the root's pin holds them all. (Without that, the root's
/// `pin/add` failed with "block was not found locally" when another client collected garbage.)
#[tokio::test]
async fn garbage_collection_during_an_upload_loses_no_leaf() {
    let _gc = GC.write().await;
    let tag = run_tag("ipfs-gc-upload");
    let mut c = IpfsConfig::new(api());
    c.namespace = tag.clone();
    // One leaf at a time, so the leaves before the pause are on the node when it pauses.
    c.concurrency = 1;
    let s = IpfsStore::connect(c).await.unwrap();
    let blob = data(&tag, 3 * LEAF_SIZE + 10);
    let cid = raw_cid(&blob);
    let sent: Vec<_> = blob[..2 * LEAF_SIZE]
        .chunks(LEAF_SIZE)
        .map(raw_cid)
        .collect();
    let (reached_tx, reached) = tokio::sync::oneshot::channel();
    let (open, gate) = tokio::sync::oneshot::channel();
    let mut source = PausingSource {
        data: blob.clone(),
        pos: 0,
        pause_at: 2 * LEAF_SIZE,
        reached: Some(reached_tx),
        gate: Some(gate),
    };
    let len = blob.len() as u64;
    let upload = s.put_stream(&cid, &mut source, Some(len));
    let control = async {
        reached.await.unwrap();
        for leaf in &sent {
            let (status, _) = kubo("block/stat", &format!("arg={leaf}&offline=true")).await;
            assert_eq!(status, 200, "leaf {leaf} is on the node before the pause");
        }
        let (status, _) = kubo("repo/gc", "").await;
        assert_eq!(status, 200);
        for leaf in &sent {
            let (status, _) = kubo("block/stat", &format!("arg={leaf}&offline=true")).await;
            assert_eq!(status, 200, "gc took leaf {leaf} of an upload in progress");
        }
        open.send(()).unwrap();
    };
    let (put, ()) = tokio::join!(upload, control);
    put.unwrap();
    assert_eq!(s.get(&cid).await.unwrap(), blob);
    // The leaves' own pins are gone once the root holds them: deleting the blob frees them.
    for leaf in &sent {
        let (status, _) = kubo("pin/ls", &format!("arg={leaf}&type=recursive")).await;
        assert_ne!(status, 200, "leaf {leaf} is still pinned on its own");
    }
    kubo("repo/gc", "").await;
    assert_eq!(s.get(&cid).await.unwrap(), blob, "gc after the upload");
    s.delete(&cid).await.unwrap();
    assert!(matches!(s.get(&cid).await, Err(StoreError::NotFound(_))));
}

#[tokio::test]
async fn reads_through_the_trustless_gateway() {
    let _gc = GC.read().await;
    let tag = run_tag("ipfs-gateway");
    let gw = require_env("COFFER_TEST_IPFS_GATEWAY", HOW);
    let writer = store(&tag).await;
    let mut c = IpfsConfig::new(api());
    c.namespace = tag.clone();
    c.gateway = Some(gw.clone());
    let reader = IpfsStore::connect(c).await.unwrap();
    let b = Bytes::from(data(&tag, 1234));
    let cid = raw_cid(&b);
    writer.put(&cid, b.clone()).await.unwrap();
    let blob = data(&format!("{tag}/blob"), LEAF_SIZE + 99);
    let blob_cid = raw_cid(&blob);
    writer
        .put(&blob_cid, Bytes::from(blob.clone()))
        .await
        .unwrap();
    assert_eq!(reader.get(&cid).await.unwrap(), b);
    assert_eq!(
        collect_stream(reader.get_stream(&blob_cid).await.unwrap())
            .await
            .unwrap(),
        blob
    );
    // The small block, the blob root and its two leaves came from the gateway.
    assert_eq!(reader.gateway_reads(), 4);
    // The gateway really serves the raw block (trustless format).
    let out = tokio::process::Command::new("curl")
        .args([
            "-s",
            "-H",
            "Accept: application/vnd.ipld.raw",
            &format!("{gw}/ipfs/{cid}?format=raw"),
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(out.stdout, b.to_vec());
}

/// Several gateways, tried in order of health: one that serves other bytes is marked at once and
/// not asked again, a dead one is recorded and skipped, an honest one answers. With only a
/// lying gateway and a node that does not hold the block, the read is `Corrupt`.
#[tokio::test]
async fn gateways_fail_over_and_a_lying_one_is_skipped() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let _gc = GC.read().await;
    let tag = run_tag("ipfs-failover");
    let gw = require_env("COFFER_TEST_IPFS_GATEWAY", HOW);
    let writer = store(&tag).await;
    let b = Bytes::from(data(&tag, 1500));
    let cid = raw_cid(&b);
    writer.put(&cid, b.clone()).await.unwrap();
    let asked = Arc::new(AtomicUsize::new(0));
    let count = asked.clone();
    let liar = hostile_http(move |_, target| {
        if target.starts_with("/ipfs/") {
            count.fetch_add(1, Ordering::SeqCst);
        }
        HttpAnswer::Small(200, vec![0x17; 1500])
    })
    .await;
    let mut c = IpfsConfig::new(api());
    c.namespace = tag.clone();
    c.gateways = vec![liar.url.clone(), "http://127.0.0.1:9".into(), gw];
    let reader = IpfsStore::connect(c).await.unwrap();
    assert_eq!(reader.get(&cid).await.unwrap(), b);
    assert_eq!(reader.gateway_reads(), 1, "the honest gateway answered");
    assert_eq!(asked.load(Ordering::SeqCst), 1);
    let h = reader.gateway_health();
    assert!(!h[0].healthy, "the lying gateway is not marked: {h:?}");
    assert_eq!(h[1].failures, 1, "{h:?}");
    assert_eq!(h[2].successes, 1, "{h:?}");
    for _ in 0..3 {
        assert_eq!(reader.get(&cid).await.unwrap(), b);
    }
    assert_eq!(reader.gateway_reads(), 4);
    assert_eq!(asked.load(Ordering::SeqCst), 1, "the liar was asked again");
    // Only a liar, for a block the node does not hold: a typed error, not the liar's bytes.
    let missing = raw_cid(&data(&format!("{tag}/missing"), 10));
    let mut c = IpfsConfig::new(api());
    c.namespace = tag;
    c.gateways = vec![liar.url.clone()];
    let fooled = IpfsStore::connect(c).await.unwrap();
    let err = refused("get", fooled.get(&missing).await);
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err:?}");
    assert!(!fooled.gateway_health()[0].healthy);
}

#[tokio::test]
async fn a_dead_node_is_unavailable() {
    let _gc = GC.read().await;
    let err = IpfsStore::connect(IpfsConfig::new("http://127.0.0.1:9"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

/// An IPFS store whose RPC API is the adversary: `version` answers, everything else inflates.
async fn hostile_kubo(other: HttpAnswer) -> (common::HostileHttp, IpfsStore) {
    let other = std::sync::Mutex::new(Some(other));
    let server = hostile_http(move |_, target| {
        if target.starts_with("/api/v0/version") {
            return HttpAnswer::Small(200, br#"{"Version":"0.0.0-hostile"}"#.to_vec());
        }
        match other.lock().unwrap().as_ref() {
            Some(HttpAnswer::Declared(n)) => HttpAnswer::Declared(*n),
            _ => HttpAnswer::Endless,
        }
    })
    .await;
    let mut c = IpfsConfig::new(server.url.clone());
    c.timeout = std::time::Duration::from_secs(60);
    let s = IpfsStore::connect(c).await.unwrap();
    (server, s)
}

#[tokio::test]
async fn inflated_kubo_answers_are_cut_at_the_cap() {
    let (server, s) = hostile_kubo(HttpAnswer::Endless).await;
    let cid = raw_cid(b"any block");
    let err = refused(
        "get_max",
        within(30, "get_max", s.get_max(&cid, 1000)).await,
    );
    assert!(
        matches!(err, StoreError::TooLarge { limit: 1000, .. }),
        "{err}"
    );
    // A plain get of a block is capped at the 1 MiB block limit.
    let err = refused("get", within(30, "get", s.get(&cid)).await);
    assert!(
        matches!(err, StoreError::TooLarge { limit, .. } if limit == 1 << 20),
        "{err}"
    );
    let err = refused(
        "range",
        within(30, "get_range", s.get_range(&cid, 0..10)).await,
    );
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err}");
    // MFS head reads and listings.
    let err = refused(
        "read_head",
        within(30, "read_head", s.read_head("v", "w")).await,
    );
    assert!(
        matches!(err, StoreError::TooLarge { limit, .. } if limit == coffer::store::MAX_HEAD_BYTES),
        "{err}"
    );
    let err = refused(
        "read_heads",
        within(30, "read_heads", s.read_heads("v")).await,
    );
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err}");
    // JSON answers of short commands.
    let err = refused("has", within(30, "has", s.has(&cid)).await);
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err}");
    assert!(
        server.sent() < 64 << 20,
        "the adversary sent {} bytes before the client hung up",
        server.sent()
    );

    // A declared length over the cap is refused before any of the body is read.
    let (server, s) = hostile_kubo(HttpAnswer::Declared(1 << 40)).await;
    let err = refused("list", within(30, "list", s.list()).await);
    assert!(
        matches!(&err, StoreError::TooLarge { what, .. } if what.contains("1099511627776 bytes")),
        "{err}"
    );
    drop(server);
}

#[tokio::test]
async fn an_inflating_gateway_is_skipped_for_the_node() {
    let _gc = GC.read().await;
    let tag = run_tag("ipfs-gw-inflated");
    let gateway = hostile_http(|_, _| HttpAnswer::Endless).await;
    let mut c = IpfsConfig::new(api());
    c.namespace = tag.clone();
    c.gateway = Some(gateway.url.clone());
    let s = IpfsStore::connect(c).await.unwrap();
    let b = Bytes::from(data(&tag, 3000));
    let cid = raw_cid(&b);
    s.put(&cid, b.clone()).await.unwrap();
    assert_eq!(within(30, "get", s.get(&cid)).await.unwrap(), b);
    assert_eq!(s.get_max(&cid, 3000).await.unwrap(), b);
    assert_eq!(
        s.gateway_reads(),
        0,
        "nothing was taken from the inflating gateway"
    );
    // The node's own answer is capped too: a real block over the caller's limit.
    assert!(matches!(
        s.get_max(&cid, 2999).await,
        Err(StoreError::TooLarge { limit: 2999, .. })
    ));
    s.delete(&cid).await.unwrap();
}

/// Space comes back on IPFS: a prune with no window unpins what nothing references (a deleted
/// object's sealed blob, a DAG of several leaves), the node's own `repo/gc` then frees it, and
/// everything live still reads.
#[tokio::test]
async fn a_prune_unpins_garbage_and_keeps_what_is_live() {
    use coffer::keys::Identity;
    use coffer::vault::{GcTiming, PruneOptions, PutOptions, Vault};
    let _gc = GC.write().await;
    let tag = run_tag("ipfs-prune");
    let s = std::sync::Arc::new(store(&tag).await);
    let me = Identity::generate();
    let mut v = Vault::create(s.clone(), me.clone(), "prune", "d")
        .await
        .unwrap();
    v.set_gc_timing(GcTiming {
        grace_ms: 0,
        lease_ms: 60_000,
        skew_ms: 1_000,
        poll_ms: 5,
    });
    let big = data(&tag, 2 * LEAF_SIZE + 77);
    // Over 16 KiB sealed: a block of its own (smaller objects are inline in their manifest).
    let small = data(&format!("{tag}-small"), 20_000);
    v.put(b"big", big.clone(), PutOptions::default())
        .await
        .unwrap();
    v.put(b"small", small.clone(), PutOptions::default())
        .await
        .unwrap();
    let big_data: coffer::block::Cid = v.head(b"big").await.unwrap().data.parse().unwrap();
    let small_data: coffer::block::Cid = v.head(b"small").await.unwrap().data.parse().unwrap();
    v.delete(b"big").await.unwrap();
    // A deleted key keeps its history until a policy expires it or a purge takes it out.
    v.purge(b"big").await.unwrap();
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
    assert!(
        !s.has(&big_data).await.unwrap(),
        "the purged blob is still in the store"
    );
    let (status, _) = kubo("pin/ls", &format!("arg={big_data}&type=recursive")).await;
    assert_ne!(status, 200, "the purged blob is still pinned");
    let (status, _) = kubo("repo/gc", "").await;
    assert_eq!(status, 200);
    assert!(s.has(&small_data).await.unwrap());
    assert_eq!(v.get(b"small").await.unwrap(), small);
    // A second device opening afresh reads what is live.
    let mut w = Vault::open(s.clone(), me, "prune", "e").await.unwrap();
    w.sync().await.unwrap();
    assert_eq!(w.get(b"small").await.unwrap(), small);
    assert!(w.get(b"big").await.is_err());
}
