//! Decodes untrusted bytes as a large-blob root (what the IPFS store reads back from a node):
//! must return an error or a root whose leaf ranges stay inside the blob, never panic.
#![no_main]

use coffer::block::raw_cid;
use coffer::store::decode_blob_root;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let blob = raw_cid(b"fuzzed blob");
    if let Ok(root) = decode_blob_root(&blob, data) {
        for i in 0..root.leaves.len() {
            let r = root.leaf_range(i);
            assert!(r.start <= r.end && r.end <= root.size);
        }
    }
});
