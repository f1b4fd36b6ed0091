//! Retention and garbage-collection decoders: policy blocks, GC records, candidate chunks and
//! purge records (their plaintexts), and index values with graveyard fields.
#![no_main]

use coffer::vault::{check_index_value, fuzz_retention_plaintexts};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Any bytes: a typed error or a decoded value, never a panic.
    fuzz_retention_plaintexts(data);
    let _ = check_index_value(data);
});
