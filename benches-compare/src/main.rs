//! Same load/get workload through coffer's index and through the `prollytree` crate; prints the
//! figures and the ratios as JSON. Run:
//! `cd benches-compare && cargo run --release -- 1000000`.
//!
//! Not like for like in coffer's disfavour: coffer encrypts every node (AES-256-SIV), hashes it
//! with BLAKE3 and writes it to a block store; prollytree (in memory, no encryption) hashes nodes
//! with SHA-256 and keeps them as objects in a map.

use std::time::Instant;

use prollytree::storage::InMemoryNodeStorage;
use prollytree::tree::{ProllyTree, Tree};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let entries = coffer::index::bench::photo_entries(n);
    let keys: Vec<Vec<u8>> = entries.iter().map(|(k, _)| k.clone()).collect();
    let values: Vec<Vec<u8>> = entries
        .iter()
        .map(|(_, e)| e.value.clone().unwrap_or_default())
        .collect();

    let mut tree = ProllyTree::new(InMemoryNodeStorage::<32>::new(), Default::default());
    let t = Instant::now();
    tree.insert_batch(&keys, &values);
    let pt_load_keys_per_s = n as f64 / t.elapsed().as_secs_f64();

    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let probes: Vec<&Vec<u8>> = (0..20_000)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            &keys[(x.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize]
        })
        .collect();
    for k in &probes {
        assert!(tree.find(k).is_some(), "prollytree lost a key");
    }
    let t = Instant::now();
    for _ in 0..5 {
        for k in &probes {
            std::hint::black_box(tree.find(k));
        }
    }
    let pt_get_us = t.elapsed().as_secs_f64() * 1e6 / (5 * probes.len()) as f64;
    drop(tree);

    let ours = futures_executor::block_on(coffer::index::bench::run(n)).expect("coffer bench");
    let out = serde_json::json!({
        "keys": n,
        "coffer": ours,
        "prollytree": { "bulk_load_keys_per_s": pt_load_keys_per_s, "get_us": pt_get_us },
        "ratio_bulk_load": ours.bulk_load_keys_per_s / pt_load_keys_per_s,
        "ratio_get_speed": pt_get_us / ours.get_us,
    });
    println!("{}", serde_json::to_string_pretty(&out).expect("json"));
}
