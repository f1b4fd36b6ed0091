//! A store that attacks its caller on purpose, for the hostile-store test suite.
//!
//! [`HostileStore`] wraps any block and head store and, when told to, does what a hostile server
//! can do (`docs/THREATS.md`): replay an earlier head, omit heads, serve one head under another
//! name (across namespaces too: inbox, registry, view, vault), answer a block or a range with
//! another block's bytes, truncate, inflate, reorder / drop / duplicate / overwrite inbox entries,
//! and fail writes. Each attack is an [`Attack`] value, logged with the operation it hit
//! ([`Applied`]) and counted, so a test can print exactly what was done to it.
//!
//! Attacks come from two places: explicit ones ([`HostileStore::arm`], [`HostileStore::arm_once`],
//! [`HostileStore::overwrite_head`]) and random ones ([`HostileStore::set_random`]), drawn from one
//! SplitMix64 generator seeded at [`HostileStore::new`] in the order operations run, so a
//! single-task test replays exactly from its seed.
//!
//! By default the wrapper also plays the client side of a built-in transport
//! ([`HostileStore::set_enforce_caps`]): `get_max` refuses what is over its limit, `get_range`
//! answers of the wrong length are refused, `read_heads` refuses heads over
//! [`super::MAX_HEAD_BYTES`]. Turn that off to see what a careless app-provided store would pass
//! up to the vault.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::head::{check_head_len, content_version};
use super::{
    BlobSource, BlockStore, ByteStream, ConditionalWrites, Head, HeadCondition, HeadStore,
    HeadVersion, StoreError, StoreResult, check_max, check_range_answer,
};
use crate::block::Cid;

/// Head-store namespaces of inboxes start with this.
pub const INBOX_PREFIX: &str = "_coffer-inbox-";

/// Most log entries kept (the count in [`HostileStore::attack_count`] stays exact).
const LOG_LIMIT: usize = 100_000;
/// Most CIDs remembered as substitutes for block attacks.
const SEEN_LIMIT: usize = 10_000;
/// Garbage is produced in chunks of this size.
const GARBAGE_CHUNK: usize = 64 << 10;

/// A head's full name: its namespace (a vault, an inbox, a share registry, a view) and writer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HeadName {
    /// The namespace (`vault` argument of [`HeadStore`]).
    pub namespace: String,
    /// The writer.
    pub writer: String,
}

impl HeadName {
    /// `writer` in `namespace`.
    pub fn new(namespace: impl Into<String>, writer: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            writer: writer.into(),
        }
    }

    /// Whether the namespace is an inbox (starts with [`INBOX_PREFIX`]).
    pub fn is_inbox(&self) -> bool {
        self.namespace.starts_with(INBOX_PREFIX)
    }
}

impl std::fmt::Display for HeadName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.writer)
    }
}

/// One attack, as armed and as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Attack {
    /// Serve `head` as it was at `version` (0: the first bytes seen, in the order they were
    /// written through or read from this wrapper) instead of its current bytes.
    ReplayHead {
        /// The head.
        head: HeadName,
        /// Index into [`HostileStore::head_history`].
        version: usize,
    },
    /// Leave `head` out of `read_heads` and answer `None` to `read_head` (a dropped inbox entry).
    OmitHead {
        /// The head.
        head: HeadName,
    },
    /// Serve the current bytes of `source` under the name `target` (added to listings when
    /// `target` does not exist); namespaces may differ.
    SwapHead {
        /// Whose bytes are served.
        source: HeadName,
        /// The name they are served under.
        target: HeadName,
    },
    /// Serve `len` bytes of garbage as `head`.
    OversizeHead {
        /// The head.
        head: HeadName,
        /// Bytes served.
        len: u64,
    },
    /// Shuffle the order of `read_heads` in `namespace` with `seed`.
    ReorderHeads {
        /// The namespace.
        namespace: String,
        /// Seed of the shuffle.
        seed: u64,
    },
    /// List `head`'s bytes a second time under the writer name `alias` (a duplicated entry).
    DuplicateHead {
        /// The head copied.
        head: HeadName,
        /// The writer name of the copy.
        alias: String,
    },
    /// Write `bytes` over `head` in the wrapped store, ignoring conditions, as anyone with write
    /// access can (applied at once by [`HostileStore::overwrite_head`], or by random attacks on
    /// inboxes with another entry's bytes).
    OverwriteHead {
        /// The head overwritten.
        head: HeadName,
        /// What was written.
        bytes: Bytes,
    },
    /// Answer reads of block `target` with the bytes of block `with` (ranges: the same range of
    /// `with`, as far as it has bytes).
    SubstituteBlock {
        /// The block asked for.
        target: Cid,
        /// The block served instead.
        with: Cid,
    },
    /// Answer reads of `target` with only the first `keep` bytes of the answer.
    TruncateBlock {
        /// The block.
        target: Cid,
        /// Bytes kept.
        keep: u64,
    },
    /// Append `extra` bytes of garbage to every answer about `target` (blocks and ranges).
    OversizeBlock {
        /// The block.
        target: Cid,
        /// Garbage bytes appended.
        extra: u64,
    },
    /// Fail every write (`put`, `put_stream`, `delete`, `write_head`) with
    /// [`StoreError::Unavailable`].
    FailWrites,
}

/// The kinds of [`Attack`], to choose which random attacks may happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AttackKind {
    /// [`Attack::ReplayHead`].
    ReplayHead,
    /// [`Attack::OmitHead`].
    OmitHead,
    /// [`Attack::SwapHead`].
    SwapHead,
    /// [`Attack::OversizeHead`].
    OversizeHead,
    /// [`Attack::ReorderHeads`].
    ReorderHeads,
    /// [`Attack::DuplicateHead`].
    DuplicateHead,
    /// [`Attack::OverwriteHead`] (random: inboxes only).
    OverwriteHead,
    /// [`Attack::SubstituteBlock`].
    SubstituteBlock,
    /// [`Attack::TruncateBlock`].
    TruncateBlock,
    /// [`Attack::OversizeBlock`].
    OversizeBlock,
    /// [`Attack::FailWrites`].
    FailWrites,
}

impl Attack {
    /// Its kind.
    pub fn kind(&self) -> AttackKind {
        match self {
            Self::ReplayHead { .. } => AttackKind::ReplayHead,
            Self::OmitHead { .. } => AttackKind::OmitHead,
            Self::SwapHead { .. } => AttackKind::SwapHead,
            Self::OversizeHead { .. } => AttackKind::OversizeHead,
            Self::ReorderHeads { .. } => AttackKind::ReorderHeads,
            Self::DuplicateHead { .. } => AttackKind::DuplicateHead,
            Self::OverwriteHead { .. } => AttackKind::OverwriteHead,
            Self::SubstituteBlock { .. } => AttackKind::SubstituteBlock,
            Self::TruncateBlock { .. } => AttackKind::TruncateBlock,
            Self::OversizeBlock { .. } => AttackKind::OversizeBlock,
            Self::FailWrites => AttackKind::FailWrites,
        }
    }
}

/// One attack as it was applied: the operation it hit and the attack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The operation, e.g. `get_max bafkr4…` or `read_heads vault-1`.
    pub op: String,
    /// What was done.
    pub attack: Attack,
}

/// Random attacks: rates are probabilities per operation (0.0 to 1.0).
#[derive(Clone, Debug, Default)]
pub struct RandomAttacks {
    /// Probability that a read (of a block, a range, a stream, heads) is attacked.
    pub read_rate: f64,
    /// Probability that a write fails.
    pub write_failure_rate: f64,
    /// Kinds that may be drawn (empty: every kind).
    pub kinds: Vec<AttackKind>,
    /// Largest garbage appended by a random [`Attack::OversizeBlock`] (0: 64 KiB).
    pub max_extra: u64,
}

#[derive(Default)]
struct State {
    rng: u64,
    armed: Vec<(Attack, bool)>,
    random: RandomAttacks,
    /// Every distinct head version seen, oldest first.
    history: HashMap<HeadName, Vec<Bytes>>,
    seen_blocks: Vec<Cid>,
    log: Vec<Applied>,
}

impl State {
    fn next_u64(&mut self) -> u64 {
        // SplitMix64.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn chance(&mut self, p: f64) -> bool {
        let x = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    fn allowed(&self, kind: AttackKind) -> bool {
        self.random.kinds.is_empty() || self.random.kinds.contains(&kind)
    }

    fn record_head(&mut self, name: HeadName, bytes: &Bytes) {
        let versions = self.history.entry(name).or_default();
        if versions.last() != Some(bytes) {
            versions.push(bytes.clone());
        }
    }

    fn record_block(&mut self, cid: &Cid) {
        if self.seen_blocks.len() < SEEN_LIMIT && !self.seen_blocks.contains(cid) {
            self.seen_blocks.push(*cid);
        }
    }

    /// The armed attacks `matches` selects, removing the one-shot ones taken.
    fn take_armed(&mut self, matches: impl Fn(&Attack) -> bool) -> Vec<Attack> {
        let mut out = Vec::new();
        self.armed.retain(|(a, once)| {
            if matches(a) {
                out.push(a.clone());
                !*once
            } else {
                true
            }
        });
        out
    }
}

/// A store wrapper that attacks its caller; see the module documentation.
pub struct HostileStore<S> {
    inner: S,
    state: Mutex<State>,
    count: AtomicU64,
    enforce_caps: AtomicBool,
}

impl<S> std::fmt::Debug for HostileStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostileStore")
            .field("attacks", &self.attack_count())
            .finish_non_exhaustive()
    }
}

impl<S> HostileStore<S> {
    /// Wraps `inner`; random attacks (off until [`HostileStore::set_random`]) draw from `seed`.
    pub fn new(inner: S, seed: u64) -> Self {
        Self {
            inner,
            state: Mutex::new(State {
                rng: seed,
                ..State::default()
            }),
            count: AtomicU64::new(0),
            enforce_caps: AtomicBool::new(true),
        }
    }

    /// The wrapped store (an honest path to the same data).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Applies `attack` every time it matches an operation, until [`HostileStore::disarm_all`].
    pub fn arm(&self, attack: Attack) {
        self.lock().armed.push((attack, false));
    }

    /// Applies `attack` the next time it matches an operation, once.
    pub fn arm_once(&self, attack: Attack) {
        self.lock().armed.push((attack, true));
    }

    /// Removes every armed attack (random attacks stay as set).
    pub fn disarm_all(&self) {
        self.lock().armed.clear();
    }

    /// Sets the random attacks (`RandomAttacks::default()`: none).
    pub fn set_random(&self, random: RandomAttacks) {
        self.lock().random = random;
    }

    /// Whether the wrapper enforces the caps a built-in transport enforces (default: yes).
    pub fn set_enforce_caps(&self, on: bool) {
        self.enforce_caps.store(on, Ordering::SeqCst);
    }

    /// Every distinct version of `head` seen so far, oldest first.
    pub fn head_history(&self, head: &HeadName) -> Vec<Bytes> {
        self.lock().history.get(head).cloned().unwrap_or_default()
    }

    /// Every head name seen so far.
    pub fn known_heads(&self) -> Vec<HeadName> {
        let mut names: Vec<HeadName> = self.lock().history.keys().cloned().collect();
        names.sort();
        names
    }

    /// Attacks applied so far.
    pub fn attack_count(&self) -> u64 {
        self.count.load(Ordering::SeqCst)
    }

    /// The attacks applied so far, in order (the first 100,000).
    pub fn applied(&self) -> Vec<Applied> {
        self.lock().log.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn caps(&self) -> bool {
        self.enforce_caps.load(Ordering::SeqCst)
    }

    fn log(&self, state: &mut State, op: &str, attack: Attack) {
        self.count.fetch_add(1, Ordering::SeqCst);
        if state.log.len() < LOG_LIMIT {
            state.log.push(Applied {
                op: op.to_string(),
                attack,
            });
        }
    }

    /// Fails a write when armed or drawn to.
    fn write_attack(&self, op: &str) -> StoreResult<()> {
        let mut st = self.lock();
        let armed = !st
            .take_armed(|a| matches!(a, Attack::FailWrites))
            .is_empty();
        let rate = st.random.write_failure_rate;
        let drawn = st.chance(rate) && st.allowed(AttackKind::FailWrites);
        if armed || drawn {
            self.log(&mut st, op, Attack::FailWrites);
            return Err(StoreError::Unavailable(format!(
                "hostile store: {op} refused"
            )));
        }
        Ok(())
    }

    /// The attack on a read of block `cid` (armed first, else maybe a random one); `len` is the
    /// length of the honest answer, for random truncation.
    fn block_attack(&self, op: &str, cid: &Cid, len: u64) -> Option<Attack> {
        let mut st = self.lock();
        st.record_block(cid);
        let armed = st.take_armed(|a| match a {
            Attack::SubstituteBlock { target, .. }
            | Attack::TruncateBlock { target, .. }
            | Attack::OversizeBlock { target, .. } => target == cid,
            _ => false,
        });
        let attack = match armed.into_iter().next() {
            Some(a) => a,
            None => {
                let rate = st.random.read_rate;
                if !st.chance(rate) {
                    return None;
                }
                let kinds: Vec<AttackKind> = [
                    AttackKind::SubstituteBlock,
                    AttackKind::TruncateBlock,
                    AttackKind::OversizeBlock,
                ]
                .into_iter()
                .filter(|k| st.allowed(*k))
                .collect();
                let kind = *kinds.get(st.below(kinds.len() as u64) as usize)?;
                match kind {
                    AttackKind::SubstituteBlock => {
                        let others: Vec<Cid> = st
                            .seen_blocks
                            .iter()
                            .filter(|c| *c != cid)
                            .copied()
                            .collect();
                        let with = *others.get(st.below(others.len() as u64) as usize)?;
                        Attack::SubstituteBlock { target: *cid, with }
                    }
                    AttackKind::TruncateBlock if len > 0 => Attack::TruncateBlock {
                        target: *cid,
                        keep: st.below(len),
                    },
                    AttackKind::OversizeBlock => {
                        let max = match st.random.max_extra {
                            0 => GARBAGE_CHUNK as u64,
                            m => m,
                        };
                        Attack::OversizeBlock {
                            target: *cid,
                            extra: 1 + st.below(max),
                        }
                    }
                    _ => return None,
                }
            }
        };
        self.log(&mut st, op, attack.clone());
        Some(attack)
    }

    /// `n` bytes of garbage.
    fn garbage(&self, n: u64) -> Bytes {
        let seed = self.lock().next_u64();
        let mut out = BytesMut::with_capacity(usize::try_from(n).unwrap_or(0).min(64 << 20));
        let mut x = seed | 1;
        let mut left = n;
        while left > 0 {
            // xorshift64: cheap, deterministic filler.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let take = left.min(8) as usize;
            out.extend_from_slice(&x.to_le_bytes()[..take]);
            left -= take as u64;
        }
        out.freeze()
    }
}

impl<S: HeadStore> HostileStore<S> {
    /// Writes `bytes` over `head` in the wrapped store, ignoring any condition (as anyone with
    /// write access to the store can), and logs it as [`Attack::OverwriteHead`].
    pub async fn overwrite_head(&self, head: &HeadName, bytes: Bytes) -> StoreResult<HeadVersion> {
        let version = self
            .inner
            .write_head(
                &head.namespace,
                &head.writer,
                bytes.clone(),
                HeadCondition::Any,
            )
            .await?;
        let mut st = self.lock();
        st.record_head(head.clone(), &bytes);
        let attack = Attack::OverwriteHead {
            head: head.clone(),
            bytes,
        };
        self.log(&mut st, &format!("overwrite {head}"), attack);
        Ok(version)
    }

    /// The current bytes of `name` (from the wrapped store, else the last seen).
    async fn current_bytes(&self, name: &HeadName) -> Option<(Bytes, HeadVersion)> {
        if let Ok(Some(h)) = self.inner.read_head(&name.namespace, &name.writer).await {
            return Some((h.bytes, h.version));
        }
        let last = self.lock().history.get(name)?.last()?.clone();
        let version = content_version(&last);
        Some((last, version))
    }

    /// Draws the random head attacks for a read of `namespace` whose honest answer is `present`
    /// (`single`: a read of one head, where order and duplicates mean nothing).
    fn random_head_attacks(
        &self,
        namespace: &str,
        present: &[String],
        single: bool,
    ) -> Vec<Attack> {
        let mut st = self.lock();
        let rate = st.random.read_rate;
        if present.is_empty() || !st.chance(rate) {
            return Vec::new();
        }
        let inbox = namespace.starts_with(INBOX_PREFIX);
        let kinds: Vec<AttackKind> = [
            AttackKind::ReplayHead,
            AttackKind::OmitHead,
            AttackKind::SwapHead,
            AttackKind::OversizeHead,
            AttackKind::ReorderHeads,
            AttackKind::DuplicateHead,
            AttackKind::OverwriteHead,
        ]
        .into_iter()
        .filter(|k| st.allowed(*k) && (inbox || *k != AttackKind::OverwriteHead))
        .filter(|k| !single || !matches!(k, AttackKind::ReorderHeads | AttackKind::DuplicateHead))
        .collect();
        let Some(&kind) = kinds.get(st.below(kinds.len() as u64) as usize) else {
            return Vec::new();
        };
        let pick = |st: &mut State| present[st.below(present.len() as u64) as usize].clone();
        let attack = match kind {
            AttackKind::ReplayHead => {
                let writer = pick(&mut st);
                let head = HeadName::new(namespace, writer);
                let versions = st.history.get(&head).map_or(0, Vec::len);
                if versions < 2 {
                    return Vec::new();
                }
                let version = st.below(versions as u64 - 1) as usize;
                Attack::ReplayHead { head, version }
            }
            AttackKind::OmitHead => {
                // A random non-empty subset.
                let mut out = Vec::new();
                for w in present {
                    if st.chance(0.5) {
                        out.push(Attack::OmitHead {
                            head: HeadName::new(namespace, w.clone()),
                        });
                    }
                }
                if out.is_empty() {
                    out.push(Attack::OmitHead {
                        head: HeadName::new(namespace, pick(&mut st)),
                    });
                }
                return out;
            }
            AttackKind::SwapHead => {
                let target = HeadName::new(namespace, pick(&mut st));
                let mut sources: Vec<HeadName> = st
                    .history
                    .keys()
                    .filter(|n| **n != target)
                    .cloned()
                    .collect();
                sources.sort();
                let Some(source) = sources
                    .get(st.below(sources.len() as u64) as usize)
                    .cloned()
                else {
                    return Vec::new();
                };
                Attack::SwapHead { source, target }
            }
            AttackKind::OversizeHead => Attack::OversizeHead {
                head: HeadName::new(namespace, pick(&mut st)),
                len: super::MAX_HEAD_BYTES + 1 + st.below(4096),
            },
            AttackKind::ReorderHeads => Attack::ReorderHeads {
                namespace: namespace.to_string(),
                seed: st.next_u64(),
            },
            AttackKind::DuplicateHead => {
                let head = HeadName::new(namespace, pick(&mut st));
                let alias = format!("dup-{:x}", st.next_u64() & 0xffff_ffff);
                Attack::DuplicateHead { head, alias }
            }
            AttackKind::OverwriteHead => {
                let head = HeadName::new(namespace, pick(&mut st));
                let other = HeadName::new(namespace, pick(&mut st));
                let Some(bytes) = st.history.get(&other).and_then(|v| v.last()).cloned() else {
                    return Vec::new();
                };
                Attack::OverwriteHead { head, bytes }
            }
            _ => return Vec::new(),
        };
        vec![attack]
    }

    /// The attacks that apply to a read of `namespace` (armed and random); `writer`: a read of
    /// that one head only.
    fn head_attacks(
        &self,
        namespace: &str,
        writer: Option<&str>,
        present: &[String],
    ) -> Vec<Attack> {
        let hits = |h: &HeadName| h.namespace == namespace && writer.is_none_or(|w| h.writer == w);
        let mut attacks = self.lock().take_armed(|a| match a {
            Attack::ReplayHead { head, .. }
            | Attack::OmitHead { head }
            | Attack::OversizeHead { head, .. } => hits(head),
            Attack::DuplicateHead { head, .. } => writer.is_none() && hits(head),
            Attack::SwapHead { target, .. } => hits(target),
            Attack::ReorderHeads { namespace: n, .. } => writer.is_none() && n == namespace,
            _ => false,
        });
        attacks.extend(self.random_head_attacks(namespace, present, writer.is_some()));
        attacks
    }

    /// Applies `attacks` to the honest heads of `namespace`.
    async fn apply_head_attacks(
        &self,
        op: &str,
        namespace: &str,
        mut heads: Vec<Head>,
        attacks: Vec<Attack>,
    ) -> StoreResult<Vec<Head>> {
        for attack in attacks {
            let applied = match &attack {
                Attack::ReplayHead { head, version } => {
                    let old = self
                        .lock()
                        .history
                        .get(head)
                        .and_then(|v| v.get(*version))
                        .cloned();
                    match (old, heads.iter_mut().find(|h| h.writer == head.writer)) {
                        (Some(old), Some(h)) => {
                            h.version = content_version(&old);
                            h.bytes = old;
                            true
                        }
                        (Some(old), None) => {
                            heads.push(Head {
                                writer: head.writer.clone(),
                                version: content_version(&old),
                                bytes: old,
                            });
                            true
                        }
                        (None, _) => false,
                    }
                }
                Attack::OmitHead { head } => {
                    let before = heads.len();
                    heads.retain(|h| h.writer != head.writer);
                    heads.len() != before
                }
                Attack::SwapHead { source, target } => match self.current_bytes(source).await {
                    Some((bytes, version)) => {
                        heads.retain(|h| h.writer != target.writer);
                        heads.push(Head {
                            writer: target.writer.clone(),
                            bytes,
                            version,
                        });
                        true
                    }
                    None => false,
                },
                Attack::OversizeHead { head, len } => {
                    let bytes = self.garbage(*len);
                    heads.retain(|h| h.writer != head.writer);
                    heads.push(Head {
                        writer: head.writer.clone(),
                        version: content_version(&bytes),
                        bytes,
                    });
                    true
                }
                Attack::ReorderHeads { seed, .. } => {
                    let mut x = *seed | 1;
                    for i in (1..heads.len()).rev() {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        heads.swap(i, (x % (i as u64 + 1)) as usize);
                    }
                    heads.len() > 1
                }
                Attack::DuplicateHead { head, alias } => {
                    match heads.iter().find(|h| h.writer == head.writer).cloned() {
                        Some(mut copy) => {
                            copy.writer = alias.clone();
                            heads.push(copy);
                            true
                        }
                        None => false,
                    }
                }
                Attack::OverwriteHead { head, bytes } => {
                    let written = self
                        .inner
                        .write_head(namespace, &head.writer, bytes.clone(), HeadCondition::Any)
                        .await;
                    match (written, heads.iter_mut().find(|h| h.writer == head.writer)) {
                        (Ok(version), Some(h)) => {
                            h.bytes = bytes.clone();
                            h.version = version;
                            true
                        }
                        _ => false,
                    }
                }
                _ => false,
            };
            if applied {
                let mut st = self.lock();
                self.log(&mut st, op, attack);
            }
        }
        if self.caps() {
            for h in &heads {
                check_head_len(namespace, &h.writer, h.bytes.len() as u64)?;
            }
        }
        Ok(heads)
    }
}

/// The answer to a read whose honest answer is `honest`, with `attack` applied (`substitute`:
/// the other block's bytes; `garbage`: what an oversize attack appends).
fn attacked_bytes(
    attack: &Attack,
    honest: Bytes,
    substitute: Option<Bytes>,
    garbage: Bytes,
) -> Bytes {
    match attack {
        Attack::SubstituteBlock { .. } => substitute.unwrap_or(honest),
        Attack::TruncateBlock { keep, .. } => honest.slice(
            ..usize::try_from(*keep)
                .unwrap_or(usize::MAX)
                .min(honest.len()),
        ),
        Attack::OversizeBlock { .. } => {
            let mut out = BytesMut::with_capacity(honest.len() + garbage.len());
            out.extend_from_slice(&honest);
            out.extend_from_slice(&garbage);
            out.freeze()
        }
        _ => honest,
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<S: BlockStore> BlockStore for HostileStore<S> {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        self.write_attack(&format!("put {cid}"))?;
        self.lock().record_block(cid);
        self.inner.put(cid, bytes).await
    }

    /// Materializes the attacked answer (use modest garbage, or [`BlockStore::get_max`]).
    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        let honest = self.inner.get(cid).await?;
        let Some(attack) = self.block_attack(&format!("get {cid}"), cid, honest.len() as u64)
        else {
            return Ok(honest);
        };
        let (substitute, garbage) = match &attack {
            Attack::SubstituteBlock { with, .. } => {
                (Some(self.inner.get(with).await?), Bytes::new())
            }
            Attack::OversizeBlock { extra, .. } => (None, self.garbage(*extra)),
            _ => (None, Bytes::new()),
        };
        Ok(attacked_bytes(&attack, honest, substitute, garbage))
    }

    /// With caps enforced, an inflated answer is refused from its planned length, before any
    /// garbage is made.
    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        let caps = self.caps();
        let honest = if caps {
            self.inner.get_max(cid, max_len).await?
        } else {
            self.inner.get(cid).await?
        };
        let Some(attack) = self.block_attack(&format!("get_max {cid}"), cid, honest.len() as u64)
        else {
            return Ok(honest);
        };
        let (substitute, garbage) = match &attack {
            Attack::SubstituteBlock { with, .. } if caps => {
                (Some(self.inner.get_max(with, max_len).await?), Bytes::new())
            }
            Attack::SubstituteBlock { with, .. } => {
                (Some(self.inner.get(with).await?), Bytes::new())
            }
            Attack::OversizeBlock { extra, .. } => {
                let planned = honest.len() as u64 + extra;
                if caps {
                    check_max(cid, planned, max_len)?;
                }
                (None, self.garbage(*extra))
            }
            _ => (None, Bytes::new()),
        };
        let bytes = attacked_bytes(&attack, honest, substitute, garbage);
        if caps {
            check_max(cid, bytes.len() as u64, max_len)?;
        }
        Ok(bytes)
    }

    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        let honest = self.inner.get_range(cid, range.clone()).await?;
        let op = format!("get_range {cid} {}..{}", range.start, range.end);
        let Some(attack) = self.block_attack(&op, cid, honest.len() as u64) else {
            return Ok(honest);
        };
        let (substitute, garbage) = match &attack {
            Attack::SubstituteBlock { with, .. } => {
                let other = self.inner.get(with).await?;
                let start = usize::try_from(range.start)
                    .unwrap_or(usize::MAX)
                    .min(other.len());
                let end = usize::try_from(range.end)
                    .unwrap_or(usize::MAX)
                    .min(other.len());
                (Some(other.slice(start..end.max(start))), Bytes::new())
            }
            Attack::OversizeBlock { extra, .. } => (None, self.garbage(*extra)),
            _ => (None, Bytes::new()),
        };
        let bytes = attacked_bytes(&attack, honest, substitute, garbage);
        if self.caps() {
            return check_range_answer(cid, &range, bytes);
        }
        Ok(bytes)
    }

    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        self.inner.has(cid).await
    }

    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        self.write_attack(&format!("delete {cid}"))?;
        self.inner.delete(cid).await
    }

    async fn list(&self) -> StoreResult<Vec<Cid>> {
        let cids = self.inner.list().await?;
        let mut st = self.lock();
        for c in &cids {
            st.record_block(c);
        }
        Ok(cids)
    }

    async fn put_stream(
        &self,
        cid: &Cid,
        source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        self.write_attack(&format!("put_stream {cid}"))?;
        self.lock().record_block(cid);
        self.inner.put_stream(cid, source, len).await
    }

    /// Streams the attacked answer without buffering it: a substitute's stream, the honest one
    /// cut at `keep` bytes, or the honest one followed by garbage in 64 KiB chunks.
    async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> {
        let honest = self.inner.get_stream(cid).await?;
        let Some(attack) = self.block_attack(&format!("get_stream {cid}"), cid, 0) else {
            return Ok(honest);
        };
        match attack {
            Attack::SubstituteBlock { with, .. } => self.inner.get_stream(&with).await,
            Attack::TruncateBlock { keep, .. } => {
                let stream =
                    futures_util::stream::unfold((honest, keep), |(mut s, left)| async move {
                        if left == 0 {
                            return None;
                        }
                        match s.next().await? {
                            Ok(chunk) => {
                                let n = (chunk.len() as u64).min(left);
                                Some((Ok(chunk.slice(..n as usize)), (s, left - n)))
                            }
                            Err(e) => Some((Err(e), (s, 0))),
                        }
                    });
                Ok(Box::pin(stream))
            }
            Attack::OversizeBlock { extra, .. } => {
                let chunk = self.garbage(extra.min(GARBAGE_CHUNK as u64));
                let tail = futures_util::stream::unfold(extra, move |left| {
                    let chunk = chunk.clone();
                    async move {
                        if left == 0 || chunk.is_empty() {
                            return None;
                        }
                        let n = (chunk.len() as u64).min(left);
                        Some((Ok(chunk.slice(..n as usize)), left - n))
                    }
                });
                Ok(Box::pin(honest.chain(tail)))
            }
            _ => Ok(honest),
        }
    }

    async fn presigned_get(
        &self,
        cid: &Cid,
        expires_in: std::time::Duration,
    ) -> StoreResult<Option<String>> {
        self.inner.presigned_get(cid, expires_in).await
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<S: HeadStore> HeadStore for HostileStore<S> {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        let heads = self.inner.read_heads(vault).await?;
        let present: Vec<String> = {
            let mut st = self.lock();
            for h in &heads {
                st.record_head(HeadName::new(vault, h.writer.clone()), &h.bytes);
            }
            // Sorted: stores list in no particular order, and the draws must replay.
            let mut names: Vec<String> = heads.iter().map(|h| h.writer.clone()).collect();
            names.sort();
            names
        };
        let attacks = self.head_attacks(vault, None, &present);
        self.apply_head_attacks(&format!("read_heads {vault}"), vault, heads, attacks)
            .await
    }

    async fn read_head(&self, vault: &str, writer: &str) -> StoreResult<Option<Head>> {
        let head = self.inner.read_head(vault, writer).await?;
        if let Some(h) = &head {
            self.lock()
                .record_head(HeadName::new(vault, writer), &h.bytes);
        }
        let present: Vec<String> = head.iter().map(|h| h.writer.clone()).collect();
        let attacks = self.head_attacks(vault, Some(writer), &present);
        let heads = head.into_iter().collect();
        let out = self
            .apply_head_attacks(
                &format!("read_head {vault}/{writer}"),
                vault,
                heads,
                attacks,
            )
            .await?;
        Ok(out.into_iter().find(|h| h.writer == writer))
    }

    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<HeadVersion> {
        self.write_attack(&format!("write_head {vault}/{writer}"))?;
        let version = self
            .inner
            .write_head(vault, writer, bytes.clone(), condition)
            .await?;
        self.lock()
            .record_head(HeadName::new(vault, writer), &bytes);
        Ok(version)
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        self.inner.conditional_writes()
    }

    async fn probe_conditional_writes(&self) -> StoreResult<ConditionalWrites> {
        self.inner.probe_conditional_writes().await
    }
}

#[cfg(test)]
mod tests;
