//! Pruning a vault written by format v1 (`test-vectors/v1-vault.json`): v1 heads are marked like
//! v2 ones, so every object, version and share the v1 devices wrote still reads after a prune
//! with no window; only what nothing references goes (keys deleted under v1 have no graveyard:
//! v1 kept no history of deleted keys).
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use bytes::Bytes;
use coffer::block::Cid;
use coffer::keys::Identity;
use coffer::share::{Scope, ShareBook, SharedReader, read_inbox};
use coffer::store::{BlockStore, HeadCondition, HeadStore, MemoryStore};
use coffer::vault::{GcTiming, PruneOptions, Vault};
use futures_executor::block_on;
use serde_json::Value;

fn seed(v: &Value, field: &str) -> Identity {
    let bytes: [u8; 32] = hex::decode(v[field].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    Identity::from_seed(&bytes)
}

#[test]
fn a_v1_vault_prunes_and_everything_still_reads() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-vectors/v1-vault.json"
    ))
    .unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let store = Arc::new(MemoryStore::new());
    block_on(async {
        for (cid, hex) in v["blocks"].as_object().unwrap() {
            let cid: Cid = cid.parse().unwrap();
            let bytes = Bytes::from(hex::decode(hex.as_str().unwrap()).unwrap());
            store.put(&cid, bytes).await.unwrap();
        }
        for (ns, heads) in v["heads"].as_object().unwrap() {
            for (writer, hex) in heads.as_object().unwrap() {
                let bytes = Bytes::from(hex::decode(hex.as_str().unwrap()).unwrap());
                store
                    .write_head(ns, writer, bytes, HeadCondition::Any)
                    .await
                    .unwrap();
            }
        }
        let blocks_before = store.len();
        // A new device prunes: it has not written before, the v1 devices' heads never move.
        let mut tablet = Vault::open(store.clone(), seed(&v, "owner_seed"), "family", "tablet")
            .await
            .unwrap();
        tablet.set_gc_timing(GcTiming {
            grace_ms: 0,
            ..Default::default()
        });
        let report = tablet
            .prune(
                PruneOptions {
                    window_ms: 0,
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        assert!(report.missing.is_empty(), "{:?}", report.missing);
        assert!(report.heads >= 3, "{report:?}");
        assert!(
            report.swept.blocks > 0,
            "old index nodes and the v1-deleted key go: {report:?}"
        );
        assert!(store.len() <= blocks_before + 8);
        for (key, text) in v["objects"].as_object().unwrap() {
            let got = tablet.get(key.as_bytes()).await.unwrap();
            if key != "photos/big.bin" {
                assert_eq!(got, text.as_str().unwrap().as_bytes(), "{key}");
            }
        }
        let versions = tablet.versions(b"notes/a.txt").await.unwrap();
        assert_eq!(versions.len(), 2);
        let old = tablet
            .get_version(b"notes/a.txt", &versions[1].version)
            .await
            .unwrap();
        assert_eq!(old, b"first");
        // The recipient's v1 shares still read.
        let bob = seed(&v, "recipient_seed");
        let mut book = ShareBook::new();
        for entry in read_inbox(&*store, &bob).await.unwrap() {
            book.accept(entry.share.unwrap(), coffer::vault::now_ms())
                .unwrap();
        }
        for share in book.iter() {
            let reader = SharedReader::open(store.clone(), share.clone())
                .await
                .unwrap();
            match share.scope() {
                Scope::Prefix(_) => {
                    assert_eq!(reader.get(b"photos/cat.jpg").await.unwrap(), b"meow")
                }
                _ => assert_eq!(reader.get(b"notes/a.txt").await.unwrap(), b"first"),
            }
        }
        // The v1 laptop continues, after the prune, from its v1 head.
        let mut laptop = Vault::open(store.clone(), seed(&v, "owner_seed"), "family", "laptop")
            .await
            .unwrap();
        laptop.sync().await.unwrap();
        assert_eq!(laptop.get(b"photos/cat.jpg").await.unwrap(), b"meow");
    });
}
