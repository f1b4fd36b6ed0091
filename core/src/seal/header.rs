//! The sealed header: layout, key schedule, stanzas, commitment, signature and MAC
//! (`docs/FORMAT.md` §3).
//!
//! Two versions are read; version 2 is written:
//! - **v1**: a 12-byte prefix, X25519 HPKE stanzas only, and (if signed) a sealed signature block
//!   in the header that covers the header and so the file key, not the payload.
//! - **v2**: a 16-byte prefix carrying the header length, typed stanzas (X25519 HPKE, X-Wing
//!   HPKE, secret-key), `coffer/v2/…` key labels, and (if signed) a signature in a trailer after
//!   the last segment that covers the whole object (see [`super::trailer`]).
//!
//! The signer's identity always travels encrypted: only recipients learn who sealed an object.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::SealError;
use super::rng::SealRng;
use crate::keys::{Identity, KemX25519, KemXWing, Recipient, SIGNATURE_LEN};

/// First six bytes of every sealed object.
pub const MAGIC: &[u8; 6] = b"COFFER";
/// The format version this build writes.
pub const VERSION: u8 = 2;
/// The oldest format version this build reads.
pub const OLDEST_VERSION: u8 = 1;
/// Bytes a reader needs to learn a header's length (v2's prefix; a v1 prefix is 12 bytes, and a
/// v1 header is always longer than this).
pub const PREFIX_LEN: usize = 16;
const V1_PREFIX_LEN: usize = 12;
/// Most recipients (stanzas) one object may have.
pub const MAX_RECIPIENTS: usize = 1024;
/// Smallest allowed `log2(segment size)`: 1 KiB.
pub const MIN_SEGMENT_LOG2: u8 = 10;
/// Largest allowed `log2(segment size)`: 16 MiB.
pub const MAX_SEGMENT_LOG2: u8 = 24;
/// Default `log2(segment size)`: 64 KiB.
pub const DEFAULT_SEGMENT_LOG2: u8 = 16;

const FLAG_SIGNED: u8 = 0x01;
const SALT_LEN: usize = 32;
const ENC_LEN: usize = 32;
/// X-Wing's encapsulated key (ML-KEM-768 ciphertext and an X25519 share).
pub(crate) const XWING_ENC_LEN: usize = 1120;
const WRAPPED_LEN: usize = 48;
const NONCE_LEN: usize = 12;
const COMMITMENT_LEN: usize = 32;
const SIGNER_LEN: usize = Recipient::LEN;
/// `AES-256-GCM(signature key, nonce 0, signer || signature)`: v1's header block and v2's trailer.
pub(crate) const SEALED_SIGNATURE_LEN: usize = SIGNER_LEN + SIGNATURE_LEN + 16;
const MAC_LEN: usize = 32;

/// Stanza kinds of a v2 header.
const KIND_X25519: u8 = 0x01;
const KIND_XWING: u8 = 0x02;
const KIND_SECRET: u8 = 0x03;

/// The longest header a reader accepts: every stanza X-Wing.
#[allow(dead_code)] // documents the bound the prefix check enforces
pub(crate) const MAX_HEADER_LEN: usize = PREFIX_LEN
    + SALT_LEN
    + MAX_RECIPIENTS * (1 + XWING_ENC_LEN + WRAPPED_LEN)
    + COMMITMENT_LEN
    + MAC_LEN;

/// Per-version labels.
struct Labels {
    hpke_info: &'static [u8],
    payload: &'static [u8],
    commitment: &'static [u8],
    mac: &'static [u8],
    signature: &'static [u8],
}

const V1: Labels = Labels {
    hpke_info: b"coffer/v1/file-key",
    payload: b"coffer/v1/payload",
    commitment: b"coffer/v1/commitment",
    mac: b"coffer/v1/header-mac",
    signature: b"coffer/v1/signature",
};

const V2: Labels = Labels {
    hpke_info: b"coffer/v2/file-key",
    payload: b"coffer/v2/payload",
    commitment: b"coffer/v2/commitment",
    mac: b"coffer/v2/header-mac",
    signature: b"coffer/v2/signature",
};

fn labels(version: u8) -> &'static Labels {
    if version == 1 { &V1 } else { &V2 }
}

const V1_SIGNATURE_CONTEXT: &[u8] = b"coffer/v1/header-signature\0";
const SECRET_STANZA_AAD: &[u8] = b"coffer/v2/secret-stanza";

type Aead = hpke::aead::AesGcm256;
type Kdf = hpke::kdf::HkdfSha256;

/// The keys of one object, derived from its file key and salt.
pub(crate) struct ObjectKeys {
    pub payload: Zeroizing<[u8; 32]>,
    pub commitment: [u8; 32],
    mac: Zeroizing<[u8; 32]>,
    signature: Zeroizing<[u8; 32]>,
}

impl ObjectKeys {
    pub(crate) fn derive(version: u8, file_key: &[u8; 32], salt: &[u8; 32]) -> Self {
        let l = labels(version);
        let hk = Hkdf::<Sha256>::new(Some(salt), file_key);
        let mut payload = Zeroizing::new([0u8; 32]);
        let mut commitment = [0u8; 32];
        let mut mac = Zeroizing::new([0u8; 32]);
        let mut signature = Zeroizing::new([0u8; 32]);
        for (info, out) in [
            (l.payload, payload.as_mut_slice()),
            (l.commitment, commitment.as_mut_slice()),
            (l.mac, mac.as_mut_slice()),
            (l.signature, signature.as_mut_slice()),
        ] {
            hk.expand(info, out)
                .expect("32 bytes is a valid HKDF-SHA256 output length");
        }
        Self {
            payload,
            commitment,
            mac,
            signature,
        }
    }

    /// The signature block cipher: its key is used for exactly one message per object, so a
    /// fixed all-zero nonce is safe.
    fn signature_cipher(&self) -> aes_gcm::Aes256Gcm {
        use aes_gcm::KeyInit as _;
        let key: &[u8; 32] = &self.signature;
        aes_gcm::Aes256Gcm::new(key.into())
    }

    /// Encrypts the signer and a signature: the v1 header block or the v2 trailer.
    pub(crate) fn seal_signature(
        &self,
        signer: &Recipient,
        sig: &[u8; SIGNATURE_LEN],
    ) -> [u8; SEALED_SIGNATURE_LEN] {
        use aes_gcm::aead::Aead as _;
        let mut pt = Zeroizing::new(Vec::with_capacity(SIGNER_LEN + SIGNATURE_LEN));
        pt.extend_from_slice(&signer.to_bytes());
        pt.extend_from_slice(sig);
        let ct = self
            .signature_cipher()
            .encrypt(&Default::default(), pt.as_slice())
            .expect("128 bytes are within AES-GCM limits");
        ct.as_slice()
            .try_into()
            .expect("128 bytes plus a 16-byte tag")
    }

    /// Decrypts a signature block: the signer (a valid recipient) and the signature.
    pub(crate) fn open_signature(
        &self,
        sealed: &[u8; SEALED_SIGNATURE_LEN],
    ) -> Option<(Recipient, [u8; SIGNATURE_LEN])> {
        use aes_gcm::aead::Aead as _;
        let pt = Zeroizing::new(
            self.signature_cipher()
                .decrypt(&Default::default(), sealed.as_slice())
                .ok()?,
        );
        let signer = Recipient::from_bytes(&pt[..SIGNER_LEN]).ok()?;
        let sig: [u8; SIGNATURE_LEN] = pt[SIGNER_LEN..].try_into().ok()?;
        Some((signer, sig))
    }

    fn mac(&self, bytes: &[u8]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(self.mac.as_ref())
            .expect("HMAC accepts any key length");
        m.update(bytes);
        m.finalize().into_bytes().into()
    }
}

/// A secret key that wraps file keys in secret-key stanzas (v2 stanza kind 3): what a vault uses
/// for blocks only its owner's devices read. Zeroized on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct WrapKey(Zeroizing<[u8; 32]>);

impl WrapKey {
    /// Wraps 32 key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    fn cipher(&self) -> aes_gcm::Aes256Gcm {
        use aes_gcm::KeyInit as _;
        let key: &[u8; 32] = &self.0;
        aes_gcm::Aes256Gcm::new(key.into())
    }
}

impl std::fmt::Debug for WrapKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WrapKey(…)")
    }
}

/// Who an object is sealed to: a recipient's public key (HPKE) or a secret wrap key.
#[derive(Clone, Debug)]
pub enum SealTo {
    /// An X25519 recipient (HPKE stanza).
    Recipient(Recipient),
    /// A secret wrap key (secret-key stanza; v2 only).
    Key(WrapKey),
}

/// One wrapped copy of the file key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Stanza {
    /// HPKE with DHKEM(X25519, HKDF-SHA256).
    X25519 {
        enc: [u8; ENC_LEN],
        wrapped: [u8; WRAPPED_LEN],
    },
    /// HPKE with X-Wing (ML-KEM-768 + X25519), for post-quantum recipients.
    XWing {
        enc: Box<[u8; XWING_ENC_LEN]>,
        wrapped: [u8; WRAPPED_LEN],
    },
    /// AES-256-GCM under a secret wrap key.
    Secret {
        nonce: [u8; NONCE_LEN],
        wrapped: [u8; WRAPPED_LEN],
    },
}

impl Stanza {
    fn encoded_len(&self, version: u8) -> usize {
        let kind = usize::from(version >= 2);
        kind + match self {
            Stanza::X25519 { .. } => ENC_LEN + WRAPPED_LEN,
            Stanza::XWing { .. } => XWING_ENC_LEN + WRAPPED_LEN,
            Stanza::Secret { .. } => NONCE_LEN + WRAPPED_LEN,
        }
    }

    fn write(&self, version: u8, out: &mut Vec<u8>) {
        match self {
            Stanza::X25519 { enc, wrapped } => {
                if version >= 2 {
                    out.push(KIND_X25519);
                }
                out.extend_from_slice(enc);
                out.extend_from_slice(wrapped);
            }
            Stanza::XWing { enc, wrapped } => {
                out.push(KIND_XWING);
                out.extend_from_slice(enc.as_slice());
                out.extend_from_slice(wrapped);
            }
            Stanza::Secret { nonce, wrapped } => {
                out.push(KIND_SECRET);
                out.extend_from_slice(nonce);
                out.extend_from_slice(wrapped);
            }
        }
    }
}

/// Wraps `file_key` to `to` (`docs/FORMAT.md` §3.2); the randomness drawn is the HPKE ephemeral
/// seed (32 bytes) or the stanza nonce (12 bytes).
pub(crate) fn wrap_file_key(
    version: u8,
    file_key: &[u8; 32],
    to: &SealTo,
    rng: &mut impl SealRng,
) -> Result<Stanza, SealError> {
    match to {
        SealTo::Recipient(r) if r.is_post_quantum() => {
            if version < 2 {
                return Err(SealError::Internal("X-Wing stanzas need format v2"));
            }
            let pk = r
                .xwing_hpke_public_key()
                .ok_or(SealError::InvalidRecipient)?;
            let (enc, mut ctx) = hpke::setup_sender_with_rng::<Aead, Kdf, KemXWing>(
                &OpModeS::Base,
                &pk,
                labels(version).hpke_info,
                rng,
            )
            .map_err(|_| SealError::InvalidRecipient)?;
            let wrapped = ctx
                .seal(file_key, b"")
                .map_err(|_| SealError::Internal("HPKE seal"))?;
            let wrapped: [u8; WRAPPED_LEN] = wrapped
                .as_slice()
                .try_into()
                .map_err(|_| SealError::Internal("HPKE output length"))?;
            let enc_bytes = enc.to_bytes();
            let mut enc = Box::new([0u8; XWING_ENC_LEN]);
            enc.copy_from_slice(&enc_bytes);
            Ok(Stanza::XWing { enc, wrapped })
        }
        SealTo::Recipient(r) => {
            let (enc, wrapped) = hpke_seal(
                &r.hpke_public_key(),
                labels(version).hpke_info,
                b"",
                file_key,
                rng,
            )?;
            let wrapped: [u8; WRAPPED_LEN] = wrapped
                .as_slice()
                .try_into()
                .map_err(|_| SealError::Internal("HPKE output length"))?;
            Ok(Stanza::X25519 { enc, wrapped })
        }
        SealTo::Key(key) => {
            use aes_gcm::aead::{Aead as _, Payload};
            if version < 2 {
                return Err(SealError::Internal("secret-key stanzas need format v2"));
            }
            let mut nonce = [0u8; NONCE_LEN];
            let Ok(()) = hpke::rand_core::TryRng::try_fill_bytes(rng, &mut nonce);
            let ct = key
                .cipher()
                .encrypt(
                    &nonce.into(),
                    Payload {
                        msg: file_key,
                        aad: SECRET_STANZA_AAD,
                    },
                )
                .map_err(|_| SealError::Internal("stanza encryption"))?;
            let wrapped: [u8; WRAPPED_LEN] = ct
                .as_slice()
                .try_into()
                .map_err(|_| SealError::Internal("stanza length"))?;
            Ok(Stanza::Secret { nonce, wrapped })
        }
    }
}

/// HPKE base-mode single-shot seal in coffer's suite; exposed to tests for RFC 9180 vectors.
pub(crate) fn hpke_seal(
    pk: &crate::keys::KemPublicKey,
    info: &[u8],
    aad: &[u8],
    plaintext: &[u8],
    rng: &mut impl SealRng,
) -> Result<([u8; ENC_LEN], Vec<u8>), SealError> {
    let (enc, mut ctx) =
        hpke::setup_sender_with_rng::<Aead, Kdf, KemX25519>(&OpModeS::Base, pk, info, rng)
            .map_err(|_| SealError::InvalidRecipient)?;
    let ct = ctx
        .seal(plaintext, aad)
        .map_err(|_| SealError::Internal("HPKE seal"))?;
    Ok((enc.to_bytes().into(), ct))
}

fn unwrap_x25519(
    enc: &[u8; ENC_LEN],
    wrapped: &[u8; WRAPPED_LEN],
    identity: &Identity,
    info: &[u8],
) -> Option<Zeroizing<[u8; 32]>> {
    unwrap_x25519_with(enc, wrapped, identity.hpke_secret_key(), info)
}

fn unwrap_x25519_with(
    enc: &[u8; ENC_LEN],
    wrapped: &[u8; WRAPPED_LEN],
    secret: &<KemX25519 as hpke::Kem>::PrivateKey,
    info: &[u8],
) -> Option<Zeroizing<[u8; 32]>> {
    let enc = <KemX25519 as hpke::Kem>::EncappedKey::from_bytes(enc).ok()?;
    let mut ctx =
        hpke::setup_receiver::<Aead, Kdf, KemX25519>(&OpModeR::Base, secret, &enc, info).ok()?;
    let pt = Zeroizing::new(ctx.open(wrapped, b"").ok()?);
    let key: [u8; 32] = pt.as_slice().try_into().ok()?;
    Some(Zeroizing::new(key))
}

fn unwrap_xwing(
    enc: &[u8; XWING_ENC_LEN],
    wrapped: &[u8; WRAPPED_LEN],
    identity: &Identity,
    info: &[u8],
) -> Option<Zeroizing<[u8; 32]>> {
    let enc = <KemXWing as hpke::Kem>::EncappedKey::from_bytes(enc).ok()?;
    let mut ctx = hpke::setup_receiver::<Aead, Kdf, KemXWing>(
        &OpModeR::Base,
        identity.xwing_secret_key(),
        &enc,
        info,
    )
    .ok()?;
    let pt = Zeroizing::new(ctx.open(wrapped, b"").ok()?);
    let key: [u8; 32] = pt.as_slice().try_into().ok()?;
    Some(Zeroizing::new(key))
}

/// Finds `identity`'s stanza: an X25519 stanza for its own X25519 key, an X-Wing stanza for its
/// X-Wing key, and last an X25519 stanza for the X25519 form of its Ed25519 key (sealed to its
/// `did:key`). Each stanza is tried once per key; HPKE's AEAD tag tells a match.
fn find_identity_stanza(
    stanzas: &[Stanza],
    identity: &Identity,
    info: &[u8],
) -> Option<Zeroizing<[u8; 32]>> {
    stanzas
        .iter()
        .find_map(|s| match s {
            Stanza::X25519 { enc, wrapped } => unwrap_x25519(enc, wrapped, identity, info),
            Stanza::XWing { enc, wrapped } => unwrap_xwing(enc, wrapped, identity, info),
            Stanza::Secret { .. } => None,
        })
        .or_else(|| {
            stanzas.iter().find_map(|s| match s {
                Stanza::X25519 { enc, wrapped } => {
                    unwrap_x25519_with(enc, wrapped, identity.did_kem_secret_key(), info)
                }
                _ => None,
            })
        })
}

fn unwrap_secret(
    nonce: &[u8; NONCE_LEN],
    wrapped: &[u8; WRAPPED_LEN],
    key: &WrapKey,
) -> Option<Zeroizing<[u8; 32]>> {
    use aes_gcm::aead::{Aead as _, Payload};
    let pt = Zeroizing::new(
        key.cipher()
            .decrypt(
                nonce.into(),
                Payload {
                    msg: wrapped,
                    aad: SECRET_STANZA_AAD,
                },
            )
            .ok()?,
    );
    let out: [u8; 32] = pt.as_slice().try_into().ok()?;
    Some(Zeroizing::new(out))
}

/// What unlocks a sealed object.
#[derive(Clone, Copy, Debug)]
pub enum Unlock<'a> {
    /// An identity: its X25519 HPKE stanza.
    Identity(&'a Identity),
    /// A secret wrap key: its secret-key stanza.
    Key(&'a WrapKey),
    /// The file key itself, obtained outside the header (a share's keyring, a link).
    FileKey(&'a super::FileKey),
    /// A secret wrap key's stanza, else an identity's (a vault reading blocks of either format).
    KeyOrIdentity(&'a WrapKey, &'a Identity),
}

impl<'a> From<&'a Identity> for Unlock<'a> {
    fn from(id: &'a Identity) -> Self {
        Unlock::Identity(id)
    }
}

/// What a header's authentication established about its signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HeaderSigner {
    /// Not signed.
    Unsigned,
    /// Signed in the header (v1): the signature covers the header and file key only.
    HeaderOnly(Recipient),
    /// Signed in a trailer (v2): the signer is learned, and checked, at the end of the object.
    Trailer,
}

/// A parsed or freshly built header.
#[derive(Clone)]
pub struct Header {
    version: u8,
    signed: bool,
    segment_log2: u8,
    salt: [u8; SALT_LEN],
    stanzas: Vec<Stanza>,
    commitment: [u8; COMMITMENT_LEN],
    /// v1 only: the sealed signature block.
    v1_signature: Option<[u8; SEALED_SIGNATURE_LEN]>,
    mac: [u8; MAC_LEN],
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("version", &self.version)
            .field("segment_size", &self.segment_size())
            .field("recipients", &self.stanzas.len())
            .field("signed", &self.is_signed())
            .finish_non_exhaustive()
    }
}

impl Header {
    /// Builds and authenticates a v2 header for a new object. A signed object's signature goes
    /// in its trailer, written after the payload.
    pub(crate) fn build(
        file_key: &[u8; 32],
        salt: [u8; SALT_LEN],
        segment_log2: u8,
        to: &[SealTo],
        signed: bool,
        rng: &mut impl SealRng,
    ) -> Result<(Self, ObjectKeys), SealError> {
        if to.is_empty() {
            return Err(SealError::NoRecipients);
        }
        if to.len() > MAX_RECIPIENTS {
            return Err(SealError::TooManyRecipients(to.len()));
        }
        check_segment_log2(segment_log2)?;
        let keys = ObjectKeys::derive(VERSION, file_key, &salt);
        let stanzas = to
            .iter()
            .map(|r| wrap_file_key(VERSION, file_key, r, rng))
            .collect::<Result<Vec<_>, _>>()?;
        let mut header = Header {
            version: VERSION,
            signed,
            segment_log2,
            salt,
            stanzas,
            commitment: keys.commitment,
            v1_signature: None,
            mac: [0; MAC_LEN],
        };
        let mut bytes = Vec::with_capacity(header.len());
        header.write_before_mac(&mut bytes);
        header.mac = keys.mac(&bytes);
        Ok((header, keys))
    }

    /// The format version (1 or 2).
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Plaintext bytes per segment.
    pub fn segment_size(&self) -> usize {
        1usize << self.segment_log2
    }

    /// `log2` of the segment size.
    pub fn segment_log2(&self) -> u8 {
        self.segment_log2
    }

    /// Number of stanzas (recipients and keys).
    pub fn recipient_count(&self) -> usize {
        self.stanzas.len()
    }

    /// The kind of each stanza, in order: 0x01 X25519, 0x02 X-Wing, 0x03 secret key
    /// (`docs/FORMAT.md` §3.2; a v1 header's stanzas are all X25519).
    pub fn stanza_kinds(&self) -> Vec<u8> {
        self.stanzas
            .iter()
            .map(|s| match s {
                Stanza::X25519 { .. } => KIND_X25519,
                Stanza::XWing { .. } => KIND_XWING,
                Stanza::Secret { .. } => KIND_SECRET,
            })
            .collect()
    }

    /// Whether a stanza wraps the file key with X-Wing (a post-quantum recipient).
    pub fn has_post_quantum_stanza(&self) -> bool {
        self.stanzas
            .iter()
            .any(|s| matches!(s, Stanza::XWing { .. }))
    }

    /// Whether the object is signed (v1: in the header; v2: in a trailer after the payload).
    /// Who signed is known only to recipients, after unlocking.
    pub fn is_signed(&self) -> bool {
        self.signed
    }

    /// Bytes after the payload: the v2 signature trailer (144 bytes) or nothing.
    pub fn trailer_len(&self) -> usize {
        if self.version >= 2 && self.signed {
            SEALED_SIGNATURE_LEN
        } else {
            0
        }
    }

    /// Encoded length in bytes.
    pub fn len(&self) -> usize {
        let stanzas: usize = self
            .stanzas
            .iter()
            .map(|s| s.encoded_len(self.version))
            .sum();
        if self.version == 1 {
            V1_PREFIX_LEN
                + SALT_LEN
                + stanzas
                + COMMITMENT_LEN
                + if self.signed { SEALED_SIGNATURE_LEN } else { 0 }
                + MAC_LEN
        } else {
            PREFIX_LEN + SALT_LEN + stanzas + COMMITMENT_LEN + MAC_LEN
        }
    }

    /// A header is never empty; provided for symmetry with [`Header::len`].
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The encoded header.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.write_before_mac(&mut out);
        out.extend_from_slice(&self.mac);
        out
    }

    fn write_prefix(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        out.push(self.version);
        out.push(if self.signed { FLAG_SIGNED } else { 0 });
        out.push(self.segment_log2);
        out.push(0); // reserved
        let n = u16::try_from(self.stanzas.len()).expect("at most MAX_RECIPIENTS stanzas");
        out.extend_from_slice(&n.to_be_bytes());
        if self.version >= 2 {
            let len = u32::try_from(self.len()).expect("headers are at most MAX_HEADER_LEN");
            out.extend_from_slice(&len.to_be_bytes());
        }
    }

    fn write_through_commitment(&self, out: &mut Vec<u8>) {
        self.write_prefix(out);
        out.extend_from_slice(&self.salt);
        for s in &self.stanzas {
            s.write(self.version, out);
        }
        out.extend_from_slice(&self.commitment);
    }

    /// Everything the MAC covers.
    fn write_before_mac(&self, out: &mut Vec<u8>) {
        self.write_through_commitment(out);
        if let Some(sealed) = &self.v1_signature {
            out.extend_from_slice(sealed);
        }
    }

    /// What a v1 signer signed: a context string, the header through the commitment, then the
    /// signer's public keys.
    fn v1_signed_message(&self, signer: &Recipient) -> Vec<u8> {
        let mut msg = V1_SIGNATURE_CONTEXT.to_vec();
        self.write_through_commitment(&mut msg);
        msg.extend_from_slice(&signer.to_bytes());
        msg
    }

    /// The total header length announced by its prefix, after checking the prefix. Lets a
    /// reader fetch exactly the header and nothing more. `prefix` needs [`PREFIX_LEN`] bytes
    /// (12 are enough for a v1 header).
    pub fn len_from_prefix(prefix: &[u8]) -> Result<usize, SealError> {
        Ok(Prefix::parse(prefix)?.header_len)
    }

    /// Parses a header from the start of `bytes` (which may continue with the payload).
    /// Checks structure only; unlocking checks authenticity.
    pub fn parse(bytes: &[u8]) -> Result<Self, SealError> {
        let p = Prefix::parse(bytes)?;
        if bytes.len() < p.header_len {
            return Err(SealError::TruncatedHeader {
                expected: p.header_len,
                found: bytes.len(),
            });
        }
        let mut r = Cursor {
            bytes: &bytes[..p.header_len],
            pos: if p.version == 1 {
                V1_PREFIX_LEN
            } else {
                PREFIX_LEN
            },
        };
        let salt = r.array::<SALT_LEN>()?;
        let mut stanzas = Vec::with_capacity(p.recipients);
        for _ in 0..p.recipients {
            let kind = if p.version == 1 {
                KIND_X25519
            } else {
                r.array::<1>()?[0]
            };
            stanzas.push(match kind {
                KIND_X25519 => Stanza::X25519 {
                    enc: r.array()?,
                    wrapped: r.array()?,
                },
                KIND_XWING => Stanza::XWing {
                    enc: Box::new(r.array()?),
                    wrapped: r.array()?,
                },
                KIND_SECRET => Stanza::Secret {
                    nonce: r.array()?,
                    wrapped: r.array()?,
                },
                _ => return Err(SealError::InvalidHeader("unknown stanza kind")),
            });
        }
        let commitment = r.array::<COMMITMENT_LEN>()?;
        let v1_signature = if p.version == 1 && p.signed {
            Some(r.array::<SEALED_SIGNATURE_LEN>()?)
        } else {
            None
        };
        let mac = r.array::<MAC_LEN>()?;
        if r.pos != p.header_len {
            return Err(SealError::InvalidHeader(
                "the header length does not match its stanzas",
            ));
        }
        Ok(Header {
            version: p.version,
            signed: p.signed,
            segment_log2: p.segment_log2,
            salt,
            stanzas,
            commitment,
            v1_signature,
            mac,
        })
    }

    /// Finds the file key with `unlock` (not yet checked against the commitment).
    fn find_file_key(&self, unlock: Unlock<'_>) -> Result<Zeroizing<[u8; 32]>, SealError> {
        let info = labels(self.version).hpke_info;
        let found = match unlock {
            Unlock::FileKey(k) => Some(Zeroizing::new(*k.as_bytes())),
            Unlock::Identity(id) => find_identity_stanza(&self.stanzas, id, info),
            Unlock::Key(key) => self.find_secret(key),
            Unlock::KeyOrIdentity(key, id) => self
                .find_secret(key)
                .or_else(|| find_identity_stanza(&self.stanzas, id, info)),
        };
        found.ok_or(SealError::NoMatchingRecipient)
    }

    fn find_secret(&self, key: &WrapKey) -> Option<Zeroizing<[u8; 32]>> {
        self.stanzas.iter().find_map(|s| match s {
            Stanza::Secret { nonce, wrapped } => unwrap_secret(nonce, wrapped, key),
            _ => None,
        })
    }

    /// Recovers the file key with `unlock` and checks the key commitment, the v1 signature (if
    /// any) and the header MAC, in that order. Returns the object's keys, the file key and what
    /// is known of the signer.
    pub(crate) fn unlock(
        &self,
        unlock: Unlock<'_>,
    ) -> Result<(ObjectKeys, Zeroizing<[u8; 32]>, HeaderSigner), SealError> {
        let file_key = self.find_file_key(unlock)?;
        let keys = ObjectKeys::derive(self.version, &file_key, &self.salt);
        if !bool::from(keys.commitment.ct_eq(&self.commitment)) {
            return Err(SealError::KeyCommitmentMismatch);
        }
        let signer = match (&self.v1_signature, self.signed) {
            (Some(sealed), _) => {
                let (signer, sig) = keys.open_signature(sealed).ok_or(SealError::BadSignature)?;
                if !signer.verify(&self.v1_signed_message(&signer), &sig) {
                    return Err(SealError::BadSignature);
                }
                HeaderSigner::HeaderOnly(signer)
            }
            (None, true) => HeaderSigner::Trailer,
            (None, false) => HeaderSigner::Unsigned,
        };
        let mut bytes = Vec::with_capacity(self.len());
        self.write_before_mac(&mut bytes);
        if !bool::from(keys.mac(&bytes).ct_eq(&self.mac)) {
            return Err(SealError::HeaderTampered);
        }
        Ok((keys, file_key, signer))
    }
}

struct Prefix {
    version: u8,
    signed: bool,
    segment_log2: u8,
    recipients: usize,
    header_len: usize,
}

impl Prefix {
    fn parse(bytes: &[u8]) -> Result<Self, SealError> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
                return Err(SealError::TruncatedHeader {
                    expected: PREFIX_LEN,
                    found: bytes.len(),
                });
            }
            return Err(SealError::NotSealed);
        }
        if bytes.len() < V1_PREFIX_LEN {
            return Err(SealError::TruncatedHeader {
                expected: V1_PREFIX_LEN,
                found: bytes.len(),
            });
        }
        let version = bytes[6];
        if !(OLDEST_VERSION..=VERSION).contains(&version) {
            return Err(SealError::UnsupportedVersion(version));
        }
        let flags = bytes[7];
        if flags & !FLAG_SIGNED != 0 {
            return Err(SealError::InvalidHeader("unknown flags are set"));
        }
        let segment_log2 = bytes[8];
        check_segment_log2(segment_log2)?;
        if bytes[9] != 0 {
            return Err(SealError::InvalidHeader("the reserved byte is not zero"));
        }
        let recipients = usize::from(u16::from_be_bytes([bytes[10], bytes[11]]));
        if recipients == 0 {
            return Err(SealError::InvalidHeader("the header has no recipients"));
        }
        if recipients > MAX_RECIPIENTS {
            return Err(SealError::InvalidHeader("more than 1024 recipients"));
        }
        let signed = flags & FLAG_SIGNED != 0;
        let header_len = if version == 1 {
            V1_PREFIX_LEN
                + SALT_LEN
                + recipients * (ENC_LEN + WRAPPED_LEN)
                + COMMITMENT_LEN
                + if signed { SEALED_SIGNATURE_LEN } else { 0 }
                + MAC_LEN
        } else {
            if bytes.len() < PREFIX_LEN {
                return Err(SealError::TruncatedHeader {
                    expected: PREFIX_LEN,
                    found: bytes.len(),
                });
            }
            let len = u32::from_be_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
            let smallest = PREFIX_LEN
                + SALT_LEN
                + recipients * (1 + NONCE_LEN + WRAPPED_LEN)
                + COMMITMENT_LEN
                + MAC_LEN;
            let largest = PREFIX_LEN
                + SALT_LEN
                + recipients * (1 + XWING_ENC_LEN + WRAPPED_LEN)
                + COMMITMENT_LEN
                + MAC_LEN;
            if len < smallest || len > largest {
                return Err(SealError::InvalidHeader(
                    "the header length cannot hold its stanzas",
                ));
            }
            len
        };
        Ok(Prefix {
            version,
            signed,
            segment_log2,
            recipients,
            header_len,
        })
    }
}

fn check_segment_log2(log2: u8) -> Result<(), SealError> {
    if (MIN_SEGMENT_LOG2..=MAX_SEGMENT_LOG2).contains(&log2) {
        Ok(())
    } else {
        Err(SealError::InvalidSegmentSize(log2))
    }
}

/// Reads fixed-size fields from a buffer; running out is an invalid header.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], SealError> {
        let end = self.pos + N;
        let src = self
            .bytes
            .get(self.pos..end)
            .ok_or(SealError::InvalidHeader(
                "the header length does not match its stanzas",
            ))?;
        let mut out = [0u8; N];
        out.copy_from_slice(src);
        self.pos = end;
        Ok(out)
    }
}
