//! Read-write shares (FORMAT §9.1): three identities writing offline and syncing in random
//! orders converge; a co-writer cannot write outside its prefix, after expiry or after
//! revocation, nor forge another writer's entries; a store cannot replay or swap its heads.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use futures_executor::block_on;

use super::cowrite::{WriterHeadBody, cowriter_id, writer_head_name};
use super::*;
use crate::index::{Entry, Hlc, IndexConfig, ListRequest, Mutation, ProllyTree};
use crate::store::{BlockStore, HeadCondition, HeadStore, MemoryStore};
use crate::vault::{PutOptions, ShareOptions, Vault, VaultError, now_ms};

const DAY: u64 = 86_400_000;

struct World {
    store: Arc<MemoryStore>,
    clock_ms: Arc<AtomicU64>,
    clock: Clock,
    alice: Identity,
    bob: Identity,
    carol: Identity,
    laptop: Vault<MemoryStore>,
}

async fn world() -> World {
    let store = Arc::new(MemoryStore::new());
    let clock_ms = Arc::new(AtomicU64::new(now_ms()));
    let c = clock_ms.clone();
    let clock: Clock = Arc::new(move || c.load(Ordering::SeqCst));
    let (alice, bob, carol) = (
        Identity::generate(),
        Identity::generate(),
        Identity::generate(),
    );
    let mut laptop = Vault::create(store.clone(), alice.clone(), "team", "laptop")
        .await
        .unwrap();
    laptop.set_share_clock(clock.clone());
    laptop
        .put(b"docs/plan", b"v0".to_vec(), PutOptions::default())
        .await
        .unwrap();
    laptop
        .put(b"private/x", b"mine".to_vec(), PutOptions::default())
        .await
        .unwrap();
    World {
        store,
        clock_ms,
        clock,
        alice,
        bob,
        carol,
        laptop,
    }
}

impl World {
    /// Another device of the owner, on the world's clock.
    async fn device(&self, name: &str) -> Vault<MemoryStore> {
        let mut v = Vault::open(self.store.clone(), self.alice.clone(), "team", name)
            .await
            .unwrap();
        v.set_share_clock(self.clock.clone());
        v
    }

    async fn share(&mut self, to: &Identity, write: bool) -> ShareId {
        let expires_ms = (self.clock)() + DAY;
        self.laptop
            .share(
                Scope::Prefix(b"docs/".to_vec()),
                to.recipient(),
                ShareOptions {
                    expires_ms,
                    write,
                    ..Default::default()
                },
            )
            .await
            .unwrap()
    }

    /// The newest grant in `who`'s inbox.
    async fn grant(&self, who: &Identity) -> Share {
        let mut book = ShareBook::new();
        for e in read_inbox(&*self.store, who).await.unwrap() {
            let _ = book.accept(e.share.unwrap(), (self.clock)());
        }
        book.iter().next().unwrap().clone()
    }

    async fn writer(&self, who: &Identity) -> SharedWriter<MemoryStore> {
        SharedWriter::open_with_clock(
            self.store.clone(),
            who.clone(),
            self.grant(who).await,
            self.clock.clone(),
        )
        .await
        .unwrap()
    }
}

/// Keys and version ids under `docs/` as a reader of `share` lists them.
async fn shared_listing(
    store: &Arc<MemoryStore>,
    share: Share,
    clock: &Clock,
) -> Vec<(String, String)> {
    let reader = SharedReader::open_with_clock(store.clone(), share, clock.clone())
        .await
        .unwrap();
    let page = reader.list(&ListRequest::default()).await.unwrap();
    let mut out = Vec::new();
    for o in page.contents {
        // Every listed object must also read.
        reader.get(&o.key).await.unwrap();
        out.push((String::from_utf8(o.key).unwrap(), o.etag));
    }
    out
}

async fn vault_listing(v: &Vault<MemoryStore>) -> Vec<(String, String)> {
    let page = v
        .list(&ListRequest {
            prefix: b"docs/".to_vec(),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut out = Vec::new();
    for o in page.contents {
        v.get(&o.key).await.unwrap();
        out.push((String::from_utf8(o.key).unwrap(), o.etag));
    }
    out
}

/// Owner A on two devices and co-writers B and C put and delete under the shared prefix while
/// offline from each other, and sync in a random order (seeded); once everyone has synced, both
/// of A's devices and both co-writers list the same keys at the same versions, and every object
/// reads.
#[test]
fn three_identities_converge_in_random_orders() {
    for seed in 1..=5u64 {
        block_on(async {
            let mut w = world().await;
            let (bob, carol) = (w.bob.clone(), w.carol.clone());
            w.share(&bob, true).await;
            w.share(&carol, true).await;
            let mut phone = w.device("phone").await;
            let mut b = w.writer(&bob).await;
            let mut c = w.writer(&carol).await;
            let mut rng = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut next = move |n: u64| {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                rng % n
            };
            for step in 0..24 {
                let key = format!("docs/k{}", next(4));
                let data = format!("{seed}-{step}").into_bytes();
                let action = next(3);
                match next(4) {
                    0 => match action {
                        0 => {
                            w.laptop
                                .put(key.as_bytes(), data, PutOptions::default())
                                .await
                                .unwrap();
                        }
                        1 => {
                            let _ = w.laptop.delete(key.as_bytes()).await;
                        }
                        _ => {
                            w.laptop.sync().await.unwrap();
                        }
                    },
                    1 => match action {
                        0 => {
                            phone
                                .put(key.as_bytes(), data, PutOptions::default())
                                .await
                                .unwrap();
                        }
                        1 => {
                            let _ = phone.delete(key.as_bytes()).await;
                        }
                        _ => {
                            phone.sync().await.unwrap();
                        }
                    },
                    who => {
                        let cw = if who == 2 { &mut b } else { &mut c };
                        match action {
                            0 => {
                                cw.put(key.as_bytes(), &data, None).await.unwrap();
                            }
                            1 => cw.delete(key.as_bytes()).await.unwrap(),
                            _ => {
                                cw.commit().await.unwrap();
                            }
                        }
                    }
                }
            }
            b.commit().await.unwrap();
            c.commit().await.unwrap();
            w.laptop.sync().await.unwrap();
            phone.sync().await.unwrap();
            w.laptop.sync().await.unwrap();
            assert_eq!(w.laptop.share_publish_error(), None, "seed {seed}");
            assert_eq!(phone.share_publish_error(), None, "seed {seed}");
            let a1 = vault_listing(&w.laptop).await;
            let a2 = vault_listing(&phone).await;
            let lb = shared_listing(&w.store, w.grant(&bob).await, &w.clock).await;
            let lc = shared_listing(&w.store, w.grant(&carol).await, &w.clock).await;
            assert_eq!(a1, a2, "seed {seed}: the owner's devices differ");
            assert_eq!(a1, lb, "seed {seed}: bob sees another listing");
            assert_eq!(a1, lc, "seed {seed}: carol sees another listing");
            assert!(
                w.laptop.skipped_heads().is_empty(),
                "seed {seed}: {:?}",
                w.laptop.skipped_heads()
            );
        });
    }
}

/// A write outside the prefix is refused by the SDK; a head that carries one anyway (a modified
/// SDK), or an entry claiming another writer's id, is refused entry by entry by the owner and by
/// readers, and the rest of the head is merged. A read-only recipient cannot open a writer.
#[test]
fn out_of_scope_and_impersonating_entries_are_refused() {
    block_on(async {
        let mut w = world().await;
        let (bob, carol) = (w.bob.clone(), w.carol.clone());
        w.share(&bob, true).await;
        w.share(&carol, false).await;
        let reader_share = w.grant(&carol).await;
        assert!(matches!(
            SharedWriter::open(w.store.clone(), carol.clone(), reader_share.clone()).await,
            Err(ShareError::NotWriter)
        ));
        let mut b = w.writer(&bob).await;
        assert!(matches!(
            b.put(b"private/x", b"evil", None).await,
            Err(ShareError::WriteOutsideScope { .. })
        ));
        b.put(b"docs/ok", b"fine", None).await.unwrap();
        b.commit().await.unwrap();

        // A modified SDK: Bob puts an entry outside the prefix and one stamped with the owner's
        // writer id into his index, and signs the head.
        let keys = b.share().epoch_keys().unwrap();
        let tree =
            ProllyTree::new(w.store.clone(), &keys.index_key, IndexConfig::default()).unwrap();
        let head = w
            .store
            .read_head(
                &view_name(&keys.id),
                &writer_head_name(&cowriter_id(bob.recipient())),
            )
            .await
            .unwrap()
            .unwrap();
        let (body, _) = WriterHeadBody::open(&keys, &head.writer, &head.bytes).unwrap();
        let ok = tree.get(&body.root, b"docs/ok").await.unwrap().unwrap();
        let t = Hlc::new(now_ms() + 1000, 0);
        let forged_owner = Entry::live(
            ok.value().unwrap().to_vec(),
            t,
            crate::index::WriterId([7; 16]),
        );
        let outside = Entry::live(
            ok.value().unwrap().to_vec(),
            t,
            cowriter_id(bob.recipient()),
        );
        let root = tree
            .apply(
                &body.root,
                vec![
                    (b"private/x".to_vec(), Mutation::Put(outside)),
                    (b"docs/plan".to_vec(), Mutation::Put(forged_owner)),
                ],
            )
            .await
            .unwrap();
        let evil = WriterHeadBody {
            root,
            seq: body.seq + 1,
            ..body
        };
        w.store
            .write_head(
                &view_name(&keys.id),
                &head.writer,
                Bytes::from(evil.seal(&bob, &keys).unwrap()),
                HeadCondition::Any,
            )
            .await
            .unwrap();

        w.laptop.sync().await.unwrap();
        assert_eq!(w.laptop.get(b"private/x").await.unwrap(), b"mine");
        assert_eq!(w.laptop.get(b"docs/plan").await.unwrap(), b"v0");
        assert_eq!(w.laptop.get(b"docs/ok").await.unwrap(), b"fine");
        let refused = w.laptop.skipped_heads();
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(
            refused
                .iter()
                .any(|s| s.reason.contains("outside the writer's scope"))
        );
        assert!(
            refused
                .iter()
                .any(|s| s.reason.contains("claims another writer"))
        );

        let reader = SharedReader::open_with_clock(w.store.clone(), reader_share, w.clock.clone())
            .await
            .unwrap();
        assert_eq!(reader.get(b"docs/plan").await.unwrap(), b"v0");
        assert_eq!(reader.get(b"docs/ok").await.unwrap(), b"fine");
        assert_eq!(reader.refused().len(), 2);
    });
}

/// After its expiry (by the owner's clock) a co-writer cannot write, and a head it writes anyway
/// is not merged; what it wrote and the owner merged before stays.
#[test]
fn an_expired_writer_keeps_what_it_wrote_and_writes_no_more() {
    block_on(async {
        let mut w = world().await;
        let bob = w.bob.clone();
        w.share(&bob, true).await;
        let mut b = w.writer(&bob).await;
        b.put(b"docs/before", b"kept", None).await.unwrap();
        b.commit().await.unwrap();
        w.laptop.sync().await.unwrap();
        // Bob's SDK with a clock that lies (still before the expiry); the owner's is past it.
        let frozen: Clock = Arc::new({
            let t = (w.clock)();
            move || t
        });
        let mut liar = SharedWriter::open_with_clock(
            w.store.clone(),
            bob.clone(),
            w.grant(&bob).await,
            frozen,
        )
        .await
        .unwrap();
        w.clock_ms.fetch_add(DAY + 1, Ordering::SeqCst);
        assert!(matches!(
            b.put(b"docs/after", b"no", None).await,
            Err(ShareError::Expired { .. })
        ));
        liar.put(b"docs/after", b"late", None).await.unwrap();
        liar.commit().await.unwrap();
        w.laptop.sync().await.unwrap();
        assert!(matches!(
            w.laptop.get(b"docs/after").await,
            Err(VaultError::NotFound)
        ));
        assert_eq!(w.laptop.get(b"docs/before").await.unwrap(), b"kept");
        assert!(
            w.laptop
                .skipped_heads()
                .iter()
                .any(|s| s.reason.contains("expired"))
        );
    });
}

/// Revoking a co-writer first merges what it committed (kept, with its versions); afterwards its
/// SDK refuses to commit, and a head it writes anyway (into the old epoch) is never merged.
/// The other co-writer, re-granted into the new epoch, goes on writing.
#[test]
fn a_revoked_writer_keeps_what_it_wrote_and_writes_no_more() {
    block_on(async {
        let mut w = world().await;
        let (bob, carol) = (w.bob.clone(), w.carol.clone());
        let bob_share = w.share(&bob, true).await;
        w.share(&carol, true).await;
        let mut b = w.writer(&bob).await;
        b.put(b"docs/plan", b"bob's edit", None).await.unwrap();
        b.commit().await.unwrap();
        // Not synced by the owner before the revocation: revoke merges it first.
        w.laptop.revoke(&bob_share).await.unwrap();
        assert_eq!(w.laptop.get(b"docs/plan").await.unwrap(), b"bob's edit");
        assert_eq!(w.laptop.versions(b"docs/plan").await.unwrap().len(), 2);

        assert!(matches!(
            b.put(b"docs/late", b"no", None).await,
            Err(ShareError::Revoked)
        ));
        assert!(matches!(b.commit().await, Err(ShareError::Revoked)));
        // A modified SDK writes the head anyway, in the old epoch's namespace.
        let keys = b.share().epoch_keys().unwrap();
        let name = writer_head_name(&cowriter_id(bob.recipient()));
        let old = w
            .store
            .read_head(&view_name(&keys.id), &name)
            .await
            .unwrap()
            .unwrap();
        let (body, _) = WriterHeadBody::open(&keys, &name, &old.bytes).unwrap();
        let late_root = {
            let tree =
                ProllyTree::new(w.store.clone(), &keys.index_key, IndexConfig::default()).unwrap();
            let e = tree.get(&body.root, b"docs/plan").await.unwrap().unwrap();
            let late = Entry::live(
                e.value().unwrap().to_vec(),
                Hlc::new(now_ms() + 5000, 0),
                e.writer,
            );
            tree.apply(
                &body.root,
                vec![(b"docs/late".to_vec(), Mutation::Put(late))],
            )
            .await
            .unwrap()
        };
        let evil = WriterHeadBody {
            root: late_root,
            seq: body.seq + 1,
            ..body
        };
        w.store
            .write_head(
                &view_name(&keys.id),
                &name,
                Bytes::from(evil.seal(&bob, &keys).unwrap()),
                HeadCondition::Any,
            )
            .await
            .unwrap();

        let mut c = w.writer(&carol).await;
        assert_eq!(c.share().grant(), 2);
        c.put(b"docs/carol", b"hi", None).await.unwrap();
        c.commit().await.unwrap();
        w.laptop.sync().await.unwrap();
        assert!(matches!(
            w.laptop.get(b"docs/late").await,
            Err(VaultError::NotFound)
        ));
        assert_eq!(w.laptop.get(b"docs/carol").await.unwrap(), b"hi");
        assert_eq!(w.laptop.get(b"docs/plan").await.unwrap(), b"bob's edit");
        // Carol's new epoch reads Bob's merged edit through the owner's view.
        let listing = shared_listing(&w.store, w.grant(&carol).await, &w.clock).await;
        let keys: Vec<&str> = listing.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["docs/carol", "docs/plan"]);
    });
}

/// A store that serves an older head of a co-writer after a newer one was merged is caught
/// (`RolledBack`); one that moves a co-writer's head under another co-writer's name gets it
/// refused and reported (it does not decrypt there), and nothing of it is merged.
#[test]
fn replayed_or_swapped_writer_heads_are_refused() {
    block_on(async {
        let mut w = world().await;
        let (bob, carol) = (w.bob.clone(), w.carol.clone());
        w.share(&bob, true).await;
        w.share(&carol, true).await;
        let mut b = w.writer(&bob).await;
        let mut c = w.writer(&carol).await;
        b.put(b"docs/b", b"1", None).await.unwrap();
        b.commit().await.unwrap();
        c.put(b"docs/c", b"1", None).await.unwrap();
        c.commit().await.unwrap();
        let ns = view_name(&b.share().epoch_keys().unwrap().id);
        let bname = writer_head_name(&cowriter_id(bob.recipient()));
        let cname = writer_head_name(&cowriter_id(carol.recipient()));
        let first = w.store.read_head(&ns, &bname).await.unwrap().unwrap();
        b.put(b"docs/b", b"2", None).await.unwrap();
        b.commit().await.unwrap();
        w.laptop.sync().await.unwrap();
        assert_eq!(w.laptop.get(b"docs/b").await.unwrap(), b"2");
        let latest = w.store.read_head(&ns, &bname).await.unwrap().unwrap();

        // Replay Bob's first head.
        w.store
            .write_head(&ns, &bname, first.bytes.clone(), HeadCondition::Any)
            .await
            .unwrap();
        let err = w.laptop.sync().await.unwrap_err();
        assert!(
            matches!(
                err,
                VaultError::Trust(crate::trust::TrustError::RolledBack { .. })
            ),
            "{err:?}"
        );

        // Swap: Bob's (current) head under Carol's name.
        w.store
            .write_head(&ns, &bname, latest.bytes.clone(), HeadCondition::Any)
            .await
            .unwrap();
        w.store
            .write_head(&ns, &cname, latest.bytes, HeadCondition::Any)
            .await
            .unwrap();
        // Served but refused: reported, not fatal (one co-writer's head cannot stop syncs or
        // revocations), and nothing of it is merged under Carol's name.
        w.laptop.sync().await.unwrap();
        assert!(
            w.laptop
                .skipped_heads()
                .iter()
                .any(|s| s.reason.contains("does not decrypt"))
        );
        assert_eq!(w.laptop.get(b"docs/c").await.unwrap(), b"1");
        assert_eq!(w.laptop.get(b"docs/b").await.unwrap(), b"2");
    });
}

/// A prune keeps what co-writer heads reach, merged by the owner or not: readers still read it
/// afterwards.
#[test]
fn a_prune_keeps_what_co_writers_wrote() {
    block_on(async {
        let mut w = world().await;
        let bob = w.bob.clone();
        w.share(&bob, true).await;
        let mut b = w.writer(&bob).await;
        b.put(b"docs/merged", b"m", None).await.unwrap();
        b.commit().await.unwrap();
        w.laptop.sync().await.unwrap();
        b.put(b"docs/unmerged", b"u", None).await.unwrap();
        b.commit().await.unwrap();
        let opts = crate::vault::PruneOptions {
            window_ms: 0,
            ..Default::default()
        };
        w.laptop.set_gc_timing(crate::vault::GcTiming {
            grace_ms: 0,
            lease_ms: 60_000,
            skew_ms: 1_000,
            poll_ms: 5,
        });
        let report = w.laptop.prune(opts, None).await;
        assert!(report.is_ok(), "{report:?}");
        let reader =
            SharedReader::open_with_clock(w.store.clone(), w.grant(&bob).await, w.clock.clone())
                .await
                .unwrap();
        // Bob's own head still reads (its index nodes were kept), not only the owner's view.
        assert!(reader.refused().is_empty(), "{:?}", reader.refused());
        assert_eq!(reader.get(b"docs/merged").await.unwrap(), b"m");
        assert_eq!(reader.get(b"docs/unmerged").await.unwrap(), b"u");
        w.laptop.sync().await.unwrap();
        assert_eq!(w.laptop.get(b"docs/unmerged").await.unwrap(), b"u");
    });
}

/// A co-writer cannot pass another co-writer's manifest off as its own entry (nor edit under
/// its name): the entry is refused, the other writer's entry stays.
#[test]
fn a_writer_cannot_claim_another_writers_manifest() {
    block_on(async {
        let mut w = world().await;
        let (bob, carol) = (w.bob.clone(), w.carol.clone());
        w.share(&bob, true).await;
        w.share(&carol, true).await;
        let mut b = w.writer(&bob).await;
        let mut c = w.writer(&carol).await;
        c.put(b"docs/c", b"carol's", None).await.unwrap();
        c.commit().await.unwrap();
        b.put(b"docs/b", b"bob's", None).await.unwrap();
        b.commit().await.unwrap();
        let keys = b.share().epoch_keys().unwrap();
        let tree =
            ProllyTree::new(w.store.clone(), &keys.index_key, IndexConfig::default()).unwrap();
        let ns = view_name(&keys.id);
        let read = |name: String| {
            let store = w.store.clone();
            let ns = ns.clone();
            async move { store.read_head(&ns, &name).await.unwrap().unwrap() }
        };
        let bname = writer_head_name(&cowriter_id(bob.recipient()));
        let cname = writer_head_name(&cowriter_id(carol.recipient()));
        let (cbody, _) =
            WriterHeadBody::open(&keys, &cname, &read(cname.clone()).await.bytes).unwrap();
        let (bbody, _) =
            WriterHeadBody::open(&keys, &bname, &read(bname.clone()).await.bytes).unwrap();
        let carols = tree.get(&cbody.root, b"docs/c").await.unwrap().unwrap();
        let stolen = Entry::live(
            carols.value().unwrap().to_vec(),
            Hlc::new(now_ms() + 1000, 0),
            cowriter_id(bob.recipient()),
        );
        let root = tree
            .apply(
                &bbody.root,
                vec![(b"docs/c".to_vec(), Mutation::Put(stolen))],
            )
            .await
            .unwrap();
        let evil = WriterHeadBody {
            root,
            seq: bbody.seq + 1,
            ..bbody
        };
        w.store
            .write_head(
                &ns,
                &bname,
                Bytes::from(evil.seal(&bob, &keys).unwrap()),
                HeadCondition::Any,
            )
            .await
            .unwrap();
        w.laptop.sync().await.unwrap();
        assert!(
            w.laptop
                .skipped_heads()
                .iter()
                .any(|s| s.reason.contains("not signed by the writer")),
            "{:?}",
            w.laptop.skipped_heads()
        );
        let reader =
            SharedReader::open_with_clock(w.store.clone(), w.grant(&bob).await, w.clock.clone())
                .await
                .unwrap();
        let e = reader.entry(b"docs/c").await.unwrap().unwrap();
        assert_eq!(e.writer, cowriter_id(carol.recipient()));
        assert_eq!(reader.get(b"docs/b").await.unwrap(), b"bob's");
    });
}

/// `test-vectors/cowrite.json`: the epoch head key, a co-writer id and head name, and a stored
/// co-writer head (fixed nonce), which opens to its body.
#[test]
fn cowrite_vectors() {
    use serde_json::json;
    let seed = |b: u8| -> [u8; 32] { std::array::from_fn(|i| b.wrapping_add(i as u8)) };
    let writer = Identity::from_seed(&seed(3));
    let keys = format::EpochKeys::derive(&seed(9));
    let id = cowriter_id(writer.recipient());
    let name = writer_head_name(&id);
    // The root of an index (any CID: the head only names it).
    let root = crate::block::raw_cid(b"an index root");
    let body = WriterHeadBody {
        v: 2,
        vault: "photos".into(),
        epoch: keys.id,
        share: [0x42; 16],
        writer: writer.recipient().to_string(),
        root,
        seq: 1,
        time: crate::index::Hlc::new(1_795_000_000_000, 0).as_u64(),
    };
    let stored = body.seal_with_nonce(&writer, &keys, [0x11; 12]).unwrap();
    let (opened, signer) = WriterHeadBody::open(&keys, &name, &stored).unwrap();
    assert_eq!(opened, body);
    assert!(signer.same_identity(writer.recipient()));
    // Under another name it does not decrypt.
    assert!(matches!(
        WriterHeadBody::open(&keys, "w-00000000000000000000000000000000", &stored),
        Err(ShareError::ForgedWriterHead(_))
    ));
    let generated = json!({
        "epoch_secret": hex::encode(seed(9)),
        "epoch_id": hex::encode(keys.id),
        "head_key": hex::encode(*keys.head_key),
        "writer_seed": hex::encode(seed(3)),
        "writer_recipient": writer.recipient().to_string(),
        "cowriter_id": hex::encode(id.0),
        "head_name": name,
        "body": hex::encode(crate::block::to_dag_cbor(&body).unwrap()),
        "nonce": hex::encode([0x11u8; 12]),
        "stored_head": hex::encode(&stored),
    });
    crate::vectors_tests::check_or_write("cowrite.json", generated);
}

/// A co-writer head the owner's device has merged, served again at the same seq and root, is
/// checked as a head but its entries are not read again: here the store has even dropped its
/// index nodes, and the device that merged it notices nothing, while a device that never merged
/// it refuses the head ("its index does not read"). Bob's next commit (a new root) is read and
/// merged as usual.
#[test]
fn a_merged_cowriter_head_is_not_read_again() {
    block_on(async {
        let mut w = world().await;
        let bob = w.bob.clone();
        w.share(&bob, true).await;
        let mut b = w.writer(&bob).await;
        let before: std::collections::BTreeSet<Cid> =
            w.store.list().await.unwrap().into_iter().collect();
        b.put(b"docs/new", b"from bob", None).await.unwrap();
        b.commit().await.unwrap();
        let bobs: Vec<Cid> = w.store.list().await.unwrap();
        w.laptop.merge_cowriters().await.unwrap();
        assert_eq!(w.laptop.get(b"docs/new").await.unwrap(), b"from bob");
        assert!(w.laptop.skipped_heads().is_empty());

        // Everything Bob's commit wrote but the object itself: his index nodes.
        let info = w.laptop.head(b"docs/new").await.unwrap();
        let keep: [Cid; 2] = [info.version.parse().unwrap(), info.data.parse().unwrap()];
        let mut dropped = Vec::new();
        for cid in bobs {
            if !before.contains(&cid) && !keep.contains(&cid) {
                dropped.push((cid, w.store.get(&cid).await.unwrap()));
                BlockStore::delete(&*w.store, &cid).await.unwrap();
            }
        }
        assert!(!dropped.is_empty());
        w.laptop.merge_cowriters().await.unwrap();
        w.laptop.sync().await.unwrap();
        assert!(
            w.laptop.skipped_heads().is_empty(),
            "{:?}",
            w.laptop.skipped_heads()
        );
        assert_eq!(w.laptop.get(b"docs/new").await.unwrap(), b"from bob");

        let mut phone = w.device("phone").await;
        phone.sync().await.unwrap();
        let refused = phone.skipped_heads();
        assert!(
            refused
                .iter()
                .any(|s| s.reason.contains("its index does not read")),
            "{refused:?}"
        );

        // The store serves Bob's nodes again; his next commit is a new root, read and merged.
        for (cid, bytes) in dropped {
            w.store.put(&cid, bytes).await.unwrap();
        }
        b.put(b"docs/newer", b"again", None).await.unwrap();
        b.commit().await.unwrap();
        w.laptop.merge_cowriters().await.unwrap();
        assert_eq!(w.laptop.get(b"docs/newer").await.unwrap(), b"again");
    });
}
