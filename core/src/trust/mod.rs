//! What a device remembers of what it has seen, so a store cannot take it back in time.
//!
//! A hostile store can serve any head it once held: an older head of a writer (rolling a device
//! back: deleted files return, old versions become current), a different head at a seq already
//! seen (a fork), or none at all (hiding a writer). Signatures cannot catch that; memory can.
//! Each device keeps, per vault, the highest seq and the digest of the head it saw of every
//! writer, and the highest seq any head *claimed* to have merged of each writer (heads carry a
//! version vector). Reading heads then refuses, with a typed error:
//! - a writer served below what was seen or claimed ([`TrustError::RolledBack`]),
//! - a different head at a seq already seen ([`TrustError::Forked`]),
//! - a writer seen (or claimed) before and not served now ([`TrustError::MissingHead`]).
//!
//! The same memory holds the counters of share records (a replayed record cannot revive a revoked
//! share) and of shared views.
//!
//! What this guarantees is **fork consistency** (as SUNDR): a device never goes back from what it
//! saw, and two devices that see each other's heads detect any split view. A device that has
//! never seen the vault, or two devices that never meet each other's heads, can still be shown a
//! consistent old state; comparing [`VaultTrust::fingerprint`]s out of band (`coffer status`)
//! closes that gap.
//!
//! Where the memory lives is a [`TrustStore`]: [`MemoryTrust`] (this process only: the default),
//! [`FileTrust`] (a directory, mode 0600 files; the CLI's `$COFFER_HOME/trust`), IndexedDB in the
//! npm package, or the app's own through the bindings.

#[cfg(not(target_arch = "wasm32"))]
mod file;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_bytes::ByteArray;

use crate::block::{from_dag_cbor, to_dag_cbor};
use crate::cond_send::{CondSend, CondSync};

#[cfg(not(target_arch = "wasm32"))]
pub use file::FileTrust;

/// Why what a store served is refused, or the trust memory failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The store served an older state of a writer than this device already saw.
    #[error(
        "the store served {what} at seq {served}, but seq {seen} was already seen: the store \
         rolled it back (or lost it); do not trust the store's current state, and compare \
         `coffer status` fingerprints with another device"
    )]
    RolledBack {
        /// Which head or record (a writer name, or a share record).
        what: String,
        /// The seq (or counter) seen before.
        seen: u64,
        /// The seq served now.
        served: u64,
    },
    /// Two different heads of one writer at the same seq: the store shows different devices
    /// different histories.
    #[error(
        "the store served a different {what} at seq {seq} than this device saw before: the \
         store forked the vault's history; do not trust the store's current state"
    )]
    Forked {
        /// Which head.
        what: String,
        /// The seq.
        seq: u64,
    },
    /// A writer seen (or claimed by another head) before is not served at all.
    #[error(
        "the store no longer serves {what} (seq {seen} was seen before): it was omitted or lost; \
         do not trust the store's current state"
    )]
    MissingHead {
        /// Which head.
        what: String,
        /// The seq seen or claimed before.
        seen: u64,
    },
    /// The trust memory could not be read or written.
    #[error("the trust state could not be read or saved: {0}")]
    Storage(String),
    /// The trust memory is damaged.
    #[error("the trust state is damaged ({0}); it was not used")]
    Corrupt(String),
}

/// Result of trust operations.
pub type TrustResult<T> = Result<T, TrustError>;

/// Where a device keeps its trust memory: small named documents (a few KiB each).
#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
pub trait TrustStore: CondSend + CondSync {
    /// The document saved under `name`, or `None`.
    async fn load(&self, name: &str) -> TrustResult<Option<Vec<u8>>>;
    /// Saves `bytes` under `name`, replacing what was there (atomically, when the medium allows).
    async fn save(&self, name: &str, bytes: Vec<u8>) -> TrustResult<()>;
}

/// Trust memory held in this process only: detects rollbacks while the vault stays open, and
/// forgets at exit. Cloning shares the memory.
#[derive(Clone, Default, Debug)]
pub struct MemoryTrust(Arc<Mutex<HashMap<String, Vec<u8>>>>);

impl MemoryTrust {
    /// Empty memory.
    pub fn new() -> Self {
        Self::default()
    }
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl TrustStore for MemoryTrust {
    async fn load(&self, name: &str) -> TrustResult<Option<Vec<u8>>> {
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(map.get(name).cloned())
    }

    async fn save(&self, name: &str, bytes: Vec<u8>) -> TrustResult<()> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(name.to_string(), bytes);
        Ok(())
    }
}

/// What was seen of one writer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seen {
    /// The highest seq.
    pub seq: u64,
    /// BLAKE3 of the signed body of the head at that seq.
    pub digest: ByteArray<32>,
}

/// One head as served now, for [`VaultTrust::check`].
#[derive(Clone, Debug)]
pub struct ServedHead<'a> {
    /// The writer's head-store name.
    pub writer: &'a str,
    /// Its seq.
    pub seq: u64,
    /// BLAKE3 of its signed body.
    pub digest: [u8; 32],
    /// What it claims to have merged of other writers (writer name → seq).
    pub claims: &'a BTreeMap<String, u64>,
}

/// What a device remembers of one vault (or one shared view): DAG-CBOR, version 1.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaultTrust {
    /// Format version (1).
    pub v: u8,
    /// Per writer: the highest seq seen and that head's digest.
    pub writers: BTreeMap<String, Seen>,
    /// Per writer: the highest seq any head claimed to have merged.
    pub claims: BTreeMap<String, u64>,
    /// Per share record (head-store name): the highest counter seen.
    pub records: BTreeMap<String, u64>,
    /// The vault's key block, once seen: a store that serves another vault under this name, or
    /// none at all, is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<crate::block::Cid>,
    /// The newest identity handover of the vault this device accepted (or, for a device whose
    /// identity was handed over, the handover away from it): first seen wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ho: Option<crate::block::Cid>,
    /// Its position in the vault's chain of handovers (0: none seen).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub hn: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl VaultTrust {
    /// Checks the heads served now against what was seen (this device's own head included,
    /// once recorded) and what they claim of each other. Nothing is updated: call
    /// [`VaultTrust::record`] after.
    pub fn check(&self, served: &[ServedHead<'_>]) -> TrustResult<()> {
        let by_name: BTreeMap<&str, &ServedHead<'_>> =
            served.iter().map(|h| (h.writer, h)).collect();
        for (name, seen) in &self.writers {
            match by_name.get(name.as_str()) {
                None => {
                    return Err(TrustError::MissingHead {
                        what: format!("the head of writer {name}"),
                        seen: seen.seq,
                    });
                }
                Some(h) if h.seq < seen.seq => {
                    return Err(TrustError::RolledBack {
                        what: format!("the head of writer {name}"),
                        seen: seen.seq,
                        served: h.seq,
                    });
                }
                Some(h) if h.seq == seen.seq && h.digest != *seen.digest => {
                    return Err(TrustError::Forked {
                        what: format!("head of writer {name}"),
                        seq: h.seq,
                    });
                }
                Some(_) => {}
            }
        }
        // Claims: remembered ones and those the served heads make now.
        let mut claims = self.claims.clone();
        for h in served {
            for (w, s) in h.claims {
                let c = claims.entry(w.clone()).or_insert(0);
                *c = (*c).max(*s);
            }
        }
        for (name, claimed) in &claims {
            if *claimed == 0 {
                continue;
            }
            match by_name.get(name.as_str()) {
                None => {
                    return Err(TrustError::MissingHead {
                        what: format!("the head of writer {name} (another head merged it)"),
                        seen: *claimed,
                    });
                }
                Some(h) if h.seq < *claimed => {
                    return Err(TrustError::RolledBack {
                        what: format!(
                            "the head of writer {name} (another head merged a later one)"
                        ),
                        seen: *claimed,
                        served: h.seq,
                    });
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// Remembers the heads served (after [`VaultTrust::check`] passed).
    pub fn record(&mut self, served: &[ServedHead<'_>]) {
        self.v = 1;
        for h in served {
            let e = self.writers.entry(h.writer.to_string()).or_insert(Seen {
                seq: 0,
                digest: ByteArray::new([0; 32]),
            });
            if h.seq >= e.seq {
                e.seq = h.seq;
                e.digest = ByteArray::new(h.digest);
            }
            for (w, s) in h.claims {
                let c = self.claims.entry(w.clone()).or_insert(0);
                *c = (*c).max(*s);
            }
        }
    }

    /// Checks a share record's counter against the highest seen, then remembers it.
    pub fn check_record(&mut self, name: &str, ctr: u64) -> TrustResult<()> {
        let seen = self.records.get(name).copied().unwrap_or(0);
        if ctr < seen {
            return Err(TrustError::RolledBack {
                what: format!("share record {name}"),
                seen,
                served: ctr,
            });
        }
        self.records.insert(name.to_string(), ctr);
        Ok(())
    }

    /// Merges another copy (e.g. what another process saved meanwhile): the highest of each.
    pub fn merge(&mut self, other: &VaultTrust) {
        for (w, s) in &other.writers {
            let e = self.writers.entry(w.clone()).or_insert_with(|| s.clone());
            if s.seq > e.seq {
                *e = s.clone();
            }
        }
        for (w, s) in &other.claims {
            let c = self.claims.entry(w.clone()).or_insert(0);
            *c = (*c).max(*s);
        }
        for (r, s) in &other.records {
            let c = self.records.entry(r.clone()).or_insert(0);
            *c = (*c).max(*s);
        }
        if other.hn > self.hn {
            // Another process saw a later handover: the vault's key block moved with it.
            self.ho = other.ho;
            self.hn = other.hn;
            self.key = other.key;
        }
        if self.key.is_none() {
            self.key = other.key;
        }
    }

    /// A short code of the writers' state this device holds (seq and digest of each writer), to
    /// compare with another device out of band: equal after both synced means both see the same
    /// vault history. `XXXX-XXXX-XXXX-XXXX` in base32 (80 bits).
    pub fn fingerprint(&self, vault: &str) -> String {
        let mut h = blake3::Hasher::new_derive_key("coffer v2 state fingerprint");
        h.update(&(vault.len() as u64).to_le_bytes());
        h.update(vault.as_bytes());
        for (w, s) in &self.writers {
            h.update(&(w.len() as u64).to_le_bytes());
            h.update(w.as_bytes());
            h.update(&s.seq.to_le_bytes());
            h.update(s.digest.as_slice());
        }
        let text = data_encoding::BASE32_NOPAD.encode(&h.finalize().as_bytes()[..10]);
        text.as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-")
    }

    /// Encodes for a [`TrustStore`].
    pub fn to_bytes(&self) -> TrustResult<Vec<u8>> {
        to_dag_cbor(self).map_err(|e| TrustError::Storage(e.to_string()))
    }

    /// Decodes what [`VaultTrust::to_bytes`] wrote.
    pub fn from_bytes(bytes: &[u8]) -> TrustResult<Self> {
        let t: VaultTrust = from_dag_cbor(bytes).map_err(|e| TrustError::Corrupt(e.to_string()))?;
        if t.v != 1 {
            return Err(TrustError::Corrupt(format!("unknown version {}", t.v)));
        }
        Ok(t)
    }

    /// Loads `name` from `store` (empty when absent).
    pub async fn load<T: TrustStore + ?Sized>(store: &T, name: &str) -> TrustResult<Self> {
        match store.load(name).await? {
            Some(bytes) => Self::from_bytes(&bytes),
            None => Ok(Self {
                v: 1,
                ..Default::default()
            }),
        }
    }

    /// Saves under `name`, merged with what is there now (another process may have seen more).
    pub async fn save<T: TrustStore + ?Sized>(&self, store: &T, name: &str) -> TrustResult<()> {
        let mut merged = self.clone();
        if let Some(bytes) = store.load(name).await?
            && let Ok(there) = Self::from_bytes(&bytes)
        {
            merged.merge(&there);
        }
        store.save(name, merged.to_bytes()?).await
    }
}

/// Decodes a trust document (for fuzzing): `Ok(())` when it is well formed.
pub fn fuzz_trust(bytes: &[u8]) -> Result<(), TrustError> {
    VaultTrust::from_bytes(bytes).map(|_| ())
}

#[cfg(test)]
mod tests;
