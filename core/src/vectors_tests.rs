//! Known-answer tests against `test-vectors/` (the files every language's tests read).
//!
//! `COFFER_WRITE_VECTORS=1 cargo test -p coffer --lib vectors` rewrites the coffer-generated
//! files (identities, sealed objects, CIDs) from their inputs; without it, the tests check that
//! this build reproduces them byte for byte. External vectors (RFC 9180) are never rewritten.

use std::path::PathBuf;

use hpke::{Kem as _, Serializable};
use serde_json::{Value, json};

use crate::block;
use crate::keys::{
    Identity, KemX25519, KemXWing, KeyError, PassphraseParams, Recipient, WALLET_MESSAGE,
};
use crate::seal::{self, FixedRng, Header, SealOptions};

fn vectors_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../test-vectors")
}

fn load(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn hexs(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("valid hex")
}

fn writing() -> bool {
    std::env::var_os("COFFER_WRITE_VECTORS").is_some()
}

/// Compares `generated` with the file, or rewrites the file when asked to.
pub(crate) fn check_or_write(name: &str, generated: Value) {
    let path = vectors_dir().join(name);
    if writing() {
        let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        return;
    }
    let stored = load(name);
    assert_eq!(
        stored,
        generated,
        "{} differs from what this build produces",
        path.display()
    );
}

#[test]
fn hpke_rfc9180_known_answers() {
    let file = load("hpke-rfc9180.json");
    for v in file["vectors"].as_array().unwrap() {
        let (sk, pk) = KemX25519::derive_keypair(&hexs(&v["ikmR"]));
        // The hpke crate keeps X25519 scalars clamped (RFC 7748 §5); the RFC lists them unclamped.
        let mut sk_rm = hexs(&v["skRm"]);
        sk_rm[0] &= 248;
        sk_rm[31] &= 127;
        sk_rm[31] |= 64;
        assert_eq!(sk.to_bytes().as_slice(), sk_rm.as_slice());
        assert_eq!(pk.to_bytes().as_slice(), hexs(&v["pkRm"]).as_slice());
        if v["aead_id"] != 2 {
            continue; // only AES-256-GCM is coffer's suite; the AES-128 entry pins key derivation
        }
        let enc0 = &v["encryptions"][0];
        let mut rng = FixedRng::new(hexs(&v["ikmE"]));
        let (enc, ct) = seal::hpke_seal_for_tests(
            &pk,
            &hexs(&v["info"]),
            &hexs(&enc0["aad"]),
            &hexs(&enc0["plaintext"]),
            &mut rng,
        );
        assert_eq!(enc.as_slice(), hexs(&v["enc"]).as_slice(), "enc");
        assert_eq!(ct, hexs(&enc0["ciphertext"]), "ciphertext of sequence 0");
    }
}

fn seed(n: u8) -> [u8; 32] {
    let mut s = [0u8; 32];
    for (i, b) in s.iter_mut().enumerate() {
        *b = n.wrapping_mul(37).wrapping_add(i as u8);
    }
    s
}

#[test]
fn identity_vectors() {
    let mut out = Vec::new();
    for n in 1..=3u8 {
        let s = seed(n);
        let id = Identity::from_seed(&s);
        let r = id.recipient();
        out.push(json!({
            "seed": hex::encode(s),
            "x25519_public": hex::encode(r.kem_public_key()),
            "ed25519_public": hex::encode(r.ed25519_public_key()),
            "recipient": r.to_string(),
            "identity": id.to_secret_string().as_str(),
            "signature_of_hello": hex::encode(id.sign(b"hello")),
        }));
        // Parsing the stored text gives back the same keys.
        let parsed: Recipient = r.to_string().parse().unwrap();
        assert_eq!(&parsed, r);
    }
    check_or_write(
        "identities.json",
        json!({
            "description": "coffer identities (docs/FORMAT.md §1-2): seed -> keys and text forms; signature_of_hello is Ed25519 over the 5 bytes 'hello'",
            "vectors": out,
        }),
    );
}

/// Signatures of `WALLET_MESSAGE` (`personal_sign`, EIP-191) by Hardhat's well-known test
/// accounts #0 and #1: (private key, address, `r ‖ s ‖ v`). Made with python-ecdsa (RFC 6979
/// nonces, low s) and checked to recover to the address; see `docs/FORMAT.md` §1.1.
const WALLET_SIGNATURES: [(&str, &str, &str); 2] = [
    (
        "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
        "75d4233f22f823785923138b4dab7282d567616fd0a5acd558e855176f4df23f\
         1aa8468d48663e69a404c7535cdea3a70b68f08adefe391c634620f34b96ab71\
         1c",
    ),
    (
        "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
        "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
        "dce9050d070c446c586496393786b7b88f0edfae10c02df903ac0307d90e348b\
         05972f5273d1878cb306a5f93a6040e87226920b5e61d1223693ef733a028b4b\
         1b",
    ),
];

fn derived_entry(id: &Identity) -> Value {
    json!({
        "seed": hex::encode(id.seed_for_tests()),
        "recipient": id.recipient().to_string(),
        "identity": id.to_secret_string().as_str(),
    })
}

fn merge(mut a: Value, b: Value) -> Value {
    let (Value::Object(a_map), Value::Object(b_map)) = (&mut a, b) else {
        panic!("merging JSON objects");
    };
    a_map.extend(b_map);
    a
}

/// The same signature with `s` replaced by `n − s` and the parity flipped (ECDSA malleability).
fn malleate(sig: &[u8]) -> Vec<u8> {
    let n = hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
        .expect("hex");
    let mut out = sig.to_vec();
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(n[i]) - i16::from(sig[32 + i]) - borrow;
        borrow = i16::from(d < 0);
        out[32 + i] = d.rem_euclid(256) as u8;
    }
    out[64] = if sig[64] == 27 { 28 } else { 27 };
    out
}

fn key_error_name(e: &KeyError) -> &'static str {
    match e {
        KeyError::WalletSignatureLength { .. } => "WalletSignatureLength",
        KeyError::WalletSignatureRecoveryId { .. } => "WalletSignatureRecoveryId",
        KeyError::WalletSignatureScalar { .. } => "WalletSignatureScalar",
        _ => "other",
    }
}

#[test]
fn derived_identity_vectors() {
    let mut passphrase = Vec::new();
    for (pw, account, m, t, p) in [
        (
            "correct horse battery staple",
            "alice@example.com",
            256,
            2,
            1,
        ),
        ("correct horse battery staple", "bob@example.com", 256, 2, 1),
        ("p\u{e4}ssw\u{f6}rt \u{2713}", "  Carol\t", 1024, 3, 4),
        // The default parameters (RFC 9106 §4, second option): one real-cost case.
        (
            "correct horse battery staple",
            "alice@example.com",
            65536,
            3,
            4,
        ),
    ] {
        let params = PassphraseParams::insecure_for_tests(m, t, p).unwrap();
        let id = Identity::from_passphrase(pw, account, &params).unwrap();
        let salt = [
            b"coffer/v1/passphrase-identity\0".as_slice(),
            account.trim().as_bytes(),
        ]
        .concat();
        let input = json!({
            "passphrase": pw,
            "passphrase_hex": hex::encode(pw.as_bytes()),
            "account": account,
            "argon2id_salt": hex::encode(salt),
            "memory_kib": m,
            "iterations": t,
            "parallelism": p,
            "default_params": params == PassphraseParams::default(),
        });
        passphrase.push(merge(input, derived_entry(&id)));
    }

    let mut wallet = Vec::new();
    let mut push_wallet = |note: &str, signer: Value, sig: &[u8], low: &[u8]| {
        let id = Identity::from_wallet_signature(sig).unwrap();
        // The seed is HKDF-SHA256 over r ‖ low s, restated here from the spec.
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"coffer/v1/wallet-identity"), &low[..64]);
        let mut seed = [0u8; 32];
        hk.expand(b"coffer/v1/wallet-identity/seed", &mut seed)
            .unwrap();
        assert_eq!(&seed, id.seed_for_tests(), "{note}");
        let input = json!({
            "note": note,
            "signer": signer,
            "signature": hex::encode(sig),
            "hkdf_ikm": hex::encode(&low[..64]),
        });
        wallet.push(merge(input, derived_entry(&id)));
    };
    for (n, (key, address, sig_hex)) in WALLET_SIGNATURES.iter().enumerate() {
        let sig = hex::decode(sig_hex).unwrap();
        let signer = json!({ "private_key": key, "address": address });
        push_wallet(
            &format!("Hardhat account #{n}: personal_sign of the message"),
            signer.clone(),
            &sig,
            &sig,
        );
        if n > 0 {
            continue;
        }
        push_wallet(
            "the same signature malleated: s -> n - s, v flipped (high s); same identity",
            signer.clone(),
            &malleate(&sig),
            &sig,
        );
        let mut compact = sig[..64].to_vec();
        if sig[64] == 28 {
            compact[32] |= 0x80;
        }
        push_wallet(
            "the same signature in EIP-2098 compact form (64 bytes); same identity",
            signer.clone(),
            &compact,
            &sig,
        );
        let mut v01 = sig.clone();
        v01[64] -= 27;
        push_wallet(
            "the same signature with v as 0/1; same identity",
            signer,
            &v01,
            &sig,
        );
    }
    let good = hex::decode(WALLET_SIGNATURES[0].2).unwrap();
    let n = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
    let mut invalid = Vec::new();
    for (note, sig) in [
        ("66 bytes", [good.as_slice(), &[0]].concat()),
        ("63 bytes", good[..63].to_vec()),
        ("v = 29", [&good[..64], &[29]].concat()),
        ("v = 37 (EIP-155 style)", [&good[..64], &[37]].concat()),
        ("r = 0", [&[0u8; 32], &good[32..]].concat()),
        (
            "r = n",
            [hex::decode(n).unwrap().as_slice(), &good[32..]].concat(),
        ),
        ("s = 0", [&good[..32], &[0u8; 32], &good[64..]].concat()),
        (
            "s = n",
            [&good[..32], hex::decode(n).unwrap().as_slice(), &good[64..]].concat(),
        ),
    ] {
        let err = Identity::from_wallet_signature(&sig).unwrap_err();
        invalid.push(json!({
            "note": note,
            "signature": hex::encode(&sig),
            "error": key_error_name(&err),
        }));
    }

    check_or_write(
        "derived-identities.json",
        json!({
            "description": "identities derived from a passphrase (Argon2id) or a wallet signature (docs/FORMAT.md §1.1); seed -> keys as in identities.json",
            "passphrase": {
                "algorithm": "Argon2id, version 0x13, 32-byte output = seed",
                "salt": "\"coffer/v1/passphrase-identity\\0\" || account with white space trimmed at both ends (UTF-8)",
                "default_params": {
                    "memory_kib": PassphraseParams::DEFAULT_MEMORY_KIB,
                    "iterations": PassphraseParams::DEFAULT_ITERATIONS,
                    "parallelism": PassphraseParams::DEFAULT_PARALLELISM,
                },
                "minimum_params": {
                    "memory_kib": PassphraseParams::MIN_MEMORY_KIB,
                    "iterations": PassphraseParams::MIN_ITERATIONS,
                },
                "vectors": passphrase,
            },
            "wallet": {
                "message": WALLET_MESSAGE,
                "kdf": "seed = HKDF-SHA256(salt = \"coffer/v1/wallet-identity\", ikm = r || low s, info = \"coffer/v1/wallet-identity/seed\", 32)",
                "vectors": wallet,
                "invalid": invalid,
            },
        }),
    );
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

struct SealCase {
    name: &'static str,
    recipients: &'static [u8],
    /// Secret wrap keys (stanza kind 3): key `n` is 32 bytes of `n`, sealed to after the
    /// recipients.
    keys: &'static [u8],
    signer: Option<u8>,
    segment_log2: u8,
    len: usize,
}

const SEAL_CASES: &[SealCase] = &[
    SealCase {
        name: "empty",
        recipients: &[1],
        keys: &[],
        signer: None,
        segment_log2: 10,
        len: 0,
    },
    SealCase {
        name: "one-byte",
        recipients: &[1],
        keys: &[],
        signer: None,
        segment_log2: 10,
        len: 1,
    },
    SealCase {
        name: "exactly-one-segment",
        recipients: &[1],
        keys: &[],
        signer: None,
        segment_log2: 10,
        len: 1024,
    },
    SealCase {
        name: "two-and-a-half-segments-signed",
        recipients: &[1],
        keys: &[],
        signer: Some(3),
        segment_log2: 10,
        len: 2560,
    },
    SealCase {
        name: "two-recipients-signed",
        recipients: &[1, 2],
        keys: &[],
        signer: Some(1),
        segment_log2: 10,
        len: 1500,
    },
    SealCase {
        name: "default-segment-size",
        recipients: &[2],
        keys: &[],
        signer: None,
        segment_log2: 16,
        len: 100,
    },
    SealCase {
        name: "secret-key-stanza-signed",
        recipients: &[],
        keys: &[0x5a],
        signer: Some(1),
        segment_log2: 10,
        len: 1500,
    },
    SealCase {
        name: "recipient-and-key-signed-one-group-and-more",
        recipients: &[2],
        keys: &[0x5a],
        signer: Some(3),
        segment_log2: 12,
        len: 20_000,
    },
];

#[test]
fn sealed_object_vectors() {
    let mut out = Vec::new();
    for (k, case) in SEAL_CASES.iter().enumerate() {
        let recipients: Vec<Recipient> = case
            .recipients
            .iter()
            .map(|n| Identity::from_seed(&seed(*n)).recipient().clone())
            .collect();
        let mut opts = SealOptions::new(recipients).segment_size_log2(case.segment_log2);
        for n in case.keys {
            opts = opts.also_to(seal::SealTo::Key(seal::WrapKey::from_bytes([*n; 32])));
        }
        if let Some(s) = case.signer {
            opts = opts.signed_by(&Identity::from_seed(&seed(s)));
        }
        // file key, salt, then per stanza in order: an HPKE ikmE (32) or a stanza nonce (12)
        let randomness: Vec<u8> = (0..64 + 32 * case.recipients.len() + 12 * case.keys.len())
            .map(|i| (i as u8).wrapping_mul(7).wrapping_add(k as u8))
            .collect();
        let pt = plaintext(case.len);
        let sealed =
            seal::seal_to_vec_with_rng(&opts, &pt, &mut FixedRng::new(randomness.clone())).unwrap();
        for n in case.recipients {
            let opened = seal::open_to_vec(&Identity::from_seed(&seed(*n)), &sealed).unwrap();
            assert_eq!(opened.plaintext, pt);
        }
        for n in case.keys {
            let key = seal::WrapKey::from_bytes([*n; 32]);
            let opened = seal::open_to_vec_with(seal::Unlock::Key(&key), &sealed).unwrap();
            assert_eq!(opened.plaintext, pt);
        }
        let trailer_len = Header::parse(&sealed).unwrap().trailer_len();
        let zeroed_root = trailer_len.gt(&0).then(|| {
            let mut z = sealed.clone();
            let n = z.len();
            z[n - trailer_len..].fill(0);
            blake3::hash(&z).to_hex().to_string()
        });
        out.push(json!({
            "name": case.name,
            "recipient_seeds": case.recipients.iter().map(|n| hex::encode(seed(*n))).collect::<Vec<_>>(),
            "wrap_keys": case.keys.iter().map(|n| hex::encode([*n; 32])).collect::<Vec<_>>(),
            "signer_seed": case.signer.map(|n| hex::encode(seed(n))),
            "trailer_len": trailer_len,
            "root_with_zeroed_trailer": zeroed_root,
            "segment_log2": case.segment_log2,
            "plaintext": hex::encode(&pt),
            "randomness": hex::encode(&randomness),
            "header_len": Header::parse(&sealed).unwrap().len(),
            "sealed": hex::encode(&sealed),
            "blake3": blake3::hash(&sealed).to_hex().to_string(),
            "cid": block::raw_cid(&sealed).to_string(),
        }));
    }
    check_or_write(
        "sealed.json",
        json!({
            "description": "coffer sealed objects v2 (docs/FORMAT.md §3). randomness = file_key(32) || salt(32) || then for each stanza in order (recipients first, then wrap keys): ikmE(32) of an X25519 HPKE stanza, or nonce(12) of a secret-key stanza; plaintext byte i = (i*31) mod 251; blake3 and cid are of the sealed bytes; root_with_zeroed_trailer is R' (§3.3), what a signed object's trailer signs (Ed25519 is deterministic, so the trailer is reproducible). v1 vectors: sealed-v1.json (read only).",
            "vectors": out,
        }),
    );
}

#[test]
fn sealed_vectors_open_and_reject_tampering() {
    if writing() {
        return;
    }
    let file = load("sealed.json");
    for v in file["vectors"].as_array().unwrap() {
        let sealed = hexs(&v["sealed"]);
        let pt = hexs(&v["plaintext"]);
        let seed0: [u8; 32] = match v["recipient_seeds"][0].as_str() {
            Some(_) => hexs(&v["recipient_seeds"][0]).try_into().unwrap(),
            None => seed(1),
        };
        let me = Identity::from_seed(&seed0);
        let key = v["wrap_keys"][0]
            .as_str()
            .map(|_| seal::WrapKey::from_bytes(hexs(&v["wrap_keys"][0]).try_into().unwrap()));
        let unlock = match (&key, v["recipient_seeds"][0].as_str()) {
            (Some(k), None) => seal::Unlock::Key(k),
            _ => seal::Unlock::Identity(&me),
        };
        let opened = seal::open_to_vec_with(unlock, &sealed).unwrap();
        assert_eq!(opened.plaintext, pt);
        if let Some(s) = v["signer_seed"].as_str() {
            let signer = Identity::from_seed(&hex::decode(s).unwrap().try_into().unwrap());
            assert_eq!(opened.signer.as_ref(), Some(signer.recipient()));
        }
        let mut bad = sealed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert!(seal::open_to_vec_with(unlock, &bad).is_err());
    }
    // The v1 vectors stay readable.
    let file = load("sealed-v1.json");
    for v in file["vectors"].as_array().unwrap() {
        let sealed = hexs(&v["sealed"]);
        let seed0: [u8; 32] = hexs(&v["recipient_seeds"][0]).try_into().unwrap();
        let opened = seal::open_to_vec(&Identity::from_seed(&seed0), &sealed).unwrap();
        assert_eq!(opened.plaintext, hexs(&v["plaintext"]));
        assert_eq!(opened.header_only, opened.signer.is_some());
    }
}

#[test]
fn cid_vectors() {
    let inputs: &[(&str, Vec<u8>)] = &[
        ("empty", Vec::new()),
        ("hello", b"hello".to_vec()),
        ("1025 bytes of pattern", plaintext(1025)),
    ];
    let mut out = Vec::new();
    for (name, bytes) in inputs {
        let raw = block::raw_cid(bytes);
        out.push(json!({
            "name": name,
            "bytes": hex::encode(bytes),
            "blake3": blake3::hash(bytes).to_hex().to_string(),
            "cid_raw": raw.to_string(),
            "cid_raw_bytes": hex::encode(raw.to_bytes()),
            "cid_dag_cbor": block::dag_cbor_cid(bytes).to_string(),
        }));
    }
    check_or_write(
        "cid.json",
        json!({
            "description": "CIDv1 with the blake3 multihash (0x1e, 32 bytes): raw (0x55) and dag-cbor (0x71), base32 lower-case multibase 'b'. Kubo prints the same CID for `ipfs block put --cid-codec raw --mhtype blake3` (checked by the IPFS transport tests)",
            "vectors": out,
        }),
    );
}

/// X-Wing itself, through the hpke crate's KEM as coffer calls it: the draft's key pairs and
/// encapsulations (`test-vectors/xwing-draft.json`, external).
#[test]
fn xwing_draft_known_answers() {
    use hpke::Deserializable;
    let file = load("xwing-draft.json");
    let vectors = file["vectors"].as_array().unwrap();
    assert!(!vectors.is_empty());
    for v in vectors {
        let sk = <KemXWing as hpke::Kem>::PrivateKey::from_bytes(&hexs(&v["sk"])).unwrap();
        let pk = KemXWing::sk_to_pk(&sk);
        assert_eq!(pk.to_bytes().as_slice(), hexs(&v["pk"]).as_slice(), "pk");
        let mut rng = FixedRng::new(hexs(&v["eseed"]));
        let (enc, mut ctx) = hpke::setup_sender_with_rng::<
            hpke::aead::AesGcm256,
            hpke::kdf::HkdfSha256,
            KemXWing,
        >(&hpke::OpModeS::Base, &pk, b"coffer/v2/file-key", &mut rng)
        .unwrap();
        assert_eq!(enc.to_bytes().as_slice(), hexs(&v["ct"]).as_slice(), "ct");
        // The receiver derives the same context from the draft's ciphertext.
        let ct = ctx.seal(b"file key", b"").unwrap();
        let mut rx =
            hpke::setup_receiver::<hpke::aead::AesGcm256, hpke::kdf::HkdfSha256, KemXWing>(
                &hpke::OpModeR::Base,
                &sk,
                &<KemXWing as hpke::Kem>::EncappedKey::from_bytes(&hexs(&v["ct"])).unwrap(),
                b"coffer/v2/file-key",
            )
            .unwrap();
        assert_eq!(rx.open(&ct, b"").unwrap(), b"file key");
    }
}

/// One post-quantum or did:key case: who an object is sealed to (by seed number and form).
#[derive(Clone, Copy)]
enum Form {
    Classic(u8),
    PostQuantum(u8),
    DidKey(u8),
}

struct PqCase {
    name: &'static str,
    to: &'static [Form],
    signer: Option<u8>,
    len: usize,
    segment_log2: u8,
}

const PQ_CASES: &[PqCase] = &[
    PqCase {
        name: "post-quantum recipient",
        to: &[Form::PostQuantum(1)],
        signer: None,
        len: 100,
        segment_log2: 10,
    },
    PqCase {
        name: "mixed: post-quantum, classic and did:key recipients, signed",
        to: &[Form::PostQuantum(1), Form::Classic(2), Form::DidKey(3)],
        signer: Some(2),
        len: 3000,
        segment_log2: 10,
    },
];

fn form_recipient(f: Form) -> (u8, Recipient) {
    match f {
        Form::Classic(n) => (n, Identity::from_seed(&seed(n)).recipient().clone()),
        Form::PostQuantum(n) => (
            n,
            Identity::from_seed(&seed(n))
                .post_quantum_recipient()
                .clone(),
        ),
        Form::DidKey(n) => (
            n,
            Recipient::from_did_key(&Identity::from_seed(&seed(n)).did_key()).unwrap(),
        ),
    }
}

/// Post-quantum recipients, did:key forms and objects sealed to them
/// (`test-vectors/post-quantum.json`, `docs/FORMAT.md` §1–3).
#[test]
fn post_quantum_and_did_key_vectors() {
    let mut ids = Vec::new();
    for n in 1..=3u8 {
        let id = Identity::from_seed(&seed(n));
        let pq = id.post_quantum_recipient();
        let did = id.did_key();
        let from_did = Recipient::from_did_key(&did).unwrap();
        ids.push(json!({
            "seed": hex::encode(seed(n)),
            "xwing_public": hex::encode(pq.xwing_public_key().unwrap()),
            "recipient_pq": pq.to_string(),
            "did_key": did,
            "did_x25519_public": hex::encode(from_did.kem_public_key()),
        }));
        assert_eq!(&pq.to_string().parse::<Recipient>().unwrap(), pq);
        assert_eq!(did.parse::<Recipient>().unwrap(), from_did);
        assert!(from_did.same_identity(id.recipient()) && pq.same_identity(id.recipient()));
    }
    let mut sealed_out = Vec::new();
    for (k, case) in PQ_CASES.iter().enumerate() {
        let to: Vec<(u8, Recipient)> = case.to.iter().map(|f| form_recipient(*f)).collect();
        let mut opts = SealOptions::new(to.iter().map(|(_, r)| r.clone()).collect())
            .segment_size_log2(case.segment_log2);
        if let Some(s) = case.signer {
            opts = opts.signed_by(&Identity::from_seed(&seed(s)));
        }
        // file key and salt, then per stanza: X-Wing's 64 bytes of encapsulation randomness or
        // an X25519 ikmE (32).
        let need: usize = 64
            + to.iter()
                .map(|(_, r)| if r.is_post_quantum() { 64 } else { 32 })
                .sum::<usize>();
        let randomness: Vec<u8> = (0..need)
            .map(|i| (i as u8).wrapping_mul(11).wrapping_add(k as u8))
            .collect();
        let pt = plaintext(case.len);
        let sealed =
            seal::seal_to_vec_with_rng(&opts, &pt, &mut FixedRng::new(randomness.clone())).unwrap();
        for (n, _) in &to {
            let opened = seal::open_to_vec(&Identity::from_seed(&seed(*n)), &sealed).unwrap();
            assert_eq!(opened.plaintext, pt);
            if let Some(s) = case.signer {
                let signer = Identity::from_seed(&seed(s));
                assert!(
                    opened
                        .signer
                        .as_ref()
                        .unwrap()
                        .same_identity(signer.recipient())
                );
            }
        }
        sealed_out.push(json!({
            "name": case.name,
            "recipients": to.iter().map(|(_, r)| r.to_string()).collect::<Vec<_>>(),
            "recipient_seeds": to.iter().map(|(n, _)| hex::encode(seed(*n))).collect::<Vec<_>>(),
            "signer_seed": case.signer.map(|s| hex::encode(seed(s))),
            "segment_log2": case.segment_log2,
            "randomness": hex::encode(&randomness),
            "plaintext": hex::encode(&pt),
            "sealed": hex::encode(&sealed),
        }));
    }
    check_or_write(
        "post-quantum.json",
        json!({
            "description": "post-quantum hybrid recipients (X-Wing) and did:key forms (docs/FORMAT.md §1, §2.1-2.2, §3.2): seed -> X-Wing public key, cofferpq1 text, did:key and the X25519 key a did:key seals to; then objects sealed with the given randomness (file key 32, salt 32, then per stanza 64 bytes of X-Wing encapsulation randomness or a 32-byte X25519 ikmE)",
            "identities": ids,
            "sealed": sealed_out,
        }),
    );
}

/// A v2 manifest carrying its sealed object inline (docs/FORMAT.md §8), sealed as a vault seals
/// manifests (to the object key, signed by the owner), with what a reader must get from it, and
/// manifests whose inline bytes disagree with them, which a reader must refuse (`Corrupt`).
#[test]
fn inline_manifest_vectors() {
    use crate::vault::format::{INLINE_MAX, Manifest};
    let object_key = [0x42u8; 32];
    let wrap = || seal::WrapKey::from_bytes(object_key);
    let owner = Identity::from_seed(&seed(1));
    let pt = plaintext(1000);
    // file key (32) || salt (32) || the key stanza's nonce (12)
    let rng = |k: u8| -> Vec<u8> { (0..76u8).map(|i| i.wrapping_mul(11) ^ k).collect() };
    let sealed_object = seal::seal_to_vec_with_rng(
        &SealOptions::to_key(wrap()),
        &pt,
        &mut FixedRng::new(rng(1)),
    )
    .unwrap();
    let root = *blake3::hash(&sealed_object).as_bytes();
    let manifest = Manifest {
        v: 2,
        key: b"notes/small.txt".to_vec(),
        data: block::raw_cid(&sealed_object),
        sealed_len: sealed_object.len() as u64,
        plain_len: pt.len() as u64,
        blake3: root,
        outboard: None,
        content_type: Some("text/plain".into()),
        metadata: Default::default(),
        created_ms: 1_780_000_000_000,
        prev: None,
        etag: None,
        pad: None,
        inline: Some(serde_bytes::ByteBuf::from(sealed_object.clone())),
    };
    let manifest_plain = manifest.encode().unwrap();
    let sealed_manifest = seal::seal_to_vec_with_rng(
        &SealOptions::to_key(wrap()).signed_by(&owner),
        &manifest_plain,
        &mut FixedRng::new(rng(2)),
    )
    .unwrap();

    // What a reader does: open the manifest (owner-signed), decode it, check the inline bytes
    // like fetched ones, open them.
    let read = |plain: &[u8]| -> Result<Vec<u8>, String> {
        let m = Manifest::decode(plain).map_err(|e| e.to_string())?;
        let inline = m.inline_bytes().ok_or("not inline")?;
        if !m.check_sealed(&inline) {
            return Err("does not match its manifest".into());
        }
        let opened = seal::open_to_vec_with(seal::Unlock::Key(&wrap()), &inline)
            .map_err(|e| e.to_string())?;
        Ok(opened.plaintext)
    };
    let opened = seal::open_to_vec_with(seal::Unlock::Key(&wrap()), &sealed_manifest).unwrap();
    assert_eq!(opened.signer.as_ref(), Some(owner.recipient()));
    assert_eq!(read(&opened.plaintext).unwrap(), pt);

    let other = seal::seal_to_vec_with_rng(
        &SealOptions::to_key(wrap()),
        &plaintext(1000),
        &mut FixedRng::new(rng(3)),
    )
    .unwrap();
    let bytes = |b: Vec<u8>| Some(serde_bytes::ByteBuf::from(b));
    let mut flipped = sealed_object.clone();
    flipped[500] ^= 1;
    let broken = [
        (
            "inline one byte short",
            Manifest {
                inline: bytes(sealed_object[..sealed_object.len() - 1].to_vec()),
                ..manifest.clone()
            },
        ),
        (
            "inline with one bit flipped",
            Manifest {
                inline: bytes(flipped),
                ..manifest.clone()
            },
        ),
        (
            "inline bytes of another object of the same length",
            Manifest {
                inline: bytes(other.clone()),
                ..manifest.clone()
            },
        ),
        (
            "inline with an outboard",
            Manifest {
                outboard: Some(block::raw_cid(b"outboard")),
                ..manifest.clone()
            },
        ),
        (
            "data is not the CID of the BLAKE3 root",
            Manifest {
                data: block::raw_cid(&other),
                ..manifest.clone()
            },
        ),
        (
            "inline over 16 KiB",
            Manifest {
                sealed_len: INLINE_MAX + 1,
                inline: bytes(vec![0; INLINE_MAX as usize + 1]),
                ..manifest.clone()
            },
        ),
    ];
    let mut refused = Vec::new();
    for (what, m) in broken {
        let plain = m.encode().unwrap();
        assert!(read(&plain).is_err(), "{what}");
        refused.push(json!({
            "what": what,
            "manifest_plaintext": hex::encode(&plain),
            "error": "Corrupt",
        }));
    }
    check_or_write(
        "vault-manifest-inline.json",
        json!({
            "description": "A v2 object manifest carrying its sealed object inline (docs/FORMAT.md §8, `inline`). `sealed_manifest` is the manifest as a vault stores it: sealed (§3) to the secret wrap key `object_key` (stanza kind 3), signed by the identity with seed `owner_seed`; `manifest_plaintext` is what it opens to (DAG-CBOR, padded). A reader checks the signer, decodes the manifest, checks `inline` as it checks fetched bytes (length = sealed_len, BLAKE3 = blake3, data = CIDv1(raw, blake3), no outboard, at most 16384 bytes), opens `inline` with `object_key` and must get `plaintext` (byte i = (i*31) mod 251). Each `refused` manifest plaintext (the same manifest with one thing wrong) must be refused as corrupt, with no data returned.",
            "object_key": hex::encode(object_key),
            "owner_seed": hex::encode(seed(1)),
            "key": "notes/small.txt",
            "plaintext": hex::encode(&pt),
            "sealed_object": hex::encode(&sealed_object),
            "data_cid": block::raw_cid(&sealed_object).to_string(),
            "manifest_plaintext": hex::encode(&manifest_plain),
            "sealed_manifest": hex::encode(&sealed_manifest),
            "manifest_cid": block::raw_cid(&sealed_manifest).to_string(),
            "refused": refused,
        }),
    );
}
