//! Placement unit tests over memory stores (the real-store tests are in `tests/store_placed.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::block::raw_cid;
use crate::store::MemoryStore;

fn backend(name: &str, region: &str, jurisdiction: &str) -> (Backend, Arc<MemoryStore>) {
    let store = Arc::new(MemoryStore::new());
    let mut b = Backend::new(name, store.clone() as Arc<dyn BackendStore>);
    b.region = Some(region.to_string());
    b.jurisdiction = Some(jurisdiction.to_string());
    (b, store)
}

fn block(i: u32) -> (Cid, Bytes) {
    let bytes = Bytes::from(format!("block number {i}").into_bytes());
    (raw_cid(&bytes), bytes)
}

#[test]
fn replicate_meets_the_region_count_whenever_possible() {
    // Four backends in one region ranked first for many blocks, one in another region.
    let mut backends: Vec<Backend> = (0..4)
        .map(|i| backend(&format!("a{i}"), "west", "EU").0)
        .collect();
    backends.push(backend("b0", "east", "EU").0);
    let store = PlacedStore::new(backends, "replicate 2 regions>=2".parse().unwrap()).unwrap();
    for i in 0..200 {
        let (cid, _) = block(i);
        let p = store.placement(&cid).unwrap();
        assert_eq!(p.len(), 2);
        assert!(
            p.contains(&4),
            "block {i}: {p:?} misses the only eastern backend"
        );
    }
}

#[test]
fn rendezvous_moves_only_what_the_new_backend_wins() {
    let five: Vec<Backend> = (0..5)
        .map(|i| backend(&format!("n{i}"), "r", "EU").0)
        .collect();
    let mut six = five.clone();
    six.push(backend("n5", "r", "EU").0);
    let policy: Policy = "replicate 2".parse().unwrap();
    let before = PlacedStore::new(five, policy.clone()).unwrap();
    let after = PlacedStore::new(six, policy).unwrap();
    let mut moved = 0;
    for i in 0..600 {
        let (cid, _) = block(i);
        let (a, b) = (
            before.placement(&cid).unwrap(),
            after.placement(&cid).unwrap(),
        );
        if a != b {
            moved += 1;
            // Only the new backend can take a place; the others keep their order.
            assert!(b.contains(&5), "{a:?} -> {b:?}");
        }
    }
    // The new backend wins a top-2 place for about 2/6 of the blocks.
    assert!((120..280).contains(&moved), "{moved} of 600 moved");
}

#[test]
fn unsatisfiable_writes_fail_and_write_nothing() {
    futures_executor::block_on(async {
        let mut stores = Vec::new();
        let mut backends = Vec::new();
        for (i, j) in ["EU", "EU", "EU", "EU", "US", "US"].iter().enumerate() {
            let (b, s) = backend(&format!("b{i}"), "r", j);
            backends.push(b);
            stores.push(s);
        }
        let store = PlacedStore::new(backends, "rs 4+2 jurisdiction=EU".parse().unwrap()).unwrap();
        let (cid, bytes) = block(1);
        let err = store.put(&cid, bytes.clone()).await.unwrap_err();
        let StoreError::PolicyUnsatisfiable(msg) = &err else {
            panic!("{err}");
        };
        assert!(
            msg.contains("rs 4+2 jurisdiction=EU needs 6 eligible backends, 4 are"),
            "{msg}"
        );
        for s in &stores {
            assert!(s.list().await.unwrap().is_empty());
        }
        // The same with a stream, and with regions.
        let mut src = futures_util::io::Cursor::new(bytes.to_vec());
        assert!(matches!(
            store.put_stream(&cid, &mut src, None).await,
            Err(StoreError::PolicyUnsatisfiable(_))
        ));
        store
            .set_policy("replicate 2 regions>=2".parse().unwrap())
            .unwrap();
        let err = store.put(&cid, bytes.clone()).await.unwrap_err();
        assert!(
            err.to_string().contains("needs copies in 2 regions"),
            "{err}"
        );
        for s in &stores {
            assert!(s.list().await.unwrap().is_empty());
        }
        // Satisfiable: lands only on EU backends.
        store
            .set_policy("replicate 3 eu-only".parse().unwrap())
            .unwrap();
        store.put(&cid, bytes.clone()).await.unwrap();
        let mut holders = Vec::new();
        for (i, s) in stores.iter().enumerate() {
            if s.has(&cid).await.unwrap() {
                holders.push(i);
            }
        }
        assert_eq!(holders.len(), 3);
        assert!(holders.iter().all(|&i| i < 4), "{holders:?}");
        assert_eq!(store.get(&cid).await.unwrap(), bytes);
    });
}
