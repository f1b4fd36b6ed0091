//! Sealed headers: arbitrary bytes never panic the parser; a parsed header re-encodes to the same
//! bytes; unlocking with a real identity fails cleanly (no header from the fuzzer can carry a
//! valid HPKE stanza for it, except by chance of 2^-128).
#![no_main]

use std::sync::OnceLock;

use coffer::keys::Identity;
use coffer::seal::Header;
use libfuzzer_sys::fuzz_target;

fn me() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| Identity::from_seed(&[1; 32]))
}

fuzz_target!(|bytes: &[u8]| {
    if let Ok(len) = Header::len_from_prefix(bytes) {
        assert!(len >= 108);
    }
    if let Ok(h) = Header::parse(bytes) {
        let encoded = h.to_bytes();
        assert_eq!(&bytes[..encoded.len()], encoded.as_slice());
        assert!(coffer::seal::open_to_vec(me(), bytes).is_err());
    }
});
