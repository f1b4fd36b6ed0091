//! `coffer bench import`: importing a bucket from S3 (SeaweedFS by default) into a vault vs
//! `aws s3 sync` of the same bucket to a local directory, measured in the same run.
//!
//! It fills a fresh prefix of the bucket with `--objects` objects of `--size` bytes (aws-sdk-s3,
//! 32 at once), then times `coffer import s3://…` (this binary, in a fresh home, the vault on a
//! local directory unless `--store`; every object sealed, stored, read back verified, committed
//! every 1000) and `aws s3 sync` (the AWS CLI's defaults: 10 requests at once; skipped with a note
//! when `aws` is not on the PATH). The ratio is coffer's objects/s over the sync's.

use std::process::Command;
use std::time::Instant;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::files;
use crate::vault_cmd::{block_on, print_json};
use crate::{CliError, CliResult};

/// Arguments of `coffer bench import`.
#[derive(clap::Args, Debug)]
pub struct ImportBenchArgs {
    /// S3 endpoint of the source bucket (default: $COFFER_TEST_S3_ENDPOINT).
    #[arg(long, env = "COFFER_TEST_S3_ENDPOINT")]
    endpoint: String,
    /// The source bucket (default: $COFFER_TEST_S3_BUCKET); a fresh prefix of it is filled.
    #[arg(long, env = "COFFER_TEST_S3_BUCKET")]
    bucket: String,
    /// Objects to import.
    #[arg(long, default_value_t = 10_000)]
    objects: usize,
    /// Size of each object.
    #[arg(long, default_value = "4KiB", value_parser = files::parse_size)]
    size: u64,
    /// `--jobs` of the import.
    #[arg(long, default_value_t = 16)]
    jobs: u32,
    /// The vault's store (default: a local directory in a temporary directory).
    #[arg(long, value_name = "URL")]
    store: Option<String>,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

fn other(what: &str) -> impl Fn(String) -> CliError + '_ {
    move |e| CliError::other(format!("{what}: {e}"))
}

/// A client for the bench's bucket (credentials from the AWS environment).
async fn client(endpoint: &str) -> Client {
    let sdk = aws_config::defaults(aws_sdk_s3::config::BehaviorVersion::latest())
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .load()
        .await;
    let mut b = aws_sdk_s3::config::Builder::from(&sdk)
        .endpoint_url(endpoint)
        .force_path_style(true);
    if sdk.region().is_none() {
        b = b.region(aws_sdk_s3::config::Region::new("us-east-1"));
    }
    Client::from_conf(b.build())
}

/// Runs `coffer bench import`.
pub fn run(args: ImportBenchArgs) -> CliResult {
    let tmp = tempfile::tempdir().map_err(|e| CliError::other(e.to_string()))?;
    let prefix = format!(
        "import-bench-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let body: Vec<u8> = (0..args.size).map(|i| (i % 251) as u8).collect();
    let s3 = block_on(async { Ok(client(&args.endpoint).await) })?;
    let t = Instant::now();
    block_on(async {
        let results = futures_util::stream::iter((0..args.objects).map(|i| {
            let (s3, bucket, key) = (s3.clone(), args.bucket.clone(), format!("{prefix}/{i:06}"));
            let mut bytes = body.clone();
            bytes.extend_from_slice(format!("{i}").as_bytes());
            async move {
                s3.put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(ByteStream::from(bytes))
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        CliError::other(format!(
                            "filling the bucket: {}",
                            aws_sdk_s3::error::DisplayErrorContext(&e)
                        ))
                    })
            }
        }))
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
        results.into_iter().collect::<CliResult<Vec<()>>>()?;
        Ok(())
    })?;
    let fill_s = t.elapsed().as_secs_f64();
    let total_bytes = args.objects as u64 * args.size
        + (0..args.objects)
            .map(|i| i.to_string().len() as u64)
            .sum::<u64>();

    // coffer import, as a user runs it.
    let exe = std::env::current_exe().map_err(|e| CliError::other(e.to_string()))?;
    let home = tmp.path().join("home");
    let coffer = |a: &[&str]| -> CliResult<std::process::Output> {
        Command::new(&exe)
            .args(a)
            .env("COFFER_HOME", &home)
            .env_remove("COFFER_IDENTITY")
            .env_remove("COFFER_STORE")
            .output()
            .map_err(|e| CliError::other(format!("running {}: {e}", exe.display())))
    };
    let mut init = vec!["init", "--json"];
    if let Some(s) = &args.store {
        init.extend(["--store", s]);
    }
    let out = coffer(&init)?;
    if !out.status.success() {
        return Err(CliError::other(format!(
            "coffer init: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let source = format!("s3://{}/{prefix}", args.bucket);
    let jobs = args.jobs.to_string();
    let t = Instant::now();
    let out = coffer(&[
        "import",
        &source,
        "--endpoint",
        &args.endpoint,
        "--path-style",
        "--jobs",
        &jobs,
        "--json",
        "-q",
    ])?;
    let import_s = t.elapsed().as_secs_f64();
    let report: Value = serde_json::from_slice(&out.stdout).map_err(|_| {
        CliError::other(format!(
            "coffer import: {}",
            String::from_utf8_lossy(&out.stderr)
        ))
    })?;
    if !out.status.success() || report["imported"] != json!(args.objects) {
        return Err(CliError::other(format!("coffer import: {report}")));
    }

    // The peer: aws s3 sync of the same objects to a local directory.
    let synced = tmp.path().join("synced");
    let aws = Command::new("aws").arg("--version").output();
    let (sync_s, note) = match aws {
        Ok(o) if o.status.success() => {
            let t = Instant::now();
            let out = Command::new("aws")
                .args([
                    "--endpoint-url",
                    &args.endpoint,
                    "s3",
                    "sync",
                    "--only-show-errors",
                    &format!("s3://{}/{prefix}/", args.bucket),
                    &synced.display().to_string(),
                ])
                .output()
                .map_err(|e| CliError::other(format!("aws s3 sync: {e}")))?;
            let s = t.elapsed().as_secs_f64();
            if !out.status.success() {
                return Err(other("aws s3 sync")(
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                ));
            }
            let n = std::fs::read_dir(&synced).map(|d| d.count()).unwrap_or(0);
            if n != args.objects {
                return Err(CliError::other(format!(
                    "aws s3 sync wrote {n} files, not {}",
                    args.objects
                )));
            }
            (Some(s), None)
        }
        _ => (
            None,
            Some("aws (the AWS CLI) is not installed: no peer figure (pip install awscli)"),
        ),
    };

    // Clean up the source objects (1000 per request).
    block_on(async {
        let keys: Vec<String> = (0..args.objects)
            .map(|i| format!("{prefix}/{i:06}"))
            .collect();
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .filter_map(|k| {
                    aws_sdk_s3::types::ObjectIdentifier::builder()
                        .key(k)
                        .build()
                        .ok()
                })
                .collect::<Vec<_>>();
            let delete = aws_sdk_s3::types::Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| CliError::other(e.to_string()))?;
            // Best effort: a failure leaves objects under a prefix of their own.
            let _ = s3
                .delete_objects()
                .bucket(&args.bucket)
                .delete(delete)
                .send()
                .await;
        }
        Ok(())
    })?;

    let rate = |s: f64| (args.objects as f64 / s.max(1e-9) * 10.0).round() / 10.0;
    let mib =
        |s: f64| ((total_bytes as f64 / (1 << 20) as f64 / s.max(1e-9)) * 100.0).round() / 100.0;
    let figures = json!({
        "endpoint": args.endpoint,
        "objects": args.objects,
        "object_size": args.size,
        "bytes": total_bytes,
        "fill_s": (fill_s * 100.0).round() / 100.0,
        "import_s": (import_s * 100.0).round() / 100.0,
        "import_objects_s": rate(import_s),
        "import_mib_s": mib(import_s),
        "import_jobs": args.jobs,
        "vault_store": args.store.clone().unwrap_or_else(|| "a local directory".into()),
        "aws_sync_s": sync_s.map(|s| (s * 100.0).round() / 100.0),
        "aws_sync_objects_s": sync_s.map(rate),
        "aws_sync_mib_s": sync_s.map(mib),
        "import_over_aws_sync": sync_s.map(|s| ((s / import_s.max(1e-9)) * 1000.0).round() / 1000.0),
        "note": note,
    });
    if args.json {
        return print_json(&figures);
    }
    println!(
        "coffer bench import: {} objects from {}",
        args.objects, args.endpoint
    );
    for (k, v) in figures.as_object().into_iter().flatten() {
        println!("  {k:22} {v}");
    }
    Ok(())
}
