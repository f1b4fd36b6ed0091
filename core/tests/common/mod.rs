//! The shared store test suites: every block store and head store runs the same checks.
#![allow(dead_code)]
// Test support: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

pub mod share;
pub mod vault;

use bytes::Bytes;
use coffer::block::{Cid, encode_node, raw_cid};
use coffer::store::{
    BlockStore, ConditionalWrites, HeadCondition, HeadStore, StoreError, collect_stream,
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
