//! The sealed header: layout, key schedule, HPKE stanzas, commitment, signature and MAC
//! (`docs/FORMAT.md` §3).
//!
//! The signature and the signer's public key travel encrypted (only recipients learn who sealed
//! an object; the storage server does not).

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::SealError;
use super::rng::SealRng;
use crate::keys::{Identity, KemX25519, Recipient, SIGNATURE_LEN};

/// First six bytes of every sealed object.
pub const MAGIC: &[u8; 6] = b"COFFER";
/// The format version this build writes and reads.
pub const VERSION: u8 = 1;
/// Length of the fixed prefix that tells how long the whole header is.
pub const PREFIX_LEN: usize = 12;
/// Most recipients one object may be sealed to.
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
const WRAPPED_LEN: usize = 48;
const STANZA_LEN: usize = ENC_LEN + WRAPPED_LEN;
const COMMITMENT_LEN: usize = 32;
const SIGNER_LEN: usize = Recipient::LEN;
/// `AES-256-GCM(signature key, nonce 0, signer || signature)`.
const SEALED_SIGNATURE_LEN: usize = SIGNER_LEN + SIGNATURE_LEN + 16;
const MAC_LEN: usize = 32;

const HPKE_INFO: &[u8] = b"coffer/v1/file-key";
const INFO_PAYLOAD: &[u8] = b"coffer/v1/payload";
const INFO_COMMITMENT: &[u8] = b"coffer/v1/commitment";
const INFO_HEADER_MAC: &[u8] = b"coffer/v1/header-mac";
const INFO_SIGNATURE: &[u8] = b"coffer/v1/signature";
const SIGNATURE_CONTEXT: &[u8] = b"coffer/v1/header-signature\0";

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
    pub(crate) fn derive(file_key: &[u8; 32], salt: &[u8; 32]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(salt), file_key);
        let mut payload = Zeroizing::new([0u8; 32]);
        let mut commitment = [0u8; 32];
        let mut mac = Zeroizing::new([0u8; 32]);
        let mut signature = Zeroizing::new([0u8; 32]);
        for (info, out) in [
            (INFO_PAYLOAD, payload.as_mut_slice()),
            (INFO_COMMITMENT, commitment.as_mut_slice()),
            (INFO_HEADER_MAC, mac.as_mut_slice()),
            (INFO_SIGNATURE, signature.as_mut_slice()),
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

    fn seal_signature(
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

    fn open_signature(
        &self,
        sealed: &[u8; SEALED_SIGNATURE_LEN],
    ) -> Option<(Recipient, [u8; SIGNATURE_LEN])> {
        use aes_gcm::aead::Aead as _;
        let pt = self
            .signature_cipher()
            .decrypt(&Default::default(), sealed.as_slice())
            .ok()?;
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

/// One HPKE-wrapped copy of the file key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Stanza {
    enc: [u8; ENC_LEN],
    wrapped: [u8; WRAPPED_LEN],
}

/// Wraps `file_key` to `recipient` with HPKE base mode (`docs/FORMAT.md` §3.2).
pub(crate) fn wrap_file_key(
    file_key: &[u8; 32],
    recipient: &Recipient,
    rng: &mut impl SealRng,
) -> Result<Stanza, SealError> {
    let (enc, wrapped) = hpke_seal(&recipient.hpke_public_key(), HPKE_INFO, b"", file_key, rng)?;
    let wrapped: [u8; WRAPPED_LEN] = wrapped
        .as_slice()
        .try_into()
        .map_err(|_| SealError::Internal("HPKE output length"))?;
    Ok(Stanza { enc, wrapped })
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

fn unwrap_file_key(stanza: &Stanza, identity: &Identity) -> Option<Zeroizing<[u8; 32]>> {
    let enc = <KemX25519 as hpke::Kem>::EncappedKey::from_bytes(&stanza.enc).ok()?;
    let mut ctx = hpke::setup_receiver::<Aead, Kdf, KemX25519>(
        &OpModeR::Base,
        identity.hpke_secret_key(),
        &enc,
        HPKE_INFO,
    )
    .ok()?;
    let pt = Zeroizing::new(ctx.open(&stanza.wrapped, b"").ok()?);
    let key: [u8; 32] = pt.as_slice().try_into().ok()?;
    Some(Zeroizing::new(key))
}

/// A parsed or freshly built header.
#[derive(Clone)]
pub struct Header {
    segment_log2: u8,
    salt: [u8; SALT_LEN],
    stanzas: Vec<Stanza>,
    commitment: [u8; COMMITMENT_LEN],
    sealed_signature: Option<[u8; SEALED_SIGNATURE_LEN]>,
    mac: [u8; MAC_LEN],
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Header")
            .field("segment_size", &self.segment_size())
            .field("recipients", &self.stanzas.len())
            .field("signed", &self.is_signed())
            .finish_non_exhaustive()
    }
}

impl Header {
    /// Builds and authenticates a header for a new object.
    pub(crate) fn build(
        file_key: &[u8; 32],
        salt: [u8; SALT_LEN],
        segment_log2: u8,
        recipients: &[Recipient],
        signer: Option<&Identity>,
        rng: &mut impl SealRng,
    ) -> Result<(Self, ObjectKeys), SealError> {
        if recipients.is_empty() {
            return Err(SealError::NoRecipients);
        }
        if recipients.len() > MAX_RECIPIENTS {
            return Err(SealError::TooManyRecipients(recipients.len()));
        }
        check_segment_log2(segment_log2)?;
        let keys = ObjectKeys::derive(file_key, &salt);
        let stanzas = recipients
            .iter()
            .map(|r| wrap_file_key(file_key, r, rng))
            .collect::<Result<Vec<_>, _>>()?;
        let mut header = Header {
            segment_log2,
            salt,
            stanzas,
            commitment: keys.commitment,
            sealed_signature: None,
            mac: [0; MAC_LEN],
        };
        if let Some(id) = signer {
            // The flag is part of the signed bytes, so set it (with a placeholder) first.
            header.sealed_signature = Some([0; SEALED_SIGNATURE_LEN]);
            let sig = id.sign(&header.signed_message(id.recipient()));
            header.sealed_signature = Some(keys.seal_signature(id.recipient(), &sig));
        }
        let mut bytes = Vec::with_capacity(header.len());
        header.write_through_signature(&mut bytes);
        header.mac = keys.mac(&bytes);
        Ok((header, keys))
    }

    /// Plaintext bytes per segment.
    pub fn segment_size(&self) -> usize {
        1usize << self.segment_log2
    }

    /// `log2` of the segment size.
    pub fn segment_log2(&self) -> u8 {
        self.segment_log2
    }

    /// Number of recipient stanzas.
    pub fn recipient_count(&self) -> usize {
        self.stanzas.len()
    }

    /// Whether the header carries a (sealed) signature. Who signed is known only to recipients,
    /// after unlocking.
    pub fn is_signed(&self) -> bool {
        self.sealed_signature.is_some()
    }

    /// Encoded length in bytes.
    pub fn len(&self) -> usize {
        encoded_len(self.stanzas.len(), self.is_signed())
    }

    /// A header is never empty; provided for symmetry with [`Header::len`].
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The encoded header.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        self.write_through_signature(&mut out);
        out.extend_from_slice(&self.mac);
        out
    }

    fn write_prefix(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        out.push(VERSION);
        out.push(if self.is_signed() { FLAG_SIGNED } else { 0 });
        out.push(self.segment_log2);
        out.push(0); // reserved
        let n = u16::try_from(self.stanzas.len()).expect("at most MAX_RECIPIENTS stanzas");
        out.extend_from_slice(&n.to_be_bytes());
    }

    /// What the signer signs: a context string, the header through the commitment, then the
    /// signer's public keys.
    fn signed_message(&self, signer: &Recipient) -> Vec<u8> {
        let mut msg = SIGNATURE_CONTEXT.to_vec();
        self.write_through_commitment(&mut msg);
        msg.extend_from_slice(&signer.to_bytes());
        msg
    }

    fn write_through_commitment(&self, out: &mut Vec<u8>) {
        self.write_prefix(out);
        out.extend_from_slice(&self.salt);
        for s in &self.stanzas {
            out.extend_from_slice(&s.enc);
            out.extend_from_slice(&s.wrapped);
        }
        out.extend_from_slice(&self.commitment);
    }

    fn write_through_signature(&self, out: &mut Vec<u8>) {
        self.write_through_commitment(out);
        if let Some(sealed) = &self.sealed_signature {
            out.extend_from_slice(sealed);
        }
    }

    /// The total header length announced by its fixed 12-byte prefix, after checking the
    /// prefix. Lets a reader fetch exactly the header and nothing more.
    pub fn len_from_prefix(prefix: &[u8]) -> Result<usize, SealError> {
        let p = Prefix::parse(prefix)?;
        Ok(encoded_len(p.recipients, p.signed))
    }

    /// Parses a header from the start of `bytes` (which may continue with the payload).
    /// Checks structure only; [`Header::unlock`] checks authenticity.
    pub fn parse(bytes: &[u8]) -> Result<Self, SealError> {
        let p = Prefix::parse(bytes)?;
        let len = encoded_len(p.recipients, p.signed);
        if bytes.len() < len {
            return Err(SealError::TruncatedHeader {
                expected: len,
                found: bytes.len(),
            });
        }
        let mut r = Cursor {
            bytes: &bytes[..len],
            pos: PREFIX_LEN,
        };
        let salt = r.array::<SALT_LEN>();
        let stanzas = (0..p.recipients)
            .map(|_| Stanza {
                enc: r.array(),
                wrapped: r.array(),
            })
            .collect();
        let commitment = r.array::<COMMITMENT_LEN>();
        let sealed_signature = p.signed.then(|| r.array::<SEALED_SIGNATURE_LEN>());
        let mac = r.array::<MAC_LEN>();
        Ok(Header {
            segment_log2: p.segment_log2,
            salt,
            stanzas,
            commitment,
            sealed_signature,
            mac,
        })
    }

    /// Finds the stanza addressed to `identity`, recovers the file key and checks the key
    /// commitment, the signature (if any) and the header MAC, in that order. Returns the
    /// object's keys and the verified signer.
    pub(crate) fn unlock(
        &self,
        identity: &Identity,
    ) -> Result<(ObjectKeys, Option<Recipient>), SealError> {
        let file_key = self.find_file_key(identity)?;
        self.unlock_with_key(&file_key)
    }

    /// The file key wrapped to `identity` (not yet checked against the commitment).
    fn find_file_key(&self, identity: &Identity) -> Result<Zeroizing<[u8; 32]>, SealError> {
        self.stanzas
            .iter()
            .find_map(|s| unwrap_file_key(s, identity))
            .ok_or(SealError::NoMatchingRecipient)
    }

    /// Recovers the file key wrapped to `identity` and checks the whole header with it (as
    /// [`Header::unlock`]), so the key returned is the one the object was sealed with.
    pub(crate) fn recover_file_key(
        &self,
        identity: &Identity,
    ) -> Result<(Zeroizing<[u8; 32]>, Option<Recipient>), SealError> {
        let file_key = self.find_file_key(identity)?;
        let (_, signer) = self.unlock_with_key(&file_key)?;
        Ok((file_key, signer))
    }

    /// Like [`Header::unlock`] with the file key given directly (a key shared outside the
    /// header's stanzas): checks the key commitment, the signature (if any) and the MAC.
    pub(crate) fn unlock_with_key(
        &self,
        file_key: &[u8; 32],
    ) -> Result<(ObjectKeys, Option<Recipient>), SealError> {
        let keys = ObjectKeys::derive(file_key, &self.salt);
        if !bool::from(keys.commitment.ct_eq(&self.commitment)) {
            return Err(SealError::KeyCommitmentMismatch);
        }
        let signer = match &self.sealed_signature {
            None => None,
            Some(sealed) => {
                let (signer, sig) = keys.open_signature(sealed).ok_or(SealError::BadSignature)?;
                if !signer.verify(&self.signed_message(&signer), &sig) {
                    return Err(SealError::BadSignature);
                }
                Some(signer)
            }
        };
        let mut bytes = Vec::with_capacity(self.len());
        self.write_through_signature(&mut bytes);
        if !bool::from(keys.mac(&bytes).ct_eq(&self.mac)) {
            return Err(SealError::HeaderTampered);
        }
        Ok((keys, signer))
    }
}

struct Prefix {
    signed: bool,
    segment_log2: u8,
    recipients: usize,
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
        if bytes.len() < PREFIX_LEN {
            return Err(SealError::TruncatedHeader {
                expected: PREFIX_LEN,
                found: bytes.len(),
            });
        }
        let version = bytes[6];
        if version != VERSION {
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
        Ok(Prefix {
            signed: flags & FLAG_SIGNED != 0,
            segment_log2,
            recipients,
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

fn encoded_len(recipients: usize, signed: bool) -> usize {
    PREFIX_LEN
        + SALT_LEN
        + recipients * STANZA_LEN
        + COMMITMENT_LEN
        + if signed { SEALED_SIGNATURE_LEN } else { 0 }
        + MAC_LEN
}

/// Reads fixed-size fields from a buffer whose length was checked up front.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.bytes[self.pos..self.pos + N]);
        self.pos += N;
        out
    }
}
