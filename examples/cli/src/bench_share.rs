//! `coffer bench share`: what key rotation costs. A vault of N objects under one prefix is shared
//! (which wraps every object's keys for the first epoch), then rotated (a new epoch re-wraps them
//! all again): time and bytes written, against the content size, and against re-encrypting a
//! sample of the same objects in the same run (the baseline: what rotation avoids).

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

/// Arguments of `coffer bench share`.
#[derive(clap::Args, Debug)]
pub struct ShareBenchArgs {
    /// The store (default: a fresh local directory in a temp dir).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Objects under the shared prefix.
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

/// `coffer bench share`.
pub fn run(args: ShareBenchArgs) -> CliResult {
    let tmp = tempfile::tempdir().map_err(|e| CliError::other(format!("temp dir: {e}")))?;
    let me = Identity::generate();
    let friend = Identity::generate();
    let tag = format!("bench-share-{}", now_ms());
    let report = block_on(async {
        // Fill in commits of 1,000; without --store the blocks are written without fsync
        // (`bench_support::bench_stores`): setup, not what is measured.
        let (fill_store, base) = bench_stores(args.store.as_deref(), tmp.path()).await?;
        let mut v = Vault::create(fill_store, me.clone(), &tag, "bench")
            .await
            .map_err(vault_error)?;
        let t = Instant::now();
        let quiet = args.json;
        put_in_commits(
            &mut v,
            numbered("shared/", 7, args.objects, args.size),
            |i| {
                if !quiet && i % 10_000 == 0 {
                    eprintln!("  {i} objects put ({:.0} s)", secs(t));
                }
            },
        )
        .await?;
        let fill_s = secs(t);
        drop(v);
        // The same device again, on the durable store, counting what it writes.
        let store = Arc::new(Counted::new(base));
        let mut v = Vault::open(store.clone(), me.clone(), &tag, "bench")
            .await
            .map_err(vault_error)?;
        let content = args.objects as u64 * args.size;
        let prefix = Scope::Prefix(b"shared/".to_vec());
        store.take_written();
        let t = Instant::now();
        v.share(
            prefix.clone(),
            friend.recipient(),
            ShareOptions {
                expires_ms: now_ms() + 86_400_000,
                ..Default::default()
            },
        )
        .await
        .map_err(vault_error)?;
        let share_s = secs(t);
        let share_bytes = store.take_written();
        let t = Instant::now();
        let r = v.rotate(&prefix).await.map_err(vault_error)?;
        let rotate_s = secs(t);
        let rotate_bytes = store.take_written();
        // Baseline: re-encrypting a sample (read, verify, seal with new keys, write, commit).
        let sample = args.sample.min(args.objects);
        let t = Instant::now();
        let mut reencrypted = 0;
        for i in 0..sample {
            let key = format!("shared/{i:07}");
            let plain = v.get(key.as_bytes()).await.map_err(vault_error)?;
            v.put(key.as_bytes(), plain, PutOptions::default())
                .await
                .map_err(vault_error)?;
            reencrypted += 1;
        }
        let reencrypt_s = secs(t);
        let reencrypt_bytes = store.take_written();
        let per_rotate = rotate_s / args.objects.max(1) as f64;
        let per_reencrypt = reencrypt_s / reencrypted.max(1) as f64;
        Ok(json!({
            "store": args.store.clone().unwrap_or_else(|| "file (temp dir)".into()),
            "objects": args.objects,
            "object_size": args.size,
            "content_bytes": content,
            "fill_seconds": round(fill_s),
            "share": {"seconds": round(share_s), "bytes_written": share_bytes},
            "rotate": {
                "seconds": round(rotate_s),
                "objects_per_second": round(args.objects as f64 / rotate_s),
                "keys": r.keys,
                "bytes_written": rotate_bytes,
                "bytes_per_object": round(rotate_bytes as f64 / args.objects.max(1) as f64),
                "bytes_vs_content": round(rotate_bytes as f64 / content.max(1) as f64),
            },
            "baseline_reencrypt": {
                "objects": reencrypted,
                "seconds": round(reencrypt_s),
                "bytes_written": reencrypt_bytes,
                "seconds_per_object": per_reencrypt,
            },
            "rotate_time_vs_reencrypt": round(per_rotate / per_reencrypt),
        }))
    })?;
    if args.json {
        println!("{report:#}");
        return Ok(());
    }
    println!(
        "coffer bench share: {} objects of {} bytes ({} MiB of content) on {}",
        report["objects"],
        report["object_size"],
        round(report["content_bytes"].as_f64().unwrap_or(0.0) / 1048576.0),
        report["store"].as_str().unwrap_or_default()
    );
    println!("  fill (setup)           {:>10} s", report["fill_seconds"]);
    println!(
        "  share (first epoch)    {:>10} s  {:>12} bytes written",
        report["share"]["seconds"], report["share"]["bytes_written"]
    );
    let r = &report["rotate"];
    println!(
        "  rotate (re-wrap all)   {:>10} s  {:>12} bytes written ({} per object, {} of the content; {} objects/s)",
        r["seconds"],
        r["bytes_written"],
        r["bytes_per_object"],
        r["bytes_vs_content"],
        r["objects_per_second"]
    );
    let b = &report["baseline_reencrypt"];
    println!(
        "  baseline: re-encrypt {} objects {:>6} s  {:>12} bytes written",
        b["objects"], b["seconds"], b["bytes_written"]
    );
    println!(
        "  rotation time per object vs re-encryption: {}",
        report["rotate_time_vs_reencrypt"]
    );
    Ok(())
}
