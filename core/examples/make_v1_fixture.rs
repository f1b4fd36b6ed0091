//! One-off generator of `test-vectors/v1-vault.json`: a small vault written by format v1 (the code
//! at this commit), so that later formats can prove they still read it. Run once with
//! `cargo run -p coffer --example make_v1_fixture > test-vectors/v1-vault.json`; it cannot run
//! after the format changes (it writes whatever the current format is).
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;

use coffer::keys::Identity;
use coffer::share::Scope;
use coffer::store::DirStore;
use coffer::vault::{PutOptions, ShareOptions, Vault};

fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    futures_executor::block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(DirStore::open(dir.path()).unwrap());
        let alice = Identity::from_seed(&[0xa1; 32]);
        let bob = Identity::from_seed(&[0xb0; 32]);
        let mut laptop = Vault::create(store.clone(), alice.clone(), "family", "laptop")
            .await
            .unwrap();
        let v1 = laptop
            .put(b"notes/a.txt", b"first".to_vec(), PutOptions::default())
            .await
            .unwrap();
        laptop
            .put(b"notes/a.txt", b"second".to_vec(), PutOptions::default())
            .await
            .unwrap();
        let big: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        laptop
            .put(
                b"photos/big.bin",
                big,
                PutOptions {
                    content_type: Some("application/octet-stream".into()),
                    metadata: BTreeMap::from([("camera".into(), "x100".into())]),
                    tags: BTreeMap::from([("album".into(), "2026".into())]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        laptop
            .put(b"photos/cat.jpg", b"meow".to_vec(), PutOptions::default())
            .await
            .unwrap();
        laptop
            .copy(b"photos/cat.jpg", b"best/cat.jpg")
            .await
            .unwrap();
        laptop
            .put(b"tmp/gone.txt", b"bye".to_vec(), PutOptions::default())
            .await
            .unwrap();
        laptop.delete(b"tmp/gone.txt").await.unwrap();
        let mut phone = Vault::open(store.clone(), alice.clone(), "family", "phone")
            .await
            .unwrap();
        phone.sync().await.unwrap();
        phone
            .put(
                b"phone.txt",
                b"from the phone".to_vec(),
                PutOptions::default(),
            )
            .await
            .unwrap();
        laptop.sync().await.unwrap();
        let far = 4_102_444_800_000; // 2100-01-01
        let opts = ShareOptions {
            expires_ms: far,
            ..Default::default()
        };
        laptop
            .share(
                Scope::Prefix(b"photos/".to_vec()),
                bob.recipient(),
                opts.clone(),
            )
            .await
            .unwrap();
        laptop
            .share(
                Scope::Version {
                    key: b"notes/a.txt".to_vec(),
                    version: v1.version.clone(),
                },
                bob.recipient(),
                opts,
            )
            .await
            .unwrap();
        let mut files = Vec::new();
        walk(dir.path(), &mut files);
        files.sort();
        let mut blocks = serde_json::Map::new();
        let mut heads = serde_json::Map::new();
        for f in files {
            let rel = f.strip_prefix(dir.path()).unwrap();
            let parts: Vec<String> = rel
                .iter()
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|n| n.starts_with('.')) {
                continue;
            }
            let hex = hex::encode(std::fs::read(&f).unwrap());
            match parts[0].as_str() {
                "blocks" => {
                    blocks.insert(parts[2].clone(), hex.into());
                }
                "heads" => {
                    let ns = heads
                        .entry(parts[1].clone())
                        .or_insert_with(|| serde_json::Value::Object(Default::default()));
                    ns.as_object_mut()
                        .unwrap()
                        .insert(parts[2].clone(), hex.into());
                }
                _ => {}
            }
        }
        let out = serde_json::json!({
            "description": "A vault written by coffer format v1 (commit before format v2): DirStore blocks and heads, \
                            the owner alice (seed a1 × 32, devices laptop and phone) and a recipient bob (seed b0 × 32) \
                            holding a prefix share of photos/ and a version share of notes/a.txt's first version. \
                            Format v2 must read all of it: core/tests/v1_compat.rs.",
            "owner_seed": hex::encode([0xa1u8; 32]),
            "recipient_seed": hex::encode([0xb0u8; 32]),
            "vault": "family",
            "objects": {
                "notes/a.txt": "second",
                "photos/big.bin": "bytes i % 251 for i in 0..40000",
                "photos/cat.jpg": "meow",
                "best/cat.jpg": "meow",
                "phone.txt": "from the phone"
            },
            "deleted": ["tmp/gone.txt"],
            "first_version_of_notes_a": v1.version,
            "blocks": blocks,
            "heads": heads,
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap());
    });
}
