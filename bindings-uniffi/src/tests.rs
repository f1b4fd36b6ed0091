//! Rust-side tests of the exported API (the Kotlin tests in packages-kotlin drive the same
//! functions through the generated bindings).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::*;

/// An in-memory transport written against the exported trait, as an app would.
#[derive(Default)]
struct MapTransport {
    blocks: Mutex<HashMap<String, Vec<u8>>>,
    heads: Mutex<HashMap<(String, String), HeadRecord>>,
    fail: Mutex<Option<TransportError>>,
}

impl MapTransport {
    fn gate(&self) -> Result<(), TransportError> {
        match self.fail.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl Transport for MapTransport {
    async fn put_block(&self, cid: String, bytes: Vec<u8>) -> Result<(), TransportError> {
        self.gate()?;
        self.blocks.lock().unwrap().insert(cid, bytes);
        Ok(())
    }
    async fn get_block(&self, cid: String) -> Result<Option<Vec<u8>>, TransportError> {
        self.gate()?;
        Ok(self.blocks.lock().unwrap().get(&cid).cloned())
    }
    async fn get_block_range(
        &self,
        cid: String,
        _start: u64,
        _end: u64,
    ) -> Result<Option<Vec<u8>>, TransportError> {
        // Returns the whole block: the wrapper slices it.
        self.get_block(cid).await
    }
    async fn has_block(&self, cid: String) -> Result<bool, TransportError> {
        self.gate()?;
        Ok(self.blocks.lock().unwrap().contains_key(&cid))
    }
    async fn delete_block(&self, cid: String) -> Result<(), TransportError> {
        self.gate()?;
        self.blocks.lock().unwrap().remove(&cid);
        Ok(())
    }
    async fn list_blocks(&self) -> Result<Vec<String>, TransportError> {
        self.gate()?;
        Ok(self.blocks.lock().unwrap().keys().cloned().collect())
    }
    async fn read_heads(&self, vault: String) -> Result<Vec<HeadRecord>, TransportError> {
        self.gate()?;
        let heads = self.heads.lock().unwrap();
        Ok(heads
            .iter()
            .filter(|((v, _), _)| *v == vault)
            .map(|(_, h)| h.clone())
            .collect())
    }
    async fn write_head(
        &self,
        vault: String,
        writer: String,
        bytes: Vec<u8>,
        condition: HeadWriteCondition,
    ) -> Result<String, TransportError> {
        self.gate()?;
        let mut heads = self.heads.lock().unwrap();
        let cur = heads.get(&(vault.clone(), writer.clone()));
        let ok = match &condition {
            HeadWriteCondition::Absent => cur.is_none(),
            HeadWriteCondition::Matches { version } => cur.is_some_and(|c| &c.version == version),
            HeadWriteCondition::Unconditional => true,
        };
        if !ok {
            return Err(TransportError::PreconditionFailed {
                detail: "changed".into(),
            });
        }
        let version = blake3_hex(bytes.clone());
        heads.insert(
            (vault, writer.clone()),
            HeadRecord {
                writer,
                bytes,
                version: version.clone(),
            },
        );
        Ok(version)
    }
    fn enforces_conditions(&self) -> bool {
        true
    }
}

#[test]
fn seal_open_and_errors() {
    let me = Identity::generate();
    let sealed = seal(b"hi".to_vec(), vec![me.recipient()], Some(me.clone()), None).unwrap();
    let opened = open(me.clone(), sealed.clone()).unwrap();
    assert_eq!(opened.plaintext, b"hi");
    assert_eq!(opened.signer.unwrap().to_text(), me.recipient().to_text());
    let e = open(Identity::generate(), sealed).unwrap_err();
    assert_eq!(e.code(), 3);
    assert_eq!(
        Recipient::parse("coffer1nope".into()).unwrap_err().code(),
        2
    );
    assert_eq!(seal(vec![], vec![], None, None).unwrap_err().code(), 1);
}

#[tokio::test]
async fn vault_over_a_transport_and_a_directory() {
    let me = Identity::generate();
    let t = Arc::new(MapTransport::default());
    let v = Vault::open_transport(
        t.clone(),
        me.clone(),
        "v".into(),
        "a".into(),
        OpenMode::Create,
        None,
    )
    .await
    .unwrap();
    v.clone()
        .put(b"k".to_vec(), vec![7; 100_000], None)
        .await
        .unwrap();
    assert_eq!(
        v.clone().get_range(b"k".to_vec(), 10, 20).await.unwrap(),
        vec![7; 10]
    );
    *t.fail.lock().unwrap() = Some(TransportError::Unavailable {
        detail: "down".into(),
    });
    assert_eq!(v.clone().get(b"k".to_vec()).await.unwrap_err().code(), 9);
    *t.fail.lock().unwrap() = None;
    assert_eq!(
        v.clone().get(b"missing".to_vec()).await.unwrap_err().code(),
        5
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_string_lossy().to_string();
    let err = Vault::open_dir(
        path.clone(),
        me.clone(),
        "v".into(),
        "a".into(),
        OpenMode::Open,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), 6);
    let d = Vault::open_dir(
        path,
        me,
        "v".into(),
        "a".into(),
        OpenMode::OpenOrCreate,
        None,
    )
    .await
    .unwrap();
    let info = d
        .clone()
        .put(
            b"x".to_vec(),
            b"y".to_vec(),
            Some(PutParams {
                content_type: Some("text/plain".into()),
                ..Default::default()
            }),
        )
        .await
        .unwrap();
    assert_eq!(d.clone().head(b"x".to_vec()).await.unwrap(), info);
    let page = d.clone().list(None).await.unwrap();
    assert_eq!(page.contents.len(), 1);
}

#[tokio::test]
async fn share_a_prefix_over_a_directory_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_string_lossy().to_string();
    let (alice, bob) = (Identity::generate(), Identity::generate());
    let v = Vault::open_dir(
        path.clone(),
        alice.clone(),
        "photos".into(),
        "laptop".into(),
        OpenMode::Create,
        None,
    )
    .await
    .unwrap();
    v.clone()
        .put(b"2026/cat.jpg".to_vec(), b"meow".to_vec(), None)
        .await
        .unwrap();
    v.clone()
        .put(b"taxes.pdf".to_vec(), b"private".to_vec(), None)
        .await
        .unwrap();
    let scope = ShareScope::Prefix {
        prefix: b"2026/".to_vec(),
    };
    let expires = now_ms() + parse_duration_ms("1h".into()).unwrap();
    // A bad recipient, an expiry in the past, an unknown id: typed errors.
    let e = v
        .clone()
        .share(
            scope.clone(),
            "coffer1nope".into(),
            expires,
            None,
            false,
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), 2);
    let to = bob.recipient().to_text();
    let e = v
        .clone()
        .share(scope.clone(), to.clone(), 1, None, false, false)
        .await
        .unwrap_err();
    assert_eq!(e.code(), 1);
    assert_eq!(
        v.clone().revoke("00".repeat(16)).await.unwrap_err().code(),
        1
    );
    assert_eq!(
        v.clone()
            .revoke("not an id".into())
            .await
            .unwrap_err()
            .code(),
        1
    );

    let id = v
        .clone()
        .share(scope.clone(), to.clone(), expires, None, false, false)
        .await
        .unwrap();
    let infos = v.shares().await;
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].id, id);
    assert_eq!(infos[0].scope, scope);
    assert_eq!(infos[0].recipient, to);
    assert_eq!(infos[0].status, ShareStatus::Active);

    // Bob, with his identity and the store only.
    let store = CofferStore::dir(path).unwrap();
    let inbox = read_inbox(store.clone(), bob.clone()).await.unwrap();
    assert_eq!(inbox.len(), 1);
    let share = inbox[0].share.clone().expect("a verified share");
    assert_eq!(share.id(), id);
    assert_eq!(share.scope(), scope);
    assert_eq!(share.issuer().to_text(), alice.recipient().to_text());
    // Alice cannot open Bob's envelope.
    let e = Share::open(alice.clone(), share.envelope()).unwrap_err();
    assert_eq!(e.code(), 3);

    let book = ShareBook::new();
    assert_eq!(book.accept(share.clone(), now_ms()).unwrap(), Accepted::New);
    assert_eq!(book.accept(share.clone(), now_ms()).unwrap_err().code(), 4);
    assert_eq!(book.accept(share.clone(), u64::MAX).unwrap_err().code(), 8);
    let saved = book.to_bytes(bob.clone()).unwrap();
    let again = ShareBook::from_bytes(bob.clone(), saved.clone()).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again.find(id[..6].to_string()).unwrap().id(), id);
    assert_eq!(
        ShareBook::from_bytes(alice.clone(), saved)
            .unwrap_err()
            .code(),
        3
    );

    let reader = SharedReader::open(store.clone(), share.clone())
        .await
        .unwrap();
    assert_eq!(
        reader.clone().get(b"2026/cat.jpg".to_vec()).await.unwrap(),
        b"meow"
    );
    assert_eq!(
        reader
            .clone()
            .head(b"2026/cat.jpg".to_vec())
            .await
            .unwrap()
            .size,
        4
    );
    let page = reader.clone().list(None).await.unwrap();
    assert_eq!(page.contents.len(), 1);
    assert_eq!(
        reader
            .clone()
            .get(b"taxes.pdf".to_vec())
            .await
            .unwrap_err()
            .code(),
        1
    );
    assert_eq!(
        reader
            .clone()
            .get(b"2026/dog.jpg".to_vec())
            .await
            .unwrap_err()
            .code(),
        5
    );

    // Revoked: the share no longer opens.
    let report = v.clone().revoke(id.clone()).await.unwrap();
    assert_eq!(report.epoch, 0);
    assert_eq!(v.shares().await[0].status, ShareStatus::Revoked);
    let e = SharedReader::open(store, share).await.unwrap_err();
    assert_eq!(e.code(), 8);
    assert_eq!(v.clone().rotate(scope).await.unwrap().grants, 0);
}

#[test]
fn derived_identities() {
    let a =
        Identity::from_passphrase("correct horse battery staple".into(), "a@b.c".into()).unwrap();
    let b =
        Identity::from_passphrase("correct horse battery staple".into(), " a@b.c ".into()).unwrap();
    assert_eq!(a.recipient().to_text(), b.recipient().to_text());
    assert_eq!(
        Identity::from_passphrase(String::new(), "a".into())
            .unwrap_err()
            .code(),
        2
    );
    assert!(wallet_message().starts_with("coffer: "));
    assert_eq!(
        Identity::from_wallet_signature(vec![1; 66])
            .unwrap_err()
            .code(),
        2
    );
    let w = Identity::from_wallet_signature([vec![1; 64], vec![27]].concat()).unwrap();
    let w2 = Identity::from_wallet_signature(vec![1; 64]).unwrap();
    assert_eq!(w.recipient().to_text(), w2.recipient().to_text());
}

/// An app's trust storage written against the exported trait (a map), as Kotlin or Swift would.
#[derive(Default)]
struct MapTrust {
    docs: Mutex<HashMap<String, Vec<u8>>>,
    fail: Mutex<bool>,
}

#[async_trait::async_trait]
impl TrustStorage for MapTrust {
    async fn load(&self, name: String) -> Result<Option<Vec<u8>>, TrustStorageError> {
        if *self.fail.lock().unwrap() {
            return Err(TrustStorageError::Failed {
                detail: "disk full".into(),
            });
        }
        Ok(self.docs.lock().unwrap().get(&name).cloned())
    }
    async fn save(&self, name: String, bytes: Vec<u8>) -> Result<(), TrustStorageError> {
        self.docs.lock().unwrap().insert(name, bytes);
        Ok(())
    }
}

/// The one head file of vault `vault` in a directory store (named after its writer's head-store
/// name; lock and temp files start with '.').
fn head_file(store: &std::path::Path, vault: &str) -> std::path::PathBuf {
    let heads: Vec<_> = std::fs::read_dir(store.join("heads").join(vault))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(heads.len(), 1, "{heads:?}");
    heads[0].clone()
}

/// Writes two versions, puts the first head back in the store, and reopens with `trust`.
async fn reopen_after_rollback(trust: impl Fn() -> Option<Arc<TrustMemory>>) -> CofferError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_string_lossy().to_string();
    let me = Identity::generate();
    let options = || {
        Some(VaultOptions {
            trust: trust(),
            post_quantum: false,
        })
    };
    let open = |mode| {
        Vault::open_dir(
            path.clone(),
            me.clone(),
            "v".into(),
            "phone".into(),
            mode,
            options(),
        )
    };
    let v = open(OpenMode::Create).await.unwrap();
    v.clone()
        .put(b"k".to_vec(), b"one".to_vec(), None)
        .await
        .unwrap();
    let old = std::fs::read(head_file(dir.path(), "v")).unwrap();
    v.clone()
        .put(b"k".to_vec(), b"two".to_vec(), None)
        .await
        .unwrap();
    let fingerprint = v.state_fingerprint().await;
    assert_eq!(fingerprint.len(), 19, "{fingerprint}");
    assert!(v.skipped_heads().await.is_empty());
    drop(v);
    std::fs::write(head_file(dir.path(), "v"), old).unwrap();
    match open(OpenMode::Open).await {
        Err(e) => e,
        Ok(v) => {
            // Without trust memory the old state is served as current: the documented default.
            assert_eq!(v.clone().get(b"k".to_vec()).await.unwrap(), b"one");
            CofferError::internal("no error")
        }
    }
}

#[tokio::test]
async fn trust_memory_refuses_a_rollback_across_a_reopen() {
    let trust_dir = tempfile::tempdir().unwrap();
    let tp = trust_dir.path().to_string_lossy().to_string();
    let e = reopen_after_rollback(|| Some(TrustMemory::dir(tp.clone()).unwrap())).await;
    assert_eq!(e.code(), 14, "{e}");
    assert!(e.to_string().contains("rolled"), "{e}");
    assert!(matches!(e, CofferError::Untrusted { .. }));

    let map = Arc::new(MapTrust::default());
    let m = map.clone();
    let e = reopen_after_rollback(move || Some(TrustMemory::custom(m.clone()))).await;
    assert_eq!(e.code(), 14, "{e}");
    assert!(!map.docs.lock().unwrap().is_empty());

    let mem = TrustMemory::in_memory();
    let e = reopen_after_rollback(|| Some(mem.clone())).await;
    assert_eq!(e.code(), 14, "{e}");

    // No trust memory: nothing remembered across the reopen.
    let e = reopen_after_rollback(|| None).await;
    assert_eq!(e.code(), 13, "{e}");
}

#[tokio::test]
async fn a_failing_trust_storage_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_string_lossy().to_string();
    let map = Arc::new(MapTrust::default());
    *map.fail.lock().unwrap() = true;
    let e = Vault::open_dir(
        path,
        Identity::generate(),
        "v".into(),
        "a".into(),
        OpenMode::Create,
        Some(VaultOptions {
            trust: Some(TrustMemory::custom(map)),
            post_quantum: false,
        }),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), 15, "{e}");
    assert!(e.to_string().contains("disk full"), "{e}");
    assert!(matches!(e, CofferError::TrustStorage { .. }));
}
