//! Decodes untrusted bytes as an erasure-coded shard (what a backend of an erasure store returns):
//! must return an error or a header that re-encodes to the same bytes and a body of the length
//! it implies, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    coffer::store::erasure::layout::fuzz_shard(data);
});
