//! Retention and garbage-collection decoders: policy blocks, GC records, candidate chunks and
//! purge records (their plaintexts), index values with graveyard fields, and the placement policy
//! text a policy block carries (parse, print, parse again: the same policy).
#![no_main]

use coffer::store::placed::fuzz_policy_text;
use coffer::vault::{check_index_value, fuzz_retention_plaintexts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Any bytes: a typed error or a decoded value, never a panic.
    fuzz_retention_plaintexts(data);
    let _ = check_index_value(data);
    fuzz_policy_text(data);
});
