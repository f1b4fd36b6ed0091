//! Pinning a whole set of blocks under one name, and removing the pins a set no longer holds.

use std::collections::{HashMap, HashSet};

use futures_util::{StreamExt, stream};

use super::{
    PinAllReport, PinFilter, PinProgress, PinProgressFn, PinServiceError, PinServiceResult,
    PinState, PinningService, RemotePin, check_name, failed, next_interval,
};
use crate::block::Cid;

impl PinningService {
    /// Pins every block of `cids` under `name` (fetched from `origins`), skipping those the
    /// service already has queued, pinning or pinned under that name, and waits until the
    /// service reports every one `pinned`, at most [`super::PinServiceConfig::pin_timeout`] in all.
    /// `Ok` only when all are pinned; else [`PinServiceError::Failed`] (some failed: the first
    /// is named) or [`PinServiceError::Timeout`] (some still queued or pinning), with counts.
    /// Running it again picks up where it stopped.
    pub async fn pin_all(
        &self,
        cids: &[Cid],
        name: &str,
        origins: &[String],
        mut progress: Option<PinProgressFn<'_>>,
    ) -> PinServiceResult<PinAllReport> {
        check_name(name)?;
        let mut report = |p: PinProgress| {
            if let Some(f) = progress.as_mut() {
                f(&p);
            }
        };
        let mut targets = Vec::new();
        let mut unique = HashSet::new();
        for c in cids {
            if unique.insert(*c) {
                targets.push(*c);
            }
        }
        let total = targets.len() as u64;
        let existing = self
            .list(&PinFilter {
                name: Some(name.to_string()),
                ..Default::default()
            })
            .await?;
        report(PinProgress::Listed {
            pins: existing.len() as u64,
        });
        // The best request per CID: pinned over in flight over failed.
        let mut best: HashMap<Cid, RemotePin> = HashMap::new();
        for pin in existing {
            let better = best
                .get(&pin.cid)
                .is_none_or(|b| rank(pin.state) > rank(b.state));
            if unique.contains(&pin.cid) && better {
                best.insert(pin.cid, pin);
            }
        }
        let mut done = PinAllReport {
            blocks: total,
            ..Default::default()
        };
        let mut waiting: Vec<(Cid, String)> = Vec::new();
        let mut to_add = Vec::new();
        for c in &targets {
            match best.get(c) {
                Some(p) if p.state == PinState::Pinned => done.already_pinned += 1,
                Some(p) if p.state != PinState::Failed => waiting.push((*c, p.request_id.clone())),
                _ => to_add.push(*c),
            }
        }
        done.pinned = done.already_pinned;
        let to_send = to_add.len() as u64;
        let mut adds = stream::iter(to_add)
            .map(|c| async move { self.add(&c, name, origins).await })
            .buffer_unordered(self.config.concurrency);
        let mut failures: Vec<RemotePin> = Vec::new();
        while let Some(pin) = adds.next().await {
            let pin = pin?;
            done.added += 1;
            match pin.state {
                PinState::Pinned => done.pinned += 1,
                PinState::Failed => failures.push(pin),
                _ => waiting.push((pin.cid, pin.request_id)),
            }
            report(PinProgress::Adding {
                done: done.added,
                total: to_send,
            });
        }
        drop(adds);
        let deadline = web_time::Instant::now() + self.config.pin_timeout;
        let mut interval = self.config.poll_interval;
        while !waiting.is_empty() {
            report(PinProgress::Waiting {
                pinned: done.pinned,
                total,
            });
            let now = web_time::Instant::now();
            if now >= deadline {
                break;
            }
            futures_timer::Delay::new(interval.min(deadline - now)).await;
            interval = next_interval(interval);
            let checked: Vec<_> = stream::iter(std::mem::take(&mut waiting))
                .map(|(cid, id)| async move { (cid, self.get(&id).await, id) })
                .buffer_unordered(self.config.concurrency)
                .collect()
                .await;
            for (cid, pin, id) in checked {
                let pin = pin?;
                match pin.state {
                    PinState::Pinned => done.pinned += 1,
                    PinState::Failed => failures.push(pin),
                    _ => waiting.push((cid, id)),
                }
            }
        }
        report(PinProgress::Waiting {
            pinned: done.pinned,
            total,
        });
        if let Some(first) = failures.first() {
            let e = failed(first);
            let reason = match e {
                PinServiceError::Failed { reason, .. } => reason,
                other => other.to_string(),
            };
            return Err(PinServiceError::Failed {
                cid: first.cid.to_string(),
                reason: format!(
                    "{reason} ({} of {total} blocks failed, {} still in flight, {} pinned)",
                    failures.len(),
                    waiting.len(),
                    done.pinned
                ),
            });
        }
        if !waiting.is_empty() {
            return Err(PinServiceError::Timeout(format!(
                "{} of {total} blocks still queued or pinning at the service after {:?} ({} \
                 pinned): not durable; run again to keep waiting",
                waiting.len(),
                self.config.pin_timeout,
                done.pinned
            )));
        }
        Ok(done)
    }

    /// Removes every pin request named `name` whose CID is not in `keep` (e.g. blocks a vault no
    /// longer references after a prune); returns how many were removed.
    pub async fn remove_unlisted(&self, name: &str, keep: &[Cid]) -> PinServiceResult<u64> {
        let keep: HashSet<Cid> = keep.iter().copied().collect();
        let pins = self
            .list(&PinFilter {
                name: Some(name.to_string()),
                ..Default::default()
            })
            .await?;
        let stale: Vec<String> = pins
            .into_iter()
            .filter(|p| !keep.contains(&p.cid))
            .map(|p| p.request_id)
            .collect();
        let mut removed = 0;
        let mut dels = stream::iter(stale)
            .map(|id| async move { self.remove(&id).await })
            .buffer_unordered(self.config.concurrency);
        while let Some(r) = dels.next().await {
            match r {
                Ok(()) | Err(PinServiceError::NotFound(_)) => removed += 1,
                Err(e) => return Err(e),
            }
        }
        Ok(removed)
    }
}

fn rank(s: PinState) -> u8 {
    match s {
        PinState::Failed => 0,
        PinState::Queued => 1,
        PinState::Pinning => 2,
        PinState::Pinned => 3,
    }
}
