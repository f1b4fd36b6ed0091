//! The sharing story every store runs: Alice shares a prefix with Bob through his inbox, Bob
//! reads it, the share expires, a version written after expiry is not readable with it, Alice
//! rotates and revokes; plus every way a capability is refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use coffer::index::ListRequest;
use coffer::keys::Identity;
use coffer::share::{
    Accepted, Clock, Scope, Share, ShareBook, ShareError, SharedReader, read_inbox,
};
use coffer::store::{BlockStore, HeadCondition, HeadStore};
use coffer::vault::{PutOptions, ShareOptions, ShareStatus, Vault, VaultError, now_ms};

const DAY: u64 = 86_400_000;

struct TestClock(Arc<AtomicU64>);

impl TestClock {
    fn new() -> Self {
        Self(Arc::new(AtomicU64::new(now_ms())))
    }
    fn clock(&self) -> Clock {
        let c = self.0.clone();
        Arc::new(move || c.load(Ordering::SeqCst))
    }
    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
    fn advance(&self, ms: u64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

async fn keys<S: BlockStore + HeadStore + ?Sized>(r: &SharedReader<S>) -> Vec<String> {
    r.list(&ListRequest::default())
        .await
        .expect("list")
        .contents
        .iter()
        .map(|o| String::from_utf8(o.key.clone()).expect("utf-8"))
        .collect()
}

/// Every share in `who`'s inbox, accepted into `book` (replays and refusals are returned).
async fn accept_all<S: BlockStore + HeadStore + ?Sized>(
    store: &S,
    who: &Identity,
    book: &mut ShareBook,
    now: u64,
) -> Vec<Result<Accepted, ShareError>> {
    let mut out = Vec::new();
    for entry in read_inbox(store, who).await.expect("inbox") {
        out.push(entry.share.and_then(|s| book.accept(s, now)));
    }
    out
}

fn put_opts() -> PutOptions {
    PutOptions::default()
}

pub async fn share_suite<S: BlockStore + HeadStore + ?Sized>(store: Arc<S>, vault: &str) {
    let t = TestClock::new();
    let alice = Identity::generate();
    let bob = Identity::generate();
    let carol = Identity::generate();
    let mut laptop = Vault::create(store.clone(), alice.clone(), vault, "laptop")
        .await
        .expect("create");
    laptop.set_share_clock(t.clock());
    for (k, v) in [
        ("trip/day1.jpg", "sand"),
        ("trip/day2.jpg", "sea"),
        ("taxes/2026.pdf", "secret"),
    ] {
        laptop
            .put(k.as_bytes(), v.as_bytes().to_vec(), put_opts())
            .await
            .expect("put");
    }

    // Alice shares the prefix with Bob for a week, through Bob's inbox.
    let trip = Scope::Prefix(b"trip/".to_vec());
    let opts = |exp| ShareOptions {
        expires_ms: exp,
        ..Default::default()
    };
    let bob_week = laptop
        .share(trip.clone(), bob.recipient(), opts(t.now() + 7 * DAY))
        .await
        .expect("share");
    assert!(laptop.share_publish_error().is_none());

    // Bob finds it with nothing but his identity and the store.
    let inbox = read_inbox(&*store, &bob).await.expect("inbox");
    assert_eq!(inbox.len(), 1);
    let share = inbox[0].share.as_ref().expect("a valid share").clone();
    assert_eq!(share.id(), bob_week);
    assert_eq!(share.issuer(), alice.recipient());
    assert_eq!(share.scope(), trip);
    assert_eq!(share.vault(), vault);
    // Carol's inbox is empty, and Bob's envelope is not hers to open.
    assert!(read_inbox(&*store, &carol).await.expect("inbox").is_empty());
    assert!(matches!(
        Share::open(&carol, share.envelope()),
        Err(ShareError::NotForMe)
    ));
    let mut bob_book = ShareBook::new();
    assert_eq!(
        bob_book.accept(share.clone(), t.now()).expect("accept"),
        Accepted::New
    );
    assert!(matches!(
        bob_book.accept(share.clone(), t.now()),
        Err(ShareError::Replayed { .. })
    ));

    // Bob reads the prefix, and only the prefix.
    let reader = SharedReader::open_with_clock(store.clone(), share.clone(), t.clock())
        .await
        .expect("open share");
    assert_eq!(keys(&reader).await, ["trip/day1.jpg", "trip/day2.jpg"]);
    assert_eq!(reader.get(b"trip/day1.jpg").await.expect("get"), b"sand");
    assert!(matches!(
        reader.get(b"taxes/2026.pdf").await,
        Err(ShareError::OutOfScope)
    ));
    assert!(matches!(
        reader
            .list(&ListRequest {
                prefix: b"taxes/".to_vec(),
                ..Default::default()
            })
            .await,
        Err(ShareError::OutOfScope)
    ));
    assert!(matches!(
        reader.get(b"trip/none.jpg").await,
        Err(ShareError::NotFound)
    ));

    // Writes while the share is live reach Bob, from either of Alice's devices.
    laptop
        .put(b"trip/day3.jpg", b"hills".to_vec(), put_opts())
        .await
        .expect("put");
    let mut phone = Vault::open(store.clone(), alice.clone(), vault, "phone")
        .await
        .expect("open phone");
    phone.set_share_clock(t.clock());
    phone.sync().await.expect("sync");
    phone
        .put(b"trip/day4.jpg", b"from the phone".to_vec(), put_opts())
        .await
        .expect("put");
    assert!(
        phone.share_publish_error().is_none(),
        "{:?}",
        phone.share_publish_error()
    );
    let reader = SharedReader::open_with_clock(store.clone(), share.clone(), t.clock())
        .await
        .expect("open share");
    assert_eq!(
        keys(&reader).await,
        [
            "trip/day1.jpg",
            "trip/day2.jpg",
            "trip/day3.jpg",
            "trip/day4.jpg"
        ]
    );
    assert_eq!(
        reader.get(b"trip/day4.jpg").await.expect("get"),
        b"from the phone"
    );
    // (The laptop learns of the phone's put at its next sync; rotations below count it.)
    laptop.sync().await.expect("sync");

    // The share expires: Bob's SDK refuses it.
    t.advance(8 * DAY);
    assert!(matches!(
        reader.get(b"trip/day1.jpg").await,
        Err(ShareError::Expired { .. })
    ));
    assert!(matches!(
        SharedReader::open_with_clock(store.clone(), share.clone(), t.clock()).await,
        Err(ShareError::Expired { .. })
    ));
    assert!(matches!(
        ShareBook::new().accept(share.clone(), t.now()),
        Err(ShareError::Expired { .. })
    ));
    // Alice writes after expiry: the epoch Bob holds ends, and a Bob who ignores the clock finds
    // its view retired (and the new version's keys were never wrapped for it).
    let day1_v2 = laptop
        .put(b"trip/day1.jpg", b"sand, again".to_vec(), put_opts())
        .await
        .expect("put after expiry");
    assert!(laptop.share_publish_error().is_none());
    let issued = share.not_before_ms();
    let stale_clock: Clock = Arc::new(move || issued);
    assert!(matches!(
        SharedReader::open_with_clock(store.clone(), share.clone(), stale_clock.clone()).await,
        Err(ShareError::Revoked)
    ));
    let status: Vec<ShareStatus> = laptop.shares().iter().map(|s| s.status).collect();
    assert_eq!(status, [ShareStatus::Expired]);

    // New shares for Bob and Carol, then a rotation: both get a new grant in their inbox, and
    // the old grants are retired.
    let bob_id = laptop
        .share(trip.clone(), bob.recipient(), opts(t.now() + 30 * DAY))
        .await
        .expect("share bob");
    let carol_id = laptop
        .share(trip.clone(), carol.recipient(), opts(t.now() + 30 * DAY))
        .await
        .expect("share carol");
    let mut bob_book = ShareBook::new();
    let mut carol_book = ShareBook::new();
    accept_all(&*store, &bob, &mut bob_book, t.now()).await;
    accept_all(&*store, &carol, &mut carol_book, t.now()).await;
    let bob_share = bob_book.get(&bob_id).expect("bob's share").clone();
    let carol_share = carol_book.get(&carol_id).expect("carol's share").clone();
    let r = SharedReader::open_with_clock(store.clone(), bob_share.clone(), t.clock())
        .await
        .expect("open");
    assert_eq!(r.get(b"trip/day1.jpg").await.expect("get"), b"sand, again");
    assert_eq!(
        r.head(b"trip/day1.jpg").await.expect("head").version,
        day1_v2.version
    );

    let report = laptop.rotate(&trip).await.expect("rotate");
    assert_eq!(report.objects, 4, "{report:?}");
    assert_eq!(report.grants, 2);
    assert!(
        report.keys >= 8,
        "manifest and data keys of 4 objects: {report:?}"
    );
    assert!(matches!(
        SharedReader::open_with_clock(store.clone(), bob_share.clone(), t.clock()).await,
        Err(ShareError::Revoked)
    ));
    let accepted = accept_all(&*store, &bob, &mut bob_book, t.now()).await;
    assert!(
        accepted.iter().any(|a| matches!(a, Ok(Accepted::Updated))),
        "{accepted:?}"
    );
    assert!(
        accepted
            .iter()
            .any(|a| matches!(a, Err(ShareError::Replayed { .. }))),
        "the first grant, still in the inbox, is a replay now: {accepted:?}"
    );
    let bob_share = bob_book.get(&bob_id).expect("bob's share").clone();
    assert_eq!(bob_share.grant(), 2);
    let r = SharedReader::open_with_clock(store.clone(), bob_share.clone(), t.clock())
        .await
        .expect("open after rotation");
    assert_eq!(r.get(b"trip/day3.jpg").await.expect("get"), b"hills");

    // Alice revokes Bob: Carol gets a new grant and keeps reading, including what Alice writes
    // next; Bob's grant is retired and nothing newer waits for him.
    let report = laptop.revoke(&bob_id).await.expect("revoke");
    assert_eq!(report.grants, 1);
    laptop
        .put(
            b"trip/day5.jpg",
            b"after the revocation".to_vec(),
            put_opts(),
        )
        .await
        .expect("put");
    assert!(matches!(
        SharedReader::open_with_clock(store.clone(), bob_share.clone(), t.clock()).await,
        Err(ShareError::Revoked)
    ));
    let accepted = accept_all(&*store, &bob, &mut bob_book, t.now()).await;
    assert!(!accepted.iter().any(|a| a.is_ok()), "{accepted:?}");
    assert!(matches!(
        SharedReader::open_with_clock(store.clone(), carol_share.clone(), t.clock()).await,
        Err(ShareError::Revoked)
    ));
    accept_all(&*store, &carol, &mut carol_book, t.now()).await;
    let carol_share = carol_book.get(&carol_id).expect("carol").clone();
    assert_eq!(carol_share.grant(), 3);
    let r = SharedReader::open_with_clock(store.clone(), carol_share.clone(), t.clock())
        .await
        .expect("open");
    assert_eq!(
        r.get(b"trip/day5.jpg").await.expect("get"),
        b"after the revocation"
    );
    let statuses: Vec<(coffer::share::ShareId, ShareStatus)> =
        laptop.shares().iter().map(|s| (s.id, s.status)).collect();
    assert!(statuses.contains(&(bob_id, ShareStatus::Revoked)));
    assert!(statuses.contains(&(carol_id, ShareStatus::Active)));

    // A full re-encryption of the prefix, resumable: a second run skips everything, and Carol
    // still reads (the new keys are published to her epoch).
    let before = laptop.head(b"trip/day2.jpg").await.expect("head").data;
    // Everything in scope was written before `since` (the clock moves on by a few ms first).
    std::thread::sleep(std::time::Duration::from_millis(3));
    let since = now_ms();
    let done = laptop.reencrypt(b"trip/", since).await.expect("reencrypt");
    assert_eq!(done.reencrypted, 5);
    assert_ne!(
        laptop.head(b"trip/day2.jpg").await.expect("head").data,
        before
    );
    let again = laptop.reencrypt(b"trip/", since).await.expect("resume");
    assert_eq!((again.reencrypted, again.skipped), (0, 5));
    let r = SharedReader::open_with_clock(store.clone(), carol_share.clone(), t.clock())
        .await
        .expect("open");
    assert_eq!(r.get(b"trip/day2.jpg").await.expect("get"), b"sea");

    // A version share: that version and nothing else, even after the key moves on.
    let taxes = laptop.head(b"taxes/2026.pdf").await.expect("head");
    laptop
        .share(
            Scope::Version {
                key: b"taxes/2026.pdf".to_vec(),
                version: taxes.version.clone(),
            },
            carol.recipient(),
            opts(t.now() + DAY),
        )
        .await
        .expect("version share");
    laptop
        .put(b"taxes/2026.pdf", b"amended".to_vec(), put_opts())
        .await
        .expect("put");
    let mut fresh = ShareBook::new();
    accept_all(&*store, &carol, &mut fresh, t.now()).await;
    let version_share = fresh
        .iter()
        .find(|s| matches!(s.scope(), Scope::Version { .. }))
        .expect("the version share")
        .clone();
    let r = SharedReader::open_with_clock(store.clone(), version_share, t.clock())
        .await
        .expect("open");
    assert_eq!(r.get(b"taxes/2026.pdf").await.expect("get"), b"secret");
    assert!(matches!(
        r.get(b"trip/day1.jpg").await,
        Err(ShareError::OutOfScope)
    ));

    // Bad input. A share addressed to someone else, copied into Carol's inbox:
    let bob_inbox = read_inbox(&*store, &bob).await.expect("inbox");
    let bob_entry = &bob_inbox[0];
    let bob_bytes = bob_entry.share.as_ref().expect("valid").envelope().to_vec();
    let carol_inbox_name = inbox_namespace(&*store, &carol).await;
    store
        .write_head(
            &carol_inbox_name,
            &bob_entry.name,
            Bytes::from(bob_bytes.clone()),
            HeadCondition::Any,
        )
        .await
        .expect("inject");
    // ... a forged one (a flipped byte), and a real one moved under another name (a replay of
    // another grant):
    let mut forged = bob_bytes.clone();
    let mid = forged.len() / 2;
    forged[mid] ^= 1;
    let bob_inbox_name = inbox_namespace(&*store, &bob).await;
    store
        .write_head(
            &bob_inbox_name,
            "00000000000000000000000000000000-1",
            Bytes::from(forged),
            HeadCondition::Any,
        )
        .await
        .expect("inject");
    store
        .write_head(
            &bob_inbox_name,
            "11111111111111111111111111111111-9",
            Bytes::from(bob_bytes),
            HeadCondition::Any,
        )
        .await
        .expect("inject");
    let carol_view = read_inbox(&*store, &carol).await.expect("inbox");
    let injected = carol_view
        .iter()
        .find(|e| e.name == bob_entry.name)
        .expect("the injected entry");
    assert!(matches!(injected.share, Err(ShareError::NotForMe)));
    let bob_view = read_inbox(&*store, &bob).await.expect("inbox");
    let forged = bob_view
        .iter()
        .find(|e| e.name.starts_with("0000"))
        .expect("forged");
    assert!(
        matches!(
            forged.share,
            Err(ShareError::Forged(_)) | Err(ShareError::Malformed(_))
        ),
        "{:?}",
        forged.share
    );
    let moved = bob_view
        .iter()
        .find(|e| e.name.starts_with("1111"))
        .expect("moved");
    assert!(
        matches!(moved.share, Err(ShareError::Forged(_))),
        "{:?}",
        moved.share
    );
    // The good entries are still there and valid.
    assert!(bob_view.iter().filter(|e| e.share.is_ok()).count() >= 3);

    // A share not valid yet is refused by the reader until its time.
    let later = laptop
        .share(
            trip.clone(),
            bob.recipient(),
            ShareOptions {
                not_before_ms: Some(t.now() + DAY),
                expires_ms: t.now() + 2 * DAY,
                ..Default::default()
            },
        )
        .await
        .expect("share later");
    let mut book = ShareBook::new();
    accept_all(&*store, &bob, &mut book, t.now()).await;
    let pending = book.get(&later).expect("accepted ahead of time").clone();
    assert!(matches!(
        SharedReader::open_with_clock(store.clone(), pending.clone(), t.clock()).await,
        Err(ShareError::NotYetValid { .. })
    ));
    t.advance(DAY);
    let r = SharedReader::open_with_clock(store.clone(), pending, t.clock())
        .await
        .expect("valid now");
    assert_eq!(
        r.get(b"trip/day5.jpg").await.expect("get"),
        b"after the revocation"
    );

    // Invalid requests are typed errors and change nothing.
    assert!(matches!(
        laptop
            .share(
                trip.clone(),
                bob.recipient(),
                opts(t.now().saturating_sub(1))
            )
            .await,
        Err(VaultError::Share(ShareError::Invalid(_)))
    ));
    assert!(matches!(
        laptop.revoke(&coffer::share::ShareId([9; 16])).await,
        Err(VaultError::Share(ShareError::Invalid(_)))
    ));

    // The book survives a round trip sealed to its owner, and only its owner can read it.
    let bytes = carol_book.to_bytes(&carol).expect("seal book");
    let back = ShareBook::from_bytes(&carol, &bytes).expect("open book");
    assert_eq!(back.len(), carol_book.len());
    assert!(ShareBook::from_bytes(&bob, &bytes).is_err());
}

/// The head-store namespace of `who`'s inbox (public: derived from the recipient).
async fn inbox_namespace<S: HeadStore + ?Sized>(_store: &S, who: &Identity) -> String {
    coffer::share::inbox_name(who.recipient())
}
