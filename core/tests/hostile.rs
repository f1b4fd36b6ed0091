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
use coffer::store::hostile::{Attack, HeadName, HostileStore, RandomAttacks};
use coffer::store::{BlockStore, HeadStore, MemoryStore};
use coffer::trust::MemoryTrust;
use coffer::vault::{PutOptions, ShareOptions, Vault, VaultOptions};
use futures_executor::block_on;

type Store = HostileStore<MemoryStore>;

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
struct Device {
    name: String,
    vault: Option<Vault<Store>>,
    trust: Arc<MemoryTrust>,
    /// What it read last of other devices' own keys: key → counter.
    seen: BTreeMap<String, u64>,
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
    let len = if counter % 7 == 0 { 70_000 } else { 40 };
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

async fn open(store: &Arc<Store>, d: &mut Device, owner: &Identity) {
    if d.vault.is_some() {
        return;
    }
    let opts = VaultOptions {
        trust: Some(d.trust.clone()),
    };
    if let Ok(v) = Vault::open_with_options(
        store.clone(),
        owner.clone(),
        "v",
        &d.name,
        Some(false),
        opts,
    )
    .await
    {
        d.vault = Some(v);
    }
}

struct Run {
    rng: Rng,
    store: Arc<Store>,
    owner: Identity,
    bob: Identity,
    devices: Vec<Device>,
    ledger: Ledger,
    counter: u64,
    bob_share: Option<coffer::share::ShareId>,
    revoked: bool,
    violations: Vec<String>,
}

impl Run {
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
                    format!("own/{}/{}", self.devices[d].name, self.rng.below(3))
                };
                let body = content(&key, self.counter);
                self.ledger
                    .contents
                    .entry(key.clone())
                    .or_default()
                    .insert(body.clone());
                if self.revoked && key.starts_with("shared/") {
                    self.ledger.after_revocation.insert(body.clone());
                }
                if let Some(v) = self.devices[d].vault.as_mut()
                    && v.put(key.as_bytes(), body.clone(), PutOptions::default())
                        .await
                        .is_ok()
                {
                    self.ledger.committed.entry(key).or_default().push(body);
                }
            }
            35..=44 => {
                if let Some(v) = self.devices[d].vault.as_mut() {
                    let key = format!("own/{}/{}", self.devices[d].name, self.rng.below(3));
                    let _ = v.delete(key.as_bytes()).await;
                }
            }
            45..=64 => {
                if let Some(v) = self.devices[d].vault.as_mut() {
                    let _ = v.sync().await;
                }
            }
            // Reads: the whole listing, each value checked and monotonic per other device's key.
            65..=79 => {
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
                            if v.revoke(&id).await.is_ok() {
                                self.revoked = true;
                            }
                        } else {
                            let _ = v.rotate(&Scope::Prefix(b"shared/".to_vec())).await;
                        }
                    }
                }
            }
            // Bob reads what his inbox gives him.
            85..=92 => self.bob_reads().await,
            // A device restarts (keeps its trust memory).
            93..=95 => self.devices[d].vault = None,
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
                match reader.get(key.as_bytes()).await {
                    Ok(b) => {
                        if !key.starts_with("shared/") {
                            self.violations
                                .push(format!("bob read {key} outside his scope"));
                        }
                        self.check_content("bob", key, &b);
                        if self.ledger.after_revocation.contains(&b) {
                            self.violations
                                .push(format!("bob read {key} written after his revocation"));
                        }
                    }
                    Err(_) => {}
                }
            }
        }
    }
}

#[test]
fn random_attacks_never_yield_wrong_data() {
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
    eprintln!("hostile suite: {ops} operations, COFFER_HOSTILE_SEED={seed}");
    let store = Arc::new(HostileStore::new(MemoryStore::new(), seed ^ 0x5eed));
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
                })
                .collect(),
            ledger: Ledger::default(),
            counter: 0,
            bob_share: None,
            revoked: false,
            violations: Vec::new(),
        };
        for _ in 0..ops {
            run.step().await;
        }
        let attacks = store.attack_count();
        // The store behaves again: every device catches up and every committed object of each
        // device's own keys reads back as its last committed content (one writer per own key).
        store.disarm_all();
        store.set_random(RandomAttacks::default());
        let _ = HeadName::new("v", "x");
        let mut honest = Vec::new();
        for d in &mut run.devices {
            d.vault = None;
            // A fresh memory: the honest state is newer than anything seen, so nothing refuses it.
            d.trust = Arc::new(MemoryTrust::new());
            open(&store, d, &owner).await;
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
            "hostile suite: {ops} operations, {attacks} attacks applied, {} keys put, seed {seed}",
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
