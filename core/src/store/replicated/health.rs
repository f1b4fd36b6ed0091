//! Per-backend health: an EWMA of latency and a count of consecutive failures.

use std::time::Duration;

use futures_util::future::{Either, select};
use web_time::Instant;

use crate::store::{StoreError, StoreResult};

/// Weight of the newest sample in the latency average.
const EWMA_ALPHA: f64 = 0.2;
/// Consecutive failures after which a backend counts as unhealthy.
const UNHEALTHY_AFTER: u32 = 3;
/// How long an unhealthy backend is tried last before it gets another chance first.
const COOL_DOWN: Duration = Duration::from_secs(30);

/// A snapshot of one backend's health.
#[derive(Clone, Debug, PartialEq)]
pub struct BackendHealth {
    /// The backend's index in the order given to [`super::ReplicatedStore::new`] (or
    /// `ErasureStore::new`).
    pub index: usize,
    /// Exponentially weighted moving average of successful operation latency, in milliseconds
    /// (`None` before the first success).
    pub latency_ewma_ms: Option<f64>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Successful operations so far.
    pub successes: u64,
    /// Failed operations so far.
    pub failures: u64,
    /// Whether reads try this backend before the unhealthy ones.
    pub healthy: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Health {
    latency_ewma_ms: Option<f64>,
    consecutive_failures: u32,
    last_failure: Option<Instant>,
    successes: u64,
    failures: u64,
}

impl Health {
    pub(crate) fn success(&mut self, elapsed: Duration) {
        let ms = elapsed.as_secs_f64() * 1000.0;
        self.latency_ewma_ms = Some(match self.latency_ewma_ms {
            None => ms,
            Some(avg) => avg + EWMA_ALPHA * (ms - avg),
        });
        self.consecutive_failures = 0;
        self.successes += 1;
    }

    pub(crate) fn failure(&mut self) {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.last_failure = Some(Instant::now());
        self.failures += 1;
    }

    /// A backend that answered with wrong bytes (not the block asked for, or an inflated
    /// answer): unhealthy at once, so reads skip it until the cool-down passes.
    #[cfg_attr(not(any(feature = "ipfs", feature = "erasure")), allow(dead_code))]
    pub(crate) fn corrupt(&mut self) {
        self.failure();
        self.consecutive_failures = self.consecutive_failures.max(UNHEALTHY_AFTER);
    }

    pub(crate) fn healthy(&self) -> bool {
        self.consecutive_failures < UNHEALTHY_AFTER
            || self.last_failure.is_none_or(|t| t.elapsed() >= COOL_DOWN)
    }

    /// Sort key for reads: healthy first, then fastest (unknown latency counts as fast, so new
    /// backends get measured), then fewest recent failures.
    pub(crate) fn rank(&self) -> (bool, u64, u32) {
        let latency_us = self.latency_ewma_ms.map_or(0, |ms| (ms * 1000.0) as u64);
        (!self.healthy(), latency_us, self.consecutive_failures)
    }

    pub(crate) fn snapshot(&self, index: usize) -> BackendHealth {
        BackendHealth {
            index,
            latency_ewma_ms: self.latency_ewma_ms,
            consecutive_failures: self.consecutive_failures,
            successes: self.successes,
            failures: self.failures,
            healthy: self.healthy(),
        }
    }
}

/// Runs `fut` with an optional deadline; past it, [`StoreError::Timeout`] names `op` and backend `i`.
pub(crate) async fn with_deadline<T>(
    timeout: Option<Duration>,
    i: usize,
    op: &str,
    fut: impl std::future::Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    match timeout {
        None => fut.await,
        Some(limit) => {
            let fut = std::pin::pin!(fut);
            match select(fut, futures_timer::Delay::new(limit)).await {
                Either::Left((r, _)) => r,
                Either::Right(_) => Err(StoreError::Timeout(format!(
                    "{op} on backend {i} took longer than {limit:?}"
                ))),
            }
        }
    }
}

/// Records on `health` the outcome of an operation that started at `start`: a missing block or
/// a range outside it is an answer, not a failure of the backend.
/// The union of the backends' listings (each mapped by `keep`, which drops what is not a
/// block); [`StoreError::Unavailable`] only when no backend could list (the errors as `name:
/// error`, or the error alone when `name` is empty).
pub(crate) fn union_of_listings(
    results: impl IntoIterator<Item = (String, StoreResult<Vec<crate::block::Cid>>)>,
    keep: impl Fn(crate::block::Cid) -> Option<crate::block::Cid>,
) -> StoreResult<Vec<crate::block::Cid>> {
    let mut all = std::collections::BTreeSet::new();
    let mut errors = Vec::new();
    let mut backends = 0;
    for (name, r) in results {
        backends += 1;
        match r {
            Ok(cids) => all.extend(cids.into_iter().filter_map(&keep)),
            Err(e) if name.is_empty() => errors.push(e.to_string()),
            Err(e) => errors.push(format!("{name}: {e}")),
        }
    }
    if errors.len() == backends {
        return Err(StoreError::Unavailable(format!(
            "no backend could list: {}",
            errors.join("; ")
        )));
    }
    Ok(all.into_iter().collect())
}

pub(crate) fn record<T>(health: &mut Health, start: Instant, result: &StoreResult<T>) {
    match result {
        Ok(_) | Err(StoreError::NotFound(_)) | Err(StoreError::RangeOutOfBounds { .. }) => {
            health.success(start.elapsed())
        }
        Err(_) => health.failure(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_make_unhealthy_and_success_heals() {
        let mut h = Health::default();
        h.success(Duration::from_millis(10));
        for _ in 0..UNHEALTHY_AFTER {
            h.failure();
        }
        assert!(!h.healthy());
        h.success(Duration::from_millis(20));
        assert!(h.healthy());
        let ewma = h.snapshot(0).latency_ewma_ms.unwrap();
        assert!((ewma - 12.0).abs() < 1e-9, "{ewma}");
    }

    #[test]
    fn wrong_bytes_make_unhealthy_at_once() {
        let mut h = Health::default();
        h.success(Duration::from_millis(10));
        h.corrupt();
        assert!(!h.healthy());
        assert_eq!(h.snapshot(0).failures, 1);
    }
}
