//! The owner's side of sharing: the share registry, scope epochs, published views and keyrings,
//! revocation, rotation and re-encryption (`docs/FORMAT.md` §9).

use std::collections::HashSet;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteArray;

use super::format::{IndexValue, Manifest};
use super::{Vault, VaultError, VaultResult, now_ms};
use crate::block::{Cid, from_dag_cbor, raw_cid, to_dag_cbor};
use crate::index::{IndexConfig, ListRequest, Mutation, ProllyTree};
use crate::keys::Recipient;
use crate::seal::{self, FileKey, SealOptions};
use crate::share::format::{KeyringChunk, KeyringEntry, SHARE_VERSION, ScopeWire};
/// Version of the share records this build writes (1 is read too).
const SHARE_RECORD_VERSION: u8 = SHARE_VERSION;
use crate::share::{
    CapabilityBody, EpochKeys, KeysWire, Link, LinkSecret, Scope, Share, ShareError, ShareId,
    ViewBody, deliver, view_name,
};
use crate::store::{BlockStore, HeadCondition, HeadStore, HeadVersion, StoreError};

/// At most this many keys per keyring chunk (a chunk stays well under 1 MiB, IPFS's block limit).
const CHUNK_KEYS: usize = 8192;
/// Objects whose keys are fetched and opened at once when a view is updated (a re-wrap).
const WRAP_CONCURRENCY: usize = 16;
/// When a view has this many chunks that are not full (its tail), the next keys are merged with
/// them into full chunks: writes stay small, and readers fetch few chunks.
const MAX_CHUNKS: usize = 16;

/// How to share: validity window, and whether a version share carries a presigned URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShareOptions {
    /// Valid from (ms since the Unix epoch); `None`: now.
    pub not_before_ms: Option<u64>,
    /// Valid until, exclusive (ms since the Unix epoch). Required: shares always expire.
    pub expires_ms: u64,
    /// Version shares only: carry a presigned GET URL of the sealed object, which the server
    /// itself stops honouring at the expiry (S3; at most 7 days). Fails on stores that cannot.
    pub presign: bool,
    /// Object and prefix shares only: also grant `write` (a read-write share; the recipient
    /// writes under the scope with a [`crate::share::SharedWriter`], `docs/FORMAT.md` §9.1).
    pub write: bool,
}

/// Where a share stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShareStatus {
    /// Valid now.
    Active,
    /// Not valid yet.
    Pending,
    /// Past its expiry.
    Expired,
    /// Revoked by the owner.
    Revoked,
}

impl std::fmt::Display for ShareStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Active => "active",
            Self::Pending => "pending",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
        })
    }
}

/// One share the owner issued, as the registry records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareInfo {
    /// The share id.
    pub id: ShareId,
    /// What it covers.
    pub scope: Scope,
    /// Who it is for.
    pub to: Recipient,
    /// Valid from (ms since the Unix epoch).
    pub not_before_ms: u64,
    /// Valid until, exclusive.
    pub expires_ms: u64,
    /// When it was issued.
    pub issued_ms: u64,
    /// When it was revoked, if it was.
    pub revoked_ms: Option<u64>,
    /// The latest grant delivered (1, then +1 per rotation it survived).
    pub grant: u64,
    /// Whether it grants `write` (a read-write share).
    pub write: bool,
    /// Where it stands now.
    pub status: ShareStatus,
}

/// What a rotation, revocation or share did to a scope's keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RotationReport {
    /// The scope's epoch after the operation (0: the scope has no live epoch, nothing is shared).
    pub epoch: u64,
    /// Objects whose keys were wrapped into the new epoch's keyring.
    pub objects: u64,
    /// File keys written (manifests, data, tags).
    pub keys: u64,
    /// Bytes of keyring chunks, view heads, the share record and inbox grants written (the view's
    /// index nodes are not counted here; `coffer bench share` counts every byte at the store).
    pub bytes_written: u64,
    /// Grants delivered to recipients' inboxes.
    pub grants: u64,
}

/// What [`Vault::reencrypt`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReencryptReport {
    /// Objects sealed again with fresh keys.
    pub reencrypted: u64,
    /// Objects skipped because they were already written at or after `since_ms`.
    pub skipped: u64,
    /// Plaintext bytes re-sealed.
    pub bytes: u64,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EpochRecord {
    pub(super) n: u64,
    pub(super) secret: ByteArray<32>,
    pub(super) created_ms: u64,
    pub(super) closed_ms: Option<u64>,
}

impl Drop for EpochRecord {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self.secret.as_mut_slice());
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ShareRecord {
    #[serde(with = "serde_bytes")]
    pub(super) id: [u8; 16],
    pub(super) to: String,
    pub(super) nbf: u64,
    pub(super) exp: u64,
    pub(super) iat: u64,
    /// Latest grant number delivered.
    pub(super) n: u64,
    /// The epoch that grant carries (0 for version shares).
    pub(super) epoch: u64,
    pub(super) revoked_ms: Option<u64>,
    /// A read-write share (co-writing, FORMAT §9.1); absent (false) for read-only ones.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) w: bool,
}

impl ShareRecord {
    pub(super) fn live_at(&self, now: u64) -> bool {
        self.revoked_ms.is_none() && now < self.exp
    }
}

/// One scope's record in the registry (sealed under the vault's object key, signed by the owner).
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScopeRecord {
    pub(super) v: u8,
    pub(super) vault: String,
    pub(super) scope: ScopeWire,
    pub(super) epochs: Vec<EpochRecord>,
    pub(super) shares: Vec<ShareRecord>,
    /// Writes of this record so far (v2; 0 in v1 records): a device refuses a record older than
    /// one it saw, so a replayed record cannot revive a revoked share.
    #[serde(default)]
    pub(super) ctr: u64,
}

impl ScopeRecord {
    pub(super) fn current(&self) -> Option<&EpochRecord> {
        self.epochs.last().filter(|e| e.closed_ms.is_none())
    }

    /// A share that holds the current epoch but is no longer live: the epoch must end.
    fn needs_rotation(&self, now: u64) -> bool {
        match self.current() {
            Some(e) => self
                .shares
                .iter()
                .any(|s| s.epoch == e.n && !s.live_at(now)),
            None => false,
        }
    }
}

/// This device's view of a scope's current epoch.
pub(crate) struct ViewState<S: BlockStore + ?Sized> {
    epoch: u64,
    keys: EpochKeys,
    tree: ProllyTree<S>,
    body: ViewBody,
    version: Option<HeadVersion>,
    /// The entries of the tail chunks (the last `body.tail` chunks, not full), merged into full
    /// chunks when the tail grows long.
    tail_keys: Vec<(Cid, FileKey)>,
    /// CIDs whose keys this view already holds (the tail's and those added this session; full
    /// chunks are not read back, so a key may rarely be written twice, which is harmless).
    known: HashSet<Cid>,
}

pub(crate) struct ScopeState<S: BlockStore + ?Sized> {
    /// The record's head-store name.
    pub(super) writer: String,
    pub(super) record: ScopeRecord,
    pub(super) version: Option<HeadVersion>,
    pub(super) view: Option<ViewState<S>>,
    /// Whether this session brought the scope to its record's state (see `settle_scope`).
    pub(super) settled: bool,
}

/// Head-store namespace of a vault's share registry (`docs/FORMAT.md` §9).
pub fn registry_name(vault: &str) -> String {
    let mut h = blake3::Hasher::new_derive_key("coffer vault v1 share registry");
    h.update(vault.as_bytes());
    format!(
        "_coffer-shares-{}",
        data_encoding::HEXLOWER.encode(&h.finalize().as_bytes()[..16])
    )
}

fn share_error(e: ShareError) -> VaultError {
    VaultError::Share(e)
}

/// A broken invariant of this module (never expected; reported rather than panicking).
fn internal(what: &str) -> VaultError {
    VaultError::Share(ShareError::Invalid(format!("internal error: {what}")))
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// The head-store name of `scope`'s record: keyed with the vault's registry key, so the store
    /// cannot confirm a guessed prefix.
    fn scope_writer(&self, scope: &ScopeWire) -> VaultResult<String> {
        let bytes = to_dag_cbor(scope)?;
        let hash = blake3::keyed_hash(&self.registry_key, &bytes);
        Ok(data_encoding::HEXLOWER.encode(&hash.as_bytes()[..16]))
    }

    /// The counter of every share record this device holds, by registry name (for its head).
    pub(super) fn record_counters(&self) -> std::collections::BTreeMap<String, u64> {
        self.scopes
            .iter()
            .filter(|s| s.version.is_some())
            .map(|s| (s.writer.clone(), s.record.ctr))
            .collect()
    }

    /// Reads the share registry (every scope record, verified). Called at open and by sync.
    ///
    /// A record that does not open, is not the owner's, or is not stored under the name its scope
    /// hashes to is skipped and reported (with the heads, [`Vault::skipped_heads`]); a record
    /// older than one this device saw, or a record seen before and missing now, is refused
    /// ([`VaultError::Trust`]).
    pub(super) async fn load_shares(&mut self) -> VaultResult<()> {
        let heads = self.store.read_heads(&registry_name(&self.name)).await?;
        let mut scopes = Vec::with_capacity(heads.len());
        let mut skipped = Vec::new();
        let mut served = std::collections::BTreeSet::new();
        for head in heads {
            let cid = raw_cid(&head.bytes);
            let name = head.writer.clone();
            let opened = self
                .open_pinned(&cid, &head.bytes, |h| h.rec.get(&name).map(|d| **d))
                .and_then(|plain| {
                    from_dag_cbor::<ScopeRecord>(&plain).map_err(|e| VaultError::corrupt(&cid, e))
                });
            let record = match opened {
                Ok(r) if (r.v == 1 || r.v == SHARE_RECORD_VERSION) && r.vault == self.name => r,
                Ok(_) => {
                    skipped.push(super::SkippedHead {
                        writer: head.writer,
                        reason: "a share record of another vault or version".into(),
                    });
                    continue;
                }
                Err(e) => {
                    skipped.push(super::SkippedHead {
                        writer: head.writer,
                        reason: format!("a share record that does not verify: {e}"),
                    });
                    continue;
                }
            };
            if self.scope_writer(&record.scope)? != head.writer {
                skipped.push(super::SkippedHead {
                    writer: head.writer,
                    reason: "a share record stored under another scope's name (moved)".into(),
                });
                continue;
            }
            self.seen
                .check_record(&format!("share:{}", head.writer), record.ctr)?;
            served.insert(format!("share:{}", head.writer));
            // Keep this device's loaded view (and settledness) when the epochs did not change.
            let (view, settled) = match self.scopes.iter_mut().find(|s| s.writer == head.writer) {
                Some(old) if old.record.epochs.len() == record.epochs.len() => {
                    (old.view.take(), old.settled)
                }
                _ => (None, false),
            };
            scopes.push(ScopeState {
                writer: head.writer,
                record,
                version: Some(head.version),
                view,
                settled,
            });
        }
        for (name, ctr) in &self.seen.records {
            if name.starts_with("share:") && !served.contains(name) && *ctr > 0 {
                return Err(VaultError::from(crate::trust::TrustError::MissingHead {
                    what: format!("share record {}", &name["share:".len()..]),
                    seen: *ctr,
                }));
            }
        }
        self.seen
            .save(&*self.trust, &super::trust_name(&self.name))
            .await?;
        self.scopes = scopes;
        self.skipped.extend(skipped);
        Ok(())
    }

    /// Writes `record` as scope `idx`'s record, conditional on the version last read; it becomes
    /// the in-memory record only once written (a failed write changes nothing).
    async fn write_record(&mut self, idx: usize, mut record: ScopeRecord) -> VaultResult<u64> {
        record.v = SHARE_RECORD_VERSION;
        record.ctr = self.scopes[idx].record.ctr + 1;
        let state = &self.scopes[idx];
        let plain = zeroize::Zeroizing::new(to_dag_cbor(&record)?);
        let sealed = seal::seal_to_vec(&self.meta_options(), &plain)?;
        let len = sealed.len() as u64;
        let condition = match &state.version {
            Some(v) => HeadCondition::Matches(v.clone()),
            None => HeadCondition::Absent,
        };
        let version = self
            .store
            .write_head(
                &registry_name(&self.name),
                &state.writer,
                Bytes::from(sealed),
                condition,
            )
            .await
            .map_err(|e| match e {
                StoreError::PreconditionFailed(_) => VaultError::PreconditionFailed(
                    "another device changed this share's record; sync and try again".into(),
                ),
                other => VaultError::Store(other),
            })?;
        let _ = self
            .seen
            .check_record(&format!("share:{}", self.scopes[idx].writer), record.ctr);
        self.scopes[idx].version = Some(version);
        self.scopes[idx].record = record;
        let _ = self
            .seen
            .save(&*self.trust, &super::trust_name(&self.name))
            .await;
        Ok(len)
    }

    /// Every share this vault issued (as of the last open or sync), with its status now.
    pub fn shares(&self) -> Vec<ShareInfo> {
        let now = (self.share_clock)();
        let mut out = Vec::new();
        for s in &self.scopes {
            let scope = s.record.scope.to_scope();
            for r in &s.record.shares {
                let Ok(to) = r.to.parse() else { continue };
                let status = if r.revoked_ms.is_some() {
                    ShareStatus::Revoked
                } else if now >= r.exp {
                    ShareStatus::Expired
                } else if now < r.nbf {
                    ShareStatus::Pending
                } else {
                    ShareStatus::Active
                };
                out.push(ShareInfo {
                    id: ShareId(r.id),
                    scope: scope.clone(),
                    to,
                    not_before_ms: r.nbf,
                    expires_ms: r.exp,
                    issued_ms: r.iat,
                    revoked_ms: r.revoked_ms,
                    grant: r.n,
                    write: r.w,
                    status,
                });
            }
        }
        out.sort_by_key(|i| (i.issued_ms, i.id));
        out
    }

    /// Shares `scope` with `to` until `opts.expires_ms`: drops a signed capability, sealed to
    /// `to`, into their inbox on this vault's store. Returns the share id.
    ///
    /// - [`Scope::Version`]: the capability carries that version's two file keys (and the
    ///   presigned URL, if given). It cannot be taken back before it expires.
    /// - [`Scope::Object`] and [`Scope::Prefix`]: the capability carries the scope's current
    ///   epoch secret; this device publishes the epoch's view and keyring (the keys of every
    ///   object in scope are wrapped for it: metadata only, no object is re-uploaded). Later
    ///   writes in scope are published too, until a share of the epoch expires or is revoked:
    ///   the next write then starts a new epoch that only the remaining recipients receive.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, ShareOptions, Vault}};
    /// # use coffer::share::{read_inbox, Scope, ShareBook, SharedReader};
    /// # futures_executor::block_on(async {
    /// let store = Arc::new(MemoryStore::new());
    /// let (alice, bob) = (Identity::generate(), Identity::generate());
    /// let mut vault = Vault::create(store.clone(), alice, "photos", "laptop").await?;
    /// vault.put(b"2026/cat.jpg", b"meow".to_vec(), PutOptions::default()).await?;
    /// let week = coffer::share::parse_duration_ms("7d")?;
    /// let opts = ShareOptions { expires_ms: coffer::vault::now_ms() + week, ..Default::default() };
    /// vault.share(Scope::Prefix(b"2026/".to_vec()), bob.recipient(), opts).await?;
    ///
    /// // Bob, later, with only his identity and the store:
    /// let mut book = ShareBook::new();
    /// for entry in read_inbox(&*store, &bob).await? {
    ///     book.accept(entry.share?, coffer::vault::now_ms())?;
    /// }
    /// let share = book.iter().next().unwrap().clone();
    /// let reader = SharedReader::open(store, share).await?;
    /// assert_eq!(reader.get(b"2026/cat.jpg").await?, b"meow");
    /// assert!(reader.get(b"taxes.pdf").await.is_err()); // out of scope
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn share(
        &mut self,
        scope: Scope,
        to: &Recipient,
        opts: ShareOptions,
    ) -> VaultResult<ShareId> {
        let now = (self.share_clock)();
        let nbf = opts.not_before_ms.unwrap_or(now);
        if opts.expires_ms <= nbf || opts.expires_ms <= now {
            return Err(share_error(ShareError::Invalid(
                "the expiry must be in the future and after the start".into(),
            )));
        }
        match &scope {
            Scope::Object(k) | Scope::Version { key: k, .. } => super::objects::check_key(k)?,
            Scope::Prefix(p) if p.len() > crate::index::MAX_KEY_LEN => {
                return Err(VaultError::KeyTooLong { len: p.len() });
            }
            Scope::Prefix(_) => {}
        }
        if opts.write && matches!(scope, Scope::Version { .. }) {
            return Err(share_error(ShareError::Invalid(
                "a version share cannot grant write (a version is immutable)".into(),
            )));
        }
        if opts.presign && !matches!(scope, Scope::Version { .. }) {
            return Err(share_error(ShareError::Invalid(
                "a presigned URL fits a version share only".into(),
            )));
        }
        let mut id = [0u8; 16];
        crate::keys::fill_random(&mut id);
        let wire = ScopeWire::from_scope(&scope).map_err(share_error)?;
        let idx = self.scope_index(&wire)?;
        let mut record = ShareRecord {
            id,
            to: to.to_string(),
            nbf,
            exp: opts.expires_ms,
            iat: now,
            n: 1,
            epoch: 0,
            revoked_ms: None,
            w: opts.write,
        };
        let mut url = None;
        let keys = if let Scope::Version { key, version } = &scope {
            let (keys, m) = self.version_keys(key, version).await?;
            if opts.presign {
                url = Some(self.presign(&m, opts.expires_ms - now).await?);
            }
            keys
        } else {
            // Start a new epoch when there is none or the current one must end anyway.
            let rec = &self.scopes[idx].record;
            match rec.current() {
                Some(e) if !rec.needs_rotation(now) => {
                    record.epoch = e.n;
                    KeysWire {
                        epoch: Some(e.secret),
                        ..Default::default()
                    }
                }
                _ => {
                    let mut next = rec.clone();
                    next.shares.push(record);
                    // The new epoch's grants include this share's first one.
                    self.rotate_index(idx, next, Some(id)).await?;
                    return Ok(ShareId(id));
                }
            }
        };
        let mut next = self.scopes[idx].record.clone();
        next.shares.push(record.clone());
        self.write_record(idx, next).await?;
        if !matches!(scope, Scope::Version { .. }) {
            self.publish_scope(idx).await?;
        }
        self.grant(&wire, &record, keys, url, false).await?;
        Ok(ShareId(id))
    }

    /// The index of `wire`'s scope state, created empty when the registry has none.
    fn scope_index(&mut self, wire: &ScopeWire) -> VaultResult<usize> {
        let writer = self.scope_writer(wire)?;
        if let Some(i) = self.scopes.iter().position(|s| s.writer == writer) {
            return Ok(i);
        }
        self.scopes.push(ScopeState {
            writer,
            record: ScopeRecord {
                v: SHARE_RECORD_VERSION,
                vault: self.name.clone(),
                scope: wire.clone(),
                epochs: Vec::new(),
                shares: Vec::new(),
                ctr: 0,
            },
            version: None,
            view: None,
            settled: true,
        });
        Ok(self.scopes.len() - 1)
    }

    /// Signs, seals and delivers grant `record.n` of a share. A `redelivery` accepts an inbox
    /// entry of that name already there, whatever it holds (it is never written over; a format-1
    /// device delivered grants with random bytes).
    async fn grant(
        &self,
        wire: &ScopeWire,
        record: &ShareRecord,
        keys: KeysWire,
        url: Option<String>,
        redelivery: bool,
    ) -> VaultResult<u64> {
        let body = CapabilityBody {
            v: SHARE_VERSION,
            id: record.id,
            n: record.n,
            issuer: self.identity.recipient().to_string(),
            audience: record.to.clone(),
            vault: self.name.clone(),
            scope: wire.clone(),
            rights: if record.w {
                vec!["read".into(), "write".into()]
            } else {
                vec!["read".into()]
            },
            nbf: record.nbf,
            exp: record.exp,
            iat: record.iat,
            keys,
            url,
        };
        let envelope =
            Share::issue(&self.identity, body, &self.registry_key).map_err(share_error)?;
        let len = envelope.len() as u64;
        let to: Recipient = record
            .to
            .parse()
            .map_err(|_| internal("a recorded recipient does not parse"))?;
        match deliver(&*self.store, &to, ShareId(record.id), record.n, envelope).await {
            Ok(()) => {}
            Err(ShareError::Invalid(_)) if redelivery => {}
            Err(e) => return Err(share_error(e)),
        }
        Ok(len)
    }

    /// The manifest CID and the two file keys of `version` of `key`.
    async fn version_keys(&self, key: &[u8], version: &str) -> VaultResult<(KeysWire, Manifest)> {
        self.version_manifest(key, version).await?;
        let cid: Cid = version
            .parse()
            .map_err(|_| VaultError::InvalidVersion("not a CID".into()))?;
        let (mk, m) = self.manifest_key(&cid).await?;
        let dk = self.data_key(&m).await?;
        let keys = KeysWire {
            manifest: Some(cid),
            mk: Some(ByteArray::new(*mk.as_bytes())),
            dk: Some(ByteArray::new(*dk.as_bytes())),
            ..Default::default()
        };
        Ok((keys, m))
    }

    /// A presigned GET URL of the sealed object of `m` (block `data`) valid for `ms`, or a clear
    /// error when the store has none. An inline object's block is written first
    /// ([`Self::materialize`]): an IPFS store names only a block it holds.
    async fn presign(&self, m: &Manifest, ms: u64) -> VaultResult<String> {
        self.materialize(m).await?;
        self.store
            .presigned_get(&m.data, std::time::Duration::from_millis(ms))
            .await?
            .ok_or_else(|| {
                share_error(ShareError::Invalid(
                    "this store cannot make links (S3 stores can, and IPFS stores with a gateway)"
                        .into(),
                ))
            })
    }

    /// A share link to the current version of `key`, valid until `expires_ms` (at most 7 days on
    /// S3): a presigned URL of the sealed object (S3), or a trustless-gateway URL of it (IPFS,
    /// [`crate::store::ipfs::IpfsConfig::link_gateway`]), with the file key, BLAKE3 root and
    /// lengths in its `#fragment`. Anyone holding the link can read that version until it
    /// expires, with no identity; treat it like the file itself. S3 stops serving the URL at the
    /// expiry; an IPFS gateway never does (coffer's opener refuses the link, a modified one would
    /// not). It cannot be revoked before it expires (except by deleting the object's blocks).
    /// See [`crate::share::Link`].
    pub async fn share_link(&self, key: &[u8], expires_ms: u64) -> VaultResult<String> {
        let now = (self.share_clock)();
        if expires_ms <= now {
            return Err(share_error(ShareError::Invalid(
                "the expiry must be in the future".into(),
            )));
        }
        let (_, m) = self.current_manifest(key).await?;
        let dk = self.data_key(&m).await?;
        let url = self.presign(&m, expires_ms - now).await?;
        let mut secret = LinkSecret {
            v: 2,
            k: ByteArray::new(*dk.as_bytes()),
            b: ByteArray::new(m.blake3),
            n: m.sealed_len,
            p: m.plain_len,
            i: self.identity.recipient().to_bytes().to_vec(),
            name: String::from_utf8_lossy(&m.key).into_owned(),
            ct: m.content_type.clone(),
            exp: expires_ms.min(now + 7 * 86_400_000),
            s: None,
        };
        Link::build(&url, &mut secret, &self.identity).map_err(share_error)
    }

    /// Writes block `data` of an inline object (its manifest carries the sealed bytes), so a
    /// link can name it: the same bytes under the same CID, so writing it again is harmless. A
    /// collection keeps it as long as a manifest naming it is reachable (`prune.rs` marks
    /// `data` of every manifest). Nothing to do for other objects.
    async fn materialize(&self, m: &Manifest) -> VaultResult<()> {
        if m.inline.is_none() {
            return Ok(());
        }
        let sealed = self.sealed_object(m).await?;
        self.store.put(&m.data, sealed).await?;
        Ok(())
    }

    /// The file key of a sealed block of this vault whose bytes (`bytes`, at least its header)
    /// were verified against its CID: the header is checked (commitment, MAC) with the key.
    fn block_key(&self, cid: &Cid, bytes: &[u8]) -> VaultResult<FileKey> {
        self.with_unlock(|u| seal::file_key_of(u, bytes))
            .map_err(|e| VaultError::corrupt(cid, e))
    }

    /// A manifest's file key and contents (the manifest must be signed by the owner).
    async fn manifest_key(&self, cid: &Cid) -> VaultResult<(FileKey, Manifest)> {
        let bytes = self.fetch_block(cid).await?;
        let key = self.block_key(cid, &bytes)?;
        let opened =
            seal::open_to_vec_with_key(&key, &bytes).map_err(|e| VaultError::corrupt(cid, e))?;
        if !opened
            .signer
            .as_ref()
            .is_some_and(|s| self.is_manifest_signer(s))
        {
            return Err(VaultError::corrupt(cid, "not signed by the vault owner"));
        }
        let m = Manifest::decode(&opened.plaintext).map_err(|e| VaultError::corrupt(cid, e))?;
        Ok((key, m))
    }

    /// The file key of a manifest's sealed object, from its header alone (no content is read).
    /// The header's bytes are verified against the manifest's BLAKE3 root through the outboard
    /// first: a store that answers with another object's header cannot make the owner hand out
    /// that object's key.
    async fn data_key(&self, m: &Manifest) -> VaultResult<FileKey> {
        let prefix_end = (seal::PREFIX_LEN as u64).min(m.sealed_len);
        let first = self.verified_range(m, 0..prefix_end).await?;
        let len = seal::Header::len_from_prefix(&first)
            .map_err(|e| VaultError::corrupt(&m.data, e))? as u64;
        let header = if len <= first.len() as u64 {
            first
        } else {
            self.verified_range(m, 0..len.min(m.sealed_len)).await?
        };
        self.block_key(&m.data, &header)
    }

    /// Ends the current epoch of scope `idx` and starts a new one when some share of it is still
    /// live (or `force_for` is a share just added), then settles the scope.
    ///
    /// The record is the commit point: it is written first, and everything after it (grants to
    /// the live recipients, the new view, retiring the old views) is redone by
    /// [`Vault::publish_shares`] on the next commit if it was interrupted. Interrupted before the
    /// record, nothing changed; after it, recipients of the new epoch may briefly see no view
    /// (refused as revoked) until the rotation resumes. The owner's objects are never touched.
    async fn rotate_index(
        &mut self,
        idx: usize,
        mut next: ScopeRecord,
        force_for: Option<[u8; 16]>,
    ) -> VaultResult<RotationReport> {
        let now = (self.share_clock)();
        let rec = &mut next;
        let last_n = rec.epochs.last().map_or(0, |e| e.n);
        if let Some(e) = rec.epochs.last_mut()
            && e.closed_ms.is_none()
        {
            e.closed_ms = Some(now);
        }
        let live: Vec<usize> = rec
            .shares
            .iter()
            .enumerate()
            .filter(|(_, s)| s.live_at(now))
            .map(|(i, _)| i)
            .collect();
        if !live.is_empty() || force_for.is_some() {
            let mut secret = [0u8; 32];
            crate::keys::fill_random(&mut secret);
            let n = last_n + 1;
            rec.epochs.push(EpochRecord {
                n,
                secret: ByteArray::new(secret),
                created_ms: now,
                closed_ms: None,
            });
            zeroize::Zeroize::zeroize(&mut secret);
            for i in live {
                let s = &mut rec.shares[i];
                if Some(s.id) != force_for {
                    s.n += 1;
                }
                s.epoch = n;
            }
        }
        let written = self.write_record(idx, next).await?;
        self.scopes[idx].view = None;
        let mut report = self.settle_scope(idx, true).await?;
        report.bytes_written += written;
        Ok(report)
    }

    /// Brings scope `idx` to the state its record describes: grants of the current epoch
    /// delivered (when `deliver`, or when this device has no view of the epoch yet: a rotation
    /// may have stopped before delivering them), this device's view of it published, and its
    /// views of every closed epoch retired.
    async fn settle_scope(&mut self, idx: usize, deliver: bool) -> VaultResult<RotationReport> {
        let mut report = RotationReport::default();
        if let Some(e) = self.scopes[idx].record.current() {
            let (n, secret) = (e.n, zeroize::Zeroizing::new(*e.secret));
            let keys = EpochKeys::derive(&secret);
            // The view loaded here is the one publish_scope below continues from.
            let fresh = deliver || {
                let stored = self.load_view(n, keys).await?;
                let fresh = stored.is_none();
                self.scopes[idx].view = stored;
                fresh
            };
            if fresh {
                let wire = self.scopes[idx].record.scope.clone();
                let grants: Vec<ShareRecord> = self.scopes[idx]
                    .record
                    .shares
                    .iter()
                    .filter(|s| s.epoch == n && s.live_at((self.share_clock)()))
                    .cloned()
                    .collect();
                for g in grants {
                    let keys = KeysWire {
                        epoch: Some(ByteArray::new(*secret)),
                        ..Default::default()
                    };
                    // Not after a rotation record just written (`deliver`): then this redoes a
                    // delivery that may have happened (by this or an older device).
                    report.bytes_written += self.grant(&wire, &g, keys, None, !deliver).await?;
                    report.grants += 1;
                }
            }
            let published = self.publish_scope(idx).await?;
            report.epoch = published.epoch;
            report.objects = published.objects;
            report.keys = published.keys;
            report.bytes_written += published.bytes_written;
        }
        let closed: Vec<zeroize::Zeroizing<[u8; 32]>> = self.scopes[idx]
            .record
            .epochs
            .iter()
            .filter(|e| e.closed_ms.is_some())
            .map(|e| zeroize::Zeroizing::new(*e.secret))
            .collect();
        for secret in closed {
            report.bytes_written += self.retire_epoch(&EpochKeys::derive(&secret)).await?;
        }
        self.scopes[idx].settled = true;
        Ok(report)
    }

    /// Retires this device's view of a closed epoch if it is still live: readers holding only
    /// that epoch get [`ShareError::Revoked`], and its keyring chunks are deleted.
    async fn retire_epoch(&self, keys: &EpochKeys) -> VaultResult<u64> {
        self.retire_epoch_as(keys, &self.identity, &self.writer_name, self.writer)
            .await
    }

    /// [`Vault::retire_epoch`] as `identity` writing under `writer_name` (an identity rotation
    /// retires the old identity's view after its commit point, signed by the old identity).
    pub(super) async fn retire_epoch_as(
        &self,
        keys: &EpochKeys,
        identity: &crate::keys::Identity,
        writer_name: &str,
        writer: crate::index::WriterId,
    ) -> VaultResult<u64> {
        let name = view_name(&keys.id);
        let Some(head) = self.store.read_head(&name, writer_name).await? else {
            // This device never published a view of the epoch: it still leaves a retired one, so
            // readers are refused even while a device that has not seen the rotation yet keeps
            // publishing into the old epoch.
            let marker = ViewBody {
                v: SHARE_VERSION,
                vault: self.name.clone(),
                epoch: keys.id,
                writer: writer.0,
                root: None,
                src: None,
                keys: Vec::new(),
                tail: 0,
                time: now_ms(),
                seq: 1,
                writers: Vec::new(),
            };
            let bytes = marker.sign(identity).map_err(share_error)?;
            let len = bytes.len() as u64;
            match self
                .store
                .write_head(
                    &name,
                    writer_name,
                    Bytes::from(bytes),
                    HeadCondition::Absent,
                )
                .await
            {
                Ok(_) | Err(StoreError::PreconditionFailed(_)) => return Ok(len),
                Err(e) => return Err(e.into()),
            }
        };
        let body =
            ViewBody::decode_verified(identity.recipient(), &head.bytes).map_err(share_error)?;
        if body.root.is_none() {
            return Ok(0);
        }
        let retired = ViewBody {
            root: None,
            keys: Vec::new(),
            tail: 0,
            time: now_ms(),
            seq: body.seq + 1,
            v: SHARE_VERSION,
            ..body.clone()
        };
        let bytes = retired.sign(identity).map_err(share_error)?;
        let len = bytes.len() as u64;
        self.store
            .write_head(
                &name,
                writer_name,
                Bytes::from(bytes),
                HeadCondition::Matches(head.version),
            )
            .await?;
        for cid in &body.keys {
            // Best effort: a chunk left behind is unreadable without the old epoch secret.
            let _ = self.store.delete(cid).await;
        }
        Ok(len)
    }

    /// This device's view of epoch `n` as stored (with its keyring), or `None` when it has none.
    async fn load_view(&self, n: u64, keys: EpochKeys) -> VaultResult<Option<ViewState<S>>> {
        let tree = ProllyTree::new(self.store.clone(), &keys.index_key, IndexConfig::default())?;
        let Some(head) = self
            .store
            .read_head(&view_name(&keys.id), &self.writer_name)
            .await?
        else {
            return Ok(None);
        };
        let body = ViewBody::decode_verified(self.identity.recipient(), &head.bytes)
            .map_err(share_error)?;
        let mut tail_keys = Vec::new();
        let tail = usize::try_from(body.tail)
            .ok()
            .filter(|t| *t <= body.keys.len())
            .ok_or_else(|| internal("a view's tail is longer than its keyring"))?;
        for cid in &body.keys[body.keys.len() - tail..] {
            let bytes = self.fetch_block(cid).await?;
            let opened = seal::open_to_vec(&keys.identity, &bytes)
                .map_err(|e| VaultError::corrupt(cid, e))?;
            let chunk: KeyringChunk =
                from_dag_cbor(&opened.plaintext).map_err(|e| VaultError::corrupt(cid, e))?;
            for e in &chunk.keys {
                tail_keys.push((e.c, FileKey::from_bytes(*e.k)));
            }
        }
        let known = tail_keys.iter().map(|(c, _)| *c).collect();
        Ok(Some(ViewState {
            epoch: n,
            keys,
            tree,
            body,
            version: Some(head.version),
            tail_keys,
            known,
        }))
    }

    /// Brings this device's view of scope `idx`'s current epoch up to the vault's root: applies
    /// the changes in scope since the view's last source root and wraps the new file keys.
    async fn publish_scope(&mut self, idx: usize) -> VaultResult<RotationReport> {
        let mut report = RotationReport::default();
        let Some(epoch) = self.scopes[idx].record.current() else {
            return Ok(report);
        };
        let (n, secret) = (epoch.n, zeroize::Zeroizing::new(*epoch.secret));
        report.epoch = n;
        let stored = match self.scopes[idx].view.take() {
            Some(v) if v.epoch == n => Some(v),
            _ => self.load_view(n, EpochKeys::derive(&secret)).await?,
        };
        let mut view = match stored {
            Some(v) => v,
            None => {
                let keys = EpochKeys::derive(&secret);
                let tree =
                    ProllyTree::new(self.store.clone(), &keys.index_key, IndexConfig::default())?;
                let root = tree.empty_root().await?;
                ViewState {
                    epoch: n,
                    body: ViewBody {
                        v: SHARE_VERSION,
                        vault: self.name.clone(),
                        epoch: keys.id,
                        writer: self.writer.0,
                        root: Some(root),
                        src: None,
                        keys: Vec::new(),
                        tail: 0,
                        time: 0,
                        seq: 0,
                        writers: Vec::new(),
                    },
                    keys,
                    tree,
                    version: None,
                    tail_keys: Vec::new(),
                    known: HashSet::new(),
                }
            }
        };
        if view.body.root.is_none() {
            // Retired while its epoch is current: coffer never does that, so the store served an
            // old or foreign view head. Publishing into it again could reopen a revoked epoch.
            self.scopes[idx].view = Some(view);
            return Err(share_error(ShareError::Forged(
                "this device's view of the current epoch is retired: the store served a view \
                 head coffer never wrote; the share was not republished"
                    .into(),
            )));
        }
        let result = self.update_view(idx, &mut view, &mut report).await;
        // Interrupted by a collection: what this device holds of the view no longer matches the
        // view head in the store; it is read again next time.
        if !matches!(result, Err(VaultError::GcInterrupted)) {
            self.scopes[idx].view = Some(view);
        }
        result.map(|()| report)
    }

    async fn update_view(
        &self,
        idx: usize,
        view: &mut ViewState<S>,
        report: &mut RotationReport,
    ) -> VaultResult<()> {
        let scope = self.scopes[idx].record.scope.to_scope();
        let writers = self.view_writers(idx, view.epoch);
        let src = match view.body.src {
            Some(s) => s,
            None => self.tree.empty_root().await?,
        };
        if src == self.state.root && view.version.is_some() && view.body.writers == writers {
            return Ok(());
        }
        let (changes, _) = self.tree.diff(&src, &self.state.root).collect().await?;
        let mut muts = Vec::new();
        let mut values = Vec::new();
        for d in changes {
            if !scope.contains(&d.key) || super::reserved::is_reserved(&d.key) {
                continue;
            }
            match d.new {
                None => muts.push((d.key, Mutation::Remove)),
                Some(entry) => {
                    if let Some(v) = entry.value() {
                        values.push(IndexValue::decode(v)?);
                    }
                    muts.push((d.key, Mutation::Put(entry)));
                }
            }
        }
        report.objects += values.len() as u64;
        // The keys of the changed objects, fetched and opened WRAP_CONCURRENCY at a time (each
        // costs a manifest read and a ranged header read: round trips on a remote store).
        // (A hand-fed FuturesOrdered rather than `stream::iter(..).map(closure).buffered(..)`:
        // a closure over references makes the future not provably Send for the bindings.)
        let mut new_keys: Vec<(Cid, FileKey)> = Vec::new();
        let mut seen: HashSet<Cid> = HashSet::new();
        let mut pending = values.iter();
        let mut in_flight = futures_util::stream::FuturesOrdered::new();
        loop {
            while in_flight.len() < WRAP_CONCURRENCY {
                match pending.next() {
                    Some(value) => in_flight.push_back(self.wrap_value(value, &view.known)),
                    None => break,
                }
            }
            let Some(keys) = in_flight.next().await else {
                break;
            };
            for (cid, key) in keys? {
                if seen.insert(cid) {
                    new_keys.push((cid, key));
                }
            }
        }
        drop(in_flight);
        let root = view
            .body
            .root
            .ok_or(internal("a live view without a root"))?;
        let new_root = if muts.is_empty() {
            root
        } else {
            view.tree.apply(&root, muts).await?
        };
        report.keys += new_keys.len() as u64;
        let mut chunks = view.body.keys.clone();
        let mut tail = usize::try_from(view.body.tail)
            .unwrap_or(usize::MAX)
            .min(chunks.len());
        let mut old_chunks = Vec::new();
        view.known.extend(new_keys.iter().map(|(c, _)| *c));
        let to_write = if tail >= MAX_CHUNKS {
            // Merge the tail with the new keys into full chunks (and at most one small one).
            old_chunks = chunks.split_off(chunks.len() - tail);
            tail = 0;
            let mut merged = std::mem::take(&mut view.tail_keys);
            merged.extend(new_keys);
            merged
        } else {
            new_keys
        };
        for part in to_write.chunks(CHUNK_KEYS) {
            let (cid, len) = self.put_chunk(&view.keys, part).await?;
            report.bytes_written += len;
            if part.len() == CHUNK_KEYS {
                // Full chunks stay in front of the tail.
                chunks.insert(chunks.len() - tail, cid);
            } else {
                chunks.push(cid);
                tail += 1;
                view.tail_keys.extend(part.iter().cloned());
            }
        }
        let body = ViewBody {
            root: Some(new_root),
            src: Some(self.state.root),
            keys: chunks,
            tail: tail as u64,
            time: self.state.hlc.as_u64(),
            seq: view.body.seq + 1,
            v: SHARE_VERSION,
            writers,
            ..view.body.clone()
        };
        let bytes = body.sign(&self.identity).map_err(share_error)?;
        report.bytes_written += bytes.len() as u64;
        // The writer rule of garbage collection (see `gc.rs`): a collection that ran since this
        // device last saw the record may have taken the chunks and nodes just written.
        if !self.gc_still_idle().await? {
            return Err(VaultError::GcInterrupted);
        }
        let condition = match &view.version {
            Some(v) => HeadCondition::Matches(v.clone()),
            None => HeadCondition::Absent,
        };
        let version = self
            .store
            .write_head(
                &view_name(&view.keys.id),
                &self.writer_name,
                Bytes::from(bytes),
                condition,
            )
            .await?;
        view.body = body;
        view.version = Some(version);
        for cid in old_chunks {
            let _ = self.store.delete(&cid).await;
        }
        Ok(())
    }

    /// The file keys `value` needs (manifest, data, tags) that `have` lacks.
    async fn wrap_value(
        &self,
        value: &IndexValue,
        have: &HashSet<Cid>,
    ) -> VaultResult<Vec<(Cid, FileKey)>> {
        let mut out = Vec::with_capacity(3);
        // The manifest names the data, so it is opened even when its own key is known.
        let (mk, m) = self.manifest_key(&value.m).await?;
        if !have.contains(&value.m) {
            out.push((value.m, mk));
        }
        if !have.contains(&m.data) {
            let dk = self.data_key(&m).await?;
            out.push((m.data, dk));
        }
        if let Some(t) = &value.t
            && !have.contains(t)
        {
            let bytes = self.fetch_block(t).await?;
            out.push((*t, self.block_key(t, &bytes)?));
        }
        Ok(out)
    }

    async fn put_chunk(
        &self,
        epoch: &EpochKeys,
        keys: &[(Cid, FileKey)],
    ) -> VaultResult<(Cid, u64)> {
        let chunk = KeyringChunk {
            v: SHARE_VERSION,
            keys: keys
                .iter()
                .map(|(c, k)| KeyringEntry {
                    c: *c,
                    k: ByteArray::new(*k.as_bytes()),
                })
                .collect(),
        };
        let plain = zeroize::Zeroizing::new(to_dag_cbor(&chunk)?);
        let to = if self.post_quantum {
            epoch.identity.post_quantum_recipient()
        } else {
            epoch.identity.recipient()
        };
        let opts = SealOptions::new(vec![to.clone()]).signed_by(&self.identity);
        let sealed = seal::seal_to_vec(&opts, &plain)?;
        let cid = raw_cid(&sealed);
        let len = sealed.len() as u64;
        self.store.put(&cid, Bytes::from(sealed)).await?;
        Ok((cid, len))
    }

    /// Brings every shared view up to date, first ending epochs whose shares expired or were
    /// revoked. Runs after every commit; a failure there is kept in
    /// [`Vault::share_publish_error`] (the commit itself stands) and retried on the next commit.
    pub async fn publish_shares(&mut self) -> VaultResult<()> {
        let now = (self.share_clock)();
        for idx in 0..self.scopes.len() {
            if self.scopes[idx].record.scope.is_version() {
                continue;
            }
            if self.scopes[idx].record.needs_rotation(now) {
                let next = self.scopes[idx].record.clone();
                self.rotate_index(idx, next, None).await?;
            } else if !self.scopes[idx].settled {
                self.settle_scope(idx, false).await?;
            } else if self.scopes[idx].record.current().is_some() {
                self.publish_scope(idx).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn publish_after_commit(&mut self) {
        if self.scopes.is_empty() {
            return;
        }
        let mut tries = 0;
        let result = loop {
            // Read the registry again first: another device may have rotated or revoked since
            // this one last looked, and publishing into an epoch it closed would hand what was
            // just written to the recipients it cut off.
            let r = match self.load_shares().await {
                Ok(()) => self.publish_shares().await,
                Err(e) => Err(e),
            };
            match r {
                Err(VaultError::GcInterrupted) if tries < super::gc::RETRIES => {
                    tries += 1;
                    if let Err(e) = self.gc_settle().await {
                        break Err(e);
                    }
                }
                r => break r,
            }
        };
        self.share_publish_error = result.err().map(|e| e.to_string());
    }

    /// What the shares keep alive in a collection: the secret of every epoch of every scope (its
    /// views and keyrings), and the manifests of version shares not yet expired or revoked.
    pub(super) fn gc_share_roots(&self) -> (Vec<zeroize::Zeroizing<[u8; 32]>>, Vec<Cid>) {
        let now = (self.share_clock)();
        let mut secrets = Vec::new();
        let mut versions = Vec::new();
        for s in &self.scopes {
            for e in &s.record.epochs {
                secrets.push(zeroize::Zeroizing::new(*e.secret));
            }
            if let Some(v) = s.record.scope.version
                && s.record.shares.iter().any(|r| r.live_at(now))
            {
                versions.push(v);
            }
        }
        (secrets, versions)
    }

    /// Reads the time for sharing decisions (expiry, validity windows) from `clock` instead of
    /// the system clock.
    pub fn set_share_clock(&mut self, clock: crate::share::Clock) {
        self.share_clock = clock;
    }

    /// Why publishing the shared views failed after the last commit, if it did.
    pub fn share_publish_error(&self) -> Option<&str> {
        self.share_publish_error.as_deref()
    }

    /// Revokes share `id`: marks it revoked, then rotates its scope (a new epoch for the remaining
    /// recipients, who get a new grant in their inbox; the old epoch's view is retired). What the
    /// revoked recipient already read or could read stays theirs (see [`Vault::reencrypt`]).
    pub async fn revoke(&mut self, id: &ShareId) -> VaultResult<RotationReport> {
        // What co-writers committed up to now stays (read-write shares): merged before the
        // record that stops merging them is written. A failure there (a store serving an old
        // co-writer head, say) must not prevent the revocation: sync reports it.
        let _ = self.merge_cowriters().await;
        let now = (self.share_clock)();
        let idx = self
            .scopes
            .iter()
            .position(|s| s.record.shares.iter().any(|r| r.id == id.0))
            .ok_or_else(|| {
                share_error(ShareError::Invalid(format!("no share {id} in this vault")))
            })?;
        let mut next = self.scopes[idx].record.clone();
        if let Some(r) = next.shares.iter_mut().find(|r| r.id == id.0) {
            r.revoked_ms.get_or_insert(now);
        }
        if next.scope.is_version() {
            let bytes_written = self.write_record(idx, next).await?;
            return Ok(RotationReport {
                bytes_written,
                ..Default::default()
            });
        }
        self.rotate_index(idx, next, None).await
    }

    /// Rotates the keys of `scope` (an object or prefix that has shares): a new epoch whose
    /// keyring re-wraps every object's file keys (metadata only, no object is re-uploaded), new
    /// grants for every live recipient, and the old epoch retired.
    pub async fn rotate(&mut self, scope: &Scope) -> VaultResult<RotationReport> {
        let _ = self.merge_cowriters().await;
        let wire = ScopeWire::from_scope(scope).map_err(share_error)?;
        let writer = self.scope_writer(&wire)?;
        let idx = self
            .scopes
            .iter()
            .position(|s| s.writer == writer && !s.record.scope.is_version())
            .ok_or_else(|| share_error(ShareError::Invalid(format!("{scope} has no shares"))))?;
        let next = self.scopes[idx].record.clone();
        self.rotate_index(idx, next, None).await
    }

    /// Re-encrypts every object under `prefix` last written before `since_ms`: each is read,
    /// verified and put again with fresh random keys (a new version, same key, content type,
    /// metadata and tags), one commit per object. For a suspected key compromise.
    ///
    /// Resumable: run it again with the same `since_ms` after an interruption and it skips what
    /// is done; every object is at all times either its old or its new version, both readable.
    /// Old versions stay in the history (and in the store) until a retention rule expires them
    /// or [`Vault::purge`] takes them out and [`Vault::prune`] deletes them; objects are
    /// read whole into memory.
    pub async fn reencrypt(
        &mut self,
        prefix: &[u8],
        since_ms: u64,
    ) -> VaultResult<ReencryptReport> {
        let mut report = ReencryptReport::default();
        let mut req = ListRequest {
            prefix: prefix.to_vec(),
            ..Default::default()
        };
        loop {
            let page = self.list(&req).await?;
            for obj in &page.contents {
                let (_, m) = self.current_manifest(&obj.key).await?;
                if m.created_ms >= since_ms {
                    report.skipped += 1;
                    continue;
                }
                let tags = self.tags(&obj.key).await?;
                let plain = self.get(&obj.key).await?;
                report.bytes += plain.len() as u64;
                let opts = super::PutOptions {
                    content_type: m.content_type.clone(),
                    metadata: m.metadata.clone(),
                    if_match: Some(obj.etag.clone()),
                    tags,
                    ..Default::default()
                };
                self.put(&obj.key, plain, opts).await?;
                report.reencrypted += 1;
            }
            match page.next_continuation_token {
                Some(t) if page.is_truncated => req.continuation_token = Some(t),
                _ => break,
            }
        }
        Ok(report)
    }
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// Every recipient a share of this vault was given to (live or not), parsed (identity
    /// rotation refuses to hand the vault to one of them).
    pub(super) fn share_recipients(&self) -> Vec<crate::keys::Recipient> {
        self.scopes
            .iter()
            .flat_map(|s| s.record.shares.iter())
            .filter_map(|r| r.to.parse().ok())
            .collect()
    }

    /// The registry names of the share records this device holds.
    pub(super) fn share_record_names(&self) -> Vec<String> {
        self.scopes
            .iter()
            .filter(|s| s.version.is_some())
            .map(|s| s.writer.clone())
            .collect()
    }
}
