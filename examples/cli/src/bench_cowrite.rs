//! `coffer bench cowrite`: what merging co-writers costs (issue 19: "sync of 3 identities ×
//! 1,000 changes each (blocks read, time) vs a single-identity vault of the same size").
//!
//! Co-writing: an owner (one device) and two co-writers holding read-write shares of `team/`
//! each make N changes offline (`team/a/…`, `team/b/…`, `team/c/…`); then, in turn, the owner's
//! device syncs (merging both co-writers' heads into its index and publishing the share's
//! view), and each co-writer opens the share and lists all of it (the owner's view merged with
//! both co-writers' heads). Baseline, in the same run: one identity's three devices make the
//! same 3 × N changes and sync in turn. Each step is timed and its blocks read are counted (a
//! counting wrapper over the store); the ratio of the totals is printed. Afterwards the owner and
//! one device of the single identity each sync again with nothing new (not in the totals): what
//! a routine sync costs once the co-writers' heads have been merged.
//!
//! The changes are made through the store without fsync when no `--store` is given
//! (`bench_support::bench_stores`: setup, not measured); every device is then opened again on the durable
//! store and only the merges are measured (the open before each is not).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use coffer::Identity;
use coffer::share::{Scope, Share, ShareBook, SharedReader, SharedWriter, read_inbox};
use coffer::vault::{ShareOptions, Vault, now_ms};
use serde_json::{Value, json};

use crate::bench::round;
use crate::bench_support::{bench_stores, count_listed, numbered, put_in_commits};
use crate::bench_vault::{Counted, secs};
use crate::config::AnyStore;
use crate::vault_cmd::{block_on, vault_error};
use crate::{CliError, CliResult, files};

/// Arguments of `coffer bench cowrite`.
#[derive(clap::Args, Debug)]
pub struct CowriteBenchArgs {
    /// The store (default: a fresh local directory in a temp dir).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Changes (puts of new keys) each identity (or device) makes offline.
    #[arg(long, default_value_t = 1_000)]
    changes: usize,
    /// Size of each object.
    #[arg(long, default_value = "1KiB", value_parser = files::parse_size)]
    size: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// One measured step: who, what, seconds, blocks and bytes read.
fn step(who: &str, what: &str, t: Instant, read: (u64, u64)) -> Value {
    json!({"who": who, "what": what, "seconds": round(secs(t)), "blocks_read": read.0, "bytes_read": read.1})
}

/// Runs `work` as one measured step: its time and what it read from `store`.
async fn timed<T>(
    store: &Counted<dyn AnyStore>,
    who: &str,
    what: &str,
    work: impl Future<Output = CliResult<T>>,
) -> CliResult<(T, Value)> {
    store.take();
    let t = Instant::now();
    let out = work.await?;
    Ok((out, step(who, what, t, store.take())))
}

fn share_error(e: coffer::share::ShareError) -> CliError {
    CliError::other(e.to_string())
}

/// The newest read-write share in `who`'s inbox.
async fn grant(store: &dyn AnyStore, who: &Identity) -> CliResult<Share> {
    let mut book = ShareBook::new();
    for e in read_inbox(store, who).await.map_err(share_error)? {
        if let Ok(s) = e.share {
            let _ = book.accept(s, now_ms());
        }
    }
    book.iter()
        .find(|s| s.can_write())
        .cloned()
        .ok_or_else(|| CliError::other("the co-writer found no read-write share in its inbox"))
}

/// `coffer bench cowrite`.
pub fn run(args: CowriteBenchArgs) -> CliResult {
    if args.size < 8 {
        return Err(CliError::usage("--size must be at least 8 bytes"));
    }
    let tmp = tempfile::tempdir().map_err(|e| CliError::other(format!("temp dir: {e}")))?;
    let n = args.changes;
    let tag = format!("bench-cowrite-{}", now_ms());
    let report = block_on(async {
        let (fill, base) = bench_stores(args.store.as_deref(), tmp.path()).await?;
        let store = Arc::new(Counted::new(base));
        let t_setup = Instant::now();

        // Co-writing: alice owns, bob and carol write under team/.
        let (alice, bob, carol) = (
            Identity::generate(),
            Identity::generate(),
            Identity::generate(),
        );
        let cw = format!("{tag}-team");
        let mut laptop = Vault::create(fill.clone(), alice.clone(), &cw, "laptop")
            .await
            .map_err(vault_error)?;
        for who in [&bob, &carol] {
            laptop
                .share(
                    Scope::Prefix(b"team/".to_vec()),
                    who.recipient(),
                    ShareOptions {
                        expires_ms: now_ms() + 86_400_000,
                        write: true,
                        ..Default::default()
                    },
                )
                .await
                .map_err(vault_error)?;
        }
        put_in_commits(&mut laptop, numbered("team/a/", 6, n, args.size), |_| {}).await?;
        drop(laptop);
        let mut shares = Vec::new();
        for (who, prefix) in [(&bob, "team/b/"), (&carol, "team/c/")] {
            let share = grant(&*fill, who).await?;
            let mut w = SharedWriter::open(fill.clone(), who.clone(), share.clone())
                .await
                .map_err(share_error)?;
            let mut body = vec![0u8; args.size as usize];
            for i in 0..n {
                body[..8].copy_from_slice(&(i as u64).to_le_bytes());
                w.put(format!("{prefix}{i:06}").as_bytes(), &body, None)
                    .await
                    .map_err(share_error)?;
            }
            w.commit().await.map_err(share_error)?;
            shares.push(share);
        }

        // One identity, three devices, the same changes.
        let me = Identity::generate();
        let solo = format!("{tag}-solo");
        let mut devices = Vec::new();
        for (i, prefix) in ["team/a/", "team/b/", "team/c/"].iter().enumerate() {
            let device = format!("d{}", i + 1);
            let mut v = if i == 0 {
                Vault::create(fill.clone(), me.clone(), &solo, &device).await
            } else {
                Vault::open(fill.clone(), me.clone(), &solo, &device).await
            }
            .map_err(vault_error)?;
            put_in_commits(&mut v, numbered(prefix, 6, n, args.size), |_| {}).await?;
            devices.push(device);
        }
        let setup_s = secs(t_setup);

        // Measured: the co-writing merges.
        let mut cow_steps = Vec::new();
        let mut owner = Vault::open(store.clone(), alice.clone(), &cw, "laptop")
            .await
            .map_err(vault_error)?;
        let (_, s) = timed(
            &store,
            "owner (laptop)",
            "sync: merge both co-writers' heads, publish the view",
            async { owner.sync().await.map_err(vault_error) },
        )
        .await?;
        cow_steps.push(s);
        let o = &owner;
        let owner_keys = count_listed(b"team/", move |req| async move {
            o.list(&req).await.map_err(vault_error)
        })
        .await?;
        let skipped = owner.skipped_heads().len();
        let mut reader_keys = Vec::new();
        for (who, share) in ["bob", "carol"].iter().zip(&shares) {
            let (keys, s) = timed(
                &store,
                &format!("co-writer {who}"),
                "open the share and list all of it",
                async {
                    let reader = SharedReader::open(store.clone(), share.clone())
                        .await
                        .map_err(share_error)?;
                    let r = &reader;
                    count_listed(b"team/", move |req| async move {
                        r.list(&req).await.map_err(share_error)
                    })
                    .await
                },
            )
            .await?;
            cow_steps.push(s);
            reader_keys.push(keys);
        }

        // Measured: the single identity's syncs.
        let mut solo_steps = Vec::new();
        let mut solo_keys = Vec::new();
        let mut last = None;
        for device in &devices {
            let mut v = Vault::open(store.clone(), me.clone(), &solo, device)
                .await
                .map_err(vault_error)?;
            let (_, s) = timed(
                &store,
                &format!("device {device}"),
                "sync: merge the other devices' heads",
                async { v.sync().await.map_err(vault_error) },
            )
            .await?;
            solo_steps.push(s);
            {
                let v = &v;
                solo_keys.push(
                    count_listed(b"team/", move |req| async move {
                        v.list(&req).await.map_err(vault_error)
                    })
                    .await?,
                );
            }
            last = Some(v);
        }

        // Measured, not in the totals: a second sync with nothing new, by the owner (its
        // co-writers' heads were merged by the first) and by a device of the single identity.
        let mut resync = Vec::new();
        let (_, s) = timed(&store, "owner (laptop)", "sync again, nothing new", async {
            owner.sync().await.map_err(vault_error)
        })
        .await?;
        resync.push(s);
        if let Some(mut v) = last {
            let (_, s) = timed(
                &store,
                "device d3",
                "sync again, nothing new (baseline)",
                async { v.sync().await.map_err(vault_error) },
            )
            .await?;
            resync.push(s);
        }
        let want = 3 * n;
        if owner_keys != want
            || skipped != 0
            || reader_keys.iter().any(|k| *k != want)
            || solo_keys.iter().any(|k| *k != want)
        {
            return Err(CliError::other(format!(
                "the merges did not converge: owner lists {owner_keys} (skipped {skipped}), \
                 co-writers {reader_keys:?}, devices {solo_keys:?}; expected {want}"
            )));
        }
        let total = |steps: &[Value], f: &str| -> f64 {
            steps.iter().map(|s| s[f].as_f64().unwrap_or(0.0)).sum()
        };
        let (cs, cb) = (
            total(&cow_steps, "seconds"),
            total(&cow_steps, "blocks_read"),
        );
        let (ss, sb) = (
            total(&solo_steps, "seconds"),
            total(&solo_steps, "blocks_read"),
        );
        let first = |steps: &[Value], f: &str| steps[0][f].as_f64().unwrap_or(0.0);
        Ok(json!({
            "store": args.store.clone().unwrap_or_else(|| "file (temp dir)".into()),
            "changes_per_identity": n,
            "object_size": args.size,
            "keys_after_merge": want,
            "setup_seconds": round(setup_s),
            "cowriting": {"steps": cow_steps, "seconds": round(cs), "blocks_read": cb as u64},
            "single_identity": {"steps": solo_steps, "seconds": round(ss), "blocks_read": sb as u64},
            "resync": resync,
            "first_merge_time_ratio": round(first(&cow_steps, "seconds") / first(&solo_steps, "seconds").max(f64::MIN_POSITIVE)),
            "first_merge_blocks_ratio": round(first(&cow_steps, "blocks_read") / first(&solo_steps, "blocks_read").max(1.0)),
            "total_time_ratio": round(cs / ss.max(f64::MIN_POSITIVE)),
            "total_blocks_ratio": round(cb / sb.max(1.0)),
        }))
    })?;
    if args.json {
        println!("{report:#}");
        return Ok(());
    }
    println!(
        "coffer bench cowrite: 3 identities × {} changes of {} bytes vs 1 identity × 3 devices, on {}",
        report["changes_per_identity"],
        report["object_size"],
        report["store"].as_str().unwrap_or_default()
    );
    for (title, k) in [
        ("co-writing (owner + 2 co-writers)", "cowriting"),
        ("baseline: one identity, three devices", "single_identity"),
    ] {
        println!("  {title}");
        for s in report[k]["steps"].as_array().into_iter().flatten() {
            println!(
                "    {:<16} {:>8} s {:>8} blocks read  {}",
                s["who"].as_str().unwrap_or_default(),
                s["seconds"],
                s["blocks_read"],
                s["what"].as_str().unwrap_or_default()
            );
        }
        println!(
            "    {:<16} {:>8} s {:>8} blocks read",
            "total", report[k]["seconds"], report[k]["blocks_read"]
        );
    }
    println!("  afterwards (not in the totals)");
    for s in report["resync"].as_array().into_iter().flatten() {
        println!(
            "    {:<16} {:>8} s {:>8} blocks read  {}",
            s["who"].as_str().unwrap_or_default(),
            s["seconds"],
            s["blocks_read"],
            s["what"].as_str().unwrap_or_default()
        );
    }
    println!(
        "  co-writing vs one identity: first merge time ×{} blocks ×{}; all steps time ×{} blocks ×{}",
        report["first_merge_time_ratio"],
        report["first_merge_blocks_ratio"],
        report["total_time_ratio"],
        report["total_blocks_ratio"]
    );
    Ok(())
}
