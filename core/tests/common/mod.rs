//! The shared store test suites: every block store and head store runs the same checks.
#![allow(dead_code)]
// Test support: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

pub mod share;
pub mod vault;

use bytes::Bytes;
use coffer::block::{Cid, encode_node, raw_cid};
use coffer::store::{
    BlockStore, ConditionalWrites, HeadCondition, HeadStore, MAX_HEAD_BYTES, StoreError,
    collect_stream,
};
use futures_util::io::Cursor;

/// Deterministic pseudo-random bytes: BLAKE3 XOF of `seed`.
pub fn data(seed: &str, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    blake3::Hasher::new()
        .update(seed.as_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

/// A tag unique to this run, so tests against long-lived servers never see old data.
pub fn run_tag(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{name}-{nanos}-{}", std::process::id())
}

/// An environment variable a test needs; its absence fails the test with what to do.
pub fn require_env(name: &str, how: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: this test needs a real server. Start it with `{how}` and \
             `source .ci/state/env`, or run `.ci/test-stores.sh`"
        ),
    }
}

/// The block-store suite: put/get/range/has/delete/list, dag-cbor nodes, streaming and
/// verification of streamed puts. `big` is the size of the streamed blob.
pub async fn block_store_suite<S: BlockStore>(store: &S, tag: &str, big: usize) {
    // Small raw block.
    let bytes = Bytes::from(data(&format!("{tag}/small"), 1000));
    let cid = raw_cid(&bytes);
    assert!(
        !store.has(&cid).await.unwrap(),
        "fresh block reported present"
    );
    assert!(
        matches!(store.get(&cid).await, Err(StoreError::NotFound(_))),
        "missing block must be NotFound"
    );
    store.put(&cid, bytes.clone()).await.unwrap();
    store
        .put(&cid, bytes.clone())
        .await
        .expect("put is idempotent");
    assert!(store.has(&cid).await.unwrap());
    assert_eq!(store.get(&cid).await.unwrap(), bytes);
    assert_eq!(
        store.get_range(&cid, 10..20).await.unwrap(),
        bytes.slice(10..20)
    );
    assert_eq!(store.get_range(&cid, 0..1000).await.unwrap(), bytes);
    assert_eq!(store.get_max(&cid, 1000).await.unwrap(), bytes);
    assert_eq!(store.get_max(&cid, u64::MAX).await.unwrap(), bytes);
    assert!(
        matches!(
            store.get_max(&cid, 999).await,
            Err(StoreError::TooLarge { limit: 999, .. })
        ),
        "a block over the caller's cap must be TooLarge"
    );
    assert_eq!(
        store.get_range(&cid, 999..1000).await.unwrap(),
        bytes.slice(999..1000)
    );
    assert_eq!(store.get_range(&cid, 500..500).await.unwrap(), Bytes::new());
    assert!(
        matches!(
            store.get_range(&cid, 990..1001).await,
            Err(StoreError::RangeOutOfBounds { .. })
        ),
        "range past the end must be RangeOutOfBounds"
    );
    assert!(matches!(
        store.get_range(&cid, 2000..2010).await,
        Err(StoreError::RangeOutOfBounds { .. })
    ));

    // A dag-cbor node.
    #[derive(serde::Serialize)]
    struct Node {
        name: String,
        link: Cid,
    }
    let (node_cid, node_bytes) = encode_node(&Node {
        name: tag.to_string(),
        link: cid,
    })
    .unwrap();
    store
        .put(&node_cid, Bytes::from(node_bytes.clone()))
        .await
        .unwrap();
    assert_eq!(store.get(&node_cid).await.unwrap(), node_bytes);

    // Empty block.
    let empty_cid = raw_cid(b"");
    store.put(&empty_cid, Bytes::new()).await.unwrap();
    assert_eq!(store.get(&empty_cid).await.unwrap(), Bytes::new());

    // Listing holds what we put.
    let listed = store.list().await.unwrap();
    for c in [&cid, &node_cid] {
        assert!(listed.contains(c), "list() lacks {c}");
    }

    // Streamed blob.
    let blob = data(&format!("{tag}/big"), big);
    let blob_cid = raw_cid(&blob);
    let mut src = Cursor::new(blob.clone());
    store
        .put_stream(&blob_cid, &mut src, Some(blob.len() as u64))
        .await
        .unwrap();
    assert!(store.has(&blob_cid).await.unwrap());
    let streamed = collect_stream(store.get_stream(&blob_cid).await.unwrap())
        .await
        .unwrap();
    assert!(streamed == blob, "streamed blob differs");
    assert_eq!(store.get(&blob_cid).await.unwrap().len(), big);
    // The cap on a whole read: exactly the length passes, one byte less is refused.
    assert_eq!(
        store.get_max(&blob_cid, big as u64).await.unwrap().len(),
        big
    );
    assert!(
        matches!(
            store.get_max(&blob_cid, big as u64 - 1).await,
            Err(StoreError::TooLarge { limit, .. }) if limit == big as u64 - 1
        ),
        "a blob over the caller's cap must be TooLarge"
    );
    for r in [
        0..1u64,
        (big as u64 / 2 - 3)..(big as u64 / 2 + 5),
        (big as u64 - 7)..big as u64,
    ] {
        let got = store.get_range(&blob_cid, r.clone()).await.unwrap();
        assert_eq!(
            &got[..],
            &blob[r.start as usize..r.end as usize],
            "range {r:?} of the blob"
        );
    }
    assert!(matches!(
        store.get_range(&blob_cid, 0..big as u64 + 1).await,
        Err(StoreError::RangeOutOfBounds { .. })
    ));

    // A streamed put whose bytes do not match the CID stores nothing.
    let wrong = data(&format!("{tag}/wrong"), 4096);
    let claimed = raw_cid(&data(&format!("{tag}/claimed"), 4096));
    let mut src = Cursor::new(wrong);
    let err = store
        .put_stream(&claimed, &mut src, None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Corrupt { .. }),
        "mismatching stream gave {err:?}"
    );
    assert!(
        !store.has(&claimed).await.unwrap(),
        "a mismatching stream must leave nothing"
    );

    // Delete (the node that links to the block first: on IPFS a block still referenced by a
    // pinned DAG stays readable).
    store.delete(&node_cid).await.unwrap();
    store.delete(&cid).await.unwrap();
    assert!(!store.has(&cid).await.unwrap());
    assert!(matches!(
        store.get(&cid).await,
        Err(StoreError::NotFound(_))
    ));
    store
        .delete(&cid)
        .await
        .expect("deleting a missing block is not an error");
    store.delete(&blob_cid).await.unwrap();
    assert!(!store.has(&blob_cid).await.unwrap());
    assert!(!store.list().await.unwrap().contains(&cid));
}

/// The head-store suite. `vault` must be fresh.
pub async fn head_store_suite<H: HeadStore>(store: &H, vault: &str) {
    oversized_head_is_refused(store, &format!("{vault}-big")).await;
    assert!(store.read_heads(vault).await.unwrap().is_empty());
    assert!(store.read_head(vault, "alice").await.unwrap().is_none());
    let enforced = store.conditional_writes() == ConditionalWrites::Enforced;

    let v1 = store
        .write_head(
            vault,
            "alice",
            Bytes::from_static(b"a1"),
            HeadCondition::Absent,
        )
        .await
        .unwrap();
    let h = store
        .read_head(vault, "alice")
        .await
        .unwrap()
        .expect("head written");
    assert_eq!(h.bytes, Bytes::from_static(b"a1"));
    assert_eq!(
        h.version, v1,
        "read version equals the version the write returned"
    );

    let v2 = store
        .write_head(
            vault,
            "alice",
            Bytes::from_static(b"a2"),
            HeadCondition::Matches(v1.clone()),
        )
        .await
        .unwrap();
    assert_ne!(v1, v2);
    if enforced {
        let again = store
            .write_head(
                vault,
                "alice",
                Bytes::from_static(b"a3"),
                HeadCondition::Absent,
            )
            .await;
        assert!(
            matches!(again, Err(StoreError::PreconditionFailed(_))),
            "Absent over a head: {again:?}"
        );
        let stale = store
            .write_head(
                vault,
                "alice",
                Bytes::from_static(b"a3"),
                HeadCondition::Matches(v1.clone()),
            )
            .await;
        assert!(
            matches!(stale, Err(StoreError::PreconditionFailed(_))),
            "stale version: {stale:?}"
        );
        assert_eq!(
            store
                .read_head(vault, "alice")
                .await
                .unwrap()
                .unwrap()
                .bytes,
            Bytes::from_static(b"a2")
        );
    }
    store
        .write_head(vault, "bob", Bytes::from_static(b"b1"), HeadCondition::Any)
        .await
        .unwrap();
    store
        .write_head(vault, "bob", Bytes::from_static(b"b2"), HeadCondition::Any)
        .await
        .unwrap();

    let mut heads = store.read_heads(vault).await.unwrap();
    heads.sort_by(|a, b| a.writer.cmp(&b.writer));
    let summary: Vec<(&str, &[u8])> = heads
        .iter()
        .map(|h| (h.writer.as_str(), &h.bytes[..]))
        .collect();
    assert_eq!(summary, vec![("alice", &b"a2"[..]), ("bob", &b"b2"[..])]);
    assert_eq!(heads[0].version, v2);

    assert!(matches!(
        store
            .write_head(vault, "../x", Bytes::new(), HeadCondition::Any)
            .await,
        Err(StoreError::InvalidName(_))
    ));
    assert!(matches!(
        store.read_heads("a/b").await,
        Err(StoreError::InvalidName(_))
    ));
}

/// Many writers race a compare-and-swap on one head: exactly one wins per round.
pub async fn head_cas_race<H: HeadStore>(store: &H, vault: &str, contenders: usize) {
    let v0 = store
        .write_head(vault, "w", Bytes::from_static(b"start"), HeadCondition::Any)
        .await
        .unwrap();
    let attempts = (0..contenders).map(|i| {
        let cond = HeadCondition::Matches(v0.clone());
        async move {
            store
                .write_head(vault, "w", Bytes::from(format!("contender {i}")), cond)
                .await
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    let conflicts = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::PreconditionFailed(_))))
        .count();
    assert_eq!(
        wins, 1,
        "exactly one compare-and-swap must win: {results:?}"
    );
    assert_eq!(conflicts, contenders - 1);
}

/// A head over [`MAX_HEAD_BYTES`] is refused by `read_heads` and `read_head`; one of exactly the
/// limit is read.
pub async fn oversized_head_is_refused<H: HeadStore>(store: &H, ns: &str) {
    let limit = MAX_HEAD_BYTES as usize;
    store
        .write_head(
            ns,
            "full",
            Bytes::from(vec![7u8; limit]),
            HeadCondition::Any,
        )
        .await
        .unwrap();
    assert_eq!(store.read_heads(ns).await.unwrap()[0].bytes.len(), limit);
    store
        .write_head(
            ns,
            "over",
            Bytes::from(vec![7u8; limit + 1]),
            HeadCondition::Any,
        )
        .await
        .unwrap();
    assert!(
        matches!(
            store.read_heads(ns).await,
            Err(StoreError::TooLarge { limit, .. }) if limit == MAX_HEAD_BYTES
        ),
        "a head over MAX_HEAD_BYTES must make read_heads TooLarge"
    );
    assert!(matches!(
        store.read_head(ns, "over").await,
        Err(StoreError::TooLarge { .. })
    ));
    // Nor does it stop its own writer from replacing it.
    store
        .write_head(
            ns,
            "over",
            Bytes::from_static(b"small again"),
            HeadCondition::Any,
        )
        .await
        .unwrap();
    assert_eq!(store.read_heads(ns).await.unwrap().len(), 2);
}

/// What the adversary's HTTP server answers to one request.
pub enum HttpAnswer {
    /// This status and body.
    Small(u16, Vec<u8>),
    /// This status, these extra headers (`Retry-After`, …) and body.
    WithHeaders(u16, Vec<(String, String)>, Vec<u8>),
    /// `200`, chunked, with garbage that never ends (until the client hangs up).
    Endless,
    /// `200` declaring this `Content-Length`, then garbage until the client hangs up.
    Declared(u64),
}

/// A hostile HTTP/1.1 server on 127.0.0.1: it plays a store that inflates answers. It is the
/// adversary of the test, not a mock of the store: it answers each request with what `answer`
/// says, counts the bytes it managed to send, and stops sending after 1 GiB in all.
pub struct HostileHttp {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl HostileHttp {
    /// Bytes of answer bodies sent so far (those the client's socket accepted).
    pub fn sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for HostileHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts a [`HostileHttp`]; `answer` gets the method and the request target (path and query).
pub async fn hostile_http(
    answer: impl Fn(&str, &str) -> HttpAnswer + Send + Sync + 'static,
) -> HostileHttp {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let sent = Arc::new(AtomicU64::new(0));
    let answer = Arc::new(answer);
    let counter = sent.clone();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else {
                return;
            };
            let (answer, sent) = (answer.clone(), counter.clone());
            tokio::spawn(async move {
                // The request head, then its body (by Content-Length), all ignored.
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                let head_end = loop {
                    let Ok(n) = conn.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&buf[..n]);
                    if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    if req.len() > 1 << 20 {
                        return;
                    }
                };
                let head = String::from_utf8_lossy(&req[..head_end]).to_string();
                let body_len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                let mut have = req.len() - head_end;
                while have < body_len {
                    let Ok(n) = conn.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    have += n;
                }
                let mut parts = head.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let target = parts.next().unwrap_or("").to_string();
                let garbage = vec![0x5au8; 64 << 10];
                let limit: u64 = 1 << 30;
                match answer(&method, &target) {
                    HttpAnswer::Small(status, body) => {
                        let head = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = conn.write_all(head.as_bytes()).await;
                        let _ = conn.write_all(&body).await;
                    }
                    HttpAnswer::WithHeaders(status, headers, body) => {
                        let mut head = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
                            body.len()
                        );
                        for (k, v) in headers {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        let _ = conn.write_all(head.as_bytes()).await;
                        let _ = conn.write_all(&body).await;
                    }
                    HttpAnswer::Endless => {
                        let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\netag: \"hostile\"\r\nconnection: close\r\n\r\n";
                        if conn.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        let mut chunk = format!("{:x}\r\n", garbage.len()).into_bytes();
                        chunk.extend_from_slice(&garbage);
                        chunk.extend_from_slice(b"\r\n");
                        while sent.load(Ordering::SeqCst) < limit {
                            if conn.write_all(&chunk).await.is_err() {
                                return;
                            }
                            sent.fetch_add(garbage.len() as u64, Ordering::SeqCst);
                        }
                    }
                    HttpAnswer::Declared(len) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
                        );
                        if conn.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        let mut left = len.min(limit);
                        while left > 0 {
                            let n = (garbage.len() as u64).min(left) as usize;
                            if conn.write_all(&garbage[..n]).await.is_err() {
                                return;
                            }
                            sent.fetch_add(n as u64, Ordering::SeqCst);
                            left -= n as u64;
                        }
                    }
                }
                let _ = conn.shutdown().await;
            });
        }
    });
    HostileHttp { url, sent, task }
}

/// Runs `fut`, failing the test when it has not finished within `secs` seconds (a reader that
/// buffers an endless answer never would).
pub async fn within<T>(secs: u64, what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish in {secs} s: the answer was not capped"))
}

/// The error of a read that must fail; on success the test fails without printing what was
/// read (it may be megabytes of garbage).
pub fn refused<T>(what: &str, result: Result<T, StoreError>) -> StoreError {
    match result {
        Ok(_) => panic!("{what} succeeded where it must be refused"),
        Err(e) => e,
    }
}

/// Runs curl with `args` (what a user of Kubo's or the cluster's own API would see): the status
/// code (0 when curl got none) and the body.
pub async fn curl(args: &[&str]) -> (u16, Vec<u8>) {
    let mut all = vec!["-s", "-m", "60", "-w", "\n%{http_code}"];
    all.extend_from_slice(args);
    let out = tokio::process::Command::new("curl")
        .args(&all)
        .output()
        .await
        .expect("curl runs");
    let mut body = out.stdout;
    let nl = body.iter().rposition(|&b| b == b'\n').unwrap();
    let status = std::str::from_utf8(&body[nl + 1..])
        .unwrap()
        .trim()
        .parse()
        .unwrap_or(0);
    body.truncate(nl);
    (status, body)
}
