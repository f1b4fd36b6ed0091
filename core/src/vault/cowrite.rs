//! The owner's side of read-write shares (`docs/FORMAT.md` §9.1): which co-writers each epoch's
//! views list, and merging what they committed into the vault index.
//!
//! A co-writer's entries enter the vault only through [`Vault::merge_cowriters`] (run by every
//! sync and before a revocation), which applies the checks of `share::cowrite` with the owner's
//! registry as the list of allowed writers and the owner's clock for their expiry, and remembers
//! each co-writer head's seq in the trust state (a replayed older head is refused).
//!
//! A head this process has already merged into a committed root, served again at the same seq
//! and index root with nothing of it refused, is checked as a head (signature, writer, expiry)
//! and its entries are not read again: without that, every sync re-read and re-verified every
//! co-written entry (`coffer bench cowrite`). The memory is per process; a new process reads
//! every co-writer head once.

use crate::block::Cid;
use crate::index::{Hlc, Mutation};
use crate::keys::Recipient;
use crate::share::cowrite::{AllowedWriter, read_writer_heads};
use crate::share::format::ViewWriter;
use crate::share::{EpochKeys, view_name};
use crate::store::{BlockStore, HeadStore};

use super::{SkippedHead, Vault, VaultResult, now_ms};

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// The co-writers scope `idx`'s epoch `n` lists: its live read-write shares of that epoch.
    pub(super) fn view_writers(&self, idx: usize, n: u64) -> Vec<ViewWriter> {
        let now = (self.share_clock)();
        let rec = &self.scopes[idx].record;
        let mut out: Vec<ViewWriter> = rec
            .shares
            .iter()
            .filter(|s| s.w && s.epoch == n && s.live_at(now))
            .map(|s| ViewWriter {
                r: s.to.clone(),
                p: rec.scope.key.clone(),
                exp: s.exp,
            })
            .collect();
        out.sort_by(|a, b| a.r.cmp(&b.r));
        out
    }

    /// Whether a manifest signed by `signer` may stand in this vault: the owner's, a retired
    /// owner's (identity rotation), or one of a
    /// recipient this vault ever granted write to (such a manifest only enters the index through
    /// [`Vault::merge_cowriters`], which checked it against that writer's scope).
    pub(crate) fn is_manifest_signer(&self, signer: &Recipient) -> bool {
        signer.same_identity(self.identity.recipient())
            // A retired owner (identity rotation): the hash chain from an accepted head places
            // its manifests before its handover (`rotate.rs`, `open_chained`).
            || self.retired_signer(signer)
            || self.scopes.iter().any(|s| {
                s.record.shares.iter().any(|r| {
                    r.w && r
                        .to
                        .parse::<Recipient>()
                        .is_ok_and(|to| to.same_identity(signer))
                })
            })
    }

    /// Merges into `root` what every allowed co-writer committed in the current epoch of every
    /// scope (refusals are added to the skipped heads); returns the new root and clock.
    pub(super) async fn pull_cowriters(
        &mut self,
        mut root: Cid,
        mut hlc: Hlc,
    ) -> VaultResult<(Cid, Hlc)> {
        let now = (self.share_clock)();
        for idx in 0..self.scopes.len() {
            let rec = &self.scopes[idx].record;
            let Some(epoch) = rec.current() else { continue };
            if !rec.shares.iter().any(|s| s.w && s.epoch == epoch.n) {
                continue;
            }
            let keys = EpochKeys::derive(&epoch.secret);
            // The owner's clock decides expiry; revoked shares are not listed at all.
            let allowed: Vec<AllowedWriter> = rec
                .shares
                .iter()
                .filter(|s| s.w && s.epoch == epoch.n && s.revoked_ms.is_none())
                .filter_map(|s| {
                    Some(AllowedWriter {
                        recipient: s.to.parse().ok()?,
                        prefix: rec.scope.key.clone(),
                        exp: s.exp,
                    })
                })
                .collect();
            let scope = rec.scope.to_scope();
            let tag = data_encoding::HEXLOWER.encode(&keys.id);
            // Heads whose entries the last commit holds (a failed commit rolls `state` back,
            // and what it merged with it).
            let merged = &self.committed.cw_merged;
            let known = |head: &str| merged.get(&format!("cw:{tag}:{head}")).copied();
            let heads =
                read_writer_heads(&self.store, &keys, &self.name, &scope, &allowed, now, known)
                    .await
                    .map_err(super::VaultError::Share)?;
            let ns = view_name(&keys.id);
            for r in heads.refused {
                self.skipped.push(SkippedHead {
                    writer: format!("{ns}/{}", r.head),
                    reason: match r.key {
                        Some(k) => format!("entry {}: {}", String::from_utf8_lossy(&k), r.reason),
                        None => r.reason,
                    },
                });
            }
            let served: std::collections::BTreeSet<String> = heads
                .served
                .iter()
                .map(|n| format!("cw:{tag}:{n}"))
                .collect();
            for h in heads.accepted {
                let name = format!("cw:{tag}:{}", h.name);
                self.seen.check_record(&name, h.seq)?;
                hlc = hlc.observe(Hlc::from_u64(h.time), now_ms());
                if h.clean {
                    self.state.cw_merged.insert(name, (h.seq, h.root));
                }
                if h.known {
                    continue;
                }
                let mut muts = Vec::with_capacity(h.entries.len());
                for (key, entry) in h.entries {
                    hlc = hlc.observe(entry.time, now_ms());
                    muts.push((key, Mutation::Put(entry)));
                }
                if muts.is_empty() {
                    continue;
                }
                // The co-writer's entries as a tree of their own, merged like another device's
                // root: the same CRDT order and the same concurrent-versions join.
                let empty = self.tree.empty_root().await?;
                let theirs = self.tree.apply(&empty, muts).await?;
                let fixups = self.concurrent_versions(&root, &theirs).await?;
                root = self.tree.merge(&root, &theirs).await?;
                if !fixups.is_empty() {
                    root = self.tree.apply(&root, fixups).await?;
                }
            }
            // A co-writer head seen before in this epoch and not served at all now: the store hides
            // it (a served head that fails its checks is refused and reported above).
            let prefix = format!("cw:{tag}:");
            for (name, seq) in &self.seen.records {
                if name.starts_with(&prefix) && !served.contains(name) && *seq > 0 {
                    // Unless its writer is no longer allowed (revoked or expired): then it is
                    // not read at all.
                    let head = &name[prefix.len()..];
                    let still = allowed.iter().any(|a| {
                        crate::share::cowrite::writer_head_name(&crate::share::cowriter_id(
                            &a.recipient,
                        )) == head
                            && now < a.exp
                    });
                    if still {
                        return Err(super::VaultError::from(
                            crate::trust::TrustError::MissingHead {
                                what: format!("co-writer head {head}"),
                                seen: *seq,
                            },
                        ));
                    }
                }
            }
        }
        let _ = self
            .seen
            .save(&*self.trust, &super::trust_name(&self.name))
            .await;
        Ok((root, hlc))
    }

    /// Merges what the co-writers of every shared scope committed into this device's index and
    /// commits (as [`Vault::sync`] does, without reading the other devices' heads). Entries that
    /// fail a check are not merged and are reported in [`Vault::skipped_heads`].
    pub async fn merge_cowriters(&mut self) -> VaultResult<()> {
        let (root, hlc) = self.pull_cowriters(self.state.root, self.state.hlc).await?;
        if root != self.state.root {
            self.state.root = root;
            self.state.hlc = hlc;
            self.commit().await?;
        } else if root == self.committed.root {
            // Nothing new: the committed root already holds every head just read.
            self.committed.cw_merged = self.state.cw_merged.clone();
        }
        Ok(())
    }
}
