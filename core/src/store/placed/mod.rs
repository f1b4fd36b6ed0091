//! Backends with places, and placement policies: a registry of named backends (region,
//! jurisdiction, tags, active or draining) and a [`Policy`] that says how many pieces of every
//! block go where (`replicate 3 regions>=2`, `rs 4+2 jurisdiction=EU`).
//!
//! - **Placement is rendezvous hashing** (highest random weight): every backend gets the score
//!   BLAKE3(name ‖ 0 ‖ CID bytes) for a block, and the eligible backends (active, meeting the
//!   constraints) are ranked by it. `replicate N regions>=R` takes the first backend of each new
//!   region in rank order until R regions are covered, then the next ones in rank order up to N;
//!   `rs K+M` puts shard `i` on the `i`-th ranked backend (through
//!   [`ErasureStore::with_placement`]). Adding or draining a backend moves only the blocks whose
//!   top ranks it enters or leaves.
//! - **A write that cannot satisfy its policy fails** with [`StoreError::PolicyUnsatisfiable`]
//!   before anything is written; it never lands on a backend the policy excludes.
//! - **Reads** try the placed backends first, then every other backend (draining ones too), and
//!   for erasure-coded blocks written under another placement or another code, look for their
//!   shards on every backend ([`PlacedStore`] reads the code from a shard header). Everything read
//!   is checked against its CID.
//! - **Heads** are written to every active backend (the first active one in registry order with
//!   the caller's condition, the others unconditionally) and read from the first active backend
//!   that answers.
//! - [`PlacedStore::rebalance`] moves what is not where the policy now places it: new pieces are
//!   written and verified before misplaced ones are deleted; a draining backend ends empty.

mod policy;
mod rebalance;

pub use policy::{MAX_COPIES, Policy, PolicyError, Redundancy, check_label, fuzz_policy_text};
pub use rebalance::{RebalanceOptions, RebalanceReport};

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use futures_util::future::join_all;

use super::erasure::layout::{PREFIX_LEN, block_of, decode_prefix, shard_cid};
use super::erasure::{ErasureConfig, ErasureStore};
use super::verifying::{verified_stream, verify_fetched};
use super::{
    BlobSource, BlockStore, ByteStream, ConditionalWrites, Head, HeadCondition, HeadStore,
    HeadVersion, ReplicatedStore, ReplicationConfig, StoreError, StoreResult, check_range_answer,
};
use crate::block::Cid;

/// A store that can be a backend: blocks and heads.
pub trait BackendStore: BlockStore + HeadStore {}
impl<T: BlockStore + HeadStore + ?Sized> BackendStore for T {}

/// Whether a backend takes new pieces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendState {
    /// Placed on, read from.
    Active,
    /// Read from, never placed on: [`PlacedStore::rebalance`] moves its pieces away.
    Draining,
}

/// One backend of the registry.
#[derive(Clone)]
pub struct Backend {
    /// Its unique name (its placement depends on it: renaming moves data).
    pub name: String,
    /// Where it is (`regions>=` counts distinct regions).
    pub region: Option<String>,
    /// Whose law it is under (`jurisdiction=` matches it, case-insensitively).
    pub jurisdiction: Option<String>,
    /// Free-form labels (`tag=` requires them).
    pub tags: BTreeSet<String>,
    /// Active or draining.
    pub state: BackendState,
    /// The store.
    pub store: Arc<dyn BackendStore>,
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backend")
            .field("name", &self.name)
            .field("region", &self.region)
            .field("jurisdiction", &self.jurisdiction)
            .field("tags", &self.tags)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Backend {
    /// An active backend named `name` with no region, jurisdiction or tags.
    pub fn new(name: impl Into<String>, store: Arc<dyn BackendStore>) -> Self {
        Self {
            name: name.into(),
            region: None,
            jurisdiction: None,
            tags: BTreeSet::new(),
            state: BackendState::Active,
            store,
        }
    }
}

/// The names and places of the backends, shared with the erasure store's placement hook.
struct Registry {
    names: Vec<String>,
    regions: Vec<Option<String>>,
    /// Per backend: active and admitted by the policy.
    eligible: Vec<bool>,
}

impl Registry {
    /// Every backend, highest score for `cid` first.
    fn ranked(&self, cid: &Cid) -> Vec<usize> {
        let id = cid.to_bytes();
        let mut scored: Vec<([u8; 32], usize)> = self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut h = blake3::Hasher::new();
                h.update(name.as_bytes());
                h.update(&[0]);
                h.update(&id);
                (*h.finalize().as_bytes(), i)
            })
            .collect();
        scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.into_iter().map(|(_, i)| i).collect()
    }

    /// The eligible backends, highest score first.
    fn ranked_eligible(&self, cid: &Cid) -> Vec<usize> {
        self.ranked(cid)
            .into_iter()
            .filter(|&i| self.eligible[i])
            .collect()
    }
}

/// The policy in force and what it needs.
struct Active {
    policy: Policy,
    registry: Arc<Registry>,
    /// The erasure store for an `rs` policy (over every backend, placed by the registry).
    coded: Option<ErasureStore>,
}

struct Inner {
    backends: Vec<Backend>,
    blocks: Vec<Arc<dyn BlockStore>>,
    template: ErasureConfig,
    active: RwLock<Arc<Active>>,
}

/// Blocks placed on a registry of backends by a [`Policy`] (see the module documentation).
#[derive(Clone)]
pub struct PlacedStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for PlacedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlacedStore")
            .field("backends", &self.inner.backends)
            .field("policy", &self.policy().to_string())
            .finish()
    }
}

/// Why the policy cannot be met: `Err(message)`.
fn unsatisfiable(policy: &Policy, why: String) -> StoreError {
    StoreError::PolicyUnsatisfiable(format!("{policy} {why}"))
}

impl PlacedStore {
    /// Places blocks on `backends` by `policy`. Names must be unique and non-empty. A policy the
    /// backends cannot satisfy is accepted (reads work) but every write fails.
    pub fn new(backends: Vec<Backend>, policy: Policy) -> StoreResult<Self> {
        Self::with_erasure_config(backends, policy, ErasureConfig::new(1, 1))
    }

    /// Like [`PlacedStore::new`]; `rs` policies use `template`'s stripe size, small-block
    /// threshold, durability margin (k + `min_durable` − `data_shards`) and deadline.
    pub fn with_erasure_config(
        backends: Vec<Backend>,
        policy: Policy,
        template: ErasureConfig,
    ) -> StoreResult<Self> {
        if backends.is_empty() {
            return Err(StoreError::Config("a placed store needs backends".into()));
        }
        let mut names = BTreeSet::new();
        for b in &backends {
            if b.name.is_empty() || !names.insert(b.name.as_str()) {
                return Err(StoreError::Config(format!(
                    "backend names must be unique and non-empty ({:?})",
                    b.name
                )));
            }
        }
        let blocks = backends
            .iter()
            .map(|b| b.store.clone() as Arc<dyn BlockStore>)
            .collect();
        let inner = Inner {
            backends,
            blocks,
            template,
            active: RwLock::new(Arc::new(Active {
                policy: Policy::replicate(1),
                registry: Arc::new(Registry {
                    names: Vec::new(),
                    regions: Vec::new(),
                    eligible: Vec::new(),
                }),
                coded: None,
            })),
        };
        let store = Self {
            inner: Arc::new(inner),
        };
        store.set_policy(policy)?;
        Ok(store)
    }

    /// The backends, in registry order.
    pub fn backends(&self) -> &[Backend] {
        &self.inner.backends
    }

    /// The policy in force.
    pub fn policy(&self) -> Policy {
        self.active().policy.clone()
    }

    /// Under an `rs K+M` policy, the erasure store that writes and reads its shards (placed by
    /// the registry), e.g. for [`ErasureStore::scrub_with`]: a scrub checks and a repair restores
    /// every shard and copy at the place the policy in force gives it (pieces elsewhere are
    /// [`PlacedStore::rebalance`]'s). `None` under a `replicate` policy.
    pub fn erasure(&self) -> Option<ErasureStore> {
        self.active().coded.clone()
    }

    /// Places new writes by `policy` from now on (existing blocks move at the next
    /// [`PlacedStore::rebalance`]).
    pub fn set_policy(&self, policy: Policy) -> StoreResult<()> {
        let inner = &self.inner;
        let registry = Arc::new(Registry {
            names: inner.backends.iter().map(|b| b.name.clone()).collect(),
            regions: inner.backends.iter().map(|b| b.region.clone()).collect(),
            eligible: inner
                .backends
                .iter()
                .map(|b| {
                    b.state == BackendState::Active
                        && policy.admits(b.jurisdiction.as_deref(), &b.tags)
                })
                .collect(),
        });
        let coded = match policy.redundancy {
            Redundancy::Erasure { k, m } if k + m <= inner.backends.len() => {
                let r = registry.clone();
                let hook: super::erasure::Placement =
                    Arc::new(move |cid: &Cid| r.ranked_eligible(cid));
                Some(ErasureStore::with_placement(
                    inner.blocks.clone(),
                    self.coding(k, m),
                    hook,
                )?)
            }
            _ => None,
        };
        *self.inner.active.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Active {
            policy,
            registry,
            coded,
        });
        Ok(())
    }

    fn active(&self) -> Arc<Active> {
        self.inner
            .active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The erasure configuration for `k + m`, from the template.
    fn coding(&self, k: usize, m: usize) -> ErasureConfig {
        let t = &self.inner.template;
        let mut c = ErasureConfig::new(k, m);
        c.min_durable = (k + t.min_durable.saturating_sub(t.data_shards)).clamp(k, k + m);
        c.stripe_size = t.stripe_size;
        c.small_block = t.small_block;
        c.timeout = t.timeout;
        c
    }

    /// Where the policy in force puts `cid`: the backends (registry indices) of its copies, or of
    /// its shards in shard order; [`StoreError::PolicyUnsatisfiable`] when it cannot be met.
    pub fn placement(&self, cid: &Cid) -> StoreResult<Vec<usize>> {
        place(&self.active(), cid)
    }

    /// Backends that hold no piece under the policy in force for `cid` and are read after the
    /// placed ones: every backend, placed ones first, then by rank.
    fn read_order(&self, active: &Active, cid: &Cid) -> Vec<usize> {
        let mut order = place(active, cid).unwrap_or_default();
        for b in active.registry.ranked(cid) {
            if !order.contains(&b) {
                order.push(b);
            }
        }
        order
    }
}

/// Where `active`'s policy puts `cid` (see [`PlacedStore::placement`]).
fn place(active: &Active, cid: &Cid) -> StoreResult<Vec<usize>> {
    let policy = &active.policy;
    let reg = &active.registry;
    let ranked = reg.ranked_eligible(cid);
    let need = policy.pieces();
    if ranked.len() < need {
        let all = reg.names.len();
        return Err(unsatisfiable(
            policy,
            format!(
                "needs {need} eligible backends, {} {} (of {all}; eligible: active and meeting \
                 the constraints)",
                ranked.len(),
                if ranked.len() == 1 { "is" } else { "are" }
            ),
        ));
    }
    match policy.redundancy {
        Redundancy::Erasure { .. } => Ok(ranked[..need].to_vec()),
        Redundancy::Replicate {
            copies,
            min_regions,
        } => {
            let mut chosen = Vec::new();
            if min_regions > 1 {
                let mut seen = BTreeSet::new();
                for &b in &ranked {
                    if seen.len() >= min_regions {
                        break;
                    }
                    if let Some(r) = &reg.regions[b]
                        && seen.insert(r.as_str())
                    {
                        chosen.push(b);
                    }
                }
                if seen.len() < min_regions {
                    let all: BTreeSet<&str> = ranked
                        .iter()
                        .filter_map(|&b| reg.regions[b].as_deref())
                        .collect();
                    return Err(unsatisfiable(
                        policy,
                        format!(
                            "needs copies in {min_regions} regions, the eligible backends span {} \
                             ({})",
                            all.len(),
                            all.into_iter().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
            }
            for &b in &ranked {
                if chosen.len() >= copies {
                    break;
                }
                if !chosen.contains(&b) {
                    chosen.push(b);
                }
            }
            let pos: BTreeMap<usize, usize> =
                ranked.iter().enumerate().map(|(p, &b)| (b, p)).collect();
            chosen.sort_by_key(|b| pos.get(b).copied());
            Ok(chosen)
        }
    }
}

/// Collects the errors of a read over several backends and answers the one that says most.
#[derive(Default)]
struct Failures(Vec<(usize, StoreError)>);

impl Failures {
    fn push(&mut self, b: usize, e: StoreError) {
        self.0.push((b, e));
    }

    fn into_error(self, cid: &Cid) -> StoreError {
        super::replicated::all_failed(cid, self.0)
    }
}

fn io_error(e: StoreError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl PlacedStore {
    /// Erasure stores over the backends that read `cid` where its shards are found (for blocks
    /// written under another placement or another code), most likely first. The code is taken
    /// from the headers of shards 0 to 2 of stripe 0 (any backend), and the policy's own.
    async fn located(&self, active: &Active, cid: &Cid) -> Vec<ErasureStore> {
        let inner = &self.inner;
        let n = inner.backends.len();
        let mut codes: Vec<(usize, usize)> = Vec::new();
        if let Redundancy::Erasure { k, m } = active.policy.redundancy {
            codes.push((k, m));
        }
        let probes = join_all((0..3u8).flat_map(|i| {
            (0..n).map(move |b| async move {
                let name = shard_cid(cid, 0, i).ok()?;
                let p = inner.blocks[b]
                    .get_range(&name, 0..PREFIX_LEN as u64)
                    .await
                    .ok()?;
                decode_prefix(&p).ok()?;
                Some((usize::from(p[5]), usize::from(p[6])))
            })
        }))
        .await;
        for code in probes.into_iter().flatten() {
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
        let mut found = Vec::new();
        for (k, m) in codes {
            if k == 0 || m == 0 || k + m > n {
                continue;
            }
            let placed = place(active, cid).ok().filter(|p| p.len() == k + m);
            let has = join_all((0..k + m).flat_map(|i| {
                (0..n).map(move |b| async move {
                    let Ok(name) = shard_cid(cid, 0, i as u8) else {
                        return false;
                    };
                    matches!(inner.blocks[b].has(&name).await, Ok(true))
                })
            }))
            .await;
            let mut positions = Vec::with_capacity(k + m);
            let mut present = 0;
            for i in 0..k + m {
                let holders: Vec<usize> = (0..n).filter(|&b| has[i * n + b]).collect();
                let preferred = placed.as_ref().map(|p| p[i]);
                let b = match preferred {
                    Some(p) if holders.contains(&p) => Some(p),
                    _ => holders.first().copied(),
                };
                present += usize::from(b.is_some());
                positions.push(b.or(preferred).unwrap_or(i % n));
            }
            if present < k {
                continue;
            }
            let hook: super::erasure::Placement = Arc::new(move |_: &Cid| positions.clone());
            if let Ok(store) =
                ErasureStore::with_placement(inner.blocks.clone(), self.coding(k, m), hook)
            {
                found.push(store);
            }
        }
        found
    }

    /// Reads verified copies from the backends in read order.
    async fn get_copy(
        &self,
        active: &Active,
        cid: &Cid,
        max_len: u64,
        failures: &mut Failures,
    ) -> Option<Bytes> {
        for b in self.read_order(active, cid) {
            let got = self.inner.blocks[b]
                .get_max(cid, max_len)
                .await
                .and_then(|bytes| verify_fetched(cid, &bytes).map(|()| bytes));
            match got {
                Ok(bytes) => return Some(bytes),
                Err(e) => failures.push(b, e),
            }
        }
        None
    }

    async fn read_whole(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        let active = self.active();
        let mut failures = Failures::default();
        match &active.coded {
            // The erasure store tries copies on every backend too.
            Some(coded) => match coded.get_max(cid, max_len).await {
                Ok(b) => return Ok(b),
                Err(e @ StoreError::TooLarge { .. }) => return Err(e),
                Err(e) => failures.push(usize::MAX, e),
            },
            None => {
                if let Some(b) = self.get_copy(&active, cid, max_len, &mut failures).await {
                    return Ok(b);
                }
            }
        }
        for store in self.located(&active, cid).await {
            match store.get_max(cid, max_len).await {
                Ok(b) => return Ok(b),
                Err(e) => failures.push(usize::MAX, e),
            }
        }
        Err(failures.into_error(cid))
    }

    /// Writes `cid` under the policy in force; `write` gets the target.
    async fn replicas(&self, active: &Active, cid: &Cid) -> StoreResult<ReplicatedStore> {
        let targets = place(active, cid)?;
        ReplicatedStore::new(
            targets
                .iter()
                .map(|&b| self.inner.blocks[b].clone())
                .collect(),
            ReplicationConfig {
                write_quorum: targets.len(),
                timeout: self.inner.template.timeout,
            },
        )
    }

    /// The erasure store of an `rs` policy, once the policy is known to be satisfiable.
    fn coded<'a>(&self, active: &'a Active, cid: &Cid) -> StoreResult<&'a ErasureStore> {
        place(active, cid)?;
        active.coded.as_ref().ok_or_else(|| {
            unsatisfiable(
                &active.policy,
                format!("needs more backends than the {}", self.inner.backends.len()),
            )
        })
    }

    /// `Ok` when the policy can place `cid`, or when the store already holds it (a put of a block
    /// that is there writes nothing, as with every store; a rebalance reports it if it is not
    /// where the policy wants it); else [`StoreError::PolicyUnsatisfiable`].
    /// Answers whether the write can be skipped (held, unsatisfiable).
    async fn satisfiable_or_held(&self, active: &Active, cid: &Cid) -> StoreResult<bool> {
        match place(active, cid) {
            Ok(_) => Ok(false),
            Err(e) => match self.held(cid).await {
                Ok(true) => Ok(true),
                _ => Err(e),
            },
        }
    }

    /// Whether a block is held (as a copy or as k shards) anywhere.
    async fn held(&self, cid: &Cid) -> StoreResult<bool> {
        let active = self.active();
        let copies = join_all(self.inner.blocks.iter().map(|s| s.has(cid))).await;
        if copies.iter().any(|r| matches!(r, Ok(true))) {
            return Ok(true);
        }
        if let Some(coded) = &active.coded
            && matches!(coded.has(cid).await, Ok(true))
        {
            return Ok(true);
        }
        if !self.located(&active, cid).await.is_empty() {
            return Ok(true);
        }
        if copies.iter().any(Result::is_ok) {
            return Ok(false);
        }
        let errors = copies
            .into_iter()
            .enumerate()
            .filter_map(|(b, r)| r.err().map(|e| (b, e)))
            .collect();
        Err(super::replicated::all_failed(cid, errors))
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl BlockStore for PlacedStore {
    /// Writes copies or shards where the policy places them; fails with
    /// [`StoreError::PolicyUnsatisfiable`] (nothing written) when it cannot be met.
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        let active = self.active();
        if self.satisfiable_or_held(&active, cid).await? {
            return Ok(());
        }
        match active.policy.redundancy {
            Redundancy::Replicate { .. } => {
                super::stream::check_whole(cid, &bytes)?;
                self.replicas(&active, cid).await?.put(cid, bytes).await
            }
            Redundancy::Erasure { .. } => self.coded(&active, cid)?.put(cid, bytes).await,
        }
    }

    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        self.read_whole(cid, u64::MAX).await
    }

    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        self.read_whole(cid, max_len).await
    }

    /// Erasure-coded blocks answer verified stripes; copies answer unverified bytes (as
    /// [`ReplicatedStore`]'s do: verify them with the Bao outboard).
    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        let active = self.active();
        let mut failures = Failures::default();
        if let Some(coded) = &active.coded {
            match coded.get_range(cid, range.clone()).await {
                Ok(b) => return Ok(b),
                Err(e @ StoreError::RangeOutOfBounds { .. }) => return Err(e),
                Err(e) => failures.push(usize::MAX, e),
            }
        }
        for b in self.read_order(&active, cid) {
            let got = async {
                let bytes = self.inner.blocks[b].get_range(cid, range.clone()).await?;
                check_range_answer(cid, &range, bytes)
            }
            .await;
            match got {
                Ok(bytes) => return Ok(bytes),
                Err(e @ StoreError::RangeOutOfBounds { .. }) => return Err(e),
                Err(e) => failures.push(b, e),
            }
        }
        for store in self.located(&active, cid).await {
            match store.get_range(cid, range.clone()).await {
                Ok(b) => return Ok(b),
                Err(e) => failures.push(usize::MAX, e),
            }
        }
        Err(failures.into_error(cid))
    }

    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        self.held(cid).await
    }

    /// Deletes every copy and every shard found, on every backend; fails when any deletion did.
    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        let active = self.active();
        let mut notes = Vec::new();
        let copies = join_all(self.inner.blocks.iter().map(|s| s.delete(cid))).await;
        for (b, r) in copies.into_iter().enumerate() {
            if let Err(e) = r {
                notes.push(format!("copy on {}: {e}", self.inner.backends[b].name));
            }
        }
        let mut coded: Vec<ErasureStore> = active.coded.iter().cloned().collect();
        coded.extend(self.located(&active, cid).await);
        for store in coded {
            if let Err(e) = store.delete(cid).await {
                notes.push(e.to_string());
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
        let results = join_all(self.inner.blocks.iter().map(|s| s.list())).await;
        let names = self.inner.backends.iter().map(|b| b.name.clone());
        super::replicated::health::union_of_listings(names.zip(results), |c| block_of(&c))
    }

    async fn put_stream(
        &self,
        cid: &Cid,
        source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        let active = self.active();
        if self.satisfiable_or_held(&active, cid).await? {
            return Ok(());
        }
        match active.policy.redundancy {
            Redundancy::Replicate { .. } => {
                self.replicas(&active, cid)
                    .await?
                    .put_stream(cid, source, len)
                    .await
            }
            Redundancy::Erasure { .. } => {
                self.coded(&active, cid)?.put_stream(cid, source, len).await
            }
        }
    }

    /// Streams verified stripes or a verified copy (its last item is an error on mismatch).
    async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> {
        let active = self.active();
        let mut failures = Failures::default();
        let expected =
            crate::block::blake3_digest(cid).map_err(|e| StoreError::Unsupported(e.to_string()))?;
        if let Some(coded) = &active.coded {
            match coded.get_stream(cid).await {
                Ok(s) => return Ok(s),
                Err(e) => failures.push(usize::MAX, e),
            }
        }
        // Whole copies of any size (the erasure store reads copies of small blocks only).
        for b in self.read_order(&active, cid) {
            match self.inner.blocks[b].get_stream(cid).await {
                Ok(s) => return Ok(verified_stream(*cid, expected, s)),
                Err(e) => failures.push(b, e),
            }
        }
        for store in self.located(&active, cid).await {
            match store.get_stream(cid).await {
                Ok(s) => return Ok(s),
                Err(e) => failures.push(usize::MAX, e),
            }
        }
        Err(failures.into_error(cid))
    }
}

impl PlacedStore {
    /// Active backends, registry order.
    fn head_backends(&self) -> Vec<usize> {
        (0..self.inner.backends.len())
            .filter(|&b| self.inner.backends[b].state == BackendState::Active)
            .collect()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl HeadStore for PlacedStore {
    /// From the first active backend that answers.
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        let mut errors = Vec::new();
        for b in self.head_backends() {
            match self.inner.backends[b].store.read_heads(vault).await {
                Ok(h) => return Ok(h),
                Err(e) if e.is_transient() => {
                    errors.push(format!("{}: {e}", self.inner.backends[b].name))
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(format!(
            "no active backend could read the heads of {vault}: {}",
            if errors.is_empty() {
                "there is no active backend".to_string()
            } else {
                errors.join("; ")
            }
        )))
    }

    async fn read_head(&self, vault: &str, writer: &str) -> StoreResult<Option<Head>> {
        let mut errors = Vec::new();
        for b in self.head_backends() {
            match self.inner.backends[b].store.read_head(vault, writer).await {
                Ok(h) => return Ok(h),
                Err(e) if e.is_transient() => {
                    errors.push(format!("{}: {e}", self.inner.backends[b].name))
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(format!(
            "no active backend could read the head of {vault}/{writer}: {}",
            errors.join("; ")
        )))
    }

    /// To the first active backend that answers with `condition`, then to every other active
    /// backend unconditionally (their failures are not errors: the next write catches them up).
    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<HeadVersion> {
        let order = self.head_backends();
        let mut errors = Vec::new();
        for (pos, &b) in order.iter().enumerate() {
            let store = &self.inner.backends[b].store;
            match store
                .write_head(vault, writer, bytes.clone(), condition.clone())
                .await
            {
                Ok(version) => {
                    let rest = order[pos + 1..].iter().map(|&o| {
                        self.inner.backends[o].store.write_head(
                            vault,
                            writer,
                            bytes.clone(),
                            HeadCondition::Any,
                        )
                    });
                    join_all(rest).await;
                    return Ok(version);
                }
                Err(e) if e.is_transient() => {
                    errors.push(format!("{}: {e}", self.inner.backends[b].name))
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Unavailable(format!(
            "no active backend took the head of {vault}/{writer}: {}",
            if errors.is_empty() {
                "there is no active backend".to_string()
            } else {
                errors.join("; ")
            }
        )))
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        match self.head_backends().first() {
            Some(&b) => self.inner.backends[b].store.conditional_writes(),
            None => ConditionalWrites::Unknown,
        }
    }

    async fn probe_conditional_writes(&self) -> StoreResult<ConditionalWrites> {
        match self.head_backends().first() {
            Some(&b) => {
                self.inner.backends[b]
                    .store
                    .probe_conditional_writes()
                    .await
            }
            None => Ok(ConditionalWrites::Unknown),
        }
    }
}

#[cfg(test)]
mod tests;
