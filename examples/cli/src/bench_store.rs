//! `coffer bench store`: transport throughput against local servers.
//!
//! - S3: a blob (1 GiB by default) put and got through coffer's [`S3Store`] (streamed multipart
//!   upload with BLAKE3 verification; verified streaming download), next to plain `aws-sdk-s3`
//!   putting the same bytes as one `PutObject` and streaming them back with one `GetObject`, in
//!   the same run. The blob's CID is computed
//!   before timing (the sealing layer has it already when it uploads).
//! - Kubo: small blocks written through coffer's [`IpfsStore`] (`block/put` + named `pin/add`
//!   each), with `kubo_concurrency` requests in flight.
//! - IPFS Cluster (when `cluster_apis` is set, e.g. the 3 peers of `.ci/cluster.sh`): a blob
//!   (100 MiB by default) put and streamed back, and 1,000 small blocks put and read, through
//!   [`ClusterStore`] (each put acknowledged once pinned on `cluster_rmin` peers) and through
//!   [`IpfsStore`] on the single Kubo node, in the same run, with the ratios.
//! - Repinning after a peer loss (when `cluster_script` is set: `.ci/cluster.sh`, which can kill
//!   and revive its peers): 100 small blocks pinned with replication 2, the peer holding most of
//!   them killed, and the time until the cluster reports each of those pins `pinned` on two live
//!   peers again. It depends on the cluster's monitor settings (`.ci/cluster.sh`: pings every
//!   2 s, metrics valid 10 s), so it is a figure for this configuration, not for clusters at
//!   large.
//!
//! Needs coffer with features `s3` and `ipfs`, tokio, serde_json, bytes and futures-util.

use std::time::Instant;

use bytes::Bytes;
use coffer::block::raw_cid;
use coffer::store::ipfs::{ClusterConfig, ClusterStore, IpfsConfig, IpfsStore};
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
    /// IPFS Cluster REST APIs (empty: no cluster figures).
    pub cluster_apis: Vec<String>,
    /// The cluster peers' Kubo RPC APIs.
    pub cluster_kubos: Vec<String>,
    /// Size of the blob put on the cluster and on the single node, in MiB.
    pub cluster_blob_mib: usize,
    /// Small blocks put on the cluster and on the single node.
    pub cluster_small: usize,
    /// `.ci/cluster.sh` (kills and revives peers) for the repin figure; `None`: not measured.
    pub cluster_script: Option<String>,
    /// Peers that must pin before a cluster put is acknowledged.
    pub cluster_rmin: u32,
    /// Peers each pin is allocated to.
    pub cluster_rmax: u32,
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
            cluster_apis: Vec::new(),
            cluster_kubos: Vec::new(),
            cluster_blob_mib: 100,
            cluster_small: 1000,
            cluster_script: None,
            cluster_rmin: 2,
            cluster_rmax: 3,
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

    let cluster = if opts.cluster_apis.is_empty() {
        serde_json::Value::Null
    } else {
        cluster_vs_single(&opts, nanos as u64).await?
    };

    Ok(serde_json::json!({
        "cluster": cluster,
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

/// Put and get figures of one store: a blob (MiB/s) and small blocks (blocks/s).
async fn put_get<S: BlockStore>(
    store: &S,
    blob: &Bytes,
    small: &[(coffer::block::Cid, Bytes)],
    concurrency: usize,
) -> Result<serde_json::Value, String> {
    let cid = raw_cid(blob);
    let started = Instant::now();
    let mut source = futures_util::io::Cursor::new(blob.clone());
    store
        .put_stream(&cid, &mut source, Some(blob.len() as u64))
        .await
        .map_err(err("blob put"))?;
    let blob_put = mib_s(blob.len(), started);
    let started = Instant::now();
    let mut stream = store.get_stream(&cid).await.map_err(err("blob get"))?;
    let mut n = 0usize;
    while let Some(chunk) = stream.next().await {
        n += chunk.map_err(err("blob get"))?.len();
    }
    let blob_get = mib_s(n, started);
    if n != blob.len() {
        return Err(format!("blob get returned {n} bytes, not {}", blob.len()));
    }
    let per_s = |started: Instant| (small.len() as f64 / started.elapsed().as_secs_f64()).round();
    let started = Instant::now();
    let puts: Vec<_> = futures_util::stream::iter(small.iter())
        .map(|(c, b)| store.put(c, b.clone()))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let small_put = per_s(started);
    for r in puts {
        r.map_err(err("small put"))?;
    }
    let started = Instant::now();
    let gets: Vec<_> = futures_util::stream::iter(small.iter())
        .map(|(c, _)| store.get(c))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let small_get = per_s(started);
    for (r, (_, b)) in gets.into_iter().zip(small) {
        if r.map_err(err("small get"))?.len() != b.len() {
            return Err("a small get returned the wrong length".into());
        }
    }
    let _ = store.delete(&cid).await;
    for (c, _) in small {
        let _ = store.delete(c).await;
    }
    Ok(serde_json::json!({
        "blob_put_mib_s": blob_put,
        "blob_get_mib_s": blob_get,
        "small_put_per_s": small_put,
        "small_get_per_s": small_get,
    }))
}

/// The same blob and small blocks on the cluster and on the single Kubo node.
async fn cluster_vs_single(
    opts: &BenchStoreOptions,
    seed: u64,
) -> Result<serde_json::Value, String> {
    let blob = Bytes::from(bench_bytes(opts.cluster_blob_mib << 20, seed ^ 0xc1));
    let small_of = |salt: u64| -> Vec<(coffer::block::Cid, Bytes)> {
        (0..opts.cluster_small)
            .map(|i| {
                let b = Bytes::from(bench_bytes(
                    opts.kubo_block_size,
                    seed ^ salt ^ ((i as u64 + 1) << 24),
                ));
                (raw_cid(&b), b)
            })
            .collect()
    };
    let mut kconf = IpfsConfig::new(&opts.kubo_api);
    kconf.namespace = format!("bench-single-{seed}");
    let single = IpfsStore::connect(kconf)
        .await
        .map_err(err("connecting to Kubo"))?;
    let single_figs = put_get(&single, &blob, &small_of(1), opts.kubo_concurrency).await?;
    let mut cconf = ClusterConfig::new(opts.cluster_apis.clone(), opts.cluster_kubos.clone());
    cconf.namespace = format!("bench-cluster-{seed}");
    cconf.replication_min = opts.cluster_rmin;
    cconf.replication_max = opts.cluster_rmax;
    let cluster = ClusterStore::connect(cconf)
        .await
        .map_err(err("connecting to the cluster"))?;
    // Another salt: the single node's blocks must not already be on a cluster node.
    let blob2 = Bytes::from(bench_bytes(opts.cluster_blob_mib << 20, seed ^ 0xc2));
    let cluster_figs = put_get(&cluster, &blob2, &small_of(2), opts.kubo_concurrency).await?;
    let ratio = |k: &str| {
        let (c, s) = (cluster_figs[k].as_f64(), single_figs[k].as_f64());
        match (c, s) {
            (Some(c), Some(s)) if s > 0.0 => ((c / s) * 100.0).round() / 100.0,
            _ => 0.0,
        }
    };
    let repin = match &opts.cluster_script {
        Some(script) => repin_after_peer_loss(opts, script, seed).await?,
        None => serde_json::Value::Null,
    };
    Ok(serde_json::json!({
        "repin_after_peer_loss": repin,
        "peers": opts.cluster_kubos.len(),
        "replication_min": opts.cluster_rmin,
        "replication_max": opts.cluster_rmax,
        "blob_mib": opts.cluster_blob_mib,
        "small_blocks": opts.cluster_small,
        "small_block_size": opts.kubo_block_size,
        "concurrency": opts.kubo_concurrency,
        "cluster": cluster_figs,
        "single_kubo": single_figs,
        "ratio_cluster_to_single": {
            "blob_put": ratio("blob_put_mib_s"),
            "blob_get": ratio("blob_get_mib_s"),
            "small_put": ratio("small_put_per_s"),
            "small_get": ratio("small_get_per_s"),
        },
    }))
}

/// Runs `.ci/cluster.sh` with `args`.
fn cluster_script(script: &str, args: &[&str]) -> Result<(), String> {
    let status = std::process::Command::new(script)
        .args(args)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("running {script}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{script} {args:?} failed"))
    }
}

/// Kills the peer holding most of 100 freshly pinned blocks (replication 2) and times the
/// cluster's repinning of what it held; the peer is revived and the pins removed afterwards.
async fn repin_after_peer_loss(
    opts: &BenchStoreOptions,
    script: &str,
    seed: u64,
) -> Result<serde_json::Value, String> {
    let mut conf = ClusterConfig::new(opts.cluster_apis.clone(), opts.cluster_kubos.clone());
    conf.namespace = format!("bench-repin-{seed}");
    conf.replication_min = 2;
    conf.replication_max = 2;
    let cluster = ClusterStore::connect(conf)
        .await
        .map_err(err("connecting to the cluster"))?;
    let blocks: Vec<_> = (0..100u64)
        .map(|i| {
            let b = Bytes::from(bench_bytes(4096, seed ^ 0x4e ^ ((i + 1) << 24)));
            (raw_cid(&b), b)
        })
        .collect();
    let puts: Vec<_> = futures_util::stream::iter(blocks.iter())
        .map(|(c, b)| cluster.put(c, b.clone()))
        .buffer_unordered(opts.kubo_concurrency)
        .collect()
        .await;
    for r in puts {
        r.map_err(err("repin bench put"))?;
    }
    // The victim: the peer most of these pins are allocated to (named coffer-N by the script).
    let mut held: std::collections::BTreeMap<String, Vec<coffer::block::Cid>> = Default::default();
    let mut names: std::collections::BTreeMap<String, String> = Default::default();
    for (c, _) in &blocks {
        let st = cluster.pin_status(c).await.map_err(err("pin status"))?;
        for p in &st.peers {
            names.insert(p.peer.clone(), p.peername.clone());
        }
        for a in st.allocations {
            held.entry(a).or_default().push(*c);
        }
    }
    let (victim, cids) = held
        .into_iter()
        .max_by_key(|(_, v)| v.len())
        .ok_or("the cluster allocated none of the pins")?;
    let index = names
        .get(&victim)
        .and_then(|n| n.strip_prefix("coffer-"))
        .ok_or("cluster peers are not named coffer-N (not .ci/cluster.sh's cluster)")?
        .to_string();
    cluster_script(script, &["kill", &index])?;
    let started = Instant::now();
    let measured = async {
        let mut pending = cids.clone();
        while !pending.is_empty() {
            if started.elapsed() > std::time::Duration::from_secs(300) {
                return Err(format!("{} pins not repinned in 300 s", pending.len()));
            }
            let mut still = Vec::new();
            for c in pending {
                let st = cluster.pin_status(&c).await.map_err(err("pin status"))?;
                let live = st
                    .peers
                    .iter()
                    .filter(|p| p.peer != victim && p.status == "pinned")
                    .count();
                if live < 2 || st.allocations.contains(&victim) {
                    still.push(c);
                }
            }
            pending = still;
            if !pending.is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
        Ok(started.elapsed().as_secs_f64())
    }
    .await;
    // Revive and clean up whatever happened.
    let revived = cluster_script(script, &["start"]);
    for (c, _) in &blocks {
        let _ = cluster.delete(c).await;
    }
    let secs = measured?;
    revived?;
    Ok(serde_json::json!({
        "pins_moved": cids.len(),
        "seconds": (secs * 10.0).round() / 10.0,
        "pins_per_s": (cids.len() as f64 / secs).round(),
    }))
}
