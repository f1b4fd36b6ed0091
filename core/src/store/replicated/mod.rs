//! Replication over several stores: writes reach a quorum of N of M backends, reads come from
//! the fastest healthy backend, are verified against the CID and fall back to the next on error.

pub(super) mod health;
mod tee;

pub use health::BackendHealth;

use std::collections::{BTreeSet, HashSet};
use std::future::Future;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use web_time::Instant;

use super::verifying::{verified_stream, verify_fetched};
use super::{BlobSource, BlockStore, ByteStream, StoreError, StoreResult, check_range_answer};
use crate::block::Cid;
use health::Health;

/// How a [`ReplicatedStore`] writes and waits.
#[derive(Clone, Debug)]
pub struct ReplicationConfig {
    /// Backends that must acknowledge a write (N of M).
    pub write_quorum: usize,
    /// Deadline of one operation on one backend (`None`: wait as long as the backend does).
    pub timeout: Option<Duration>,
}

/// What [`ReplicatedStore::repair`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// Distinct blocks seen across backends.
    pub blocks: usize,
    /// Copies written to backends that lacked a block.
    pub copied: usize,
    /// Blocks no backend could supply with verified bytes (CID strings).
    pub unrecoverable: Vec<String>,
    /// Copies that failed to write, as `(cid, backend index, error)`.
    pub failed: Vec<(String, usize, String)>,
}

struct Backend {
    store: Arc<dyn BlockStore>,
    health: Mutex<Health>,
}

/// N-of-M replication over other block stores.
///
/// - `put` checks each backend for the block and writes it where missing, all backends at once;
///   it succeeds when at least `write_quorum` backends hold the block. Otherwise it deletes the
///   copies it just wrote (never a copy that was there before) and fails with
///   [`StoreError::QuorumFailed`]: nothing is committed.
/// - `get` tries backends from the healthiest and fastest, verifies the bytes against the CID,
///   and falls back to the next backend on any error or corruption.
/// - `repair` copies blocks to the backends that lack them.
pub struct ReplicatedStore {
    backends: Vec<Backend>,
    config: ReplicationConfig,
}

impl std::fmt::Debug for ReplicatedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicatedStore")
            .field("backends", &self.backends.len())
            .field("config", &self.config)
            .finish()
    }
}

enum Ack {
    /// The backend already held the block.
    Existed,
    /// This call wrote it.
    Written,
}

impl ReplicatedStore {
    /// Replicates over `backends` with `config`; fails when the quorum is 0 or exceeds M.
    pub fn new(backends: Vec<Arc<dyn BlockStore>>, config: ReplicationConfig) -> StoreResult<Self> {
        if config.write_quorum == 0 || config.write_quorum > backends.len() {
            return Err(StoreError::Config(format!(
                "write quorum {} must be between 1 and the number of backends ({})",
                config.write_quorum,
                backends.len()
            )));
        }
        let backends = backends
            .into_iter()
            .map(|store| Backend {
                store,
                health: Mutex::new(Health::default()),
            })
            .collect();
        Ok(Self { backends, config })
    }

    /// Health of every backend, in the order given to [`ReplicatedStore::new`].
    pub fn health(&self) -> Vec<BackendHealth> {
        self.backends
            .iter()
            .enumerate()
            .map(|(i, b)| lock(&b.health).snapshot(i))
            .collect()
    }

    /// Backend indices in read order: healthy first, then fastest.
    fn read_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.backends.len()).collect();
        order.sort_by_key(|&i| lock(&self.backends[i].health).rank());
        order
    }

    /// Runs `fut` on backend `i` with the deadline, recording its health.
    async fn timed<T>(
        &self,
        i: usize,
        op: &str,
        fut: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let start = Instant::now();
        let result = self.deadline(i, op, fut).await;
        self.record(i, start, &result);
        result
    }

    /// Records the outcome of an operation on backend `i` that started at `start`.
    fn record<T>(&self, i: usize, start: Instant, result: &StoreResult<T>) {
        health::record(&mut lock(&self.backends[i].health), start, result);
    }

    /// Runs `fut` with the per-backend deadline.
    async fn deadline<T>(
        &self,
        i: usize,
        op: &str,
        fut: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        health::with_deadline(self.config.timeout, i, op, fut).await
    }

    async fn put_one(&self, i: usize, cid: &Cid, bytes: Bytes) -> StoreResult<Ack> {
        let store = &self.backends[i].store;
        if self.timed(i, "has", store.has(cid)).await? {
            return Ok(Ack::Existed);
        }
        self.timed(i, "put", store.put(cid, bytes)).await?;
        Ok(Ack::Written)
    }

    /// Deletes the copies of `cid` on `written` (a failed write's own copies); returns notes on
    /// the deletions that failed.
    async fn roll_back(&self, cid: &Cid, written: &[usize]) -> Vec<String> {
        let rollback = join_all(
            written
                .iter()
                .map(|&i| self.timed(i, "delete", self.backends[i].store.delete(cid))),
        )
        .await;
        written
            .iter()
            .zip(rollback)
            .filter_map(|(i, r)| {
                r.err()
                    .map(|e| format!("backend {i}: rollback failed, an orphan copy remains: {e}"))
            })
            .collect()
    }

    /// Copies every block to the backends that lack it, reading verified bytes from one that has
    /// it. Backends that cannot be listed are skipped (and reported as failures).
    pub async fn repair(&self) -> StoreResult<RepairReport> {
        let listings = join_all(
            (0..self.backends.len()).map(|i| self.timed(i, "list", self.backends[i].store.list())),
        )
        .await;
        let mut report = RepairReport::default();
        let mut sets: Vec<Option<HashSet<Cid>>> = Vec::new();
        for (i, l) in listings.into_iter().enumerate() {
            match l {
                Ok(cids) => sets.push(Some(cids.into_iter().collect())),
                Err(e) => {
                    report
                        .failed
                        .push((String::new(), i, format!("listing failed: {e}")));
                    sets.push(None);
                }
            }
        }
        let all: BTreeSet<Cid> = sets.iter().flatten().flatten().copied().collect();
        report.blocks = all.len();
        for cid in all {
            let missing: Vec<usize> = (0..sets.len())
                .filter(|&i| sets[i].as_ref().is_some_and(|s| !s.contains(&cid)))
                .collect();
            if missing.is_empty() {
                continue;
            }
            let holders: Vec<usize> = (0..sets.len())
                .filter(|&i| sets[i].as_ref().is_some_and(|s| s.contains(&cid)))
                .collect();
            let mut bytes = None;
            for i in holders {
                if let Ok(b) = self.timed(i, "get", self.backends[i].store.get(&cid)).await
                    && verify_fetched(&cid, &b).is_ok()
                {
                    bytes = Some(b);
                    break;
                }
            }
            let Some(bytes) = bytes else {
                report.unrecoverable.push(cid.to_string());
                continue;
            };
            for i in missing {
                match self
                    .timed(i, "put", self.backends[i].store.put(&cid, bytes.clone()))
                    .await
                {
                    Ok(()) => report.copied += 1,
                    Err(e) => report.failed.push((cid.to_string(), i, e.to_string())),
                }
            }
        }
        Ok(report)
    }
}

pub(crate) fn lock(m: &Mutex<Health>) -> std::sync::MutexGuard<'_, Health> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The error to return after every backend failed: `NotFound` when all said so.
pub(crate) fn all_failed(cid: &Cid, errors: Vec<(usize, StoreError)>) -> StoreError {
    if errors
        .iter()
        .all(|(_, e)| matches!(e, StoreError::NotFound(_)))
    {
        return StoreError::NotFound(cid.to_string());
    }
    // Every backend that had the block inflated it: say so, not "unavailable".
    let too_large = errors.iter().find_map(|(_, e)| match e {
        StoreError::TooLarge { limit, .. } => Some(*limit),
        _ => None,
    });
    if let Some(limit) = too_large
        && errors
            .iter()
            .all(|(_, e)| matches!(e, StoreError::TooLarge { .. } | StoreError::NotFound(_)))
    {
        return StoreError::TooLarge {
            what: format!("block {cid} on every backend that has it"),
            limit,
        };
    }
    if errors.len() == 1 {
        return errors
            .into_iter()
            .map(|(_, e)| e)
            .next()
            .unwrap_or(StoreError::NotFound(cid.to_string()));
    }
    let detail = errors
        .iter()
        .map(|(i, e)| format!("backend {i}: {e}"))
        .collect::<Vec<_>>()
        .join("; ");
    StoreError::Unavailable(format!("every backend failed for {cid}: {detail}"))
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl BlockStore for ReplicatedStore {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        let results =
            join_all((0..self.backends.len()).map(|i| self.put_one(i, cid, bytes.clone()))).await;
        let acked = results.iter().filter(|r| r.is_ok()).count();
        if acked >= self.config.write_quorum {
            return Ok(());
        }
        // Roll back the copies this call wrote, so nothing is committed.
        let written: Vec<usize> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r, Ok(Ack::Written)))
            .map(|(i, _)| i)
            .collect();
        let mut detail: Vec<String> = results
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().err().map(|e| format!("backend {i}: {e}")))
            .collect();
        detail.extend(self.roll_back(cid, &written).await);
        Err(StoreError::QuorumFailed {
            cid: cid.to_string(),
            acked,
            needed: self.config.write_quorum,
            detail: detail.join("; "),
        })
    }

    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        let mut errors = Vec::new();
        for i in self.read_order() {
            let start = Instant::now();
            let got = self
                .deadline(i, "get", self.backends[i].store.get(cid))
                .await;
            // Corrupt bytes count as a failure of the backend that sent them.
            let got = got.and_then(|b| verify_fetched(cid, &b).map(|()| b));
            self.record(i, start, &got);
            match got {
                Ok(b) => return Ok(b),
                Err(e) => errors.push((i, e)),
            }
        }
        Err(all_failed(cid, errors))
    }

    /// Like `get`, each backend's answer capped at `max_len` (an oversized answer counts as a
    /// failure of that backend, and the next is tried).
    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        let mut errors = Vec::new();
        for i in self.read_order() {
            let start = Instant::now();
            let got = self
                .deadline(i, "get_max", self.backends[i].store.get_max(cid, max_len))
                .await;
            let got = got.and_then(|b| verify_fetched(cid, &b).map(|()| b));
            self.record(i, start, &got);
            match got {
                Ok(b) => return Ok(b),
                Err(e) => errors.push((i, e)),
            }
        }
        Err(all_failed(cid, errors))
    }

    /// Ranges cannot be checked against a CID; they come unverified (verify them with the Bao
    /// outboard), from the first backend that answers.
    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        let mut errors = Vec::new();
        for i in self.read_order() {
            match self
                .timed(i, "get_range", async {
                    let b = self.backends[i].store.get_range(cid, range.clone()).await?;
                    check_range_answer(cid, &range, b)
                })
                .await
            {
                Ok(b) => return Ok(b),
                Err(e @ StoreError::RangeOutOfBounds { .. }) => return Err(e),
                Err(e) => errors.push((i, e)),
            }
        }
        Err(all_failed(cid, errors))
    }

    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        let mut errors = Vec::new();
        let mut any_answer = false;
        for i in self.read_order() {
            match self.timed(i, "has", self.backends[i].store.has(cid)).await {
                Ok(true) => return Ok(true),
                Ok(false) => any_answer = true,
                Err(e) => errors.push((i, e)),
            }
        }
        if any_answer {
            Ok(false)
        } else {
            Err(all_failed(cid, errors))
        }
    }

    /// Deletes from every backend; fails if any backend failed (retry to finish).
    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        let results = join_all(
            (0..self.backends.len())
                .map(|i| self.timed(i, "delete", self.backends[i].store.delete(cid))),
        )
        .await;
        let errors: Vec<(usize, StoreError)> = results
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| r.err().map(|e| (i, e)))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(all_failed(cid, errors))
        }
    }

    /// The union of every backend's blocks; fails only when no backend answers.
    async fn list(&self) -> StoreResult<Vec<Cid>> {
        let results = join_all(
            (0..self.backends.len()).map(|i| self.timed(i, "list", self.backends[i].store.list())),
        )
        .await;
        health::union_of_listings(results.into_iter().map(|r| (String::new(), r)), Some)
    }

    /// Streams to every backend that lacks the blob at once, with bounded memory (see
    /// `tee.rs`); the same quorum and rollback rules as `put`.
    async fn put_stream(
        &self,
        cid: &Cid,
        source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        let has = join_all(
            (0..self.backends.len()).map(|i| self.timed(i, "has", self.backends[i].store.has(cid))),
        )
        .await;
        let mut existed = 0;
        let mut targets = Vec::new();
        let mut detail = Vec::new();
        for (i, r) in has.into_iter().enumerate() {
            match r {
                Ok(true) => existed += 1,
                Ok(false) => targets.push(i),
                Err(e) => detail.push(format!("backend {i}: {e}")),
            }
        }
        if existed >= self.config.write_quorum {
            return Ok(());
        }
        let results = self.tee_to(cid, &targets, source, len).await;
        let written: Vec<usize> = targets
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(i, _)| *i)
            .collect();
        // Bytes that do not match the CID are the caller's error, not a quorum failure.
        let mismatch = results.iter().find_map(|r| match r {
            Err(StoreError::Corrupt { cid, detail }) => Some(StoreError::Corrupt {
                cid: cid.clone(),
                detail: detail.clone(),
            }),
            _ => None,
        });
        if let Some(e) = mismatch {
            self.roll_back(cid, &written).await;
            return Err(e);
        }
        let acked = existed + written.len();
        if acked >= self.config.write_quorum {
            return Ok(());
        }
        detail.extend(tee::describe(&targets, &results));
        detail.extend(self.roll_back(cid, &written).await);
        Err(StoreError::QuorumFailed {
            cid: cid.to_string(),
            acked,
            needed: self.config.write_quorum,
            detail: detail.join("; "),
        })
    }

    /// Streams from the first backend that starts a stream; the stream is verified against the
    /// CID (its last item is an error on mismatch). Falls back only before streaming starts.
    async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> {
        let expected =
            crate::block::blake3_digest(cid).map_err(|e| StoreError::Unsupported(e.to_string()))?;
        let mut errors = Vec::new();
        for i in self.read_order() {
            match self
                .timed(i, "get_stream", self.backends[i].store.get_stream(cid))
                .await
            {
                Ok(s) => return Ok(verified_stream(*cid, expected, s)),
                Err(e) => errors.push((i, e)),
            }
        }
        Err(all_failed(cid, errors))
    }
}
