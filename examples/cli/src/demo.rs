//! `coffer demo`: the whole story on the embedded default store (a local directory in a
//! temporary directory), narrated: two devices, puts, a listing, an offline edit on each, sync,
//! both versions visible, a range read, verification against a tampering server; then sharing:
//! an inbox, expiry, rotation and revocation; then co-writing: three identities writing under a
//! read-write share while offline, converging once they sync.

use std::sync::Arc;

use coffer::Identity;
use coffer::index::ListRequest;
use coffer::share::{Scope, Share, ShareBook, ShareError, SharedReader, SharedWriter, read_inbox};
use coffer::store::{BlockStore, DirStore, HeadCondition, HeadStore};
use coffer::vault::{PutOptions, ShareOptions, Vault, VaultError, now_ms};

use crate::config::{AnyStore, StoreUrl};
use crate::vault_cmd::vault_error;
use crate::{CliError, CliResult};

/// Arguments of `coffer demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Tell only the co-writing chapter (three identities under read-write shares), on this
    /// store (`s3://…`, `ipfs://…`, `file://…`) instead of a temporary directory. The story's
    /// vault gets a fresh name there; nothing else in the store is touched.
    #[arg(long, value_name = "URL")]
    store: Option<String>,
}

fn step(n: u32, text: &str) {
    println!("\n[{n}] {text}");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

async fn show_listing(who: &str, v: &Vault<DirStore>) -> CliResult {
    let page = v.list(&ListRequest::default()).await.map_err(vault_error)?;
    println!("    {who} sees {} objects:", page.key_count);
    for o in &page.contents {
        println!("      {:>9} bytes  {}", o.size, text(&o.key));
    }
    Ok(())
}

/// `coffer demo`.
pub fn run(args: DemoArgs) -> CliResult {
    if let Some(url) = args.store {
        // S3 and IPFS stores need a Tokio runtime (the directory store does not).
        return crate::vault_cmd::block_on(cowriting_on(&url));
    }
    let dir = tempfile::tempdir()
        .map_err(|e| CliError::other(format!("cannot create a temp dir: {e}")))?;
    println!(
        "coffer demo: a vault on a local directory store in {} (removed at the end)",
        dir.path().display()
    );
    futures_executor::block_on(story(dir.path()))?;
    println!(
        "\nDone. Next: `coffer init` (a vault under ~/.local/share/coffer, or --store s3://… / \
         ipfs://…), then `coffer put FILE KEY`, `coffer ls`, `coffer get KEY FILE`."
    );
    Ok(())
}

async fn story(root: &std::path::Path) -> CliResult {
    let store_dir = root.join("store");
    let store = Arc::new(DirStore::open(&store_dir).map_err(|e| CliError::other(e.to_string()))?);
    let me = Identity::generate();

    step(
        1,
        "One identity, two devices: a laptop creates the vault, a phone joins it.",
    );
    println!("    identity (public): {}", me.recipient());
    let mut laptop = Vault::create(store.clone(), me.clone(), "demo", "laptop")
        .await
        .map_err(vault_error)?;
    let mut phone = Vault::open(store.clone(), me.clone(), "demo", "phone")
        .await
        .map_err(vault_error)?;
    println!(
        "    laptop writer {}, phone writer {}",
        coffer::vault::writer_name(laptop.writer()),
        coffer::vault::writer_name(phone.writer())
    );

    step(
        2,
        "The laptop puts three objects (one of 3 MiB, streamed from a file).",
    );
    let plan = b"1. buy milk\n".to_vec();
    laptop
        .put(
            b"notes/todo.txt",
            plan.clone(),
            PutOptions {
                content_type: Some("text/plain".into()),
                ..Default::default()
            },
        )
        .await
        .map_err(vault_error)?;
    let photo: Vec<u8> = (0..300 * 1024u32).map(|i| (i % 251) as u8).collect();
    laptop
        .put(b"photos/cat.jpg", photo.clone(), PutOptions::default())
        .await
        .map_err(vault_error)?;
    let video: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let video_path = root.join("holiday.mp4");
    std::fs::write(&video_path, &video).map_err(|e| CliError::io(&video_path, e))?;
    let info = laptop
        .put_source(
            b"videos/holiday.mp4",
            &mut video_path.clone(),
            PutOptions::default(),
            None,
        )
        .await
        .map_err(vault_error)?;
    println!("    videos/holiday.mp4: version (ETag) {}", info.version);
    let page = laptop
        .list(&ListRequest {
            delimiter: Some(b"/".to_vec()),
            ..Default::default()
        })
        .await
        .map_err(vault_error)?;
    let prefixes: Vec<String> = page.common_prefixes.iter().map(|p| text(p)).collect();
    println!("    ls --delimiter /: {}", prefixes.join("  "));

    step(
        3,
        "What the store holds: opaque blocks named by CIDs, and one signed head per device.",
    );
    let blocks = store
        .list()
        .await
        .map_err(|e| CliError::other(e.to_string()))?;
    let heads = store
        .read_heads("demo")
        .await
        .map_err(|e| CliError::other(e.to_string()))?;
    println!(
        "    {} encrypted blocks, e.g. {}",
        blocks.len(),
        blocks.first().map(|c| c.to_string()).unwrap_or_default()
    );
    println!(
        "    {} heads: {}",
        heads.len(),
        heads
            .iter()
            .map(|h| h.writer.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("    (no key, name, content type or metadata appears in clear; block sizes do)");

    step(4, "The phone syncs and sees everything.");
    phone.sync().await.map_err(vault_error)?;
    show_listing("phone", &phone).await?;

    step(
        5,
        "Both go offline and edit notes/todo.txt; the phone also adds a file.",
    );
    laptop
        .put(
            b"notes/todo.txt",
            b"1. buy milk\n2. call mum (laptop)\n".to_vec(),
            PutOptions::default(),
        )
        .await
        .map_err(vault_error)?;
    phone
        .put(
            b"notes/todo.txt",
            b"1. buy milk\n2. water plants (phone)\n".to_vec(),
            PutOptions::default(),
        )
        .await
        .map_err(vault_error)?;
    phone
        .put(
            b"notes/groceries.txt",
            b"eggs, bread\n".to_vec(),
            PutOptions::default(),
        )
        .await
        .map_err(vault_error)?;
    println!(
        "    laptop reads: {:?}",
        text(&laptop.get(b"notes/todo.txt").await.map_err(vault_error)?)
    );
    println!(
        "    phone reads:  {:?}",
        text(&phone.get(b"notes/todo.txt").await.map_err(vault_error)?)
    );

    step(
        6,
        "Back online: each syncs (any order converges to the same index root).",
    );
    // What a dishonest store could replay later: the phone's head as it is now.
    let phone_name = coffer::vault::writer_name(phone.writer());
    let old_phone_head = store
        .read_head("demo", &phone_name)
        .await
        .map_err(|e| CliError::other(e.to_string()))?;
    phone.sync().await.map_err(vault_error)?;
    laptop.sync().await.map_err(vault_error)?;
    phone.sync().await.map_err(vault_error)?;
    println!("    laptop root {}", laptop.root());
    println!("    phone root  {}", phone.root());
    println!("    converged: {}", laptop.root() == phone.root());
    show_listing("laptop", &laptop).await?;

    step(
        7,
        "Both edits are kept: the newest is current, the other is a version (a time machine).",
    );
    let versions = laptop
        .versions(b"notes/todo.txt")
        .await
        .map_err(vault_error)?;
    for (i, v) in versions.iter().enumerate() {
        let body = laptop
            .get_version(b"notes/todo.txt", &v.version)
            .await
            .map_err(vault_error)?;
        let tag = if i == 0 { "current" } else { "version" };
        println!("    {tag:<8} {:?}", text(&body));
    }
    println!("    both versions visible: {}", versions.len() == 3);

    step(
        8,
        "A range read: bytes 2000000..2000016 of the video, fetched and verified alone.",
    );
    let part = phone
        .get_range(b"videos/holiday.mp4", 2_000_000..2_000_016)
        .await
        .map_err(vault_error)?;
    println!("    {:?}", part);
    println!(
        "    matches the original: {}",
        part == video[2_000_000..2_000_016]
    );

    step(
        9,
        "A hostile server flips one bit of the video, slips in a foreign head, and replays an \
         old head of the phone.",
    );
    let cid: coffer::block::Cid = info.data.parse().map_err(|_| CliError::other("bad CID"))?;
    let path = store.block_path(&cid);
    let mut sealed = std::fs::read(&path).map_err(|e| CliError::io(&path, e))?;
    sealed[2_500_000] ^= 0x10;
    let mut perms = std::fs::metadata(&path)
        .map_err(|e| CliError::io(&path, e))?
        .permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&path, perms).map_err(|e| CliError::io(&path, e))?;
    std::fs::write(&path, &sealed).map_err(|e| CliError::io(&path, e))?;
    report(
        "reading the video",
        laptop.get(b"videos/holiday.mp4").await.err(),
    );
    let untouched = laptop
        .get_range(b"videos/holiday.mp4", 0..16)
        .await
        .map_err(vault_error)?;
    println!(
        "    an untouched range still reads and verifies: {}",
        untouched == video[..16]
    );
    let mallory = Identity::generate();
    let mut fake = Vault::create(
        Arc::new(coffer::store::MemoryStore::new()),
        mallory,
        "demo",
        "mallory",
    )
    .await
    .map_err(vault_error)?;
    fake.put(b"notes/todo.txt", b"pwned".to_vec(), PutOptions::default())
        .await
        .map_err(vault_error)?;
    let forged = fake
        .store()
        .read_heads("demo")
        .await
        .map_err(|e| CliError::other(e.to_string()))?;
    if let Some(h) = forged.into_iter().next() {
        store
            .write_head("demo", &h.writer, h.bytes, HeadCondition::Absent)
            .await
            .map_err(|e| CliError::other(e.to_string()))?;
    }
    match laptop.sync().await {
        Ok(r) => match r.skipped.first() {
            Some(s) => println!(
                "    a foreign head             → skipped and reported: {}",
                s.reason
            ),
            None => println!("    a foreign head             → ACCEPTED (this is a bug)"),
        },
        Err(e) => println!("    a foreign head             → refused the whole sync (a bug): {e}"),
    }
    if let Some(old) = old_phone_head {
        let current = store
            .read_head("demo", &phone_name)
            .await
            .map_err(|e| CliError::other(e.to_string()))?;
        store
            .write_head("demo", &phone_name, old.bytes, HeadCondition::Any)
            .await
            .map_err(|e| CliError::other(e.to_string()))?;
        report("an old head of the phone", laptop.sync().await.err());
        if let Some(c) = current {
            // The store behaves again.
            store
                .write_head("demo", &phone_name, c.bytes, HeadCondition::Any)
                .await
                .map_err(|e| CliError::other(e.to_string()))?;
        }
    }
    println!(
        "    state fingerprint (compare across devices): {}",
        laptop.state_fingerprint()
    );
    println!(
        "    the laptop's view is untouched: {:?}",
        text(&laptop.get(b"notes/todo.txt").await.map_err(vault_error)?)
    );
    sharing_story(store, me).await
}

fn share_err(e: ShareError) -> CliError {
    crate::share_cmd::share_error(e)
}

/// What a share grants Bob right now: the keys he can list and read, or why he is refused.
async fn bob_reads(store: &Arc<DirStore>, share: &Share, key: &[u8]) -> Result<String, ShareError> {
    let reader = SharedReader::open(store.clone(), share.clone()).await?;
    Ok(text(&reader.get(key).await?))
}

/// Accepts everything in `who`'s inbox into `book`; prints what happened.
async fn accept_inbox<S: AnyStore + ?Sized>(
    store: &Arc<S>,
    who: &Identity,
    name: &str,
    book: &mut ShareBook,
) -> CliResult {
    for entry in read_inbox(&**store, who).await.map_err(share_err)? {
        let result = entry.share.and_then(|s| book.accept(s, now_ms()));
        match result {
            Ok(a) => println!("    {name} accepts {}: {a:?}", entry.name),
            Err(e) => println!("    {name} refuses {}: {e}", entry.name),
        }
    }
    Ok(())
}

async fn sharing_story(store: Arc<DirStore>, me: Identity) -> CliResult {
    let bob = Identity::generate();
    let carol = Identity::generate();
    let mut family = Vault::create(store.clone(), me.clone(), "family", "laptop")
        .await
        .map_err(vault_error)?;
    for (k, v) in [
        ("trip/day1.txt", "sand"),
        ("trip/day2.txt", "sea"),
        ("taxes/2026.pdf", "do not share"),
    ] {
        family
            .put(k.as_bytes(), v.as_bytes().to_vec(), PutOptions::default())
            .await
            .map_err(vault_error)?;
    }

    step(
        10,
        "Sharing: the owner shares trip/ with Bob for 2 seconds. No key exchange: the share goes to Bob's inbox in the same store.",
    );
    let trip = Scope::Prefix(b"trip/".to_vec());
    family
        .share(
            trip.clone(),
            bob.recipient(),
            ShareOptions {
                expires_ms: now_ms() + 2_000,
                ..Default::default()
            },
        )
        .await
        .map_err(vault_error)?;
    let mut bob_book = ShareBook::new();
    accept_inbox(&store, &bob, "Bob", &mut bob_book).await?;
    let first = bob_book
        .iter()
        .next()
        .cloned()
        .ok_or_else(|| CliError::other("Bob's inbox was empty"))?;
    let reader = SharedReader::open(store.clone(), first.clone())
        .await
        .map_err(share_err)?;
    let page = reader
        .list(&ListRequest::default())
        .await
        .map_err(share_err)?;
    let keys: Vec<String> = page.contents.iter().map(|o| text(&o.key)).collect();
    println!("    Bob lists: {}", keys.join("  "));
    println!(
        "    Bob reads trip/day1.txt: {:?}",
        bob_reads(&store, &first, b"trip/day1.txt")
            .await
            .map_err(share_err)?
    );
    match bob_reads(&store, &first, b"taxes/2026.pdf").await {
        Err(e) => println!("    Bob asks for taxes/2026.pdf → refused: {e}"),
        Ok(_) => println!("    Bob asks for taxes/2026.pdf → ACCEPTED (this is a bug)"),
    }

    step(
        11,
        "Two seconds later the share has expired; the owner writes a new version of day1.",
    );
    std::thread::sleep(std::time::Duration::from_millis(2_100));
    match bob_reads(&store, &first, b"trip/day1.txt").await {
        Err(e) => println!("    Bob reads trip/day1.txt   → refused: {e}"),
        Ok(_) => println!("    Bob reads trip/day1.txt   → ACCEPTED (this is a bug)"),
    }
    family
        .put(
            b"trip/day1.txt",
            b"sand, day two".to_vec(),
            PutOptions::default(),
        )
        .await
        .map_err(vault_error)?;
    println!(
        "    the write ended Bob's key epoch: the new version's keys were wrapped for no key he holds"
    );

    step(
        12,
        "New shares for Bob and Carol (7 days); the owner rotates trip/ (re-wraps keys, uploads no content), then revokes Bob.",
    );
    let week = now_ms() + 7 * 86_400_000;
    let opts = ShareOptions {
        expires_ms: week,
        ..Default::default()
    };
    let bob_id = family
        .share(trip.clone(), bob.recipient(), opts.clone())
        .await
        .map_err(vault_error)?;
    family
        .share(trip.clone(), carol.recipient(), opts)
        .await
        .map_err(vault_error)?;
    let mut carol_book = ShareBook::new();
    accept_inbox(&store, &bob, "Bob", &mut bob_book).await?;
    accept_inbox(&store, &carol, "Carol", &mut carol_book).await?;
    let r = family.rotate(&trip).await.map_err(vault_error)?;
    println!(
        "    rotation: epoch {}, {} objects, {} keys re-wrapped, {} bytes written, {} grants delivered",
        r.epoch, r.objects, r.keys, r.bytes_written, r.grants
    );
    let r = family.revoke(&bob_id).await.map_err(vault_error)?;
    println!(
        "    revoking Bob: epoch {}, {} grant(s) delivered (Carol's)",
        r.epoch, r.grants
    );
    family
        .put(b"trip/day3.txt", b"hills".to_vec(), PutOptions::default())
        .await
        .map_err(vault_error)?;
    accept_inbox(&store, &carol, "Carol", &mut carol_book).await?;
    let bob_share = bob_book
        .get(&bob_id)
        .cloned()
        .ok_or_else(|| CliError::other("Bob's second share is missing"))?;
    match bob_reads(&store, &bob_share, b"trip/day3.txt").await {
        Err(e) => println!("    Bob reads trip/day3.txt   → refused: {e}"),
        Ok(_) => println!("    Bob reads trip/day3.txt   → ACCEPTED (this is a bug)"),
    }
    for carol_share in carol_book.iter() {
        if let Ok(t) = bob_reads(&store, carol_share, b"trip/day3.txt").await {
            println!("    Carol reads trip/day3.txt: {t:?}");
        }
    }
    println!(
        "    (what Bob already read stays with him: expiry and revocation stop new reads and new versions)"
    );
    cowriting_story(store, family, me, carol, "family").await
}

/// The keys under `prefix` a reader of `share` lists, with their contents.
async fn shared_view<S: AnyStore + ?Sized>(
    store: &Arc<S>,
    share: &Share,
) -> Result<Vec<String>, ShareError> {
    let reader = SharedReader::open(store.clone(), share.clone()).await?;
    let mut out = Vec::new();
    for o in reader.list(&ListRequest::default()).await?.contents {
        let body = reader.get(&o.key).await?;
        out.push(format!("{}={}", text(&o.key), text(&body)));
    }
    Ok(out)
}

async fn owner_view<S: AnyStore + ?Sized>(v: &Vault<S>, prefix: &[u8]) -> CliResult<Vec<String>> {
    let page = v
        .list(&ListRequest {
            prefix: prefix.to_vec(),
            ..Default::default()
        })
        .await
        .map_err(vault_error)?;
    let mut out = Vec::new();
    for o in page.contents {
        let body = v.get(&o.key).await.map_err(vault_error)?;
        out.push(format!("{}={}", text(&o.key), text(&body)));
    }
    Ok(out)
}

/// `coffer demo --store URL`: the co-writing chapter alone, on that store.
async fn cowriting_on(url: &str) -> CliResult {
    let store = StoreUrl::parse(url)?.connect().await?;
    let name = format!("demo-{}-{}", now_ms(), std::process::id());
    println!("coffer demo: the co-writing story on {url} (vault {name})");
    let owner = Identity::generate();
    let carol = Identity::generate();
    let family = Vault::create(store.clone(), owner.clone(), &name, "laptop")
        .await
        .map_err(vault_error)?;
    cowriting_story(store, family, owner, carol, &name).await?;
    println!("\nDone.");
    Ok(())
}

/// Three identities co-write `plans/`: the owner (two devices), Carol and Dan with read-write
/// shares. Everyone works offline, then syncs; all converge. Dan tries to write outside, then
/// is revoked: what he wrote stays, what he writes after is refused.
async fn cowriting_story<S: AnyStore + ?Sized>(
    store: Arc<S>,
    mut family: Vault<S>,
    owner: Identity,
    carol: Identity,
    vault_name: &str,
) -> CliResult {
    let dan = Identity::generate();
    step(
        13,
        "Co-writing: the owner gives Carol and Dan read-write shares of plans/ (7 days).",
    );
    family
        .put(b"plans/menu.txt", b"pasta".to_vec(), PutOptions::default())
        .await
        .map_err(vault_error)?;
    let plans = Scope::Prefix(b"plans/".to_vec());
    let opts = ShareOptions {
        expires_ms: now_ms() + 7 * 86_400_000,
        write: true,
        ..Default::default()
    };
    family
        .share(plans.clone(), carol.recipient(), opts.clone())
        .await
        .map_err(vault_error)?;
    let dan_id = family
        .share(plans.clone(), dan.recipient(), opts)
        .await
        .map_err(vault_error)?;
    let mut tablet = Vault::open(store.clone(), owner, vault_name, "tablet")
        .await
        .map_err(vault_error)?;
    let (mut carol_book, mut dan_book) = (ShareBook::new(), ShareBook::new());
    accept_inbox(&store, &carol, "Carol", &mut carol_book).await?;
    accept_inbox(&store, &dan, "Dan", &mut dan_book).await?;
    let pick = |book: &ShareBook| {
        book.iter()
            .filter(|s| s.can_write())
            .max_by_key(|s| s.issued_ms())
            .cloned()
            .ok_or_else(|| CliError::other("a read-write share is missing"))
    };
    let (carol_share, dan_share) = (pick(&carol_book)?, pick(&dan_book)?);
    let mut carol_w = SharedWriter::open(store.clone(), carol.clone(), carol_share.clone())
        .await
        .map_err(share_err)?;
    let mut dan_w = SharedWriter::open(store.clone(), dan.clone(), dan_share.clone())
        .await
        .map_err(share_err)?;

    step(
        14,
        "Everyone edits offline: Carol and Dan both change the menu, Dan adds a list, the owner's tablet adds a date.",
    );
    carol_w
        .put(b"plans/menu.txt", b"pizza", None)
        .await
        .map_err(share_err)?;
    dan_w
        .put(b"plans/menu.txt", b"salad", None)
        .await
        .map_err(share_err)?;
    dan_w
        .put(b"plans/shopping.txt", b"tomatoes", None)
        .await
        .map_err(share_err)?;
    tablet
        .put(
            b"plans/date.txt",
            b"saturday".to_vec(),
            PutOptions::default(),
        )
        .await
        .map_err(vault_error)?;
    match dan_w.put(b"taxes/2026.pdf", b"oops", None).await {
        Err(e) => println!("    Dan writes taxes/2026.pdf → refused: {e}"),
        Ok(_) => println!("    Dan writes taxes/2026.pdf → ACCEPTED (this is a bug)"),
    }

    step(
        15,
        "They sync in any order (co-writers publish their signed heads, the owner's devices merge them).",
    );
    dan_w.commit().await.map_err(share_err)?;
    tablet.sync().await.map_err(vault_error)?;
    carol_w.commit().await.map_err(share_err)?;
    family.sync().await.map_err(vault_error)?;
    tablet.sync().await.map_err(vault_error)?;
    family.sync().await.map_err(vault_error)?;
    let laptop_sees = owner_view(&family, b"plans/").await?;
    let tablet_sees = owner_view(&tablet, b"plans/").await?;
    let carol_sees = shared_view(&store, &carol_share).await.map_err(share_err)?;
    let dan_sees = shared_view(&store, &dan_share).await.map_err(share_err)?;
    println!("    the laptop sees: {}", laptop_sees.join("  "));
    println!(
        "    everyone converged: {}",
        laptop_sees == tablet_sees && laptop_sees == carol_sees && laptop_sees == dan_sees
    );
    let versions = family
        .versions(b"plans/menu.txt")
        .await
        .map_err(vault_error)?;
    println!(
        "    plans/menu.txt keeps {} versions (the concurrent edit that lost is one of them)",
        versions.len()
    );

    step(
        16,
        "The owner revokes Dan's write share: what he wrote stays, his later writes are refused.",
    );
    dan_w
        .put(b"plans/shopping.txt", b"tomatoes, basil", None)
        .await
        .map_err(share_err)?;
    dan_w.commit().await.map_err(share_err)?;
    family.revoke(&dan_id).await.map_err(vault_error)?;
    match dan_w.put(b"plans/shopping.txt", b"nothing", None).await {
        Err(e) => println!("    Dan writes again → refused: {e}"),
        Ok(_) => println!("    Dan writes again → ACCEPTED (this is a bug)"),
    }
    println!(
        "    the owner still reads Dan's last edit: {:?}",
        text(
            &family
                .get(b"plans/shopping.txt")
                .await
                .map_err(vault_error)?
        )
    );
    accept_inbox(&store, &carol, "Carol", &mut carol_book).await?;
    let carol_share = pick(&carol_book)?;
    let mut carol_w = SharedWriter::open(store.clone(), carol.clone(), carol_share.clone())
        .await
        .map_err(share_err)?;
    carol_w
        .put(b"plans/date.txt", b"sunday", None)
        .await
        .map_err(share_err)?;
    carol_w.commit().await.map_err(share_err)?;
    family.sync().await.map_err(vault_error)?;
    println!(
        "    Carol (re-granted into the new epoch) moves the date: the owner reads {:?}",
        text(&family.get(b"plans/date.txt").await.map_err(vault_error)?)
    );
    Ok(())
}

fn report(what: &str, err: Option<VaultError>) {
    match err {
        Some(e) => println!("    {what:<26} → refused: {e}"),
        None => println!("    {what:<26} → ACCEPTED (this is a bug)"),
    }
}
