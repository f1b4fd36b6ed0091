//! Rebalancing: moving every copy and shard that is not where the policy in force places it.
//!
//! Every backend is listed; blocks are visited in CID order. For a block whose pieces are not all
//! where they belong, the missing pieces are written at their place (read through the placed
//! store's reads, so from wherever they are, verified against the CID) and checked (copies read
//! back and hashed, erasure-coded blocks scrubbed: every shard of every stripe verified); only
//! then are the misplaced pieces deleted. A block that fails is left as it was (readable) and
//! reported. Memory: the listings' names, and one block's stripe or stream buffer at a time.
//! A rebalance that stopped resumes after [`RebalanceReport::last_block`].

use std::collections::{BTreeMap, BTreeSet};

use futures_util::TryStreamExt;
use futures_util::future::join_all;

use super::{Active, PlacedStore, Redundancy, io_error, place};
use crate::block::Cid;
use crate::store::erasure::layout::{is_block_cid, parse_shard_cid, shard_cid};
use crate::store::{BlockStore, StoreError, StoreResult};

/// What a rebalance should do.
#[derive(Clone, Debug, Default)]
pub struct RebalanceOptions {
    /// Skip blocks up to and including this one (resume after [`RebalanceReport::last_block`]).
    pub start_after: Option<Cid>,
}

/// What [`PlacedStore::rebalance`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RebalanceReport {
    /// Blocks visited.
    pub blocks: u64,
    /// Blocks whose pieces were moved (written at their place, then deleted where they were).
    pub moved: u64,
    /// Blocks already where the policy places them.
    pub already_placed: u64,
    /// Copies and shards deleted from where they no longer belong.
    pub deleted: u64,
    /// Blocks that could not be moved, with why (they stay readable where they were).
    pub failed: Vec<(String, String)>,
    /// Backends that could not be listed (their pieces were not visited), with why.
    pub unlisted: Vec<(String, String)>,
    /// The last block visited (resume with [`RebalanceOptions::start_after`]).
    pub last_block: Option<String>,
}

impl RebalanceReport {
    /// Whether every piece of every block is now where the policy places it.
    pub fn clean(&self) -> bool {
        self.failed.is_empty() && self.unlisted.is_empty()
    }
}

/// Where one block's pieces are.
#[derive(Default)]
struct Holding {
    /// Backends with a whole copy, and the copy's size when the listing gave it.
    copies: BTreeMap<usize, Option<u64>>,
    /// `(stripe, shard index)` → backends holding it.
    shards: BTreeMap<(u32, u8), BTreeSet<usize>>,
}

impl PlacedStore {
    /// Moves every piece that is not where the policy in force places it (see the module
    /// documentation of `rebalance.rs`).
    pub async fn rebalance(&self) -> StoreResult<RebalanceReport> {
        self.rebalance_with(&RebalanceOptions::default()).await
    }

    /// [`PlacedStore::rebalance`], resuming after `options.start_after`.
    pub async fn rebalance_with(&self, options: &RebalanceOptions) -> StoreResult<RebalanceReport> {
        let mut report = RebalanceReport::default();
        let mut held: BTreeMap<Cid, Holding> = BTreeMap::new();
        for (b, backend) in self.inner.backends.iter().enumerate() {
            let mut seen: Vec<(Cid, Option<u64>)> = Vec::new();
            let listed = backend
                .store
                .for_each_block(&mut |c, size| seen.push((c, size)))
                .await;
            if let Err(e) = listed {
                report.unlisted.push((backend.name.clone(), e.to_string()));
                continue;
            }
            for (c, size) in seen {
                if let Some((block, s, i)) = parse_shard_cid(&c) {
                    held.entry(block)
                        .or_default()
                        .shards
                        .entry((s, i))
                        .or_default()
                        .insert(b);
                } else if is_block_cid(&c) {
                    held.entry(c).or_default().copies.insert(b, size);
                }
            }
        }
        let start = options.start_after;
        for (block, holding) in held
            .into_iter()
            .filter(|(c, _)| start.is_none_or(|s| *c > s))
        {
            report.blocks += 1;
            let active = self.active();
            match self.settle(&active, &block, &holding).await {
                Ok(Some(deleted)) => {
                    report.moved += 1;
                    report.deleted += deleted;
                }
                Ok(None) => report.already_placed += 1,
                Err(e) => report.failed.push((block.to_string(), e.to_string())),
            }
            report.last_block = Some(block.to_string());
        }
        Ok(report)
    }

    /// Puts one block where it belongs: `None` when it already was, else the pieces deleted.
    async fn settle(&self, active: &Active, block: &Cid, h: &Holding) -> StoreResult<Option<u64>> {
        let targets = place(active, block)?;
        match active.policy.redundancy {
            Redundancy::Replicate { .. } => {
                let want: BTreeSet<usize> = targets.iter().copied().collect();
                let have: BTreeSet<usize> = h.copies.keys().copied().collect();
                if h.shards.is_empty() && want == have {
                    return Ok(None);
                }
                for &t in want.difference(&have) {
                    self.copy_to(block, t).await?;
                }
                for &t in &want {
                    self.verify_copy(block, t).await?;
                }
                let extra: Vec<usize> = have.difference(&want).copied().collect();
                self.delete_pieces(block, &extra, h, None).await.map(Some)
            }
            Redundancy::Erasure { k, m } => {
                let coded = self.coded(active, block)?;
                let small_limit = coded.config().small_block as u64;
                let small = h.shards.is_empty() && self.is_small(block, h, small_limit).await?;
                if small {
                    let want: BTreeSet<usize> = targets[..=m].iter().copied().collect();
                    let have: BTreeSet<usize> = h.copies.keys().copied().collect();
                    if want == have {
                        return Ok(None);
                    }
                    let bytes = self.get_max(block, small_limit).await?;
                    coded.put(block, bytes).await?;
                    coded.scrub_block(block, false, true).await;
                    let check = coded.scrub_block(block, false, false).await;
                    if !check.clean() || want.iter().any(|&t| check.backends[t].ok == 0) {
                        return Err(StoreError::Other(format!(
                            "the copies at their new place did not verify: {check:?}"
                        )));
                    }
                    let extra: Vec<usize> = have.difference(&want).copied().collect();
                    return self.delete_pieces(block, &extra, h, None).await.map(Some);
                }
                let in_place = h.copies.is_empty()
                    && !h.shards.is_empty()
                    && h.shards.iter().all(|(&(_, i), holders)| {
                        usize::from(i) < k + m
                            && holders.len() == 1
                            && holders.contains(&targets[usize::from(i)])
                    })
                    && {
                        let stripes: BTreeSet<u32> = h.shards.keys().map(|&(s, _)| s).collect();
                        h.shards.len() == stripes.len() * (k + m)
                    };
                if in_place {
                    return Ok(None);
                }
                // Shards of another code share the names of this code's shards: stage a verified
                // whole copy, delete them, then code the block anew from the copy.
                let staged = match self.stored_code(block, h).await {
                    Some(code) if code != (k, m) => Some(self.restage(block, h, targets[0]).await?),
                    _ => None,
                };
                // Write what is missing at its place: the whole block when fewer than k shards
                // are placed (`put_stream` skips a block that has them), then let a repair
                // rebuild the rest from the placed shards.
                let stream = self.get_stream(block).await?;
                let mut reader = stream.map_err(io_error).into_async_read();
                coded.put_stream(block, &mut reader, None).await?;
                coded.scrub_block(block, true, true).await;
                let check = coded.scrub_block(block, true, false).await;
                if !check.clean() {
                    return Err(StoreError::Other(format!(
                        "the shards at their new place did not verify: {} unrecoverable, {} \
                         missing, {} corrupt",
                        check.unrecoverable.len(),
                        check.backends.iter().map(|b| b.missing).sum::<u64>(),
                        check.backends.iter().map(|b| b.corrupt).sum::<u64>()
                    )));
                }
                if let Some(t) = staged {
                    self.inner.blocks[t].delete(block).await?;
                    return Ok(Some(h.shards.values().map(|b| b.len() as u64).sum()));
                }
                let copies: Vec<usize> = h.copies.keys().copied().collect();
                self.delete_pieces(block, &copies, h, Some((&targets, k + m)))
                    .await
                    .map(Some)
            }
        }
    }

    /// The code `(k, m)` of a block's stored shards, from the header of the first one that
    /// answers (`None`: no shards, or none readable).
    async fn stored_code(&self, block: &Cid, h: &Holding) -> Option<(usize, usize)> {
        use crate::store::erasure::layout::{PREFIX_LEN, decode_prefix};
        for (&(s, i), holders) in h.shards.iter().take(4) {
            let name = shard_cid(block, s, i).ok()?;
            for &b in holders {
                if let Ok(p) = self.inner.blocks[b]
                    .get_range(&name, 0..PREFIX_LEN as u64)
                    .await
                    && decode_prefix(&p).is_ok()
                {
                    return Some((usize::from(p[5]), usize::from(p[6])));
                }
            }
        }
        None
    }

    /// Writes a verified whole copy of `block` to backend `t`, then deletes every shard listed in
    /// `h` (of another code); returns `t`.
    async fn restage(&self, block: &Cid, h: &Holding, t: usize) -> StoreResult<usize> {
        self.copy_to(block, t).await?;
        self.verify_copy(block, t).await?;
        self.delete_pieces(block, &[], h, None).await?;
        Ok(t)
    }

    /// Whether a block held only as copies fits the erasure store's small-block threshold.
    async fn is_small(&self, block: &Cid, h: &Holding, limit: u64) -> StoreResult<bool> {
        if let Some(size) = h.copies.values().flatten().next() {
            return Ok(*size <= limit);
        }
        match self.get_max(block, limit).await {
            Ok(_) => Ok(true),
            Err(StoreError::TooLarge { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Streams a verified copy of `block` (from wherever it is) to backend `t`.
    async fn copy_to(&self, block: &Cid, t: usize) -> StoreResult<()> {
        let stream = self.get_stream(block).await?;
        let mut reader = stream.map_err(io_error).into_async_read();
        self.inner.blocks[t]
            .put_stream(block, &mut reader, None)
            .await
    }

    /// Reads backend `t`'s copy of `block` back and checks it against the CID.
    async fn verify_copy(&self, block: &Cid, t: usize) -> StoreResult<()> {
        let expected = crate::block::blake3_digest(block)
            .map_err(|e| StoreError::Unsupported(e.to_string()))?;
        let stream = self.inner.blocks[t].get_stream(block).await?;
        let mut verified = crate::store::verifying::verified_stream(*block, expected, stream);
        while verified.try_next().await?.is_some() {}
        Ok(())
    }

    /// Deletes the copies on `copies` and every shard not at its place (`shards_at`: the placed
    /// backends and the shard count; `None`: every shard). Returns how many were deleted.
    async fn delete_pieces(
        &self,
        block: &Cid,
        copies: &[usize],
        h: &Holding,
        shards_at: Option<(&[usize], usize)>,
    ) -> StoreResult<u64> {
        let mut doomed: Vec<(usize, Cid)> = copies.iter().map(|&b| (b, *block)).collect();
        for (&(s, i), holders) in &h.shards {
            let keep = shards_at.and_then(|(t, n)| (usize::from(i) < n).then(|| t[usize::from(i)]));
            for &b in holders {
                if Some(b) != keep {
                    let name = shard_cid(block, s, i)
                        .map_err(|e| StoreError::Unsupported(e.to_string()))?;
                    doomed.push((b, name));
                }
            }
        }
        let results = join_all(
            doomed
                .iter()
                .map(|(b, name)| self.inner.blocks[*b].delete(name)),
        )
        .await;
        let mut errors = Vec::new();
        for ((b, name), r) in doomed.iter().zip(results) {
            if let Err(e) = r {
                errors.push(format!("{name} on {}: {e}", self.inner.backends[*b].name));
            }
        }
        if errors.is_empty() {
            Ok(doomed.len() as u64)
        } else {
            Err(StoreError::Unavailable(format!(
                "placed, but deleting misplaced pieces failed (run rebalance again): {}",
                errors.join("; ")
            )))
        }
    }
}
