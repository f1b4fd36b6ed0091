//! Format v2 reads what format v1 wrote: `test-vectors/v1-vault.json` is a vault written by the
//! last v1 build (two devices, versions, tags, a copy, a delete, a prefix share and a version
//! share). Every object reads back, both devices continue under v2 heads, and the recipient's v1
//! grants and views still read.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use bytes::Bytes;
use coffer::block::Cid;
use coffer::keys::Identity;
use coffer::share::{Scope, ShareBook, SharedReader, read_inbox};
use coffer::store::{BlockStore, HeadCondition, HeadStore, MemoryStore};
use coffer::vault::{PutOptions, Vault};
use futures_executor::block_on;
use serde_json::Value;

fn fixture() -> (Arc<MemoryStore>, Value) {
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
            store
                .put(
                    &cid,
                    Bytes::from(hex::decode(hex.as_str().unwrap()).unwrap()),
                )
                .await
                .unwrap();
        }
        for (ns, heads) in v["heads"].as_object().unwrap() {
            for (writer, hex) in heads.as_object().unwrap() {
                store
                    .write_head(
                        ns,
                        writer,
                        Bytes::from(hex::decode(hex.as_str().unwrap()).unwrap()),
                        HeadCondition::Any,
                    )
                    .await
                    .unwrap();
            }
        }
    });
    (store, v)
}

fn seed(v: &Value, field: &str) -> Identity {
    Identity::from_seed(
        &hex::decode(v[field].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap(),
    )
}

fn big() -> Vec<u8> {
    (0..40_000u32).map(|i| (i % 251) as u8).collect()
}

#[test]
fn a_v1_vault_reads_and_continues_in_v2() {
    let (store, v) = fixture();
    let alice = seed(&v, "owner_seed");
    block_on(async {
        let mut laptop = Vault::open(store.clone(), alice.clone(), "family", "laptop")
            .await
            .unwrap();
        assert!(
            laptop.skipped_heads().is_empty(),
            "{:?}",
            laptop.skipped_heads()
        );
        laptop.sync().await.unwrap();
        for (key, text) in v["objects"].as_object().unwrap() {
            let got = laptop.get(key.as_bytes()).await.unwrap();
            if key == "photos/big.bin" {
                assert_eq!(got, big());
                assert_eq!(
                    laptop
                        .get_range(key.as_bytes(), 20_000..20_010)
                        .await
                        .unwrap(),
                    &big()[20_000..20_010]
                );
            } else {
                assert_eq!(got, text.as_str().unwrap().as_bytes(), "{key}");
            }
        }
        for key in v["deleted"].as_array().unwrap() {
            assert!(laptop.get(key.as_str().unwrap().as_bytes()).await.is_err());
        }
        let versions = laptop.versions(b"notes/a.txt").await.unwrap();
        assert_eq!(versions.len(), 2);
        assert_eq!(
            versions[1].version,
            v["first_version_of_notes_a"].as_str().unwrap()
        );
        assert_eq!(
            laptop.tags(b"photos/big.bin").await.unwrap()["album"],
            "2026"
        );
        let info = laptop.head(b"photos/big.bin").await.unwrap();
        assert_eq!(info.metadata["camera"], "x100");
        // A v2 write on the old vault; the v1 phone device continues too, and they converge.
        laptop
            .put(
                b"notes/b.txt",
                b"written by v2".to_vec(),
                PutOptions::default(),
            )
            .await
            .unwrap();
        let mut phone = Vault::open(store.clone(), alice.clone(), "family", "phone")
            .await
            .unwrap();
        phone.sync().await.unwrap();
        assert_eq!(phone.get(b"notes/b.txt").await.unwrap(), b"written by v2");
        assert_eq!(phone.get(b"notes/a.txt").await.unwrap(), b"second");
        laptop.sync().await.unwrap();
        assert_eq!(laptop.root(), phone.root());
        let writers = phone.writers().await.unwrap();
        // laptop and phone under v1 names (frozen) and under v2 names.
        assert_eq!(writers.iter().filter(|w| w.format == 1).count(), 2);
        assert_eq!(writers.iter().filter(|w| w.format == 2).count(), 2);
        assert!(writers.iter().all(|w| w.merged), "{writers:?}");
    });
}

#[test]
fn v1_shares_still_read_and_the_owner_republishes_in_v2() {
    let (store, v) = fixture();
    let alice = seed(&v, "owner_seed");
    let bob = seed(&v, "recipient_seed");
    block_on(async {
        let mut book = ShareBook::new();
        for entry in read_inbox(&*store, &bob).await.unwrap() {
            book.accept(entry.share.unwrap(), coffer::vault::now_ms())
                .unwrap();
        }
        assert_eq!(book.len(), 2);
        for share in book.iter() {
            let reader = SharedReader::open(store.clone(), share.clone())
                .await
                .unwrap();
            match share.scope() {
                Scope::Prefix(_) => {
                    assert_eq!(reader.get(b"photos/cat.jpg").await.unwrap(), b"meow");
                    assert_eq!(reader.get(b"photos/big.bin").await.unwrap(), big());
                    assert!(reader.get(b"notes/a.txt").await.is_err());
                }
                Scope::Version { .. } => {
                    assert_eq!(reader.get(b"notes/a.txt").await.unwrap(), b"first");
                }
                Scope::Object(_) => panic!("no object share in the fixture"),
            }
        }
        // The owner writes in the shared prefix with v2: the view (now v2) still reads for bob.
        let mut laptop = Vault::open(store.clone(), alice, "family", "laptop")
            .await
            .unwrap();
        laptop
            .put(
                b"photos/new.jpg",
                b"v2 photo".to_vec(),
                PutOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(laptop.share_publish_error(), None);
        let prefix = book
            .iter()
            .find(|s| matches!(s.scope(), Scope::Prefix(_)))
            .unwrap()
            .clone();
        let reader = SharedReader::open(store.clone(), prefix).await.unwrap();
        assert_eq!(reader.get(b"photos/new.jpg").await.unwrap(), b"v2 photo");
        assert_eq!(reader.get(b"photos/cat.jpg").await.unwrap(), b"meow");
    });
}

#[test]
fn a_vault_created_by_v1_refuses_an_identity_rotation_and_stays_as_it_was() {
    let (store, v) = fixture();
    let alice = seed(&v, "owner_seed");
    block_on(async {
        let mut laptop = Vault::open(store.clone(), alice.clone(), "family", "laptop")
            .await
            .unwrap();
        let blocks = store.len();
        let e = laptop
            .rotate_identity(Identity::from_seed(&[42; 32]))
            .await
            .expect_err("v1 objects are sealed to the owner's identity");
        assert!(
            matches!(
                e,
                coffer::vault::VaultError::Handover(coffer::vault::HandoverError::V1Vault { .. })
            ),
            "{e}"
        );
        assert_eq!(store.len(), blocks, "nothing was written");
        assert!(laptop.handovers().is_empty());
        assert_eq!(laptop.get(b"notes/a.txt").await.unwrap(), b"second");
    });
}
