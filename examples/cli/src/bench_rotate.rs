//! `coffer bench rotate`: what rotating the owner's identity costs. A vault of N objects (and
//! one share, whose record the handover pins) is handed over to a new identity: time and bytes
//! written, against the content size, and against re-encrypting a sample of the same objects in
//! the same run (the baseline: what a rotation by copying into a new vault would cost per
//! object). The handover itself does not depend on N; the sync before it does (it reads every
//! head).

use std::sync::Arc;
use std::time::Instant;

use coffer::Identity;
use coffer::share::Scope;
use coffer::vault::{PutOptions, ShareOptions, Vault, now_ms};
use serde_json::json;

use crate::bench::round;
use crate::bench_support::{bench_stores, numbered, put_in_commits};
use crate::bench_vault::{Counted, secs};
use crate::vault_cmd::{block_on, vault_error};
use crate::{CliError, CliResult, files};

/// Arguments of `coffer bench rotate`.
#[derive(clap::Args, Debug)]
pub struct RotateBenchArgs {
    /// The store (default: a fresh local directory in a temp dir).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Objects in the vault.
    #[arg(long, default_value_t = 100_000)]
    objects: usize,
    /// Size of each object.
    #[arg(long, default_value = "4KiB", value_parser = files::parse_size)]
    size: u64,
    /// Objects re-encrypted for the baseline.
    #[arg(long, default_value_t = 1_000)]
    sample: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// `coffer bench rotate`.
pub fn run(args: RotateBenchArgs) -> CliResult {
    let tmp = tempfile::tempdir().map_err(|e| CliError::other(format!("temp dir: {e}")))?;
    let me = Identity::generate();
    let next = Identity::generate();
    let friend = Identity::generate();
    let tag = format!("bench-rotate-{}", now_ms());
    let report = block_on(async {
        let (fill_store, base) = bench_stores(args.store.as_deref(), tmp.path()).await?;
        let mut v = Vault::create(fill_store, me.clone(), &tag, "bench")
            .await
            .map_err(vault_error)?;
        // Fill in commits of 1,000; without --store the blocks are written without fsync
        // (`bench_support::bench_stores`): setup, not what is measured.
        let t = Instant::now();
        let quiet = args.json;
        put_in_commits(&mut v, numbered("o/", 7, args.objects, args.size), |i| {
            if !quiet && i % 20_000 == 0 {
                eprintln!("  {i} objects put ({:.0} s)", secs(t));
            }
        })
        .await?;
        v.share(
            Scope::Prefix(b"o/0000".to_vec()),
            friend.recipient(),
            ShareOptions {
                expires_ms: now_ms() + 86_400_000,
                ..Default::default()
            },
        )
        .await
        .map_err(vault_error)?;
        drop(v);
        // The same device again, on the durable store, counting what it writes.
        let store = Arc::new(Counted::new(base));
        let mut v = Vault::open(store.clone(), me.clone(), &tag, "bench")
            .await
            .map_err(vault_error)?;
        let fill_s = secs(t);
        let content = args.objects as u64 * args.size;
        store.take_written();
        let t = Instant::now();
        let r = v.rotate_identity(next.clone()).await.map_err(vault_error)?;
        let rotate_s = secs(t);
        let rotate_bytes = store.take_written();
        // A second device of the new owner opening and reading after the handover.
        let t = Instant::now();
        let mut other = Vault::open(store.clone(), next.clone(), &tag, "other")
            .await
            .map_err(vault_error)?;
        other.sync().await.map_err(vault_error)?;
        other.get(b"o/0000000").await.map_err(vault_error)?;
        let follow_s = secs(t);
        store.take_written();
        // Baseline: re-encrypting a sample (read, verify, seal with new keys, write, commit).
        let sample = args.sample.min(args.objects);
        let t = Instant::now();
        for i in 0..sample {
            let key = format!("o/{i:07}");
            let plain = v.get(key.as_bytes()).await.map_err(vault_error)?;
            v.put(key.as_bytes(), plain, PutOptions::default())
                .await
                .map_err(vault_error)?;
        }
        let reencrypt_s = secs(t);
        let reencrypt_bytes = store.take_written();
        // A cheaper re-encryption: the next `sample` objects read and uploaded again, one commit
        // per 1,000 (what a batched re-encrypt could do; `coffer reencrypt` commits per object).
        let batched = sample.min(args.objects - sample);
        let t = Instant::now();
        let mut batch = Vec::new();
        for i in sample..sample + batched {
            let key = format!("o/{i:07}");
            let plain = v.get(key.as_bytes()).await.map_err(vault_error)?;
            batch.push(
                v.upload(key.as_bytes(), plain, PutOptions::default())
                    .await
                    .map_err(vault_error)?,
            );
            if batch.len() == 1_000 || i + 1 == sample + batched {
                for r in v
                    .commit_uploads(std::mem::take(&mut batch))
                    .await
                    .map_err(vault_error)?
                {
                    r.map_err(vault_error)?;
                }
            }
        }
        let batched_s = secs(t);
        let batched_bytes = store.take_written();
        let batched_all_s = batched_s / batched.max(1) as f64 * args.objects as f64;
        let batched_all_bytes = batched_bytes as f64 / batched.max(1) as f64 * args.objects as f64;
        let per_object = reencrypt_s / sample.max(1) as f64;
        let reencrypt_all_s = per_object * args.objects as f64;
        let reencrypt_all_bytes =
            reencrypt_bytes as f64 / sample.max(1) as f64 * args.objects as f64;
        Ok(json!({
            "store": args.store.clone().unwrap_or_else(|| "file (temp dir)".into()),
            "objects": args.objects,
            "object_size": args.size,
            "content_bytes": content,
            "fill_seconds": round(fill_s),
            "rotate": {
                "seconds": round(rotate_s),
                "bytes_written": rotate_bytes,
                "final_heads": r.final_heads,
                "share_records": r.records,
                "bytes_vs_content": rotate_bytes as f64 / content.max(1) as f64,
            },
            "second_device_follows_seconds": round(follow_s),
            "baseline_reencrypt": {
                "objects": sample,
                "seconds": round(reencrypt_s),
                "bytes_written": reencrypt_bytes,
                "seconds_per_object": per_object,
                "extrapolated_seconds_for_all": round(reencrypt_all_s),
                "extrapolated_bytes_for_all": reencrypt_all_bytes.round(),
            },
            "rotate_time_vs_reencrypt_all": rotate_s / reencrypt_all_s.max(f64::MIN_POSITIVE),
            "rotate_bytes_vs_reencrypt_all": rotate_bytes as f64 / reencrypt_all_bytes.max(1.0),
            "baseline_reencrypt_batched": {
                "objects": batched,
                "seconds": round(batched_s),
                "bytes_written": batched_bytes,
                "extrapolated_seconds_for_all": round(batched_all_s),
                "extrapolated_bytes_for_all": batched_all_bytes.round(),
            },
            "rotate_time_vs_batched_all": rotate_s / batched_all_s.max(f64::MIN_POSITIVE),
            "rotate_bytes_vs_batched_all": rotate_bytes as f64 / batched_all_bytes.max(1.0),
        }))
    })?;
    if args.json {
        println!("{report:#}");
        return Ok(());
    }
    println!(
        "coffer bench rotate: {} objects of {} bytes ({} MiB of content) on {}",
        report["objects"],
        report["object_size"],
        round(report["content_bytes"].as_f64().unwrap_or(0.0) / 1048576.0),
        report["store"].as_str().unwrap_or_default()
    );
    println!(
        "  fill (batched puts)        {:>10} s",
        report["fill_seconds"]
    );
    let r = &report["rotate"];
    println!(
        "  identity rotation          {:>10} s  {:>12} bytes written ({} final heads, {} share records pinned)",
        r["seconds"], r["bytes_written"], r["final_heads"], r["share_records"]
    );
    println!(
        "  second device follows      {:>10} s",
        report["second_device_follows_seconds"]
    );
    let b = &report["baseline_reencrypt"];
    println!(
        "  baseline: re-encrypt {} objects {:>6} s  {:>12} bytes written (all {}: ~{} s, ~{} bytes)",
        b["objects"],
        b["seconds"],
        b["bytes_written"],
        report["objects"],
        b["extrapolated_seconds_for_all"],
        b["extrapolated_bytes_for_all"]
    );
    let b = &report["baseline_reencrypt_batched"];
    println!(
        "  baseline: batched re-encrypt {} objects {:>6} s  {:>12} bytes written (all {}: ~{} s, ~{} bytes)",
        b["objects"],
        b["seconds"],
        b["bytes_written"],
        report["objects"],
        b["extrapolated_seconds_for_all"],
        b["extrapolated_bytes_for_all"]
    );
    println!(
        "  rotation vs batched re-encryption of everything: time {:.2e}, bytes {:.2e}",
        report["rotate_time_vs_batched_all"].as_f64().unwrap_or(0.0),
        report["rotate_bytes_vs_batched_all"]
            .as_f64()
            .unwrap_or(0.0)
    );
    println!(
        "  rotation vs re-encrypting everything: time {:.2e}, bytes {:.2e}",
        report["rotate_time_vs_reencrypt_all"]
            .as_f64()
            .unwrap_or(0.0),
        report["rotate_bytes_vs_reencrypt_all"]
            .as_f64()
            .unwrap_or(0.0)
    );
    Ok(())
}
