//! Vault decoders: signed writer heads, manifest plaintexts, index values and tags.
#![no_main]

use coffer::vault::{check_index_value, check_manifest, decode_head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Any bytes: a typed error or a verified head, never a panic.
    let _ = decode_head("00000000000000000000000000000000", data);
    let _ = check_manifest(data);
    let _ = check_index_value(data);
});
