//! The vault test suite every store runs: objects, versions, conditions, ranges, copies,
//! listings, deletes, streaming puts and gets, two devices syncing, bad keys, reopening.
#![allow(dead_code)]
// Test support: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use coffer::index::ListRequest;
use coffer::keys::Identity;
use coffer::store::{BlockStore, HeadStore};
use coffer::vault::{ListPage, PutOptions, Vault, VaultError};

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

/// The object operations, on any store.
pub async fn vault_suite<S: BlockStore + HeadStore + ?Sized>(store: Arc<S>, vault: &str) {
    let mut v = Vault::open_or_create(store.clone(), identity(), vault, "dev1")
        .await
        .expect("open");

    // put / get / head
    let mut metadata = BTreeMap::new();
    metadata.insert("owner".to_string(), "alice".to_string());
    let opts = PutOptions {
        content_type: Some("text/plain".into()),
        metadata: metadata.clone(),
        ..Default::default()
    };
    let v1 = v
        .put(b"docs/a.txt", b"first".to_vec(), opts)
        .await
        .expect("put");
    assert_eq!(v.get(b"docs/a.txt").await.expect("get"), b"first");
    let info = v.head(b"docs/a.txt").await.expect("head");
    assert_eq!(info, v1);
    assert_eq!(info.size, 5);
    assert_eq!(info.content_type.as_deref(), Some("text/plain"));
    assert_eq!(info.metadata, metadata);
    assert_eq!(info.etag(), info.version);

    // empty object
    v.put(b"empty", Vec::new(), PutOptions::default())
        .await
        .expect("put empty");
    assert_eq!(v.get(b"empty").await.expect("get empty"), b"");
    assert_eq!(
        v.get_range(b"empty", 0..0).await.expect("range of empty"),
        b""
    );

    // versions
    let v2 = v
        .put(b"docs/a.txt", b"second".to_vec(), PutOptions::default())
        .await
        .expect("put 2");
    assert_ne!(v1.version, v2.version);
    assert_eq!(v.get(b"docs/a.txt").await.expect("get"), b"second");
    let versions = v.versions(b"docs/a.txt").await.expect("versions");
    assert_eq!(
        versions
            .iter()
            .map(|i| i.version.clone())
            .collect::<Vec<_>>(),
        vec![v2.version.clone(), v1.version.clone()]
    );
    assert_eq!(
        v.get_version(b"docs/a.txt", &v1.version)
            .await
            .expect("old"),
        b"first"
    );
    assert!(matches!(
        v.get_version(b"other", &v1.version).await,
        Err(VaultError::NotFound)
    ));
    assert!(matches!(
        v.get_version(b"docs/a.txt", "nonsense").await,
        Err(VaultError::InvalidVersion(_))
    ));

    // conditional puts
    let absent = PutOptions {
        if_absent: true,
        ..Default::default()
    };
    assert!(matches!(
        v.put(b"docs/a.txt", b"x".to_vec(), absent.clone()).await,
        Err(VaultError::PreconditionFailed(_))
    ));
    v.put(b"docs/new", b"n".to_vec(), absent)
        .await
        .expect("if-absent on a new key");
    let stale = PutOptions {
        if_match: Some(v1.version.clone()),
        ..Default::default()
    };
    assert!(matches!(
        v.put(b"docs/a.txt", b"x".to_vec(), stale).await,
        Err(VaultError::PreconditionFailed(_))
    ));
    let fresh = PutOptions {
        if_match: Some(v2.version.clone()),
        ..Default::default()
    };
    v.put(b"docs/a.txt", b"third".to_vec(), fresh)
        .await
        .expect("if-match current");
    assert_eq!(v.versions(b"docs/a.txt").await.expect("versions").len(), 3);

    // ranges of a multi-segment object (64 KiB segments, 16 KiB verification groups)
    let big = data(300_000, 5);
    v.put(b"big.bin", big.clone(), PutOptions::default())
        .await
        .expect("put big");
    for r in [
        0..1,
        0..300_000,
        65_530..65_560,
        100_000..100_000,
        131_072..262_144,
        299_999..300_000,
        17..70_000,
    ] {
        let got = v.get_range(b"big.bin", r.clone()).await.expect("range");
        assert_eq!(got, &big[r.start as usize..r.end as usize], "range {r:?}");
    }
    assert!(v.get_range(b"big.bin", 10..300_001).await.is_err());
    assert_eq!(v.get(b"big.bin").await.expect("get big"), big);

    // copy by reference
    let copied = v.copy(b"big.bin", b"copy.bin").await.expect("copy");
    assert_eq!(copied.data, v.head(b"big.bin").await.expect("head").data);
    assert_ne!(
        copied.version,
        v.head(b"big.bin").await.expect("head").version
    );
    assert_eq!(v.get(b"copy.bin").await.expect("get copy"), big);
    assert_eq!(
        v.get_range(b"copy.bin", 5..9).await.expect("range copy"),
        &big[5..9]
    );

    // list
    assert_eq!(
        all_keys(&v).await,
        ["big.bin", "copy.bin", "docs/a.txt", "docs/new", "empty"]
    );
    let page = v
        .list(&ListRequest {
            delimiter: Some(b"/".to_vec()),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(keys_of(&page), ["big.bin", "copy.bin", "empty"]);
    assert_eq!(page.common_prefixes, vec![b"docs/".to_vec()]);
    let page = v
        .list(&ListRequest {
            prefix: b"docs/".to_vec(),
            max_keys: Some(1),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(keys_of(&page), ["docs/a.txt"]);
    assert_eq!(page.contents[0].size, 5);
    assert_eq!(
        page.contents[0].etag,
        v.head(b"docs/a.txt").await.expect("head").version
    );
    assert!(page.is_truncated);
    let next = v
        .list(&ListRequest {
            prefix: b"docs/".to_vec(),
            continuation_token: page.next_continuation_token.clone(),
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(keys_of(&next), ["docs/new"]);

    // delete / delete_many
    v.delete(b"docs/new").await.expect("delete");
    assert!(matches!(
        v.get(b"docs/new").await,
        Err(VaultError::NotFound)
    ));
    assert!(matches!(
        v.head(b"docs/new").await,
        Err(VaultError::NotFound)
    ));
    assert!(matches!(
        v.delete(b"docs/new").await,
        Err(VaultError::NotFound)
    ));
    let results = v
        .delete_many(&[b"empty", b"missing", b"copy.bin"])
        .await
        .expect("delete_many");
    assert!(results[0].result.is_ok());
    assert!(matches!(results[1].result, Err(VaultError::NotFound)));
    assert!(results[2].result.is_ok());
    assert_eq!(all_keys(&v).await, ["big.bin", "docs/a.txt"]);
    // the copied blocks are still the original's
    assert_eq!(v.get(b"big.bin").await.expect("get big"), big);

    // tags: per version, encrypted, changed without a new version, copied with the object
    let tags = BTreeMap::from([("project".to_string(), "apollo".to_string())]);
    let tagged = v
        .put(
            b"tagged",
            b"t".to_vec(),
            PutOptions {
                tags: tags.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("put with tags");
    assert_eq!(v.tags(b"tagged").await.expect("tags"), tags);
    v.set_tags(
        b"tagged",
        BTreeMap::from([("state".into(), "final".into())]),
    )
    .await
    .expect("set tags");
    assert_eq!(v.tags(b"tagged").await.expect("tags")["state"], "final");
    assert_eq!(
        v.head(b"tagged").await.expect("head").version,
        tagged.version
    );
    v.copy(b"tagged", b"tagged-copy")
        .await
        .expect("copy tagged");
    assert_eq!(
        v.tags(b"tagged-copy").await.expect("tags")["state"],
        "final"
    );
    let too_many: BTreeMap<String, String> =
        (0..11).map(|i| (format!("k{i}"), String::new())).collect();
    assert!(matches!(
        v.set_tags(b"tagged", too_many).await,
        Err(VaultError::InvalidTags(_))
    ));
    assert!(matches!(
        v.tags(b"untagged-missing").await,
        Err(VaultError::NotFound)
    ));
    v.delete_many(&[b"tagged", b"tagged-copy"])
        .await
        .expect("delete tagged");

    // streaming put and get (a file read three times; bounded memory), sizes around the
    // 16 KiB group, the 64 KiB segment and the 1 MiB chunk
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, len) in [0usize, 1, 16_384, 16_385, 65_536, 1_048_577, 3_000_000]
        .into_iter()
        .enumerate()
    {
        let bytes = data(len, 40 + i as u8);
        let path = dir.path().join(format!("f{i}"));
        std::fs::write(&path, &bytes).expect("write source");
        let key = format!("stream/{len}");
        let mut seen = 0u64;
        let mut progress = |n: u64| seen = n;
        let info = v
            .put_source(
                key.as_bytes(),
                &mut path.clone(),
                PutOptions::default(),
                Some(&mut progress),
            )
            .await
            .expect("put_source");
        assert_eq!(info.size, len as u64);
        assert_eq!(seen, len as u64, "progress reaches the whole length");
        let mut out = futures_util::io::Cursor::new(Vec::new());
        let got = v
            .get_to(key.as_bytes(), &mut out, None)
            .await
            .expect("get_to");
        assert_eq!(got.version, info.version);
        assert!(out.into_inner() == bytes, "streamed get of {len} bytes");
        assert!(v.get(key.as_bytes()).await.expect("get") == bytes);
        if len > 10 {
            let r = (len as u64 / 3)..(len as u64 / 3 + 10);
            assert_eq!(
                v.get_range(key.as_bytes(), r.clone()).await.expect("range"),
                &bytes[r.start as usize..r.end as usize]
            );
        }
        // the same content again seals to the same object (what makes uploads resumable)
        let again = v
            .put_source(
                key.as_bytes(),
                &mut path.clone(),
                PutOptions::default(),
                None,
            )
            .await
            .expect("put_source again");
        assert_eq!(again.data, info.data);
        assert_ne!(again.version, info.version);
        v.delete(key.as_bytes()).await.expect("delete streamed");
    }
    let mut missing = dir.path().join("no-such-file");
    assert!(matches!(
        v.put_source(b"stream/missing", &mut missing, PutOptions::default(), None)
            .await,
        Err(VaultError::Source(_))
    ));
    let mut out = futures_util::io::Cursor::new(Vec::new());
    v.get_version_to(b"docs/a.txt", &v1.version, &mut out, None)
        .await
        .expect("get_version_to");
    assert_eq!(out.into_inner(), b"first");

    // a second device sees nothing until it syncs, then everything; its edits flow back
    let mut other = Vault::open_or_create(store.clone(), identity(), vault, "dev2")
        .await
        .expect("second device");
    assert!(matches!(
        other.get(b"big.bin").await,
        Err(VaultError::NotFound)
    ));
    other.sync().await.expect("sync dev2");
    assert_eq!(other.get(b"big.bin").await.expect("dev2 reads"), big);
    other
        .put(b"from-dev2", b"hello".to_vec(), PutOptions::default())
        .await
        .expect("dev2 put");
    v.sync().await.expect("sync dev1");
    assert_eq!(v.get(b"from-dev2").await.expect("dev1 reads"), b"hello");
    assert_eq!(v.root(), {
        other.sync().await.expect("sync dev2 again");
        other.root()
    });
    v.delete(b"from-dev2").await.expect("delete dev2's object");

    // bad keys
    let long = vec![b'k'; 1025];
    assert!(matches!(
        v.put(&long, b"x".to_vec(), PutOptions::default()).await,
        Err(VaultError::KeyTooLong { len: 1025 })
    ));
    assert!(matches!(v.get(b"").await, Err(VaultError::InvalidKey(_))));
    assert!(matches!(v.get(b"nope").await, Err(VaultError::NotFound)));
    v.put(&long[..1024], b"max".to_vec(), PutOptions::default())
        .await
        .expect("1024-byte key");

    // reopening the same device finds everything committed
    let root = v.root();
    drop(v);
    let v = Vault::open_or_create(store, identity(), vault, "dev1")
        .await
        .expect("reopen");
    assert_eq!(v.root(), root);
    assert_eq!(
        v.get(b"docs/a.txt").await.expect("get after reopen"),
        b"third"
    );
}
