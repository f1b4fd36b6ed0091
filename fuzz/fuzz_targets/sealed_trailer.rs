//! Signed v2 objects: a valid header for known keys followed by arbitrary payload and trailer
//! bytes. Opening (streaming, by range with and without the outboard) never panics, and accepts
//! nothing but the genuine object.
#![no_main]

use std::sync::OnceLock;

use coffer::keys::Identity;
use coffer::seal::{self, Header, RangeReader, SealOptions, SealTo, Unlock, WrapKey};
use coffer::verify::Outboard;
use libfuzzer_sys::fuzz_target;

struct Fixture {
    me: Identity,
    key: WrapKey,
    sealed: Vec<u8>,
    header_len: usize,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let me = Identity::from_seed(&[3; 32]);
        let key = WrapKey::from_bytes([4; 32]);
        let opts = SealOptions::new(vec![me.recipient().clone()])
            .also_to(SealTo::Key(key.clone()))
            .signed_by(&Identity::from_seed(&[5; 32]))
            .segment_size_log2(10);
        let plain: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
        let sealed = seal::seal_to_vec(&opts, &plain).expect("seal");
        let header_len = Header::parse(&sealed).expect("header").len();
        Fixture {
            me,
            key,
            sealed,
            header_len,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    // The first byte picks where the fuzzer's bytes go: replacing the tail from some point, so
    // the trailer and the last segments get most of the attention.
    let Some((&at, rest)) = data.split_first() else {
        return;
    };
    let body = &f.sealed[f.header_len..];
    let keep = body.len().saturating_sub(usize::from(at) * 16);
    let mut object = f.sealed[..f.header_len + keep].to_vec();
    object.extend_from_slice(rest);
    let genuine = object == f.sealed;
    let opened = seal::open_to_vec(&f.me, &object);
    assert_eq!(opened.is_ok(), genuine, "only the genuine object opens");
    let by_key = seal::open_to_vec_with(Unlock::Key(&f.key), &object);
    assert_eq!(by_key.is_ok(), genuine);
    if let Ok(r) = RangeReader::new(object.as_slice(), &f.me) {
        assert!(genuine, "a range reader accepted a forged signed object");
        let _ = r.read_range(0..10);
    }
    let outboard = Outboard::compute(&object);
    if let Ok(r) = RangeReader::with_outboard(object.as_slice(), Unlock::Identity(&f.me), outboard)
    {
        assert!(genuine, "the outboard path accepted a forged signed object");
        let _ = r.read_range(5_000..5_010);
    }
});
