//! Identity rotation: the handover, devices that follow it, and what an attacker holding the old
//! key (or a store) can try (`docs/THREATS.md`, "Rotating the owner's identity").

use std::sync::Arc;

use bytes::Bytes;
use futures_executor::block_on;

use super::handover::{HandoverBody, HandoverError};
use super::*;
use crate::store::{FaultyStore, HeadCondition, MemoryStore};
use crate::trust::{MemoryTrust, TrustError};

fn old_id() -> Identity {
    Identity::from_seed(&[1u8; 32])
}

fn new_id() -> Identity {
    Identity::from_seed(&[2u8; 32])
}

fn attacker_id() -> Identity {
    Identity::from_seed(&[3u8; 32])
}

fn opts(trust: &MemoryTrust) -> VaultOptions {
    VaultOptions {
        trust: Some(Arc::new(trust.clone())),
        post_quantum: false,
    }
}

async fn open_as(
    store: &Arc<MemoryStore>,
    id: Identity,
    device: &str,
    trust: &MemoryTrust,
) -> VaultResult<Vault<MemoryStore>> {
    Vault::open_with_options(store.clone(), id, "v", device, None, opts(trust)).await
}

/// A vault of `old_id()` with a laptop and a phone that both wrote and synced.
async fn vault_with_two_devices(
    store: &Arc<MemoryStore>,
) -> (
    Vault<MemoryStore>,
    Vault<MemoryStore>,
    MemoryTrust,
    MemoryTrust,
) {
    let (t1, t2) = (MemoryTrust::new(), MemoryTrust::new());
    let mut laptop = Vault::open_with_options(
        store.clone(),
        old_id(),
        "v",
        "laptop",
        Some(true),
        opts(&t1),
    )
    .await
    .expect("create");
    laptop
        .put(b"a", b"alpha".to_vec(), PutOptions::default())
        .await
        .expect("put a");
    laptop
        .put(b"a", b"alpha 2".to_vec(), PutOptions::default())
        .await
        .expect("put a again");
    let mut phone = open_as(store, old_id(), "phone", &t2).await.expect("phone");
    phone
        .put(b"b", b"bravo".to_vec(), PutOptions::default())
        .await
        .expect("put b");
    laptop.sync().await.expect("sync laptop");
    phone.sync().await.expect("sync phone");
    (laptop, phone, t1, t2)
}

/// Copies every block, and the heads of vault `v` that `keep` admits, into a new store: what a
/// store that shows another world serves.
async fn world(store: &MemoryStore, keep: impl Fn(&str) -> bool) -> Arc<MemoryStore> {
    let out = Arc::new(MemoryStore::new());
    for cid in store.list().await.expect("list") {
        let bytes = store.get(&cid).await.expect("get");
        out.put(&cid, bytes).await.expect("put");
    }
    for h in store.read_heads("v").await.expect("heads") {
        if keep(&h.writer) {
            out.write_head("v", &h.writer, h.bytes, HeadCondition::Absent)
                .await
                .expect("head");
        }
    }
    out
}

fn is_handed_over_to(e: &VaultError, to: &Identity) -> bool {
    matches!(e, VaultError::Handover(HandoverError::HandedOver { to: t, .. })
        if t.parse::<crate::keys::Recipient>().is_ok_and(|r| r.same_identity(to.recipient())))
}

#[test]
fn rotation_keeps_everything_readable_and_other_devices_follow() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let (mut laptop, mut phone, _t1, t2) = vault_with_two_devices(&store).await;
        let blocks_before = store.len();
        let rotation = laptop.rotate_identity(new_id()).await.expect("rotate");
        assert!(!rotation.resumed);
        assert_eq!(
            rotation.final_heads, 2,
            "both devices' last old heads are pinned"
        );
        // Nothing re-uploaded: a key block and the handover (the sync before had nothing new).
        assert_eq!(store.len() - blocks_before, 2);
        assert_eq!(laptop.handovers().len(), 1);
        assert!(laptop.owner().same_identity(new_id().recipient()));
        // Old objects (manifests signed by the old identity) still read, with their history.
        assert_eq!(laptop.get(b"a").await.expect("a"), b"alpha 2");
        assert_eq!(laptop.get(b"b").await.expect("b"), b"bravo");
        assert_eq!(laptop.versions(b"a").await.expect("versions").len(), 2);
        laptop
            .put(b"c", b"charlie".to_vec(), PutOptions::default())
            .await
            .expect("put as the new identity");

        // The phone, still on the old identity, is told and stops.
        let e = phone.sync().await.expect_err("handed over");
        assert!(is_handed_over_to(&e, &new_id()), "{e}");
        // Given the new identity, it follows: every old object, the new one, and writes.
        let mut phone = open_as(&store, new_id(), "phone", &t2)
            .await
            .expect("reopen");
        phone.sync().await.expect("sync");
        assert_eq!(phone.get(b"a").await.expect("a"), b"alpha 2");
        assert_eq!(phone.get(b"b").await.expect("b"), b"bravo");
        assert_eq!(phone.get(b"c").await.expect("c"), b"charlie");
        phone
            .put(b"d", b"delta".to_vec(), PutOptions::default())
            .await
            .expect("put d");
        laptop.sync().await.expect("sync laptop");
        assert_eq!(laptop.get(b"d").await.expect("d"), b"delta");
        assert!(
            laptop.skipped_heads().is_empty(),
            "{:?}",
            laptop.skipped_heads()
        );

        // A fresh device of the new identity (no trust memory) reads it all too.
        let mut fresh = open_as(&store, new_id(), "tablet", &MemoryTrust::new())
            .await
            .expect("fresh");
        fresh.sync().await.expect("sync fresh");
        for (k, v) in [
            (b"a", &b"alpha 2"[..]),
            (b"b", b"bravo"),
            (b"c", b"charlie"),
            (b"d", b"delta"),
        ] {
            assert_eq!(fresh.get(k).await.expect("get"), v);
        }
        assert_eq!(fresh.handovers().len(), 1);

        // A fresh device of the old identity is told too.
        let e = open_as(&store, old_id(), "old", &MemoryTrust::new())
            .await
            .expect_err("old identity");
        assert!(is_handed_over_to(&e, &new_id()), "{e}");
    });
}

#[test]
fn a_head_signed_by_the_old_identity_after_the_handover_is_not_merged() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let (mut laptop, mut phone, _t1, _t2) = vault_with_two_devices(&store).await;
        laptop.rotate_identity(new_id()).await.expect("rotate");
        // The phone (or whoever else holds the old key and the vault key) writes on, blind.
        phone
            .put(
                b"evil",
                b"written after the handover".to_vec(),
                PutOptions::default(),
            )
            .await
            .expect("an old-identity write lands in the store");
        let report = laptop.sync().await.expect("sync");
        assert!(
            report.skipped.iter().any(|s| s
                .reason
                .contains("retired identity after it handed the vault over")),
            "{:?}",
            report.skipped
        );
        assert!(matches!(
            laptop.get(b"evil").await,
            Err(VaultError::NotFound)
        ));
        // A device of the new identity that never saw the vault refuses it the same way.
        let mut fresh = open_as(&store, new_id(), "tablet", &MemoryTrust::new())
            .await
            .expect("fresh");
        fresh.sync().await.expect("sync");
        assert!(matches!(
            fresh.get(b"evil").await,
            Err(VaultError::NotFound)
        ));
        assert_eq!(fresh.get(b"b").await.expect("b"), b"bravo");
        // The old identity itself is told it handed the vault over.
        let e = open_as(&store, old_id(), "x", &MemoryTrust::new())
            .await
            .expect_err("handed over");
        assert!(is_handed_over_to(&e, &new_id()), "{e}");
    });
}

/// Writes a head of vault "v" for `signer` (device `device`) naming handover `ho` and key block
/// `key`, with `laptop`'s root: what an attacker holding the vault key can write.
async fn forge_head(
    laptop: &Vault<MemoryStore>,
    signer: &Identity,
    device: &str,
    key: Cid,
    ho: Option<Cid>,
) {
    let writer = format::writer_id_v2(&[9; 32], signer, device);
    let body = HeadBody {
        v: FORMAT_VERSION,
        vault: "v".into(),
        writer: writer.0,
        recipient: signer.recipient().to_string(),
        key,
        root: laptop.root(),
        seq: 1,
        time: 1,
        vv: Default::default(),
        gc: 0,
        pol: None,
        ho,
        rec: Default::default(),
    };
    let bytes = body.seal(signer, &laptop.head_key).expect("seal head");
    laptop
        .store
        .write_head(
            "v",
            &writer_name(writer),
            Bytes::from(bytes),
            HeadCondition::Absent,
        )
        .await
        .expect("write head");
}

/// Seals a handover (from `from` to `to`, signed by `sign_old` and `to`) with the vault's object
/// key and stores it, with a key block sealed to `to`.
async fn forge_handover(
    v: &Vault<MemoryStore>,
    from: &Identity,
    sign_old: &Identity,
    to: &Identity,
    from_key: Cid,
) -> (Cid, Cid) {
    let sealed_key = seal_to_owner(to, &[5; 32], false).expect("key block");
    let key = raw_cid(&sealed_key);
    v.store
        .put(&key, Bytes::from(sealed_key))
        .await
        .expect("put key");
    let body = HandoverBody {
        v: FORMAT_VERSION,
        vault: "v".into(),
        n: 1,
        prev: None,
        from: from.recipient().to_string(),
        to: to.recipient().to_string(),
        from_key,
        key,
        heads: Default::default(),
        rec: Default::default(),
        gc: None,
        time: 0,
    };
    let pt = body.sign(sign_old, to).expect("sign");
    let sealed = seal::seal_to_vec(&v.data_options(), &pt).expect("seal");
    let cid = raw_cid(&sealed);
    v.store.put(&cid, Bytes::from(sealed)).await.expect("put");
    (cid, key)
}

#[test]
fn a_forged_handover_is_refused_and_stops_no_device() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let (mut laptop, _phone, _t1, _t2) = vault_with_two_devices(&store).await;
        let old_key = laptop.key_block;
        // Someone without the old key claims the old identity handed over to them.
        let (ho, key) =
            forge_handover(&laptop, &old_id(), &attacker_id(), &attacker_id(), old_key).await;
        forge_head(&laptop, &attacker_id(), "evil", key, Some(ho)).await;
        let report = laptop
            .sync()
            .await
            .expect("a forged handover does not stop the owner");
        assert!(
            report
                .skipped
                .iter()
                .any(|s| s.reason.contains("old identity signature does not verify")),
            "{:?}",
            report.skipped
        );
        assert_eq!(laptop.handovers().len(), 0);
        // The decoder's typed error.
        let bytes = laptop.fetch_block(&ho).await.expect("block");
        let pt = seal::open_to_vec_with(laptop.unlock(), &bytes).expect("open");
        assert_eq!(
            handover::decode_plaintext(ho, &pt.plaintext),
            Err(HandoverError::BadSignature {
                which: "old identity"
            })
        );
    });
}

#[test]
fn a_competing_handover_by_the_old_key_is_refused_once_one_was_seen() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let (mut laptop, mut phone, _t1, t2) = vault_with_two_devices(&store).await;
        let old_key = laptop.key_block;
        let old_heads: Vec<String> = store
            .read_heads("v")
            .await
            .expect("heads")
            .into_iter()
            .map(|h| h.writer)
            .collect();
        laptop.rotate_identity(new_id()).await.expect("rotate");
        // The phone sees the handover (and remembers it).
        let e = phone.sync().await.expect_err("handed over");
        assert!(is_handed_over_to(&e, &new_id()), "{e}");

        // The thief of the old key hands the vault over to itself, properly signed.
        let (ho, key) =
            forge_handover(&laptop, &old_id(), &old_id(), &attacker_id(), old_key).await;
        forge_head(&laptop, &attacker_id(), "evil", key, Some(ho)).await;

        // Devices of the new identity: the attacker's heads are another identity's.
        let report = laptop.sync().await.expect("sync");
        assert!(
            report
                .skipped
                .iter()
                .any(|s| s.reason == "signed by another identity")
        );
        assert_eq!(laptop.handovers().len(), 1);
        // The phone remembers which handover it saw: it still names the new identity.
        let e = open_as(&store, old_id(), "phone", &t2)
            .await
            .expect_err("old");
        assert!(is_handed_over_to(&e, &new_id()), "{e}");
        // A device of the old identity that saw neither accepts neither.
        let e = open_as(&store, old_id(), "fresh", &MemoryTrust::new())
            .await
            .expect_err("competing");
        assert!(
            matches!(e, VaultError::Handover(HandoverError::Competing { .. })),
            "{e}"
        );
        // A store that hides the real handover and shows only the attacker's world cannot move
        // the phone over to the attacker.
        let attacker_world = world(&store, |w| {
            old_heads.iter().any(|o| o == w) || {
                w == writer_name(format::writer_id_v2(&[9; 32], &attacker_id(), "evil"))
            }
        })
        .await;
        let e = Vault::open_with_options(attacker_world, old_id(), "v", "phone", None, opts(&t2))
            .await
            .expect_err("forked");
        assert!(
            matches!(e, VaultError::Trust(TrustError::Forked { .. })),
            "{e}"
        );
    });
}

#[test]
fn a_store_cannot_take_a_device_back_before_a_handover_it_saw() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let (mut laptop, mut phone, t1, t2) = vault_with_two_devices(&store).await;
        let old_world = world(&store, |_| true).await;
        laptop.rotate_identity(new_id()).await.expect("rotate");
        let e = phone.sync().await.expect_err("handed over");
        assert!(is_handed_over_to(&e, &new_id()), "{e}");
        // The store replays the world before the handover (and everything written since).
        for cid in store.list().await.expect("list") {
            let bytes = store.get(&cid).await.expect("get");
            old_world.put(&cid, bytes).await.expect("put");
        }
        // The phone saw the handover: the old world is a rollback, not a vault to write to.
        let e =
            Vault::open_with_options(old_world.clone(), old_id(), "v", "phone", None, opts(&t2))
                .await
                .expect_err("rolled back");
        assert!(
            matches!(e, VaultError::Trust(TrustError::RolledBack { .. })),
            "{e}"
        );
        // The laptop, now the new identity, cannot even find its key there: refused.
        let e = Vault::open_with_options(old_world, new_id(), "v", "laptop", None, opts(&t1))
            .await
            .expect_err("hidden");
        assert!(matches!(e, VaultError::Trust(_)), "{e}");
    });
}

#[test]
fn an_interrupted_rotation_is_finished_by_a_rerun() {
    block_on(async {
        let mem = Arc::new(MemoryStore::new());
        let faulty = Arc::new(FaultyStore::healthy(mem.clone()));
        let trust = MemoryTrust::new();
        {
            let o = VaultOptions {
                trust: Some(Arc::new(trust.clone())),
                post_quantum: false,
            };
            let mut v =
                Vault::open_with_options(faulty.clone(), old_id(), "v", "laptop", Some(true), o)
                    .await
                    .expect("create");
            for i in 0..5u8 {
                v.put(&[b'k', i], vec![i; 100], PutOptions::default())
                    .await
                    .expect("put");
            }
        }
        let o = || VaultOptions {
            trust: Some(Arc::new(trust.clone())),
            post_quantum: false,
        };
        let mut failures = 0;
        for n in 0.. {
            faulty.fail_writes_after(Some(n));
            let r = Vault::open_and_rotate_identity(
                faulty.clone(),
                old_id(),
                new_id(),
                "v",
                "laptop",
                o(),
            )
            .await;
            faulty.fail_writes_after(None);
            match r {
                Ok((_, report)) => {
                    assert!(!report.resumed);
                    break;
                }
                Err(e) => {
                    assert!(e.to_string().contains("injected fault"), "{e}");
                    failures += 1;
                }
            }
            assert!(n < 20, "the rotation never finished");
        }
        assert!(failures >= 3, "the rotation writes at least three times");
        // A rerun after the commit point (a process killed before it reported) finds it done.
        let (mut v, report) =
            Vault::open_and_rotate_identity(faulty.clone(), old_id(), new_id(), "v", "laptop", o())
                .await
                .expect("rerun");
        assert!(report.resumed);
        assert_eq!(v.handovers().len(), 1);
        v.sync().await.expect("sync");
        for i in 0..5u8 {
            assert_eq!(v.get(&[b'k', i]).await.expect("get"), vec![i; 100]);
        }
    });
}

#[test]
fn rotations_the_rules_refuse() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let (mut laptop, _phone, _t1, _t2) = vault_with_two_devices(&store).await;
        let e = laptop.rotate_identity(old_id()).await.expect_err("same");
        assert!(
            matches!(e, VaultError::Handover(HandoverError::Refused(_))),
            "{e}"
        );
        // A recipient of a share cannot become the owner, nor can a co-writer (a read-write
        // share: it would become the owner of a scope it was given to write in).
        for (seed, write) in [(4u8, false), (6u8, true)] {
            let other = Identity::from_seed(&[seed; 32]);
            laptop
                .share(
                    crate::share::Scope::Prefix(b"a".to_vec()),
                    other.recipient(),
                    ShareOptions {
                        not_before_ms: None,
                        expires_ms: now_ms() + 3_600_000,
                        presign: false,
                        write,
                    },
                )
                .await
                .expect("share");
            let e = laptop
                .rotate_identity(other)
                .await
                .expect_err("a recipient or co-writer");
            assert!(
                matches!(e, VaultError::Handover(HandoverError::Refused(_))),
                "{e}"
            );
        }
        // A chain: old → new → third; handing back to a retired identity is refused.
        laptop.rotate_identity(new_id()).await.expect("rotate");
        let e = laptop.rotate_identity(old_id()).await.expect_err("retired");
        assert!(
            matches!(e, VaultError::Handover(HandoverError::Refused(_))),
            "{e}"
        );
        let third = Identity::from_seed(&[5u8; 32]);
        laptop
            .rotate_identity(third.clone())
            .await
            .expect("rotate again");
        assert_eq!(laptop.handovers().len(), 2);
        assert_eq!(laptop.get(b"b").await.expect("b"), b"bravo");
        // The share records, pinned by the first handover, still read for the third identity.
        let mut fresh = open_as(&store, third, "tablet", &MemoryTrust::new())
            .await
            .expect("fresh third");
        fresh.sync().await.expect("sync");
        assert_eq!(fresh.get(b"a").await.expect("a"), b"alpha 2");
        assert!(
            fresh.skipped_heads().is_empty(),
            "{:?}",
            fresh.skipped_heads()
        );
        // A device of the middle identity is told where the vault went.
        let e = open_as(&store, new_id(), "m", &MemoryTrust::new())
            .await
            .expect_err("middle");
        assert!(
            matches!(e, VaultError::Handover(HandoverError::HandedOver { .. })),
            "{e}"
        );
    });
}

/// `test-vectors/handover.json`: a handover's body and plaintext bytes from fixed identities
/// (Ed25519 signatures are deterministic), and broken variants with the error each must give.
#[test]
fn handover_vectors() {
    use serde_json::json;
    let (old, new) = (
        Identity::from_seed(&[0x11; 32]),
        Identity::from_seed(&[0x22; 32]),
    );
    let mut heads = std::collections::BTreeMap::new();
    heads.insert(
        "00112233445566778899aabbccddeeff".to_string(),
        handover::FinalHead {
            s: 7,
            d: serde_bytes::ByteArray::new([0xd1; 32]),
        },
    );
    let mut rec = std::collections::BTreeMap::new();
    rec.insert(
        "0f0e0d0c0b0a09080706050403020100".to_string(),
        serde_bytes::ByteArray::new([0xe2; 32]),
    );
    let body = HandoverBody {
        v: 2,
        vault: "photos".into(),
        n: 1,
        prev: None,
        from: old.recipient().to_string(),
        to: new.recipient().to_string(),
        from_key: raw_cid(b"old key block"),
        key: raw_cid(b"new key block"),
        heads,
        rec,
        gc: Some(serde_bytes::ByteArray::new([0xf3; 32])),
        time: 1_780_000_000_000,
    };
    let body_bytes = crate::block::to_dag_cbor(&body).expect("body");
    let pt = body.sign(&old, &new).expect("sign");
    let cid = raw_cid(b"the sealed handover");
    let h = handover::decode_plaintext(cid, &pt).expect("decodes");
    assert_eq!(h.body, body);
    let mut msg = b"coffer/vault/v2/handover\0".to_vec();
    msg.extend_from_slice(&body_bytes);
    // Refusals: what a reader must answer for each.
    let mut forged = body.clone();
    forged.to = attacker_id().recipient().to_string();
    let forged_pt = forged.sign(&old, &new).expect("sign"); // `new` did not sign for the attacker
    let mut same = body.clone();
    same.to = same.from.clone();
    let same_pt = same.sign(&old, &old).expect("sign");
    let mut no_prev = body.clone();
    no_prev.n = 2;
    let no_prev_pt = no_prev.sign(&old, &new).expect("sign");
    let wrong_old = body.sign(&attacker_id(), &new).expect("sign");
    let cases = [
        (&forged_pt, "BadSignature(new identity)"),
        (&wrong_old, "BadSignature(old identity)"),
        (&same_pt, "Malformed"),
        (&no_prev_pt, "Malformed"),
    ];
    let mut refusals = Vec::new();
    for (bytes, want) in cases {
        let got = match handover::decode_plaintext(cid, bytes) {
            Err(HandoverError::BadSignature { which }) => format!("BadSignature({which})"),
            Err(HandoverError::Malformed(_)) => "Malformed".to_string(),
            other => format!("{other:?}"),
        };
        assert_eq!(got, want);
        refusals.push(json!({"plaintext": hex::encode(bytes), "error": want}));
    }
    crate::vectors_tests::check_or_write(
        "handover.json",
        json!({
            "description": "Identity handover (docs/FORMAT.md §8, Identity handover): the signed body, both Ed25519 signatures over \"coffer/vault/v2/handover\\0\" ‖ body, and the padded plaintext {body, old, new, pad} that is sealed under the vault's object key. Identities from seeds (docs/FORMAT.md §1).",
            "old_seed": hex::encode([0x11; 32]),
            "new_seed": hex::encode([0x22; 32]),
            "from": body.from,
            "to": body.to,
            "from_key": body.from_key.to_string(),
            "key": body.key.to_string(),
            "body": hex::encode(&body_bytes),
            "old_signature": hex::encode(old.sign(&msg)),
            "new_signature": hex::encode(new.sign(&msg)),
            "plaintext": hex::encode(&pt),
            "refusals": refusals,
        }),
    );
}

/// The grant in `who`'s inbox that `issuer` signed (accepted now).
async fn grant(store: &MemoryStore, who: &Identity, issuer: &Identity) -> crate::share::Share {
    let mut book = crate::share::ShareBook::new();
    for e in crate::share::read_inbox(store, who).await.expect("inbox") {
        let s = e.share.expect("a verified grant");
        if s.issuer().same_identity(issuer.recipient()) {
            let _ = book.accept(s, now_ms());
        }
    }
    book.iter().next().expect("a grant").clone()
}

/// Shares given before a rotation (`rotate.rs`, `carry_shares_over`): the recipient's and the
/// co-writer's old grants are refused as revoked (the old identity retired its view; a view frozen
/// at the handover is never shown), and new grants signed by the new identity wait in their
/// inboxes: with them the recipient reads what was written before and after, and the co-writer
/// writes and the owner merges it; what the co-writer wrote before the rotation (sealed to the old
/// identity and the old epoch) still reads for the new owner and through the new grants.
#[test]
fn shares_given_before_a_rotation_are_given_again_by_it() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let (mut laptop, _phone, _t1, _t2) = vault_with_two_devices(&store).await;
        let reader_id = Identity::from_seed(&[7u8; 32]);
        let writer_id = Identity::from_seed(&[8u8; 32]);
        laptop
            .put(b"r/old", b"read me".to_vec(), PutOptions::default())
            .await
            .expect("put r/old");
        laptop
            .put(b"w/old", b"write here".to_vec(), PutOptions::default())
            .await
            .expect("put w/old");
        for (prefix, who, write) in [(&b"r/"[..], &reader_id, false), (b"w/", &writer_id, true)] {
            laptop
                .share(
                    crate::share::Scope::Prefix(prefix.to_vec()),
                    who.recipient(),
                    ShareOptions {
                        expires_ms: now_ms() + 3_600_000,
                        write,
                        ..Default::default()
                    },
                )
                .await
                .expect("share");
        }
        let old_read = grant(&store, &reader_id, &old_id()).await;
        let old_write = grant(&store, &writer_id, &old_id()).await;
        let mut w =
            crate::share::SharedWriter::open(store.clone(), writer_id.clone(), old_write.clone())
                .await
                .expect("writer before");
        w.put(b"w/before", b"co-written before", None)
            .await
            .expect("put before");
        w.commit().await.expect("commit before");
        laptop.sync().await.expect("merge before");
        assert_eq!(
            laptop.get(b"w/before").await.expect("before"),
            b"co-written before"
        );

        laptop.rotate_identity(new_id()).await.expect("rotate");
        laptop
            .put(b"r/new", b"after".to_vec(), PutOptions::default())
            .await
            .expect("put r/new");
        assert_eq!(laptop.share_publish_error(), None);
        // What the co-writer wrote before the rotation opens for the new owner by every path: whole,
        // streamed (the file key comes from the verified header) and by range.
        let mut streamed = Vec::new();
        laptop
            .get_to(b"w/before", &mut streamed, None)
            .await
            .expect("streamed");
        assert_eq!(streamed, b"co-written before");
        assert_eq!(
            laptop.get_range(b"w/before", 3..10).await.expect("range"),
            b"co-written before"[3..10]
        );

        // The old grants: refused as revoked, not a view frozen at the handover.
        let e = crate::share::SharedReader::open(store.clone(), old_read.clone())
            .await
            .expect_err("old read grant");
        assert!(matches!(e, crate::share::ShareError::Revoked), "{e}");
        let mut old_w =
            crate::share::SharedWriter::open(store.clone(), writer_id.clone(), old_write)
                .await
                .expect("the old grant opens (its clock is fine)");
        old_w.put(b"w/late", b"late", None).await.ok();
        let e = old_w.commit().await.expect_err("old write grant");
        assert!(matches!(e, crate::share::ShareError::Revoked), "{e}");

        // The new grants, signed by the new identity.
        let new_read = grant(&store, &reader_id, &new_id()).await;
        let r = crate::share::SharedReader::open(store.clone(), new_read)
            .await
            .expect("new read grant");
        assert_eq!(r.get(b"r/old").await.expect("r/old"), b"read me");
        assert_eq!(r.get(b"r/new").await.expect("r/new"), b"after");
        let new_write = grant(&store, &writer_id, &new_id()).await;
        let mut w = crate::share::SharedWriter::open(store.clone(), writer_id.clone(), new_write)
            .await
            .expect("new write grant");
        w.put(b"w/after", b"co-written after", None)
            .await
            .expect("put after");
        w.commit().await.expect("commit after");
        laptop.sync().await.expect("merge after");
        assert_eq!(
            laptop.get(b"w/after").await.expect("after"),
            b"co-written after"
        );
        assert!(matches!(
            laptop.get(b"w/late").await,
            Err(VaultError::NotFound)
        ));
        // Sealed to the old identity and the old epoch: the new owner opens it with the epoch's
        // key, and the co-writer reads it (and the owner's from before) through its new grant.
        assert_eq!(
            laptop
                .get(b"w/before")
                .await
                .expect("co-written before the rotation"),
            b"co-written before"
        );
        let r = w.reader().await.expect("co-writer's reader");
        assert_eq!(
            r.get(b"w/before").await.expect("w/before"),
            b"co-written before"
        );
        assert_eq!(r.get(b"w/old").await.expect("w/old"), b"write here");
        assert_eq!(
            r.get(b"w/after").await.expect("w/after"),
            b"co-written after"
        );
    });
}

/// A follower device (the phone) after the laptop rotated: reopened in a new process with the
/// old identity and its trust memory it is told where the vault went (`HandedOver`, typed); what
/// it wrote blind as the old identity after the handover is not merged when it follows with the
/// new identity (reported as skipped), and everything from before reads; its trust memory then
/// refuses a store that hides the handover.
#[test]
fn a_follower_device_follows_with_the_new_identity_and_is_told_with_the_old() {
    block_on(async {
        let store = Arc::new(MemoryStore::new());
        let (mut laptop, mut phone, _t1, t2) = vault_with_two_devices(&store).await;
        let before_rotation = world(&store, |_| true).await;
        laptop.rotate_identity(new_id()).await.expect("rotate");
        phone
            .put(
                b"blind",
                b"after the handover".to_vec(),
                PutOptions::default(),
            )
            .await
            .expect("an offline write as the old identity lands in the store");
        drop(phone);
        let e = open_as(&store, old_id(), "phone", &t2)
            .await
            .expect_err("old identity, trust memory of the vault");
        assert!(is_handed_over_to(&e, &new_id()), "{e}");
        let mut phone = open_as(&store, new_id(), "phone", &t2)
            .await
            .expect("follow");
        let report = phone.sync().await.expect("sync");
        assert_eq!(phone.handovers().len(), 1);
        assert!(phone.owner().same_identity(new_id().recipient()));
        assert!(
            report
                .skipped
                .iter()
                .chain(phone.skipped_heads())
                .any(|s| s.reason.contains("retired identity")),
            "{:?}",
            report.skipped
        );
        assert!(matches!(
            phone.get(b"blind").await,
            Err(VaultError::NotFound)
        ));
        assert_eq!(phone.get(b"a").await.expect("a"), b"alpha 2");
        assert_eq!(phone.get(b"b").await.expect("b"), b"bravo");
        // The phone now remembers the new owner: the world before the handover is refused.
        for cid in store.list().await.expect("list") {
            let bytes = store.get(&cid).await.expect("get");
            before_rotation.put(&cid, bytes).await.expect("put");
        }
        let e = Vault::open_with_options(before_rotation, new_id(), "v", "phone", None, opts(&t2))
            .await
            .expect_err("rolled back");
        assert!(matches!(e, VaultError::Trust(_)), "{e}");
    });
}
