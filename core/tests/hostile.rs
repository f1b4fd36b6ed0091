//! The hostile-store suite: random workloads (three owner devices, two recipients, puts, deletes,
//! syncs, shares, rotations, revocations, reads) against a store that attacks at random
//! (`coffer::store::HostileStore`: replayed, omitted and swapped heads, substituted, truncated
//! and inflated blocks and ranges, overwritten inbox entries, failed writes), and the invariants
//! that must hold whatever it does:
//!
//! 1. every read returns bytes that were put under that key, or a typed error: never other bytes;
//! 2. a device never goes back: what it reads of another device's keys never gets older;
//! 3. no key outside a share's scope reaches a recipient, and every key a recipient's keyring holds
//!    opens the block it is filed under (no other object's key);
//! 4. a recipient never reads anything written after its share was revoked;
//! 5. nothing panics; and once the store behaves again, every committed object reads back.
//!
//! `COFFER_HOSTILE_OPS` sets the number of operations (default 10,000), `COFFER_HOSTILE_SEED` the
//! seed (default: from the clock, printed: rerun with it to reproduce).
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use coffer::keys::Identity;
use coffer::share::{Scope, Share, ShareBook, SharedReader, read_inbox};
use coffer::store::MemoryStore;
use coffer::store::hostile::{Attack, HeadName, HostileStore, RandomAttacks};
use coffer::trust::MemoryTrust;
use coffer::vault::{PutOptions, ShareOptions, Vault, VaultOptions};
use futures_executor::block_on;

/// What the suite needs of the store under the hostile wrapper.
trait Inner: coffer::store::BlockStore + coffer::store::HeadStore + 'static {}
impl<T: coffer::store::BlockStore + coffer::store::HeadStore + 'static> Inner for T {}

/// SplitMix64: the workload's own randomness, from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A device: its vault (when open) and its trust memory (which survives reopening).
struct Device<S: Inner> {
    name: String,
    vault: Option<Vault<HostileStore<S>>>,
    trust: Arc<MemoryTrust>,
    /// What it read last of other devices' own keys: key → counter.
    seen: BTreeMap<String, u64>,
    /// Its own keys (only it writes them): what it last committed (`None`: deleted).
    own: BTreeMap<String, Option<Vec<u8>>>,
}

/// Everything put: key → every content put under it (contents are unique).
#[derive(Default)]
struct Ledger {
    contents: BTreeMap<String, BTreeSet<Vec<u8>>>,
    /// Contents put in `shared/` after the revocation of bob's share (bob must never read them).
    after_revocation: BTreeSet<Vec<u8>>,
    /// Committed puts per key, in commit order (the last is what an honest sync must converge to
    /// for keys only one device writes).
    committed: BTreeMap<String, Vec<Vec<u8>>>,
}

fn content(key: &str, counter: u64) -> Vec<u8> {
    // Unique, and long enough now and then to cross a 16 KiB group and a 64 KiB segment.
    let len = if counter.is_multiple_of(7) {
        70_000
    } else {
        40
    };
    let mut v = format!("{key}#{counter}#").into_bytes();
    v.resize(len, (counter % 251) as u8);
    v
}

fn counter_of(bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(&bytes[..bytes.len().min(80)]).ok()?;
    let mut parts = text.split('#');
    parts.next()?;
    parts.next()?.parse().ok()
}

async fn open<S: Inner>(store: &Arc<HostileStore<S>>, d: &mut Device<S>, owner: &Identity) {
    if d.vault.is_some() {
        return;
    }
    let opts = VaultOptions {
        trust: Some(d.trust.clone()),
        ..Default::default()
    };
    // Open, never create: a store that hides every head must not make a device start a second
    // vault under the same name (with create, a device that never saw the vault would).
    if let Ok(v) =
        Vault::open_with_options(store.clone(), owner.clone(), "v", &d.name, None, opts).await
    {
        d.vault = Some(v);
    }
}

struct Run<S: Inner> {
    rng: Rng,
    store: Arc<HostileStore<S>>,
    owner: Identity,
    bob: Identity,
    devices: Vec<Device<S>>,
    ledger: Ledger,
    counter: u64,
    bob_share: Option<coffer::share::ShareId>,
    revoked: bool,
    violations: Vec<String>,
    /// The sealed object of each key's last committed put.
    data: BTreeMap<String, coffer::block::Cid>,
    /// What happened, for the report of a violation (`COFFER_HOSTILE_LOG=1`).
    log: Vec<String>,
}

impl<S: Inner> Run<S> {
    fn check_content(&mut self, who: &str, key: &str, bytes: &[u8]) {
        let ok = self
            .ledger
            .contents
            .get(key)
            .is_some_and(|set| set.contains(bytes));
        if !ok {
            self.violations
                .push(format!("{who} read {key} and got bytes never put under it"));
        }
    }

    async fn step(&mut self) {
        let op = self.rng.below(100);
        let d = self.rng.below(self.devices.len() as u64) as usize;
        let owner = self.owner.clone();
        open(&self.store, &mut self.devices[d], &owner).await;
        match op {
            // A put of this device's own key or of a shared key.
            0..=34 => {
                self.counter += 1;
                let key = if self.rng.below(3) == 0 {
                    format!("shared/{}", self.rng.below(4))
                } else {
                    let n = self.rng.below(3);
                    format!("own/{}/{n}", self.devices[d].name)
                };
                let body = content(&key, self.counter);
                self.ledger
                    .contents
                    .entry(key.clone())
                    .or_default()
                    .insert(body.clone());
                // The guarantee: what a device writes once it knows of the revocation is never
                // readable with the revoked share. (A device that has not yet seen it, because it
                // has not synced, or because the store hides the newer share record from a
                // device that never saw it, still publishes into the old epoch: documented.)
                // (A share whose grant failed to reach the inbox still exists, and the test may
                // have shared again: only when every share to bob is revoked is he cut off.)
                let bob = self.bob.recipient().clone();
                let knows = self.devices[d].vault.as_ref().is_some_and(|v| {
                    let to_bob: Vec<_> = v.shares().into_iter().filter(|s| s.to == bob).collect();
                    !to_bob.is_empty()
                        && to_bob
                            .iter()
                            .all(|s| s.status == coffer::vault::ShareStatus::Revoked)
                });
                if knows && key.starts_with("shared/") {
                    self.ledger.after_revocation.insert(body.clone());
                }
                let put = match self.devices[d].vault.as_mut() {
                    Some(v) => v
                        .put(key.as_bytes(), body.clone(), PutOptions::default())
                        .await
                        .ok(),
                    None => None,
                };
                self.log.push(format!(
                    "{} put {key} #{} knows_revocation={knows} ok={}",
                    self.devices[d].name,
                    self.counter,
                    put.is_some()
                ));
                if let Some(info) = put {
                    if let Ok(cid) = info.data.parse() {
                        self.data.insert(key.clone(), cid);
                    }
                    if key.starts_with("own/") {
                        self.devices[d].own.insert(key.clone(), Some(body.clone()));
                    }
                    self.ledger.committed.entry(key).or_default().push(body);
                }
            }
            35..=44 => {
                let key = format!("own/{}/{}", self.devices[d].name, self.rng.below(3));
                if let Some(v) = self.devices[d].vault.as_mut()
                    && v.delete(key.as_bytes()).await.is_ok()
                {
                    self.devices[d].own.insert(key, None);
                }
            }
            45..=64 => {
                if let Some(v) = self.devices[d].vault.as_mut() {
                    let r = v.sync().await.map(|_| ());
                    let err = v.share_publish_error().map(str::to_string);
                    self.log.push(format!(
                        "{} sync -> {r:?}, publish error {err:?}",
                        self.devices[d].name
                    ));
                }
            }
            // This device's own keys read back as it last committed them (after restarts too).
            65..=69 => {
                let name = self.devices[d].name.clone();
                let own: Vec<(String, Option<Vec<u8>>)> = self.devices[d]
                    .own
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let Some(v) = self.devices[d].vault.as_ref() else {
                    return;
                };
                for (key, want) in own {
                    match (v.get(key.as_bytes()).await, want) {
                        (Ok(got), Some(want)) if got != want => self.violations.push(format!(
                            "{name} read its own {key} as an older or other value"
                        )),
                        (Ok(_), None) => self
                            .violations
                            .push(format!("{name}'s own {key} is back after its delete")),
                        (Err(coffer::vault::VaultError::NotFound), Some(_)) => self
                            .violations
                            .push(format!("{name}'s own {key} is gone without a delete")),
                        _ => {}
                    }
                }
            }
            // Reads: the whole listing, each value checked and monotonic per other device's key.
            70..=79 => {
                let Some(v) = self.devices[d].vault.as_ref() else {
                    return;
                };
                let Ok(page) = v.list(&coffer::vault::ListRequest::default()).await else {
                    return;
                };
                let mut reads = Vec::new();
                for o in page.contents.iter().take(6) {
                    let key = String::from_utf8_lossy(&o.key).into_owned();
                    if self.rng.below(2) == 0 {
                        if let Ok(b) = v.get(&o.key).await {
                            reads.push((key, b));
                        }
                    } else if let Ok(b) = v.get_range(&o.key, 0..o.size.min(30)).await {
                        // A range: a prefix of some content put under the key.
                        let ok = self
                            .ledger
                            .contents
                            .get(&key)
                            .is_some_and(|set| set.iter().any(|c| c.starts_with(&b)));
                        if !ok {
                            self.violations
                                .push(format!("a range of {key} is not a prefix of its content"));
                        }
                    }
                }
                let name = self.devices[d].name.clone();
                for (key, b) in reads {
                    self.check_content(&name, &key, &b);
                    let other =
                        key.starts_with("own/") && !key.starts_with(&format!("own/{name}/"));
                    if other && let Some(c) = counter_of(&b) {
                        let last = self.devices[d].seen.entry(key.clone()).or_insert(0);
                        if c < *last {
                            self.violations
                                .push(format!("{name} went back on {key}: {c} after {last}"));
                        }
                        *last = (*last).max(c);
                    }
                }
            }
            // Sharing: share shared/ with bob, rotate, revoke.
            80..=84 => {
                let bob = self.bob.recipient().clone();
                if let Some(v) = self.devices[d].vault.as_mut() {
                    if self.bob_share.is_none() && !self.revoked {
                        let opts = ShareOptions {
                            expires_ms: coffer::vault::now_ms() + 86_400_000,
                            ..Default::default()
                        };
                        if let Ok(id) = v
                            .share(Scope::Prefix(b"shared/".to_vec()), &bob, opts)
                            .await
                        {
                            self.bob_share = Some(id);
                        }
                    } else if let (Some(id), false) = (self.bob_share, self.revoked) {
                        if self.rng.below(3) == 0 {
                            let r = v.revoke(&id).await;
                            self.log
                                .push(format!("{} revoke -> {r:?}", self.devices[d].name));
                            if r.is_ok() {
                                self.revoked = true;
                            }
                        } else {
                            // Sometimes the store answers a shared object's header with a
                            // private object's while the owner re-wraps keys (finding 3).
                            let shared = self.data.iter().find(|(k, _)| k.starts_with("shared/"));
                            let private = self.data.iter().find(|(k, _)| k.starts_with("own/"));
                            if let (Some((_, s)), Some((_, p)), 0) =
                                (shared, private, self.rng.below(2))
                            {
                                self.store.arm(Attack::SubstituteBlock {
                                    target: *s,
                                    with: *p,
                                });
                            }
                            let _ = v.rotate(&Scope::Prefix(b"shared/".to_vec())).await;
                            self.store.disarm_all();
                        }
                    }
                }
            }
            // Bob reads what his inbox gives him.
            85..=92 => self.bob_reads().await,
            // A device restarts (keeps its trust memory), sometimes while the store serves an old
            // head of it, or none: the device must refuse rather than start from the past.
            93..=95 => {
                let own = self.devices[d]
                    .vault
                    .as_ref()
                    .map(|v| coffer::vault::writer_name(v.writer()));
                self.devices[d].vault = None;
                if let Some(name) = own {
                    let head = HeadName::new("v", name);
                    let versions = self.store.head_history(&head).len() as u64;
                    match self.rng.below(3) {
                        0 if versions > 1 => self.store.arm_once(Attack::ReplayHead {
                            head,
                            version: self.rng.below(versions - 1) as usize,
                        }),
                        1 => self.store.arm_once(Attack::OmitHead { head }),
                        _ => {}
                    }
                }
                open(&self.store, &mut self.devices[d], &owner).await;
                self.store.disarm_all();
            }
            // Explicit attacks on heads: replay an old one, swap two, omit one, once each.
            _ => self.arm_head_attack(),
        }
    }

    fn arm_head_attack(&mut self) {
        let heads = self.store.known_heads();
        if heads.is_empty() {
            return;
        }
        let h = heads[self.rng.below(heads.len() as u64) as usize].clone();
        let attack = match self.rng.below(3) {
            0 => {
                let versions = self.store.head_history(&h).len() as u64;
                Attack::ReplayHead {
                    head: h,
                    version: self.rng.below(versions) as usize,
                }
            }
            1 => {
                let other = heads[self.rng.below(heads.len() as u64) as usize].clone();
                Attack::SwapHead {
                    source: other,
                    target: h,
                }
            }
            _ => Attack::OmitHead { head: h },
        };
        self.store.arm_once(attack);
    }

    async fn bob_reads(&mut self) {
        let Ok(entries) = read_inbox(&*self.store, &self.bob).await else {
            return;
        };
        let mut book = ShareBook::new();
        let mut shares: Vec<Share> = Vec::new();
        for e in entries {
            if let Ok(s) = e.share {
                let _ = book.accept(s.clone(), coffer::vault::now_ms());
                shares.push(s);
            }
        }
        for share in book.iter() {
            let Ok(reader) = SharedReader::open(self.store.clone(), share.clone()).await else {
                continue;
            };
            // Every key of the keyring opens the block it is filed under (checked on the honest
            // store): the owner never wrapped another object's key.
            for cid in reader.audit_keyring(self.store.inner()).await {
                self.violations.push(format!(
                    "bob's keyring holds a key that does not open {cid}"
                ));
            }
            for key in [
                "shared/0", "shared/1", "shared/2", "shared/3", "own/d0/0", "own/d1/0",
            ] {
                if let Ok(b) = reader.get(key.as_bytes()).await {
                    {
                        if !key.starts_with("shared/") {
                            self.violations
                                .push(format!("bob read {key} outside his scope"));
                        }
                        self.check_content("bob", key, &b);
                        if self.ledger.after_revocation.contains(&b) {
                            self.violations.push(format!(
                                "bob read {key} written after his revocation: #{:?} (grant {})",
                                counter_of(&b),
                                share.grant()
                            ));
                            if self.violations.len() == 1
                                && std::env::var_os("COFFER_HOSTILE_LOG").is_some()
                            {
                                for l in &self.log {
                                    eprintln!("  {l}");
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn random_attacks_never_yield_wrong_data() {
    suite("memory", MemoryStore::new());
}

#[test]
fn random_attacks_on_the_directory_store_never_yield_wrong_data() {
    let dir = tempfile::tempdir().unwrap();
    suite(
        "directory",
        coffer::store::DirStore::open(dir.path()).unwrap(),
    );
}

fn suite<S: Inner>(label: &str, inner: S) {
    let ops: u64 = std::env::var("COFFER_HOSTILE_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let seed: u64 = std::env::var("COFFER_HOSTILE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("hostile suite ({label}): {ops} operations, COFFER_HOSTILE_SEED={seed}");
    let store = Arc::new(HostileStore::new(inner, seed ^ 0x5eed));
    block_on(async {
        let owner = Identity::from_seed(&[0x0a; 32]);
        // The vault exists before the attacks start.
        Vault::create(store.clone(), owner.clone(), "v", "d0")
            .await
            .unwrap();
        store.set_random(RandomAttacks {
            read_rate: 0.05,
            write_failure_rate: 0.02,
            kinds: Vec::new(),
            max_extra: 1 << 20,
        });
        let mut run = Run {
            rng: Rng(seed),
            store: store.clone(),
            owner: owner.clone(),
            bob: Identity::from_seed(&[0x0b; 32]),
            devices: (0..3)
                .map(|i| Device {
                    name: format!("d{i}"),
                    vault: None,
                    trust: Arc::new(MemoryTrust::new()),
                    seen: BTreeMap::new(),
                    own: BTreeMap::new(),
                })
                .collect(),
            ledger: Ledger::default(),
            counter: 0,
            bob_share: None,
            revoked: false,
            violations: Vec::new(),
            data: BTreeMap::new(),
            log: Vec::new(),
        };
        for _ in 0..ops {
            run.step().await;
        }
        let attacks = store.attack_count();
        // The store behaves again: every device catches up and every committed object of each
        // device's own keys reads back as its last committed content (one writer per own key).
        store.disarm_all();
        store.set_random(RandomAttacks::default());
        let mut honest = Vec::new();
        for d in &mut run.devices {
            d.vault = None;
            // A fresh memory: the honest state is newer than anything seen, so nothing refuses it.
            d.trust = Arc::new(MemoryTrust::new());
            let opts = VaultOptions {
                trust: Some(d.trust.clone()),
                ..Default::default()
            };
            let v = match Vault::open_with_options(
                store.clone(),
                owner.clone(),
                "v",
                &d.name,
                None,
                opts,
            )
            .await
            {
                Ok(v) => v,
                Err(e) => {
                    let heads = coffer::store::HeadStore::read_heads(store.inner(), "v")
                        .await
                        .unwrap();
                    #[derive(serde::Deserialize)]
                    struct Env {
                        key: coffer::block::Cid,
                    }
                    for h in heads {
                        let env: Result<Env, _> = coffer::block::from_dag_cbor(&h.bytes);
                        eprintln!("head {} key {:?}", h.writer, env.map(|e| e.key.to_string()));
                    }

                    panic!(
                        "seed {seed}: {} does not open on an honest store: {e}",
                        d.name
                    )
                }
            };
            d.vault = Some(v);
            if let Some(v) = d.vault.as_mut() {
                v.sync().await.unwrap();
            }
        }
        for d in &mut run.devices {
            if let Some(v) = d.vault.as_mut() {
                v.sync().await.unwrap();
                honest.push(v.root());
            }
        }
        assert!(
            honest.windows(2).all(|w| w[0] == w[1]),
            "devices did not converge once the store behaved"
        );
        let v = run.devices[0].vault.as_ref().unwrap();
        for (key, puts) in &run.ledger.committed {
            if !key.starts_with("own/") {
                continue;
            }
            match v.get(key.as_bytes()).await {
                Ok(b) => assert!(
                    puts.contains(&b),
                    "{key}: the converged value was never committed"
                ),
                // Deleted since: fine.
                Err(coffer::vault::VaultError::NotFound) => {}
                Err(e) => panic!("{key}: a committed object does not read back: {e}"),
            }
        }
        eprintln!(
            "hostile suite ({label}): {ops} operations, {attacks} attacks applied, {} keys put, seed {seed}",
            run.ledger.contents.len()
        );
        assert!(
            attacks >= 1_000 || ops < 10_000,
            "too few attacks: {attacks}"
        );
        assert!(
            run.violations.is_empty(),
            "seed {seed}: {} violations, first: {:?}",
            run.violations.len(),
            run.violations.first()
        );
    });
}
