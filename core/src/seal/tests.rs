use std::io::{Read, Write};

use proptest::prelude::*;

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

#[test]
fn round_trips_at_segment_boundaries() {
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
    let sealed = seal_to_vec(&opts_small(&bob).signed_by(&alice), b"hi").unwrap();
    let r = OpenReader::new(sealed.as_slice(), &bob).unwrap();
    assert_eq!(r.signer(), Some(alice.recipient()));
    assert!(r.require_signer(alice.recipient()).is_ok());
    let r = OpenReader::new(sealed.as_slice(), &bob).unwrap();
    assert!(matches!(
        r.require_signer(bob.recipient()),
        Err(SealError::UnexpectedSigner)
    ));
}

#[test]
fn writer_accepts_any_write_pattern() {
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
}

#[test]
fn async_and_sync_paths_agree() {
    let bob = id(1);
    let plain = data(4097);
    let opts = opts_small(&bob);
    let mut sealed = Vec::new();
    let s = futures_executor::block_on(seal_async(&opts, plain.as_slice(), &mut sealed)).unwrap();
    assert_eq!(s.sealed_len, sealed.len() as u64);
    assert_eq!(open_to_vec(&bob, &sealed).unwrap().plaintext, plain);
    let sync_sealed = seal_to_vec(&opts, &plain).unwrap();
    let mut out = Vec::new();
    let o = futures_executor::block_on(open_async(&bob, sync_sealed.as_slice(), &mut out)).unwrap();
    assert_eq!(out, plain);
    assert_eq!(o.plaintext_len, 4097);
    let mut empty = Vec::new();
    futures_executor::block_on(seal_async(&opts, &b""[..], &mut empty)).unwrap();
    assert_eq!(open_to_vec(&bob, &empty).unwrap().plaintext, b"");
}

#[test]
fn ranges_read_only_what_they_need_and_match() {
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
}

#[test]
fn range_reads_detect_damage_in_the_segments_they_touch() {
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
}

// --- Each kind of damage gets its own error -------------------------------------------------

fn sealed_pair() -> (Identity, Vec<u8>, usize) {
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
    sealed[6] = 2;
    assert!(matches!(
        open_err(&bob, &sealed),
        SealError::UnsupportedVersion(2)
    ));
}

#[test]
fn header_fields_flipped() {
    let (bob, sealed, hlen) = sealed_pair();
    let flip = |pos: usize| {
        let mut s = sealed.clone();
        s[pos] ^= 0x01;
        open_err(&bob, &s)
    };
    // The signature covers the prefix, and is checked before the MAC.
    assert!(matches!(flip(8), SealError::BadSignature)); // segment size 2^10 → 2^11
    // Clearing the "signed" flag shifts the MAC: the MAC no longer verifies.
    assert!(matches!(flip(7), SealError::HeaderTampered));
    assert!(matches!(flip(9), SealError::InvalidHeader(_)));
    assert!(matches!(flip(12), SealError::KeyCommitmentMismatch)); // salt
    assert!(matches!(flip(44), SealError::NoMatchingRecipient)); // stanza enc
    assert!(matches!(flip(44 + 40), SealError::NoMatchingRecipient)); // wrapped key
    assert!(matches!(flip(124), SealError::KeyCommitmentMismatch)); // commitment
    assert!(matches!(flip(156 + 40), SealError::BadSignature)); // sealed signer key
    assert!(matches!(flip(156 + 100), SealError::BadSignature)); // sealed signature
    assert!(matches!(flip(156 + 140), SealError::BadSignature)); // its tag
    assert!(matches!(flip(hlen - 1), SealError::HeaderTampered)); // MAC
}

#[test]
fn segment_damage() {
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
}

#[test]
fn full_last_segment_extended_by_a_segment_is_trailing_data() {
    let bob = id(1);
    let sealed = seal_to_vec(&opts_small(&bob), &data(2048)).unwrap();
    let hlen = Header::parse(&sealed).unwrap().len();
    let mut s = sealed.clone();
    s.extend_from_slice(&sealed[hlen..hlen + 1040]);
    assert!(matches!(open_err(&bob, &s), SealError::TrailingData));
}

#[test]
fn header_from_another_object() {
    let bob = id(1);
    let opts = opts_small(&bob);
    let a = seal_to_vec(&opts, &data(5000)).unwrap();
    let b = seal_to_vec(&opts, &data(5000)).unwrap();
    let hlen = Header::parse(&a).unwrap().len();
    let mut mixed = a[..hlen].to_vec();
    mixed.extend_from_slice(&b[hlen..]);
    assert!(matches!(open_err(&bob, &mixed), SealError::PayloadMismatch));
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
    #![proptest_config(ProptestConfig { cases: 60_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any mutation of a sealed object is rejected by the streaming opener, and no plaintext
    /// is returned.
    #[test]
    fn every_mutation_is_rejected(
        m in mutation(),
        len in prop::sample::select(vec![0usize, 1, 15, 16, 17, 1000, 1023, 1024, 1025, 2048, 3071, 4096, 5000, 6000]),
        signed in any::<bool>(),
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
            prop_assert!(open_to_vec(&bob, &bad).is_err(), "mutation {:?} accepted", m);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40_000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Random access sees the same mutations: a range either comes back equal to the original
    /// plaintext (the mutation did not touch its segments) or fails; the header must still
    /// authenticate.
    #[test]
    fn range_reads_never_return_wrong_bytes(m in mutation(), start in 0u64..6000, span in 0u64..3000) {
        thread_local! {
            static SEALED: Vec<u8> = seal_to_vec(&opts_small(&id(1)), &data(6000)).unwrap();
        }
        let bob = id(1);
        let plain = data(6000);
        let sealed = SEALED.with(|s| s.clone());
        let hlen = Header::parse(&sealed).unwrap().len();
        if let Some(bad) = apply(&sealed, hlen, &m)
            && let Ok(reader) = RangeReader::new(bad.as_slice(), &bob)
        {
            let end = (start + span).min(reader.plaintext_len());
            let start = start.min(end);
            if let Ok(got) = reader.read_range(start..end) {
                prop_assert_eq!(&got[..], &plain[start as usize..end as usize]);
            }
        }
    }
}
