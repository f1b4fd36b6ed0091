//! Recipient and identity text (and identity files): arbitrary input never panics; whatever
//! parses prints back to the same key.
#![no_main]

use coffer::keys::{Identity, Recipient};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(text) = std::str::from_utf8(bytes) else { return };
    if let Ok(r) = text.parse::<Recipient>() {
        let again: Recipient = r.to_string().parse().expect("printed recipient parses");
        assert_eq!(again, r);
    }
    if let Ok(id) = text.parse::<Identity>() {
        let again: Identity = id.to_secret_string().parse().expect("printed identity parses");
        assert_eq!(again.recipient(), id.recipient());
    }
    let _ = Identity::from_file_contents(text);
});
