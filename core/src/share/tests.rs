//! Sharing tests that look inside: what a recipient's keys can and cannot open. The story every
//! store runs is `core/tests/common/share.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_executor::block_on;

use super::reader::Kind;
use super::*;
use crate::index::ListRequest;
use crate::store::{BlockStore, MemoryStore};
use crate::vault::{PutOptions, ShareOptions, Vault, now_ms};

const DAY: u64 = 86_400_000;

#[test]
fn durations_parse_with_units_and_refuse_the_rest() {
    assert_eq!(parse_duration_ms("30s").unwrap(), 30_000);
    assert_eq!(parse_duration_ms("1h").unwrap(), 3_600_000);
    assert_eq!(parse_duration_ms("7d").unwrap(), 7 * DAY);
    assert_eq!(parse_duration_ms("2w").unwrap(), 14 * DAY);
    for bad in [
        "",
        "7",
        "d",
        "0s",
        "1y",
        "-1h",
        "1.5h",
        "99999999999999999999d",
    ] {
        assert!(
            matches!(parse_duration_ms(bad), Err(ShareError::Invalid(_))),
            "{bad:?}"
        );
    }
}

/// After the share expires, a version written later has no key wrapped for the epoch the
/// recipient holds: not in the keyring the recipient cached, and not in anything the store keeps
/// for that epoch (its view is retired and its keyring chunks deleted). And the view never held a
/// key outside the prefix.
#[test]
fn a_version_written_after_expiry_is_not_wrapped_for_the_old_epoch() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let clock_ms = Arc::new(AtomicU64::new(now_ms()));
        let c = clock_ms.clone();
        let clock: Clock = Arc::new(move || c.load(Ordering::SeqCst));
        let alice = Identity::generate();
        let bob = Identity::generate();
        let mut v = Vault::create(store.clone(), alice, "v", "laptop")
            .await
            .unwrap();
        v.set_share_clock(clock.clone());
        v.put(b"p/a", b"one".to_vec(), PutOptions::default())
            .await
            .unwrap();
        v.put(b"secret", b"outside".to_vec(), PutOptions::default())
            .await
            .unwrap();
        let expires_ms = clock() + DAY;
        v.share(
            Scope::Prefix(b"p/".to_vec()),
            bob.recipient(),
            ShareOptions {
                expires_ms,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let share = read_inbox(&*store, &bob).await.unwrap()[0]
            .share
            .as_ref()
            .unwrap()
            .clone();
        let epoch = share.epoch_keys().unwrap();
        let reader = SharedReader::open_with_clock(store.clone(), share.clone(), clock.clone())
            .await
            .unwrap();
        let Kind::View {
            tree,
            root,
            keyring,
            ..
        } = &reader.kind
        else {
            panic!("a prefix share reads a view");
        };
        // The view holds the prefix and nothing else.
        let all = tree.list(root, &ListRequest::default()).await.unwrap();
        let keys: Vec<&[u8]> = all.contents.iter().map(|o| o.key.as_slice()).collect();
        assert_eq!(keys, [b"p/a".as_slice()]);
        let secret = v.head(b"secret").await.unwrap();
        assert!(!keyring.contains_key(&secret.version.parse().unwrap()));
        let cached: Vec<crate::block::Cid> = keyring.keys().copied().collect();
        let chunks_before = store.list().await.unwrap().len();

        // Expiry passes; Alice writes a new version.
        clock_ms.fetch_add(DAY, Ordering::SeqCst);
        let v2 = v
            .put(b"p/a", b"two".to_vec(), PutOptions::default())
            .await
            .unwrap();
        assert!(v.share_publish_error().is_none());
        let v2_manifest: crate::block::Cid = v2.version.parse().unwrap();
        let v2_data: crate::block::Cid = v2.data.parse().unwrap();
        assert!(!cached.contains(&v2_manifest) && !cached.contains(&v2_data));
        // The old epoch's view is retired, and no keyring chunk the store holds opens with the old
        // epoch key and names v2.
        let heads = store.read_heads(&view_name(&epoch.id)).await.unwrap();
        assert!(!heads.is_empty());
        for h in heads {
            let body = ViewBody::decode_verified(share.issuer(), &h.bytes).unwrap();
            assert!(body.root.is_none() && body.keys.is_empty());
        }
        for cid in store.list().await.unwrap() {
            let bytes = store.get(&cid).await.unwrap();
            if let Ok(opened) = crate::seal::open_to_vec(&epoch.identity, &bytes) {
                let chunk: format::KeyringChunk =
                    crate::block::from_dag_cbor(&opened.plaintext).unwrap();
                assert!(
                    chunk
                        .keys
                        .iter()
                        .all(|e| e.c != v2_manifest && e.c != v2_data)
                );
                panic!("the old epoch's keyring chunk {cid} should have been deleted");
            }
        }
        assert!(store.list().await.unwrap().len() >= chunks_before);
        // A Bob who ignores the clock is refused too: the epoch is retired.
        let stale: Clock = Arc::new(move || expires_ms - 1);
        assert!(matches!(
            SharedReader::open_with_clock(store.clone(), share, stale).await,
            Err(ShareError::Revoked)
        ));
    });
}

#[test]
fn capabilities_refuse_tampering_and_wrong_audiences() {
    let alice = Identity::generate();
    let bob = Identity::generate();
    let body = |aud: &Identity, scope: &str| CapabilityBody {
        v: 1,
        id: [1; 16],
        n: 1,
        issuer: alice.recipient().to_string(),
        audience: aud.recipient().to_string(),
        vault: "v".into(),
        scope: format::ScopeWire {
            kind: scope.into(),
            key: b"p/".to_vec(),
            version: None,
        },
        rights: vec!["read".into()],
        nbf: 0,
        exp: u64::MAX,
        iat: 0,
        keys: KeysWire {
            epoch: Some(serde_bytes::ByteArray::new([3; 32])),
            ..Default::default()
        },
        url: None,
    };
    let env = Share::issue(&alice, body(&bob, "prefix"), &[1; 32]).unwrap();
    let share = Share::open(&bob, &env).unwrap();
    assert_eq!(share.scope(), Scope::Prefix(b"p/".to_vec()));
    assert!(format!("{share:?}").contains("Share"));
    assert!(!format!("{share:?}").contains("0303"));
    // Someone else: not for them.
    assert!(matches!(
        Share::open(&Identity::generate(), &env),
        Err(ShareError::NotForMe)
    ));
    // Sealed to Bob but addressed to someone else inside: not for Bob either.
    let carol = Identity::generate();
    let signed = format::sign_capability(&alice, &body(&carol, "prefix")).unwrap();
    let opts = SealOptions::new(vec![bob.recipient().clone()]).signed_by(&alice);
    let wrapped = seal::seal_to_vec(&opts, &signed).unwrap();
    assert!(matches!(
        Share::open(&bob, &wrapped),
        Err(ShareError::NotForMe)
    ));
    // Sealed by someone other than the issuer it names (a capability re-wrapped by Mallory).
    let mallory = Identity::generate();
    let signed = format::sign_capability(&alice, &body(&bob, "prefix")).unwrap();
    let opts = SealOptions::new(vec![bob.recipient().clone()]).signed_by(&mallory);
    let rewrapped = seal::seal_to_vec(&opts, &signed).unwrap();
    assert!(matches!(
        Share::open(&bob, &rewrapped),
        Err(ShareError::Forged(_))
    ));
    // A capability signed by Mallory that names Alice as issuer.
    let body_bytes = crate::block::to_dag_cbor(&body(&bob, "prefix")).unwrap();
    let mut msg = CAPABILITY_CONTEXT_FOR_TESTS.to_vec();
    msg.extend_from_slice(&body_bytes);
    #[derive(serde::Serialize)]
    struct Signed {
        #[serde(with = "serde_bytes")]
        body: Vec<u8>,
        #[serde(with = "serde_bytes")]
        sig: Vec<u8>,
    }
    let forged = crate::block::to_dag_cbor(&Signed {
        body: body_bytes,
        sig: mallory.sign(&msg).to_vec(),
    })
    .unwrap();
    let opts = SealOptions::new(vec![bob.recipient().clone()]).signed_by(&alice);
    let sealed = seal::seal_to_vec(&opts, &forged).unwrap();
    assert!(matches!(
        Share::open(&bob, &sealed),
        Err(ShareError::Forged(_))
    ));
    // Unknown scope kinds and rights are refused.
    assert!(
        Share::issue(&alice, body(&bob, "everything"), &[1; 32])
            .and_then(|e| Share::open(&bob, &e))
            .is_err()
    );
    // ["read", "write"] is a read-write share (co-writing); any other list is refused.
    let mut write = body(&bob, "prefix");
    write.rights = vec!["read".into(), "write".into()];
    let rw = Share::issue(&alice, write, &[1; 32]).and_then(|e| Share::open(&bob, &e));
    assert!(rw.unwrap().can_write());
    for rights in [
        vec!["write"],
        vec!["write", "read"],
        vec!["read", "admin"],
        vec!["read", "write", "write"],
        vec![],
    ] {
        let mut bad = body(&bob, "prefix");
        bad.rights = rights.iter().map(|r| r.to_string()).collect();
        assert!(
            matches!(
                Share::issue(&alice, bad, &[1; 32]).and_then(|e| Share::open(&bob, &e)),
                Err(ShareError::Malformed(_))
            ),
            "{rights:?}"
        );
    }
    // Every single-byte change of the envelope is refused with a typed error.
    for i in (0..env.len()).step_by(7) {
        let mut bad = env.clone();
        bad[i] ^= 0x20;
        assert!(Share::open(&bob, &bad).is_err(), "byte {i}");
    }
}

const CAPABILITY_CONTEXT_FOR_TESTS: &[u8] = b"coffer/v1/share-capability\0";

fn seed(n: u8) -> [u8; 32] {
    let mut s = [0u8; 32];
    for (i, b) in s.iter_mut().enumerate() {
        *b = n.wrapping_mul(37).wrapping_add(i as u8);
    }
    s
}

/// `test-vectors/share.json`: epoch key derivation, inbox and registry names, a signed
/// capability, its envelope (with fixed randomness) and a signed view head.
#[test]
fn share_vectors() {
    use serde_json::json;
    let issuer = Identity::from_seed(&seed(1));
    let audience = Identity::from_seed(&seed(2));
    let secret = seed(9);
    let epoch = EpochKeys::derive(&secret);
    let body = CapabilityBody {
        v: 1,
        id: [0x42; 16],
        n: 1,
        issuer: issuer.recipient().to_string(),
        audience: audience.recipient().to_string(),
        vault: "photos".into(),
        scope: format::ScopeWire {
            kind: "prefix".into(),
            key: b"2026/".to_vec(),
            version: None,
        },
        rights: vec!["read".into()],
        nbf: 1_795_000_000_000,
        exp: 1_795_604_800_000,
        iat: 1_795_000_000_000,
        keys: KeysWire {
            epoch: Some(serde_bytes::ByteArray::new(secret)),
            ..Default::default()
        },
        url: None,
    };
    let signed = format::sign_capability(&issuer, &body).unwrap();
    // Randomness of the envelope's seal: file key, salt, one HPKE ephemeral seed (§3.2).
    let randomness: Vec<u8> = (0..96u32).map(|i| (i * 7 + 3) as u8).collect();
    let opts = SealOptions::new(vec![audience.recipient().clone()]).signed_by(&issuer);
    let envelope =
        seal::seal_to_vec_with_rng(&opts, &signed, &mut seal::FixedRng::new(randomness.clone()))
            .unwrap();
    let view = ViewBody {
        v: 1,
        vault: "photos".into(),
        epoch: epoch.id,
        writer: [0x17; 16],
        root: Some(crate::block::raw_cid(b"root")),
        src: None,
        keys: vec![crate::block::raw_cid(b"chunk")],
        tail: 1,
        time: 7,
        seq: 0,
        writers: Vec::new(),
    }
    .sign(&issuer)
    .unwrap();
    let generated = json!({
        "epoch": {
            "secret": hex::encode(secret),
            "id": hex::encode(epoch.id),
            "recipient": epoch.identity.recipient().to_string(),
            "index_key": hex::encode(epoch.index_key.as_bytes()),
            "view_namespace": view_name(&epoch.id),
        },
        "inbox": {
            "recipient": audience.recipient().to_string(),
            "namespace": inbox_name(audience.recipient()),
            "entry": entry_name(ShareId([0x42; 16]), 1),
        },
        "registry_namespace": crate::vault::share_registry_name("photos"),
        "capability": {
            "issuer_seed": hex::encode(seed(1)),
            "audience_seed": hex::encode(seed(2)),
            "signed": hex::encode(&signed),
            "envelope_randomness": hex::encode(&randomness),
            "envelope": hex::encode(&envelope),
        },
        "view_head": hex::encode(&view),
    });
    crate::vectors_tests::check_or_write("share.json", generated);
    // And the stored envelope opens to the capability it names.
    let share = Share::open(&audience, &envelope).unwrap();
    assert_eq!(share.scope(), Scope::Prefix(b"2026/".to_vec()));
    assert_eq!(share.expires_ms(), 1_795_604_800_000);
}

/// A store whose writes start failing once a budget of writes is spent: a process that dies in
/// the middle of an operation, as far as the store can tell.
struct Crashing {
    inner: MemoryStore,
    budget: std::sync::atomic::AtomicI64,
}

impl Crashing {
    fn spend(&self) -> crate::store::StoreResult<()> {
        if self.budget.fetch_sub(1, Ordering::SeqCst) <= 0 {
            Err(crate::store::StoreError::Unavailable("crashed".into()))
        } else {
            Ok(())
        }
    }
}

#[async_trait::async_trait]
impl BlockStore for Crashing {
    async fn put(
        &self,
        cid: &crate::block::Cid,
        bytes: bytes::Bytes,
    ) -> crate::store::StoreResult<()> {
        self.spend()?;
        self.inner.put(cid, bytes).await
    }
    async fn get(&self, cid: &crate::block::Cid) -> crate::store::StoreResult<bytes::Bytes> {
        self.inner.get(cid).await
    }
    async fn get_range(
        &self,
        cid: &crate::block::Cid,
        range: std::ops::Range<u64>,
    ) -> crate::store::StoreResult<bytes::Bytes> {
        self.inner.get_range(cid, range).await
    }
    async fn has(&self, cid: &crate::block::Cid) -> crate::store::StoreResult<bool> {
        self.inner.has(cid).await
    }
    async fn delete(&self, cid: &crate::block::Cid) -> crate::store::StoreResult<()> {
        self.spend()?;
        self.inner.delete(cid).await
    }
    async fn list(&self) -> crate::store::StoreResult<Vec<crate::block::Cid>> {
        self.inner.list().await
    }
}

#[async_trait::async_trait]
impl crate::store::HeadStore for Crashing {
    async fn read_heads(&self, vault: &str) -> crate::store::StoreResult<Vec<crate::store::Head>> {
        self.inner.read_heads(vault).await
    }
    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: bytes::Bytes,
        condition: crate::store::HeadCondition,
    ) -> crate::store::StoreResult<crate::store::HeadVersion> {
        self.spend()?;
        self.inner.write_head(vault, writer, bytes, condition).await
    }
    fn conditional_writes(&self) -> crate::store::ConditionalWrites {
        self.inner.conditional_writes()
    }
}

/// Every valid share in `who`'s inbox, accepted (older grants are refused as replays).
async fn book_of(store: &MemoryStore, who: &Identity) -> ShareBook {
    let mut book = ShareBook::new();
    for e in read_inbox(store, who).await.unwrap() {
        let _ = book.accept(e.share.unwrap(), now_ms());
    }
    book
}

/// A revocation (rotate + re-grant) that dies after any number of writes resumes on the next
/// start: the owner reads everything, the remaining recipient reads everything with the grants in
/// her inbox, the revoked one is refused. Never an object nobody can read.
#[test]
fn a_rotation_interrupted_anywhere_resumes() {
    block_on(async {
        let alice = Identity::generate();
        let bob = Identity::generate();
        let carol = Identity::generate();
        let mut completed_at = None;
        for budget in 0..64i64 {
            let mem = MemoryStore::new();
            let store = Arc::new(Crashing {
                inner: mem.clone(),
                budget: std::sync::atomic::AtomicI64::new(i64::MAX),
            });
            let mut v = Vault::create(store.clone(), alice.clone(), "v", "laptop")
                .await
                .unwrap();
            for k in ["p/a", "p/b", "p/c"] {
                v.put(k.as_bytes(), k.as_bytes().to_vec(), PutOptions::default())
                    .await
                    .unwrap();
            }
            let opts = ShareOptions {
                expires_ms: now_ms() + 30 * DAY,
                ..Default::default()
            };
            let p = Scope::Prefix(b"p/".to_vec());
            let bob_id = v
                .share(p.clone(), bob.recipient(), opts.clone())
                .await
                .unwrap();
            v.share(p.clone(), carol.recipient(), opts).await.unwrap();
            store.budget.store(budget, Ordering::SeqCst);
            let result = v.revoke(&bob_id).await;
            drop(v);
            if result.is_ok() && completed_at.is_none() {
                completed_at = Some(budget);
            }
            // Restart on the same bytes; the next commit (or publish) resumes what was left.
            let mut v = Vault::open(Arc::new(mem.clone()), alice.clone(), "v", "laptop")
                .await
                .unwrap();
            v.publish_shares().await.unwrap();
            let revoked = v
                .shares()
                .iter()
                .any(|s| s.id == bob_id && s.revoked_ms.is_some());
            if !revoked {
                // Died before the commit point: nothing happened; the owner revokes again.
                v.revoke(&bob_id).await.unwrap();
            }
            for k in ["p/a", "p/b", "p/c"] {
                assert_eq!(
                    v.get(k.as_bytes()).await.unwrap(),
                    k.as_bytes(),
                    "budget {budget}"
                );
            }
            let carol_book = book_of(&mem, &carol).await;
            let carol_share = carol_book.iter().next().unwrap().clone();
            let r = SharedReader::open(Arc::new(mem.clone()), carol_share)
                .await
                .unwrap_or_else(|e| panic!("budget {budget}: Carol refused: {e}"));
            for k in ["p/a", "p/b", "p/c"] {
                assert_eq!(
                    r.get(k.as_bytes()).await.unwrap(),
                    k.as_bytes(),
                    "budget {budget}"
                );
            }
            let bob_book = book_of(&mem, &bob).await;
            let bob_share = bob_book.iter().next().unwrap().clone();
            assert!(
                matches!(
                    SharedReader::open(Arc::new(mem.clone()), bob_share).await,
                    Err(ShareError::Revoked)
                ),
                "budget {budget}: Bob must be refused"
            );
            if completed_at.is_some_and(|c| budget > c + 1) {
                break;
            }
        }
        eprintln!("revocation completes with a budget of {completed_at:?} writes");
        assert!(completed_at.is_some(), "the revocation never completed");
    });
}

/// A share whose record could not be written is not half-made: no share is listed, none is
/// delivered later, and the next write publishes nothing for it.
#[test]
fn a_failed_share_leaves_nothing_behind() {
    block_on(async {
        let mem = MemoryStore::new();
        let store = Arc::new(Crashing {
            inner: mem.clone(),
            budget: std::sync::atomic::AtomicI64::new(i64::MAX),
        });
        let alice = Identity::generate();
        let bob = Identity::generate();
        let mut v = Vault::create(store.clone(), alice, "v", "laptop")
            .await
            .unwrap();
        v.put(b"p/a", b"a".to_vec(), PutOptions::default())
            .await
            .unwrap();
        store.budget.store(0, Ordering::SeqCst);
        let opts = ShareOptions {
            expires_ms: now_ms() + DAY,
            ..Default::default()
        };
        assert!(
            v.share(Scope::Prefix(b"p/".to_vec()), bob.recipient(), opts)
                .await
                .is_err()
        );
        store.budget.store(i64::MAX, Ordering::SeqCst);
        assert!(v.shares().is_empty());
        v.put(b"p/b", b"b".to_vec(), PutOptions::default())
            .await
            .unwrap();
        assert!(v.share_publish_error().is_none());
        assert!(v.shares().is_empty());
        assert!(read_inbox(&mem, &bob).await.unwrap().is_empty());
    });
}

/// Many small writes to a shared prefix keep the keyring to a few chunks (the tail is merged),
/// across restarts, and every object stays readable.
#[test]
fn the_keyring_tail_is_merged_and_stays_short() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let alice = Identity::generate();
        let bob = Identity::generate();
        let mut v = Vault::create(store.clone(), alice.clone(), "v", "laptop")
            .await
            .unwrap();
        let opts = ShareOptions {
            expires_ms: now_ms() + DAY,
            ..Default::default()
        };
        v.put(b"p/0", b"0".to_vec(), PutOptions::default())
            .await
            .unwrap();
        v.share(Scope::Prefix(b"p/".to_vec()), bob.recipient(), opts)
            .await
            .unwrap();
        let share = read_inbox(&*store, &bob).await.unwrap()[0]
            .share
            .as_ref()
            .unwrap()
            .clone();
        let epoch = share.epoch_keys().unwrap();
        for i in 1..60u32 {
            if i == 30 {
                // A restart: the tail is read back from the store.
                v = Vault::open(store.clone(), alice.clone(), "v", "laptop")
                    .await
                    .unwrap();
            }
            v.put(
                format!("p/{i}").as_bytes(),
                i.to_string().into_bytes(),
                PutOptions::default(),
            )
            .await
            .unwrap();
            assert!(v.share_publish_error().is_none());
            let heads = store.read_heads(&view_name(&epoch.id)).await.unwrap();
            let body = ViewBody::decode_verified(share.issuer(), &heads[0].bytes).unwrap();
            assert!(
                body.tail <= 16 && body.keys.len() <= 17,
                "{} chunks",
                body.keys.len()
            );
        }
        let r = SharedReader::open(store.clone(), share).await.unwrap();
        for i in 0..60u32 {
            assert_eq!(
                r.get(format!("p/{i}").as_bytes()).await.unwrap(),
                i.to_string().into_bytes()
            );
        }
    });
}
