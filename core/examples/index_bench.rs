//! Prints the index bench figures as JSON, as `coffer bench index --json` will:
//! `cargo run --release -p coffer --features bench-internals --example index_bench -- 1000000`.

fn main() {
    let keys = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let report = futures_executor::block_on(coffer::index::bench::run(keys)).expect("bench run");
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("report serializes")
    );
}
