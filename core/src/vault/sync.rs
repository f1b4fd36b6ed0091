//! Reading and verifying writer heads, and merging them.

use super::format::{HeadBody, IndexValue, Manifest};

/// How far back [`Vault::sync`] looks for a merged version among the winner's predecessors.
const ANCESTRY_DEPTH: usize = 64;
use super::{Vault, VaultError, VaultResult, now_ms};
use crate::block::Cid;
use crate::index::Hlc;
use crate::index::{Entry, Mutation};
use crate::keys::Identity;
use crate::store::{BlockStore, HeadStore, HeadVersion};

/// A head whose signature verified, by the vault owner.
#[derive(Clone, Debug)]
pub(crate) struct VerifiedHead {
    pub writer: String,
    pub body: HeadBody,
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
    /// Whether this device has merged its current root (a sync would bring nothing new from it).
    pub merged: bool,
}

/// Every head of `vault`, verified: each must decode, carry its own writer name and the vault's
/// name, be signed by the recipient it names, and that recipient must be `identity`'s. Any head
/// that fails fails the whole read (a forged head is never merged, and never silently skipped);
/// when every head is another identity's, the error is [`VaultError::WrongIdentity`].
pub(crate) async fn read_verified_heads<S: HeadStore + ?Sized>(
    store: &S,
    identity: &Identity,
    vault: &str,
) -> VaultResult<Vec<(VerifiedHead, HeadVersion)>> {
    let heads = store.read_heads(vault).await?;
    let mut out = Vec::with_capacity(heads.len());
    let mut strangers = Vec::new();
    for head in heads {
        let (body, recipient) = HeadBody::decode_verified(&head.writer, &head.bytes)?;
        if &recipient != identity.recipient() {
            strangers.push(head.writer);
            continue;
        }
        if body.vault != vault {
            return Err(VaultError::BadHead {
                writer: head.writer,
                detail: "it names another vault".into(),
            });
        }
        out.push((
            VerifiedHead {
                writer: head.writer,
                body,
            },
            head.version,
        ));
    }
    if let Some(writer) = strangers.into_iter().next() {
        // Every head by someone else: this is another identity's vault.
        if out.is_empty() {
            return Err(VaultError::WrongIdentity);
        }
        return Err(VaultError::UnknownWriter { writer });
    }
    Ok(out)
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// Whether manifest `old` is on the `prev` chain of manifest `new` (looked for up to
    /// [`ANCESTRY_DEPTH`] steps; beyond that it counts as concurrent, which only keeps a
    /// redundant link).
    async fn is_ancestor(&self, old: &Cid, new: &Cid) -> VaultResult<bool> {
        let mut at = *new;
        for _ in 0..ANCESTRY_DEPTH {
            let plain = self.open_sealed(&at).await?;
            let m = Manifest::decode(&plain).map_err(|e| VaultError::corrupt(&at, e))?;
            match m.prev {
                Some(prev) if prev == *old => return Ok(true),
                Some(prev) => at = prev,
                None => return Ok(false),
            }
        }
        Ok(false)
    }

    /// For keys live on both sides with different values, the merge keeps the greater entry; this
    /// returns replacements of it (same time and writer, same manifest) whose `c` also lists the
    /// loser's manifest and `c`, so a concurrent version stays reachable. Deterministic, and a
    /// union, so devices converge: any two values for one (time, writer) are joined again by
    /// the next sync that sees both.
    async fn concurrent_versions(
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
            let (win, wv, lv) = if a > b {
                (&a, IndexValue::decode(av)?, IndexValue::decode(bv)?)
            } else {
                (&b, IndexValue::decode(bv)?, IndexValue::decode(av)?)
            };
            let mut c: Vec<Cid> = wv.c.iter().chain(lv.c.iter()).copied().collect();
            if lv.m != wv.m && !self.is_ancestor(&lv.m, &wv.m).await? {
                c.push(lv.m);
            }
            c.retain(|cid| *cid != wv.m);
            c.sort();
            c.dedup();
            if c == wv.c {
                continue;
            }
            let value = IndexValue { c, ..wv }.encode()?;
            let entry = Entry::live(value, win.time, win.writer);
            fixups.push((change.key, Mutation::Put(entry)));
        }
        Ok(fixups)
    }

    /// Every writer of the vault with what this device has merged of it (verifies every head, like
    /// [`Vault::sync`], but changes nothing).
    pub async fn writers(&self) -> VaultResult<Vec<WriterStatus>> {
        let heads = read_verified_heads(&*self.store, &self.identity, &self.name).await?;
        let mut out: Vec<WriterStatus> = heads
            .into_iter()
            .map(|(head, _)| {
                let is_self = head.writer == self.writer_name;
                let root = head.body.root;
                WriterStatus {
                    merged: is_self
                        || root == self.state.root
                        || self.state.parents.contains(&root),
                    writer: head.writer,
                    seq: head.body.seq,
                    time_ms: Hlc::from_u64(head.body.time).wall_ms(),
                    root,
                    is_self,
                }
            })
            .collect();
        out.sort_by(|a, b| a.writer.cmp(&b.writer));
        Ok(out)
    }

    /// Reads every writer's head, verifies it, merges the other writers' index roots into this
    /// device's (the index CRDT merge: per key the newest entry wins, ties broken by writer id),
    /// and writes this device's head.
    ///
    /// Fails with [`VaultError::BadHeadSignature`] (or [`VaultError::UnknownWriter`],
    /// [`VaultError::BadHead`]) when any head does not verify; nothing is merged then. Any order
    /// of syncs between devices converges to the same root.
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
        self.load_shares().await?;
        let heads = read_verified_heads(&*self.store, &self.identity, &self.name).await?;
        let root_before = self.state.root;
        let mut merged = Vec::new();
        let mut parents = Vec::new();
        let mut root = self.state.root;
        let mut hlc = self.state.hlc;
        for (head, _) in heads {
            if head.writer == self.writer_name {
                continue;
            }
            if head.body.key != self.key_block {
                return Err(VaultError::ConflictingVaultKeys {
                    vault: self.name.clone(),
                });
            }
            let fixups = self.concurrent_versions(&root, &head.body.root).await?;
            root = self.tree.merge(&root, &head.body.root).await?;
            if !fixups.is_empty() {
                root = self.tree.apply(&root, fixups).await?;
            }
            hlc = hlc.observe(Hlc::from_u64(head.body.time), now_ms());
            parents.push(head.body.root);
            merged.push(head.writer);
        }
        merged.sort();
        parents.sort();
        parents.dedup();
        self.state.root = root;
        self.state.hlc = hlc;
        self.state.parents = parents;
        self.commit().await?;
        Ok(SyncReport {
            merged,
            root_before,
            root_after: root,
        })
    }
}
