use std::io::{Read, Write};

use proptest::prelude::*;

use super::gcm::{Backend, with_backend};
use super::*;
use crate::keys::Identity;

fn id(n: u8) -> Identity {
    thread_local! {
        static IDS: std::cell::RefCell<std::collections::HashMap<u8, Identity>> = Default::default();
    }
    IDS.with(|m| {
        m.borrow_mut()
            .entry(n)
            .or_insert_with(|| Identity::from_seed(&[n; 32]))
            .clone()
    })
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// 1 KiB segments keep multi-segment objects small.
fn opts_small(to: &Identity) -> SealOptions {
    SealOptions::new(vec![to.recipient().clone()]).segment_size_log2(10)
}

fn open_err(identity: &Identity, sealed: &[u8]) -> SealError {
    open_to_vec(identity, sealed).expect_err("damaged object opened")
}

/// Runs `f` once per AES-GCM backend this build holds (portable; ring too with feature `ring`),
/// so one build checks both.
fn on_every_backend(f: impl Fn()) {
    for &b in Backend::ALL {
        with_backend(b, &f);
    }
}

/// Cases for the big property tests: `PROPTEST_CASES` when set (the long campaign,
/// `.ci/long-checks.sh`), else `default`, split across the backends.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn any_backend() -> impl Strategy<Value = Backend> {
    prop::sample::select(Backend::ALL.to_vec())
}

/// Every backend reproduces `test-vectors/sealed.json` byte for byte, and opens what the other
/// sealed (the vectors were written by the portable backend).
#[test]
fn sealed_vectors_are_identical_on_every_backend() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../test-vectors/sealed.json");
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert!(vectors.len() >= 4);
    let seed = |h: &serde_json::Value| -> [u8; 32] {
        hex::decode(h.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    for v in vectors {
        let ids: Vec<Identity> = v["recipient_seeds"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| Identity::from_seed(&seed(h)))
            .collect();
        let keys: Vec<WrapKey> = v["wrap_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| WrapKey::from_bytes(seed(h)))
            .collect();
        let mut opts = SealOptions::new(ids.iter().map(|i| i.recipient().clone()).collect())
            .segment_size_log2(v["segment_log2"].as_u64().unwrap() as u8);
        for k in &keys {
            opts = opts.also_to(SealTo::Key(k.clone()));
        }
        if !v["signer_seed"].is_null() {
            opts = opts.signed_by(&Identity::from_seed(&seed(&v["signer_seed"])));
        }
        let plaintext = hex::decode(v["plaintext"].as_str().unwrap()).unwrap();
        let randomness = hex::decode(v["randomness"].as_str().unwrap()).unwrap();
        let expected = hex::decode(v["sealed"].as_str().unwrap()).unwrap();
        for &sealer in Backend::ALL {
            let sealed = with_backend(sealer, || {
                seal_to_vec_with_rng(&opts, &plaintext, &mut FixedRng::new(randomness.clone()))
                    .unwrap()
            });
            assert!(
                sealed == expected,
                "{}: {sealer:?} sealed other bytes",
                v["name"]
            );
            for &opener in Backend::ALL {
                let unlock = match ids.first() {
                    Some(id) => Unlock::Identity(id),
                    None => Unlock::Key(&keys[0]),
                };
                let opened = with_backend(opener, || open_to_vec_with(unlock, &sealed).unwrap());
                assert_eq!(opened.plaintext, plaintext, "{}: {opener:?}", v["name"]);
            }
        }
    }
}

#[test]
fn round_trips_at_segment_boundaries() {
    on_every_backend(|| {
        let bob = id(1);
        for len in [0, 1, 1023, 1024, 1025, 2048, 3000, 10 * 1024] {
            let plain = data(len);
            let sealed = seal_to_vec(&opts_small(&bob), &plain).unwrap();
            let opened = open_to_vec(&bob, &sealed).unwrap();
            assert_eq!(opened.plaintext, plain, "len {len}");
            assert_eq!(opened.signer, None);
            let segments = len.div_ceil(1024).max(1);
            let header = Header::parse(&sealed).unwrap();
            assert_eq!(
                sealed.len(),
                header.len() + len + segments * TAG_LEN,
                "len {len}"
            );
        }
    });
}

#[test]
fn several_recipients_each_open_and_others_do_not() {
    let (a, b, c) = (id(1), id(2), id(3));
    let opts = SealOptions::new(vec![a.recipient().clone(), b.recipient().clone()]);
    let sealed = seal_to_vec(&opts, b"shared").unwrap();
    assert_eq!(open_to_vec(&a, &sealed).unwrap().plaintext, b"shared");
    assert_eq!(open_to_vec(&b, &sealed).unwrap().plaintext, b"shared");
    assert!(matches!(
        open_err(&c, &sealed),
        SealError::NoMatchingRecipient
    ));
}

#[test]
fn sealing_twice_gives_different_bytes() {
    let bob = id(1);
    let a = seal_to_vec(&opts_small(&bob), b"same").unwrap();
    let b = seal_to_vec(&opts_small(&bob), b"same").unwrap();
    assert_ne!(a, b);
}

#[test]
fn signer_is_reported_and_checked() {
    let (alice, bob) = (id(1), id(2));
    let sealed = seal_to_vec(&opts_small(&bob).signed_by(&alice), &data(3000)).unwrap();
    // The signer is in the trailer: known once the stream ended.
    let mut r = OpenReader::new(sealed.as_slice(), &bob).unwrap();
    assert!(r.is_signed());
    assert_eq!(r.signer(), None);
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    assert_eq!(out, data(3000));
    assert_eq!(r.signer(), Some(alice.recipient()));
    assert!(!r.header_only());
    let mut r = OpenReader::new(sealed.as_slice(), &bob)
        .unwrap()
        .require_signer(alice.recipient())
        .unwrap();
    r.read_to_end(&mut Vec::new()).unwrap();
    // Another required signer: the final segment is withheld and the stream fails.
    let mut r = OpenReader::new(sealed.as_slice(), &bob)
        .unwrap()
        .require_signer(bob.recipient())
        .unwrap();
    let mut out = Vec::new();
    let e = r.read_to_end(&mut out).unwrap_err();
    assert!(matches!(SealError::from_io(e), SealError::UnexpectedSigner));
    assert!(out.len() < 3000, "the last segment was released");
    // An unsigned object fails at once.
    let unsigned = seal_to_vec(&opts_small(&bob), b"hi").unwrap();
    assert!(matches!(
        OpenReader::new(unsigned.as_slice(), &bob)
            .unwrap()
            .require_signer(alice.recipient()),
        Err(SealError::UnexpectedSigner)
    ));
}

/// Reads that take whole segments straight into the caller's buffer release nothing the
/// stream refuses: a final segment withheld for its signer leaves zeros, not plaintext, in the
/// buffer, and damage in a middle segment leaves zeros where it would have landed.
#[test]
fn reads_into_big_buffers_never_hold_refused_plaintext() {
    on_every_backend(|| {
        let (alice, bob) = (id(1), id(2));
        let body = data(3000);
        let sealed = seal_to_vec(&opts_small(&bob).signed_by(&alice), &body).unwrap();
        // The right signer: whole segments come through the big buffer, then the end.
        let mut r = OpenReader::new(sealed.as_slice(), &bob).unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, body);
        // Another required signer: the final segment (952 bytes) fails, the buffer holds zeros.
        let mut r = OpenReader::new(sealed.as_slice(), &bob)
            .unwrap()
            .require_signer(bob.recipient())
            .unwrap();
        let mut buf = vec![0xAAu8; 4096];
        assert_eq!(r.read(&mut buf).unwrap(), 1024);
        assert_eq!(r.read(&mut buf).unwrap(), 1024);
        let e = r.read(&mut buf).unwrap_err();
        assert!(matches!(SealError::from_io(e), SealError::UnexpectedSigner));
        assert!(
            buf[..952].iter().all(|&b| b == 0),
            "refused plaintext released"
        );
        assert!(r.read(&mut buf).is_err(), "the stream stays failed");
        // A damaged middle segment: an error, and no plaintext of it in the buffer.
        let mut bad = sealed.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 1;
        let mut r = OpenReader::new(bad.as_slice(), &bob).unwrap();
        let mut buf = vec![0xAAu8; 4096];
        let mut failed = false;
        for _ in 0..4 {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => {
                    failed = true;
                    assert!(
                        buf[..1024].iter().all(|&b| b == 0),
                        "damaged plaintext released"
                    );
                    break;
                }
            }
        }
        assert!(failed, "a damaged object read to the end");
    });
}

#[test]
fn a_co_recipient_cannot_put_other_content_under_a_signed_header() {
    // Bob seals to Alice and Carol, signed. Carol knows the file key: she re-encrypts other
    // content under Bob's header, keeps his trailer. The trailer covers the content: refused.
    let (bob, alice, carol) = (id(1), id(2), id(3));
    let opts = SealOptions::new(vec![alice.recipient().clone(), carol.recipient().clone()])
        .signed_by(&bob)
        .segment_size_log2(10);
    let sealed = seal_to_vec(&opts, b"pay alice 10 EUR").unwrap();
    let header = Header::parse(&sealed).unwrap();
    let hlen = header.len();
    let (keys, _, _) = header.unlock(Unlock::Identity(&carol)).unwrap();
    let cipher = cipher_for(&header, &keys);
    let mut seg = b"pay carol 10000 EUR".to_vec();
    cipher.seal_segment(0, true, &mut seg);
    let mut forged = sealed[..hlen].to_vec();
    forged.extend_from_slice(&seg);
    forged.extend_from_slice(&sealed[sealed.len() - TRAILER_LEN..]);
    assert!(matches!(open_err(&alice, &forged), SealError::BadSignature));
    // Dropping the trailer and the signed flag gives an unsigned object: no signer claimed.
    assert_eq!(
        open_to_vec(&alice, &sealed).unwrap().signer.as_ref(),
        Some(bob.recipient())
    );
}

#[test]
fn v1_objects_open_and_say_their_signature_covers_the_header_only() {
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../test-vectors/sealed-v1.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut signed = 0;
    for case in v["vectors"].as_array().unwrap() {
        let sealed = hex::decode(case["sealed"].as_str().unwrap()).unwrap();
        let plaintext = hex::decode(case["plaintext"].as_str().unwrap()).unwrap();
        for r in case["recipient_seeds"].as_array().unwrap() {
            let seed: [u8; 32] = hex::decode(r.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap();
            let who = Identity::from_seed(&seed);
            let opened = open_to_vec(&who, &sealed).unwrap();
            assert_eq!(opened.plaintext, plaintext);
            assert_eq!(opened.header_only, opened.signer.is_some());
            signed += usize::from(opened.signer.is_some());
            let reader = RangeReader::new(sealed.as_slice(), &who).unwrap();
            assert_eq!(reader.header_only(), opened.header_only);
            assert_eq!(
                reader.read_range(0..plaintext.len() as u64).unwrap(),
                plaintext
            );
        }
    }
    assert!(signed > 0, "the v1 vectors include signed objects");
}

#[test]
fn writer_accepts_any_write_pattern() {
    on_every_backend(|| {
        let bob = id(1);
        let plain = data(5000);
        let mut w = SealWriter::new(Vec::new(), &opts_small(&bob)).unwrap();
        for chunk in plain.chunks(7) {
            w.write_all(chunk).unwrap();
        }
        let (sealed, summary) = w.finish().unwrap();
        assert_eq!(summary.plaintext_len, 5000);
        assert_eq!(summary.sealed_len, sealed.len() as u64);
        let mut r = OpenReader::new(sealed.as_slice(), &bob).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, plain);
    });
}

#[test]
fn async_and_sync_paths_agree() {
    on_every_backend(|| {
        let bob = id(1);
        let plain = data(4097);
        let opts = opts_small(&bob);
        let mut sealed = Vec::new();
        let s =
            futures_executor::block_on(seal_async(&opts, plain.as_slice(), &mut sealed)).unwrap();
        assert_eq!(s.sealed_len, sealed.len() as u64);
        assert_eq!(open_to_vec(&bob, &sealed).unwrap().plaintext, plain);
        let sync_sealed = seal_to_vec(&opts, &plain).unwrap();
        let mut out = Vec::new();
        let o =
            futures_executor::block_on(open_async(&bob, sync_sealed.as_slice(), &mut out)).unwrap();
        assert_eq!(out, plain);
        assert_eq!(o.plaintext_len, 4097);
        let mut empty = Vec::new();
        futures_executor::block_on(seal_async(&opts, &b""[..], &mut empty)).unwrap();
        assert_eq!(open_to_vec(&bob, &empty).unwrap().plaintext, b"");
    });
}

#[test]
fn ranges_read_only_what_they_need_and_match() {
    on_every_backend(|| {
        let bob = id(1);
        let plain = data(10_000);
        let sealed = seal_to_vec(&opts_small(&bob), &plain).unwrap();
        let reader = RangeReader::new(sealed.as_slice(), &bob).unwrap();
        assert_eq!(reader.plaintext_len(), 10_000);
        for (s, e) in [
            (0, 0),
            (0, 1),
            (1023, 1025),
            (5000, 5000),
            (9000, 10_000),
            (0, 10_000),
            (4096, 8192),
        ] {
            assert_eq!(
                reader.read_range(s..e).unwrap(),
                &plain[s as usize..e as usize],
                "{s}..{e}"
            );
        }
        let ct = reader.opened_header().ciphertext_range(1030..1040).unwrap();
        assert_eq!(
            ct.end - ct.start,
            1024 + 16,
            "one segment for a range inside one segment"
        );
        assert!(matches!(
            reader.read_range(9_999..10_001),
            Err(SealError::RangeOutOfBounds { .. })
        ));
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 5..4;
        assert!(matches!(
            reader.read_range(backwards),
            Err(SealError::RangeOutOfBounds { .. })
        ));
    });
}

#[test]
fn range_reads_detect_damage_in_the_segments_they_touch() {
    on_every_backend(|| {
        let bob = id(1);
        let plain = data(5000);
        let mut sealed = seal_to_vec(&opts_small(&bob), &plain).unwrap();
        let hlen = Header::parse(&sealed).unwrap().len();
        sealed[hlen + 1040 + 5] ^= 1; // segment 1
        let reader = RangeReader::new(sealed.as_slice(), &bob).unwrap();
        assert_eq!(reader.read_range(0..1024).unwrap(), &plain[..1024]);
        assert!(matches!(
            reader.read_range(1024..1030),
            Err(SealError::SegmentCorrupt { index: 1, .. })
        ));
        // Truncated by a whole segment: the new last segment is not final.
        let sealed = seal_to_vec(&opts_small(&bob), &plain).unwrap();
        let cut = &sealed[..hlen + 2 * 1040];
        let reader = RangeReader::new(cut, &bob).unwrap();
        assert!(matches!(
            reader.read_range(1500..1600),
            Err(SealError::Truncated)
        ));
    });
}

// --- Each kind of damage gets its own error -------------------------------------------------

fn sealed_pair() -> (Identity, Vec<u8>, usize) {
    let bob = id(1);
    let sealed = seal_to_vec(&opts_small(&bob), &data(5000)).unwrap();
    let hlen = Header::parse(&sealed).unwrap().len();
    (bob, sealed, hlen)
}

fn signed_pair() -> (Identity, Vec<u8>, usize) {
    let bob = id(1);
    let sealed = seal_to_vec(&opts_small(&bob).signed_by(&id(9)), &data(5000)).unwrap();
    let hlen = Header::parse(&sealed).unwrap().len();
    (bob, sealed, hlen)
}

#[test]
fn wrong_identity() {
    let (_, sealed, _) = sealed_pair();
    assert!(matches!(
        open_err(&id(2), &sealed),
        SealError::NoMatchingRecipient
    ));
}

#[test]
fn not_sealed_and_unsupported_version() {
    let (bob, mut sealed, _) = sealed_pair();
    assert!(matches!(
        open_err(&bob, b"hello world, not sealed"),
        SealError::NotSealed
    ));
    assert!(matches!(
        open_err(&bob, b""),
        SealError::TruncatedHeader { .. }
    ));
    sealed[6] = 3;
    assert!(matches!(
        open_err(&bob, &sealed),
        SealError::UnsupportedVersion(3)
    ));
}

#[test]
fn header_fields_flipped() {
    let (bob, sealed, hlen) = signed_pair();
    assert_eq!(hlen, 16 + 32 + 81 + 32 + 32);
    let flip = |pos: usize| {
        let mut s = sealed.clone();
        s[pos] ^= 0x01;
        open_err(&bob, &s)
    };
    assert!(matches!(flip(8), SealError::HeaderTampered)); // segment size 2^10 → 2^11
    // Clearing the "signed" flag: the MAC no longer verifies.
    assert!(matches!(flip(7), SealError::HeaderTampered));
    assert!(matches!(flip(9), SealError::InvalidHeader(_)));
    assert!(matches!(flip(15), SealError::InvalidHeader(_))); // header length
    assert!(matches!(flip(16), SealError::KeyCommitmentMismatch)); // salt
    assert!(matches!(flip(48), SealError::InvalidHeader(_))); // stanza kind 1 → 0
    assert!(matches!(flip(49), SealError::NoMatchingRecipient)); // stanza enc
    assert!(matches!(flip(49 + 40), SealError::NoMatchingRecipient)); // wrapped key
    assert!(matches!(flip(129), SealError::KeyCommitmentMismatch)); // commitment
    assert!(matches!(flip(hlen - 1), SealError::HeaderTampered)); // MAC
    // The trailer: signer keys, signature, tag.
    let end = sealed.len();
    assert!(matches!(
        flip(end - TRAILER_LEN + 3),
        SealError::BadSignature
    ));
    assert!(matches!(flip(end - 80), SealError::BadSignature));
    assert!(matches!(flip(end - 1), SealError::BadSignature));
}

#[test]
fn a_signed_object_cut_extended_or_with_another_trailer_is_refused() {
    let (bob, sealed, hlen) = signed_pair();
    // Cut anywhere after the header: never opens.
    for cut in [1usize, 10, TRAILER_LEN, TRAILER_LEN + 1, 1040, 2000] {
        assert!(
            open_to_vec(&bob, &sealed[..sealed.len() - cut]).is_err(),
            "cut {cut}"
        );
    }
    // Extended.
    let mut s = sealed.clone();
    s.extend_from_slice(&[0u8; 16]);
    assert!(open_to_vec(&bob, &s).is_err());
    // Trailer of another object by the same signer to the same recipient.
    let other = seal_to_vec(&opts_small(&bob).signed_by(&id(9)), &data(5000)).unwrap();
    let mut s = sealed.clone();
    let n = s.len();
    s[n - TRAILER_LEN..].copy_from_slice(&other[n - TRAILER_LEN..]);
    assert!(matches!(open_err(&bob, &s), SealError::BadSignature));
    // The payload of another object under this header and trailer.
    let mut s = sealed[..hlen].to_vec();
    s.extend_from_slice(&other[hlen..]);
    assert!(open_to_vec(&bob, &s).is_err());
}

#[test]
fn range_reads_of_signed_objects_check_the_trailer_with_or_without_the_outboard() {
    let (bob, signer) = (id(1), id(9));
    for len in [0usize, 100, 16_000, 16_384, 40_000, 100_000] {
        let plain = data(len);
        let opts = opts_small(&bob).signed_by(&signer);
        let mut w = SealWriter::with_outboard(Vec::new(), &opts).unwrap();
        w.write_all(&plain).unwrap();
        let (sealed, summary, outboard) = w.finish_outboard().unwrap();
        assert_eq!(summary.root, Some(*blake3::hash(&sealed).as_bytes()));
        assert_eq!(outboard.root(), blake3::hash(&sealed));
        let a = RangeReader::new(sealed.as_slice(), &bob).unwrap();
        assert_eq!(a.signer(), Some(signer.recipient()));
        let b =
            RangeReader::with_outboard(sealed.as_slice(), Unlock::Identity(&bob), outboard.clone())
                .unwrap();
        assert_eq!(b.signer(), Some(signer.recipient()), "len {len}");
        if len > 10 {
            assert_eq!(b.read_range(3..len as u64 - 2).unwrap(), &plain[3..len - 2]);
        }
        // A flipped byte anywhere in the payload: the trailer no longer verifies by hashing, and
        // the outboard refuses the range (or the trailer check) with it.
        if len > 0 {
            let mut bad = sealed.clone();
            let at = Header::parse(&sealed).unwrap().len() + len / 2;
            bad[at] ^= 1;
            assert!(RangeReader::new(bad.as_slice(), &bob).is_err(), "len {len}");
            match RangeReader::with_outboard(bad.as_slice(), Unlock::Identity(&bob), outboard) {
                Err(_) => {}
                Ok(r) => assert!(r.read_range(0..len as u64).is_err()),
            }
        }
    }
}

#[test]
fn segment_damage() {
    on_every_backend(|| {
        let (bob, sealed, hlen) = sealed_pair();
        const STRIDE: usize = 1040;
        // flipped bit in a segment body and in a tag
        let mut s = sealed.clone();
        s[hlen + STRIDE * 2 + 100] ^= 0x80;
        assert!(matches!(
            open_err(&bob, &s),
            SealError::SegmentCorrupt { index: 2, .. }
        ));
        let mut s = sealed.clone();
        s[hlen + STRIDE - 1] ^= 0x01;
        assert!(matches!(
            open_err(&bob, &s),
            SealError::SegmentCorrupt { index: 0, .. }
        ));
        // truncated at a segment boundary, mid-segment, inside the header
        assert!(matches!(
            open_err(&bob, &sealed[..hlen + 2 * STRIDE]),
            SealError::Truncated
        ));
        assert!(matches!(
            open_err(&bob, &sealed[..hlen]),
            SealError::Truncated
        ));
        assert!(open_to_vec(&bob, &sealed[..hlen + 2 * STRIDE + 7]).is_err());
        assert!(matches!(
            open_err(&bob, &sealed[..hlen - 3]),
            SealError::TruncatedHeader { .. }
        ));
        // extended
        let mut s = sealed.clone();
        s.extend_from_slice(&sealed[hlen..hlen + STRIDE]);
        assert!(matches!(
            open_err(&bob, &s),
            SealError::SegmentCorrupt { .. } | SealError::TrailingData
        ));
        // reordered: swap segments 1 and 2
        let mut s = sealed.clone();
        let (one, two) = (hlen + STRIDE, hlen + 2 * STRIDE);
        let seg1 = sealed[one..two].to_vec();
        s[one..two].copy_from_slice(&sealed[two..two + STRIDE]);
        s[two..two + STRIDE].copy_from_slice(&seg1);
        assert!(matches!(
            open_err(&bob, &s),
            SealError::SegmentOutOfOrder {
                position: 1,
                found: 2
            }
        ));
        // duplicated: segment 1 repeated in place of segment 2
        let mut s = sealed.clone();
        s[two..two + STRIDE].copy_from_slice(&seg1);
        assert!(matches!(
            open_err(&bob, &s),
            SealError::SegmentOutOfOrder {
                position: 2,
                found: 1
            }
        ));
    });
}

#[test]
fn full_last_segment_extended_by_a_segment_is_trailing_data() {
    on_every_backend(|| {
        let bob = id(1);
        let sealed = seal_to_vec(&opts_small(&bob), &data(2048)).unwrap();
        let hlen = Header::parse(&sealed).unwrap().len();
        let mut s = sealed.clone();
        s.extend_from_slice(&sealed[hlen..hlen + 1040]);
        assert!(matches!(open_err(&bob, &s), SealError::TrailingData));
    });
}

#[test]
fn header_from_another_object() {
    on_every_backend(|| {
        let bob = id(1);
        let opts = opts_small(&bob);
        let a = seal_to_vec(&opts, &data(5000)).unwrap();
        let b = seal_to_vec(&opts, &data(5000)).unwrap();
        let hlen = Header::parse(&a).unwrap().len();
        let mut mixed = a[..hlen].to_vec();
        mixed.extend_from_slice(&b[hlen..]);
        assert!(matches!(open_err(&bob, &mixed), SealError::PayloadMismatch));
    });
}

#[test]
fn the_signer_is_not_visible_in_the_sealed_bytes() {
    let (alice, bob) = (id(1), id(2));
    let sealed = seal_to_vec(&opts_small(&bob).signed_by(&alice), b"hi").unwrap();
    let needle = alice.recipient().ed25519_public_key();
    assert!(!sealed.windows(32).any(|w| w == needle));
    let needle = alice.recipient().kem_public_key();
    assert!(!sealed.windows(32).any(|w| w == needle));
}

#[test]
fn errors_name_no_secrets() {
    let (bob, sealed, _) = sealed_pair();
    let mut s = sealed.clone();
    s[300] ^= 1;
    let msg = open_err(&bob, &s).to_string();
    let secret = bob.to_secret_string();
    assert!(!msg.contains(&secret[19..30]));
}

// --- Random mutations: every one is rejected --------------------------------------------------

#[derive(Debug, Clone)]
enum Mutation {
    Flip { pos: usize, bit: u8 },
    Truncate { len: usize },
    Extend { bytes: Vec<u8> },
    SwapSegments { a: usize, b: usize },
    DuplicateSegment { from: usize, to: usize },
    DropSegment { index: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), 0u8..8).prop_map(|(pos, bit)| Mutation::Flip { pos, bit }),
        1 => any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        1 => proptest::collection::vec(any::<u8>(), 1..2000).prop_map(|bytes| Mutation::Extend { bytes }),
        1 => (0usize..8, 0usize..8).prop_map(|(a, b)| Mutation::SwapSegments { a, b }),
        1 => (0usize..8, 0usize..8).prop_map(|(from, to)| Mutation::DuplicateSegment { from, to }),
        1 => (0usize..8).prop_map(|index| Mutation::DropSegment { index }),
    ]
}

/// Applies `m`; returns `None` when the mutation is a no-op (e.g. swapping a segment with
/// itself).
fn apply(sealed: &[u8], hlen: usize, m: &Mutation) -> Option<Vec<u8>> {
    const STRIDE: usize = 1040;
    let segs: Vec<&[u8]> = sealed[hlen..].chunks(STRIDE).collect();
    let n = segs.len();
    let rebuild = |order: Vec<&[u8]>| {
        let mut out = sealed[..hlen].to_vec();
        for s in order {
            out.extend_from_slice(s);
        }
        out
    };
    match m {
        Mutation::Flip { pos, bit } => {
            let mut s = sealed.to_vec();
            s[pos % sealed.len()] ^= 1 << bit;
            Some(s)
        }
        Mutation::Truncate { len } => Some(sealed[..len % sealed.len()].to_vec()),
        Mutation::Extend { bytes } => {
            let mut s = sealed.to_vec();
            s.extend_from_slice(bytes);
            Some(s)
        }
        Mutation::SwapSegments { a, b } => {
            let (a, b) = (a % n, b % n);
            if segs[a] == segs[b] {
                return None;
            }
            let mut order = segs.clone();
            order.swap(a, b);
            Some(rebuild(order))
        }
        Mutation::DuplicateSegment { from, to } => {
            let mut order = segs.clone();
            order.insert(to % (n + 1), segs[from % n]);
            Some(rebuild(order))
        }
        Mutation::DropSegment { index } => {
            let mut order = segs.clone();
            order.remove(index % n);
            Some(rebuild(order))
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(24_000), failure_persistence: None, ..ProptestConfig::default() })]

    /// Any mutation of a sealed object is rejected by the streaming opener, and no plaintext
    /// is returned.
    #[test]
    fn every_mutation_is_rejected(
        m in mutation(),
        len in prop::sample::select(vec![0usize, 1, 15, 16, 17, 1000, 1023, 1024, 1025, 2048, 3071, 4096, 5000, 6000]),
        signed in any::<bool>(),
        backend in any_backend(),
    ) {
        thread_local! {
            static CACHE: std::cell::RefCell<std::collections::HashMap<(usize, bool), Vec<u8>>> = Default::default();
        }
        let bob = id(1);
        let sealed = CACHE.with(|c| c.borrow_mut().entry((len, signed)).or_insert_with(|| {
            let mut opts = opts_small(&bob);
            if signed { opts = opts.signed_by(&id(2)); }
            seal_to_vec(&opts, &data(len)).unwrap()
        }).clone());
        let hlen = Header::parse(&sealed).unwrap().len();
        if let Some(bad) = apply(&sealed, hlen, &m) {
            let opened = with_backend(backend, || open_to_vec(&bob, &bad));
            prop_assert!(opened.is_err(), "mutation {:?} accepted by {:?}", m, backend);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(16_000), failure_persistence: None, ..ProptestConfig::default() })]

    /// Random access sees the same mutations: a range either comes back equal to the original
    /// plaintext (the mutation did not touch its segments) or fails; the header must still
    /// authenticate.
    #[test]
    fn range_reads_never_return_wrong_bytes(m in mutation(), start in 0u64..6000, span in 0u64..3000, backend in any_backend()) {
        thread_local! {
            static SEALED: Vec<u8> = seal_to_vec(&opts_small(&id(1)), &data(6000)).unwrap();
        }
        let bob = id(1);
        let plain = data(6000);
        let sealed = SEALED.with(|s| s.clone());
        let hlen = Header::parse(&sealed).unwrap().len();
        if let Some(bad) = apply(&sealed, hlen, &m)
            && let Ok(reader) = with_backend(backend, || RangeReader::new(bad.as_slice(), &bob))
        {
            let end = (start + span).min(reader.plaintext_len());
            let start = start.min(end);
            if let Ok(got) = with_backend(backend, || reader.read_range(start..end)) {
                prop_assert_eq!(&got[..], &plain[start as usize..end as usize]);
            }
        }
    }
}

/// An object sealed to a post-quantum recipient carries one X-Wing stanza and no X25519 one, and
/// the identity opens it; a damaged X-Wing ciphertext (ML-KEM's implicit rejection gives a wrong
/// shared secret) is "no matching recipient", never a wrong key.
#[test]
fn post_quantum_recipients_get_xwing_stanzas_only() {
    let me = id(1);
    let pq = me.post_quantum_recipient().clone();
    let pt = data(5000);
    let sealed = seal_to_vec(
        &SealOptions::new(vec![pq.clone()]).segment_size_log2(10),
        &pt,
    )
    .unwrap();
    let header = Header::parse(&sealed).unwrap();
    assert_eq!(header.recipient_count(), 1);
    // prefix, salt, one X-Wing stanza (kind, 1120, 48), commitment, MAC
    assert_eq!(header.len(), 16 + 32 + 1 + 1120 + 48 + 32 + 32);
    assert_eq!(sealed[16 + 32], 0x02, "stanza kind X-Wing");
    assert_eq!(open_to_vec(&me, &sealed).unwrap().plaintext, pt);
    assert!(matches!(
        open_err(&id(2), &sealed),
        SealError::NoMatchingRecipient
    ));
    for pos in [
        16 + 32 + 1,
        16 + 32 + 1 + 1088,
        16 + 32 + 1 + 1119,
        16 + 32 + 1 + 1120,
    ] {
        let mut bad = sealed.clone();
        bad[pos] ^= 0x01;
        assert!(
            matches!(open_err(&me, &bad), SealError::NoMatchingRecipient),
            "flip at {pos}"
        );
    }
}

/// Mixed classic, post-quantum and did:key stanzas: each identity finds its own; a signed
/// object's expected signer may be given in any of the three forms.
#[test]
fn mixed_stanzas_and_signer_forms() {
    let (a, b, c) = (id(1), id(2), id(3));
    let did_c: Recipient = c.did_key().parse().unwrap();
    assert_ne!(
        &did_c,
        c.recipient(),
        "a did:key seals to the Ed25519 key's X25519 form"
    );
    let opts = SealOptions::new(vec![
        a.recipient().clone(),
        b.post_quantum_recipient().clone(),
        did_c,
    ])
    .signed_by(&a)
    .segment_size_log2(10);
    let pt = data(3000);
    let sealed = seal_to_vec(&opts, &pt).unwrap();
    for who in [&a, &b, &c] {
        let opened = open_to_vec(who, &sealed).unwrap();
        assert_eq!(opened.plaintext, pt);
        let signer = opened.signer.unwrap();
        assert!(signer.same_identity(a.recipient()));
        assert!(signer.same_identity(a.post_quantum_recipient()));
        assert!(signer.same_identity(&a.did_key().parse().unwrap()));
        assert!(!signer.same_identity(b.recipient()));
    }
    for expected in [
        a.recipient().clone(),
        a.post_quantum_recipient().clone(),
        a.did_key().parse().unwrap(),
    ] {
        let mut out = Vec::new();
        let mut opener = OpenReader::new(&sealed[..], &b)
            .unwrap()
            .require_signer(&expected)
            .unwrap();
        opener.read_to_end(&mut out).unwrap();
        assert_eq!(out, pt);
    }
    let mut out = Vec::new();
    let wrong = OpenReader::new(&sealed[..], &b)
        .unwrap()
        .require_signer(b.post_quantum_recipient())
        .and_then(|mut o| o.read_to_end(&mut out).map_err(SealError::from_io));
    assert!(wrong.is_err(), "a wrong expected signer was accepted");
}

// ---- The batched path (an asynchronous AES-GCM backend: WebCrypto in the npm package) ----

/// A backend whose batches are not ready at first poll, as JavaScript promises are not, and whose
/// output comes back in pieces, one per segment, as WebCrypto's does: checks that the driver
/// waits on them, keeps their order and puts every piece in its place.
struct Deferred;

/// A batch's output as separate pieces ([`BatchBytes`] over several buffers).
struct Pieces(Vec<zeroize::Zeroizing<Vec<u8>>>);

impl BatchBytes for Pieces {
    fn byte_len(&self) -> usize {
        self.0.iter().map(|p| p.len()).sum()
    }
    fn copy_to(&self, dst: &mut [u8]) {
        let mut at = 0;
        for p in &self.0 {
            dst[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
    }
}

type Piecewise = BatchOutput<Pieces>;

fn in_pieces(
    r: Result<BatchOutput<zeroize::Zeroizing<Vec<u8>>>, SealError>,
    piece: usize,
) -> Result<Piecewise, SealError> {
    Ok(match r? {
        BatchOutput::Done(b) => BatchOutput::Done(Pieces(
            b.chunks(piece.max(1))
                .map(|c| zeroize::Zeroizing::new(c.to_vec()))
                .collect(),
        )),
        BatchOutput::Rejected(i) => BatchOutput::Rejected(i),
    })
}

struct Later(Option<Result<Piecewise, SealError>>, bool);

impl std::future::Future for Later {
    type Output = Result<Piecewise, SealError>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        if !self.1 {
            self.1 = true;
            cx.waker().wake_by_ref();
            return std::task::Poll::Pending;
        }
        std::task::Poll::Ready(self.0.take().expect("polled after completion"))
    }
}

impl BatchCipher for Deferred {
    type Key = CoreKey;
    type Output = Pieces;
    type Pending = Later;
    fn import_key(
        &self,
        key: &[u8; 32],
    ) -> impl std::future::Future<Output = Result<CoreKey, SealError>> {
        CoreBatch.import_key(key)
    }
    fn seal(&self, key: &CoreKey, nonces: &[[u8; 12]], data: &[u8], stride: usize) -> Later {
        let out = CoreBatch.seal(key, nonces, data, stride).into_inner();
        Later(
            Some(in_pieces(out, stride + super::segments::TAG_LEN)),
            false,
        )
    }
    fn open(&self, key: &CoreKey, nonces: &[[u8; 12]], data: &[u8], stride: usize) -> Later {
        let out = CoreBatch.open(key, nonces, data, stride).into_inner();
        Later(
            Some(in_pieces(out, stride - super::segments::TAG_LEN)),
            false,
        )
    }
}

fn open_batched_both(bob: &Identity, sealed: &[u8]) -> Result<Opened, SealError> {
    let a = futures_executor::block_on(open_batched(&CoreBatch, Unlock::Identity(bob), sealed));
    let b = futures_executor::block_on(open_batched(&Deferred, Unlock::Identity(bob), sealed));
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
    a
}

/// The batched sealer writes exactly the streaming sealer's bytes for the same randomness, on
/// every backend, across batch boundaries (1 KiB segments: 1,024 per batch), and both openers
/// agree on what comes out.
#[test]
fn batched_seal_and_open_are_byte_identical_to_streaming() {
    let (bob, alice) = (id(1), id(2));
    on_every_backend(|| {
        for len in [0usize, 1, 1023, 1024, 1025, 5000, (2 << 20) + 5] {
            for signed in [false, true] {
                let mut opts = opts_small(&bob);
                if signed {
                    opts = opts.signed_by(&alice);
                }
                let plain = data(len);
                let seed: Vec<u8> = (0..200u8).collect();
                let streamed =
                    seal_to_vec_with_rng(&opts, &plain, &mut FixedRng::new(seed.clone())).unwrap();
                for backend in [0, 1] {
                    let mut rng = FixedRng::new(seed.clone());
                    let batched = futures_executor::block_on(async {
                        if backend == 0 {
                            seal_batched_with_rng(&CoreBatch, &opts, &plain, &mut rng).await
                        } else {
                            seal_batched_with_rng(&Deferred, &opts, &plain, &mut rng).await
                        }
                    })
                    .unwrap();
                    assert!(streamed == batched, "len {len} signed {signed}");
                }
                let opened = open_batched_both(&bob, &streamed).unwrap();
                assert_eq!(opened, open_to_vec(&bob, &streamed).unwrap());
                assert!(opened.plaintext == plain);
                assert_eq!(opened.signer.is_some(), signed);
            }
        }
    });
}

/// `test-vectors/sealed.json` and `sealed-v1.json` open through the batched path as through the
/// streaming one.
#[test]
fn batched_open_reads_the_vectors() {
    for file in ["sealed.json", "sealed-v1.json"] {
        let path = format!("{}/../test-vectors/{file}", env!("CARGO_MANIFEST_DIR"));
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let cases = v["vectors"].as_array().unwrap();
        assert!(!cases.is_empty());
        for c in cases {
            let sealed = hex::decode(c["sealed"].as_str().unwrap()).unwrap();
            for seed in c["recipient_seeds"].as_array().unwrap() {
                let seed: [u8; 32] = hex::decode(seed.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap();
                let who = Identity::from_seed(&seed);
                let a = open_batched_both(&who, &sealed).unwrap();
                assert_eq!(a, open_to_vec(&who, &sealed).unwrap(), "{}", c["name"]);
            }
        }
    }
}

/// Damage far into a multi-batch object, and segments swapped across a batch boundary, give the
/// streaming reader's errors (the backend only says "segment j failed"; the reference cipher
/// names the damage).
#[test]
fn batched_open_names_damage_across_batches() {
    let bob = id(1);
    let sealed = seal_to_vec(&opts_small(&bob).signed_by(&id(2)), &data(3 << 20)).unwrap();
    let hlen = Header::parse(&sealed).unwrap().len();
    let at = |i: usize| hlen + i * 1040;
    let mut flipped = sealed.clone();
    flipped[at(2500) + 7] ^= 1;
    let mut swapped = sealed.clone();
    swapped[at(1023)..at(1025)].rotate_left(1040);
    let mut trailer = sealed.clone();
    let n = trailer.len();
    trailer[n - 1] ^= 1;
    let cut = sealed[..at(2048)].to_vec();
    for (bad, want) in [
        (&flipped, "SegmentCorrupt { index: 2500, last: false }"),
        (
            &swapped,
            "SegmentOutOfOrder { position: 1023, found: 1024 }",
        ),
        (&trailer, "BadSignature"),
        (&cut, "SegmentCorrupt { index: 2047, last: true }"),
    ] {
        let streaming = open_err(&bob, bad);
        let batched = open_batched_both(&bob, bad).expect_err("damaged object opened");
        assert_eq!(format!("{batched:?}"), format!("{streaming:?}"));
        assert_eq!(format!("{batched:?}"), want);
    }
}

/// A backend that answers a batch of the wrong length, or rejects a segment that authenticates,
/// is an internal error, never plaintext.
#[test]
fn a_lying_backend_is_an_internal_error() {
    struct Liar(bool);
    impl BatchCipher for Liar {
        type Key = ();
        type Output = Vec<u8>;
        type Pending = std::future::Ready<Result<BatchOutput, SealError>>;
        fn import_key(
            &self,
            _: &[u8; 32],
        ) -> impl std::future::Future<Output = Result<(), SealError>> {
            std::future::ready(Ok(()))
        }
        fn seal(&self, _: &(), _: &[[u8; 12]], data: &[u8], _: usize) -> Self::Pending {
            std::future::ready(Ok(BatchOutput::Done(data.to_vec())))
        }
        fn open(&self, _: &(), _: &[[u8; 12]], data: &[u8], _: usize) -> Self::Pending {
            std::future::ready(Ok(if self.0 {
                BatchOutput::Rejected(0)
            } else {
                BatchOutput::Done(data.to_vec())
            }))
        }
    }
    let bob = id(1);
    let opts = opts_small(&bob);
    let sealed = seal_to_vec(&opts, &data(3000)).unwrap();
    for e in [
        futures_executor::block_on(seal_batched(&Liar(false), &opts, &data(3000))).unwrap_err(),
        futures_executor::block_on(open_batched(&Liar(false), Unlock::Identity(&bob), &sealed))
            .unwrap_err(),
        futures_executor::block_on(open_batched(&Liar(true), Unlock::Identity(&bob), &sealed))
            .unwrap_err(),
    ] {
        assert!(matches!(e, SealError::Internal(_)), "{e:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(2_000), failure_persistence: None, ..ProptestConfig::default() })]

    /// The tamper property test on the batched path: every mutation is rejected, with exactly
    /// the error the streaming reader gives.
    #[test]
    fn batched_open_rejects_every_mutation_as_streaming_does(
        m in mutation(),
        len in prop::sample::select(vec![0usize, 1, 15, 16, 17, 1000, 1023, 1024, 1025, 2048, 3071, 4096, 5000, 6000]),
        signed in any::<bool>(),
        backend in any_backend(),
    ) {
        thread_local! {
            static CACHE: std::cell::RefCell<std::collections::HashMap<(usize, bool), Vec<u8>>> = Default::default();
        }
        let bob = id(1);
        let sealed = CACHE.with(|c| c.borrow_mut().entry((len, signed)).or_insert_with(|| {
            let mut opts = opts_small(&bob);
            if signed { opts = opts.signed_by(&id(2)); }
            seal_to_vec(&opts, &data(len)).unwrap()
        }).clone());
        let hlen = Header::parse(&sealed).unwrap().len();
        if let Some(bad) = apply(&sealed, hlen, &m) {
            let streaming = with_backend(backend, || open_to_vec(&bob, &bad)).map(|_| ());
            let batched = with_backend(backend, || open_batched_both(&bob, &bad)).map(|_| ());
            prop_assert!(batched.is_err(), "mutation {:?} accepted", m);
            prop_assert_eq!(format!("{:?}", batched), format!("{:?}", streaming));
        }
    }
}

/// The outboard built while sealing and the root hashed while opening are those of the sealed
/// bytes, signed or not.
#[test]
fn batched_outboard_and_root_are_the_objects() {
    let bob = id(1);
    for len in [0usize, 5000, 70_000] {
        for signed in [false, true] {
            let mut opts = opts_small(&bob);
            if signed {
                opts = opts.signed_by(&id(2));
            }
            let (sealed, outboard) = futures_executor::block_on(seal_batched_with_outboard(
                &CoreBatch,
                &opts,
                &data(len),
            ))
            .unwrap();
            assert_eq!(outboard, crate::verify::Outboard::compute(&sealed));
            let (opened, root) = futures_executor::block_on(open_batched_with_root(
                &Deferred,
                Unlock::Identity(&bob),
                &sealed,
            ))
            .unwrap();
            assert_eq!(&root, blake3::hash(&sealed).as_bytes());
            assert!(opened.plaintext == data(len));
        }
    }
}

/// The hash-bound open (vault manifests reached through the index) checks everything the full
/// open does but the trailer's signature: every flipped byte before the trailer and every cut is
/// refused with the full open's error, the trailer must be there, and the plaintext is the same.
#[test]
fn hash_bound_open_checks_all_but_the_trailer_signature() {
    let bob = id(1);
    for len in [0usize, 1, 1000, 1024, 2500] {
        let sealed = seal_to_vec(&opts_small(&bob).signed_by(&id(2)), &data(len)).unwrap();
        let (opened, signed) = open_to_vec_hash_bound(Unlock::Identity(&bob), &sealed).unwrap();
        assert!(signed);
        assert_eq!(opened.plaintext, data(len));
        assert_eq!(
            opened.signer, None,
            "a signer it did not verify is not reported"
        );
        let body = sealed.len() - trailer::TRAILER_LEN;
        for i in 0..body {
            let mut bad = sealed.clone();
            bad[i] ^= 0x40;
            let full = open_to_vec(&bob, &bad).unwrap_err();
            let bound = open_to_vec_hash_bound(Unlock::Identity(&bob), &bad).unwrap_err();
            assert_eq!(bound.to_string(), full.to_string(), "byte {i} of {len}");
        }
        for cut in [1, 16, trailer::TRAILER_LEN, trailer::TRAILER_LEN + 1] {
            let short = &sealed[..sealed.len() - cut];
            assert!(open_to_vec_hash_bound(Unlock::Identity(&bob), short).is_err());
        }
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(open_to_vec_hash_bound(Unlock::Identity(&bob), &longer).is_err());
        // What it does not check: the signature itself (the caller's hash binds those bytes).
        let mut forged = sealed.clone();
        let last = forged.len() - 1;
        forged[last] ^= 1;
        assert!(open_to_vec(&bob, &forged).is_err());
        assert!(open_to_vec_hash_bound(Unlock::Identity(&bob), &forged).is_ok());
    }
    // Unsigned objects open, and say so.
    let plain = seal_to_vec(&opts_small(&bob), &data(10)).unwrap();
    let (opened, signed) = open_to_vec_hash_bound(Unlock::Identity(&bob), &plain).unwrap();
    assert!(!signed);
    assert_eq!(opened.plaintext, data(10));
}
