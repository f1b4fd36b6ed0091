//! Fault injection for tests: a store wrapper that fails, stalls, corrupts, loses and reorders.
//!
//! Every random decision comes from one SplitMix64 generator seeded by [`FaultConfig::seed`], drawn
//! in the order operations start, so a single-task test replays exactly; switches
//! ([`FaultyStore::set_down`], [`FaultyStore::fail_next`]) script faults without randomness.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;

use super::{
    BlobSource, BlockStore, ByteStream, ConditionalWrites, Head, HeadCondition, HeadStore,
    HeadVersion, StoreError, StoreResult, bytes_stream, read_source,
};
use crate::block::Cid;

/// Which faults to inject, and how often (rates are probabilities per operation, 0.0 to 1.0).
#[derive(Clone, Debug, Default)]
pub struct FaultConfig {
    /// Seed of the decisions.
    pub seed: u64,
    /// Probability that an operation fails with [`StoreError::Unavailable`].
    pub fail_rate: f64,
    /// Probability that an operation first stalls for [`FaultConfig::stall`] (a timeout, seen from
    /// a caller with a deadline).
    pub stall_rate: f64,
    /// How long a stalled operation waits.
    pub stall: Duration,
    /// Probability that a read returns bytes with one bit flipped.
    pub corrupt_rate: f64,
    /// Probability that a write reports success but stores nothing.
    pub lose_write_rate: f64,
    /// Every operation waits a random time below this before it runs, so concurrent operations
    /// complete out of order.
    pub reorder_jitter: Duration,
}

/// How many faults a [`FaultyStore`] has injected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Operations failed.
    pub failed: u64,
    /// Operations stalled.
    pub stalled: u64,
    /// Reads corrupted.
    pub corrupted: u64,
    /// Writes lost.
    pub lost_writes: u64,
}

/// A store wrapper that misbehaves on purpose, deterministically.
#[derive(Debug)]
pub struct FaultyStore<S> {
    inner: S,
    config: FaultConfig,
    rng: Mutex<u64>,
    down: AtomicBool,
    fail_next: AtomicU64,
    /// Writes allowed before every write fails (`u64::MAX`: no limit).
    writes_left: AtomicU64,
    failed: AtomicU64,
    stalled: AtomicU64,
    corrupted: AtomicU64,
    lost_writes: AtomicU64,
}

/// What the dice decided for one operation.
struct Plan {
    fail: bool,
    stall: bool,
    corrupt: bool,
    lose: bool,
    jitter: Duration,
    flip_at: u64,
}

impl<S> FaultyStore<S> {
    /// Wraps `inner` with `config`.
    pub fn new(inner: S, config: FaultConfig) -> Self {
        let rng = Mutex::new(config.seed);
        Self {
            inner,
            config,
            rng,
            down: AtomicBool::new(false),
            fail_next: AtomicU64::new(0),
            writes_left: AtomicU64::new(u64::MAX),
            failed: AtomicU64::new(0),
            stalled: AtomicU64::new(0),
            corrupted: AtomicU64::new(0),
            lost_writes: AtomicU64::new(0),
        }
    }

    /// A wrapper that injects nothing until switched.
    pub fn healthy(inner: S) -> Self {
        Self::new(inner, FaultConfig::default())
    }

    /// Makes every operation fail with [`StoreError::Unavailable`] (`true`) or not.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Makes the next `n` operations fail.
    pub fn fail_next(&self, n: u64) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// Lets the next `n` writes (puts, deletes, head writes) through and fails every write after
    /// them, as a process killed in the middle of an operation would leave the store; `None`
    /// lifts the limit.
    pub fn fail_writes_after(&self, n: Option<u64>) {
        self.writes_left
            .store(n.unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// Counts one write against [`FaultyStore::fail_writes_after`].
    fn write_allowed(&self, op: &str) -> StoreResult<()> {
        let left = self.writes_left.load(Ordering::SeqCst);
        if left == u64::MAX {
            return Ok(());
        }
        if left == 0 {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Unavailable(format!(
                "injected fault: {op} failed (write limit reached)"
            )));
        }
        self.writes_left.store(left - 1, Ordering::SeqCst);
        Ok(())
    }

    /// Faults injected so far.
    pub fn stats(&self) -> FaultStats {
        FaultStats {
            failed: self.failed.load(Ordering::SeqCst),
            stalled: self.stalled.load(Ordering::SeqCst),
            corrupted: self.corrupted.load(Ordering::SeqCst),
            lost_writes: self.lost_writes.load(Ordering::SeqCst),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn next_u64(&self) -> u64 {
        let mut state = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        // SplitMix64.
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn chance(&self, p: f64) -> bool {
        // Always draw, so the sequence does not depend on which rates are zero.
        let x = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }

    fn plan(&self) -> Plan {
        let scripted = self.down.load(Ordering::SeqCst)
            || self
                .fail_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        let c = &self.config;
        let fail = self.chance(c.fail_rate) || scripted;
        let stall = self.chance(c.stall_rate);
        let corrupt = self.chance(c.corrupt_rate);
        let lose = self.chance(c.lose_write_rate);
        let jitter_nanos = c.reorder_jitter.as_nanos() as u64;
        let r = self.next_u64();
        let jitter = if jitter_nanos == 0 {
            Duration::ZERO
        } else {
            Duration::from_nanos(r % jitter_nanos)
        };
        Plan {
            fail,
            stall,
            corrupt,
            lose,
            jitter,
            flip_at: self.next_u64(),
        }
    }

    /// Applies the delays and the failure of `plan` to operation `op`.
    async fn before(&self, plan: &Plan, op: &str) -> StoreResult<()> {
        if !plan.jitter.is_zero() {
            futures_timer::Delay::new(plan.jitter).await;
        }
        if plan.stall {
            self.stalled.fetch_add(1, Ordering::SeqCst);
            futures_timer::Delay::new(self.config.stall).await;
        }
        if plan.fail {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(StoreError::Unavailable(format!(
                "injected fault: {op} failed"
            )));
        }
        Ok(())
    }

    fn maybe_corrupt(&self, plan: &Plan, bytes: Bytes) -> Bytes {
        if !plan.corrupt {
            return bytes;
        }
        self.corrupted.fetch_add(1, Ordering::SeqCst);
        if bytes.is_empty() {
            return Bytes::from_static(b"\x00");
        }
        let mut v = bytes.to_vec();
        let bit = plan.flip_at % (v.len() as u64 * 8);
        v[(bit / 8) as usize] ^= 1 << (bit % 8);
        Bytes::from(v)
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<S: BlockStore> BlockStore for FaultyStore<S> {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        let plan = self.plan();
        self.before(&plan, "put").await?;
        self.write_allowed("put")?;
        if plan.lose {
            self.lost_writes.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        self.inner.put(cid, bytes).await
    }

    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        let plan = self.plan();
        self.before(&plan, "get").await?;
        let bytes = self.inner.get(cid).await?;
        Ok(self.maybe_corrupt(&plan, bytes))
    }

    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        let plan = self.plan();
        self.before(&plan, "get_max").await?;
        let bytes = self.maybe_corrupt(&plan, self.inner.get_max(cid, max_len).await?);
        super::check_max(cid, bytes.len() as u64, max_len)?;
        Ok(bytes)
    }

    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        let plan = self.plan();
        self.before(&plan, "get_range").await?;
        let bytes = self.inner.get_range(cid, range).await?;
        Ok(self.maybe_corrupt(&plan, bytes))
    }

    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        let plan = self.plan();
        self.before(&plan, "has").await?;
        self.inner.has(cid).await
    }

    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        let plan = self.plan();
        self.before(&plan, "delete").await?;
        self.write_allowed("delete")?;
        self.inner.delete(cid).await
    }

    async fn list(&self) -> StoreResult<Vec<Cid>> {
        let plan = self.plan();
        self.before(&plan, "list").await?;
        self.inner.list().await
    }

    async fn put_stream(
        &self,
        cid: &Cid,
        source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        let plan = self.plan();
        self.before(&plan, "put_stream").await?;
        self.write_allowed("put_stream")?;
        if plan.lose {
            // Drain the source as a real upload would, then drop it.
            read_source(source, len).await?;
            self.lost_writes.fetch_add(1, Ordering::SeqCst);
            return Ok(());
        }
        self.inner.put_stream(cid, source, len).await
    }

    /// Buffers the blob so that corruption can be injected anywhere in it.
    async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> {
        let plan = self.plan();
        self.before(&plan, "get_stream").await?;
        let bytes = super::collect_stream(self.inner.get_stream(cid).await?).await?;
        Ok(bytes_stream(self.maybe_corrupt(&plan, bytes)))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<S: HeadStore> HeadStore for FaultyStore<S> {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        let plan = self.plan();
        self.before(&plan, "read_heads").await?;
        let mut heads = self.inner.read_heads(vault).await?;
        for h in &mut heads {
            h.bytes = self.maybe_corrupt(&plan, h.bytes.clone());
        }
        Ok(heads)
    }

    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<HeadVersion> {
        let plan = self.plan();
        self.before(&plan, "write_head").await?;
        self.write_allowed("write_head")?;
        if plan.lose {
            self.lost_writes.fetch_add(1, Ordering::SeqCst);
            return Ok(super::head::content_version(&bytes));
        }
        self.inner.write_head(vault, writer, bytes, condition).await
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        self.inner.conditional_writes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::raw_cid;
    use crate::store::MemoryStore;
    use futures_executor::block_on;

    #[test]
    fn same_seed_same_faults() {
        let run = |seed| {
            let s = FaultyStore::new(
                MemoryStore::new(),
                FaultConfig {
                    seed,
                    fail_rate: 0.3,
                    corrupt_rate: 0.3,
                    ..Default::default()
                },
            );
            (0..64u8)
                .map(|i| {
                    let b = Bytes::from(vec![i; 10]);
                    let cid = raw_cid(&b);
                    let put = block_on(s.put(&cid, b)).is_ok();
                    let got = block_on(s.get(&cid)).ok();
                    (put, got)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }

    #[test]
    fn switches() {
        let s = FaultyStore::healthy(MemoryStore::new());
        let b = Bytes::from_static(b"x");
        let cid = raw_cid(&b);
        s.fail_next(1);
        assert!(matches!(
            block_on(s.put(&cid, b.clone())),
            Err(StoreError::Unavailable(_))
        ));
        block_on(s.put(&cid, b.clone())).unwrap();
        s.set_down(true);
        assert!(block_on(s.get(&cid)).is_err());
        s.set_down(false);
        assert_eq!(block_on(s.get(&cid)).unwrap(), b);
        assert_eq!(s.stats().failed, 2);
    }
}
