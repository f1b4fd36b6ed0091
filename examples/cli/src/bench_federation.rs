//! `coffer bench federation`: what erasure coding costs and saves, on local directory stores.
//!
//! - The Reed–Solomon codec alone on one core: encode rs 4+2 and decode with two data shards
//!   lost, 4 MiB stripes.
//! - A blob (100 MiB by default) streamed in and out through rs 4+2 over 6 directory stores, next
//!   to 3-way replication (`ReplicatedStore`, quorum 3) over 3 directory stores on the same disk:
//!   MB/s and bytes stored ÷ blob size.
//! - A 1 MiB ranged read from the middle of the blob: bytes the backends sent.
//! - A scrub of the whole store, then the repair of one backend emptied on disk.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use bytes::Bytes;
use coffer::block::{Cid, raw_cid};
use coffer::store::erasure::{ErasureConfig, ErasureStore, decode_stripe, encode_stripe};
use coffer::store::{
    BlockStore, DirStore, ReplicatedStore, ReplicationConfig, StoreError, StoreResult,
};
use futures_util::StreamExt;
use futures_util::io::Cursor;
use serde_json::json;

use crate::bench::round;
use crate::vault_cmd::{block_on, print_json};
use crate::{CliError, CliResult, files};

/// Arguments of `coffer bench federation`.
#[derive(clap::Args, Debug)]
pub struct FederationBenchArgs {
    /// Size of the blob.
    #[arg(long, default_value = "100MiB", value_parser = files::parse_size)]
    size: u64,
    /// Where the directory stores go (default: a temp dir; removed afterwards).
    #[arg(long, value_name = "DIR")]
    dir: Option<std::path::PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// A store wrapper that counts the bytes its reads return.
struct Counting {
    inner: DirStore,
    read: AtomicU64,
}

#[async_trait::async_trait]
impl BlockStore for Counting {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        self.inner.put(cid, bytes).await
    }
    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        let b = self.inner.get(cid).await?;
        self.read.fetch_add(b.len() as u64, Ordering::Relaxed);
        Ok(b)
    }
    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        let b = self.inner.get_max(cid, max_len).await?;
        self.read.fetch_add(b.len() as u64, Ordering::Relaxed);
        Ok(b)
    }
    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        let b = self.inner.get_range(cid, range).await?;
        self.read.fetch_add(b.len() as u64, Ordering::Relaxed);
        Ok(b)
    }
    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        self.inner.has(cid).await
    }
    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        self.inner.delete(cid).await
    }
    async fn list(&self) -> StoreResult<Vec<Cid>> {
        self.inner.list().await
    }
}

/// Bytes of every file under `dir`.
fn du(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(m) = e.metadata() {
                total += m.len();
            }
        }
    }
    total
}

fn mbps(bytes: u64, secs: f64) -> f64 {
    round(bytes as f64 / 1e6 / secs.max(1e-9))
}

fn err(what: &str) -> impl Fn(StoreError) -> CliError + '_ {
    move |e| CliError::other(format!("{what}: {e}"))
}

/// The codec alone: (encode MB/s, decode MB/s) of `total` bytes in 4 MiB stripes, one core.
fn codec_rates(total: usize) -> CliResult<(f64, f64)> {
    let stripe = 4 << 20;
    let mut data = vec![0u8; stripe];
    blake3::Hasher::new()
        .update(b"codec")
        .finalize_xof()
        .fill(&mut data);
    let rounds = (total / stripe).max(1);
    let t = Instant::now();
    let mut shards = Vec::new();
    for _ in 0..rounds {
        shards = encode_stripe(&data, 4, 2).map_err(|e| CliError::other(e.to_string()))?;
    }
    let enc = t.elapsed().as_secs_f64();
    // Data shards 0 and 1 lost: rebuilt from 2, 3 and both parity shards.
    let pick: Vec<(usize, &[u8])> = [2usize, 3, 4, 5]
        .iter()
        .map(|&i| (i, shards[i].as_slice()))
        .collect();
    let t = Instant::now();
    for _ in 0..rounds {
        let back =
            decode_stripe(&pick, 4, 2, stripe).map_err(|e| CliError::other(e.to_string()))?;
        if back != data {
            return Err(CliError::other("the codec rebuilt different bytes"));
        }
    }
    let dec = t.elapsed().as_secs_f64();
    let bytes = (rounds * stripe) as u64;
    Ok((mbps(bytes, enc), mbps(bytes, dec)))
}

/// Deterministic blob bytes.
fn blob(size: u64) -> Vec<u8> {
    let mut out = vec![0u8; size as usize];
    blake3::Hasher::new()
        .update(b"federation")
        .finalize_xof()
        .fill(&mut out);
    out
}

async fn put_get(store: &dyn BlockStore, cid: &Cid, data: &[u8]) -> CliResult<(f64, f64)> {
    let t = Instant::now();
    let mut src = Cursor::new(data);
    store
        .put_stream(cid, &mut src, Some(data.len() as u64))
        .await
        .map_err(err("put"))?;
    let put = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut stream = store.get_stream(cid).await.map_err(err("get"))?;
    let mut got = 0u64;
    while let Some(chunk) = stream.next().await {
        got += chunk.map_err(err("get"))?.len() as u64;
    }
    let get = t.elapsed().as_secs_f64();
    if got != data.len() as u64 {
        return Err(CliError::other("the read returned a different length"));
    }
    Ok((put, get))
}

/// Runs the bench.
pub fn run(args: FederationBenchArgs) -> CliResult {
    let tmp = match &args.dir {
        Some(d) => tempfile::Builder::new()
            .prefix("coffer-bench-federation-")
            .tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .map_err(|e| CliError::other(format!("cannot make a temp dir: {e}")))?;
    let size = args.size;
    let (enc, dec) = codec_rates((size as usize).clamp(4 << 20, 256 << 20))?;
    let data = blob(size);
    let cid = raw_cid(&data);
    let result = block_on(async {
        let open = |name: String| {
            DirStore::open(tmp.path().join(name))
                .map_err(|e| CliError::other(format!("cannot open a directory store: {e}")))
        };
        // rs 4+2 over six directory stores.
        let mut counting = Vec::new();
        for i in 0..6 {
            counting.push(Arc::new(Counting {
                inner: open(format!("ec{i}"))?,
                read: AtomicU64::new(0),
            }));
        }
        let ec = ErasureStore::new(
            counting
                .iter()
                .map(|c| c.clone() as Arc<dyn BlockStore>)
                .collect(),
            ErasureConfig::new(4, 2),
        )
        .map_err(err("erasure store"))?;
        let (ec_put, ec_get) = put_get(&ec, &cid, &data).await?;
        let ec_stored: u64 = (0..6).map(|i| du(&tmp.path().join(format!("ec{i}")))).sum();

        // A 1 MiB range from the middle: what the backends send.
        for c in &counting {
            c.read.store(0, Ordering::Relaxed);
        }
        let mid = size / 2;
        let range = mid..(mid + (1 << 20)).min(size);
        let t = Instant::now();
        let piece = ec
            .get_range(&cid, range.clone())
            .await
            .map_err(err("range"))?;
        let range_ms = t.elapsed().as_secs_f64() * 1000.0;
        if piece.as_ref() != &data[range.start as usize..range.end as usize] {
            return Err(CliError::other("the ranged read returned other bytes"));
        }
        let range_fetched: u64 = counting
            .iter()
            .map(|c| c.read.load(Ordering::Relaxed))
            .sum();

        // Scrub, then lose backend 0 (emptied on disk) and repair it.
        let t = Instant::now();
        let scrub = ec.scrub().await.map_err(err("scrub"))?;
        let scrub_secs = t.elapsed().as_secs_f64();
        let lost = tmp.path().join("ec0").join("blocks");
        let lost_bytes = du(&lost);
        std::fs::remove_dir_all(&lost).map_err(|e| CliError::io(&lost, e))?;
        let t = Instant::now();
        let repair = ec.repair().await.map_err(err("repair"))?;
        let repair_secs = t.elapsed().as_secs_f64();
        if !repair.clean() {
            return Err(CliError::other(format!(
                "the repair left damage: {repair:?}"
            )));
        }

        // 3-way replication over three directory stores.
        let rep_backends: Vec<Arc<dyn BlockStore>> = (0..3)
            .map(|i| open(format!("rep{i}")).map(|s| Arc::new(s) as Arc<dyn BlockStore>))
            .collect::<CliResult<_>>()?;
        let rep = ReplicatedStore::new(
            rep_backends,
            ReplicationConfig {
                write_quorum: 3,
                timeout: None,
            },
        )
        .map_err(err("replicated store"))?;
        let (rep_put, rep_get) = put_get(&rep, &cid, &data).await?;
        let rep_stored: u64 = (0..3)
            .map(|i| du(&tmp.path().join(format!("rep{i}"))))
            .sum();

        Ok(json!({
            "blob_bytes": size,
            "codec_rs_4_2_one_core": {
                "encode_mb_s": enc,
                "decode_two_lost_mb_s": dec,
            },
            "rs_4_2_over_6_dirs": {
                "put_mb_s": mbps(size, ec_put),
                "get_mb_s": mbps(size, ec_get),
                "bytes_stored": ec_stored,
                "overhead": round(ec_stored as f64 / size as f64),
            },
            "replication_3_over_3_dirs": {
                "put_mb_s": mbps(size, rep_put),
                "get_mb_s": mbps(size, rep_get),
                "bytes_stored": rep_stored,
                "overhead": round(rep_stored as f64 / size as f64),
            },
            "ratio_rs_to_replication": {
                "put_speed": round(rep_put / ec_put),
                "get_speed": round(rep_get / ec_get),
                "bytes_stored": round(ec_stored as f64 / rep_stored as f64),
            },
            "range_1_mib": {
                "bytes_fetched": range_fetched,
                "ms": round(range_ms),
            },
            "scrub": {
                "seconds": round(scrub_secs),
                "mb_s_of_blob": mbps(size, scrub_secs),
                "shards_ok": scrub.backends.iter().map(|b| b.ok).sum::<u64>(),
            },
            "repair_one_lost_backend": {
                "seconds": round(repair_secs),
                "bytes_lost": lost_bytes,
                "shards_healed": repair.backends[0].healed,
            },
        }))
    })?;
    if args.json {
        return print_json(&result);
    }
    let g = |p: &str| result.pointer(p).cloned().unwrap_or_default();
    println!("blob: {} bytes", size);
    println!(
        "codec rs 4+2, one core: encode {} MB/s, decode (2 lost) {} MB/s",
        g("/codec_rs_4_2_one_core/encode_mb_s"),
        g("/codec_rs_4_2_one_core/decode_two_lost_mb_s")
    );
    for (name, key) in [
        ("rs 4+2 over 6 dirs", "rs_4_2_over_6_dirs"),
        ("replication 3 over 3 dirs", "replication_3_over_3_dirs"),
    ] {
        println!(
            "{name:<27} put {:>8} MB/s  get {:>8} MB/s  stored {:>5} x",
            g(&format!("/{key}/put_mb_s")),
            g(&format!("/{key}/get_mb_s")),
            g(&format!("/{key}/overhead"))
        );
    }
    println!(
        "1 MiB range: {} bytes fetched in {} ms",
        g("/range_1_mib/bytes_fetched"),
        g("/range_1_mib/ms")
    );
    println!(
        "scrub: {} s; repair of one lost backend ({} bytes): {} s, {} shards",
        g("/scrub/seconds"),
        g("/repair_one_lost_backend/bytes_lost"),
        g("/repair_one_lost_backend/seconds"),
        g("/repair_one_lost_backend/shards_healed")
    );
    Ok(())
}
