//! Reading and verifying writer heads (with what this device remembers), and merging them.

use std::collections::BTreeMap;

use super::format::{IndexValue, RootKey};
use super::heads::{self, DecodedHead, Peeked, SkippedHead};
use super::reserved::{self, KeyKind, PurgeValue};

/// How far back [`Vault::sync`] looks for a merged version among the winner's predecessors.
const ANCESTRY_DEPTH: usize = 64;
use super::{Vault, VaultError, VaultResult, now_ms};
use crate::block::Cid;
use crate::index::Hlc;
use crate::index::{Entry, Mutation};
use crate::keys::Identity;
use crate::store::{BlockStore, Head, HeadStore, HeadVersion};
use crate::trust::ServedHead;

/// A head that decoded, verified and is this vault's owner's.
#[derive(Clone, Debug)]
pub(crate) struct VerifiedHead {
    pub writer: String,
    pub head: DecodedHead,
    pub version: HeadVersion,
    /// A final head of a retired owner identity (listed by its handover), not the current
    /// owner's.
    pub retired: bool,
}

/// What [`Vault::sync`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReport {
    /// The other writers whose heads were merged (head-store names).
    pub merged: Vec<String>,
    /// This device's index root before the sync.
    pub root_before: Cid,
    /// This device's index root after it.
    pub root_after: Cid,
    /// Heads that were not used, and why (another identity's, malformed, moved).
    pub skipped: Vec<SkippedHead>,
}

/// One writer (device) of a vault, as its verified head describes it; see [`Vault::writers`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterStatus {
    /// The writer's head-store name.
    pub writer: String,
    /// How many heads it has written.
    pub seq: u64,
    /// Its clock at its last head (ms since the Unix epoch).
    pub time_ms: u64,
    /// Its index root.
    pub root: Cid,
    /// Whether it is this device.
    pub is_self: bool,
    /// Whether this device has merged its current head (a sync would bring nothing new from it).
    pub merged: bool,
    /// The head's format version (1 for a device that has not written since format v2).
    pub format: u8,
}

/// The vault key found from the heads of a vault.
pub(crate) enum VaultKey {
    /// No head names a key block this identity opens.
    None {
        skipped: Vec<SkippedHead>,
        /// Some heads are another identity's (the vault is not this identity's).
        strangers: bool,
        /// Heads name a key block that is missing or damaged: the vault exists, it cannot be
        /// opened (never "no such vault", never a new vault over it).
        damaged: Option<VaultError>,
    },
    /// One key block opens.
    Found {
        key: RootKey,
        cid: Cid,
        skipped: Vec<SkippedHead>,
    },
}

/// Finds the vault's key block from its heads (v2 heads name it in the clear; v1 heads are
/// signed bodies) and opens it. Heads whose key block is another identity's, missing or damaged
/// are skipped. Two key blocks that both open are [`VaultError::ConflictingVaultKeys`], unless
/// this device already knows the vault's key block (`known`, from its trust state): then the
/// heads of the other are skipped and reported (a second vault made under the same name, e.g.
/// by a device a hostile store showed no heads to).
pub(crate) async fn find_vault_key<S: BlockStore + ?Sized>(
    store: &S,
    identity: &Identity,
    vault: &str,
    raw: &[Head],
    known: Option<Cid>,
) -> VaultResult<VaultKey> {
    let mut skipped = Vec::new();
    let mut strangers = false;
    let mut candidates: BTreeMap<Cid, Vec<String>> = BTreeMap::new();
    for h in raw {
        match heads::peek(&h.writer, &h.bytes) {
            Ok(Peeked::V2 { key }) => candidates.entry(key).or_default().push(h.writer.clone()),
            Ok(Peeked::V1 { head, signer }) => {
                if !signer.same_identity(identity.recipient()) {
                    strangers = true;
                    skipped.push(skip(&h.writer, "signed by another identity"));
                } else if head.body.vault != vault {
                    skipped.push(skip(&h.writer, "it names another vault"));
                } else {
                    candidates
                        .entry(head.body.key)
                        .or_default()
                        .push(h.writer.clone());
                }
            }
            Err(reason) => skipped.push(skip(&h.writer, &reason)),
        }
    }
    // Heads under a key block this identity cannot open: another identity's vault, or (after an
    // identity rotation) the same vault under a retired or a newer owner, which the head key
    // tells apart once the vault key is known.
    let mut foreign = Vec::new();
    // After an identity rotation the key block this device knew may be sealed to the retired
    // identity: it then no longer decides (the chain of handovers does, in `rotate.rs`).
    let known = match known {
        Some(k) if candidates.contains_key(&k) => {
            match super::open_root_key(store, identity, &k).await {
                Err(VaultError::WrongIdentity) => None,
                _ => Some(k),
            }
        }
        other => other,
    };
    if let Some(k) = known
        && candidates.contains_key(&k)
    {
        // Heads of another key block are read once the vault key is known (a head that does not
        // decrypt with it is another vault's; one that does is judged by the handover chain).
        for (cid, writers) in candidates.iter().filter(|(c, _)| **c != k) {
            for w in writers {
                foreign.push(skip(
                    w,
                    &format!("it names another vault key ({cid}) than the one this device knows"),
                ));
            }
        }
        candidates.retain(|c, _| *c == k);
    }
    let mut found: Option<(RootKey, Cid)> = None;
    let mut damaged = None;
    for (cid, writers) in candidates {
        match super::open_root_key(store, identity, &cid).await {
            Ok(key) => {
                if found.is_some() {
                    return Err(VaultError::ConflictingVaultKeys {
                        vault: vault.to_string(),
                    });
                }
                found = Some((key, cid));
            }
            Err(VaultError::WrongIdentity) => {
                strangers = true;
                for w in writers {
                    foreign.push(skip(&w, "its vault key is another identity's"));
                }
            }
            Err(VaultError::Corrupt { detail, .. }) => {
                for w in writers {
                    skipped.push(skip(&w, &format!("its vault key block {cid}: {detail}")));
                }
                damaged = Some(VaultError::corrupt(&cid, detail));
            }
            Err(other) => return Err(other),
        }
    }
    Ok(match found {
        Some((key, cid)) => VaultKey::Found { key, cid, skipped },
        None => VaultKey::None {
            skipped: skipped.into_iter().chain(foreign).collect(),
            strangers,
            damaged,
        },
    })
}

fn skip(writer: &str, reason: &str) -> SkippedHead {
    SkippedHead {
        writer: writer.to_string(),
        reason: reason.to_string(),
    }
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// Whether manifest `old` is on the `prev` chain of manifest `new` (looked for up to
    /// [`ANCESTRY_DEPTH`] steps, not past the cut points `cut` nor a manifest the store no longer
    /// has; beyond that it counts as concurrent, which only keeps a redundant link).
    async fn is_ancestor(
        &self,
        key: &[u8],
        old: &Cid,
        new: &Cid,
        cut: &[Cid],
    ) -> VaultResult<bool> {
        let mut at = *new;
        for _ in 0..ANCESTRY_DEPTH {
            let Some(m) = self.history_manifest(&at, key).await? else {
                return Ok(false);
            };
            match m.prev {
                Some(prev) if prev == *old => return Ok(true),
                Some(prev) if cut.contains(&prev) => return Ok(false),
                Some(prev) => at = prev,
                None => return Ok(false),
            }
        }
        Ok(false)
    }

    /// For keys live on both sides with different values, the merge keeps the greater entry; this
    /// returns replacements of it (same time and writer, same manifest) whose `c` also lists the
    /// loser's manifest and `c`, and whose cut points `p` are the union of both sides' (for a
    /// purge record: whose purged versions are), so a concurrent version stays reachable and a
    /// pruned one stays pruned. Deterministic, and a union, so devices converge: any two values
    /// for one (time, writer) are joined again by the next sync that sees both.
    pub(super) async fn concurrent_versions(
        &self,
        local: &Cid,
        remote: &Cid,
    ) -> VaultResult<Vec<(Vec<u8>, Mutation)>> {
        let (changes, _) = self.tree.diff(local, remote).collect().await?;
        let mut fixups = Vec::new();
        for change in changes {
            let (Some(a), Some(b)) = (change.old, change.new) else {
                continue;
            };
            let (Some(av), Some(bv)) = (a.value(), b.value()) else {
                continue;
            };
            if av == bv {
                continue;
            }
            let (win, wb, lb) = if a > b { (&a, av, bv) } else { (&b, bv, av) };
            let value = match reserved::classify(&change.key) {
                KeyKind::User | KeyKind::Grave => {
                    let (wv, lv) = (IndexValue::decode(wb)?, IndexValue::decode(lb)?);
                    let p = reserved::union(&wv.p, &lv.p);
                    let mut c: Vec<Cid> = wv.c.iter().chain(lv.c.iter()).copied().collect();
                    let key = match &wv.k {
                        Some(k) => k.to_vec(),
                        None => change.key.clone(),
                    };
                    if lv.m != wv.m && !self.is_ancestor(&key, &lv.m, &wv.m, &p).await? {
                        c.push(lv.m);
                    }
                    c.retain(|cid| *cid != wv.m);
                    c.sort();
                    c.dedup();
                    if c == wv.c && p == wv.p {
                        continue;
                    }
                    IndexValue { c, p, ..wv }.encode()?
                }
                KeyKind::Purge => {
                    let (wv, lv) = (PurgeValue::decode(wb)?, PurgeValue::decode(lb)?);
                    let x = reserved::union(&wv.x, &lv.x);
                    if x == wv.x {
                        continue;
                    }
                    PurgeValue { x, ..wv }.encode()?
                }
                KeyKind::Unknown => continue,
            };
            let entry = Entry::live(value, win.time, win.writer);
            fixups.push((change.key, Mutation::Put(entry)));
        }
        Ok(fixups)
    }

    /// Decrypts and verifies `raw` heads of this vault: those that fail, or are not the owner's,
    /// are skipped (added to `skipped`); then what is left is checked against what this device
    /// saw before ([`crate::trust`]) and remembered.
    pub(crate) async fn verify_heads(
        &mut self,
        raw: Vec<Head>,
        skipped: &mut Vec<SkippedHead>,
    ) -> VaultResult<Vec<VerifiedHead>> {
        let mut decoded = Vec::with_capacity(raw.len());
        let mut versions = BTreeMap::new();
        for h in raw {
            if skipped.iter().any(|s| s.writer == h.writer) {
                continue;
            }
            match heads::open(&self.head_key, &self.name, &h.writer, &h.bytes) {
                Err(reason) => {
                    let foreign = matches!(
                        heads::peek(&h.writer, &h.bytes),
                        Ok(Peeked::V2 { key }) if key != self.key_block
                    );
                    let reason = if foreign {
                        "its vault key is another identity's".to_string()
                    } else {
                        reason
                    };
                    skipped.push(skip(&h.writer, &reason));
                }
                Ok((head, signer)) => {
                    versions.insert(h.writer.clone(), h.version);
                    decoded.push((h.writer, head, signer));
                }
            }
        }
        // The chain of identity handovers decides which signers are owners (`rotate.rs`).
        let bad = self.resolve_chain(&decoded).await?;
        let mut out = Vec::with_capacity(decoded.len());
        let mut retired_writers = Vec::new();
        for (writer, head, signer) in decoded {
            match self.admit(&writer, &head, &signer, &bad) {
                Ok(admission) => {
                    let retired = matches!(admission, super::rotate::Admission::Final);
                    if retired {
                        retired_writers.push(writer.clone());
                    }
                    let Some(version) = versions.remove(&writer) else {
                        continue;
                    };
                    out.push(VerifiedHead {
                        writer,
                        head,
                        version,
                        retired,
                    });
                }
                Err(reason) => {
                    if self.retired_signer(&signer) {
                        retired_writers.push(writer.clone());
                    }
                    skipped.push(skip(&writer, &reason));
                }
            }
        }
        // Writers frozen by a handover are checked at what it lists (or what this device saw
        // later): their content is in the new owner's heads, and a head the old identity wrote
        // after the handover neither rolls the device back nor counts as hiding the writer.
        let mut claims_now: BTreeMap<String, u64> = BTreeMap::new();
        for h in &out {
            for (w, s) in &h.head.body.vv {
                let c = claims_now.entry(w.clone()).or_insert(0);
                *c = (*c).max(*s);
            }
        }
        let mut frozen = self.frozen_writers(&claims_now);
        for w in &retired_writers {
            if !frozen.contains_key(w)
                && let Some(seen) = self.seen.writers.get(w)
            {
                frozen.insert(w.clone(), (seen.seq, *seen.digest));
            }
        }
        let empty = BTreeMap::new();
        let mut served: Vec<ServedHead<'_>> = out
            .iter()
            .filter(|h| !frozen.contains_key(&h.writer))
            .map(|h| ServedHead {
                writer: &h.writer,
                seq: h.head.body.seq,
                digest: h.head.digest,
                claims: &h.head.body.vv,
            })
            .collect();
        for (w, (seq, digest)) in &frozen {
            served.push(ServedHead {
                writer: w,
                seq: *seq,
                digest: *digest,
                claims: &empty,
            });
        }
        self.seen.check(&served)?;
        self.seen.record(&served);
        if let Some(last) = self.chain.last() {
            self.seen.ho = Some(last.cid);
            self.seen.hn = last.body.n;
        }
        // Share records other writers saw: the registry read that follows must not be older.
        for h in &out {
            for (name, ctr) in &h.head.body.rec {
                let seen = self
                    .seen
                    .records
                    .entry(format!("share:{name}"))
                    .or_insert(0);
                *seen = (*seen).max(*ctr);
            }
        }
        self.seen.key = Some(self.key_block);
        self.seen
            .save(&*self.trust, &super::trust_name(&self.name))
            .await?;
        Ok(out)
    }

    /// Reads and verifies every head of the vault (see [`Vault::verify_heads`]).
    pub(crate) async fn read_verified(&mut self) -> VaultResult<Vec<VerifiedHead>> {
        let raw = self.store.read_heads(&self.name).await?;
        let mut skipped = Vec::new();
        let heads = self.verify_heads(raw, &mut skipped).await?;
        self.skipped = skipped;
        Ok(heads)
    }

    /// Every writer of the vault with what this device has merged of it (verifies every head, like
    /// [`Vault::sync`], and remembers them, but changes nothing in the vault).
    pub async fn writers(&mut self) -> VaultResult<Vec<WriterStatus>> {
        let heads = self.read_verified().await?;
        let mut out: Vec<WriterStatus> = heads
            .into_iter()
            .map(|h| {
                let is_self = h.writer == self.writer_name;
                let body = &h.head.body;
                WriterStatus {
                    merged: is_self
                        || body.root == self.state.root
                        || self.state.vv.get(&h.writer).is_some_and(|s| *s >= body.seq),
                    seq: body.seq,
                    time_ms: Hlc::from_u64(body.time).wall_ms(),
                    root: body.root,
                    is_self,
                    format: body.v,
                    writer: h.writer,
                }
            })
            .collect();
        out.sort_by(|a, b| a.writer.cmp(&b.writer));
        Ok(out)
    }

    /// Reads every writer's head, verifies it, merges the other writers' index roots into this
    /// device's (the index CRDT merge: per key the newest entry wins, ties broken by writer id),
    /// and writes this device's head with the version vector of what it merged.
    ///
    /// Heads that are not this vault owner's (or do not decode) are skipped and reported in
    /// [`SyncReport::skipped`]. A store that serves an older head than this device saw, a forked
    /// one, or hides a writer seen before, fails with [`VaultError::Trust`]; nothing is merged
    /// then. Any order of syncs between devices converges to the same root.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, Vault}};
    /// # futures_executor::block_on(async {
    /// let store = Arc::new(MemoryStore::new());
    /// let me = Identity::generate();
    /// let mut laptop = Vault::create(store.clone(), me.clone(), "v", "laptop").await?;
    /// let mut phone = Vault::open(store, me, "v", "phone").await?;
    /// laptop.put(b"a", b"from the laptop".to_vec(), PutOptions::default()).await?;
    /// phone.put(b"b", b"from the phone".to_vec(), PutOptions::default()).await?; // offline
    /// let report = phone.sync().await?;
    /// assert_eq!(report.merged.len(), 1);
    /// laptop.sync().await?;
    /// assert_eq!(laptop.root(), phone.root()); // converged
    /// assert!(phone.writers().await?.iter().all(|w| w.merged));
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn sync(&mut self) -> VaultResult<SyncReport> {
        super::gc::retry_gc!(self.sync_once().await)
    }

    async fn sync_once(&mut self) -> VaultResult<SyncReport> {
        // Heads first: they carry the share-record counters other devices saw, which the registry
        // read must then match or exceed.
        let heads = self.read_verified().await?;
        self.load_shares().await?;
        let root_before = self.state.root;
        let mut merged = Vec::new();
        let mut root = self.state.root;
        let mut hlc = self.state.hlc;
        let mut vv = self.state.vv.clone();
        for h in heads {
            if h.writer == self.writer_name {
                continue;
            }
            let body = &h.head.body;
            let already = vv.get(&h.writer).is_some_and(|s| *s >= body.seq);
            if !already && root != body.root {
                let fixups = self.concurrent_versions(&root, &body.root).await?;
                root = self.tree.merge(&root, &body.root).await?;
                if !fixups.is_empty() {
                    root = self.tree.apply(&root, fixups).await?;
                }
                merged.push(h.writer.clone());
            }
            // The retention policy register: the newest setting wins.
            if let Some(pol) = &body.pol
                && self
                    .state
                    .pol
                    .as_ref()
                    .is_none_or(|mine| (pol.t, pol.c) > (mine.t, mine.c))
            {
                self.state.pol = Some(pol.clone());
            }
            hlc = hlc.observe(Hlc::from_u64(body.time), now_ms());
            let e = vv.entry(h.writer.clone()).or_insert(0);
            *e = (*e).max(body.seq);
            for (w, s) in &body.vv {
                if *w != self.writer_name {
                    let e = vv.entry(w.clone()).or_insert(0);
                    *e = (*e).max(*s);
                }
            }
        }
        // What the co-writers of shared scopes committed (read-write shares).
        let (root, hlc) = self.pull_cowriters(root, hlc).await?;
        merged.sort();
        self.state.root = root;
        self.state.hlc = hlc;
        self.state.vv = vv;
        self.commit().await?;
        Ok(SyncReport {
            merged,
            root_before,
            root_after: root,
            skipped: self.skipped.clone(),
        })
    }
}
