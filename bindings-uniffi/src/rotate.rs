//! Rotating the owner's identity (`docs/FORMAT.md` §8): `Vault.rotateIdentity`, the chain of
//! handovers, the current owner, and [`open_and_rotate_identity`] to resume from a fresh process.

use std::sync::Arc;

use crate::crypto::{Identity, Recipient};
use crate::error::{CofferError, guard_async};
use crate::share::CofferStore;
use crate::vault::{CoreVault, Vault, VaultOptions, core_options};

/// What `Vault.rotateIdentity` did.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct IdentityRotation {
    /// The handover block's CID.
    pub handover: String,
    /// The new key block's CID (the same vault root key, sealed to the new identity).
    pub key_block: String,
    /// The retired identity (`coffer1…`).
    pub from: String,
    /// The new owner (`coffer1…`).
    pub to: String,
    /// The old identity's final heads the handover pins.
    pub final_heads: u64,
    /// The share records it pins.
    pub records: u64,
    /// Bytes written to the store (key block, handover, head): nothing is re-encrypted.
    pub bytes_written: u64,
    /// Whether an earlier, interrupted run had already committed the rotation (this one only
    /// reopened the vault with the new identity).
    pub resumed: bool,
}

impl From<coffer::vault::IdentityRotation> for IdentityRotation {
    fn from(r: coffer::vault::IdentityRotation) -> Self {
        Self {
            handover: r.handover.to_string(),
            key_block: r.key_block.to_string(),
            from: r.from,
            to: r.to,
            final_heads: r.final_heads as u64,
            records: r.records as u64,
            bytes_written: r.bytes_written,
            resumed: r.resumed,
        }
    }
}

/// One identity handover of a vault: `from` handed it over to `to`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct Handover {
    /// Its place in the chain (1: the first rotation).
    pub n: u64,
    /// The handover block's CID.
    pub cid: String,
    /// The retired identity (`coffer1…`).
    pub from: String,
    /// The identity that took over (`coffer1…`).
    pub to: String,
    /// When it was signed (ms since the Unix epoch, the old owner's clock).
    pub time_ms: u64,
}

impl From<&coffer::vault::Handover> for Handover {
    fn from(h: &coffer::vault::Handover) -> Self {
        Self {
            n: h.body.n,
            cid: h.cid.to_string(),
            from: h.from.to_string(),
            to: h.to.to_string(),
            time_ms: h.body.time,
        }
    }
}

/// A vault opened with the new identity and what the rotation did
/// ([`open_and_rotate_identity`]).
#[derive(Debug, Clone, uniffi::Record)]
pub struct RotatedVault {
    /// The vault, opened with the new identity.
    pub vault: Arc<Vault>,
    /// What the rotation did (`resumed` when an earlier run had committed it).
    pub rotation: IdentityRotation,
}

#[uniffi::export(async_runtime = "tokio")]
impl Vault {
    /// Hands the vault over from its owner identity to `new_identity`: re-seals the vault key to
    /// it and writes a handover signed by both (nothing is re-encrypted or re-uploaded); from
    /// then on this vault writes as `new_identity`. The vault's other devices must be reopened
    /// with `new_identity`: with the old one they fail with `HandedOver` (code 18), and a head
    /// the old identity signs after the handover is never merged. `InvalidInput` when
    /// `new_identity` is the owner, a retired owner or a recipient of one of the vault's shares;
    /// `Unsupported` for a format v1 vault.
    pub async fn rotate_identity(
        self: Arc<Self>,
        new_identity: Arc<Identity>,
    ) -> Result<IdentityRotation, CofferError> {
        guard_async(async move {
            let mut v = self.inner.lock().await;
            Ok(v.rotate_identity(new_identity.inner.clone()).await?.into())
        })
        .await
    }

    /// The vault's identity handovers, oldest first (empty: never rotated).
    pub async fn handovers(&self) -> Vec<Handover> {
        let v = self.inner.lock().await;
        v.handovers().iter().map(Handover::from).collect()
    }

    /// The current owner (the identity this vault writes as).
    pub async fn owner(&self) -> Arc<Recipient> {
        let v = self.inner.lock().await;
        Arc::new(Recipient {
            inner: v.owner().clone(),
        })
    }
}

/// Opens vault `vault` on `store` as `device` with `old_identity` and hands it over to
/// `new_identity` (`Vault.rotateIdentity`). Resumable: when an earlier run was interrupted after
/// its commit point (the vault already names `new_identity` as the owner `old_identity` handed
/// over to), it opens the vault with `new_identity` and reports `resumed`. Returns the vault
/// opened with `new_identity`. `HandedOver` when `old_identity` handed the vault over to another
/// identity.
#[uniffi::export(async_runtime = "tokio", default(options = None))]
pub async fn open_and_rotate_identity(
    store: Arc<CofferStore>,
    old_identity: Arc<Identity>,
    new_identity: Arc<Identity>,
    vault: String,
    device: String,
    options: Option<VaultOptions>,
) -> Result<RotatedVault, CofferError> {
    guard_async(async move {
        let (v, rotation) = CoreVault::open_and_rotate_identity(
            store.inner.clone(),
            old_identity.inner.clone(),
            new_identity.inner.clone(),
            &vault,
            &device,
            core_options(options),
        )
        .await?;
        Ok(RotatedVault {
            vault: Vault::wrap(v, vault, device),
            rotation: rotation.into(),
        })
    })
    .await
}
