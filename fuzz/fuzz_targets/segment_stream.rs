//! The segment stream: a valid header for a known identity followed by arbitrary payload bytes.
//! Opening (streaming, async and by range) never panics, and never accepts a payload the sealer
//! did not produce.
#![no_main]

use std::sync::OnceLock;

use coffer::keys::Identity;
use coffer::seal::{self, Header, RangeReader, SealOptions};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    me: Identity,
    sealed: Vec<u8>,
    header_len: usize,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let me = Identity::from_seed(&[2; 32]);
        let opts = SealOptions::new(vec![me.recipient().clone()]).segment_size_log2(10);
        let plain: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
        let sealed = seal::seal_to_vec(&opts, &plain).expect("seal");
        let header_len = Header::parse(&sealed).expect("header").len();
        Fixture { me, sealed, header_len }
    })
}

fuzz_target!(|payload: &[u8]| {
    let f = fixture();
    let mut object = f.sealed[..f.header_len].to_vec();
    object.extend_from_slice(payload);
    let genuine = payload == &f.sealed[f.header_len..];
    let streamed = seal::open_to_vec(&f.me, &object);
    assert_eq!(streamed.is_ok(), genuine, "payload accepted or rejected wrongly");
    let mut out = Vec::new();
    let r = futures_executor::block_on(seal::open_async(&f.me, object.as_slice(), &mut out));
    assert_eq!(r.is_ok(), genuine);
    if let Ok(reader) = RangeReader::new(object.as_slice(), &f.me) {
        let len = reader.plaintext_len();
        let start = payload.first().map_or(0, |b| u64::from(*b) * 13).min(len);
        let end = (start + 700).min(len);
        if let Ok(bytes) = reader.read_range(start..end) {
            let want: Vec<u8> = (start..end).map(|i| i as u8).collect();
            assert_eq!(bytes, want, "range returned bytes the sealer never wrote");
        }
    }
});
