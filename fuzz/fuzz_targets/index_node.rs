//! Index node decoding: plaintext decoder and the whole block path (hash, decrypt, decode, check).
#![no_main]

use coffer::index::{IndexConfig, IndexKey, NodeCodec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let key = IndexKey::from_bytes([7; 32]);
    let config = IndexConfig {
        target_node_bytes: 256,
        ..IndexConfig::default()
    };
    let codec = NodeCodec::new(&key, &config).expect("valid config");
    if let Ok(node) = codec.decode(data) {
        // A node that decodes re-encodes to a node with the same content.
        let bytes = codec.encode(&node).expect("a decoded node encodes");
        let again = codec.decode(&bytes).expect("a re-encoded node decodes");
        assert_eq!(again.keys(), node.keys());
        assert_eq!(again.level(), node.level());
    }
    let cid = coffer::block::raw_cid(data);
    let _ = codec.open(&cid, data);
});
