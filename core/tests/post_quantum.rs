//! Post-quantum vaults and recipients (issue 19): a vault created with `post_quantum` wraps its
//! key, and every share keyring, with X-Wing only; shares to a `cofferpq1…` recipient and to a
//! `did:key` reach their readers; on the memory and the directory store.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use coffer::keys::{Identity, Recipient};
use coffer::seal::Header;
use coffer::share::{Scope, SharedReader, inbox_name, read_inbox};
use coffer::store::{BlockStore, DirStore, HeadStore, MemoryStore};
use coffer::vault::{PutOptions, ShareOptions, Vault, VaultOptions};
use futures_executor::block_on;

fn in_a_week() -> ShareOptions {
    ShareOptions {
        expires_ms: coffer::vault::now_ms() + 7 * 86_400_000,
        ..Default::default()
    }
}

/// Stanza kinds of every sealed block in the store and every envelope in the inboxes of
/// `inboxes`: (X25519 stanzas, X-Wing stanzas).
async fn stanza_census<S: BlockStore + HeadStore + ?Sized>(
    store: &S,
    inboxes: &[&Recipient],
) -> (usize, usize) {
    let (mut classic, mut pq) = (0, 0);
    let mut all = Vec::new();
    for cid in store.list().await.unwrap() {
        all.push(store.get(&cid).await.unwrap().to_vec());
    }
    for r in inboxes {
        for h in store.read_heads(&inbox_name(r)).await.unwrap() {
            all.push(h.bytes.to_vec());
        }
    }
    for bytes in all {
        if let Ok(h) = Header::parse(&bytes) {
            let stanzas = h.stanza_kinds();
            classic += stanzas.iter().filter(|k| **k == 0x01).count();
            pq += stanzas.iter().filter(|k| **k == 0x02).count();
        }
    }
    (classic, pq)
}

async fn story<S: BlockStore + HeadStore + ?Sized>(store: Arc<S>) {
    let alice = Identity::generate();
    let bob = Identity::generate();
    let carol = Identity::generate();
    let pq = VaultOptions {
        post_quantum: true,
        ..Default::default()
    };
    let mut v = Vault::open_with_options(
        store.clone(),
        alice.clone(),
        "pq",
        "laptop",
        Some(true),
        pq.clone(),
    )
    .await
    .unwrap();
    v.put(b"trip/a", b"sand".to_vec(), PutOptions::default())
        .await
        .unwrap();
    // Bob is addressed by his post-quantum recipient, Carol by her did:key.
    let bob_pq: Recipient = bob.post_quantum_recipient().to_string().parse().unwrap();
    let carol_did: Recipient = carol.did_key().parse().unwrap();
    let inboxes = [&bob_pq, &carol_did];
    v.share(Scope::Prefix(b"trip/".to_vec()), &bob_pq, in_a_week())
        .await
        .unwrap();
    v.put(b"trip/b", b"sea".to_vec(), PutOptions::default())
        .await
        .unwrap();
    // Only post-quantum stanzas so far: the vault key, Bob's envelope, the keyrings.
    let (classic, xwing) = stanza_census(&*store, &inboxes).await;
    assert_eq!(
        classic, 0,
        "a post-quantum vault wrapped a key with X25519 only"
    );
    assert!(
        xwing >= 3,
        "expected the key block, an envelope and a keyring: {xwing}"
    );
    assert!(classic == 0);

    v.share(Scope::Prefix(b"trip/".to_vec()), &carol_did, in_a_week())
        .await
        .unwrap();
    for reader in [&bob, &carol] {
        let inbox = read_inbox(&*store, reader).await.unwrap();
        assert_eq!(inbox.len(), 1);
        let share = inbox[0].share.as_ref().unwrap().clone();
        assert!(share.issuer().same_identity(alice.recipient()));
        let r = SharedReader::open(store.clone(), share).await.unwrap();
        assert_eq!(r.get(b"trip/a").await.unwrap(), b"sand");
        assert_eq!(r.get(b"trip/b").await.unwrap(), b"sea");
    }
    // Carol's did:key share is wrapped to the X25519 form of her Ed25519 key: one X25519 stanza.
    assert_eq!(stanza_census(&*store, &inboxes).await.0, 1);

    // Another device opens the vault (no option needed: the key block says it is post-quantum)
    // and its share keyrings stay post-quantum.
    let mut phone = Vault::open(store.clone(), alice.clone(), "pq", "phone")
        .await
        .unwrap();
    phone.sync().await.unwrap();
    assert_eq!(phone.get(b"trip/b").await.unwrap(), b"sea");
    phone
        .put(b"trip/c", b"sun".to_vec(), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(stanza_census(&*store, &inboxes).await.0, 1);

    // A classic vault next to it wraps with X25519, as before.
    let mut c = Vault::create(store.clone(), alice.clone(), "classic", "laptop")
        .await
        .unwrap();
    c.put(b"k", b"v".to_vec(), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(stanza_census(&*store, &inboxes).await.0, 2);
}

#[test]
fn a_post_quantum_vault_on_the_memory_store() {
    block_on(story(Arc::new(MemoryStore::new())));
}

#[test]
fn a_post_quantum_vault_on_the_directory_store() {
    let dir = tempfile::tempdir().unwrap();
    block_on(story(Arc::new(DirStore::open(dir.path()).unwrap())));
}
