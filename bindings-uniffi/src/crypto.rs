//! Identities, recipients, seal/open, Bao verification and CIDs.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::error::{CofferError, guard};

/// A secret identity: an X25519 key for opening and an Ed25519 key for signing, both derived from
/// one 32-byte seed. Its text form (`COFFER-SECRET-KEY-1…`) is a secret: store it like a password.
#[derive(uniffi::Object)]
pub struct Identity {
    pub(crate) inner: coffer::keys::Identity,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

#[uniffi::export]
impl Identity {
    /// A new random identity.
    #[uniffi::constructor]
    pub fn generate() -> Arc<Self> {
        Arc::new(Self {
            inner: coffer::keys::Identity::generate(),
        })
    }

    /// Parses the secret text form (`COFFER-SECRET-KEY-1…`) or the contents of an identity file.
    #[uniffi::constructor]
    pub fn parse(text: String) -> Result<Arc<Self>, CofferError> {
        let text = Zeroizing::new(text);
        guard(|| {
            let inner = coffer::keys::Identity::from_file_contents(&text)?;
            Ok(Arc::new(Self { inner }))
        })
    }

    /// Derives the identity from a 32-byte seed.
    #[uniffi::constructor]
    pub fn from_seed(seed: Vec<u8>) -> Result<Arc<Self>, CofferError> {
        let seed = Zeroizing::new(seed);
        let bytes: &[u8; 32] = seed.as_slice().try_into().map_err(|_| {
            CofferError::invalid_key(format!("a seed is 32 bytes, got {}", seed.len()))
        })?;
        Ok(Arc::new(Self {
            inner: coffer::keys::Identity::from_seed(bytes),
        }))
    }

    /// The identity of `passphrase` for `account` (`docs/FORMAT.md` §1.1): Argon2id with the
    /// default parameters (64 MiB, 3 passes, 4 lanes), so the same passphrase and account give
    /// the same identity on every device. The passphrase is used byte for byte (no trimming, no
    /// Unicode normalisation); the account (an e-mail or user name, case matters) is trimmed.
    /// Blocks for a fraction of a second and 64 MiB: call it off the main thread. `InvalidKey`
    /// when the passphrase or the account is empty. Anyone with the recipient can test guesses
    /// at that cost each, so the passphrase must be strong.
    #[uniffi::constructor]
    pub fn from_passphrase(passphrase: String, account: String) -> Result<Arc<Self>, CofferError> {
        let passphrase = Zeroizing::new(passphrase);
        guard(|| {
            let inner = coffer::keys::Identity::from_passphrase(
                &passphrase,
                &account,
                &coffer::keys::PassphraseParams::default(),
            )?;
            Ok(Arc::new(Self { inner }))
        })
    }

    /// The identity of an Ethereum wallet's `personal_sign` signature over [`wallet_message`]
    /// (`docs/FORMAT.md` §1.1), decoded from hex: 65 bytes `r ‖ s ‖ v` or the 64-byte EIP-2098
    /// form. The signature is not verified against an address (any well-formed bytes give an
    /// identity) and is as secret as the identity. `InvalidKey` when it is malformed.
    #[uniffi::constructor]
    pub fn from_wallet_signature(signature: Vec<u8>) -> Result<Arc<Self>, CofferError> {
        let signature = Zeroizing::new(signature);
        guard(|| {
            let inner = coffer::keys::Identity::from_wallet_signature(&signature)?;
            Ok(Arc::new(Self { inner }))
        })
    }

    /// The public recipient of this identity.
    pub fn recipient(&self) -> Arc<Recipient> {
        Arc::new(Recipient {
            inner: self.inner.recipient().clone(),
        })
    }

    /// The post-quantum hybrid recipient (`cofferpq1…`, X-Wing: ML-KEM-768 + X25519): what is
    /// sealed or shared to it resists a future quantum computer.
    pub fn post_quantum_recipient(&self) -> Arc<Recipient> {
        Arc::new(Recipient {
            inner: self.inner.post_quantum_recipient().clone(),
        })
    }

    /// This identity as a W3C `did:key` (`did:key:z6Mk…`, its Ed25519 key).
    pub fn did_key(&self) -> String {
        self.inner.did_key()
    }

    /// The secret text form (`COFFER-SECRET-KEY-1…`). Secret: never log it.
    pub fn to_secret_string(&self) -> String {
        self.inner.to_secret_string().to_string()
    }

    /// The contents of an identity file (a comment line, the public recipient and the secret).
    pub fn to_file_contents(&self) -> String {
        self.inner.to_file_contents().to_string()
    }

    /// An Ed25519 signature (64 bytes) over `message`.
    pub fn sign(&self, message: Vec<u8>) -> Vec<u8> {
        self.inner.sign(&message).to_vec()
    }
}

/// The message a wallet signs (`personal_sign`) to derive its coffer identity with
/// `Identity.fromWalletSignature`. Show it to the user unchanged.
#[uniffi::export]
pub fn wallet_message() -> String {
    coffer::keys::WALLET_MESSAGE.to_string()
}

/// A public recipient (`coffer1…`): who can open sealed objects and whose signatures can be
/// checked.
#[derive(Debug, uniffi::Object)]
#[uniffi::export(Display, Eq)]
pub struct Recipient {
    pub(crate) inner: coffer::keys::Recipient,
}

impl std::fmt::Display for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl PartialEq for Recipient {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}
impl Eq for Recipient {}

#[uniffi::export]
impl Recipient {
    /// Parses a recipient: `coffer1…`, a post-quantum `cofferpq1…` or a `did:key:z6Mk…`.
    #[uniffi::constructor]
    pub fn parse(text: String) -> Result<Arc<Self>, CofferError> {
        guard(|| {
            let inner = text.trim().parse::<coffer::keys::Recipient>()?;
            Ok(Arc::new(Self { inner }))
        })
    }

    /// The text form (`coffer1…`, or `cofferpq1…` for a post-quantum recipient).
    pub fn to_text(&self) -> String {
        self.inner.to_string()
    }

    /// The recipient's Ed25519 key as a `did:key`.
    pub fn to_did_key(&self) -> String {
        self.inner.to_did_key()
    }

    /// Whether objects sealed to this recipient wrap their key with X-Wing (post-quantum).
    pub fn is_post_quantum(&self) -> bool {
        self.inner.is_post_quantum()
    }

    /// Whether `other` is the same signer (the same Ed25519 key): a recipient's classic,
    /// post-quantum and did:key forms are the same identity.
    pub fn same_identity(&self, other: Arc<Recipient>) -> bool {
        self.inner.same_identity(&other.inner)
    }

    /// The X25519 public key (32 bytes).
    pub fn x25519_public_key(&self) -> Vec<u8> {
        self.inner.kem_public_key().to_vec()
    }

    /// The Ed25519 public key (32 bytes).
    pub fn ed25519_public_key(&self) -> Vec<u8> {
        self.inner.ed25519_public_key().to_vec()
    }

    /// Whether `signature` (64 bytes) is this recipient's Ed25519 signature over `message`.
    pub fn verify(&self, message: Vec<u8>, signature: Vec<u8>) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(signature.as_slice()) else {
            return false;
        };
        self.inner.verify(&message, &sig)
    }
}

/// What [`open`] returns. `Debug` shows the plaintext's length, never its bytes.
#[derive(Clone, uniffi::Record)]
pub struct Opened {
    /// The plaintext (every segment authenticated).
    pub plaintext: Vec<u8>,
    /// Who signed the object (the signature was verified), if it was signed.
    pub signer: Option<Arc<Recipient>>,
    /// Whether the signature is format 1's, which covers only the header: any recipient could
    /// have written the content.
    pub header_only: bool,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("plaintext_len", &self.plaintext.len())
            .field("signer", &self.signer)
            .field("header_only", &self.header_only)
            .finish()
    }
}

/// Seals `plaintext` to `recipients` (at least one), signed by `signer` when given. Segments are
/// `2^segment_size_log2` bytes (10..=24; `null`: 64 KiB).
#[uniffi::export(default(signer = None, segment_size_log2 = None))]
pub fn seal(
    plaintext: Vec<u8>,
    recipients: Vec<Arc<Recipient>>,
    signer: Option<Arc<Identity>>,
    segment_size_log2: Option<u8>,
) -> Result<Vec<u8>, CofferError> {
    guard(|| {
        let mut opts =
            coffer::seal::SealOptions::new(recipients.iter().map(|r| r.inner.clone()).collect());
        if let Some(s) = &signer {
            opts = opts.signed_by(&s.inner);
        }
        if let Some(log2) = segment_size_log2 {
            opts = opts.segment_size_log2(log2);
        }
        Ok(coffer::seal::seal_to_vec(&opts, &plaintext)?)
    })
}

/// Opens a sealed object with `identity`. `WrongIdentity` when it was not sealed to it,
/// `Corrupt` when anything fails to authenticate.
#[uniffi::export]
pub fn open(identity: Arc<Identity>, sealed: Vec<u8>) -> Result<Opened, CofferError> {
    guard(|| {
        let o = coffer::seal::open_to_vec(&identity.inner, &sealed)?;
        Ok(Opened {
            plaintext: o.plaintext,
            signer: o.signer.map(|inner| Arc::new(Recipient { inner })),
            header_only: o.header_only,
        })
    })
}

/// A BLAKE3 root and its Bao outboard (16 KiB groups).
#[derive(Debug, Clone, uniffi::Record)]
pub struct OutboardInfo {
    /// The BLAKE3 root, 64 hex digits.
    pub root: String,
    /// The post-order Bao outboard.
    pub outboard: Vec<u8>,
}

/// The BLAKE3 hash of `data`, 64 hex digits.
#[uniffi::export]
pub fn blake3_hex(data: Vec<u8>) -> String {
    blake3::hash(&data).to_hex().to_string()
}

/// Computes the BLAKE3 root and Bao outboard of `data`.
#[uniffi::export]
pub fn compute_outboard(data: Vec<u8>) -> OutboardInfo {
    let o = coffer::verify::Outboard::compute(&data);
    OutboardInfo {
        root: o.root().to_hex().to_string(),
        outboard: o.into_bytes(),
    }
}

fn parse_root(root: &str) -> Result<blake3::Hash, CofferError> {
    blake3::Hash::from_hex(root.trim())
        .map_err(|_| CofferError::invalid_input("a BLAKE3 root is 64 hex digits"))
}

/// Verifies all of `data` against `root` (hex) and its `outboard`. `Corrupt` names the first
/// mismatch.
#[uniffi::export]
pub fn verify_outboard(root: String, data: Vec<u8>, outboard: Vec<u8>) -> Result<(), CofferError> {
    guard(|| {
        coffer::verify::verify_all(&parse_root(&root)?, &data, &outboard)?;
        Ok(())
    })
}

/// Verifies bytes `start..end` of an object of `len` bytes: `covering` must be the object bytes
/// `covering_range(len, start, end)`. Returns the verified bytes `start..end`.
#[uniffi::export]
pub fn verify_range(
    root: String,
    len: u64,
    outboard: Vec<u8>,
    start: u64,
    end: u64,
    covering: Vec<u8>,
) -> Result<Vec<u8>, CofferError> {
    guard(|| {
        let o = coffer::verify::Outboard::from_parts(parse_root(&root)?, len, outboard)?;
        Ok(o.verify_range(start..end, &covering)?.to_vec())
    })
}

/// A byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Record)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// The object bytes a verifier needs for `start..end` of an object of `len` bytes (the range
/// widened to whole 16 KiB groups).
#[uniffi::export]
pub fn covering_range(len: u64, start: u64, end: u64) -> Result<ByteRange, CofferError> {
    let r = coffer::verify::covering_range(len, start..end)?;
    Ok(ByteRange {
        start: r.start,
        end: r.end,
    })
}

/// The CIDv1 (raw codec, blake3 multihash) of `bytes`, as IPFS would name them.
#[uniffi::export]
pub fn cid_raw(bytes: Vec<u8>) -> String {
    coffer::block::raw_cid(&bytes).to_string()
}

/// The CIDv1 (dag-cbor codec, blake3 multihash) of `bytes`.
#[uniffi::export]
pub fn cid_dag_cbor(bytes: Vec<u8>) -> String {
    coffer::block::dag_cbor_cid(&bytes).to_string()
}

/// Checks `bytes` against `cid` (raw or dag-cbor, blake3). `InvalidInput` for a CID that does not
/// parse or is not blake3, `Corrupt` for a mismatch.
#[uniffi::export]
pub fn cid_verify(cid: String, bytes: Vec<u8>) -> Result<(), CofferError> {
    guard(|| {
        let cid = parse_cid(&cid)?;
        coffer::block::verify_block(&cid, &bytes)?;
        Ok(())
    })
}

pub(crate) fn parse_cid(text: &str) -> Result<coffer::block::Cid, CofferError> {
    coffer::block::Cid::try_from(text)
        .map_err(|e| CofferError::invalid_input(format!("not a CID: {e}")))
}
