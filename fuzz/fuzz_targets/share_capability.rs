//! Sharing decoders: signed capabilities, envelopes, view heads, keyring chunks, share books.
#![no_main]

use coffer::Identity;
use coffer::share::{Share, ShareBook, fuzz_decoders};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Any bytes: a typed error or a verified structure, never a panic.
    let me = Identity::from_seed(&[7; 32]);
    let _ = fuzz_decoders(me.recipient(), data);
    let _ = Share::open(&me, data);
    let _ = ShareBook::from_bytes(&me, data);
});
