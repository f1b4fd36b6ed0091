//! Reading and verifying writer heads, and merging them.

use super::format::HeadBody;
use super::{Vault, VaultError, VaultResult, now_ms};
use crate::block::Cid;
use crate::index::Hlc;
use crate::keys::Identity;
use crate::store::{BlockStore, HeadStore, HeadVersion};

/// A head whose signature verified, by the vault owner.
#[derive(Clone, Debug)]
pub(crate) struct VerifiedHead {
    pub writer: String,
    pub body: HeadBody,
}

/// What [`Vault::sync`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncReport {
    /// The other writers whose heads were merged (head-store names).
    pub merged: Vec<String>,
    /// This device's index root before the sync.
    pub root_before: Cid,
    /// This device's index root after it.
    pub root_after: Cid,
}

/// Every head of `vault`, verified: each must decode, carry its own writer name and the vault's
/// name, be signed by the recipient it names, and that recipient must be `identity`'s. Any head
/// that fails fails the whole read (a forged head is never merged, and never silently skipped).
pub(crate) async fn read_verified_heads<S: HeadStore + ?Sized>(
    store: &S,
    identity: &Identity,
    vault: &str,
) -> VaultResult<Vec<(VerifiedHead, HeadVersion)>> {
    let heads = store.read_heads(vault).await?;
    let mut out = Vec::with_capacity(heads.len());
    for head in heads {
        let (body, recipient) = HeadBody::decode_verified(&head.writer, &head.bytes)?;
        if &recipient != identity.recipient() {
            return Err(VaultError::UnknownWriter {
                writer: head.writer,
            });
        }
        if body.vault != vault {
            return Err(VaultError::BadHead {
                writer: head.writer,
                detail: "it names another vault".into(),
            });
        }
        out.push((
            VerifiedHead {
                writer: head.writer,
                body,
            },
            head.version,
        ));
    }
    Ok(out)
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// Reads every writer's head, verifies it, merges the other writers' index roots into this
    /// device's (the index CRDT merge: per key the newest entry wins, ties broken by writer id),
    /// and writes this device's head.
    ///
    /// Fails with [`VaultError::BadHeadSignature`] (or [`VaultError::UnknownWriter`],
    /// [`VaultError::BadHead`]) when any head does not verify; nothing is merged then. Any order
    /// of syncs between devices converges to the same root.
    pub async fn sync(&mut self) -> VaultResult<SyncReport> {
        let heads = read_verified_heads(&*self.store, &self.identity, &self.name).await?;
        let root_before = self.state.root;
        let mut merged = Vec::new();
        let mut parents = Vec::new();
        let mut root = self.state.root;
        let mut hlc = self.state.hlc;
        for (head, _) in heads {
            if head.writer == self.writer_name {
                continue;
            }
            if head.body.key != self.key_block {
                return Err(VaultError::ConflictingVaultKeys {
                    vault: self.name.clone(),
                });
            }
            root = self.tree.merge(&root, &head.body.root).await?;
            hlc = hlc.observe(Hlc::from_u64(head.body.time), now_ms());
            parents.push(head.body.root);
            merged.push(head.writer);
        }
        merged.sort();
        parents.sort();
        parents.dedup();
        self.state.root = root;
        self.state.hlc = hlc;
        self.state.parents = parents;
        self.commit().await?;
        Ok(SyncReport {
            merged,
            root_before,
            root_after: root,
        })
    }
}
