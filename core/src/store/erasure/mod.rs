//! Erasure coding over several stores: Reed–Solomon k+m shards of every block, spread over
//! M ≥ k+m backends, any k of which rebuild it; scrub and repair.
//!
//! - A block is cut into **stripes** of `stripe_size` bytes (a power of two); each stripe into
//!   `k` data shards plus `m` parity shards. Shard `i` of every stripe lives on backend
//!   `(first + i) % M`, `first` taken from the block's CID, under a name made of the block's CID,
//!   the stripe and the shard index ([`layout::shard_cid`]).
//! - Every shard carries a header with the geometry and the BLAKE3 of every shard of its stripe;
//!   stripe 0 also carries the BLAKE3 chaining value of every stripe, whose BLAKE3 merge is the
//!   block's CID. A reader trusts nothing else: it groups shards that vouch for the same hashes,
//!   rebuilds a stripe from a group of `k` and checks it against the CID (through the stripe
//!   hashes), and on a mismatch tries the next group. Shards outside the winning group are
//!   counted as corrupt against their backend. The format is in `docs/FORMAT.md`, "Erasure-coded
//!   blocks"; why it is built this way is in `docs/decisions.md`.
//! - Blocks of at most `small_block` bytes are **replicated** instead: `m + 1` whole copies
//!   under the block's own CID (a copy survives the same `m` lost backends as the shards, and
//!   a read is one request instead of `k`).
//! - A write succeeds when at least `min_durable` shards of every stripe (default `k + 1`) are
//!   stored; otherwise what it wrote is deleted and it fails with [`StoreError::QuorumFailed`].
//!   Missing shards are restored by [`ErasureStore::repair`].
//! - Reads that cannot find `k` verified shards fail with [`StoreError::InsufficientShards`].

mod codec;
pub mod layout;
mod scrub;

pub use codec::{CodecError, decode_stripe, encode_stripe};
pub use layout::{ShardError, ShardHeader};
pub use scrub::{BackendScrub, ScrubOptions, ScrubReport};

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::future::join_all;
use web_time::Instant;

use super::replicated::health::{self, Health};
use super::replicated::{all_failed, lock};
use super::stream::{check_len, fill_buf};
use super::verifying::verify_fetched;
use super::{
    BackendHealth, BlobSource, BlockStore, ByteStream, StoreError, StoreResult, bytes_stream,
    check_max, check_range_u64,
};
use crate::block::{Cid, blake3_digest};
use layout::{
    PREFIX_LEN, body_matches, decode_header, decode_prefix, decode_shard, first_backend,
    header_len, root_of, shard_cid, shard_len, stripe_count, stripe_cv, stripe_data_len,
};

/// How an [`ErasureStore`] codes, writes and waits.
#[derive(Clone, Debug)]
pub struct ErasureConfig {
    /// Data shards per stripe (k, at least 1).
    pub data_shards: usize,
    /// Parity shards per stripe (m, at least 1): the backends that may be lost.
    pub parity_shards: usize,
    /// Shards of every stripe that must be stored for a write to succeed (k to k+m; default k+1).
    pub min_durable: usize,
    /// Bytes of block data per stripe: a power of two from 1 KiB to 64 MiB (default 4 MiB). A
    /// ranged read fetches whole stripes; a reader holds about two stripes in memory.
    pub stripe_size: u32,
    /// Blocks of at most this many bytes are replicated (m+1 copies), not erasure-coded
    /// (default 16 KiB; at most `stripe_size`).
    pub small_block: usize,
    /// Deadline of one operation on one backend (`None`: wait as long as the backend does).
    pub timeout: Option<Duration>,
}

impl ErasureConfig {
    /// Reed–Solomon `k + m` with the defaults: writes need k+1 shards, 4 MiB stripes, blocks of
    /// up to 16 KiB replicated, no deadline.
    pub fn new(data_shards: usize, parity_shards: usize) -> Self {
        Self {
            data_shards,
            parity_shards,
            min_durable: data_shards + 1,
            stripe_size: 4 << 20,
            small_block: 16 << 10,
            timeout: None,
        }
    }

    /// Shards per stripe.
    pub fn shards(&self) -> usize {
        self.data_shards + self.parity_shards
    }

    /// Whole copies a replicated small block needs for a write to succeed: as many losses
    /// tolerated at once as `min_durable` shards give (`min_durable - k + 1`).
    fn copies_needed(&self) -> usize {
        self.min_durable + 1 - self.data_shards
    }

    fn check(&self, backends: usize) -> StoreResult<()> {
        let (k, m) = (self.data_shards, self.parity_shards);
        let bad = |why: String| Err(StoreError::Config(why));
        if k == 0 || m == 0 || k > 255 || m > 255 || k + m > layout::MAX_SHARDS {
            return bad(format!(
                "erasure coding {k}+{m}: k and m must be at least 1 and k + m at most 255"
            ));
        }
        if !reed_solomon_simd::ReedSolomonEncoder::supports(k, m) {
            return bad(format!("the codec does not support {k}+{m}"));
        }
        if backends < k + m {
            return bad(format!(
                "erasure coding {k}+{m} needs at least {} backends, {backends} given",
                k + m
            ));
        }
        if self.min_durable < k || self.min_durable > k + m {
            return bad(format!(
                "min_durable {} must be between k ({k}) and k + m ({})",
                self.min_durable,
                k + m
            ));
        }
        if !self.stripe_size.is_power_of_two()
            || !(layout::MIN_STRIPE..=layout::MAX_STRIPE).contains(&self.stripe_size)
        {
            return bad(format!(
                "stripe size {} must be a power of two from 1 KiB to 64 MiB",
                self.stripe_size
            ));
        }
        if self.small_block > self.stripe_size as usize {
            return bad("small_block must not exceed the stripe size".to_string());
        }
        Ok(())
    }
}

struct Backend {
    store: Arc<dyn BlockStore>,
    health: Mutex<Health>,
    corrupt: AtomicU64,
}

struct Inner {
    backends: Vec<Backend>,
    config: ErasureConfig,
    /// Where a block's shards and copies go, when given ([`ErasureStore::with_placement`]).
    placement: Option<Placement>,
}

/// A placement hook: for a block, the backends (indices) its shards go to, in shard order (shard
/// `i` on entry `i`), and where its whole copies may be written. Backends it leaves out are
/// still read from (after those it names) but never written to.
pub type Placement = Arc<dyn Fn(&Cid) -> Vec<usize> + Send + Sync>;

/// Reed–Solomon k+m over M ≥ k+m other block stores (see the module documentation).
#[derive(Clone)]
pub struct ErasureStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ErasureStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErasureStore")
            .field("backends", &self.inner.backends.len())
            .field("config", &self.inner.config)
            .finish()
    }
}

/// The geometry of a block, verified against its CID.
#[derive(Clone, Debug)]
struct Layout {
    stripe_size: u32,
    len: u64,
    /// Stripe chaining values (empty for a block of one stripe, whose hash is the CID's).
    cvs: Vec<[u8; 32]>,
}

impl Layout {
    fn stripes(&self) -> u64 {
        stripe_count(self.len, self.stripe_size)
    }
}

/// One shard as fetched: its header and body, or why it is unusable.
enum Fetched {
    Good {
        header: ShardHeader,
        body: Bytes,
        key: Vec<u8>,
    },
    Bad(StoreError),
}

/// A usable shard in a group: its index, header and body.
type Member<'a> = (usize, &'a ShardHeader, &'a [u8]);

/// What reading one stripe found, shard by shard.
struct StripeRead {
    layout: Layout,
    data: Vec<u8>,
    /// The header (shard index zeroed) of the shards the stripe was rebuilt from.
    key: Vec<u8>,
    /// Per shard index: `None` when not fetched, else the verdict.
    verdicts: Vec<Option<Verdict>>,
}

/// What a write found of its block before writing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    /// Enough to read it (k shards of stripe 0, or a copy): nothing to write.
    Whole,
    /// Every backend asked answered, and none holds any of it.
    Nothing,
    /// Some of it, or backends that did not answer: it may be a committed block whose other
    /// shards are on backends that are down. The write must not delete what is there.
    Partial,
}

/// The state of one shard after a stripe was rebuilt and checked.
#[derive(Debug)]
enum Verdict {
    Ok,
    Missing,
    Corrupt,
    Failed,
}

impl ErasureStore {
    /// Erasure-codes over `backends` (at least k+m) with `config`.
    pub fn new(backends: Vec<Arc<dyn BlockStore>>, config: ErasureConfig) -> StoreResult<Self> {
        Self::build(backends, config, None)
    }

    /// Like [`ErasureStore::new`], with shard `i` of a block on backend `placement(block)[i]`
    /// instead of `(first + i) % M`, and small blocks' copies only on the backends `placement`
    /// names. The caller makes sure `placement` names at least k+m backends (a block it places on
    /// fewer gets its last shards on the backends it left out). Reads of copies still try every
    /// backend.
    pub fn with_placement(
        backends: Vec<Arc<dyn BlockStore>>,
        config: ErasureConfig,
        placement: Placement,
    ) -> StoreResult<Self> {
        Self::build(backends, config, Some(placement))
    }

    fn build(
        backends: Vec<Arc<dyn BlockStore>>,
        config: ErasureConfig,
        placement: Option<Placement>,
    ) -> StoreResult<Self> {
        config.check(backends.len())?;
        let backends = backends
            .into_iter()
            .map(|store| Backend {
                store,
                health: Mutex::new(Health::default()),
                corrupt: AtomicU64::new(0),
            })
            .collect();
        Ok(Self {
            inner: Arc::new(Inner {
                backends,
                config,
                placement,
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ErasureConfig {
        &self.inner.config
    }

    /// Health of every backend, in the order given to [`ErasureStore::new`].
    pub fn health(&self) -> Vec<BackendHealth> {
        self.inner
            .backends
            .iter()
            .enumerate()
            .map(|(i, b)| lock(&b.health).snapshot(i))
            .collect()
    }

    /// Shards or copies each backend has sent that failed verification, in backend order.
    pub fn corrupt_counts(&self) -> Vec<u64> {
        self.inner
            .backends
            .iter()
            .map(|b| b.corrupt.load(Ordering::Relaxed))
            .collect()
    }
}

impl Inner {
    fn k(&self) -> usize {
        self.config.data_shards
    }
    fn m(&self) -> usize {
        self.config.parity_shards
    }
    fn n(&self) -> usize {
        self.config.shards()
    }

    /// The backend holding shard (or copy) `i` of `block`.
    fn place(&self, block: &Cid, i: usize) -> usize {
        match &self.placement {
            None => (first_backend(block, self.backends.len()) + i) % self.backends.len(),
            Some(_) => {
                let (order, _) = self.order(block);
                order[i % order.len()]
            }
        }
    }

    /// With a placement hook: the backends it names for `block` (in shard order, out-of-range
    /// entries dropped), then every other backend; and how many of them may be written to.
    fn order(&self, block: &Cid) -> (Vec<usize>, usize) {
        let n = self.backends.len();
        let Some(placement) = &self.placement else {
            return ((0..n).map(|i| self.place(block, i)).collect(), n);
        };
        let mut order: Vec<usize> = placement(block).into_iter().filter(|&b| b < n).collect();
        let writable = order.len();
        let mut named = vec![false; n];
        for &b in &order {
            named[b] = true;
        }
        order.extend((0..n).filter(|&b| !named[b]));
        (order, writable)
    }

    /// The distinct backends whole copies of `block` are written to (`writable`) or read from,
    /// in placement order.
    fn copy_order(&self, block: &Cid, writable: bool) -> Vec<usize> {
        let (order, limit) = self.order(block);
        let limit = if writable { limit } else { order.len() };
        let mut seen = vec![false; self.backends.len()];
        order[..limit]
            .iter()
            .copied()
            .filter(|&b| !std::mem::replace(&mut seen[b], true))
            .collect()
    }

    fn shard_name(&self, block: &Cid, stripe: u64, i: usize) -> StoreResult<Cid> {
        shard_cid(block, stripe as u32, i as u8).map_err(|e| StoreError::Unsupported(e.to_string()))
    }

    /// Runs `fut` on backend `i` with the deadline, recording its health.
    async fn timed<T>(
        &self,
        i: usize,
        op: &str,
        fut: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let start = Instant::now();
        let result = health::with_deadline(self.config.timeout, i, op, fut).await;
        health::record(&mut lock(&self.backends[i].health), start, &result);
        result
    }

    /// Counts a verification failure against backend `i`, which makes it unhealthy at once (read
    /// last until the cool-down passes).
    fn mark_corrupt(&self, i: usize) {
        self.backends[i].corrupt.fetch_add(1, Ordering::Relaxed);
        lock(&self.backends[i].health).corrupt();
    }

    fn digest(&self, block: &Cid) -> StoreResult<[u8; 32]> {
        blake3_digest(block).map_err(|e| StoreError::Unsupported(e.to_string()))
    }

    // ---- writing ----

    /// The shards (header and body) of stripe `s` holding `data`.
    fn encode(
        &self,
        data: &[u8],
        stripe_size: u32,
        s: u64,
        block_len: u64,
        cvs: &[[u8; 32]],
    ) -> StoreResult<Vec<Bytes>> {
        let bodies = codec::encode_stripe(data, self.k(), self.m())
            .map_err(|e| StoreError::Other(e.to_string()))?;
        let hashes: Vec<[u8; 32]> = bodies.iter().map(|b| *blake3::hash(b).as_bytes()).collect();
        Ok(bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| {
                let header = ShardHeader {
                    k: self.k() as u8,
                    m: self.m() as u8,
                    index: i as u8,
                    stripe: s as u32,
                    stripe_size,
                    data_len: data.len() as u32,
                    block_len: if s == 0 { block_len } else { 0 },
                    shard_hashes: hashes.clone(),
                    stripe_cvs: if s == 0 { cvs.to_vec() } else { Vec::new() },
                };
                let mut out = BytesMut::with_capacity(header.encoded_len() + body.len());
                out.extend_from_slice(&header.encode());
                out.extend_from_slice(&body);
                out.freeze()
            })
            .collect())
    }

    /// Writes the shards of stripe `s` to their backends; fails unless `min_durable` landed. When
    /// `careful` (some of the block may be stored already: see [`Found::Partial`]) or with a
    /// placement hook, shards already at their place are not written again and are added to
    /// `kept`: a rollback must not delete them, since they may belong to a committed block whose
    /// other shards are on backends that are down, or a rebalance or an earlier placement put
    /// them there.
    async fn write_stripe(
        &self,
        block: &Cid,
        s: u64,
        shards: Vec<Bytes>,
        kept: &mut Vec<Cid>,
        careful: bool,
    ) -> StoreResult<()> {
        let present: Vec<bool> = if careful || self.placement.is_some() {
            join_all((0..shards.len()).map(|i| async move {
                let b = self.place(block, i);
                let Ok(name) = self.shard_name(block, s, i) else {
                    return false;
                };
                matches!(self.backends[b].store.has(&name).await, Ok(true))
            }))
            .await
        } else {
            vec![false; shards.len()]
        };
        let mut writes = Vec::new();
        for (i, bytes) in shards.into_iter().enumerate() {
            let name = self.shard_name(block, s, i)?;
            let b = self.place(block, i);
            if present[i] {
                kept.push(name);
                continue;
            }
            writes.push(async move {
                let r = self
                    .timed(b, "put shard", self.backends[b].store.put(&name, bytes))
                    .await;
                (i, b, r)
            });
        }
        let results = join_all(writes).await;
        let acked = kept_in(kept, block, s) + results.iter().filter(|(_, _, r)| r.is_ok()).count();
        if acked >= self.config.min_durable {
            return Ok(());
        }
        let detail = results
            .iter()
            .filter_map(|(i, b, r)| {
                r.as_ref()
                    .err()
                    .map(|e| format!("shard {i} of stripe {s} on backend {b}: {e}"))
            })
            .collect::<Vec<_>>()
            .join("; ");
        Err(StoreError::QuorumFailed {
            cid: block.to_string(),
            acked,
            needed: self.config.min_durable,
            detail,
        })
    }

    /// Deletes every shard of `stripes`; returns notes on the deletions that failed.
    async fn delete_stripes(&self, block: &Cid, stripes: Range<u64>, keep: &[Cid]) -> Vec<String> {
        let mut notes = Vec::new();
        for s in stripes {
            let deletes = (0..self.n()).map(|i| async move {
                let b = self.place(block, i);
                let name = self.shard_name(block, s, i)?;
                if keep.contains(&name) {
                    return Ok(());
                }
                self.timed(b, "delete shard", self.backends[b].store.delete(&name))
                    .await
                    .map_err(|e| StoreError::Other(format!("backend {b}: {e}")))
            });
            for r in join_all(deletes).await {
                if let Err(e) = r {
                    notes.push(format!("stripe {s}: {e}"));
                }
            }
        }
        notes
    }

    /// Writes a whole block held in memory (already checked against its CID); `careful` as in
    /// [`Inner::write_stripe`].
    async fn put_coded(&self, block: &Cid, bytes: &[u8], careful: bool) -> StoreResult<()> {
        let stripe_size = self.config.stripe_size;
        let len = bytes.len() as u64;
        let count = stripe_count(len, stripe_size);
        let chunks: Vec<&[u8]> = bytes.chunks(stripe_size as usize).collect();
        let cvs: Vec<[u8; 32]> = if count > 1 {
            chunks
                .iter()
                .enumerate()
                .map(|(s, c)| stripe_cv(c, stripe_size, s as u64))
                .collect()
        } else {
            Vec::new()
        };
        let mut kept = Vec::new();
        for (s, chunk) in chunks.iter().enumerate() {
            let s = s as u64;
            let shards = self.encode(chunk, stripe_size, s, len, &cvs)?;
            if let Err(e) = self
                .write_stripe(block, s, shards, &mut kept, careful)
                .await
            {
                return Err(self.rolled_back(block, 0..s + 1, e, &kept).await);
            }
        }
        Ok(())
    }

    /// Deletes `stripes` after a failed write and returns `error` with any rollback failures.
    async fn rolled_back(
        &self,
        block: &Cid,
        stripes: Range<u64>,
        error: StoreError,
        kept: &[Cid],
    ) -> StoreError {
        let notes = self.delete_stripes(block, stripes, kept).await;
        if notes.is_empty() {
            return error;
        }
        let extra = format!("; rollback left orphan shards: {}", notes.join("; "));
        match error {
            StoreError::QuorumFailed {
                cid,
                acked,
                needed,
                detail,
            } => StoreError::QuorumFailed {
                cid,
                acked,
                needed,
                detail: detail + &extra,
            },
            other => other,
        }
    }

    /// Writes `m + 1` whole copies of a small block, spilling to further backends when one
    /// fails; succeeds with at least `copies_needed` copies. A backend that may hold a copy
    /// already (every one when `careful`, see [`Found::Partial`]; the spill backends beyond the
    /// `m + 1` that [`Inner::found`] asked, always) is asked first: an existing copy counts and
    /// a rollback leaves it, as it may be a committed block's.
    async fn put_copies(&self, block: &Cid, bytes: Bytes, careful: bool) -> StoreResult<()> {
        let want = self.m() + 1;
        let order = self.copy_order(block, true);
        let mut written = Vec::new();
        let mut existed = Vec::new();
        let mut detail = Vec::new();
        let mut next = 0;
        while written.len() + existed.len() < want && next < order.len() {
            let batch: Vec<usize> = order
                [next..(next + want - written.len() - existed.len()).min(order.len())]
                .to_vec();
            let first = next;
            next += batch.len();
            let results = join_all(batch.iter().enumerate().map(|(j, &b)| {
                let bytes = bytes.clone();
                // With a placement hook a copy may be there already (a rebalance, an older
                // placement); likewise after a partial find, or past the backends it asked.
                let ask = careful || self.placement.is_some() || first + j > self.m();
                async move {
                    if ask && matches!(self.backends[b].store.has(block).await, Ok(true)) {
                        return Ok(true);
                    }
                    self.timed(b, "put copy", self.backends[b].store.put(block, bytes))
                        .await
                        .map(|()| false)
                }
            }))
            .await;
            for (b, r) in batch.into_iter().zip(results) {
                match r {
                    Ok(false) => written.push(b),
                    Ok(true) => existed.push(b),
                    Err(e) => detail.push(format!("backend {b}: {e}")),
                }
            }
        }
        let needed = self.config.copies_needed();
        if written.len() + existed.len() >= needed {
            return Ok(());
        }
        for r in join_all(
            written
                .iter()
                .map(|&b| self.timed(b, "delete copy", self.backends[b].store.delete(block))),
        )
        .await
        {
            if let Err(e) = r {
                detail.push(format!("rollback failed, an orphan copy remains: {e}"));
            }
        }
        Err(StoreError::QuorumFailed {
            cid: block.to_string(),
            acked: written.len() + existed.len(),
            needed,
            detail: detail.join("; "),
        })
    }

    // ---- reading ----

    /// Fetches shard `i` of stripe `s`, at most `max` bytes, and decodes it (hashes checked).
    async fn fetch(&self, block: &Cid, s: u64, i: usize, max: u64) -> (usize, Fetched) {
        let b = self.place(block, i);
        let name = match self.shard_name(block, s, i) {
            Ok(n) => n,
            Err(e) => return (i, Fetched::Bad(e)),
        };
        let got = self
            .timed(b, "get shard", self.backends[b].store.get_max(&name, max))
            .await;
        let bytes = match got {
            Ok(b) => b,
            Err(e) => return (i, Fetched::Bad(e)),
        };
        let checked = match decode_shard(&bytes) {
            Err(e) => Err(e.to_string()),
            Ok((h, _)) if usize::from(h.index) != i || u64::from(h.stripe) != s => {
                Err("the shard names another stripe or index".to_string())
            }
            Ok((h, _)) if usize::from(h.k) != self.k() || usize::from(h.m) != self.m() => {
                Err(format!(
                    "the shard is coded {}+{}, this store {}+{}",
                    h.k,
                    h.m,
                    self.k(),
                    self.m()
                ))
            }
            Ok((h, body)) if !body_matches(&h, body) => {
                Err("the shard's body does not match its hash".to_string())
            }
            Ok((h, body)) => {
                let hlen = h.encoded_len();
                let key = h.stripe_key();
                let body = bytes.slice(hlen..hlen + body.len());
                Ok((h, body, key))
            }
        };
        match checked {
            Ok((header, body, key)) => (i, Fetched::Good { header, body, key }),
            Err(detail) => {
                self.mark_corrupt(b);
                (
                    i,
                    Fetched::Bad(StoreError::Corrupt {
                        cid: name.to_string(),
                        detail,
                    }),
                )
            }
        }
    }

    /// The most bytes a shard of stripe `s` can take, given what is known of the block.
    fn shard_cap(&self, layout: Option<&Layout>, s: u64, max_block: u64) -> u64 {
        match layout {
            Some(l) => {
                let cvs = if s == 0 { l.cvs.len() } else { 0 };
                let data = stripe_data_len(l.len, l.stripe_size, s) as usize;
                (header_len(self.n(), cvs) + shard_len(data, self.k())) as u64
            }
            None => {
                let max_block = max_block.max(1);
                let cvs = stripe_count(max_block, layout::MIN_STRIPE).min(layout::MAX_STRIPES);
                let data = max_block.min(u64::from(layout::MAX_STRIPE)) as usize;
                (header_len(self.n(), cvs as usize) + shard_len(data, self.k())) as u64
            }
        }
    }

    /// Reads stripe `s` of `block`: fetches `k` shards (all `k + m` when `all`), more when some
    /// fail, rebuilds the stripe from a group of shards that agree, and checks it against the
    /// CID. `layout` is `None` only for stripe 0, whose shards carry the layout.
    async fn read_stripe(
        &self,
        block: &Cid,
        s: u64,
        layout: Option<&Layout>,
        max_block: u64,
        all: bool,
    ) -> StoreResult<StripeRead> {
        let digest = self.digest(block)?;
        let n = self.n();
        let cap = self.shard_cap(layout, s, max_block);
        // Data shards first (no decoding when they are all good), healthy backends before others.
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| {
            let rank = lock(&self.backends[self.place(block, i)].health).rank();
            (rank.0, i >= self.k(), rank.1)
        });
        let mut fetched: Vec<Option<Fetched>> = (0..n).map(|_| None).collect();
        let mut next = 0;
        let mut tried_groups: Vec<Vec<u8>> = Vec::new();
        loop {
            let batch_len = if all || next > 0 { n - next } else { self.k() };
            let batch = &order[next..(next + batch_len).min(n)];
            next += batch.len();
            for (i, f) in join_all(batch.iter().map(|&i| self.fetch(block, s, i, cap))).await {
                fetched[i] = Some(f);
            }
            if let Some((layout, data, key)) =
                self.rebuild(block, &digest, s, layout, &fetched, &mut tried_groups)
            {
                let verdicts = fetched
                    .iter()
                    .enumerate()
                    .map(|(i, f)| {
                        f.as_ref().map(|f| match f {
                            Fetched::Good { key: k, .. } if *k == key => Verdict::Ok,
                            // Its header disagrees with the verified stripe.
                            Fetched::Good { .. } => {
                                self.mark_corrupt(self.place(block, i));
                                Verdict::Corrupt
                            }
                            Fetched::Bad(StoreError::NotFound(_)) => Verdict::Missing,
                            Fetched::Bad(StoreError::Corrupt { .. }) => Verdict::Corrupt,
                            Fetched::Bad(_) => Verdict::Failed,
                        })
                    })
                    .collect();
                return Ok(StripeRead {
                    layout,
                    data,
                    key,
                    verdicts,
                });
            }
            if next >= n {
                return Err(self.not_rebuilt(block, s, &fetched));
            }
        }
    }

    /// Tries every group of at least `k` agreeing shards not tried yet, largest first; returns
    /// the verified layout, the stripe's data and the winning group's key.
    fn rebuild(
        &self,
        block: &Cid,
        digest: &[u8; 32],
        s: u64,
        known: Option<&Layout>,
        fetched: &[Option<Fetched>],
        tried: &mut Vec<Vec<u8>>,
    ) -> Option<(Layout, Vec<u8>, Vec<u8>)> {
        let mut groups: BTreeMap<&[u8], Vec<Member<'_>>> = BTreeMap::new();
        for (i, f) in fetched.iter().enumerate() {
            if let Some(Fetched::Good { header, body, key }) = f {
                groups
                    .entry(key.as_slice())
                    .or_default()
                    .push((i, header, body.as_ref()));
            }
        }
        let mut groups: Vec<_> = groups.into_iter().collect();
        groups.sort_by_key(|(_, members)| std::cmp::Reverse(members.len()));
        for (key, members) in groups {
            if members.len() < self.k() || tried.iter().any(|t| t.as_slice() == key) {
                continue;
            }
            tried.push(key.to_vec());
            let h = members[0].1;
            let layout = match known {
                Some(l) => {
                    let fits = h.stripe_size == l.stripe_size
                        && h.data_len == stripe_data_len(l.len, l.stripe_size, s)
                        && (s != 0 || (h.block_len == l.len && h.stripe_cvs == l.cvs));
                    if !fits {
                        continue;
                    }
                    l.clone()
                }
                None => Layout {
                    stripe_size: h.stripe_size,
                    len: h.block_len,
                    cvs: h.stripe_cvs.clone(),
                },
            };
            let shards: Vec<(usize, &[u8])> = members.iter().map(|&(i, _, b)| (i, b)).collect();
            let Ok(data) = codec::decode_stripe(&shards, self.k(), self.m(), h.data_len as usize)
            else {
                continue;
            };
            let verified = if layout.cvs.is_empty() {
                layout.len == data.len() as u64
                    && blake3::Hash::from(*digest) == blake3::hash(&data)
            } else {
                let root_ok = known.is_some()
                    || root_of(&layout.cvs).is_some_and(|r| r == blake3::Hash::from(*digest));
                root_ok
                    && layout.cvs.get(s as usize).is_some_and(|cv| {
                        blake3::Hash::from(*cv)
                            == blake3::Hash::from(stripe_cv(&data, layout.stripe_size, s))
                    })
            };
            if verified {
                return Some((layout, data, key.to_vec()));
            }
            // A whole group lied: every member counts as corrupt.
            for &(i, _, _) in &members {
                self.mark_corrupt(self.place(block, i));
            }
        }
        None
    }

    /// The error after a stripe could not be rebuilt from what was fetched.
    fn not_rebuilt(&self, block: &Cid, s: u64, fetched: &[Option<Fetched>]) -> StoreError {
        let bad: Vec<(usize, &StoreError)> = fetched
            .iter()
            .enumerate()
            .filter_map(|(i, f)| match f {
                Some(Fetched::Bad(e)) => Some((i, e)),
                _ => None,
            })
            .collect();
        let good = fetched
            .iter()
            .filter(|f| matches!(f, Some(Fetched::Good { .. })))
            .count();
        if good == 0
            && bad
                .iter()
                .all(|(_, e)| matches!(e, StoreError::NotFound(_)))
        {
            return StoreError::NotFound(block.to_string());
        }
        let detail = bad
            .iter()
            .map(|(i, e)| format!("shard {i} on backend {}: {e}", self.place(block, *i)))
            .chain((good > 0).then(|| {
                format!("{good} shards fetched but no k of them rebuild a stripe matching the CID")
            }))
            .collect::<Vec<_>>()
            .join("; ");
        StoreError::InsufficientShards {
            cid: format!("{block} (stripe {s})"),
            usable: good.min(self.k().saturating_sub(1)),
            needed: self.k(),
            detail,
        }
    }

    /// The layout of a coded block from the headers of its stripe-0 shards only (ranged reads
    /// and deletes): `Ok(None)` for a block of one stripe, whose header cannot be checked
    /// without its data.
    async fn read_layout(&self, block: &Cid) -> StoreResult<Option<Layout>> {
        let digest = self.digest(block)?;
        let mut errors = Vec::new();
        // Every stripe-0 prefix at once (one round trip, also when the block is a copy), then
        // the rest of the header from the first that parses.
        let prefixes = join_all((0..self.n()).map(|i| async move {
            let b = self.place(block, i);
            let name = self.shard_name(block, 0, i)?;
            let range = 0..PREFIX_LEN as u64;
            self.timed(
                b,
                "get shard header",
                self.backends[b].store.get_range(&name, range),
            )
            .await
        }))
        .await;
        for (i, prefix) in prefixes.into_iter().enumerate() {
            let b = self.place(block, i);
            let name = self.shard_name(block, 0, i)?;
            let store = &self.backends[b].store;
            let prefix = match prefix {
                Ok(p) => p,
                Err(e) => {
                    errors.push((b, e));
                    continue;
                }
            };
            let (shards, cvs) = match decode_prefix(&prefix) {
                Ok(x) => x,
                Err(e) => {
                    self.mark_corrupt(b);
                    errors.push((b, corrupt(&name, e)));
                    continue;
                }
            };
            if cvs == 0 {
                return Ok(None);
            }
            let hlen = header_len(shards, cvs) as u64;
            let rest = match self
                .timed(
                    b,
                    "get shard header",
                    store.get_range(&name, PREFIX_LEN as u64..hlen),
                )
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    errors.push((b, e));
                    continue;
                }
            };
            let mut whole = prefix.to_vec();
            whole.extend_from_slice(&rest);
            match decode_header(&whole) {
                Ok((h, _))
                    if usize::from(h.k) == self.k()
                        && usize::from(h.m) == self.m()
                        && root_of(&h.stripe_cvs)
                            .is_some_and(|r| r == blake3::Hash::from(digest)) =>
                {
                    return Ok(Some(Layout {
                        stripe_size: h.stripe_size,
                        len: h.block_len,
                        cvs: h.stripe_cvs,
                    }));
                }
                Ok(_) => {
                    self.mark_corrupt(b);
                    errors.push((
                        b,
                        corrupt(&name, "its stripe hashes do not merge to the block's CID"),
                    ));
                }
                Err(e) => {
                    self.mark_corrupt(b);
                    errors.push((b, corrupt(&name, e)));
                }
            }
        }
        Err(all_failed(block, errors))
    }

    /// How many stripes of `block` any backend holds a shard of, probing stripe after stripe
    /// from 1 until one has none (for blocks whose stripe 0 is gone).
    async fn probe_stripes(&self, block: &Cid) -> u64 {
        let mut s = 1;
        while s < layout::MAX_STRIPES {
            let found = join_all((0..self.n()).map(|i| async move {
                let b = self.place(block, i);
                let name = self.shard_name(block, s, i)?;
                self.timed(b, "has shard", self.backends[b].store.has(&name))
                    .await
            }))
            .await;
            if !found.iter().any(|r| matches!(r, Ok(true))) {
                break;
            }
            s += 1;
        }
        s
    }

    /// Whether a block is already stored the way a put of it would store it: a copy on one of
    /// its `m + 1` placed backends (`small`), or at least k shards of stripe 0. Cheaper than
    /// `has`, which asks every backend for a copy as well.
    async fn found(&self, block: &Cid, small: bool) -> StoreResult<Found> {
        let probes: Vec<(usize, Cid)> = if small {
            (0..=self.m())
                .map(|j| (self.place(block, j), *block))
                .collect()
        } else {
            (0..self.n())
                .map(|i| Ok((self.place(block, i), self.shard_name(block, 0, i)?)))
                .collect::<StoreResult<_>>()?
        };
        let found = join_all(
            probes
                .iter()
                .map(|(b, name)| self.timed(*b, "has", self.backends[*b].store.has(name))),
        )
        .await;
        let present = found.iter().filter(|r| matches!(r, Ok(true))).count();
        if present >= if small { 1 } else { self.k() } {
            return Ok(Found::Whole);
        }
        if present == 0 && found.iter().all(Result::is_ok) {
            return Ok(Found::Nothing);
        }
        if found.iter().any(Result::is_ok) {
            return Ok(Found::Partial);
        }
        let errors = probes
            .iter()
            .zip(found)
            .filter_map(|((b, _), r)| r.err().map(|e| (*b, e)))
            .collect();
        Err(all_failed(block, errors))
    }

    /// A verified whole copy of a small block, from the first backend that has one.
    async fn get_copy(&self, block: &Cid, max_len: u64, first_only: bool) -> StoreResult<Bytes> {
        let mut errors = Vec::new();
        let order = self.copy_order(block, false);
        let tries = if first_only { 1 } else { order.len() };
        for &b in &order[..tries] {
            let got = self
                .timed(
                    b,
                    "get copy",
                    self.backends[b].store.get_max(block, max_len),
                )
                .await;
            match got.and_then(|bytes| verify_fetched(block, &bytes).map(|()| bytes)) {
                Ok(bytes) => return Ok(bytes),
                Err(e) => {
                    if matches!(e, StoreError::Corrupt { .. }) {
                        self.mark_corrupt(b);
                    }
                    errors.push((b, e))
                }
            }
        }
        Err(all_failed(block, errors))
    }

    /// After shards failed with `shard_error`: a copy from any backend (a small block whose first
    /// copy is gone), else the error that says most.
    async fn copy_instead(
        &self,
        block: &Cid,
        max_len: u64,
        shard_error: StoreError,
        first_copy: Option<StoreError>,
    ) -> StoreResult<Bytes> {
        match self.get_copy(block, max_len, false).await {
            Ok(b) => Ok(b),
            Err(copy_error) => Err(match shard_error {
                StoreError::NotFound(_) => match copy_error {
                    StoreError::NotFound(_) => first_copy.unwrap_or(copy_error),
                    other => other,
                },
                other => other,
            }),
        }
    }

    /// The whole block, at most `max_len` bytes: a copy, else rebuilt from shards.
    async fn get_whole(&self, block: &Cid, max_len: u64) -> StoreResult<Bytes> {
        let first_copy = match self.get_copy(block, max_len, true).await {
            Ok(b) => return Ok(b),
            Err(e) => e,
        };
        let first = match self.read_stripe(block, 0, None, max_len, false).await {
            Ok(r) => r,
            Err(e) => return self.copy_instead(block, max_len, e, Some(first_copy)).await,
        };
        check_max(block, first.layout.len, max_len)?;
        let layout = first.layout;
        if layout.stripes() == 1 {
            return Ok(Bytes::from(first.data));
        }
        let mut out = BytesMut::with_capacity(layout.len as usize);
        out.extend_from_slice(&first.data);
        for s in 1..layout.stripes() {
            let r = self
                .read_stripe(block, s, Some(&layout), max_len, false)
                .await?;
            out.extend_from_slice(&r.data);
        }
        Ok(out.freeze())
    }
}

/// How many of `kept` are shards of stripe `s` of `block`.
fn kept_in(kept: &[Cid], block: &Cid, s: u64) -> usize {
    kept.iter()
        .filter(|c| {
            layout::parse_shard_cid(c).is_some_and(|(b, st, _)| b == *block && u64::from(st) == s)
        })
        .count()
}

fn corrupt(name: &Cid, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        cid: name.to_string(),
        detail: detail.to_string(),
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl BlockStore for ErasureStore {
    /// Checks the bytes against the CID, then writes copies (small blocks) or shards; a block
    /// already present is not written again.
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        let inner = &self.inner;
        super::stream::check_whole(cid, &bytes)?;
        let small = bytes.is_empty() || bytes.len() <= inner.config.small_block;
        let careful = match inner.found(cid, small).await? {
            Found::Whole => return Ok(()),
            Found::Partial => true,
            Found::Nothing => false,
        };
        if small {
            return inner.put_copies(cid, bytes, careful).await;
        }
        inner.put_coded(cid, &bytes, careful).await
    }

    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        self.inner.get_whole(cid, u64::MAX).await
    }

    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        self.inner.get_whole(cid, max_len).await
    }

    /// Fetches only the stripes the range covers, each checked against the CID.
    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        let inner = &self.inner;
        let layout = match inner.read_layout(cid).await {
            Ok(Some(l)) => l,
            Ok(None) => {
                let read = inner.read_stripe(cid, 0, None, u64::MAX, false).await?;
                let r = super::check_range(cid, &range, read.data.len() as u64)?;
                return Ok(Bytes::from(read.data).slice(r));
            }
            Err(e) => {
                let bytes = inner
                    .copy_instead(cid, inner.config.stripe_size.into(), e, None)
                    .await?;
                let r = super::check_range(cid, &range, bytes.len() as u64)?;
                return Ok(bytes.slice(r));
            }
        };
        check_range_u64(cid, &range, layout.len)?;
        let mut out = BytesMut::with_capacity((range.end - range.start) as usize);
        if range.start == range.end {
            return Ok(out.freeze());
        }
        let size = u64::from(layout.stripe_size);
        for s in range.start / size..range.end.div_ceil(size) {
            let r = inner
                .read_stripe(cid, s, Some(&layout), layout.len, false)
                .await?;
            let base = s * size;
            let from = range.start.max(base) - base;
            let to = range.end.min(base + r.data.len() as u64) - base;
            out.extend_from_slice(&r.data[from as usize..to as usize]);
        }
        Ok(out.freeze())
    }

    /// A copy on any backend, or at least k shards of stripe 0.
    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        let inner = &self.inner;
        let copies = join_all(
            (0..inner.backends.len())
                .map(|b| inner.timed(b, "has copy", inner.backends[b].store.has(cid))),
        );
        let shards = join_all((0..inner.n()).map(|i| async move {
            let b = inner.place(cid, i);
            let name = inner.shard_name(cid, 0, i)?;
            inner
                .timed(b, "has shard", inner.backends[b].store.has(&name))
                .await
        }));
        let (copies, shards) = futures_util::future::join(copies, shards).await;
        if copies.iter().any(|r| matches!(r, Ok(true))) {
            return Ok(true);
        }
        let present = shards.iter().filter(|r| matches!(r, Ok(true))).count();
        if present >= inner.k() {
            return Ok(true);
        }
        let answered = copies.iter().chain(&shards).any(Result::is_ok);
        if answered {
            return Ok(false);
        }
        let errors = copies
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| r.err().map(|e| (i, e)))
            .collect();
        Err(all_failed(cid, errors))
    }

    /// Deletes every copy and every shard; fails when any deletion failed (retry to finish).
    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        let inner = &self.inner;
        let stripes = match inner.read_layout(cid).await {
            Ok(Some(l)) => l.stripes(),
            Ok(None) => 1,
            // No readable stripe 0: a write that failed and could not roll back on a backend
            // that was down may have left later stripes; find them.
            Err(_) => inner.probe_stripes(cid).await,
        };
        let mut notes = inner.delete_stripes(cid, 0..stripes, &[]).await;
        let copies = join_all(
            (0..inner.backends.len())
                .map(|b| inner.timed(b, "delete copy", inner.backends[b].store.delete(cid))),
        )
        .await;
        for (b, r) in copies.into_iter().enumerate() {
            if let Err(e) = r {
                notes.push(format!("copy on backend {b}: {e}"));
            }
        }
        if notes.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!(
                "deleting {cid} failed in part: {}",
                notes.join("; ")
            )))
        }
    }

    /// Every block with a copy or a shard on any backend; fails only when no backend answers.
    async fn list(&self) -> StoreResult<Vec<Cid>> {
        let inner = &self.inner;
        let results = join_all(
            (0..inner.backends.len())
                .map(|b| inner.timed(b, "list", inner.backends[b].store.list())),
        )
        .await;
        health::union_of_listings(results.into_iter().map(|r| (String::new(), r)), |c| {
            layout::block_of(&c)
        })
    }

    /// Streams the blob in stripes with about two stripes in memory: stripe 0 is held back and
    /// written last, once the hashes of every stripe are known; the blob is checked against the
    /// CID before stripe 0 is written, so nothing readable is left when it does not match.
    async fn put_stream(
        &self,
        cid: &Cid,
        mut source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        let inner = &self.inner;
        let digest = inner.digest(cid)?;
        // A small blob is checked (and written) by `put` below, once it has been read.
        let small = len.is_some_and(|l| l <= inner.config.small_block as u64);
        let careful = if small {
            false
        } else {
            match inner.found(cid, false).await? {
                Found::Whole => return Ok(()),
                Found::Partial => true,
                Found::Nothing => false,
            }
        };
        let size = inner.config.stripe_size;
        let mut first = vec![0u8; size as usize];
        let n = fill_buf(&mut source, &mut first).await?;
        first.truncate(n);
        let mut next = vec![0u8; size as usize];
        let got = if n == size as usize {
            fill_buf(&mut source, &mut next).await?
        } else {
            0
        };
        if got == 0 {
            check_len(len, first.len() as u64)?;
            return self.put(cid, Bytes::from(first)).await;
        }
        let mut kept = Vec::new();
        let mut cvs = vec![stripe_cv(&first, size, 0)];
        let mut total = first.len() as u64;
        let mut s = 1u64;
        let mut cur = next;
        let mut cur_len = got;
        loop {
            let data = &cur[..cur_len];
            cvs.push(stripe_cv(data, size, s));
            total += cur_len as u64;
            if s >= layout::MAX_STRIPES {
                let e = StoreError::Unsupported(format!(
                    "a blob of more than {} stripes",
                    layout::MAX_STRIPES
                ));
                return Err(inner.rolled_back(cid, 1..s, e, &kept).await);
            }
            let shards = inner.encode(data, size, s, 0, &[])?;
            if let Err(e) = inner.write_stripe(cid, s, shards, &mut kept, careful).await {
                return Err(inner.rolled_back(cid, 1..s + 1, e, &kept).await);
            }
            if cur_len < size as usize {
                break;
            }
            let n = match fill_buf(&mut source, &mut cur).await {
                Ok(n) => n,
                Err(e) => return Err(inner.rolled_back(cid, 1..s + 1, e, &kept).await),
            };
            if n == 0 {
                break;
            }
            cur_len = n;
            s += 1;
        }
        let stripes = s + 1;
        if let Err(e) = check_len(len, total) {
            return Err(inner.rolled_back(cid, 1..stripes, e, &kept).await);
        }
        let root = root_of(&cvs).unwrap_or_else(|| blake3::hash(&first));
        if root != blake3::Hash::from(digest) {
            let e = StoreError::Corrupt {
                cid: cid.to_string(),
                detail: format!(
                    "the bytes given hash to {}, not to this CID; nothing was stored",
                    crate::block::cid_from_blake3(cid.codec(), root.as_bytes())
                ),
            };
            return Err(inner.rolled_back(cid, 1..stripes, e, &kept).await);
        }
        let shards = inner.encode(&first, size, 0, total, &cvs)?;
        if let Err(e) = inner.write_stripe(cid, 0, shards, &mut kept, careful).await {
            return Err(inner.rolled_back(cid, 0..stripes, e, &kept).await);
        }
        Ok(())
    }

    /// Streams stripe by stripe, each checked against the CID before it is yielded.
    async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> {
        let inner = self.inner.clone();
        let first = match inner.read_stripe(cid, 0, None, u64::MAX, false).await {
            Ok(r) => r,
            Err(e) => {
                let copy = inner
                    .copy_instead(cid, inner.config.stripe_size.into(), e, None)
                    .await?;
                return Ok(bytes_stream(copy));
            }
        };
        let layout = first.layout;
        let stripes = layout.stripes();
        let head = futures_util::stream::once(async move { Ok(Bytes::from(first.data)) });
        let cid = *cid;
        let rest = futures_util::stream::unfold(1u64, move |s| {
            let inner = inner.clone();
            let layout = layout.clone();
            async move {
                if s >= stripes {
                    return None;
                }
                let r = inner
                    .read_stripe(&cid, s, Some(&layout), layout.len, false)
                    .await
                    .map(|r| Bytes::from(r.data));
                // After an error the stream ends.
                let next = if r.is_ok() { s + 1 } else { stripes };
                Some((r, next))
            }
        });
        Ok(Box::pin(futures_util::StreamExt::chain(head, rest)))
    }
}
