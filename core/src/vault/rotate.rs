//! Rotating the owner's identity (`docs/decisions.md`, "Identity rotation"; format in
//! `handover.rs` and `docs/FORMAT.md` §8).
//!
//! [`Vault::rotate_identity`] re-seals the vault root key to the new identity, writes a handover
//! signed by both identities that pins the old identity's final heads, share records and GC
//! record, and writes the device's first head under the new identity (the commit point). Nothing
//! else is rewritten: objects, manifests and index nodes are under keys derived from the root
//! key, which does not change.
//!
//! Reading: the chain of handovers comes from the `ho` of the heads this identity signed; a head
//! of a retired identity is accepted only as a final head its handover lists; a device that sees
//! its own identity handed over stops ([`HandoverError::HandedOver`]); the trust state remembers
//! the newest handover, so the store cannot take a device back before it.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use super::handover::{self, FinalHead, Handover, HandoverBody, HandoverError, MAX_CHAIN};
use super::heads::DecodedHead;
use super::{
    FORMAT_VERSION, OpenMode, Vault, VaultError, VaultOptions, VaultResult, format, now_ms,
    seal_to_owner, writer_name,
};
use crate::block::{Cid, raw_cid};
use crate::keys::{Identity, Recipient};
use crate::seal::{self, Unlock};
use crate::store::{BlockStore, HeadStore};

/// What [`Vault::rotate_identity`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityRotation {
    /// The handover block.
    pub handover: Cid,
    /// The new key block (the same root key, sealed to the new identity).
    pub key_block: Cid,
    /// The retired identity (text form).
    pub from: String,
    /// The new owner (text form).
    pub to: String,
    /// The final heads of the old identity the handover pins.
    pub final_heads: usize,
    /// The share records it pins.
    pub records: usize,
    /// Bytes written to the store (key block, handover, head).
    pub bytes_written: u64,
    /// Whether the rotation had already been committed (a rerun after an interruption found it
    /// done and only reopened the vault under the new identity).
    pub resumed: bool,
}

/// How a decoded head fares against the handover chain.
pub(crate) enum Admission {
    /// Signed by the current owner.
    Current,
    /// A final head of a retired identity, as its handover lists it.
    Final,
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// The vault's chain of identity handovers, oldest first (empty: never rotated).
    pub fn handovers(&self) -> &[Handover] {
        &self.chain
    }

    /// The current owner's recipient.
    pub fn owner(&self) -> &Recipient {
        self.identity.recipient()
    }

    /// The handover that retired `signer`, if it is a retired owner of this vault.
    fn retired_by(&self, signer: &Recipient) -> Option<&Handover> {
        self.chain.iter().find(|h| h.from.same_identity(signer))
    }

    /// Runs `open` with the vault's keys ([`Vault::unlock`]); after an identity rotation, when
    /// that fails, with the identity of each epoch of the vault's shared scopes in turn. A
    /// co-writer seals its blocks to the owner that issued its share and to the share's epoch
    /// (`share/writer.rs`): once that owner is retired, only the epoch's key opens them. What is
    /// opened is checked as before (manifest signer, hashes against the manifest).
    pub(crate) fn with_unlock<T, E>(
        &self,
        open: impl Fn(Unlock<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let first = open(self.unlock());
        if first.is_ok() || self.chain.is_empty() {
            return first;
        }
        for scope in &self.scopes {
            for epoch in &scope.record.epochs {
                let keys = crate::share::EpochKeys::derive(&zeroize::Zeroizing::new(*epoch.secret));
                if let Ok(v) = open(Unlock::Identity(&keys.identity)) {
                    return Ok(v);
                }
            }
        }
        first
    }

    /// Whether `signer` is a retired owner of this vault.
    pub(crate) fn retired_signer(&self, signer: &Recipient) -> bool {
        self.retired_by(signer).is_some()
    }

    /// Opens a sealed block reached from an accepted head (a manifest, tags, a policy block, a
    /// GC candidate chunk): signed by the current owner or a retired one (the hash chain from the
    /// accepted head is what places it before the handover).
    pub(crate) fn open_chained(&self, cid: &Cid, sealed: &[u8]) -> VaultResult<Vec<u8>> {
        let opened = seal::open_to_vec_with(self.unlock(), sealed)
            .map_err(|e| VaultError::corrupt(cid, e))?;
        match &opened.signer {
            Some(s) if s.same_identity(self.identity.recipient()) => Ok(opened.plaintext),
            Some(s) if self.retired_by(s).is_some() => Ok(opened.plaintext),
            _ => Err(VaultError::corrupt(cid, "not signed by the vault owner")),
        }
    }

    /// Opens a sealed record stored in a head slot (a share record, `pin` of the handover that
    /// retired its signer, or the GC record): signed by the current owner, or by a retired owner
    /// when its handover pinned exactly these bytes.
    pub(crate) fn open_pinned(
        &self,
        cid: &Cid,
        sealed: &[u8],
        pin: impl Fn(&HandoverBody) -> Option<[u8; 32]>,
    ) -> VaultResult<Vec<u8>> {
        let opened = seal::open_to_vec_with(self.unlock(), sealed)
            .map_err(|e| VaultError::corrupt(cid, e))?;
        match &opened.signer {
            Some(s) if s.same_identity(self.identity.recipient()) => Ok(opened.plaintext),
            Some(s) => match self.retired_by(s) {
                Some(h) if pin(&h.body) == Some(*blake3::hash(sealed).as_bytes()) => {
                    Ok(opened.plaintext)
                }
                Some(_) => Err(VaultError::corrupt(
                    cid,
                    "signed by a retired identity after it handed the vault over",
                )),
                None => Err(VaultError::corrupt(cid, "not signed by the vault owner")),
            },
            None => Err(VaultError::corrupt(cid, "not signed by the vault owner")),
        }
    }

    /// Fetches, opens and checks the chain of handovers ending at `ho` (oldest first).
    async fn load_chain(&mut self, ho: &Cid) -> VaultResult<Vec<Handover>> {
        let mut chain = Vec::new();
        let mut at = Some(*ho);
        while let Some(cid) = at {
            if chain.len() >= MAX_CHAIN {
                return Err(
                    HandoverError::BrokenChain(format!("more than {MAX_CHAIN} handovers")).into(),
                );
            }
            let h = match self.handover_cache.get(&cid) {
                Some(h) => h.clone(),
                None => {
                    let bytes = self.fetch_block(&cid).await?;
                    let opened = seal::open_to_vec_with(Unlock::Key(&self.object_key), &bytes)
                        .map_err(|e| VaultError::corrupt(&cid, e))?;
                    let h = handover::decode_plaintext(cid, &opened.plaintext)?;
                    self.handover_cache.insert(cid, h.clone());
                    h
                }
            };
            at = h.body.prev;
            chain.push(h);
        }
        chain.reverse();
        handover::check_chain(&self.name, &chain)?;
        Ok(chain)
    }

    /// Resolves the vault's chain of handovers from the heads read (see the module docs) and
    /// sets it; checks it against the trust state. Returns, per handover CID that did not
    /// verify, why (heads naming it are skipped with that reason).
    pub(crate) async fn resolve_chain(
        &mut self,
        decoded: &[(String, DecodedHead, Recipient)],
    ) -> VaultResult<BTreeMap<Cid, String>> {
        let me = self.identity.recipient().clone();
        let mut chains: BTreeMap<Cid, Vec<Handover>> = BTreeMap::new();
        let mut bad: BTreeMap<Cid, String> = BTreeMap::new();
        for (_, head, _) in decoded {
            let Some(ho) = head.body.ho else { continue };
            if chains.contains_key(&ho) || bad.contains_key(&ho) {
                continue;
            }
            match self.load_chain(&ho).await {
                Ok(c) => {
                    chains.insert(ho, c);
                }
                Err(VaultError::Handover(e)) => {
                    bad.insert(ho, e.to_string());
                }
                Err(VaultError::Corrupt { detail, .. }) => {
                    bad.insert(ho, format!("its identity handover is damaged: {detail}"));
                }
                Err(other) => return Err(other),
            }
        }
        // The chain this identity owns the vault by: named by its own heads, ending at it.
        let mut mine: Vec<Handover> = Vec::new();
        for (_, head, signer) in decoded {
            if !signer.same_identity(&me) {
                continue;
            }
            let Some(c) = head.body.ho.and_then(|ho| chains.get(&ho)) else {
                continue;
            };
            if !c.last().is_some_and(|h| h.to.same_identity(&me)) {
                continue;
            }
            if is_prefix(&mine, c) {
                mine = c.clone();
            } else if !is_prefix(c, &mine) {
                return Err(HandoverError::BrokenChain(
                    "two different chains of handovers end at this identity".into(),
                )
                .into());
            }
        }
        // Handovers away from this identity, in any chain a head names.
        let mut away: Vec<&Handover> = Vec::new();
        for h in chains.values().flatten() {
            if h.from.same_identity(&me) && !away.iter().any(|a| a.cid == h.cid) {
                away.push(h);
            }
        }
        if !away.is_empty() {
            // Only a handover that extends what this device saw (or is it) can be the one: the
            // store cannot swap the handover a device remembers for a competing one.
            let remembered = self.seen.ho;
            let fits = |h: &&Handover| -> bool {
                let Some(r) = remembered else { return true };
                chains
                    .values()
                    .filter(|c| c.iter().any(|x| x.cid == h.cid))
                    .any(|c| c.iter().take_while(|x| x.cid != h.cid).any(|x| x.cid == r))
                    || h.cid == r
                    || mine.iter().any(|x| x.cid == r)
            };
            let fitting: Vec<&Handover> = away.iter().copied().filter(fits).collect();
            let chosen = match fitting.iter().find(|h| Some(h.cid) == remembered) {
                Some(h) => *h,
                None if fitting.len() == 1 => fitting[0],
                None if fitting.is_empty() => {
                    return Err(crate::trust::TrustError::Forked {
                        what: "identity handover (the store shows another handover from this \
                               identity than the one this device saw)"
                            .into(),
                        seq: self.seen.hn,
                    }
                    .into());
                }
                None => {
                    return Err(HandoverError::Competing {
                        vault: self.name.clone(),
                        a: fitting[0].body.to.clone(),
                        b: fitting[1].body.to.clone(),
                    }
                    .into());
                }
            };
            // First seen wins: remember it, so a competing one is never taken for it later.
            if self.seen.ho.is_none() || self.seen.hn < chosen.body.n {
                self.seen.ho = Some(chosen.cid);
                self.seen.hn = chosen.body.n;
                self.seen
                    .save(&*self.trust, &super::trust_name(&self.name))
                    .await?;
            }
            return Err(HandoverError::HandedOver {
                vault: self.name.clone(),
                to: chosen.body.to.clone(),
            }
            .into());
        }
        // The store cannot take this device back before a handover it saw.
        if self.seen.hn > 0 {
            let seen = usize::try_from(self.seen.hn).unwrap_or(usize::MAX);
            if mine.len() < seen {
                return Err(crate::trust::TrustError::RolledBack {
                    what: "the vault's identity handover".into(),
                    seen: self.seen.hn,
                    served: mine.len() as u64,
                }
                .into());
            }
            if Some(mine[seen - 1].cid) != self.seen.ho {
                return Err(crate::trust::TrustError::Forked {
                    what: "identity handover".into(),
                    seq: self.seen.hn,
                }
                .into());
            }
        }
        // A device that knew the vault by a key block of an earlier owner follows the chain to
        // the current one; any other key block is another vault made under the same name.
        if let Some(k) = self.seen.key
            && k != self.key_block
            && !mine.iter().any(|h| h.body.from_key == k || h.body.key == k)
        {
            return Err(VaultError::ConflictingVaultKeys {
                vault: self.name.clone(),
            });
        }
        self.chain = mine;
        Ok(bad)
    }

    /// Whether a decoded head is accepted under the chain (`Err`: why it is skipped).
    pub(crate) fn admit(
        &self,
        writer: &str,
        head: &DecodedHead,
        signer: &Recipient,
        bad: &BTreeMap<Cid, String>,
    ) -> Result<Admission, String> {
        if signer.same_identity(self.identity.recipient()) {
            if head.body.key != self.key_block {
                return Err("it names another vault key".into());
            }
            if let Some(ho) = head.body.ho
                && !self.chain.iter().any(|h| h.cid == ho)
            {
                return Err(match bad.get(&ho) {
                    Some(why) => why.clone(),
                    None => "it names an identity handover this device does not accept".into(),
                });
            }
            return Ok(Admission::Current);
        }
        if let Some(h) = self.retired_by(signer) {
            let listed = h
                .body
                .heads
                .get(writer)
                .is_some_and(|f| f.s == head.body.seq && *f.d == head.digest);
            if listed && head.body.key == h.body.from_key {
                return Ok(Admission::Final);
            }
            return Err(format!(
                "signed by a retired identity after it handed the vault over (handover {}); \
                 nothing in it was merged",
                h.body.n
            ));
        }
        match head.body.ho.and_then(|ho| bad.get(&ho)) {
            Some(why) => Err(format!(
                "signed by another identity, naming a handover: {why}"
            )),
            None => Err("signed by another identity".into()),
        }
    }

    /// The writers the chain froze (every writer a handover lists), with the seq and digest to
    /// check them at: what the handover lists, or what this device saw or was told of later (it
    /// is not rolled back by a head the handover made void).
    pub(crate) fn frozen_writers(
        &self,
        claims: &BTreeMap<String, u64>,
    ) -> BTreeMap<String, (u64, [u8; 32])> {
        let mut out = BTreeMap::new();
        for h in &self.chain {
            for (w, f) in &h.body.heads {
                let (mut seq, mut digest) = (f.s, *f.d);
                if let Some(s) = self.seen.writers.get(w)
                    && s.seq >= seq
                {
                    (seq, digest) = (s.seq, *s.digest);
                }
                let claimed = self
                    .seen
                    .claims
                    .get(w)
                    .copied()
                    .unwrap_or(0)
                    .max(claims.get(w).copied().unwrap_or(0));
                if claimed > seq {
                    seq = claimed;
                }
                out.insert(w.clone(), (seq, digest));
            }
        }
        out
    }

    /// Hands the vault over from this device's identity to `new`: re-seals the vault root key
    /// to `new`, writes a handover signed by both identities (pinning the old identity's final
    /// heads, share records and GC record after a sync), and writes this device's first head as
    /// `new` (the commit point; the device's writer name changes with the identity). From then
    /// on this value writes as `new`; the vault's other devices must be opened with `new` (with
    /// the old identity they stop with [`HandoverError::HandedOver`]).
    ///
    /// Nothing is re-encrypted or re-uploaded. Interrupted before the commit point, it leaves
    /// only unreferenced blocks and can be run again; see [`Vault::open_and_rotate_identity`] to resume from a
    /// fresh process. Refused ([`HandoverError::Refused`]): `new` is this identity, a retired
    /// owner of the vault, or a recipient of one of its shares; a vault whose key block is
    /// format v1 ([`HandoverError::V1Vault`]).
    pub async fn rotate_identity(&mut self, new: Identity) -> VaultResult<IdentityRotation> {
        let to = new.recipient().clone();
        if to.same_identity(self.identity.recipient()) {
            return Err(HandoverError::Refused(
                "the new identity is the vault's current owner".into(),
            )
            .into());
        }
        if self.chain.iter().any(|h| h.from.same_identity(&to)) {
            return Err(HandoverError::Refused(
                "the new identity owned this vault before (a retired identity may be the \
                 compromised one); rotate to a fresh identity"
                    .into(),
            )
            .into());
        }
        if self.share_recipients().iter().any(|r| r.same_identity(&to)) {
            return Err(HandoverError::Refused(
                "the new identity holds a share of this vault; a recipient or co-writer cannot \
                 become its owner"
                    .into(),
            )
            .into());
        }
        let key_bytes = self.fetch_block(&self.key_block).await?;
        let header =
            seal::Header::parse(&key_bytes).map_err(|e| VaultError::corrupt(&self.key_block, e))?;
        if header.version() == 1 {
            return Err(HandoverError::V1Vault {
                vault: self.name.clone(),
            }
            .into());
        }
        // Merge every device first: the new identity's first head then holds all of it.
        self.sync().await?;
        let heads = self.read_verified().await?;
        let mut finals = BTreeMap::new();
        for h in &heads {
            if !h.retired {
                finals.insert(
                    h.writer.clone(),
                    FinalHead {
                        s: h.head.body.seq,
                        d: serde_bytes::ByteArray::new(h.head.digest),
                    },
                );
            }
        }
        let rec = self.pin_records().await?;
        let gc = self.pin_gc_record().await?;
        let root = super::open_root_key(&*self.store, &self.identity, &self.key_block).await?;
        let mut written = 0u64;
        let sealed_key = seal_to_owner(&new, root.0.as_ref(), self.post_quantum)?;
        let key_block = raw_cid(&sealed_key);
        written += sealed_key.len() as u64;
        self.store.put(&key_block, Bytes::from(sealed_key)).await?;
        let body = HandoverBody {
            v: FORMAT_VERSION,
            vault: self.name.clone(),
            n: self.chain.len() as u64 + 1,
            prev: self.chain.last().map(|h| h.cid),
            from: self.identity.recipient().to_string(),
            to: to.to_string(),
            from_key: self.key_block,
            key: key_block,
            heads: finals,
            rec,
            gc,
            time: now_ms(),
        };
        let records = body.rec.len();
        let final_heads = body.heads.len();
        let plaintext = zeroize::Zeroizing::new(body.sign(&self.identity, &new)?);
        let sealed = seal::seal_to_vec(&self.data_options(), &plaintext)?;
        let cid = raw_cid(&sealed);
        written += sealed.len() as u64;
        self.store.put(&cid, Bytes::from(sealed)).await?;
        let link = handover::decode_plaintext(cid, &plaintext)?;
        // The commit point: this device's first head as the new identity.
        let before = RotationSnapshot::take(self);
        let (old_identity, old_writer) = (before.identity.clone(), before.writer);
        let old_name = self.writer_name.clone();
        let old_seq = self.state.seq;
        self.writer = format::writer_id_v2(&root.writer_key(), &new, &self.device);
        self.writer_name = writer_name(self.writer);
        self.identity = new;
        self.key_block = key_block;
        self.chain.push(link);
        self.state.vv.insert(old_name.clone(), old_seq);
        self.state.seq = 0;
        self.state.head_version = None;
        self.committed = self.state.clone();
        self.tick();
        if let Err(e) = self.commit().await {
            before.restore(self);
            return Err(e);
        }
        written += self.last_head_len;
        self.seen.ho = Some(cid);
        self.seen.hn = self.chain.len() as u64;
        self.seen.key = Some(key_block);
        self.seen
            .save(&*self.trust, &super::trust_name(&self.name))
            .await?;
        written += self
            .carry_shares_over(&old_identity, &old_name, old_writer)
            .await;
        Ok(IdentityRotation {
            handover: cid,
            key_block,
            from: body.from,
            to: body.to,
            final_heads,
            records,
            bytes_written: written,
            resumed: false,
        })
    }

    /// Opens vault `name` as `device` with `old` and hands it over to `new`
    /// ([`Vault::rotate_identity`]); resumable: when a run before was interrupted after its
    /// commit point (the vault already names `new` as the owner `old` handed over to), it opens
    /// the vault with `new` and reports `resumed`. Returns the vault opened with `new`.
    pub async fn open_and_rotate_identity(
        store: Arc<S>,
        old: Identity,
        new: Identity,
        name: &str,
        device: &str,
        options: VaultOptions,
    ) -> VaultResult<(Self, IdentityRotation)> {
        let opened = Self::open_with(
            store.clone(),
            old,
            name,
            device,
            OpenMode::Open,
            options.clone(),
        )
        .await;
        match opened {
            Ok(mut vault) => {
                let report = vault.rotate_identity(new).await?;
                Ok((vault, report))
            }
            Err(VaultError::Handover(HandoverError::HandedOver { to, .. }))
                if to
                    .parse::<Recipient>()
                    .is_ok_and(|r| r.same_identity(new.recipient())) =>
            {
                let vault =
                    Self::open_with(store, new, name, device, OpenMode::Open, options).await?;
                let last = vault.chain.last().ok_or_else(|| {
                    VaultError::from(HandoverError::BrokenChain(
                        "the vault was handed over but its new owner's heads name no handover"
                            .into(),
                    ))
                })?;
                let report = IdentityRotation {
                    handover: last.cid,
                    key_block: last.body.key,
                    from: last.body.from.clone(),
                    to: last.body.to.clone(),
                    final_heads: last.body.heads.len(),
                    records: last.body.rec.len(),
                    bytes_written: 0,
                    resumed: true,
                };
                Ok((vault, report))
            }
            Err(e) => Err(e),
        }
    }

    /// After the commit point of a rotation: the shares given before it. Their recipients (and
    /// co-writers) check the owner's views against the identity that issued the share, the old
    /// one, which signs nothing from now on: left alone they would go on reading a view frozen
    /// at the handover that the new owner could not even revoke. So this device's view of every
    /// current epoch is retired, signed by the old identity (its readers get
    /// [`crate::share::ShareError::Revoked`]), and every scope with live shares is rotated to a
    /// new epoch whose grants the new identity signs (the recipients find them in their inboxes;
    /// expired and revoked shares stay so). Best effort after the commit point: a failure is
    /// kept in [`Vault::share_publish_error`]; `coffer rotate PREFIX` (or [`Vault::rotate`])
    /// re-grants a scope later. Returns the bytes written.
    async fn carry_shares_over(
        &mut self,
        old: &Identity,
        old_name: &str,
        old_writer: crate::index::WriterId,
    ) -> u64 {
        let mut written = 0;
        let mut regrant = Vec::new();
        let mut failed = None;
        for idx in 0..self.scopes.len() {
            self.scopes[idx].view = None;
            let rec = &self.scopes[idx].record;
            if rec.scope.is_version() {
                continue;
            }
            let Some(epoch) = rec.current() else { continue };
            let keys = crate::share::EpochKeys::derive(&zeroize::Zeroizing::new(*epoch.secret));
            let scope = rec.scope.to_scope();
            match self.retire_epoch_as(&keys, old, old_name, old_writer).await {
                Ok(n) => written += n,
                Err(e) => failed = Some(e.to_string()),
            }
            regrant.push(scope);
        }
        for scope in regrant {
            match self.rotate(&scope).await {
                Ok(r) => written += r.bytes_written,
                Err(e) => failed = Some(e.to_string()),
            }
        }
        if let Some(e) = failed {
            self.share_publish_error = Some(e);
        }
        written
    }

    /// The share records as stored now, by registry name: BLAKE3 of the bytes of each record
    /// this device holds (signed by the current owner).
    async fn pin_records(&self) -> VaultResult<BTreeMap<String, serde_bytes::ByteArray<32>>> {
        let names = self.share_record_names();
        let raw = self
            .store
            .read_heads(&super::share::registry_name(&self.name))
            .await?;
        Ok(raw
            .into_iter()
            .filter(|h| names.contains(&h.writer))
            .map(|h| {
                (
                    h.writer,
                    serde_bytes::ByteArray::new(*blake3::hash(&h.bytes).as_bytes()),
                )
            })
            .collect())
    }

    /// The GC record as stored now: BLAKE3 of its bytes (none yet: `None`).
    async fn pin_gc_record(&self) -> VaultResult<Option<serde_bytes::ByteArray<32>>> {
        let head = self
            .store
            .read_head(&super::gc_namespace(&self.name), &self.gc_record_name())
            .await?;
        Ok(head.map(|h| serde_bytes::ByteArray::new(*blake3::hash(&h.bytes).as_bytes())))
    }
}

/// Whether chain `a` is `b` or a beginning of it.
fn is_prefix(a: &[Handover], b: &[Handover]) -> bool {
    a.len() <= b.len() && a.iter().zip(b).all(|(x, y)| x.cid == y.cid)
}

/// What a rotation changes in a vault before its commit point, to put back if the commit fails.
struct RotationSnapshot {
    identity: Identity,
    key_block: Cid,
    chain_len: usize,
    writer: crate::index::WriterId,
    writer_name: String,
    state: super::WriterState,
    committed: super::WriterState,
}

impl RotationSnapshot {
    fn take<S: BlockStore + HeadStore + ?Sized>(v: &Vault<S>) -> Self {
        Self {
            identity: v.identity.clone(),
            key_block: v.key_block,
            chain_len: v.chain.len(),
            writer: v.writer,
            writer_name: v.writer_name.clone(),
            state: v.state.clone(),
            committed: v.committed.clone(),
        }
    }

    fn restore<S: BlockStore + HeadStore + ?Sized>(self, v: &mut Vault<S>) {
        let hlc = v.state.hlc;
        v.identity = self.identity;
        v.key_block = self.key_block;
        v.chain.truncate(self.chain_len);
        v.writer = self.writer;
        v.writer_name = self.writer_name;
        v.state = self.state;
        v.state.hlc = hlc;
        v.committed = self.committed;
    }
}
