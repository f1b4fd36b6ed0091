//! Pruning: applying the retention policy, purging keys, and collecting garbage
//! (`docs/decisions.md`, "Retention and garbage collection").
//!
//! [`Vault::prune`] runs in three steps:
//! 1. **Sync and apply the policy.** The device merges every head, then for each key whose rule
//!    expires anything it computes the key's new cut points (`p` in the index value: a version
//!    walk stops before them) and removes expired graveyards; one commit. Entries keep their
//!    time and writer, so listings' `last_modified` does not move and other devices' merges
//!    join the cut points in (a set union, like `c`).
//! 2. **Mark.** It announces a collection in the GC record (`idle → mark`), waits the grace
//!    period `T`, reads every head of the vault (every device, v1 heads too) and marks what they
//!    reach: index nodes, every value's current version (manifest, data, outboard, tags) and its
//!    history up to the cut points (its own and those this device's merged index holds for the
//!    key), except versions taken out by a purge; the key block and policy blocks; every share
//!    epoch's views (index nodes, the index they were made from, the values' current versions)
//!    and keyring chunks; live version shares' versions; the candidate list of the last
//!    collection.
//! 3. **Sweep.** `mark → sweep`; lists the store's blocks and deletes those not marked, in
//!    batches, renewing its lease before each; with a window `W > 0`, a block is deleted only
//!    when it was already unmarked at a collection at least `W` ago (a candidate list kept with
//!    the record), so uploads not yet committed have `W` to be; then `sweep → idle`.
//!
//! What writers do meanwhile is in `gc.rs`.

use std::collections::BTreeMap;

use super::error::{VaultError, VaultResult};
use super::format::{IndexValue, Manifest};
use super::gc::{GcPhase, GcState, Lease, retry_gc};
use super::heads::{Peeked, peek};
use super::mark::MarkSet;
use super::reserved::{self, KeyKind, PurgeValue, grave_key, purge_key};
use super::retention::{CutPlan, History, RetentionRule, VersionNode, plan_key};
use super::{MAX_META_BLOCK, Vault, now_ms};
use crate::block::{Cid, blake3_digest, cid_from_blake3, from_dag_cbor, to_dag_cbor};
use crate::index::{Entry, IndexConfig, Mutation, ProllyTree};
use crate::share::{EpochKeys, ViewBody, view_name};
use crate::store::{BlockStore, HeadStore, StoreError};

/// Blocks deleted per request (S3's `DeleteObjects` limit).
const DELETE_BATCH: usize = 1000;
/// Candidate entries per chunk (40 bytes each: a chunk stays under 3 MiB).
const CANDIDATES_PER_CHUNK: usize = 65_536;
/// At most this many left or missing blocks are listed one by one in a report.
const REPORT_LIST: usize = 100;
/// The default window: blocks unreferenced for less than this are kept (24 h).
pub const DEFAULT_WINDOW_MS: u64 = 24 * 3_600_000;

/// Options of [`Vault::prune`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PruneOptions {
    /// Change nothing: report what the policy would expire and what a collection would delete
    /// (the device still syncs first, as any command does).
    pub dry_run: bool,
    /// `W`: delete an unreferenced block only once it has been unreferenced for this long, as
    /// seen by two collections at least `W` apart (default 24 h). `0`: delete every
    /// unreferenced block now, including uploads not yet committed.
    pub window_ms: u64,
    /// Skip the collection: only apply the policy (step 1).
    pub policy_only: bool,
}

impl Default for PruneOptions {
    fn default() -> Self {
        Self {
            dry_run: false,
            window_ms: DEFAULT_WINDOW_MS,
            policy_only: false,
        }
    }
}

/// Where a prune is, for a progress display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PruneProgress {
    /// Applying the policy: keys examined so far.
    Policy {
        /// Keys examined.
        keys: u64,
    },
    /// Waiting the grace period after announcing the collection.
    Grace {
        /// How long, in ms.
        ms: u64,
    },
    /// Marking: blocks marked so far.
    Mark {
        /// Blocks marked.
        blocks: u64,
    },
    /// Listing the store.
    List {
        /// Blocks listed so far.
        blocks: u64,
    },
    /// Deleting.
    Sweep {
        /// Blocks deleted (or refused) so far.
        done: u64,
        /// Blocks to delete.
        total: u64,
    },
}

/// A count of blocks and of their bytes (bytes only of blocks whose size the store listed).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockCount {
    /// Blocks.
    pub blocks: u64,
    /// Their bytes, as far as the store tells sizes (see [`PruneReport::sizes_known`]).
    pub bytes: u64,
}

impl BlockCount {
    fn add(&mut self, size: Option<u64>) {
        self.blocks += 1;
        self.bytes += size.unwrap_or(0);
    }
}

/// A block a collection did not delete although it is unreferenced, or a referenced block the
/// store does not have, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftBlock {
    /// The block's CID.
    pub cid: String,
    /// Why.
    pub reason: String,
}

/// What [`Vault::prune`] and [`Vault::purge`] did (or, in a dry run, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Nothing was changed.
    pub dry_run: bool,
    /// The collection's epoch (0 when none ran).
    pub epoch: u64,
    /// Keys whose history the policy examined.
    pub keys_examined: u64,
    /// Versions that left the history by the policy.
    pub versions_expired: u64,
    /// Versions the policy would expire but that stay because a kept version lies behind them
    /// (clock skew between devices).
    pub versions_held: u64,
    /// Graveyards (deleted keys' histories) that expired whole.
    pub graveyards_expired: u64,
    /// Heads marked from (every device of the vault).
    pub heads: u64,
    /// Share views marked from.
    pub views: u64,
    /// Blocks found reachable.
    pub marked: BlockCount,
    /// Blocks the store listed.
    pub listed: BlockCount,
    /// Blocks deleted (dry run: that would be).
    pub swept: BlockCount,
    /// Unreferenced blocks kept because they have not been unreferenced for the window yet.
    pub kept_young: BlockCount,
    /// Unreferenced blocks left in the store because the store refused (or the collection had to
    /// stop), with the first [`REPORT_LIST`] listed in `left`.
    pub left: BlockCount,
    /// The first unreferenced blocks left, and why.
    pub left_blocks: Vec<LeftBlock>,
    /// Referenced blocks the store does not have (index nodes, current versions' manifests):
    /// damage that happened before this collection, listed (the first few) to repair.
    pub missing: Vec<LeftBlock>,
    /// Blocks read while marking (manifests and index nodes).
    pub blocks_read: u64,
    /// The most memory the mark set held (bytes).
    pub mark_set_peak_bytes: u64,
    /// Whether the store told the size of every block it listed (else byte counts are partial).
    pub sizes_known: bool,
    /// Things to know (a store without compare-and-swap, a collection taken over, …).
    pub warnings: Vec<String>,
    /// Time spent applying the policy, waiting the grace period, marking and sweeping (ms).
    pub policy_ms: u64,
    /// See `policy_ms`.
    pub grace_ms: u64,
    /// See `policy_ms`.
    pub mark_ms: u64,
    /// See `policy_ms`.
    pub sweep_ms: u64,
}

/// What [`Vault::purge`] took out of the history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PurgeReport {
    /// Versions of the key that left the history (their blocks go at the next collection).
    pub versions: u64,
}

/// A progress callback.
pub type PruneProgressFn<'a> = &'a mut (dyn FnMut(&PruneProgress) + Send);

/// The state of one marking.
struct Marker {
    marks: MarkSet,
    /// The collector's merged index root: cut points and purges come from it.
    c_root: Cid,
    /// Dry run: the policy's changes not committed, by key.
    overlay: BTreeMap<Vec<u8>, Entry>,
    lease: Option<Lease>,
    manifests_read: u64,
    missing: Vec<LeftBlock>,
    missing_count: u64,
    since_renew: u64,
    /// [`Vault::referenced_blocks`]: every CID newly marked, in marking order.
    collected: Option<Vec<Cid>>,
    /// Set when the marking enumerates a vault for export (`reach.rs`), not for a collection.
    collect: Option<Collected>,
    /// When enumerating (`collected` or `collect` set): sealed objects marked only as inline so
    /// far, so one a later manifest names as a stored block is listed then.
    inline_only: std::collections::HashSet<[u8; 32]>,
}

/// What a marking for export gathers besides the mark set.
#[derive(Default)]
pub(super) struct Collected {
    /// Every block marked, in marking order, with its length when a manifest tells it.
    pub blocks: Vec<(Cid, Option<u64>)>,
    /// Manifests marked as older versions that the store does not have (the history ends
    /// there): not part of what is exported.
    pub absent: Vec<Cid>,
    /// The head records the marking read, by namespace (only verified ones of the vault's own).
    pub heads: Vec<(String, Vec<crate::store::Head>)>,
}

impl Marker {
    /// A marker from `c_root` with nothing marked, no overlay, no lease and no collectors.
    fn new(c_root: Cid) -> Self {
        Self {
            marks: MarkSet::new(),
            c_root,
            overlay: BTreeMap::new(),
            lease: None,
            manifests_read: 0,
            missing: Vec::new(),
            missing_count: 0,
            since_renew: 0,
            collected: None,
            collect: None,
            inline_only: std::collections::HashSet::new(),
        }
    }

    fn mark(&mut self, cid: &Cid) -> VaultResult<bool> {
        self.mark_sized(cid, None)
    }

    fn mark_sized(&mut self, cid: &Cid, len: Option<u64>) -> VaultResult<bool> {
        let d = blake3_digest(cid).map_err(|_| VaultError::corrupt(cid, "not a BLAKE3 CID"))?;
        let new = self.marks.insert(d);
        if new && let Some(c) = self.collected.as_mut() {
            c.push(*cid);
        }
        if new && let Some(c) = self.collect.as_mut() {
            c.blocks.push((*cid, len));
        }
        Ok(new)
    }

    /// Marks a manifest's sealed object and outboard. An inline object's `data` is marked too
    /// (so a block a share link wrote for it lives as long as the manifest) but is not listed
    /// for export or pinning: the store need not have it.
    fn mark_data(&mut self, manifest: &Manifest) -> VaultResult<()> {
        let d = blake3_digest(&manifest.data)
            .map_err(|_| VaultError::corrupt(&manifest.data, "not a BLAKE3 CID"))?;
        let listing = self.collected.is_some() || self.collect.is_some();
        if manifest.inline.is_some() {
            if self.marks.insert(d) && listing {
                self.inline_only.insert(d);
            }
        } else if !self.mark_sized(&manifest.data, Some(manifest.sealed_len))?
            && self.inline_only.remove(&d)
        {
            // Marked before by a manifest carrying it inline: this one needs the block.
            if let Some(c) = self.collected.as_mut() {
                c.push(manifest.data);
            }
            if let Some(c) = self.collect.as_mut() {
                c.blocks.push((manifest.data, Some(manifest.sealed_len)));
            }
        }
        if let Some(o) = &manifest.outboard {
            self.mark(o)?;
        }
        Ok(())
    }

    fn absent(&mut self, cid: &Cid) {
        if let Some(c) = self.collect.as_mut() {
            c.absent.push(*cid);
        }
    }

    fn keep_heads(&mut self, namespace: &str, heads: Vec<crate::store::Head>) {
        if let Some(c) = self.collect.as_mut() {
            c.heads.push((namespace.to_string(), heads));
        }
    }

    fn missing(&mut self, cid: &Cid, what: &str) {
        self.missing_count += 1;
        if self.missing.len() < REPORT_LIST {
            self.missing.push(LeftBlock {
                cid: cid.to_string(),
                reason: what.to_string(),
            });
        }
    }
}

fn report_progress(p: &mut Option<PruneProgressFn<'_>>, event: PruneProgress) {
    if let Some(f) = p.as_mut() {
        f(&event);
    }
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// Applies the retention policy and collects garbage (see the [module docs](self) and
    /// `docs/decisions.md`). Safe while other devices write: they follow the collection protocol
    /// (`gc.rs`), and only blocks that no head, kept version, share view or recent upload needs
    /// are deleted. Killed at any point, it leaves every reachable block, and can be run again
    /// (a collection left half done is taken over once its lease expired, at once by the device
    /// that ran it).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::*};
    /// # futures_executor::block_on(async {
    /// let store = Arc::new(MemoryStore::new());
    /// let mut vault = Vault::create(store.clone(), Identity::generate(), "v", "d").await?;
    /// vault.set_gc_timing(GcTiming { grace_ms: 0, ..Default::default() });
    /// vault.put(b"k", vec![1; 100_000], PutOptions::default()).await?;
    /// vault.put(b"k", vec![2; 100_000], PutOptions::default()).await?;
    /// vault.set_retention(&RetentionPolicy { rules: vec![RetentionRule {
    ///     prefix: Vec::new(), noncurrent: Noncurrent::KeepNone, deleted_after_ms: None }] }).await?;
    /// let report = vault.prune(PruneOptions { window_ms: 0, ..Default::default() }, None).await?;
    /// assert_eq!(report.versions_expired, 1);
    /// assert!(report.swept.bytes > 100_000); // the old version's sealed bytes
    /// assert_eq!(vault.get(b"k").await?, vec![2; 100_000]);
    /// assert_eq!(vault.versions(b"k").await?.len(), 1);
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn prune(
        &mut self,
        opts: PruneOptions,
        mut progress: Option<PruneProgressFn<'_>>,
    ) -> VaultResult<PruneReport> {
        let mut report = PruneReport {
            dry_run: opts.dry_run,
            ..Default::default()
        };
        let started = web_time::Instant::now();
        if !opts.dry_run {
            // Refused at once rather than after waiting for the other collection to end.
            self.gc_check_free(&self.read_gc().await?.state)?;
        }
        self.sync().await?;
        let policy = self.retention().await?;
        let mut overlay = BTreeMap::new();
        if !policy.keeps_everything() {
            let muts = self
                .plan_policy(&policy, &mut report, &mut progress)
                .await?;
            if opts.dry_run {
                for (k, m) in muts {
                    if let Mutation::Put(e) = m {
                        overlay.insert(k, e);
                    }
                }
            } else if !muts.is_empty() {
                retry_gc!(self.commit_mutations(muts.clone()).await)?;
            }
        }
        report.policy_ms = elapsed_ms(started);
        if opts.policy_only {
            return Ok(report);
        }
        if self.store.conditional_writes() == crate::store::ConditionalWrites::BestEffort {
            report.warnings.push(
                "this store's head writes are best effort (no compare-and-swap): run one prune \
                 at a time"
                    .into(),
            );
        }
        let lease = if opts.dry_run {
            None
        } else {
            Some(self.gc_begin(&mut report).await?)
        };
        let result = self
            .collect(opts, lease, overlay, &mut report, &mut progress)
            .await;
        if let Err((e, Some(mut lease))) = result {
            // Let writers go on at once rather than after the lease (best effort).
            let idle = GcState {
                phase: GcPhase::Idle,
                ..lease.state.clone()
            };
            let _ = self.write_gc(&mut lease, idle).await;
            return Err(e);
        }
        result.map_err(|(e, _)| e)?;
        Ok(report)
    }

    /// Every block the vault references, as a collection's mark finds them (after a sync): index
    /// nodes, every kept version's manifest, data, outboard and tags, the key and policy blocks,
    /// share views and keyrings, and the GC record's candidate lists (see the module docs of
    /// `vault::prune`). Nothing is written. For copying or pinning a vault elsewhere (a remote
    /// pinning service, a CAR export); `progress` gets [`PruneProgress::Mark`].
    ///
    /// Referenced blocks the store does not have are listed too (a later read of them fails as
    /// it would anyway); memory is about 40 bytes per block.
    pub async fn referenced_blocks(
        &mut self,
        mut progress: Option<PruneProgressFn<'_>>,
    ) -> VaultResult<Vec<Cid>> {
        self.sync().await?;
        let mut marker = Marker {
            collected: Some(Vec::new()),
            ..Marker::new(self.state.root)
        };
        let mut report = PruneReport::default();
        self.mark_all(&mut marker, &mut report, &mut progress)
            .await?;
        Ok(marker.collected.unwrap_or_default())
    }

    /// Announces a collection: `idle(E) → mark(E + 1)`, taking over one whose lease expired (or
    /// that this device left behind).
    fn gc_check_free(&self, s: &GcState) -> VaultResult<()> {
        let expired = now_ms() > s.lease_until_ms.saturating_add(self.gc_timing.skew_ms);
        if s.phase != GcPhase::Idle && !expired && s.by != self.writer_name {
            return Err(VaultError::GcBusy(format!(
                "collection {} of writer {} is in its {} phase until about {} ms (Unix time); \
                 wait for it or for its lease to end",
                s.epoch,
                s.by,
                s.phase.as_str(),
                s.lease_until_ms.saturating_add(self.gc_timing.skew_ms)
            )));
        }
        Ok(())
    }

    async fn gc_begin(&mut self, report: &mut PruneReport) -> VaultResult<Lease> {
        let mut lease = self.read_gc().await?;
        let now = now_ms();
        let s = lease.state.clone();
        if s.phase != GcPhase::Idle {
            self.gc_check_free(&s)?;
            report.warnings.push(format!(
                "took over collection {} of writer {} left in its {} phase",
                s.epoch,
                s.by,
                s.phase.as_str()
            ));
        }
        let next = GcState {
            epoch: s.epoch + 1,
            phase: GcPhase::Mark,
            by: self.writer_name.clone(),
            started_ms: now,
            lease_until_ms: now + self.gc_timing.lease_ms,
            grace_ms: self.gc_timing.grace_ms,
            aborted_by: None,
            candidates: s.candidates.clone(),
        };
        self.write_gc(&mut lease, next).await?;
        self.gc_seen = None;
        report.epoch = lease.state.epoch;
        Ok(lease)
    }

    /// Renews the lease when half of it is gone; [`VaultError::GcBusy`] when the record changed.
    async fn renew(&self, lease: &mut Lease) -> VaultResult<()> {
        let now = now_ms();
        if now + self.gc_timing.lease_ms / 2 < lease.state.lease_until_ms {
            return Ok(());
        }
        if now >= lease.state.lease_until_ms {
            return Err(VaultError::GcBusy(
                "this collection's lease ran out before it could renew it (was the process \
                 paused?); it stopped"
                    .into(),
            ));
        }
        let next = GcState {
            lease_until_ms: now + self.gc_timing.lease_ms,
            ..lease.state.clone()
        };
        self.write_gc(lease, next).await
    }

    /// Steps 2 and 3. On an error, gives the lease back so the caller can release it.
    async fn collect(
        &mut self,
        opts: PruneOptions,
        lease: Option<Lease>,
        overlay: BTreeMap<Vec<u8>, Entry>,
        report: &mut PruneReport,
        progress: &mut Option<PruneProgressFn<'_>>,
    ) -> Result<(), (VaultError, Option<Lease>)> {
        let dry = lease.is_none();
        let mut marker = Marker {
            overlay,
            lease,
            ..Marker::new(self.state.root)
        };
        let grace_start = web_time::Instant::now();
        if !dry {
            report_progress(
                progress,
                PruneProgress::Grace {
                    ms: self.gc_timing.grace_ms,
                },
            );
            let mut left = self.gc_timing.grace_ms;
            while left > 0 {
                let step = left.min(self.gc_timing.lease_ms / 4).max(1);
                futures_timer::Delay::new(std::time::Duration::from_millis(step)).await;
                left -= step;
                if let Some(l) = marker.lease.as_mut()
                    && let Err(e) = self.renew(l).await
                {
                    return Err((e, marker.lease.take()));
                }
            }
        }
        report.grace_ms = elapsed_ms(grace_start);
        let mark_start = web_time::Instant::now();
        let reads_before = self.tree.stats().store_reads;
        if let Err(e) = self.mark_all(&mut marker, report, progress).await {
            return Err((e, marker.lease.take()));
        }
        report.blocks_read = marker.manifests_read + (self.tree.stats().store_reads - reads_before);
        report.marked.blocks = marker.marks.len() as u64;
        report.mark_set_peak_bytes = marker.marks.peak_bytes() as u64;
        report.missing = std::mem::take(&mut marker.missing);
        report.mark_ms = elapsed_ms(mark_start);
        let sweep_start = web_time::Instant::now();
        if let Some(lease) = marker.lease.as_mut() {
            let next = GcState {
                phase: GcPhase::Sweep,
                lease_until_ms: now_ms() + self.gc_timing.lease_ms,
                ..lease.state.clone()
            };
            if let Err(e) = self.write_gc(lease, next).await {
                return Err((e, marker.lease.take()));
            }
        }
        let result = self.sweep(opts, &mut marker, report, progress).await;
        report.sweep_ms = elapsed_ms(sweep_start);
        result.map_err(|e| (e, marker.lease.take()))
    }

    /// Marks everything the vault's heads, shares and GC record reach.
    async fn mark_all(
        &mut self,
        m: &mut Marker,
        report: &mut PruneReport,
        progress: &mut Option<PruneProgressFn<'_>>,
    ) -> VaultResult<()> {
        let raw = self.store.read_heads(&self.name).await?;
        let mut skipped = Vec::new();
        let heads = self.verify_heads(raw.clone(), &mut skipped).await?;
        for s in &skipped {
            // A head of this vault that this build cannot read: its blocks would be swept.
            let ours = raw
                .iter()
                .find(|h| h.writer == s.writer)
                .and_then(|h| peek(&h.writer, &h.bytes).ok())
                .is_some_and(|p| match p {
                    Peeked::V2 { key } => key == self.key_block,
                    Peeked::V1 { signer, .. } => signer.same_identity(self.identity.recipient()),
                });
            if ours {
                return Err(VaultError::GcBusy(format!(
                    "the head of writer {} names this vault's key but cannot be read ({}); a \
                     collection would delete what it references. Upgrade coffer or remove it",
                    s.writer, s.reason
                )));
            }
        }
        self.skipped = skipped;
        let export = m.collect.is_some();
        if export {
            let verified = raw
                .iter()
                .filter(|r| heads.iter().any(|h| h.writer == r.writer))
                .cloned()
                .collect();
            m.keep_heads(&self.name.clone(), verified);
        }
        m.mark(&self.key_block)?;
        // The handovers of the owner's identity, and the key blocks they name.
        for h in &self.chain {
            m.mark(&h.cid)?;
            m.mark(&h.body.from_key)?;
            m.mark(&h.body.key)?;
        }
        // This device's merged root first: it is also its head (or newer, in a dry run). An
        // export starts from the heads only.
        let mut roots = if export { Vec::new() } else { vec![m.c_root] };
        for h in &heads {
            report.heads += 1;
            m.mark(&h.head.body.key)?;
            if let Some(p) = &h.head.body.pol {
                m.mark(&p.c)?;
            }
            roots.push(h.head.body.root);
        }
        if let Some(p) = &self.state.pol
            && !export
        {
            m.mark(&p.c)?;
        }
        for root in roots {
            self.mark_vault_tree(&root, m, progress).await?;
        }
        // Share views after every head: a manifest reached only from a view is marked without
        // its history, which must not stop a head's walk at it.
        if export {
            let registry = super::share::registry_name(&self.name);
            let records = self.store.read_heads(&registry).await?;
            m.keep_heads(&registry, records);
        }
        self.load_shares().await?;
        let (secrets, versions) = self.gc_share_roots();
        for secret in secrets {
            let keys = EpochKeys::derive(&secret);
            let tree =
                ProllyTree::new(self.store.clone(), &keys.index_key, IndexConfig::default())?;
            let namespace = view_name(&keys.id);
            let mut kept = Vec::new();
            for head in self.store.read_heads(&namespace).await? {
                if head
                    .writer
                    .starts_with(crate::share::cowrite::WRITER_HEAD_PREFIX)
                {
                    // A co-writer's head (read-write shares): readers read its index and what it
                    // names until, and after, the owner's devices merge them.
                    let Ok((body, _)) = crate::share::cowrite::WriterHeadBody::open(
                        &keys,
                        &head.writer,
                        &head.bytes,
                    ) else {
                        continue;
                    };
                    if export {
                        kept.push(head.clone());
                    }
                    self.mark_view_tree(&tree, &body.root, m).await?;
                    continue;
                }
                let Ok(body) = ViewBody::decode_verified(self.identity.recipient(), &head.bytes)
                else {
                    continue;
                };
                if body.vault != self.name || body.epoch != keys.id {
                    continue;
                }
                if export {
                    kept.push(head.clone());
                }
                report.views += 1;
                for chunk in &body.keys {
                    m.mark(chunk)?;
                }
                if let Some(root) = body.root {
                    self.mark_view_tree(&tree, &root, m).await?;
                }
                if let Some(src) = body.src {
                    // The owner's next view update diffs from it: its nodes only.
                    self.mark_nodes_only(&src, m).await?;
                }
            }
            if !kept.is_empty() {
                m.keep_heads(&namespace, kept);
            }
        }
        for v in versions {
            self.mark_current_only(&v, m).await?;
        }
        if let Some(lease) = &m.lease {
            for c in lease.state.candidates.clone() {
                m.mark(&c)?;
            }
        } else {
            if export {
                let namespace = super::gc::gc_namespace(&self.name);
                let records = self.store.read_heads(&namespace).await?;
                m.keep_heads(&namespace, records);
            }
            for c in self.read_gc().await?.state.candidates {
                m.mark(&c)?;
            }
        }
        Ok(())
    }

    /// Marks the vault index at `root`: its nodes and what every entry reaches.
    async fn mark_vault_tree(
        &self,
        root: &Cid,
        m: &mut Marker,
        progress: &mut Option<PruneProgressFn<'_>>,
    ) -> VaultResult<()> {
        let mut stack = vec![*root];
        while let Some(cid) = stack.pop() {
            if !m.mark(&cid)? {
                // Marked before, with everything below it (entries mark the same whatever
                // head they are reached from).
                continue;
            }
            let node = self
                .tree
                .load(&cid)
                .await
                .map_err(|e| missing_node(&cid, e))?;
            self.renew_marking(m).await?;
            match node.body() {
                crate::index::Body::Internal(children) => {
                    stack.extend(children.iter().rev().copied())
                }
                crate::index::Body::Leaf(entries) => {
                    for (key, entry) in node.keys().iter().zip(entries.iter()) {
                        self.mark_entry(key, entry, m).await?;
                    }
                    report_progress(
                        progress,
                        PruneProgress::Mark {
                            blocks: m.marks.len() as u64,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    /// Marks the nodes of the vault index at `root`, not what its entries reach.
    async fn mark_nodes_only(&self, root: &Cid, m: &mut Marker) -> VaultResult<()> {
        let mut stack = vec![*root];
        while let Some(cid) = stack.pop() {
            if !m.mark(&cid)? {
                continue;
            }
            let node = match self.tree.load(&cid).await {
                Ok(n) => n,
                Err(_) => {
                    m.missing(&cid, "an index node a share view was made from");
                    continue;
                }
            };
            if let crate::index::Body::Internal(children) = node.body() {
                stack.extend(children.iter().copied());
            }
        }
        Ok(())
    }

    /// Marks a share view: its nodes and its values' current versions (not purged ones).
    async fn mark_view_tree(
        &self,
        tree: &ProllyTree<S>,
        root: &Cid,
        m: &mut Marker,
    ) -> VaultResult<()> {
        let mut stack = vec![*root];
        while let Some(cid) = stack.pop() {
            if !m.mark(&cid)? {
                continue;
            }
            let node = tree.load(&cid).await.map_err(|e| missing_node(&cid, e))?;
            match node.body() {
                crate::index::Body::Internal(children) => stack.extend(children.iter().copied()),
                crate::index::Body::Leaf(entries) => {
                    for (key, entry) in node.keys().iter().zip(entries.iter()) {
                        let Some(value) = entry.value() else { continue };
                        let v = IndexValue::decode(value)?;
                        // A device that has not synced a purge still shows it in its view;
                        // the purging device's view has the tombstone that wins for readers.
                        let (_, purged) = self.cut_for(key, &[], m).await?;
                        if purged.binary_search(&v.m).is_ok() {
                            continue;
                        }
                        self.mark_current_only(&v.m, m).await?;
                        if let Some(t) = &v.t {
                            m.mark(t)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    async fn renew_marking(&self, m: &mut Marker) -> VaultResult<()> {
        m.since_renew += 1;
        if m.since_renew >= 256 {
            m.since_renew = 0;
            if let Some(lease) = m.lease.as_mut() {
                self.renew(lease).await?;
            }
        }
        Ok(())
    }

    /// The collector's entry for `key` (its merged index, or the dry run's planned change).
    async fn c_entry(&self, key: &[u8], m: &Marker) -> VaultResult<Option<Entry>> {
        if let Some(e) = m.overlay.get(key) {
            return Ok(Some(e.clone()));
        }
        Ok(self.tree.get_entry(&m.c_root, key).await?)
    }

    /// The cut points and purged versions the collector knows for object key `key`, joined with
    /// `own` (the cut points of the value being marked).
    async fn cut_for(
        &self,
        key: &[u8],
        own: &[Cid],
        m: &Marker,
    ) -> VaultResult<(Vec<Cid>, Vec<Cid>)> {
        let mut cut = own.to_vec();
        for k in [key.to_vec(), grave_key(key)] {
            if let Some(e) = self.c_entry(&k, m).await?
                && let Some(v) = e.value()
            {
                cut.extend(IndexValue::decode(v)?.p);
            }
        }
        let mut purged = Vec::new();
        if let Some(e) = self.c_entry(&purge_key(key), m).await?
            && let Some(v) = e.value()
        {
            purged = PurgeValue::decode(v)?.x;
        }
        cut.extend(purged.iter().copied());
        cut.sort();
        cut.dedup();
        Ok((cut, purged))
    }

    /// Marks what one index entry of a head reaches.
    async fn mark_entry(&self, key: &[u8], entry: &Entry, m: &mut Marker) -> VaultResult<()> {
        let Some(value) = entry.value() else {
            return Ok(());
        };
        match reserved::classify(key) {
            KeyKind::User => {
                let v = IndexValue::decode(value)?;
                let (cut, purged) = self.cut_for(key, &v.p, m).await?;
                if purged.binary_search(&v.m).is_err() {
                    self.mark_version(&v.m, &cut, true, m).await?;
                    if let Some(t) = &v.t {
                        m.mark(t)?;
                    }
                }
                for c in &v.c {
                    self.mark_version(c, &cut, false, m).await?;
                }
            }
            KeyKind::Grave => {
                if let Some(c) = self.c_entry(key, m).await?
                    && c.is_tombstone()
                    && c >= *entry
                {
                    // Expired or purged on this device (at this entry's time and writer).
                    return Ok(());
                }
                let v = IndexValue::decode(value)?;
                let k =
                    v.k.as_ref()
                        .ok_or_else(|| VaultError::Corrupt {
                            cid: "(index entry)".into(),
                            detail: "a graveyard without its key".into(),
                        })?
                        .to_vec();
                let (mut cut, purged) = self.cut_for(&k, &v.p, m).await?;
                if let Some(c) = self.c_entry(key, m).await?
                    && let Some(cv) = c.value()
                {
                    cut.extend(IndexValue::decode(cv)?.p);
                    cut.sort();
                    cut.dedup();
                }
                for h in std::iter::once(&v.m).chain(v.c.iter()) {
                    if purged.binary_search(h).is_err() {
                        self.mark_version(h, &cut, false, m).await?;
                    }
                }
            }
            KeyKind::Purge => {}
            KeyKind::Unknown => {
                return Err(VaultError::GcBusy(
                    "the index holds a reserved key of a kind this build does not know (written \
                     by a newer coffer): upgrade before pruning"
                        .into(),
                ));
            }
        }
        Ok(())
    }

    /// Marks version `start` and its history: manifest, data, outboard, then `prev`, stopping at
    /// a cut point (not for the current version itself), at a version marked before (its history
    /// was walked then), or at a manifest the store does not have.
    async fn mark_version(
        &self,
        start: &Cid,
        cut: &[Cid],
        current: bool,
        m: &mut Marker,
    ) -> VaultResult<()> {
        let mut at = *start;
        let mut first = true;
        loop {
            if !(first && current) && cut.binary_search(&at).is_ok() {
                return Ok(());
            }
            if !m.mark(&at)? {
                return Ok(());
            }
            let Some(manifest) = self.gc_manifest(&at, m).await? else {
                if first && current {
                    m.missing(&at, "the manifest of a current version");
                } else {
                    m.absent(&at);
                }
                return Ok(());
            };
            m.mark_data(&manifest)?;
            self.renew_marking(m).await?;
            match manifest.prev {
                Some(p) => at = p,
                None => return Ok(()),
            }
            first = false;
        }
    }

    /// Marks a version without its history (share views, version shares).
    async fn mark_current_only(&self, cid: &Cid, m: &mut Marker) -> VaultResult<()> {
        if !m.mark(cid)? {
            return Ok(());
        }
        if let Some(manifest) = self.gc_manifest(cid, m).await? {
            m.mark_data(&manifest)?;
        } else {
            m.absent(cid);
        }
        Ok(())
    }

    /// Marks what the vault's heads reach exactly as a collection does (without its own merged
    /// root, GC candidates aside), collecting every block and the head records read: what
    /// `reach.rs` exports. Referenced blocks the store lacks are returned as missing.
    pub(super) async fn mark_for_export(&mut self) -> VaultResult<(Collected, Vec<LeftBlock>)> {
        let mut marker = Marker {
            collect: Some(Collected::default()),
            ..Marker::new(self.state.root)
        };
        let mut report = PruneReport::default();
        self.mark_all(&mut marker, &mut report, &mut None).await?;
        let collected = marker.collect.take().unwrap_or_default();
        Ok((collected, marker.missing))
    }

    /// A manifest for marking: `None` when the store does not have it.
    async fn gc_manifest(&self, cid: &Cid, m: &mut Marker) -> VaultResult<Option<Manifest>> {
        m.manifests_read += 1;
        let bytes = match self.store.get_max(cid, MAX_META_BLOCK).await {
            Ok(b) => b,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        crate::block::verify_block(cid, &bytes)
            .map_err(|_| VaultError::corrupt(cid, "its bytes do not hash to its CID"))?;
        let plain = self.open_manifest_bytes(cid, &bytes)?;
        Ok(Some(
            Manifest::decode(&plain).map_err(|e| VaultError::corrupt(cid, e))?,
        ))
    }

    /// Lists the store and deletes what is not marked (or, with a window, what was already
    /// unmarked a window ago).
    async fn sweep(
        &mut self,
        opts: PruneOptions,
        m: &mut Marker,
        report: &mut PruneReport,
        progress: &mut Option<PruneProgressFn<'_>>,
    ) -> VaultResult<()> {
        let now = now_ms();
        let mut unmarked: Vec<(u64, [u8; 32], Option<u64>)> = Vec::new();
        let mut all_sizes = true;
        let mut strays: Vec<Cid> = Vec::new();
        let mut listed = BlockCount::default();
        let mut marked_present = BlockCount::default();
        {
            let marks = &m.marks;
            let mut each = |cid: Cid, size: Option<u64>| {
                listed.add(size);
                all_sizes &= size.is_some();
                match blake3_digest(&cid) {
                    Ok(d) if marks.contains(&d) => marked_present.add(size),
                    Ok(d) => unmarked.push((cid.codec(), d, size)),
                    Err(_) => strays.push(cid),
                }
            };
            self.store.for_each_block(&mut each).await?;
        }
        report_progress(
            progress,
            PruneProgress::List {
                blocks: listed.blocks,
            },
        );
        report.listed = listed;
        report.sizes_known = all_sizes;
        report.marked.bytes = marked_present.bytes;
        for cid in strays {
            report.left.add(None);
            push_left(
                report,
                &cid,
                "not named by a BLAKE3 CID: not a coffer block",
            );
        }
        // Which unmarked blocks may go now.
        unmarked.sort_unstable_by_key(|a| a.1);
        let old = match &m.lease {
            Some(l) => self.read_candidates(&l.state.candidates).await?,
            None => {
                let state = self.read_gc().await?.state;
                self.read_candidates(&state.candidates).await?
            }
        };
        let mut doomed: Vec<(Cid, Option<u64>)> = Vec::new();
        let mut young: Vec<([u8; 32], u64)> = Vec::new();
        for (codec, d, size) in &unmarked {
            let first = match old.binary_search_by(|(od, _)| od.cmp(d)) {
                Ok(i) => old[i].1,
                Err(_) => now,
            };
            if opts.window_ms == 0 || now.saturating_sub(first) >= opts.window_ms {
                doomed.push((cid_from_blake3(*codec, d), *size));
            } else {
                report.kept_young.add(*size);
                young.push((*d, first));
            }
        }
        drop(unmarked);
        if opts.dry_run {
            for (_, size) in &doomed {
                report.swept.add(*size);
            }
            return Ok(());
        }
        let total = doomed.len() as u64;
        let mut done = 0u64;
        let mut stopped: Option<String> = None;
        for batch in doomed.chunks(DELETE_BATCH) {
            if stopped.is_none()
                && let Some(lease) = m.lease.as_mut()
                && let Err(e) = self.renew(lease).await
            {
                stopped = Some(format!("the collection stopped: {e}"));
            }
            if let Some(why) = &stopped {
                for (cid, size) in batch {
                    report.left.add(*size);
                    push_left(report, cid, why);
                }
                continue;
            }
            let cids: Vec<Cid> = batch.iter().map(|(c, _)| *c).collect();
            match self.store.delete_many(&cids).await {
                Ok(failed) => {
                    for (cid, size) in batch {
                        match failed.iter().find(|(f, _)| f == cid) {
                            Some((_, e)) => {
                                report.left.add(*size);
                                push_left(report, cid, &format!("the store refused: {e}"));
                            }
                            None => report.swept.add(*size),
                        }
                    }
                }
                Err(e) => {
                    let why = format!("the store refused to delete: {e}");
                    for (cid, size) in batch {
                        report.left.add(*size);
                        push_left(report, cid, &why);
                    }
                    stopped = Some(why);
                }
            }
            done += batch.len() as u64;
            report_progress(progress, PruneProgress::Sweep { done, total });
        }
        if let Some(why) = &stopped {
            report.warnings.push(why.clone());
        }
        // Remember the young ones for the next collection, then end this one.
        let Some(lease) = m.lease.as_mut() else {
            return Ok(());
        };
        let chunks = self.write_candidates(&young).await?;
        let old_chunks = lease.state.candidates.clone();
        let next = GcState {
            phase: GcPhase::Idle,
            candidates: chunks.clone(),
            ..lease.state.clone()
        };
        self.write_gc(lease, next).await?;
        let stale: Vec<Cid> = old_chunks
            .into_iter()
            .filter(|c| !chunks.contains(c))
            .collect();
        if !stale.is_empty() {
            let _ = self.store.delete_many(&stale).await;
        }
        Ok(())
    }

    /// Reads the candidate list (digest and first time seen unreferenced), sorted by digest.
    async fn read_candidates(&self, chunks: &[Cid]) -> VaultResult<Vec<([u8; 32], u64)>> {
        let mut out = Vec::new();
        for cid in chunks {
            let plain = self.open_sealed(cid).await?;
            decode_candidates(cid, &plain, &mut out)?;
        }
        out.sort_unstable_by_key(|a| a.0);
        Ok(out)
    }

    async fn write_candidates(&self, young: &[([u8; 32], u64)]) -> VaultResult<Vec<Cid>> {
        let mut out = Vec::new();
        for part in young.chunks(CANDIDATES_PER_CHUNK) {
            let mut e = Vec::with_capacity(part.len() * 40);
            for (d, t) in part {
                e.extend_from_slice(d);
                e.extend_from_slice(&t.to_be_bytes());
            }
            let chunk = CandidateChunk {
                v: super::FORMAT_VERSION,
                e: serde_bytes::ByteBuf::from(e),
            };
            let (cid, _) = self.put_sealed(&to_dag_cbor(&chunk)?).await?;
            out.push(cid);
        }
        Ok(out)
    }

    /// Step 1: the policy's changes to this device's merged index.
    async fn plan_policy(
        &self,
        policy: &super::RetentionPolicy,
        report: &mut PruneReport,
        progress: &mut Option<PruneProgressFn<'_>>,
    ) -> VaultResult<Vec<(Vec<u8>, Mutation)>> {
        let now = now_ms();
        let root = self.state.root;
        let mut muts = Vec::new();
        let mut iter = self.tree.range(&root, None, None).await?;
        while let Some((key, entry)) = iter.next().await? {
            if entry.is_tombstone() || reserved::classify(&key) == KeyKind::Purge {
                continue;
            }
            report.keys_examined += 1;
            if report.keys_examined.is_multiple_of(1000) {
                report_progress(
                    progress,
                    PruneProgress::Policy {
                        keys: report.keys_examined,
                    },
                );
            }
            let Some(value) = entry.value() else { continue };
            match reserved::classify(&key) {
                KeyKind::User => {
                    let Some(rule) = policy.rule_for(&key) else {
                        continue;
                    };
                    if rule.noncurrent == super::Noncurrent::KeepAll {
                        continue;
                    }
                    let v = IndexValue::decode(value)?;
                    // Its graveyard, unless that expires whole now (its cut points go with it).
                    let grave = match self.tree.get_entry(&root, &grave_key(&key)).await? {
                        Some(e) => match e.value() {
                            Some(g) => {
                                let g = IndexValue::decode(g)?;
                                let deleted = g.d.unwrap_or_else(|| e.time.wall_ms());
                                (!expires_whole(rule, now, deleted)).then_some((g, deleted))
                            }
                            None => None,
                        },
                        None => None,
                    };
                    let planned = self
                        .plan_histories(rule, now, &key, Some(&v), grave.as_ref())
                        .await?;
                    let Some(plan) = planned.live else { continue };
                    report.versions_expired += plan.expired;
                    report.versions_held += plan.held;
                    if plan.p != v.p {
                        let value = IndexValue { p: plan.p, ..v }.encode()?;
                        muts.push((
                            key,
                            Mutation::Put(Entry::live(value, entry.time, entry.writer)),
                        ));
                    }
                }
                KeyKind::Grave => {
                    let v = IndexValue::decode(value)?;
                    let k = v.k.as_ref().map(|k| k.to_vec()).unwrap_or_default();
                    let Some(rule) = policy.rule_for(&k) else {
                        continue;
                    };
                    if rule.keeps_everything() {
                        continue;
                    }
                    // The key's live entry (a put concurrent with the delete), planned with it.
                    let live = match self.tree.get_entry(&root, &k).await? {
                        Some(e) => e.value().map(IndexValue::decode).transpose()?,
                        None => None,
                    };
                    let deleted = v.d.unwrap_or_else(|| entry.time.wall_ms());
                    let expired_whole = expires_whole(rule, now, deleted);
                    let planned = self
                        .plan_histories(rule, now, &k, live.as_ref(), Some(&(v.clone(), deleted)))
                        .await?;
                    let Some((plan, versions)) = planned.grave else {
                        continue;
                    };
                    if expired_whole || plan.all {
                        report.graveyards_expired += 1;
                        report.versions_expired += versions;
                        muts.push((
                            key,
                            Mutation::Put(Entry::tombstone(entry.time, entry.writer)),
                        ));
                    } else {
                        report.versions_expired += plan.expired;
                        report.versions_held += plan.held;
                        if plan.p != v.p {
                            let value = IndexValue { p: plan.p, ..v }.encode()?;
                            muts.push((
                                key,
                                Mutation::Put(Entry::live(value, entry.time, entry.writer)),
                            ));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(muts)
    }

    /// Plans `key`'s live entry and graveyard (`(value, deleted_ms)`) together
    /// ([`plan_key`]). Each is walked behind the cut points of both, as a collection walks them.
    async fn plan_histories(
        &self,
        rule: &RetentionRule,
        now: u64,
        key: &[u8],
        live: Option<&IndexValue>,
        grave: Option<&(IndexValue, u64)>,
    ) -> VaultResult<PlannedKey> {
        let values = live.into_iter().chain(grave.map(|(g, _)| g));
        let mut cut: Vec<Cid> = values.clone().flat_map(|v| v.p.iter().copied()).collect();
        cut.sort();
        cut.dedup();
        let mut walked = Vec::new();
        for v in values {
            let heads: Vec<Cid> = std::iter::once(v.m).chain(v.c.iter().copied()).collect();
            let versions = self.version_nodes(key, &heads, &cut).await?;
            walked.push((heads, versions));
        }
        let olds = live
            .map(|v| (Some(v.m), 0, &v.p))
            .into_iter()
            .chain(grave.map(|(g, deleted)| (None, *deleted, &g.p)));
        let histories: Vec<History<'_>> = olds
            .zip(&walked)
            .map(
                |((current, deleted_ms, old_p), (heads, versions))| History {
                    current,
                    deleted_ms,
                    heads,
                    versions,
                    old_p,
                },
            )
            .collect();
        let mut plans = plan_key(rule, now, &histories).into_iter();
        Ok(PlannedKey {
            live: live.and_then(|_| plans.next()),
            grave: grave
                .and_then(|_| plans.next())
                .zip(walked.last().map(|(_, v)| v.len() as u64)),
        })
    }

    /// The versions reachable from `heads`, for the policy.
    async fn version_nodes(
        &self,
        key: &[u8],
        heads: &[Cid],
        cut: &[Cid],
    ) -> VaultResult<std::collections::HashMap<Cid, VersionNode>> {
        Ok(self
            .walk_history(key, heads, cut)
            .await?
            .into_iter()
            .map(|(c, m)| {
                (
                    c,
                    VersionNode {
                        created_ms: m.created_ms,
                        prev: m.prev,
                    },
                )
            })
            .collect())
    }

    /// Applies `muts` (entries that keep their time and writer) and commits.
    async fn commit_mutations(&mut self, muts: Vec<(Vec<u8>, Mutation)>) -> VaultResult<()> {
        self.tick();
        self.state.root = self.tree.apply(&self.state.root, muts).await?;
        self.commit().await
    }

    /// Takes every version of `key` out of the history now: the key is deleted (if it is live),
    /// its graveyard goes, and a purge record lists the versions so that no device's head keeps
    /// them from the next collection, which deletes their blocks (blocks a copy still uses stay:
    /// purge the copies too). With [`Vault::reencrypt`] this is the answer to "erase this"; what
    /// a store may still hold elsewhere is said in `docs/THREATS.md`.
    ///
    /// [`VaultError::NotFound`] when the key has neither a live object nor a deleted history.
    pub async fn purge(&mut self, key: &[u8]) -> VaultResult<PurgeReport> {
        retry_gc!(self.purge_once(key).await)
    }

    async fn purge_once(&mut self, key: &[u8]) -> VaultResult<PurgeReport> {
        super::objects::check_key(key)?;
        let root = self.state.root;
        let live = self
            .tree
            .get_entry(&root, key)
            .await?
            .filter(|e| !e.is_tombstone());
        let gk = grave_key(key);
        let grave = self
            .tree
            .get_entry(&root, &gk)
            .await?
            .filter(|e| !e.is_tombstone());
        let pk = purge_key(key);
        let old = match self.tree.get_entry(&root, &pk).await? {
            Some(e) => match e.value() {
                Some(v) => PurgeValue::decode(v)?.x,
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        if live.is_none() && grave.is_none() {
            return Err(VaultError::NotFound);
        }
        let mut heads = Vec::new();
        let mut cut = Vec::new();
        for e in [&live, &grave].into_iter().flatten() {
            if let Some(v) = e.value() {
                let v = IndexValue::decode(v)?;
                heads.push(v.m);
                heads.extend(v.c.iter().copied());
                cut.extend(v.p.iter().copied());
            }
        }
        cut.sort();
        cut.dedup();
        let versions = self.walk_history(key, &heads, &cut).await?;
        let purged = versions.len() as u64;
        let mut all: Vec<Cid> = versions.keys().copied().collect();
        all.extend(heads.iter().copied());
        all.extend(cut.iter().copied());
        let x = reserved::union(&old, &all);
        let record = PurgeValue {
            k: key.to_vec(),
            x,
            d: now_ms(),
        }
        .encode()?;
        if record.len() > crate::index::MAX_VALUE_LEN {
            return Err(VaultError::InvalidKey(format!(
                "the key has too many versions to purge at once ({purged}); set a retention rule \
                 for it, prune, then purge"
            )));
        }
        let time = self.tick();
        let mut muts = vec![(pk, Mutation::Put(Entry::live(record, time, self.writer)))];
        if live.is_some() {
            muts.push((
                key.to_vec(),
                Mutation::Put(Entry::tombstone(time, self.writer)),
            ));
        }
        if let Some(g) = grave {
            muts.push((gk, Mutation::Put(Entry::tombstone(g.time, g.writer))));
        }
        muts.sort_by(|a, b| a.0.cmp(&b.0));
        self.state.root = self.tree.apply(&self.state.root, muts).await?;
        self.commit().await?;
        Ok(PurgeReport { versions: purged })
    }
}

/// A chunk of the candidate list: sealed like other metadata, plaintext DAG-CBOR
/// `{v: 2, e: bytes}` with `e` the concatenation of 40-byte records (32-byte digest, then the
/// big-endian ms it was first seen unreferenced), sorted by digest.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CandidateChunk {
    v: u8,
    e: serde_bytes::ByteBuf,
}

fn push_left(report: &mut PruneReport, cid: &Cid, why: &str) {
    if report.left_blocks.len() < REPORT_LIST {
        report.left_blocks.push(LeftBlock {
            cid: cid.to_string(),
            reason: why.to_string(),
        });
    }
}

fn missing_node(cid: &Cid, e: crate::index::IndexError) -> VaultError {
    VaultError::Corrupt {
        cid: cid.to_string(),
        detail: format!(
            "an index node a head references cannot be read ({e}); nothing was deleted: repair \
             the store before pruning"
        ),
    }
}

fn elapsed_ms(since: web_time::Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Appends the records of a candidate chunk's plaintext (after its seal verified) to `out`.
pub(crate) fn decode_candidates(
    cid: &Cid,
    plain: &[u8],
    out: &mut Vec<([u8; 32], u64)>,
) -> VaultResult<()> {
    let chunk: CandidateChunk = from_dag_cbor(plain).map_err(|e| VaultError::corrupt(cid, e))?;
    if !chunk.e.len().is_multiple_of(40) {
        return Err(VaultError::corrupt(cid, "a candidate chunk of odd length"));
    }
    for rec in chunk.e.chunks_exact(40) {
        let mut d = [0u8; 32];
        d.copy_from_slice(&rec[..32]);
        let mut t = [0u8; 8];
        t.copy_from_slice(&rec[32..]);
        out.push((d, u64::from_be_bytes(t)));
    }
    Ok(())
}

/// What [`Vault::plan_histories`] decided for a key: the live entry's plan, and the graveyard's
/// with the number of versions its walk reached.
struct PlannedKey {
    live: Option<CutPlan>,
    grave: Option<(CutPlan, u64)>,
}

/// Whether a graveyard deleted at `deleted_ms` expires whole by `rule` at `now`.
fn expires_whole(rule: &RetentionRule, now: u64, deleted_ms: u64) -> bool {
    rule.deleted_after_ms
        .is_some_and(|x| now.saturating_sub(deleted_ms) >= x)
}
