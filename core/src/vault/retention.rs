//! Retention policies (`docs/FORMAT.md §8`, "Retention policy"): which versions a vault keeps.
//!
//! A policy is a list of rules by key prefix (the longest matching prefix applies; the rule with
//! the empty prefix is the vault-wide default; a key no rule matches keeps everything). A rule
//! says which **noncurrent** versions to keep (the current version of a live key is always kept),
//! in the manner of S3's lifecycle rules `NoncurrentVersionExpiration` (keep the newest N, keep
//! those noncurrent for less than D) and `ExpiredObjectDeleteMarker` (a deleted key's versions go
//! some time after the delete).
//!
//! The policy is stored as a sealed block (under the vault's object key, signed by the owner,
//! padded), named by every head's `pol` register `{c: CID, t: HLC}`: the newest `t` wins when
//! heads merge, so every device converges on the last policy set. Setting one changes nothing
//! in the store by itself: [`Vault::prune`](super::Vault::prune) applies it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::Vault;
use super::error::{VaultError, VaultResult};
use super::format::{FORMAT_VERSION, Manifest, encode_padded};
use super::heads::PolicyRef;
use crate::block::{Cid, from_dag_cbor};
use crate::store::{BlockStore, HeadStore, StoreError};

/// Durations above this (100 years) are refused as absurd.
pub const MAX_DURATION_MS: u64 = 100 * 365 * 86_400_000;
/// At most this many noncurrent versions can be kept by count.
pub const MAX_KEEP_VERSIONS: u64 = 1_000_000;
/// At most this many rules in a policy.
pub const MAX_RULES: usize = 1_000;

/// Which noncurrent versions of a key a rule keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Noncurrent {
    /// Every version (no expiry).
    KeepAll,
    /// None: every noncurrent version expires at the next prune. Only the current one stays.
    KeepNone,
    /// A noncurrent version is kept while it is among the `newest` noncurrent versions **or** it
    /// has been noncurrent for less than `younger_than_ms` (at least one must be set; S3's
    /// `NewerNoncurrentVersions` and `NoncurrentDays`).
    Keep {
        /// Keep at least this many noncurrent versions (the newest), 1 or more.
        newest: Option<u64>,
        /// Keep every version noncurrent for less than this, in ms (1 or more).
        younger_than_ms: Option<u64>,
    },
}

/// One rule of a [`RetentionPolicy`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetentionRule {
    /// The key prefix it applies to; empty: every key (the vault-wide default).
    pub prefix: Vec<u8>,
    /// Which noncurrent versions to keep.
    pub noncurrent: Noncurrent,
    /// A deleted key's versions (its "delete marker" and everything behind it) expire this long
    /// after the delete, in ms; `None`: only by the noncurrent rule. `Some(0)`: at the next prune.
    pub deleted_after_ms: Option<u64>,
}

/// A vault's retention policy: rules by key prefix. The empty policy keeps everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// The rules; prefixes are unique.
    pub rules: Vec<RetentionRule>,
}

fn invalid(why: impl Into<String>) -> VaultError {
    VaultError::InvalidPolicy(why.into())
}

impl RetentionRule {
    fn validate(&self) -> VaultResult<()> {
        let at = || {
            if self.prefix.is_empty() {
                "the default rule".to_string()
            } else {
                format!("the rule for {:?}", String::from_utf8_lossy(&self.prefix))
            }
        };
        if self.prefix.len() > crate::index::MAX_KEY_LEN {
            return Err(invalid(format!("{}: a prefix is at most 1024 bytes", at())));
        }
        if super::reserved::is_reserved(&self.prefix) {
            return Err(invalid(format!(
                "{}: prefixes starting with byte 0xFF are reserved",
                at()
            )));
        }
        let duration = |what: &str, ms: u64| {
            if ms > MAX_DURATION_MS {
                Err(invalid(format!(
                    "{}: {what} of {ms} ms is more than 100 years",
                    at()
                )))
            } else {
                Ok(())
            }
        };
        if let Noncurrent::Keep {
            newest,
            younger_than_ms,
        } = self.noncurrent
        {
            match (newest, younger_than_ms) {
                (None, None) => {
                    return Err(invalid(format!(
                        "{}: keeping neither a number of versions nor an age keeps everything; \
                         say KeepAll",
                        at()
                    )));
                }
                (Some(0), _) => {
                    return Err(invalid(format!(
                        "{}: keeping the newest 0 versions keeps none; say KeepNone explicitly, \
                         or leave the count out",
                        at()
                    )));
                }
                (_, Some(0)) => {
                    return Err(invalid(format!(
                        "{}: an age of 0 keeps no version; say KeepNone explicitly",
                        at()
                    )));
                }
                (Some(n), _) if n > MAX_KEEP_VERSIONS => {
                    return Err(invalid(format!(
                        "{}: at most {MAX_KEEP_VERSIONS} versions can be kept by count",
                        at()
                    )));
                }
                _ => {}
            }
            if let Some(ms) = younger_than_ms {
                duration("an age", ms)?;
            }
        }
        if let Some(ms) = self.deleted_after_ms {
            duration("an expiry of deleted keys", ms)?;
        }
        Ok(())
    }

    /// Whether the noncurrent version of rank `rank` (0: the newest noncurrent), noncurrent since
    /// `since_ms`, is kept at `now`.
    pub(crate) fn keeps(&self, rank: usize, since_ms: u64, now: u64) -> bool {
        match self.noncurrent {
            Noncurrent::KeepAll => true,
            Noncurrent::KeepNone => false,
            Noncurrent::Keep {
                newest,
                younger_than_ms,
            } => {
                newest.is_some_and(|n| (rank as u64) < n)
                    || younger_than_ms.is_some_and(|a| now.saturating_sub(since_ms) < a)
            }
        }
    }

    /// Whether the rule keeps every noncurrent version and never expires deleted keys.
    pub(crate) fn keeps_everything(&self) -> bool {
        self.noncurrent == Noncurrent::KeepAll && self.deleted_after_ms.is_none()
    }
}

impl RetentionPolicy {
    /// Checks the policy: unique prefixes, sensible numbers and durations (see
    /// [`VaultError::InvalidPolicy`]); a rule keeping no noncurrent version must say
    /// [`Noncurrent::KeepNone`].
    pub fn validate(&self) -> VaultResult<()> {
        if self.rules.len() > MAX_RULES {
            return Err(invalid(format!("at most {MAX_RULES} rules")));
        }
        let mut prefixes = BTreeSet::new();
        for r in &self.rules {
            r.validate()?;
            if !prefixes.insert(r.prefix.as_slice()) {
                return Err(invalid(format!(
                    "two rules for the prefix {:?}",
                    String::from_utf8_lossy(&r.prefix)
                )));
            }
        }
        Ok(())
    }

    /// The rule that applies to `key`: the one with the longest prefix of it.
    pub fn rule_for(&self, key: &[u8]) -> Option<&RetentionRule> {
        self.rules
            .iter()
            .filter(|r| key.starts_with(&r.prefix))
            .max_by_key(|r| r.prefix.len())
    }

    /// Whether no rule expires anything.
    pub fn keeps_everything(&self) -> bool {
        self.rules.iter().all(RetentionRule::keeps_everything)
    }

    fn to_wire(&self, place: Option<String>) -> PolicyDoc {
        PolicyDoc {
            v: FORMAT_VERSION,
            place,
            rules: self
                .rules
                .iter()
                .map(|r| {
                    let (n, a) = match r.noncurrent {
                        Noncurrent::KeepAll => (None, None),
                        Noncurrent::KeepNone => (Some(0), None),
                        Noncurrent::Keep {
                            newest,
                            younger_than_ms,
                        } => (newest, younger_than_ms),
                    };
                    RuleWire {
                        p: r.prefix.clone(),
                        n,
                        a,
                        x: r.deleted_after_ms,
                    }
                })
                .collect(),
            pad: None,
        }
    }

    fn from_wire(doc: PolicyDoc) -> VaultResult<(Self, Option<String>)> {
        if doc.v != FORMAT_VERSION {
            return Err(invalid(format!("unsupported policy version {}", doc.v)));
        }
        if doc
            .place
            .as_ref()
            .is_some_and(|p| p.len() > MAX_PLACEMENT_LEN)
        {
            return Err(invalid(format!(
                "a placement policy is at most {MAX_PLACEMENT_LEN} bytes"
            )));
        }
        let rules = doc
            .rules
            .into_iter()
            .map(|r| {
                let noncurrent = match (r.n, r.a) {
                    (None, None) => Noncurrent::KeepAll,
                    (Some(0), None) => Noncurrent::KeepNone,
                    (newest, younger_than_ms) => Noncurrent::Keep {
                        newest,
                        younger_than_ms,
                    },
                };
                RetentionRule {
                    prefix: r.p,
                    noncurrent,
                    deleted_after_ms: r.x,
                }
            })
            .collect();
        let policy = Self { rules };
        policy.validate()?;
        Ok((policy, doc.place))
    }
}

/// Longest placement policy text the policy block may carry.
pub const MAX_PLACEMENT_LEN: usize = 1024;

/// The policy block's plaintext: DAG-CBOR `{v: 2, rules: [{p, n?, a?, x?}], place?, pad}`
/// (`place`: the vault's placement policy text, `docs/FORMAT.md §8`; absent when none is set, so
/// blocks written before it existed are unchanged).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyDoc {
    v: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    place: Option<String>,
    rules: Vec<RuleWire>,
    pad: Option<serde_bytes::ByteBuf>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleWire {
    #[serde(with = "serde_bytes")]
    p: Vec<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    n: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    a: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    x: Option<u64>,
}

/// Decodes a policy block's plaintext (for fuzzing and tools).
pub fn check_policy(bytes: &[u8]) -> VaultResult<()> {
    RetentionPolicy::from_wire(from_dag_cbor(bytes)?).map(|_| ())
}

/// One version of a key as the policy sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VersionNode {
    pub created_ms: u64,
    pub prev: Option<Cid>,
}

/// What applying a rule to one key decided.
#[derive(Debug, Default)]
pub(crate) struct CutPlan {
    /// The key's new cut points.
    pub p: Vec<Cid>,
    /// Versions that leave the history.
    pub expired: u64,
    /// Versions the rule would expire but that stay because a kept version lies behind them
    /// (clock skew between devices made an older version look newer).
    pub held: u64,
    /// Every version leaves (for a graveyard: the entry itself goes).
    pub all: bool,
}

/// How many of its predecessors each version has in `prev_of` (the versions known). A version's
/// predecessor always has fewer, so sorting by creation time and then by depth (descending) puts
/// a version before its predecessors even when both were made in the same millisecond.
pub(crate) fn chain_depths(prev_of: &HashMap<Cid, Option<Cid>>) -> HashMap<Cid, usize> {
    let mut depth: HashMap<Cid, usize> = HashMap::new();
    for start in prev_of.keys() {
        let mut chain = Vec::new();
        let mut at = Some(*start);
        let mut base = 0usize;
        while let Some(c) = at {
            if let Some(d) = depth.get(&c) {
                base = d + 1;
                break;
            }
            match prev_of.get(&c) {
                Some(prev) => {
                    chain.push(c);
                    at = *prev;
                }
                None => break,
            }
            if chain.len() > prev_of.len() {
                break; // a cycle cannot be built from hashes; stay bounded regardless
            }
        }
        for c in chain.into_iter().rev() {
            depth.insert(c, base);
            base += 1;
        }
    }
    depth
}

/// One of a key's histories as the policy sees it: its live entry or its graveyard.
#[derive(Clone, Copy)]
pub(crate) struct History<'a> {
    /// The current version, kept whatever the rule; `None` for a graveyard.
    pub current: Option<Cid>,
    /// For a graveyard: when the key was deleted (its newest version noncurrent since).
    pub deleted_ms: u64,
    /// The entry's `m` and its `c`.
    pub heads: &'a [Cid],
    /// What a walk from `heads` reached (behind the key's cut points, stopping at missing
    /// manifests).
    pub versions: &'a HashMap<Cid, VersionNode>,
    /// The entry's cut points before this plan.
    pub old_p: &'a [Cid],
}

/// Decides the cut points of one key's histories together: its live entry and its graveyard
/// (a put concurrent with a delete leaves both, sharing the versions before them). A collection
/// walks each with the cut points of both (`Vault::cut_for` in `prune.rs`), so a version leaves
/// only when no history of the key keeps it: planned alone, the graveyard would cut a version
/// that is the live entry's newest noncurrent one. Returns one plan per history, in order.
pub(crate) fn plan_key(rule: &RetentionRule, now: u64, histories: &[History<'_>]) -> Vec<CutPlan> {
    let own: Vec<(BTreeSet<Cid>, HashMap<Cid, bool>)> =
        histories.iter().map(|h| gone_in(rule, now, h)).collect();
    // A version not in a history does not hold it.
    let is_gone = |c: &Cid| {
        own.iter()
            .all(|(_, gone)| gone.get(c).copied().unwrap_or(true))
    };
    histories
        .iter()
        .zip(&own)
        .map(|(h, (expired, gone))| {
            let mut plan = cuts_of(h, &is_gone);
            // Held by its own history (clock skew), not by the other one.
            plan.held = expired
                .iter()
                .filter(|c| !gone.get(c).copied().unwrap_or(true))
                .count() as u64;
            plan
        })
        .collect()
}

/// [`plan_key`] for a key with one history.
#[cfg(test)]
pub(crate) fn plan_cuts(
    rule: &RetentionRule,
    now: u64,
    current: Option<Cid>,
    deleted_ms: u64,
    heads: &[Cid],
    versions: &HashMap<Cid, VersionNode>,
    old_p: &[Cid],
) -> CutPlan {
    let h = History {
        current,
        deleted_ms,
        heads,
        versions,
        old_p,
    };
    plan_key(rule, now, &[h]).pop().unwrap_or_default()
}

/// The versions of one history the rule expires by rank and age, and which of its versions go
/// (expired together with everything behind them).
fn gone_in(rule: &RetentionRule, now: u64, h: &History<'_>) -> (BTreeSet<Cid>, HashMap<Cid, bool>) {
    let versions = h.versions;
    // Newest first: the current version, then the noncurrent ones by creation time. Ties in
    // time (several versions in one millisecond) go by the chain (a version before its
    // predecessors), then by the version id's text, as `Vault::versions` lists them.
    let depth = chain_depths(&versions.iter().map(|(c, v)| (*c, v.prev)).collect());
    let mut order: Vec<(Cid, u64, String)> = versions
        .iter()
        .filter(|(c, _)| Some(**c) != h.current)
        .map(|(c, v)| (*c, v.created_ms, c.to_string()))
        .collect();
    order.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| depth.get(&b.0).cmp(&depth.get(&a.0)))
            .then_with(|| a.2.cmp(&b.2))
    });
    let mut since = match h.current.and_then(|c| versions.get(&c)) {
        Some(v) => v.created_ms,
        None => h.deleted_ms,
    };
    let mut expired: BTreeSet<Cid> = BTreeSet::new();
    for (rank, (cid, created, _)) in order.iter().enumerate() {
        if !rule.keeps(rank, since, now) {
            expired.insert(*cid);
        }
        since = *created;
    }
    // A version can leave only with everything behind it (a walk stops at a cut point).
    let mut gone: HashMap<Cid, bool> = HashMap::new();
    for start in versions.keys() {
        let mut chain = Vec::new();
        let mut at = Some(*start);
        let mut tail = true;
        while let Some(c) = at {
            if let Some(known) = gone.get(&c) {
                tail = *known;
                break;
            }
            if !versions.contains_key(&c) {
                // Behind an old cut point or missing: already out of the history.
                break;
            }
            chain.push(c);
            at = versions.get(&c).and_then(|v| v.prev);
        }
        for c in chain.into_iter().rev() {
            tail = tail && expired.contains(&c);
            gone.insert(c, tail);
        }
    }
    (expired, gone)
}

/// The cut points of one history once `is_gone` (over every history of the key) is known.
fn cuts_of(h: &History<'_>, is_gone: &dyn Fn(&Cid) -> bool) -> CutPlan {
    let (current, versions) = (h.current, h.versions);
    let mut cuts: BTreeSet<Cid> = h.old_p.iter().copied().collect();
    for c in h.heads {
        if Some(*c) != current && versions.contains_key(c) && is_gone(c) {
            cuts.insert(*c);
        }
    }
    for (c, v) in versions {
        if !is_gone(c)
            && let Some(prev) = v.prev
            && versions.contains_key(&prev)
            && is_gone(&prev)
        {
            cuts.insert(prev);
        }
    }
    // What stays reachable with the new cuts, and which cut points a walk still meets.
    let mut reach: BTreeSet<Cid> = BTreeSet::new();
    let mut met: BTreeSet<Cid> = BTreeSet::new();
    let mut stack: Vec<Cid> = h.heads.to_vec();
    while let Some(c) = stack.pop() {
        if cuts.contains(&c) && Some(c) != current {
            met.insert(c);
            continue;
        }
        if !reach.insert(c) {
            continue;
        }
        if let Some(prev) = versions.get(&c).and_then(|v| v.prev) {
            stack.push(prev);
        }
    }
    let reached = versions.keys().filter(|c| reach.contains(c)).count() as u64;
    CutPlan {
        p: met.into_iter().collect(),
        expired: versions.len() as u64 - reached,
        held: 0,
        all: reached == 0,
    }
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// Sets the vault's retention policy (validated; see [`RetentionPolicy::validate`]) and
    /// commits. It is stored sealed and named by this device's head; other devices take it at
    /// their next sync (the newest setting wins). Nothing is expired until [`Vault::prune`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::*};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// let policy = RetentionPolicy {
    ///     rules: vec![RetentionRule {
    ///         prefix: Vec::new(), // every key
    ///         noncurrent: Noncurrent::Keep { newest: Some(3), younger_than_ms: Some(30 * 86_400_000) },
    ///         deleted_after_ms: Some(90 * 86_400_000),
    ///     }],
    /// };
    /// vault.set_retention(&policy).await?;
    /// assert_eq!(vault.retention().await?, policy);
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn set_retention(&mut self, policy: &RetentionPolicy) -> VaultResult<()> {
        policy.validate()?;
        let (_, place) = self.policy_doc().await?;
        self.write_policy_doc(policy, place).await
    }

    /// Seals and commits the policy block: retention rules and the placement text.
    async fn write_policy_doc(
        &mut self,
        policy: &RetentionPolicy,
        place: Option<String>,
    ) -> VaultResult<()> {
        let mut doc = policy.to_wire(place);
        let plain = encode_padded(&mut doc, |d| &mut d.pad)?;
        let mut tries = 0;
        loop {
            let (cid, _) = self.put_sealed(&plain).await?;
            let t = self.tick().as_u64();
            self.state.pol = Some(PolicyRef { c: cid, t });
            match self.commit().await {
                Err(VaultError::GcInterrupted) if tries < super::gc::RETRIES => tries += 1,
                r => return r,
            }
        }
    }

    /// The vault's retention policy as this device last saw it set (empty: keep everything).
    pub async fn retention(&self) -> VaultResult<RetentionPolicy> {
        Ok(self.policy_doc().await?.0)
    }

    /// The policy block as this device last saw it: retention rules and placement text.
    async fn policy_doc(&self) -> VaultResult<(RetentionPolicy, Option<String>)> {
        match &self.state.pol {
            None => Ok((RetentionPolicy::default(), None)),
            Some(r) => {
                let plain = self.open_sealed(&r.c).await?;
                let doc: PolicyDoc =
                    from_dag_cbor(&plain).map_err(|e| VaultError::corrupt(&r.c, e))?;
                RetentionPolicy::from_wire(doc)
            }
        }
    }

    /// Sets (or with `None` clears) the vault's placement policy and commits. It is stored
    /// sealed in the same block as the retention policy (`docs/FORMAT.md §8`); other devices take
    /// it at their next sync. It moves nothing by itself: apply it to the store
    /// ([`crate::store::placed::PlacedStore::set_policy`]) and rebalance.
    #[cfg(feature = "erasure")]
    pub async fn set_placement(
        &mut self,
        policy: Option<&crate::store::placed::Policy>,
    ) -> VaultResult<()> {
        let (retention, _) = self.policy_doc().await?;
        self.write_policy_doc(&retention, policy.map(ToString::to_string))
            .await
    }

    /// The vault's placement policy as this device last saw it set, if any (`None`: the store's
    /// own default applies).
    #[cfg(feature = "erasure")]
    pub async fn placement(&self) -> VaultResult<Option<crate::store::placed::Policy>> {
        match self.policy_doc().await?.1 {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|e| invalid(format!("the vault's placement policy {text:?}: {e}"))),
        }
    }

    /// When the policy was last set (ms since the Unix epoch), if ever.
    pub fn retention_set_ms(&self) -> Option<u64> {
        self.state
            .pol
            .as_ref()
            .map(|p| crate::index::Hlc::from_u64(p.t).wall_ms())
    }

    /// The manifest `cid` of `key`, or `None` when the store does not have it (a version pruned
    /// on another device whose cut points this device has not merged yet).
    pub(crate) async fn history_manifest(
        &self,
        cid: &Cid,
        key: &[u8],
    ) -> VaultResult<Option<Manifest>> {
        let bytes = match self.store.get_max(cid, super::MAX_META_BLOCK).await {
            Ok(b) => b,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(StoreError::Corrupt { detail, .. }) => {
                return Err(VaultError::corrupt(cid, detail));
            }
            Err(e) => return Err(VaultError::Store(e)),
        };
        crate::block::verify_block(cid, &bytes)
            .map_err(|_| VaultError::corrupt(cid, "its bytes do not hash to its CID"))?;
        let plain = self.open_manifest_bytes(cid, &bytes)?;
        let m = Manifest::decode(&plain).map_err(|e| VaultError::corrupt(cid, e))?;
        if m.key != key {
            return Err(VaultError::corrupt(
                cid,
                "the manifest belongs to another key",
            ));
        }
        Ok(Some(m))
    }

    /// Walks the versions reachable from `heads` (stopping at `cut` and at manifests the store
    /// does not have), returning each with its manifest.
    pub(crate) async fn walk_history(
        &self,
        key: &[u8],
        heads: &[Cid],
        cut: &[Cid],
    ) -> VaultResult<BTreeMap<Cid, Manifest>> {
        let mut out = BTreeMap::new();
        let mut stack: Vec<Cid> = heads.iter().rev().copied().collect();
        while let Some(cid) = stack.pop() {
            if out.contains_key(&cid) || cut.contains(&cid) {
                continue;
            }
            let Some(m) = self.history_manifest(&cid, key).await? else {
                continue;
            };
            if let Some(prev) = m.prev {
                stack.push(prev);
            }
            out.insert(cid, m);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cid(n: u8) -> Cid {
        crate::block::raw_cid(&[n])
    }

    fn chain(times: &[u64]) -> (Vec<Cid>, HashMap<Cid, VersionNode>) {
        // cid(i) has prev cid(i-1); the last is current.
        let cids: Vec<Cid> = (0..times.len()).map(|i| cid(i as u8)).collect();
        let mut map = HashMap::new();
        for (i, t) in times.iter().enumerate() {
            map.insert(
                cids[i],
                VersionNode {
                    created_ms: *t,
                    prev: i.checked_sub(1).map(|j| cids[j]),
                },
            );
        }
        (cids, map)
    }

    fn rule(noncurrent: Noncurrent) -> RetentionRule {
        RetentionRule {
            prefix: Vec::new(),
            noncurrent,
            deleted_after_ms: None,
        }
    }

    #[test]
    fn keep_newest_cuts_behind_the_kept_ones() {
        let (c, v) = chain(&[10, 20, 30, 40, 50]);
        let r = rule(Noncurrent::Keep {
            newest: Some(2),
            younger_than_ms: None,
        });
        let plan = plan_cuts(&r, 100, Some(c[4]), 0, &[c[4]], &v, &[]);
        assert_eq!(plan.p, vec![c[1]]);
        assert_eq!(plan.expired, 2);
        assert!(!plan.all);
    }

    /// Versions made in one millisecond rank by the chain, whatever their ids: keeping the
    /// newest 1 of 4 same-time versions keeps the one right behind the current and expires the
    /// two before it (with ties broken by id text alone, the kept one could be the oldest and
    /// then nothing in front of it could go).
    #[test]
    fn versions_of_one_millisecond_rank_by_the_chain() {
        for k in 0..20u8 {
            // Ids of another round each time, so their text order varies against the chain.
            let c: Vec<Cid> = (0..4).map(|i| cid(k * 4 + i)).collect();
            let v: HashMap<Cid, VersionNode> = (0..4usize)
                .map(|i| {
                    let node = VersionNode {
                        created_ms: 50,
                        prev: i.checked_sub(1).map(|j| c[j]),
                    };
                    (c[i], node)
                })
                .collect();
            let r = rule(Noncurrent::Keep {
                newest: Some(1),
                younger_than_ms: None,
            });
            let plan = plan_cuts(&r, 100, Some(c[3]), 0, &[c[3]], &v, &[]);
            assert_eq!(plan.expired, 2);
            assert_eq!(plan.p, vec![c[1]]);
        }
    }

    /// A put concurrent with another device's delete leaves a live entry (`top`, on c2) and a
    /// graveyard (`gone`, on c2) that share c0..c2. Keeping the newest noncurrent version keeps
    /// c2 for the live entry; planned alone, the graveyard (whose newest noncurrent version is
    /// `gone`) cut at c2, and the collection, which walks both behind both's cut points, took
    /// it (found by `tests/prune_props.rs`).
    #[test]
    fn a_graveyard_does_not_cut_what_the_live_entry_keeps() {
        let (c, shared) = chain(&[10, 20, 30]);
        let (top, gone) = (cid(50), cid(51));
        let mut live_v = shared.clone();
        live_v.insert(
            top,
            VersionNode {
                created_ms: 50,
                prev: Some(c[2]),
            },
        );
        let mut grave_v = shared;
        grave_v.insert(
            gone,
            VersionNode {
                created_ms: 40,
                prev: Some(c[2]),
            },
        );
        let r = rule(Noncurrent::Keep {
            newest: Some(1),
            younger_than_ms: None,
        });
        let live = History {
            current: Some(top),
            deleted_ms: 0,
            heads: &[top],
            versions: &live_v,
            old_p: &[],
        };
        let grave = History {
            current: None,
            deleted_ms: 45,
            heads: &[gone],
            versions: &grave_v,
            old_p: &[],
        };
        let alone = plan_cuts(&r, 100, None, 45, &[gone], &grave_v, &[]);
        assert_eq!(alone.p, vec![c[2]], "the graveyard alone cuts at c2");
        let plans = plan_key(&r, 100, &[live, grave]);
        assert_eq!(plans[0].p, vec![c[1]]);
        assert_eq!(plans[1].p, vec![c[1]], "c2 stays: the live entry keeps it");
        assert_eq!((plans[0].expired, plans[1].expired), (2, 2));
        assert_eq!((plans[0].held, plans[1].held), (0, 0));
    }

    #[test]
    fn age_is_counted_from_when_a_version_became_noncurrent() {
        let (c, v) = chain(&[10, 20, 90]);
        // c1 noncurrent since 90 (kept: 100 - 90 < 20), c0 since 20 (expired).
        let r = rule(Noncurrent::Keep {
            newest: None,
            younger_than_ms: Some(20),
        });
        let plan = plan_cuts(&r, 100, Some(c[2]), 0, &[c[2]], &v, &[]);
        assert_eq!(plan.p, vec![c[0]]);
    }

    #[test]
    fn keep_none_keeps_only_the_current_and_a_graveyard_can_empty() {
        let (c, v) = chain(&[10, 20, 30]);
        let r = rule(Noncurrent::KeepNone);
        let plan = plan_cuts(&r, 100, Some(c[2]), 0, &[c[2]], &v, &[]);
        assert_eq!((plan.p.clone(), plan.expired), (vec![c[1]], 2));
        let grave = plan_cuts(&r, 100, None, 40, &[c[2]], &v, &[]);
        assert!(grave.all);
        assert_eq!(grave.expired, 3);
    }

    #[test]
    fn a_skewed_older_version_behind_a_kept_one_holds() {
        // c1 looks old (clock skew) but c0 behind it is kept by age: nothing can be cut at c1.
        let (c, v) = chain(&[95, 5, 99]);
        let r = rule(Noncurrent::Keep {
            newest: None,
            younger_than_ms: Some(10),
        });
        let plan = plan_cuts(&r, 100, Some(c[2]), 0, &[c[2]], &v, &[]);
        assert!(plan.p.is_empty());
        assert_eq!(plan.expired, 0);
    }

    #[test]
    fn old_cut_points_behind_new_ones_are_dropped() {
        let (c, mut v) = chain(&[10, 20, 30, 40]);
        v.remove(&c[0]); // behind the old cut point c0
        let r = rule(Noncurrent::KeepNone);
        let plan = plan_cuts(&r, 100, Some(c[3]), 0, &[c[3]], &v, &[c[0]]);
        assert_eq!(plan.p, vec![c[2]]);
    }

    #[test]
    fn nonsense_is_refused() {
        let bad = [
            rule(Noncurrent::Keep {
                newest: None,
                younger_than_ms: None,
            }),
            rule(Noncurrent::Keep {
                newest: Some(0),
                younger_than_ms: None,
            }),
            rule(Noncurrent::Keep {
                newest: None,
                younger_than_ms: Some(MAX_DURATION_MS + 1),
            }),
            RetentionRule {
                deleted_after_ms: Some(u64::MAX),
                ..rule(Noncurrent::KeepAll)
            },
            RetentionRule {
                prefix: vec![0xFF],
                ..rule(Noncurrent::KeepAll)
            },
        ];
        for r in bad {
            let p = RetentionPolicy { rules: vec![r] };
            assert!(matches!(p.validate(), Err(VaultError::InvalidPolicy(_))));
        }
        let dup = RetentionPolicy {
            rules: vec![rule(Noncurrent::KeepAll), rule(Noncurrent::KeepNone)],
        };
        assert!(dup.validate().is_err());
    }

    #[test]
    fn the_longest_prefix_wins_and_the_wire_round_trips() {
        let p = RetentionPolicy {
            rules: vec![
                rule(Noncurrent::KeepNone),
                RetentionRule {
                    prefix: b"logs/".to_vec(),
                    noncurrent: Noncurrent::Keep {
                        newest: Some(2),
                        younger_than_ms: Some(1000),
                    },
                    deleted_after_ms: Some(0),
                },
            ],
        };
        p.validate().unwrap();
        assert_eq!(p.rule_for(b"logs/a").unwrap().prefix, b"logs/");
        assert!(p.rule_for(b"other").unwrap().prefix.is_empty());
        let bytes = crate::block::to_dag_cbor(&p.to_wire(None)).unwrap();
        check_policy(&bytes).unwrap();
        assert_eq!(
            RetentionPolicy::from_wire(from_dag_cbor(&bytes).unwrap())
                .unwrap()
                .0,
            p
        );
    }
}
