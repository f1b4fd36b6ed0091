//! `coffer bench tree`: many files at once. `coffer put -r` of a directory tree into a vault on
//! S3 (SeaweedFS by default), a rerun with nothing changed, and `coffer get -r` back, vs `rclone
//! copy` to and from a `crypt` remote over the same bucket (rclone's encryption: the nearest peer
//! that also hides content and names), measured in the same run.
//!
//! Both run as a user runs them, as processes: this binary in a fresh home (its vault under a
//! fresh prefix of the bucket), and `rclone` configured only through `RCLONE_CONFIG_*`
//! variables (nothing written to the user's rclone config). Both move `--jobs` files at once
//! (rclone's `--transfers` and `--checkers`). The ratio is rclone's time over coffer's: above 1,
//! coffer is faster. Issue 17's target is ≥ 1.5 for the first copy of 10,000 files.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Instant;

use serde_json::{Value, json};

use crate::files;
use crate::vault_cmd::print_json;
use crate::{CliError, CliResult};

/// Arguments of `coffer bench tree`.
#[derive(clap::Args, Debug)]
pub struct TreeBenchArgs {
    /// S3 endpoint (default: $COFFER_TEST_S3_ENDPOINT, the .ci SeaweedFS).
    #[arg(long, env = "COFFER_TEST_S3_ENDPOINT")]
    endpoint: String,
    /// Bucket (default: $COFFER_TEST_S3_BUCKET); each tool writes under a fresh prefix of it,
    /// deleted at the end.
    #[arg(long, env = "COFFER_TEST_S3_BUCKET")]
    bucket: String,
    /// Files in the tree (spread over directories of 100).
    #[arg(long, default_value_t = 10_000)]
    files: usize,
    /// Size of each file.
    #[arg(long, default_value = "4KiB", value_parser = files::parse_size)]
    size: u64,
    /// Files moved at once, by both tools.
    #[arg(long, default_value_t = 16)]
    jobs: u32,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

fn fail(what: &str, out: &Output) -> CliError {
    CliError::other(format!(
        "{what} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

fn timed(what: &str, cmd: &mut Command) -> CliResult<f64> {
    let t = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| CliError::other(format!("running {what}: {e}")))?;
    let s = t.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(fail(what, &out));
    }
    Ok(s)
}

/// Writes `n` files of `size` bytes (each different) under `dir`, 100 per directory.
fn make_tree(dir: &Path, n: usize, size: u64) -> CliResult<u64> {
    let mut body = vec![0u8; size as usize];
    blake3::Hasher::new_keyed(&[9; 32])
        .finalize_xof()
        .fill(&mut body);
    let mut total = 0;
    for i in 0..n {
        let sub = dir.join(format!("d{:03}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&sub).map_err(|e| CliError::other(e.to_string()))?;
        }
        let stamp = (i as u64).to_le_bytes();
        let k = stamp.len().min(body.len());
        body[..k].copy_from_slice(&stamp[..k]);
        std::fs::write(sub.join(format!("f{i:06}.bin")), &body)
            .map_err(|e| CliError::other(e.to_string()))?;
        total += size;
    }
    Ok(total)
}

/// Counts the regular files under `dir` and their bytes.
fn count_tree(dir: &Path) -> (usize, u64) {
    let (mut n, mut bytes) = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) if m.is_file() => {
                    n += 1;
                    bytes += m.len();
                }
                _ => {}
            }
        }
    }
    (n, bytes)
}

/// Runs `coffer bench tree`.
pub fn run(args: TreeBenchArgs) -> CliResult {
    let rclone_version = Command::new("rclone").arg("version").output();
    let Some(rclone_version) = rclone_version
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(str::to_owned)
        })
    else {
        return Err(CliError::other(
            "rclone is not installed (apt-get install rclone): it is this bench's peer",
        ));
    };
    let tmp = tempfile::tempdir().map_err(|e| CliError::other(e.to_string()))?;
    let src = tmp.path().join("src");
    let bytes = make_tree(&src, args.files, args.size)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let coffer_prefix = format!("tree-bench-{stamp}-coffer");
    let rclone_prefix = format!("tree-bench-{stamp}-rclone");
    let jobs = args.jobs.to_string();

    // coffer, in a fresh home, its vault under its own prefix of the bucket.
    let exe = std::env::current_exe().map_err(|e| CliError::other(e.to_string()))?;
    let home = tmp.path().join("home");
    let coffer = |a: &[&str]| -> Command {
        let mut c = Command::new(&exe);
        c.args(a)
            .env("COFFER_HOME", &home)
            .env_remove("COFFER_IDENTITY")
            .env_remove("COFFER_STORE");
        c
    };
    let store = format!(
        "s3://{}/{coffer_prefix}?endpoint={}&path_style=true",
        args.bucket, args.endpoint
    );
    let out = coffer(&["init", "--store", &store, "--json"])
        .output()
        .map_err(|e| CliError::other(format!("running coffer init: {e}")))?;
    if !out.status.success() {
        return Err(fail("coffer init", &out));
    }
    let src_s = src.display().to_string();
    let put = ["put", "-r", &src_s, "tree", "--jobs", &jobs];
    let coffer_put = timed("coffer put -r", &mut coffer(&put))?;
    let coffer_again = timed("coffer put -r (again)", &mut coffer(&put))?;
    let back = tmp.path().join("coffer-back");
    let back_s = back.display().to_string();
    let coffer_get = timed(
        "coffer get -r",
        &mut coffer(&["get", "-r", "tree", &back_s, "--jobs", &jobs]),
    )?;
    let got = count_tree(&back);
    if got != (args.files, bytes) {
        return Err(CliError::other(format!(
            "coffer get -r wrote {} files of {} bytes, not {} of {bytes}",
            got.0, got.1, args.files
        )));
    }

    // rclone: a crypt remote over an s3 remote, configured by environment only.
    let conf = tmp.path().join("rclone.conf");
    std::fs::write(&conf, "").map_err(|e| CliError::other(e.to_string()))?;
    let obscured = Command::new("rclone")
        .args(["obscure", "coffer-bench-password"])
        .output()
        .map_err(|e| CliError::other(format!("rclone obscure: {e}")))?;
    let obscured = String::from_utf8_lossy(&obscured.stdout).trim().to_owned();
    let access = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default();
    let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default();
    let rclone = |a: &[&str]| -> Command {
        let mut c = Command::new("rclone");
        c.args(a)
            // rclone 1.60 refuses AWS_CA_BUNDLE on a plain-HTTP endpoint ("unsupported
            // transport"); the bench's endpoint is loopback HTTP.
            .env_remove("AWS_CA_BUNDLE")
            .env("RCLONE_CONFIG", &conf)
            .env("RCLONE_CONFIG_BENCHS3_TYPE", "s3")
            .env("RCLONE_CONFIG_BENCHS3_PROVIDER", "Other")
            .env("RCLONE_CONFIG_BENCHS3_ENDPOINT", &args.endpoint)
            .env("RCLONE_CONFIG_BENCHS3_ACCESS_KEY_ID", &access)
            .env("RCLONE_CONFIG_BENCHS3_SECRET_ACCESS_KEY", &secret)
            .env("RCLONE_CONFIG_BENCHS3_FORCE_PATH_STYLE", "true")
            .env("RCLONE_CONFIG_BENCHCR_TYPE", "crypt")
            .env(
                "RCLONE_CONFIG_BENCHCR_REMOTE",
                format!("benchs3:{}/{rclone_prefix}", args.bucket),
            )
            .env("RCLONE_CONFIG_BENCHCR_PASSWORD", &obscured);
        c
    };
    let copy = [
        "copy",
        &src_s,
        "benchcr:tree",
        "--transfers",
        &jobs,
        "--checkers",
        &jobs,
    ];
    let rclone_put = timed("rclone copy", &mut rclone(&copy))?;
    let rclone_again = timed("rclone copy (again)", &mut rclone(&copy))?;
    let rback = tmp.path().join("rclone-back");
    let rback_s = rback.display().to_string();
    let rclone_get = timed(
        "rclone copy back",
        &mut rclone(&[
            "copy",
            "benchcr:tree",
            &rback_s,
            "--transfers",
            &jobs,
            "--checkers",
            &jobs,
        ]),
    )?;
    let got = count_tree(&rback);
    if got != (args.files, bytes) {
        return Err(CliError::other(format!(
            "rclone copy back wrote {} files of {} bytes, not {} of {bytes}",
            got.0, got.1, args.files
        )));
    }
    // What each stored, then clean up both prefixes (best effort).
    let size_of = |prefix: &str| -> Option<Value> {
        let out = rclone(&[
            "size",
            "--json",
            &format!("benchs3:{}/{prefix}", args.bucket),
        ])
        .output()
        .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    };
    let (coffer_stored, rclone_stored) = (size_of(&coffer_prefix), size_of(&rclone_prefix));
    for p in [&coffer_prefix, &rclone_prefix] {
        let _ = rclone(&["purge", &format!("benchs3:{}/{p}", args.bucket)]).output();
    }

    let r2 = |x: f64| (x * 100.0).round() / 100.0;
    let per_s = |s: f64| (args.files as f64 / s.max(1e-9)).round();
    let ratio = |peer: f64, ours: f64| (peer / ours.max(1e-9) * 1000.0).round() / 1000.0;
    let figures = json!({
        "endpoint": args.endpoint,
        "files": args.files,
        "file_size": args.size,
        "bytes": bytes,
        "jobs": args.jobs,
        "rclone": rclone_version,
        "coffer_put_s": r2(coffer_put),
        "coffer_put_files_s": per_s(coffer_put),
        "rclone_copy_s": r2(rclone_put),
        "rclone_copy_files_s": per_s(rclone_put),
        "put_rclone_over_coffer": ratio(rclone_put, coffer_put),
        "coffer_unchanged_s": r2(coffer_again),
        "rclone_unchanged_s": r2(rclone_again),
        "unchanged_rclone_over_coffer": ratio(rclone_again, coffer_again),
        "coffer_get_s": r2(coffer_get),
        "coffer_get_files_s": per_s(coffer_get),
        "rclone_copy_back_s": r2(rclone_get),
        "rclone_copy_back_files_s": per_s(rclone_get),
        "get_rclone_over_coffer": ratio(rclone_get, coffer_get),
        "coffer_stored": coffer_stored,
        "rclone_stored": rclone_stored,
    });
    if args.json {
        return print_json(&figures);
    }
    println!(
        "coffer bench tree: {} files of {} bytes, {} at once, to {}",
        args.files, args.size, args.jobs, args.endpoint
    );
    for (k, v) in figures.as_object().into_iter().flatten() {
        println!("  {k:30} {v}");
    }
    Ok(())
}
