//! Decodes untrusted bytes as a CAR file from an IPFS gateway (what a share link to an object on
//! IPFS fetches): must return the blob or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| coffer::store::fuzz_car(data));
