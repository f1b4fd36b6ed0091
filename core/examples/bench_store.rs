//! Runs the `coffer bench store` logic (`examples/cli/src/bench_store.rs`) without the CLI:
//! `cargo run --release -p coffer --features s3,ipfs --example bench_store` with the servers of
//! `.ci/seaweedfs.sh` / `.ci/kubo.sh` running and `.ci/state/env` sourced. Environment overrides:
//! COFFER_BENCH_BLOB_MIB, COFFER_BENCH_PART_MIB, COFFER_BENCH_S3_CONCURRENCY, COFFER_BENCH_KUBO_BLOCKS.

#[path = "../../examples/cli/src/bench_store.rs"]
mod bench_store;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let mut opts = bench_store::BenchStoreOptions::local();
    if let Ok(e) = std::env::var("COFFER_TEST_S3_ENDPOINT") {
        opts.s3_endpoint = e;
    }
    if let Ok(b) = std::env::var("COFFER_TEST_S3_BUCKET") {
        opts.s3_bucket = b;
    }
    if let Ok(a) = std::env::var("COFFER_TEST_IPFS_API") {
        opts.kubo_api = a;
    }
    let list = |v: String| v.split(',').map(str::to_string).collect::<Vec<_>>();
    if let Ok(a) = std::env::var("COFFER_TEST_CLUSTER_APIS") {
        opts.cluster_apis = list(a);
    }
    if let Ok(k) = std::env::var("COFFER_TEST_CLUSTER_KUBOS") {
        opts.cluster_kubos = list(k);
    }
    opts.cluster_blob_mib = env_or("COFFER_BENCH_CLUSTER_MIB", opts.cluster_blob_mib);
    opts.blob_mib = env_or("COFFER_BENCH_BLOB_MIB", opts.blob_mib);
    opts.part_mib = env_or("COFFER_BENCH_PART_MIB", opts.part_mib);
    opts.s3_concurrency = env_or("COFFER_BENCH_S3_CONCURRENCY", opts.s3_concurrency);
    opts.kubo_blocks = env_or("COFFER_BENCH_KUBO_BLOCKS", opts.kubo_blocks);
    match bench_store::run(opts).await {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("bench failed: {e}");
            std::process::exit(1);
        }
    }
}
