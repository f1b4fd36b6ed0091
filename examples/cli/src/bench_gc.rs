//! `coffer bench gc`: garbage collection on a vault where half the objects were overwritten or
//! deleted: bytes reclaimed ÷ bytes of garbage, time (beside a bare listing of the store, the
//! floor of any collection), blocks read, and the memory of the mark phase (the prune's own, and
//! a mark set of 1,000,000 blocks measured alone).

use std::time::Instant;

use coffer::Identity;
use coffer::store::BlockStore;
use coffer::vault::{GcTiming, Noncurrent, PruneOptions, RetentionPolicy, RetentionRule, Vault};
use serde_json::json;

use crate::bench::round;
use crate::bench_support::{bench_stores, put_in_commits};
use crate::config::AnyStore;
use crate::vault_cmd::{block_on, vault_error};
use crate::{CliError, CliResult, files};

/// Arguments of `coffer bench gc`.
#[derive(clap::Args, Debug)]
pub struct GcBenchArgs {
    /// The store (default: a fresh local directory in a temp dir).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Objects put first; then a quarter are overwritten and a quarter deleted.
    #[arg(long, default_value_t = 100_000)]
    objects: usize,
    /// Size of each object.
    #[arg(long, default_value = "1KiB", value_parser = files::parse_size)]
    size: u64,
    /// Blocks in the mark set measured alone.
    #[arg(long, default_value_t = 1_000_000)]
    mark_blocks: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// Resets the kernel's peak-RSS counter of this process (Linux; best effort).
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn content(i: usize, round: u8, size: u64) -> Vec<u8> {
    let mut out = vec![0u8; size as usize];
    blake3::Hasher::new()
        .update(&(i as u64).to_le_bytes())
        .update(&[round])
        .finalize_xof()
        .fill(&mut out);
    out
}

fn key(i: usize) -> String {
    format!("objects/{:03}/{i:07}.bin", i % 1000)
}

/// Puts (or overwrites) objects `range` in commits of 1,000.
async fn put_range(
    v: &mut Vault<dyn AnyStore>,
    range: std::ops::Range<usize>,
    round: u8,
    size: u64,
) -> CliResult {
    put_in_commits(v, range.map(|i| (key(i), content(i, round, size))), |_| {}).await
}

/// `coffer bench gc`.
pub fn run(args: GcBenchArgs) -> CliResult {
    let tmp = tempfile::tempdir().map_err(|e| CliError::other(e.to_string()))?;
    let n = args.objects.max(4);
    let report = block_on(async {
        // Fill and churn through the store without fsync when no --store is given
        // (`bench_support::bench_stores`): setup; the listing and the prunes are measured on the
        // durable store.
        let (fill_store, store) = bench_stores(args.store.as_deref(), tmp.path()).await?;
        let name = format!(
            "gc-bench-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        let me = Identity::generate();
        let mut v = Vault::create(fill_store, me.clone(), &name, "bench")
            .await
            .map_err(vault_error)?;
        let t = Instant::now();
        put_range(&mut v, 0..n, 0, args.size).await?;
        let fill_ms = t.elapsed().as_millis();
        // Half the objects become garbage: a quarter overwritten, a quarter deleted.
        let t = Instant::now();
        put_range(&mut v, 0..n / 4, 1, args.size).await?;
        let deleted: Vec<String> = (n / 4..n / 2).map(key).collect();
        for chunk in deleted.chunks(1000) {
            let keys: Vec<&[u8]> = chunk.iter().map(|k| k.as_bytes()).collect();
            v.delete_many(&keys).await.map_err(vault_error)?;
        }
        let churn_ms = t.elapsed().as_millis();
        drop(v);
        let mut v = Vault::open(store.clone(), me, &name, "bench")
            .await
            .map_err(vault_error)?;
        v.set_gc_timing(GcTiming {
            grace_ms: 0,
            ..GcTiming::default()
        });
        v.set_retention(&RetentionPolicy {
            rules: vec![RetentionRule {
                prefix: Vec::new(),
                noncurrent: Noncurrent::KeepNone,
                deleted_after_ms: Some(0),
            }],
        })
        .await
        .map_err(vault_error)?;
        // Baseline: one bare listing of the store.
        let t = Instant::now();
        let mut listed = 0u64;
        store
            .for_each_block(&mut |_, _| listed += 1)
            .await
            .map_err(|e| CliError::other(e.to_string()))?;
        let list_ms = t.elapsed().as_secs_f64() * 1000.0;
        let rss_before = rss_mib();
        reset_peak();
        let t = Instant::now();
        let r = v
            .prune(
                PruneOptions {
                    window_ms: 0,
                    ..Default::default()
                },
                None,
            )
            .await
            .map_err(vault_error)?;
        let prune_ms = t.elapsed().as_secs_f64() * 1000.0;
        let prune_peak = crate::bench::peak_rss_mib();
        // Everything live still reads; a second collection finds (almost) nothing more.
        for i in (0..n).step_by((n / 500).max(1)) {
            let got = v.get(key(i).as_bytes()).await;
            let live = i < n / 4 || i >= n / 2;
            match (got, live) {
                (Ok(bytes), true) => {
                    let round = u8::from(i < n / 4);
                    if bytes != content(i, round, args.size) {
                        return Err(CliError::integrity(format!("{} changed", key(i))));
                    }
                }
                (Err(coffer::vault::VaultError::NotFound), false) => {}
                (other, _) => {
                    return Err(CliError::other(format!(
                        "{} after the prune: {:?}",
                        key(i),
                        other.map(|b| b.len())
                    )));
                }
            }
        }
        let again = v
            .prune(
                PruneOptions {
                    window_ms: 0,
                    ..Default::default()
                },
                None,
            )
            .await
            .map_err(vault_error)?;
        // The mark set alone at the target size.
        let rss_set_before = rss_mib();
        reset_peak();
        let set_peak = coffer::vault::bench_mark_set(args.mark_blocks)
            .ok_or_else(|| CliError::other("the mark set lost a digest"))?;
        let set_rss = crate::bench::peak_rss_mib()
            .zip(rss_set_before)
            .map(|(p, b)| p - b);
        let garbage = r.listed.bytes.saturating_sub(r.marked.bytes);
        Ok(json!({
            "store": args.store.clone().unwrap_or_else(|| "a local directory".into()),
            "objects": n,
            "object_size": args.size,
            "fill_ms": fill_ms,
            "churn_ms": churn_ms,
            "blocks_listed": r.listed.blocks,
            "bytes_listed": r.listed.bytes,
            "blocks_live": r.marked.blocks,
            "bytes_live": r.marked.bytes,
            "bytes_garbage": garbage,
            "bytes_reclaimed": r.swept.bytes,
            "blocks_reclaimed": r.swept.blocks,
            "reclaimed_over_garbage": if garbage == 0 { 1.0 } else { round(r.swept.bytes as f64 / garbage as f64) },
            "versions_expired": r.versions_expired,
            "graveyards_expired": r.graveyards_expired,
            "prune_ms": round(prune_ms),
            "list_ms": round(list_ms),
            "prune_over_list": round(prune_ms / list_ms.max(1e-3)),
            "ms": {"policy": r.policy_ms, "mark": r.mark_ms, "sweep": r.sweep_ms},
            "blocks_read": r.blocks_read,
            "mark_set_peak_mib": round(r.mark_set_peak_bytes as f64 / (1 << 20) as f64),
            "prune_peak_rss_over_start_mib": prune_peak.zip(rss_before).map(|(p, b)| round(p - b)),
            "second_prune_swept_blocks": again.swept.blocks,
            "mark_set_alone": {
                "blocks": args.mark_blocks,
                "peak_mib": round(set_peak as f64 / (1 << 20) as f64),
                "peak_rss_over_start_mib": set_rss.map(round),
            },
        }))
    })?;
    if args.json {
        return crate::vault_cmd::print_json(&report);
    }
    println!("coffer bench gc: {}", report["store"]);
    for (k, v) in report.as_object().into_iter().flatten() {
        println!("  {k:32} {v}");
    }
    Ok(())
}
