//! Vault decoders: stored heads (v2 encrypted, v1 signed), head plaintexts, manifest plaintexts,
//! index values, tags, and identity handover plaintexts.
#![no_main]

use coffer::vault::{
    check_index_value, check_manifest, decode_head, fuzz_handover_plaintext, fuzz_head_plaintext,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Any bytes: a typed error or a verified head, never a panic.
    let writer = "00000000000000000000000000000000";
    let _ = decode_head(&[7; 32], "v", writer, data);
    // What the head key decrypts: the fuzzer cannot forge AES-GCM, so reach the inner decoder
    // directly.
    let _ = fuzz_head_plaintext(writer, data);
    let _ = check_manifest(data);
    let _ = check_index_value(data);
    // What the object key opens of a handover block: a typed error or a doubly signed handover.
    let _ = fuzz_handover_plaintext(data);
});
