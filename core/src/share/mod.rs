//! Sharing: signed capabilities delivered to a recipient's inbox on the same store, and what a
//! recipient does with them (`docs/FORMAT.md` §9).
//!
//! - A **capability** says: *issuer* lets *audience* read *scope* of vault *vault* from
//!   *not-before* until *expiry*. It is signed by the issuer (Ed25519) and carries the keys the
//!   audience needs, then sealed (format §3) to the audience and signed again, so only the
//!   audience can read it and the store learns neither who shared what nor with whom beyond the
//!   inbox it sits in.
//! - The **inbox** of a recipient is a head-store namespace derived from their public recipient,
//!   so anyone who knows it can drop a share there, with no online exchange.
//! - **Scopes.** A *version* share carries the two file keys of that version (its manifest and
//!   its data). An *object* or *prefix* share carries the secret of the scope's current **epoch**:
//!   the owner's devices publish, per epoch, a view of the scope (an index encrypted under a key
//!   derived from the epoch secret) and a keyring that hands out the file keys of the objects in
//!   it. When a share expires or is revoked, the next write to the scope starts a new epoch that
//!   only the remaining recipients receive: versions written after that are not readable with the
//!   old capability, cryptographically, not just by policy.
//! - A recipient keeps accepted shares in a [`ShareBook`], which refuses replays (an older grant
//!   of a share it already holds) and expired or not-yet-valid capabilities, and reads with a
//!   [`SharedReader`].
//!
//! What expiry cannot do: bytes a recipient already read, and keys they already received, stay
//! with them. Expiry stops *new* reads through the SDK, and rotation stops access to *new*
//! versions; taking back what was already readable needs a re-encryption
//! ([`Vault::reencrypt`](crate::vault::Vault::reencrypt)) — and even that cannot erase copies.

pub(crate) mod cowrite;
pub(crate) mod format;
mod link;
mod reader;
mod writer;

use std::collections::BTreeMap;

pub use cowrite::{Refusal, cowriter_id};
pub use format::inbox_name;
pub(crate) use format::{CapabilityBody, EpochKeys, KeysWire, ViewBody, view_name};
pub use format::{Scope, ShareId, fuzz_decoders};
pub use link::Link;
pub(crate) use link::LinkSecret;
pub use reader::{SharedObject, SharedReader};
pub use writer::SharedWriter;

use crate::block::{Cid, from_dag_cbor, to_dag_cbor};
use crate::keys::{Identity, Recipient};
use crate::seal::{self, FileKey, SealOptions};
use crate::store::{HeadCondition, HeadStore, StoreError};

/// Errors of sharing: every way a capability or a shared view can be refused.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    /// The capability's expiry has passed.
    #[error("the share expired at {expired_ms} ms since the epoch; ask the owner for a new one")]
    Expired {
        /// When it expired (ms since the Unix epoch).
        expired_ms: u64,
    },
    /// The capability is not valid yet.
    #[error("the share is not valid before {not_before_ms} ms since the epoch")]
    NotYetValid {
        /// When it becomes valid (ms since the Unix epoch).
        not_before_ms: u64,
    },
    /// The share is addressed to another identity (this one cannot open it).
    #[error("this share is addressed to another identity")]
    NotForMe,
    /// A signature does not verify, or the signer is not who the capability says.
    #[error("forged share: {0}; it was refused")]
    Forged(String),
    /// The bytes do not decode as a capability, view or keyring of this format.
    #[error("malformed share data: {0}")]
    Malformed(String),
    /// A key outside the capability's scope was asked for.
    #[error("that key is outside the scope of this share")]
    OutOfScope,
    /// An older (or the same) grant of a share already accepted.
    #[error("share {id} grant {got} is a replay: grant {have} is already accepted")]
    Replayed {
        /// The share.
        id: String,
        /// The grant already held.
        have: u64,
        /// The grant offered.
        got: u64,
    },
    /// The owner revoked the share or rotated its scope to an epoch this capability lacks.
    #[error(
        "the owner revoked this share or rotated its keys; accept the newer grant from your inbox if there is one"
    )]
    Revoked,
    /// No object under that key in the share (or not readable with it).
    #[error("no object under that key in this share")]
    NotFound,
    /// A block the share refers to is damaged or missing.
    #[error("block {cid} is corrupt: {detail}")]
    Corrupt {
        /// The block.
        cid: String,
        /// What is wrong.
        detail: String,
    },
    /// The request itself is wrong (a bad duration, an unknown share id, …).
    #[error("invalid share request: {0}")]
    Invalid(String),
    /// The share does not grant `write`, or the owner's views do not list this identity as a
    /// writer of the share's epoch.
    #[error(
        "this share does not let you write (it is read-only, or the owner no longer lists you as a writer)"
    )]
    NotWriter,
    /// A write to a key outside the share's scope (or a reserved key).
    #[error(
        "cannot write {}: it is outside the scope of this share",
        String::from_utf8_lossy(key)
    )]
    WriteOutsideScope {
        /// The key.
        key: Vec<u8>,
    },
    /// A co-writer head that does not decrypt or verify, or names another writer, share or epoch.
    #[error("forged co-writer head: {0}; it was refused")]
    ForgedWriterHead(String),
    /// A store error.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An index error (reading a shared view).
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
}

/// Result of sharing operations.
pub type ShareResult<T> = Result<T, ShareError>;

/// Where expiry decisions read the time (ms since the Unix epoch). The default is the system
/// clock; an app with a better time source (or a test) can give its own.
pub type Clock = std::sync::Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    std::sync::Arc::new(crate::vault::now_ms)
}

impl ShareError {
    pub(crate) fn corrupt(cid: &Cid, detail: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            cid: cid.to_string(),
            detail: detail.to_string(),
        }
    }
}

impl From<crate::block::BlockError> for ShareError {
    fn from(e: crate::block::BlockError) -> Self {
        Self::Malformed(e.to_string())
    }
}

/// A verified capability addressed to this identity (not yet checked against the clock: see
/// [`Share::check_time`]). Holds the keys it grants; `Debug` never shows them.
#[derive(Clone)]
pub struct Share {
    body: CapabilityBody,
    issuer: Recipient,
    audience: Recipient,
    envelope: Vec<u8>,
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Share")
            .field("id", &self.id())
            .field("grant", &self.body.n)
            .field("issuer", &self.body.issuer)
            .field("vault", &self.body.vault)
            .field("scope", &self.scope())
            .field("not_before_ms", &self.body.nbf)
            .field("expires_ms", &self.body.exp)
            .finish_non_exhaustive()
    }
}

impl Share {
    /// Opens an envelope (from an inbox or a [`ShareBook`]) with `identity`: it must be sealed to
    /// `identity`, signed by the issuer it names, and carry a capability signed by that issuer
    /// and addressed to `identity`. The clock is not checked here.
    pub fn open(identity: &Identity, envelope: &[u8]) -> ShareResult<Self> {
        let opened = seal::open_to_vec(identity, envelope).map_err(|e| match e {
            seal::SealError::NoMatchingRecipient => ShareError::NotForMe,
            seal::SealError::NotSealed
            | seal::SealError::UnsupportedVersion(_)
            | seal::SealError::InvalidHeader(_)
            | seal::SealError::TruncatedHeader { .. } => ShareError::Malformed(e.to_string()),
            other => ShareError::Forged(other.to_string()),
        })?;
        let (body, issuer) = format::decode_signed_capability(&opened.plaintext)?;
        if !opened
            .signer
            .as_ref()
            .is_some_and(|s| s.same_identity(&issuer))
        {
            return Err(ShareError::Forged(
                "the envelope is not sealed by the capability's issuer".into(),
            ));
        }
        let audience: Recipient = body
            .audience
            .parse()
            .map_err(|_| ShareError::Malformed("the audience is not a recipient".into()))?;
        if !audience.same_identity(identity.recipient()) {
            return Err(ShareError::NotForMe);
        }
        Ok(Self {
            body,
            issuer,
            audience,
            envelope: envelope.to_vec(),
        })
    }

    /// Builds, signs and seals a capability (the owner's side).
    ///
    /// The seal's randomness comes from `seed_key` and the signed capability, so delivering the
    /// same grant again (a resumed rotation) gives the same bytes: an inbox entry already there
    /// can be recognised as this grant rather than written over.
    pub(crate) fn issue(
        issuer: &Identity,
        body: CapabilityBody,
        seed_key: &[u8; 32],
    ) -> ShareResult<Vec<u8>> {
        let audience: Recipient = body
            .audience
            .parse()
            .map_err(|_| ShareError::Invalid("the audience is not a recipient".into()))?;
        let signed = zeroize::Zeroizing::new(format::sign_capability(issuer, &body)?);
        let mut h = blake3::Hasher::new_keyed(seed_key);
        h.update(b"coffer v2 grant envelope\0");
        h.update(&signed);
        let seed = zeroize::Zeroizing::new(*h.finalize().as_bytes());
        let opts = SealOptions::new(vec![audience]).signed_by(issuer);
        seal::seal_to_vec_with_rng(&opts, &signed, &mut seal::SeededRng::new(&seed))
            .map_err(|e| ShareError::Invalid(e.to_string()))
    }

    /// The share id (the same for every grant of one share).
    pub fn id(&self) -> ShareId {
        ShareId(self.body.id)
    }

    /// The grant number: 1, then one more each time the owner re-grants after a rotation.
    pub fn grant(&self) -> u64 {
        self.body.n
    }

    /// Who issued it (the vault owner).
    pub fn issuer(&self) -> &Recipient {
        &self.issuer
    }

    /// Who it is for.
    pub fn audience(&self) -> &Recipient {
        &self.audience
    }

    /// The vault it reads from.
    pub fn vault(&self) -> &str {
        &self.body.vault
    }

    /// What it covers.
    pub fn scope(&self) -> Scope {
        self.body.scope.to_scope()
    }

    /// The rights granted: `["read"]`, or `["read", "write"]` for a read-write share.
    pub fn rights(&self) -> &[String] {
        &self.body.rights
    }

    /// Valid from (ms since the Unix epoch).
    pub fn not_before_ms(&self) -> u64 {
        self.body.nbf
    }

    /// Valid until, exclusive (ms since the Unix epoch).
    pub fn expires_ms(&self) -> u64 {
        self.body.exp
    }

    /// When it was issued (ms since the Unix epoch).
    pub fn issued_ms(&self) -> u64 {
        self.body.iat
    }

    /// A presigned URL of the shared version's sealed bytes, when the owner's store could make
    /// one (S3): the server itself stops honouring it at expiry (or after 7 days, S3's limit).
    pub fn presigned_url(&self) -> Option<&str> {
        self.body.url.as_deref()
    }

    /// The sealed envelope (only the audience can open it): what a [`ShareBook`] keeps.
    pub fn envelope(&self) -> &[u8] {
        &self.envelope
    }

    /// Fails unless `now_ms` lies in `[not_before, expiry)`.
    pub fn check_time(&self, now_ms: u64) -> ShareResult<()> {
        if now_ms < self.body.nbf {
            return Err(ShareError::NotYetValid {
                not_before_ms: self.body.nbf,
            });
        }
        if now_ms >= self.body.exp {
            return Err(ShareError::Expired {
                expired_ms: self.body.exp,
            });
        }
        Ok(())
    }

    pub(crate) fn epoch_keys(&self) -> ShareResult<EpochKeys> {
        match &self.body.keys.epoch {
            Some(secret) => Ok(EpochKeys::derive(secret)),
            None => Err(ShareError::Malformed(
                "an object or prefix share without an epoch key".into(),
            )),
        }
    }

    pub(crate) fn version_keys(&self) -> ShareResult<(Cid, FileKey, FileKey)> {
        let k = &self.body.keys;
        match (&k.manifest, &k.mk, &k.dk) {
            (Some(m), Some(mk), Some(dk)) => {
                Ok((*m, FileKey::from_bytes(**mk), FileKey::from_bytes(**dk)))
            }
            _ => Err(ShareError::Malformed(
                "a version share without its keys".into(),
            )),
        }
    }
}

/// One entry of an inbox: the share, or why it was refused (a bad entry never hides the others).
#[derive(Debug)]
pub struct InboxEntry {
    /// The entry's name in the inbox (`<share id>-<grant>`).
    pub name: String,
    /// The verified share, or the reason it is refused.
    pub share: ShareResult<Share>,
}

/// Reads every share waiting in `identity`'s inboxes on `store` (the one of its recipient, which
/// shares to its post-quantum form use too, and the one of its `did:key` form). Each entry is verified (sealed
/// to `identity`, signed by its issuer, named after its id and grant); the clock is not checked
/// (a [`ShareBook`] does that on accept).
pub async fn read_inbox<S: HeadStore + ?Sized>(
    store: &S,
    identity: &Identity,
) -> ShareResult<Vec<InboxEntry>> {
    // Shares addressed to the identity's did:key land in the inbox of that form's keys: both
    // inboxes are read at once.
    let own_inbox = inbox_name(identity.recipient());
    let own = store.read_heads(&own_inbox);
    let heads = match Recipient::from_did_key(&identity.did_key()) {
        Ok(did) => {
            let did_inbox = inbox_name(&did);
            let (own, did) = futures_util::future::join(own, store.read_heads(&did_inbox)).await;
            let mut heads = own?;
            heads.extend(did?);
            heads
        }
        Err(_) => own.await?,
    };
    let mut out: Vec<InboxEntry> = heads
        .into_iter()
        .map(|h| {
            let share = Share::open(identity, &h.bytes).and_then(|s| {
                if entry_name(s.id(), s.grant()) == h.writer {
                    Ok(s)
                } else {
                    Err(ShareError::Forged(
                        "the inbox entry's name does not match the share inside (moved or replayed)"
                            .into(),
                    ))
                }
            });
            InboxEntry {
                name: h.writer,
                share,
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The inbox entry name of grant `n` of share `id`.
pub(crate) fn entry_name(id: ShareId, n: u64) -> String {
    format!("{id}-{n}")
}

/// Drops a sealed envelope into `audience`'s inbox (the owner's side).
pub(crate) async fn deliver<S: HeadStore + ?Sized>(
    store: &S,
    audience: &Recipient,
    id: ShareId,
    n: u64,
    envelope: Vec<u8>,
) -> ShareResult<()> {
    let inbox = inbox_name(audience);
    let name = entry_name(id, n);
    // Never over another entry: what is there (an earlier delivery of this very grant, or
    // something anyone with write access put there) stays as it is.
    match store
        .write_head(
            &inbox,
            &name,
            bytes::Bytes::from(envelope.clone()),
            HeadCondition::Absent,
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(StoreError::PreconditionFailed(_)) => {
            // The same grant delivered before (envelopes are deterministic per grant) is fine.
            match store.read_head(&inbox, &name).await? {
                Some(h) if h.bytes.as_ref() == envelope.as_slice() => Ok(()),
                _ => Err(ShareError::Invalid(format!(
                    "inbox entry {name} already holds something else; a grant is never written \
                     over (the recipient's inbox may be tampered with)"
                ))),
            }
        }
        Err(e) => Err(ShareError::Store(e)),
    }
}

/// What [`ShareBook::accept`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// A share not held before.
    New,
    /// A newer grant of a share already held (after the owner rotated its keys).
    Updated,
}

/// The shares a recipient accepted, by id. Refuses replays and capabilities outside their
/// validity window; persists sealed to its owner ([`ShareBook::to_bytes`]).
#[derive(Clone, Debug, Default)]
pub struct ShareBook {
    shares: BTreeMap<ShareId, Share>,
}

impl ShareBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `share` at time `now_ms`: refused when expired or not yet valid, and when the book
    /// already holds the same or a newer grant of it ([`ShareError::Replayed`]) or a grant of the
    /// same id from another issuer ([`ShareError::Forged`]).
    pub fn accept(&mut self, share: Share, now_ms: u64) -> ShareResult<Accepted> {
        if now_ms >= share.expires_ms() {
            return Err(ShareError::Expired {
                expired_ms: share.expires_ms(),
            });
        }
        let id = share.id();
        match self.shares.get(&id) {
            Some(have) if !have.issuer().same_identity(share.issuer()) => Err(ShareError::Forged(
                "a share with this id from another issuer is already accepted".into(),
            )),
            Some(have) if have.grant() >= share.grant() => Err(ShareError::Replayed {
                id: id.to_string(),
                have: have.grant(),
                got: share.grant(),
            }),
            Some(_) => {
                self.shares.insert(id, share);
                Ok(Accepted::Updated)
            }
            None => {
                self.shares.insert(id, share);
                Ok(Accepted::New)
            }
        }
    }

    /// The share with this id.
    pub fn get(&self, id: &ShareId) -> Option<&Share> {
        self.shares.get(id)
    }

    /// Finds a share by the start of its id's text (at least 4 characters), as the CLI does.
    pub fn find(&self, id_prefix: &str) -> ShareResult<&Share> {
        if id_prefix.len() < 4 {
            return Err(ShareError::Invalid(
                "give at least 4 characters of the share id".into(),
            ));
        }
        let mut found = self
            .shares
            .iter()
            .filter(|(id, _)| id.to_string().starts_with(id_prefix));
        match (found.next(), found.next()) {
            (Some((_, s)), None) => Ok(s),
            (None, _) => Err(ShareError::Invalid(format!(
                "no accepted share with id {id_prefix}…"
            ))),
            _ => Err(ShareError::Invalid(format!(
                "several shares start with {id_prefix}; give more of the id"
            ))),
        }
    }

    /// Every share, by id.
    pub fn iter(&self) -> impl Iterator<Item = &Share> {
        self.shares.values()
    }

    /// Forgets a share.
    pub fn remove(&mut self, id: &ShareId) -> Option<Share> {
        self.shares.remove(id)
    }

    /// Number of shares.
    pub fn len(&self) -> usize {
        self.shares.len()
    }

    /// Whether the book is empty.
    pub fn is_empty(&self) -> bool {
        self.shares.is_empty()
    }

    /// The book sealed to `identity` (and signed by it): safe to keep on disk.
    pub fn to_bytes(&self, identity: &Identity) -> ShareResult<Vec<u8>> {
        let envelopes: Vec<serde_bytes::ByteBuf> = self
            .shares
            .values()
            .map(|s| serde_bytes::ByteBuf::from(s.envelope.clone()))
            .collect();
        let plain = to_dag_cbor(&envelopes)?;
        let opts = SealOptions::new(vec![identity.recipient().clone()]).signed_by(identity);
        seal::seal_to_vec(&opts, &plain).map_err(|e| ShareError::Invalid(e.to_string()))
    }

    /// Reads a book written by [`ShareBook::to_bytes`]; every share in it is verified again.
    pub fn from_bytes(identity: &Identity, bytes: &[u8]) -> ShareResult<Self> {
        let opened = seal::open_to_vec(identity, bytes).map_err(|e| match e {
            seal::SealError::NoMatchingRecipient => ShareError::NotForMe,
            other => ShareError::Malformed(format!("share book: {other}")),
        })?;
        if !opened
            .signer
            .as_ref()
            .is_some_and(|s| s.same_identity(identity.recipient()))
        {
            return Err(ShareError::Forged(
                "the share book is not signed by its owner".into(),
            ));
        }
        let envelopes: Vec<serde_bytes::ByteBuf> = from_dag_cbor(&opened.plaintext)?;
        let mut book = Self::new();
        for e in envelopes {
            let share = Share::open(identity, &e)?;
            book.shares.insert(share.id(), share);
        }
        Ok(book)
    }
}

/// Parses a duration such as `30s`, `15m`, `1h`, `7d` or `2w` (one number and one unit) into
/// milliseconds. What `--expires` takes.
pub fn parse_duration_ms(text: &str) -> ShareResult<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| ShareError::Invalid(format!("{text:?} has no unit; use s, m, h, d or w")))?;
    let (num, unit) = text.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| ShareError::Invalid(format!("{text:?} does not start with a number")))?;
    let unit_ms: u64 = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => {
            return Err(ShareError::Invalid(format!(
                "unknown unit {unit:?} in {text:?}; use s, m, h, d or w"
            )));
        }
    };
    match n.checked_mul(unit_ms) {
        Some(0) => Err(ShareError::Invalid("a duration must be positive".into())),
        Some(ms) => Ok(ms),
        None => Err(ShareError::Invalid(format!("{text:?} is too long"))),
    }
}

#[cfg(test)]
mod cowrite_tests;
#[cfg(test)]
mod tests;
