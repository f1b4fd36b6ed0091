//! `coffer bench store`: transport throughput against local servers.
//!
//! - S3: a blob (1 GiB by default) put and got through coffer's [`S3Store`] (streamed multipart
//!   upload with BLAKE3 verification; verified streaming download), next to plain `aws-sdk-s3`
//!   putting the same bytes as one `PutObject` and streaming them back with one `GetObject`, in
//!   the same run. The blob's CID is computed
//!   before timing (the sealing layer has it already when it uploads).
//! - Kubo: small blocks written through coffer's [`IpfsStore`] (`block/put` + named `pin/add`
//!   each), with `kubo_concurrency` requests in flight.
//!
//! Needs coffer with features `s3` and `ipfs`, tokio, serde_json, bytes and futures-util.

use std::time::Instant;

use bytes::Bytes;
use coffer::block::raw_cid;
use coffer::store::ipfs::{IpfsConfig, IpfsStore};
use coffer::store::s3::{S3Config, S3Store, sdk};
use coffer::store::{BlockStore, VerifyingStore};
use futures_util::StreamExt;

/// What to measure and where.
#[derive(Clone, Debug)]
pub struct BenchStoreOptions {
    /// S3 endpoint, e.g. `http://127.0.0.1:18333` (credentials from the AWS environment).
    pub s3_endpoint: String,
    /// Bucket to write to.
    pub s3_bucket: String,
    /// Size of the S3 blob in MiB.
    pub blob_mib: usize,
    /// Multipart part size in MiB.
    pub part_mib: usize,
    /// Parts in flight.
    pub s3_concurrency: usize,
    /// Kubo RPC address, e.g. `http://127.0.0.1:15001`.
    pub kubo_api: String,
    /// Small blocks written to Kubo.
    pub kubo_blocks: usize,
    /// Size of each small block in bytes.
    pub kubo_block_size: usize,
    /// Kubo requests in flight.
    pub kubo_concurrency: usize,
}

impl BenchStoreOptions {
    /// Defaults for the servers started by `.ci/seaweedfs.sh` and `.ci/kubo.sh`.
    pub fn local() -> Self {
        Self {
            s3_endpoint: "http://127.0.0.1:18333".into(),
            s3_bucket: "coffer-test".into(),
            blob_mib: 1024,
            part_mib: 16,
            s3_concurrency: 4,
            kubo_api: "http://127.0.0.1:15001".into(),
            kubo_blocks: 2000,
            kubo_block_size: 16 * 1024,
            kubo_concurrency: 8,
        }
    }
}

/// Deterministic incompressible bytes (xorshift64*), fast enough not to matter.
fn bench_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let mut x = seed | 1;
    for chunk in out.chunks_mut(8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
    out
}

/// Maps a store error to the benchmark's error text.
fn err(what: &'static str) -> impl Fn(coffer::store::StoreError) -> String {
    move |e| format!("{what}: {e}")
}

fn mib_s(bytes: usize, started: Instant) -> f64 {
    let mib = bytes as f64 / (1024.0 * 1024.0);
    let secs = started.elapsed().as_secs_f64();
    (mib / secs * 10.0).round() / 10.0
}

/// Runs the benchmark; returns the figures as JSON (`coffer_put_mib_s`, `raw_put_mib_s`,
/// `coffer_get_mib_s`, `raw_get_mib_s`, `kubo_blocks_per_s`, the ratios and the settings).
pub async fn run(opts: BenchStoreOptions) -> Result<serde_json::Value, String> {
    let mut config = S3Config::new(&opts.s3_bucket);
    config.endpoint = Some(opts.s3_endpoint.clone());
    config.path_style = true;
    config.prefix = "bench".into();
    config.part_size = opts.part_mib << 20;
    config.concurrency = opts.s3_concurrency;
    let s3 = S3Store::connect(config)
        .await
        .map_err(err("connecting to S3"))?;
    s3.check_bucket()
        .await
        .map_err(err("checking the bucket"))?;

    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let blob = Bytes::from(bench_bytes(opts.blob_mib << 20, nanos as u64));
    let cid = raw_cid(&blob);
    let raw_key = format!("bench/raw-{nanos}");
    let client = s3.client().clone();

    // Plain SDK put of the same bytes: one PutObject.
    let started = Instant::now();
    client
        .put_object()
        .bucket(&opts.s3_bucket)
        .key(&raw_key)
        .body(sdk::primitives::ByteStream::from(blob.clone()))
        .send()
        .await
        .map_err(|e| format!("raw put: {}", sdk::error::DisplayErrorContext(e)))?;
    let raw_put = mib_s(blob.len(), started);

    // coffer: streamed multipart upload, verified against the CID before completion.
    let started = Instant::now();
    let mut source = futures_util::io::Cursor::new(blob.clone());
    s3.put_stream(&cid, &mut source, Some(blob.len() as u64))
        .await
        .map_err(err("coffer put"))?;
    let coffer_put = mib_s(blob.len(), started);

    let started = Instant::now();
    let got = client
        .get_object()
        .bucket(&opts.s3_bucket)
        .key(&raw_key)
        .send()
        .await
        .map_err(|e| format!("raw get: {}", sdk::error::DisplayErrorContext(e)))?;
    // Streamed like coffer's read below (no copy into one buffer), so the ratio is fair.
    let mut body = got.body;
    let mut got_len = 0usize;
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| format!("raw get body: {e}"))?
    {
        got_len += chunk.len();
    }
    let raw_get = mib_s(got_len, started);
    if got_len != blob.len() {
        return Err(format!(
            "raw get returned {got_len} bytes instead of {}",
            blob.len()
        ));
    }

    // coffer: streamed download, verified against the CID as it streams.
    let verifying = VerifyingStore::new(s3);
    let started = Instant::now();
    let mut stream = verifying
        .get_stream(&cid)
        .await
        .map_err(err("coffer get"))?;
    let mut n = 0usize;
    while let Some(chunk) = stream.next().await {
        n += chunk.map_err(err("coffer get"))?.len();
    }
    let coffer_get = mib_s(n, started);
    if n != blob.len() {
        return Err(format!(
            "coffer get returned {n} bytes instead of {}",
            blob.len()
        ));
    }
    let s3 = verifying.into_inner();
    s3.delete(&cid).await.map_err(err("cleaning up"))?;
    let _ = client
        .delete_object()
        .bucket(&opts.s3_bucket)
        .key(&raw_key)
        .send()
        .await;
    drop(blob);

    // Kubo: small blocks, each put and pinned.
    let mut kconf = IpfsConfig::new(&opts.kubo_api);
    kconf.namespace = format!("bench-{nanos}");
    let kubo = IpfsStore::connect(kconf)
        .await
        .map_err(err("connecting to Kubo"))?;
    let blocks: Vec<(coffer::block::Cid, Bytes)> = (0..opts.kubo_blocks)
        .map(|i| {
            let b = Bytes::from(bench_bytes(
                opts.kubo_block_size,
                nanos as u64 ^ (i as u64 + 1) << 20,
            ));
            (raw_cid(&b), b)
        })
        .collect();
    let started = Instant::now();
    let results: Vec<_> = futures_util::stream::iter(blocks.iter())
        .map(|(c, b)| kubo.put(c, b.clone()))
        .buffer_unordered(opts.kubo_concurrency.max(1))
        .collect()
        .await;
    let secs = started.elapsed().as_secs_f64();
    for r in results {
        r.map_err(err("Kubo put"))?;
    }
    let kubo_blocks_per_s = (opts.kubo_blocks as f64 / secs).round();
    for (c, _) in &blocks {
        let _ = kubo.delete(c).await;
    }

    Ok(serde_json::json!({
        "coffer_put_mib_s": coffer_put,
        "raw_put_mib_s": raw_put,
        "coffer_get_mib_s": coffer_get,
        "raw_get_mib_s": raw_get,
        "put_ratio": (coffer_put / raw_put * 100.0).round() / 100.0,
        "get_ratio": (coffer_get / raw_get * 100.0).round() / 100.0,
        "kubo_blocks_per_s": kubo_blocks_per_s,
        "blob_mib": opts.blob_mib,
        "part_mib": opts.part_mib,
        "s3_concurrency": opts.s3_concurrency,
        "kubo_blocks": opts.kubo_blocks,
        "kubo_block_size": opts.kubo_block_size,
        "kubo_concurrency": opts.kubo_concurrency,
    }))
}
