//! wasm-bindgen glue over the `coffer` core: identities (random, from a seed, a passphrase or a
//! wallet signature), seal/open (also asynchronously with WebCrypto's AES-GCM: [`subtle`]),
//! verified ranges, CIDs, the [`Vault`](vault::Vault) over a store written in JavaScript
//! ([`store::JsStore`]), sharing ([`share`]: the inbox, accepted shares, the reader of what a
//! share grants; the owner's side is on the vault) and share links ([`link`]).
//!
//! Thin by design (DESIGN.md "Bindings"): it converts types, validates every value that comes from
//! JavaScript (wrong types, missing fields, out-of-range numbers give a `CofferError` with code
//! `BadInput`, never a trap) and maps core errors to a stable `{code, message}`. Async methods
//! return Promises. The idiomatic API and the TypeScript types live in `packages-npm/`.
//!
//! Everything here is compiled only for wasm32; on other targets the crate is empty.
#![cfg(target_arch = "wasm32")]

mod convert;
mod error;
mod link;
mod share;
mod store;
mod subtle;
mod trust;
mod vault;

use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use coffer::block::{CODEC_DAG_CBOR, CODEC_RAW, cid_for};
use coffer::seal::{self, SealOptions};
use coffer::verify::{Outboard, RangeProof, covering_range};

pub use error::{CofferError, set_error_class};
pub use link::Link;
pub use share::{Share, ShareBook, SharedReader, SharedWriter};
pub use store::JsStore;
pub use vault::Vault;

use convert::{bytes_arg, obj, opt_u8_arg, secret_bytes_arg, str_arg, u64_arg};
use error::{bad_input, from_derive, from_key, from_seal, from_verify};

/// The version of the core this glue wraps.
#[wasm_bindgen(js_name = coreVersion)]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// A secret identity: X25519 for receiving sealed objects, Ed25519 for signing. The secret never
/// leaves this object except through [`Identity::to_secret_string`].
#[wasm_bindgen]
pub struct Identity(pub(crate) coffer::Identity);

#[wasm_bindgen]
impl Identity {
    /// A fresh random identity.
    pub fn generate() -> Identity {
        Identity(coffer::Identity::generate())
    }

    /// Parses `COFFER-SECRET-KEY-1…` (or the contents of an identity file).
    #[wasm_bindgen(js_name = fromString)]
    pub fn from_string(text: JsValue) -> Result<Identity, JsValue> {
        let text = Zeroizing::new(str_arg(&text, "identity text")?);
        let id = if text.trim_start().starts_with('#') || text.trim().contains('\n') {
            coffer::Identity::from_file_contents(&text)
        } else {
            text.parse::<coffer::Identity>()
        };
        id.map(Identity).map_err(from_key)
    }

    /// The identity derived from a 32-byte seed (as in `test-vectors/identities.json`).
    #[wasm_bindgen(js_name = fromSeed)]
    pub fn from_seed(seed: JsValue) -> Result<Identity, JsValue> {
        let seed = Zeroizing::new(bytes_arg(&seed, "seed")?);
        let seed: &[u8; coffer::keys::SEED_LEN] = seed
            .as_slice()
            .try_into()
            .map_err(|_| bad_input(format!("a seed is 32 bytes, got {}", seed.len())))?;
        Ok(Identity(coffer::Identity::from_seed(seed)))
    }

    /// The identity of `passphrase` for `account` (an e-mail or user name; docs/FORMAT.md §1.1):
    /// Argon2id with the default parameters (64 MiB, 3 passes, 4 lanes), so about a second of
    /// CPU in wasm. The same passphrase and account always give the same identity; the
    /// passphrase must be strong, since anyone with the recipient can test guesses offline.
    #[wasm_bindgen(js_name = fromPassphrase)]
    pub fn from_passphrase(passphrase: JsValue, account: JsValue) -> Result<Identity, JsValue> {
        let passphrase = Zeroizing::new(str_arg(&passphrase, "passphrase")?);
        let account = str_arg(&account, "account")?;
        coffer::Identity::from_passphrase(
            &passphrase,
            &account,
            &coffer::keys::PassphraseParams::default(),
        )
        .map(Identity)
        .map_err(from_derive)
    }

    /// The identity of a wallet's signature of [`wallet_message`] (EIP-191 `personal_sign`):
    /// 65 bytes `r ‖ s ‖ v` or the 64-byte compact form, as a `Uint8Array` or hex text (with or
    /// without `0x`). The signature *is* the secret; it is not checked against an address.
    #[wasm_bindgen(js_name = fromWalletSignature)]
    pub fn from_wallet_signature(signature: JsValue) -> Result<Identity, JsValue> {
        let sig = Zeroizing::new(if let Some(text) = signature.as_string() {
            let text = Zeroizing::new(text);
            hex_decode(&text).ok_or_else(|| {
                bad_input("a wallet signature in text must be hex (0x…), 130 or 128 digits")
            })?
        } else {
            bytes_arg(&signature, "wallet signature")?
        });
        coffer::Identity::from_wallet_signature(&sig)
            .map(Identity)
            .map_err(from_derive)
    }

    /// The secret text form `COFFER-SECRET-KEY-1…`. Keep it secret.
    #[wasm_bindgen(js_name = toSecretString)]
    pub fn to_secret_string(&self) -> JsValue {
        // The Rust copy is zeroized on drop; the JS string is the caller's to keep safe.
        let secret = self.0.to_secret_string();
        JsValue::from_str(&secret)
    }

    /// The public recipient text form `coffer1…`.
    #[wasm_bindgen(getter)]
    pub fn recipient(&self) -> String {
        self.0.recipient().to_string()
    }

    /// The post-quantum hybrid recipient `cofferpq1…` (X-Wing: ML-KEM-768 + X25519): what is
    /// sealed or shared to it resists a future quantum computer. 2,065 characters.
    #[wasm_bindgen(getter, js_name = postQuantumRecipient)]
    pub fn post_quantum_recipient(&self) -> String {
        self.0.post_quantum_recipient().to_string()
    }

    /// This identity as a W3C `did:key` (`did:key:z6Mk…`, its Ed25519 key); usable wherever a
    /// recipient is.
    #[wasm_bindgen(getter, js_name = didKey)]
    pub fn did_key(&self) -> String {
        self.0.did_key()
    }

    /// An Ed25519 signature of `message` (64 bytes).
    pub fn sign(&self, message: JsValue) -> Result<Vec<u8>, JsValue> {
        let message = bytes_arg(&message, "message")?;
        Ok(self.0.sign(&message).to_vec())
    }
}

/// Hex text (an optional `0x`, an even number of digits) as bytes.
fn hex_decode(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .unwrap_or(t)
        .as_bytes();
    if !t.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).and_then(|d| u8::try_from(d).ok());
    t.chunks_exact(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

/// The message an app asks a wallet to sign (EIP-191 `personal_sign`) to derive the user's
/// identity with `Identity.fromWalletSignature`. It never changes.
#[wasm_bindgen(js_name = walletMessage)]
pub fn wallet_message() -> String {
    coffer::keys::WALLET_MESSAGE.to_string()
}

/// Checks that `text` is a recipient (`coffer1…`, `cofferpq1…` or `did:key:z6Mk…`) and returns
/// its canonical text form.
#[wasm_bindgen(js_name = parseRecipient)]
pub fn parse_recipient(text: JsValue) -> Result<String, JsValue> {
    let text = str_arg(&text, "recipient")?;
    let r: coffer::Recipient = text.parse().map_err(from_key)?;
    Ok(r.to_string())
}

/// Whether `signature` (64 bytes) is `recipient`'s Ed25519 signature of `message`.
#[wasm_bindgen(js_name = verifySignature)]
pub fn verify_signature(
    recipient: JsValue,
    message: JsValue,
    signature: JsValue,
) -> Result<bool, JsValue> {
    let r: coffer::Recipient = str_arg(&recipient, "recipient")?
        .parse()
        .map_err(from_key)?;
    let message = bytes_arg(&message, "message")?;
    let sig = bytes_arg(&signature, "signature")?;
    let sig: &[u8; 64] = sig
        .as_slice()
        .try_into()
        .map_err(|_| bad_input(format!("a signature is 64 bytes, got {}", sig.len())))?;
    Ok(r.verify(&message, sig))
}

fn seal_options(recipients: &JsValue, segment_log2: &JsValue) -> Result<SealOptions, JsValue> {
    let list = recipients
        .dyn_ref::<Array>()
        .ok_or_else(|| bad_input("recipients must be an array of recipient strings (coffer1…)"))?;
    if list.length() as usize > seal::MAX_RECIPIENTS {
        return Err(bad_input(format!(
            "{} recipients is more than the {} one object can have",
            list.length(),
            seal::MAX_RECIPIENTS
        )));
    }
    let mut rs = Vec::with_capacity(list.length() as usize);
    for (i, v) in list.iter().enumerate() {
        let s = v
            .as_string()
            .ok_or_else(|| bad_input(format!("recipients[{i}] is not a string")))?;
        rs.push(s.parse::<coffer::Recipient>().map_err(from_key)?);
    }
    let mut opts = SealOptions::new(rs);
    if let Some(log2) = opt_u8_arg(segment_log2, "segmentSizeLog2")? {
        if !(seal::MIN_SEGMENT_LOG2..=seal::MAX_SEGMENT_LOG2).contains(&log2) {
            return Err(bad_input(format!(
                "segmentSizeLog2 must be {}..={}, got {log2}",
                seal::MIN_SEGMENT_LOG2,
                seal::MAX_SEGMENT_LOG2
            )));
        }
        opts = opts.segment_size_log2(log2);
    }
    Ok(opts)
}

/// Seals `plaintext` to `recipients` (an array of `coffer1…` strings), unsigned.
#[wasm_bindgen]
pub fn seal(
    plaintext: JsValue,
    recipients: JsValue,
    segment_size_log2: JsValue,
) -> Result<Vec<u8>, JsValue> {
    let opts = seal_options(&recipients, &segment_size_log2)?;
    let plaintext = secret_bytes_arg(&plaintext, "plaintext")?;
    seal::seal_to_vec(&opts, plaintext.as_slice()).map_err(from_seal)
}

/// Seals `plaintext` to `recipients`, signed by `signer`.
#[wasm_bindgen(js_name = sealSigned)]
pub fn seal_signed(
    plaintext: JsValue,
    recipients: JsValue,
    signer: &Identity,
    segment_size_log2: JsValue,
) -> Result<Vec<u8>, JsValue> {
    let opts = seal_options(&recipients, &segment_size_log2)?.signed_by(&signer.0);
    let plaintext = secret_bytes_arg(&plaintext, "plaintext")?;
    seal::seal_to_vec(&opts, plaintext.as_slice()).map_err(from_seal)
}

/// Opens a sealed object: `{ plaintext: Uint8Array, signer: string | null, headerOnly: boolean }`
/// (`headerOnly`: the signature covers the header only, as in objects sealed before format v2).
/// The plaintext is returned only when every segment authenticated.
#[wasm_bindgen]
pub fn open(identity: &Identity, sealed: JsValue) -> Result<JsValue, JsValue> {
    let sealed = bytes_arg(&sealed, "sealed")?;
    let opened = seal::open_to_vec(&identity.0, &sealed).map_err(from_seal)?;
    Ok(opened_obj(&opened))
}

/// `{ plaintext, signer, headerOnly }` of an opened object.
fn opened_obj(opened: &seal::Opened) -> JsValue {
    let signer = match &opened.signer {
        Some(r) => JsValue::from_str(&r.to_string()),
        None => JsValue::NULL,
    };
    obj(&[
        (
            "plaintext",
            Uint8Array::from(opened.plaintext.as_slice()).into(),
        ),
        ("signer", signer),
        ("headerOnly", JsValue::from_bool(opened.header_only)),
    ])
}

/// The BLAKE3 hash of `bytes`, hex.
#[wasm_bindgen]
pub fn blake3(bytes: JsValue) -> Result<String, JsValue> {
    let bytes = bytes_arg(&bytes, "bytes")?;
    Ok(blake3::hash(&bytes).to_hex().to_string())
}

/// The CIDv1 (blake3) of `bytes`, base32 text; `codec` is `"raw"` (default) or `"dag-cbor"`.
#[wasm_bindgen]
pub fn cid(bytes: JsValue, codec: JsValue) -> Result<String, JsValue> {
    let bytes = bytes_arg(&bytes, "bytes")?;
    let codec = if codec.is_undefined() || codec.is_null() {
        CODEC_RAW
    } else {
        match codec.as_string().as_deref() {
            Some("raw") => CODEC_RAW,
            Some("dag-cbor") => CODEC_DAG_CBOR,
            _ => return Err(bad_input("codec must be \"raw\" or \"dag-cbor\"")),
        }
    };
    Ok(cid_for(codec, &bytes).to_string())
}

fn root_arg(v: &JsValue) -> Result<blake3::Hash, JsValue> {
    let s = str_arg(v, "root")?;
    blake3::Hash::from_hex(s.as_bytes())
        .map_err(|_| bad_input("root must be 64 hex characters (a BLAKE3 hash)"))
}

/// The BLAKE3 root and Bao outboard of `data`: `{ root: hex, outboard: Uint8Array }`.
#[wasm_bindgen(js_name = computeOutboard)]
pub fn compute_outboard(data: JsValue) -> Result<JsValue, JsValue> {
    let data = bytes_arg(&data, "data")?;
    let ob = Outboard::compute(&data);
    Ok(obj(&[
        ("root", JsValue::from_str(&ob.root().to_hex())),
        ("outboard", Uint8Array::from(ob.as_bytes()).into()),
    ]))
}

/// The object bytes needed to verify `start..end` of an object of `len` bytes: `{ start, end }`.
#[wasm_bindgen(js_name = coveringRange)]
pub fn covering_range_js(len: JsValue, start: JsValue, end: JsValue) -> Result<JsValue, JsValue> {
    let (len, start, end) = (
        u64_arg(&len, "len")?,
        u64_arg(&start, "start")?,
        u64_arg(&end, "end")?,
    );
    let r = covering_range(len, start..end).map_err(from_verify)?;
    Ok(obj(&[
        ("start", JsValue::from_f64(r.start as f64)),
        ("end", JsValue::from_f64(r.end as f64)),
    ]))
}

/// The range proof of `start..end` from a whole outboard (`root`, object `len`).
#[wasm_bindgen(js_name = rangeProof)]
pub fn range_proof(
    root: JsValue,
    len: JsValue,
    outboard: JsValue,
    start: JsValue,
    end: JsValue,
) -> Result<Vec<u8>, JsValue> {
    let root = root_arg(&root)?;
    let len = u64_arg(&len, "len")?;
    let bytes = bytes_arg(&outboard, "outboard")?;
    let (start, end) = (u64_arg(&start, "start")?, u64_arg(&end, "end")?);
    let ob = Outboard::from_parts(root, len, bytes).map_err(from_verify)?;
    Ok(ob
        .range_proof(start..end)
        .map_err(from_verify)?
        .into_bytes())
}

/// Verifies `start..end` of an object (`root`, `len`) with a range `proof` and the `covering`
/// bytes (see [`covering_range_js`]); returns the verified bytes of the range.
#[wasm_bindgen(js_name = verifyRange)]
pub fn verify_range(
    root: JsValue,
    len: JsValue,
    start: JsValue,
    end: JsValue,
    proof: JsValue,
    covering: JsValue,
) -> Result<Vec<u8>, JsValue> {
    let root = root_arg(&root)?;
    let len = u64_arg(&len, "len")?;
    let (start, end) = (u64_arg(&start, "start")?, u64_arg(&end, "end")?);
    let proof = bytes_arg(&proof, "proof")?;
    let covering = bytes_arg(&covering, "covering")?;
    let proof = RangeProof::from_parts(root, len, start..end, proof).map_err(from_verify)?;
    Ok(proof.verify(&covering).map_err(from_verify)?.to_vec())
}

/// Verifies a whole object against `root` and its `outboard`.
#[wasm_bindgen(js_name = verifyAll)]
pub fn verify_all(root: JsValue, data: JsValue, outboard: JsValue) -> Result<(), JsValue> {
    let root = root_arg(&root)?;
    let data = bytes_arg(&data, "data")?;
    let outboard = bytes_arg(&outboard, "outboard")?;
    coffer::verify::verify_all(&root, &data, &outboard).map_err(from_verify)
}

fn cid_arg(v: &JsValue, what: &str) -> Result<coffer::block::Cid, JsValue> {
    let s = str_arg(v, what)?;
    coffer::block::Cid::try_from(s.as_str())
        .map_err(|e| bad_input(format!("{what} is not a CID: {e}")))
}

/// The DAG-CBOR root of a large blob stored as 1 MiB leaves (the IPFS layout, docs/FORMAT.md §7):
/// `{ cid, bytes }` of the root node for blob `blob` of `size` bytes with `leaves` (CID strings).
#[wasm_bindgen(js_name = blobRootEncode)]
pub fn blob_root_encode(blob: JsValue, size: JsValue, leaves: JsValue) -> Result<JsValue, JsValue> {
    let blob = cid_arg(&blob, "blob")?;
    let size = u64_arg(&size, "size")?;
    let list = leaves
        .dyn_ref::<Array>()
        .ok_or_else(|| bad_input("leaves must be an array of CID strings"))?;
    let leaves = list
        .iter()
        .enumerate()
        .map(|(i, l)| cid_arg(&l, &format!("leaves[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let root = coffer::store::BlobRoot::new(&blob, size, leaves);
    root.check(&blob)
        .map_err(|e| bad_input(format!("inconsistent blob root: {e}")))?;
    let bytes =
        coffer::block::to_dag_cbor(&root).map_err(|e| error::error("Internal", &e.to_string()))?;
    Ok(obj(&[
        (
            "cid",
            JsValue::from_str(&coffer::block::dag_cbor_cid(&bytes).to_string()),
        ),
        ("bytes", Uint8Array::from(bytes.as_slice()).into()),
    ]))
}

/// Decodes and checks the root of large blob `blob`: `{ size, leafSize, leaves: string[] }`.
#[wasm_bindgen(js_name = blobRootDecode)]
pub fn blob_root_decode(blob: JsValue, bytes: JsValue) -> Result<JsValue, JsValue> {
    let blob = cid_arg(&blob, "blob")?;
    let bytes = bytes_arg(&bytes, "bytes")?;
    let root = coffer::store::decode_blob_root(&blob, &bytes)
        .map_err(|e| error::error("Corrupt", &e.to_string()))?;
    let leaves: Array = root
        .leaves
        .iter()
        .map(|c| JsValue::from_str(&c.to_string()))
        .collect();
    Ok(obj(&[
        ("size", JsValue::from_f64(root.size as f64)),
        ("leafSize", JsValue::from_f64(root.leaf_size as f64)),
        ("leaves", leaves.into()),
    ]))
}
