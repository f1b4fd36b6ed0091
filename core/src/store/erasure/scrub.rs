//! Scrub and repair: read every shard and copy of every block, check each against the block's
//! CID, and (on repair) rewrite what is missing or corrupt from the survivors.
//!
//! Blocks are visited in CID order, one stripe at a time (all `k + m` shards of the stripe in
//! parallel), so memory stays at about two stripes plus the list of block CIDs. A scrub that
//! stopped can resume after the last block its report names ([`ScrubOptions::start_after`]).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use futures_util::future::join_all;

use super::layout::{is_block_cid, parse_shard_cid};
use super::{ErasureStore, Inner, Layout, StripeRead, Verdict};
use crate::block::Cid;
use crate::store::StoreResult;
use crate::store::verifying::verify_fetched;

/// What a scrub should do.
#[derive(Clone, Debug, Default)]
pub struct ScrubOptions {
    /// Rewrite missing and corrupt shards and copies from the survivors.
    pub repair: bool,
    /// Skip blocks up to and including this one (resume after [`ScrubReport::last_block`]).
    pub start_after: Option<Cid>,
}

/// What a scrub found on one backend.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BackendScrub {
    /// The backend's index in the order given to [`ErasureStore::new`].
    pub index: usize,
    /// Shards and copies that verified.
    pub ok: u64,
    /// Shards and copies the backend should hold and does not.
    pub missing: u64,
    /// Shards and copies that failed verification.
    pub corrupt: u64,
    /// Missing or corrupt shards and copies rewritten by a repair.
    pub healed: u64,
    /// Reads or writes that failed (the backend was unreachable, timed out, …).
    pub failed: u64,
}

/// What [`ErasureStore::scrub`] found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ScrubReport {
    /// Blocks checked.
    pub blocks: u64,
    /// Of them, erasure-coded blocks.
    pub coded: u64,
    /// Of them, replicated small blocks.
    pub replicated: u64,
    /// Per backend, in the order given to [`ErasureStore::new`].
    pub backends: Vec<BackendScrub>,
    /// Blocks that could not be rebuilt from what the backends hold, with why.
    pub unrecoverable: Vec<(String, String)>,
    /// Backends that could not be listed (their blocks may be missing from the scrub), with why.
    pub unlisted: Vec<(usize, String)>,
    /// The last block checked (resume with [`ScrubOptions::start_after`]).
    pub last_block: Option<String>,
}

impl ScrubReport {
    /// Whether every shard and copy checked was present and correct (after a repair: whether
    /// nothing was left broken).
    pub fn clean(&self) -> bool {
        self.unrecoverable.is_empty()
            && self.unlisted.is_empty()
            && self
                .backends
                .iter()
                .all(|b| b.failed == 0 && b.missing + b.corrupt == b.healed)
    }
}

/// What kind of block a listing shows.
#[derive(Default)]
struct Seen {
    copy: bool,
    shards: bool,
}

impl ErasureStore {
    /// Checks every shard and copy of every block on every backend (read only).
    pub async fn scrub(&self) -> StoreResult<ScrubReport> {
        self.scrub_with(&ScrubOptions::default()).await
    }

    /// Checks everything and rewrites missing or corrupt shards and copies from the survivors.
    pub async fn repair(&self) -> StoreResult<ScrubReport> {
        self.scrub_with(&ScrubOptions {
            repair: true,
            start_after: None,
        })
        .await
    }

    /// [`ErasureStore::scrub`] with options (repair, resume).
    pub async fn scrub_with(&self, options: &ScrubOptions) -> StoreResult<ScrubReport> {
        self.scrub_observed(options, |_, _| {}).await
    }

    /// [`ErasureStore::scrub_with`], calling `observe(report so far, blocks to check)` once the
    /// backends are listed and after every block (for progress displays). The report so far
    /// names the last block checked, so an observer can also save a resume point.
    pub async fn scrub_observed(
        &self,
        options: &ScrubOptions,
        mut observe: impl FnMut(&ScrubReport, u64) + Send,
    ) -> StoreResult<ScrubReport> {
        let inner = &self.inner;
        let mut report = ScrubReport {
            backends: (0..inner.backends.len())
                .map(|index| BackendScrub {
                    index,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let listings = join_all(
            (0..inner.backends.len())
                .map(|b| inner.timed(b, "list", inner.backends[b].store.list())),
        )
        .await;
        let mut blocks: BTreeMap<Cid, Seen> = BTreeMap::new();
        for (b, l) in listings.into_iter().enumerate() {
            match l {
                Ok(cids) => {
                    for c in cids {
                        if let Some((block, _, _)) = parse_shard_cid(&c) {
                            blocks.entry(block).or_default().shards = true;
                        } else if is_block_cid(&c) {
                            blocks.entry(c).or_default().copy = true;
                        }
                    }
                }
                Err(e) => report.unlisted.push((b, e.to_string())),
            }
        }
        let start = options.start_after;
        let todo = blocks
            .keys()
            .filter(|c| start.is_none_or(|s| **c > s))
            .count() as u64;
        observe(&report, todo);
        for (block, seen) in blocks
            .into_iter()
            .filter(|(c, _)| start.is_none_or(|s| *c > s))
        {
            report.blocks += 1;
            if seen.shards {
                report.coded += 1;
                inner.scrub_coded(&block, options.repair, &mut report).await;
            }
            if seen.copy {
                report.replicated += 1;
                inner
                    .scrub_copies(&block, options.repair, &mut report)
                    .await;
            }
            report.last_block = Some(block.to_string());
            observe(&report, todo);
        }
        Ok(report)
    }

    /// Scrubs (and on `repair` heals) one block as a coded block (`coded`) or as replicated copies,
    /// on the backends the placement puts it on.
    pub(crate) async fn scrub_block(&self, block: &Cid, coded: bool, repair: bool) -> ScrubReport {
        let inner = &self.inner;
        let mut report = ScrubReport {
            backends: (0..inner.backends.len())
                .map(|index| BackendScrub {
                    index,
                    ..Default::default()
                })
                .collect(),
            blocks: 1,
            ..Default::default()
        };
        if coded {
            report.coded = 1;
            inner.scrub_coded(block, repair, &mut report).await;
        } else {
            report.replicated = 1;
            inner.scrub_copies(block, repair, &mut report).await;
        }
        report.last_block = Some(block.to_string());
        report
    }
}

impl Inner {
    async fn scrub_coded(&self, block: &Cid, repair: bool, report: &mut ScrubReport) {
        let first = match self.read_stripe(block, 0, None, u64::MAX, true).await {
            Ok(r) => r,
            Err(e) => {
                report
                    .unrecoverable
                    .push((block.to_string(), format!("stripe 0: {e}")));
                return;
            }
        };
        let layout = first.layout.clone();
        self.settle_stripe(block, 0, first, repair, report).await;
        for s in 1..layout.stripes() {
            match self
                .read_stripe(block, s, Some(&layout), layout.len, true)
                .await
            {
                Ok(r) => self.settle_stripe(block, s, r, repair, report).await,
                Err(e) => report
                    .unrecoverable
                    .push((block.to_string(), format!("stripe {s}: {e}"))),
            }
        }
    }

    /// Counts the verdicts of a stripe read in full; on repair rewrites what was not ok. The
    /// stripe is re-encoded from its verified data, so the shards it writes, and the hashes it
    /// compares against, do not depend on any shard's header.
    async fn settle_stripe(
        &self,
        block: &Cid,
        s: u64,
        read: StripeRead,
        repair: bool,
        report: &mut ScrubReport,
    ) {
        let Layout {
            stripe_size,
            len,
            ref cvs,
        } = read.layout;
        let expected = match self.encode(&read.data, stripe_size, s, len, cvs) {
            Ok(e) => e,
            Err(e) => {
                report.unrecoverable.push((
                    block.to_string(),
                    format!("stripe {s}: re-encoding failed: {e}"),
                ));
                return;
            }
        };
        // The winning group's hashes are trusted only if they are the true ones.
        let true_key = super::layout::decode_header(&expected[0])
            .map(|(h, _)| h.stripe_key())
            .ok();
        let honest_group = true_key.as_deref() == Some(read.key.as_slice());
        for (i, verdict) in read.verdicts.iter().enumerate() {
            let b = self.place(block, i);
            let stats = &mut report.backends[b];
            let broken = match verdict {
                Some(Verdict::Ok) if honest_group => {
                    stats.ok += 1;
                    false
                }
                Some(Verdict::Ok) | Some(Verdict::Corrupt) => {
                    stats.corrupt += 1;
                    true
                }
                Some(Verdict::Missing) | None => {
                    stats.missing += 1;
                    true
                }
                Some(Verdict::Failed) => {
                    stats.failed += 1;
                    false
                }
            };
            if broken && repair {
                let Ok(name) = self.shard_name(block, s, i) else {
                    continue;
                };
                if self.rewrite(b, &name, expected[i].clone()).await.is_ok() {
                    report.backends[b].healed += 1;
                } else {
                    report.backends[b].failed += 1;
                }
            }
        }
    }

    /// Replaces whatever `name` holds on backend `b` with `bytes` (stores skip a put of a name
    /// they hold, so a corrupt copy is deleted first).
    async fn rewrite(&self, b: usize, name: &Cid, bytes: Bytes) -> StoreResult<()> {
        let store = &self.backends[b].store;
        self.timed(b, "delete", store.delete(name)).await?;
        self.timed(b, "put", store.put(name, bytes)).await
    }

    async fn scrub_copies(&self, block: &Cid, repair: bool, report: &mut ScrubReport) {
        let want = self.m() + 1;
        let holders: BTreeSet<usize> = (0..want).map(|j| self.place(block, j)).collect();
        let reads = join_all((0..self.backends.len()).map(|b| async move {
            let got = self
                .timed(b, "get copy", self.backends[b].store.get(block))
                .await;
            (b, got)
        }))
        .await;
        let mut good: Option<Bytes> = None;
        let mut broken = Vec::new();
        for (b, got) in reads {
            match got {
                Ok(bytes) => match verify_fetched(block, &bytes) {
                    Ok(()) => {
                        report.backends[b].ok += 1;
                        good.get_or_insert(bytes);
                    }
                    Err(_) => {
                        self.mark_corrupt(b);
                        report.backends[b].corrupt += 1;
                        broken.push(b);
                    }
                },
                Err(crate::store::StoreError::NotFound(_)) if holders.contains(&b) => {
                    report.backends[b].missing += 1;
                    broken.push(b);
                }
                Err(crate::store::StoreError::NotFound(_)) => {}
                Err(_) => report.backends[b].failed += 1,
            }
        }
        let Some(bytes) = good else {
            report.unrecoverable.push((
                block.to_string(),
                "no backend holds a copy that matches the CID".to_string(),
            ));
            return;
        };
        if !repair {
            return;
        }
        for b in broken {
            if self.rewrite(b, block, bytes.clone()).await.is_ok() {
                report.backends[b].healed += 1;
            } else {
                report.backends[b].failed += 1;
            }
        }
    }
}
