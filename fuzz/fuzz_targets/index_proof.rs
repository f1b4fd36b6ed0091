//! Index proof decoding and verification against a fixed root: never a panic.
#![no_main]

use coffer::index::{IndexConfig, IndexKey, Proof, verify_proof};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = IndexKey::from_bytes([7; 32]);
    let config = IndexConfig {
        target_node_bytes: 256,
        ..IndexConfig::default()
    };
    if let Ok(proof) = Proof::from_bytes(data) {
        let root = coffer::block::raw_cid(proof.nodes.first().map_or(&[][..], Vec::as_slice));
        let _ = verify_proof(&key, &config, &root, &proof);
    }
});
