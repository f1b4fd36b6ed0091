//! Continuation token decoding: any text is rejected with a typed error or opens to a position.
#![no_main]

use coffer::index::{IndexKey, decode_list_token};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = IndexKey::from_bytes([7; 32]);
    let text = String::from_utf8_lossy(data);
    if let Ok(position) = decode_list_token(&key, &text, b"photos/", b"/") {
        assert!(!position.is_empty() && position.len() <= 1024);
    }
});
