//! The garbage-collection record, and the writers' side of the collection protocol
//! (`docs/decisions.md`, "Retention and garbage collection"; `docs/FORMAT.md §8`, "GC record").
//!
//! A collection of vault `V` is announced in one head, the **GC record**, in namespace
//! `_coffer-gc-<hex>` (see [`gc_namespace`]): `{epoch, phase: idle | mark | sweep, by,
//! started_ms, lease_until_ms, grace_ms, cand}`, sealed under the vault's object key and signed
//! by the owner, changed only with conditional writes.
//!
//! **Writer rule.** Every head write of this vault ([`Vault::commit`](super::Vault), and the
//! views of shared scopes) first reads the record. It proceeds only when the record is `idle` at
//! the epoch this device saw last (`gc_seen`, read before the operation wrote anything); the head
//! then carries that epoch in `gc`. Otherwise a collection ran or runs while the operation's
//! blocks were being written: the writer waits until the record is idle again (taking over a
//! collection whose lease expired), forgets what it had prepared, and does the operation again,
//! putting back any uploaded block the collection removed (it still holds it, or re-streams it).

use serde::{Deserialize, Serialize};

use super::error::{VaultError, VaultResult};
use super::format::{FORMAT_VERSION, encode_padded};
use super::{Vault, now_ms};
use crate::block::{Cid, from_dag_cbor, raw_cid};
use crate::store::{BlockStore, HeadCondition, HeadStore, HeadVersion, StoreError};

/// How many times an operation is redone because collections kept interrupting it.
pub(crate) const RETRIES: u32 = 8;

/// Timings of the collection protocol. The defaults suit devices on ordinary networks; tests use
/// short ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GcTiming {
    /// `T`: how long a collector waits between announcing a collection and reading the heads it
    /// marks from. It must exceed the time any writer takes from reading an idle record to
    /// finishing its head write (default 30 s).
    pub grace_ms: u64,
    /// How long a collector's claim on the record lasts without renewal (default 5 min); it renews
    /// while it marks and before each batch of deletes, and stops when it could not.
    pub lease_ms: u64,
    /// The clock difference tolerated between devices: a writer declares a lease expired only
    /// this long after its end (default 2 min).
    pub skew_ms: u64,
    /// A waiting writer's first pause; pauses double up to 16 times this (default 250 ms).
    pub poll_ms: u64,
}

impl Default for GcTiming {
    fn default() -> Self {
        Self {
            grace_ms: 30_000,
            lease_ms: 300_000,
            skew_ms: 120_000,
            poll_ms: 250,
        }
    }
}

/// Where a collection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcPhase {
    /// No collection runs.
    Idle,
    /// A collector announced a collection and is (or will be, after the grace period) marking.
    Mark,
    /// A collector is deleting unmarked blocks.
    Sweep,
}

impl GcPhase {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Idle => "idle",
            Self::Mark => "mark",
            Self::Sweep => "sweep",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "idle" => Some(Self::Idle),
            "mark" => Some(Self::Mark),
            "sweep" => Some(Self::Sweep),
            _ => None,
        }
    }
}

/// The GC record as [`Vault::gc_state`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcState {
    /// Collections announced so far (0: none).
    pub epoch: u64,
    /// Where the latest stands.
    pub phase: GcPhase,
    /// The writer (head-store name) that runs or ran it.
    pub by: String,
    /// When it started (ms since the Unix epoch, the collector's clock).
    pub started_ms: u64,
    /// Until when its claim holds unless renewed.
    pub lease_until_ms: u64,
    /// The grace period `T` it announced.
    pub grace_ms: u64,
    /// The writer that declared its lease expired and ended it, if one did.
    pub aborted_by: Option<String>,
    /// Candidate blocks (unreferenced, younger than a collection's window) remembered for the
    /// next collection, in chunks.
    pub candidates: Vec<Cid>,
}

/// The record's plaintext (DAG-CBOR).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordWire {
    v: u8,
    vault: String,
    epoch: u64,
    phase: String,
    by: String,
    started_ms: u64,
    lease_until_ms: u64,
    grace_ms: u64,
    cand: Vec<Cid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    aborted_by: Option<String>,
    pad: Option<serde_bytes::ByteBuf>,
}

/// The head-store namespace of vault `vault`'s GC record: `_coffer-gc-` and the first 16 bytes
/// (hex) of `BLAKE3-derive_key("coffer v2 gc namespace", vault)`.
pub fn gc_namespace(vault: &str) -> String {
    let mut h = blake3::Hasher::new_derive_key("coffer v2 gc namespace");
    h.update(vault.as_bytes());
    format!(
        "_coffer-gc-{}",
        data_encoding::HEXLOWER.encode(&h.finalize().as_bytes()[..16])
    )
}

/// What a collector holds while it runs: the record as it last wrote it, and its version.
#[derive(Clone, Debug)]
pub(crate) struct Lease {
    pub state: GcState,
    pub version: Option<HeadVersion>,
}

fn sleep(ms: u64) -> futures_timer::Delay {
    futures_timer::Delay::new(std::time::Duration::from_millis(ms))
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// The record's name in its namespace: the first 16 bytes (hex) of
    /// `BLAKE3-keyed(share registry key, "coffer v2 gc record")`, so two vaults of one name (of
    /// two identities) on one store keep apart.
    pub(crate) fn gc_record_name(&self) -> String {
        let hash = blake3::keyed_hash(&self.registry_key, b"coffer v2 gc record");
        data_encoding::HEXLOWER.encode(&hash.as_bytes()[..16])
    }

    /// Reads the GC record (a missing one is idle at epoch 0).
    pub(crate) async fn read_gc(&self) -> VaultResult<Lease> {
        let Some(head) = self
            .store
            .read_head(&gc_namespace(&self.name), &self.gc_record_name())
            .await?
        else {
            return Ok(Lease {
                state: GcState {
                    epoch: 0,
                    phase: GcPhase::Idle,
                    by: String::new(),
                    started_ms: 0,
                    lease_until_ms: 0,
                    grace_ms: 0,
                    aborted_by: None,
                    candidates: Vec::new(),
                },
                version: None,
            });
        };
        let cid = raw_cid(&head.bytes);
        let plain = self
            .open_pinned(&cid, &head.bytes, |h| h.gc.as_ref().map(|d| **d))
            .map_err(|e| gc_corrupt(&e.to_string()))?;
        Ok(Lease {
            state: decode_record(&plain, &self.name)?,
            version: Some(head.version),
        })
    }

    /// Writes `next` over the record version `lease.version` (compare-and-swap); on success the
    /// lease holds `next`. [`VaultError::GcBusy`] when the record changed meanwhile.
    pub(crate) async fn write_gc(&self, lease: &mut Lease, next: GcState) -> VaultResult<()> {
        let mut wire = RecordWire {
            v: FORMAT_VERSION,
            vault: self.name.clone(),
            epoch: next.epoch,
            phase: next.phase.as_str().into(),
            by: next.by.clone(),
            started_ms: next.started_ms,
            lease_until_ms: next.lease_until_ms,
            grace_ms: next.grace_ms,
            cand: next.candidates.clone(),
            aborted_by: next.aborted_by.clone(),
            pad: None,
        };
        let plain = encode_padded(&mut wire, |w| &mut w.pad)?;
        let sealed = crate::seal::seal_to_vec(&self.meta_options(), &plain)?;
        let condition = match &lease.version {
            Some(v) => HeadCondition::Matches(v.clone()),
            None => HeadCondition::Absent,
        };
        let version = self
            .store
            .write_head(
                &gc_namespace(&self.name),
                &self.gc_record_name(),
                bytes::Bytes::from(sealed),
                condition,
            )
            .await
            .map_err(|e| match e {
                StoreError::PreconditionFailed(_) => VaultError::GcBusy(
                    "the GC record changed meanwhile (another collector, or a writer ended this \
                     collection because its lease expired)"
                        .into(),
                ),
                other => VaultError::Store(other),
            })?;
        lease.state = next;
        lease.version = Some(version);
        Ok(())
    }

    /// The vault's GC record: the latest collection's epoch and phase.
    pub async fn gc_state(&self) -> VaultResult<GcState> {
        Ok(self.read_gc().await?.state)
    }

    /// Changes the collection protocol's timings for this handle (writes and prunes).
    pub fn set_gc_timing(&mut self, timing: GcTiming) {
        self.gc_timing = timing;
    }

    /// This handle's collection timings.
    pub fn gc_timing(&self) -> GcTiming {
        self.gc_timing
    }

    /// Whether a collection with this record is abandoned: its lease ended more than the clock
    /// skew margin ago.
    fn gc_expired(&self, s: &GcState) -> bool {
        s.phase != GcPhase::Idle
            && now_ms() > s.lease_until_ms.saturating_add(self.gc_timing.skew_ms)
    }

    /// The writer rule, just before a head write: the epoch to write in the head's `gc` when the
    /// record is idle at the epoch this device saw before the operation started; otherwise waits
    /// until it is idle, remembers the new epoch, and fails with [`VaultError::GcInterrupted`]
    /// (the caller redoes its operation).
    pub(crate) async fn gc_gate(&mut self) -> VaultResult<u64> {
        let mut pause = self.gc_timing.poll_ms.max(1);
        loop {
            let mut lease = self.read_gc().await?;
            if lease.state.phase == GcPhase::Idle {
                if self.gc_seen == Some(lease.state.epoch) {
                    return Ok(lease.state.epoch);
                }
                self.gc_seen = Some(lease.state.epoch);
                return Err(VaultError::GcInterrupted);
            }
            self.gc_seen = None;
            // Abandoned: its lease is over, or this device ran it and is not running it now (a
            // collector commits nothing while it collects: it was killed).
            if self.gc_expired(&lease.state) || lease.state.by == self.writer_name {
                let next = GcState {
                    phase: GcPhase::Idle,
                    aborted_by: Some(self.writer_name.clone()),
                    ..lease.state.clone()
                };
                match self.write_gc(&mut lease, next).await {
                    Ok(()) | Err(VaultError::GcBusy(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
            sleep(pause).await;
            pause = (pause * 2).min(self.gc_timing.poll_ms.max(1) * 16);
        }
    }

    /// Whether a head that depends on blocks written since this device last saw the record may
    /// be written now (the record is idle at the epoch seen): for writes that are not commits
    /// (the views of shared scopes), which give up instead of waiting.
    pub(crate) async fn gc_still_idle(&self) -> VaultResult<bool> {
        let lease = self.read_gc().await?;
        Ok(lease.state.phase == GcPhase::Idle && self.gc_seen == Some(lease.state.epoch))
    }

    /// Waits until no collection runs (see [`Vault::gc_gate`]) and remembers the epoch.
    pub(crate) async fn gc_settle(&mut self) -> VaultResult<()> {
        match self.gc_gate().await {
            Ok(_) | Err(VaultError::GcInterrupted) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// At open: the epoch of an idle record (else unknown: the first commit waits).
    pub(crate) async fn gc_observe(&mut self) -> VaultResult<()> {
        let lease = self.read_gc().await?;
        self.gc_seen = (lease.state.phase == GcPhase::Idle).then_some(lease.state.epoch);
        Ok(())
    }
}

/// Decodes a GC record's plaintext (after its seal and signature verified) for vault `vault`.
pub(crate) fn decode_record(plain: &[u8], vault: &str) -> VaultResult<GcState> {
    let w: RecordWire = from_dag_cbor(plain).map_err(|e| gc_corrupt(&e.to_string()))?;
    let phase = GcPhase::parse(&w.phase).ok_or_else(|| gc_corrupt("unknown phase"))?;
    if w.v != FORMAT_VERSION || w.vault != vault {
        return Err(gc_corrupt("another vault's or version's record"));
    }
    Ok(GcState {
        epoch: w.epoch,
        phase,
        by: w.by,
        started_ms: w.started_ms,
        lease_until_ms: w.lease_until_ms,
        grace_ms: w.grace_ms,
        aborted_by: w.aborted_by,
        candidates: w.cand,
    })
}

fn gc_corrupt(detail: &str) -> VaultError {
    VaultError::Corrupt {
        cid: "(GC record)".into(),
        detail: format!("the vault's GC record does not verify: {detail}"),
    }
}

/// Redoes `$op` (an expression ending in `.await`) while a collection interrupts it.
macro_rules! retry_gc {
    ($op:expr) => {{
        let mut tries = 0u32;
        loop {
            match $op {
                Err($crate::vault::VaultError::GcInterrupted)
                    if tries < $crate::vault::gc::RETRIES =>
                {
                    tries += 1
                }
                r => break r,
            }
        }
    }};
}
pub(crate) use retry_gc;
