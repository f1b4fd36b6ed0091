//! The trust-state document a device keeps: arbitrary bytes never panic the decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = coffer::trust::fuzz_trust(data);
});
