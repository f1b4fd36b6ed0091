//! `coffer bench car`: moving a vault through a CAR file. A vault of many small objects and one
//! large one is exported from one store and imported into another; export and import rates
//! (MiB/s of block data, blocks/s) are printed beside a plain copy of the same file, measured in
//! the same run, and the import beside a copy of the same blocks store to store with nothing
//! checked (local directories); the import's time is split into its scan, check and copy steps.

use std::sync::Arc;
use std::time::Instant;

use coffer::Identity;
use coffer::car::{CarPhase, CarProgress};
use coffer::store::{BlockStore, DirStore};
use coffer::vault::{PutOptions, Vault};
use serde_json::json;

use crate::bench::round;
use crate::config::{AnyStore, StoreUrl};
use crate::vault_cmd::{block_on, vault_error};
use crate::{CliError, CliResult, files};

/// Arguments of `coffer bench car`.
#[derive(clap::Args, Debug)]
pub struct CarBenchArgs {
    /// The store the vault is made in and exported from (default: a fresh local directory).
    #[arg(long, value_name = "URL")]
    from: Option<String>,
    /// The store it is imported into (default: another fresh local directory).
    #[arg(long, value_name = "URL")]
    to: Option<String>,
    /// Small objects in the vault.
    #[arg(long, default_value_t = 2000)]
    objects: usize,
    /// Size of each small object.
    #[arg(long, default_value = "16KiB", value_parser = files::parse_size)]
    size: u64,
    /// Size of the one large object.
    #[arg(long, default_value = "256MiB", value_parser = files::parse_size)]
    big: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

fn content(i: usize, size: u64) -> Vec<u8> {
    let mut out = vec![0u8; size as usize];
    blake3::Hasher::new()
        .update(&(i as u64).to_le_bytes())
        .finalize_xof()
        .fill(&mut out);
    out
}

async fn connect(url: &Option<String>, dir: &std::path::Path) -> CliResult<Arc<dyn AnyStore>> {
    match url {
        Some(u) => StoreUrl::parse(u)?.connect().await,
        None => Ok(Arc::new(
            DirStore::open(dir).map_err(|e| CliError::other(e.to_string()))?,
        )),
    }
}

fn mib_s(bytes: u64, secs: f64) -> f64 {
    round(bytes as f64 / (1 << 20) as f64 / secs.max(1e-9))
}

/// `coffer bench car`.
pub fn run(args: CarBenchArgs) -> CliResult {
    let tmp = tempfile::tempdir().map_err(|e| CliError::other(e.to_string()))?;
    let car = tmp.path().join("vault.car");
    let report = block_on(async {
        let src = connect(&args.from, &tmp.path().join("from")).await?;
        let dst = connect(&args.to, &tmp.path().join("to")).await?;
        let name = format!(
            "car-bench-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        );
        let me = Identity::generate();
        let mut v = Vault::create(src.clone(), me.clone(), &name, "bench")
            .await
            .map_err(vault_error)?;
        let keys: Vec<usize> = (0..args.objects).collect();
        for chunk in keys.chunks(1000) {
            let mut uploads = Vec::with_capacity(chunk.len());
            for i in chunk {
                let key = format!("small/{i:06}");
                uploads.push(
                    v.upload(
                        key.as_bytes(),
                        content(*i, args.size),
                        PutOptions::default(),
                    )
                    .await
                    .map_err(vault_error)?,
                );
            }
            for r in v.commit_uploads(uploads).await.map_err(vault_error)? {
                r.map_err(vault_error)?;
            }
        }
        if args.big > 0 {
            v.put(
                b"big.bin",
                content(usize::MAX, args.big),
                PutOptions::default(),
            )
            .await
            .map_err(vault_error)?;
        }

        let t = Instant::now();
        let mut file = std::fs::File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&car)
            .map_err(|e| CliError::io(&car, e))?;
        let e = coffer::car::export_car(&mut v, &mut file, None)
            .await
            .map_err(|e| CliError::other(format!("export: {e}")))?;
        file.sync_all().map_err(|e| CliError::io(&car, e))?;
        let export_s = t.elapsed().as_secs_f64();
        drop(file);

        // Baseline: a plain copy of the same file (read and write of the same bytes).
        let copy = tmp.path().join("copy.car");
        let t = Instant::now();
        std::fs::copy(&car, &copy).map_err(|e| CliError::io(&copy, e))?;
        std::fs::File::open(&copy)
            .and_then(|f| f.sync_all())
            .map_err(|e| CliError::io(&copy, e))?;
        let copy_s = t.elapsed().as_secs_f64();
        let _ = std::fs::remove_file(&copy);

        let file = std::fs::File::open(&car).map_err(|e| CliError::io(&car, e))?;
        let start = Instant::now();
        let mut marks: Vec<(CarPhase, f64)> = Vec::new();
        let mut cb = |p: &CarProgress| {
            if marks.last().is_none_or(|(ph, _)| *ph != p.phase) {
                marks.push((p.phase, start.elapsed().as_secs_f64()));
            }
        };
        let i = coffer::car::import_car(&*dst, &me, file, Some(&mut cb))
            .await
            .map_err(|e| CliError::other(format!("import: {e}")))?;
        let import_s = start.elapsed().as_secs_f64();
        let at = |ph: CarPhase| marks.iter().find(|(p, _)| *p == ph).map(|(_, t)| *t);
        let scan_s = at(CarPhase::Check).unwrap_or(0.0);
        let check_s = at(CarPhase::Copy).unwrap_or(import_s) - scan_s;
        let copy_blocks_s = at(CarPhase::Heads).unwrap_or(import_s) - scan_s - check_s;

        // Baseline for the import: the same blocks copied store to store with nothing checked
        // (list, get, put), into another fresh directory (local stores only).
        let naive_s = if args.from.is_none() && args.to.is_none() {
            let third = DirStore::open(tmp.path().join("naive"))
                .map_err(|e| CliError::other(e.to_string()))?;
            let t = Instant::now();
            let err = |e: coffer::store::StoreError| CliError::other(format!("naive copy: {e}"));
            for cid in src.list().await.map_err(err)? {
                let bytes = src.get(&cid).await.map_err(err)?;
                third.put(&cid, bytes).await.map_err(err)?;
            }
            Some(t.elapsed().as_secs_f64())
        } else {
            None
        };

        // The moved vault reads.
        let mut moved = Vault::open(dst.clone(), me.clone(), &name, "reader")
            .await
            .map_err(vault_error)?;
        moved.sync().await.map_err(vault_error)?;
        if args.objects > 0
            && moved.get(b"small/000000").await.map_err(vault_error)? != content(0, args.size)
        {
            return Err(CliError::integrity("the moved vault reads other bytes"));
        }

        Ok(json!({
            "from": args.from.clone().unwrap_or_else(|| "a local directory".into()),
            "to": args.to.clone().unwrap_or_else(|| "a local directory".into()),
            "objects": args.objects,
            "object_size": args.size,
            "big": args.big,
            "blocks": e.blocks,
            "block_bytes": e.bytes,
            "file_bytes": e.file_len,
            "export_s": round(export_s),
            "export_mib_s": mib_s(e.bytes, export_s),
            "export_blocks_s": round(e.blocks as f64 / export_s.max(1e-9)),
            "import_s": round(import_s),
            "import_mib_s": mib_s(i.bytes, import_s),
            "import_blocks_s": round(i.blocks as f64 / import_s.max(1e-9)),
            "import_steps_s": {"scan": round(scan_s), "check": round(check_s), "copy": round(copy_blocks_s)},
            "file_copy_mib_s": mib_s(e.file_len, copy_s),
            "export_over_file_copy": round(copy_s / export_s.max(1e-9)),
            "import_over_file_copy": round(copy_s / import_s.max(1e-9)),
            "unchecked_store_copy_s": naive_s.map(round),
            "import_over_unchecked_store_copy": naive_s.map(|n| round(n / import_s.max(1e-9))),
        }))
    })?;
    if args.json {
        return crate::vault_cmd::print_json(&report);
    }
    println!("coffer bench car: {} → {}", report["from"], report["to"]);
    for (k, v) in report.as_object().into_iter().flatten() {
        println!("  {k:24} {v}");
    }
    Ok(())
}
