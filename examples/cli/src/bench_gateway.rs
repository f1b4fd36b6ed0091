//! `coffer bench gateway`: the S3 gateway against its baselines, in one run on one store.
//!
//! - A big object (default 1 GiB): boto3 `upload_file`/`download_file` through the gateway, vs
//!   `coffer put`/`coffer get` of the same file (the SDK without S3 in between), vs the same boto3
//!   calls straight to the S3 store behind the gateway (the cost of zero trust).
//! - 1,000 small objects PUT then GET by 16 concurrent clients (aws-sdk-s3): ops/s and latency
//!   percentiles, with commit grouping and without (`--max-commit-batch 1`), and how many head
//!   writes each needed.
//! - Peak RSS of the gateway process while 8 clients each PUT a big object at once.
//!
//! Every gateway runs as its own `coffer serve s3` process (this binary), so its memory is its
//! own. boto3 comes from `--python` (the venv `.ci/test-gateway.sh` installs has it).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use coffer::gateway::Credentials;
use serde_json::{Value, json};

use crate::{CliError, CliResult, files};

/// Arguments of `coffer bench gateway`.
#[derive(clap::Args, Debug)]
pub struct GatewayBenchArgs {
    /// Store behind the gateway (default: the .ci SeaweedFS, from $COFFER_TEST_S3_ENDPOINT and
    /// $COFFER_TEST_S3_BUCKET, under a fresh prefix).
    #[arg(long)]
    store: Option<String>,
    /// Size of the big object (and of each concurrent upload).
    #[arg(long, default_value = "1GiB", value_parser = files::parse_size)]
    size: u64,
    /// Number of small objects.
    #[arg(long, default_value_t = 1000)]
    small: usize,
    /// Size of each small object.
    #[arg(long, default_value = "4KiB", value_parser = files::parse_size)]
    small_size: u64,
    /// Concurrent clients for the small objects.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Concurrent big uploads for the memory figure.
    #[arg(long, default_value_t = 8)]
    concurrent: usize,
    /// A Python with boto3.
    #[arg(long, env = "COFFER_GATEWAY_PYTHON", default_value = "python3")]
    python: String,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

const BOTO3: &str = r#"
import boto3, botocore.config, hashlib, json, os, sys, time
endpoint, key, secret, bucket, name, path = sys.argv[1:7]
kw = {}
if key != "-":
    kw = {"aws_access_key_id": key, "aws_secret_access_key": secret}
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  config=botocore.config.Config(s3={"addressing_style": "path"}), **kw)
def digest(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while True:
            b = f.read(1 << 22)
            if not b:
                return h.hexdigest()
            h.update(b)
t = time.time(); s3.upload_file(path, bucket, name); put = time.time() - t
out = path + ".back"
t = time.time(); s3.download_file(bucket, name, out); get = time.time() - t
same = digest(out) == digest(path)
os.remove(out)
print(json.dumps({"put_s": put, "get_s": get, "same": same}))
"#;

fn other(what: &str) -> impl Fn(std::io::Error) -> CliError + '_ {
    move |e| CliError::other(format!("{what}: {e}"))
}

/// A `coffer serve s3` process.
struct GatewayProcess {
    child: Child,
    endpoint: String,
    creds: Credentials,
}

impl GatewayProcess {
    fn start(exe: &Path, home: &Path, extra: &[&str]) -> CliResult<Self> {
        let mut child = Command::new(exe)
            .args([
                "serve",
                "s3",
                "--listen",
                "127.0.0.1:0",
                "--sync-interval",
                "0",
            ])
            .args(extra)
            .env("COFFER_HOME", home)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(other("starting coffer serve s3"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| CliError::other("no stdout"))?;
        let mut lines = BufReader::new(stdout).lines();
        let endpoint = loop {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(rest) = l.strip_prefix("coffer S3 gateway on ") {
                        break rest.trim().to_string();
                    }
                }
                _ => {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    return Err(CliError::other(format!("the gateway did not start: {err}")));
                }
            }
        };
        // Drain stdout so the gateway never blocks on it.
        std::thread::spawn(move || lines.for_each(drop));
        let creds = Credentials::load(&home.join("gateway/credentials"))
            .map_err(|e| CliError::other(e.to_string()))?;
        Ok(Self {
            child,
            endpoint,
            creds,
        })
    }

    /// Peak resident memory so far (Linux `VmHWM`), in MiB.
    fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib / 1024.0)
    }

    /// Stops it (SIGTERM) and returns its final report line (uploads and commits).
    fn stop(mut self) -> String {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let _ = self.child.wait();
        err.lines()
            .find(|l| l.contains("commits"))
            .unwrap_or("")
            .to_string()
    }

    fn client(&self) -> Client {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .http_client(http)
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                self.creds.access_key_id(),
                self.creds.secret_access_key(),
                None,
                None,
                "bench",
            ))
            .build();
        Client::from_conf(conf)
    }
}

fn default_store(tag: &str) -> CliResult<String> {
    let endpoint = std::env::var("COFFER_TEST_S3_ENDPOINT").ok();
    let bucket = std::env::var("COFFER_TEST_S3_BUCKET").ok();
    match (endpoint, bucket) {
        (Some(e), Some(b)) => Ok(format!(
            "s3://{b}/{tag}?endpoint={e}&path_style=true&region=us-east-1"
        )),
        _ => Err(CliError::usage(
            "no store: pass --store URL, or start SeaweedFS (.ci/seaweedfs.sh start) and \
             `set -a; . .ci/state/seaweedfs.env; set +a`",
        )),
    }
}

/// `(endpoint, bucket, prefix)` of an `s3://` store URL, for boto3 straight to the store.
fn s3_target(url: &str) -> Option<(String, String, String)> {
    let rest = url.strip_prefix("s3://")?;
    let (loc, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (bucket, prefix) = loc.split_once('/').unwrap_or((loc, ""));
    let endpoint = query
        .split('&')
        .find_map(|p| p.strip_prefix("endpoint="))?
        .to_string();
    Some((endpoint, bucket.to_string(), prefix.to_string()))
}

fn boto3(python: &str, args: &[&str]) -> CliResult<Value> {
    let out = Command::new(python)
        .arg("-c")
        .arg(BOTO3)
        .args(args)
        .output()
        .map_err(other("running python"))?;
    if !out.status.success() {
        return Err(CliError::other(format!(
            "boto3 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let v: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| CliError::other(format!("boto3 output: {e}")))?;
    if v["same"] != json!(true) {
        return Err(CliError::other("boto3 read back different bytes"));
    }
    Ok(v)
}

fn timed(exe: &Path, home: &Path, args: &[&str]) -> CliResult<f64> {
    let t = Instant::now();
    let st = Command::new(exe)
        .args(args)
        .env("COFFER_HOME", home)
        .stdout(Stdio::null())
        .status()
        .map_err(other("running coffer"))?;
    if !st.success() {
        return Err(CliError::other(format!("coffer {args:?} failed")));
    }
    Ok(t.elapsed().as_secs_f64())
}

fn mib_s(bytes: u64, secs: f64) -> f64 {
    round(bytes as f64 / (1 << 20) as f64 / secs.max(1e-9))
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `n` small PUTs then GETs by `clients` concurrent clients.
async fn small_objects(c: &Client, n: usize, size: usize, clients: usize) -> CliResult<Value> {
    c.create_bucket()
        .bucket("small")
        .send()
        .await
        .map_err(|e| CliError::other(format!("create bucket: {e}")))?;
    let body = vec![7u8; size];
    let mut out = serde_json::Map::new();
    for op in ["put", "get"] {
        let start = Instant::now();
        let tasks = (0..clients).map(|w| {
            let c = c.clone();
            let body = body.clone();
            async move {
                let mut lat = Vec::new();
                for i in (w..n).step_by(clients) {
                    let t = Instant::now();
                    let key = format!("o/{i:06}");
                    let ok = if op == "put" {
                        c.put_object()
                            .bucket("small")
                            .key(&key)
                            .body(ByteStream::from(body.clone()))
                            .send()
                            .await
                            .is_ok()
                    } else {
                        match c.get_object().bucket("small").key(&key).send().await {
                            Ok(o) => o
                                .body
                                .collect()
                                .await
                                .is_ok_and(|b| b.into_bytes().len() == body.len()),
                            Err(_) => false,
                        }
                    };
                    if !ok {
                        return Err(CliError::other(format!("small {op} of {key} failed")));
                    }
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                Ok(lat)
            }
        });
        let mut all = Vec::new();
        for r in futures_util::future::join_all(tasks).await {
            all.extend(r?);
        }
        let secs = start.elapsed().as_secs_f64();
        all.sort_by(f64::total_cmp);
        out.insert(format!("{op}_ops_s"), json!(round(n as f64 / secs)));
        out.insert(format!("{op}_p50_ms"), json!(round(percentile(&all, 0.5))));
        out.insert(format!("{op}_p99_ms"), json!(round(percentile(&all, 0.99))));
    }
    Ok(Value::Object(out))
}

/// `concurrent` single PUTs of `path` at once.
async fn concurrent_uploads(c: &Client, path: &Path, concurrent: usize) -> CliResult<f64> {
    c.create_bucket()
        .bucket("big")
        .send()
        .await
        .map_err(|e| CliError::other(format!("create bucket: {e}")))?;
    let start = Instant::now();
    let tasks = (0..concurrent).map(|i| {
        let c = c.clone();
        async move {
            let body = ByteStream::from_path(path)
                .await
                .map_err(|e| CliError::other(e.to_string()))?;
            c.put_object()
                .bucket("big")
                .key(format!("big-{i}"))
                .body(body)
                .send()
                .await
                .map_err(|e| CliError::other(format!("concurrent upload {i}: {e:?}")))
        }
    });
    for r in futures_util::future::join_all(tasks).await {
        r?;
    }
    Ok(start.elapsed().as_secs_f64())
}

fn write_random(path: &Path, size: u64) -> CliResult {
    let mut f =
        std::io::BufWriter::new(std::fs::File::create(path).map_err(|e| CliError::io(path, e))?);
    let mut xof = blake3::Hasher::new()
        .update(b"coffer bench gateway")
        .finalize_xof();
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        xof.fill(&mut buf[..n]);
        f.write_all(&buf[..n]).map_err(|e| CliError::io(path, e))?;
        left -= n as u64;
    }
    f.flush().map_err(|e| CliError::io(path, e))
}

fn init_home(exe: &Path, home: &Path, store: &str) -> CliResult {
    let st = Command::new(exe)
        .args(["init", "--store", store, "--vault", "bench"])
        .env("COFFER_HOME", home)
        .stdout(Stdio::null())
        .status()
        .map_err(other("coffer init"))?;
    if st.success() {
        Ok(())
    } else {
        Err(CliError::other("coffer init failed"))
    }
}

/// `coffer bench gateway`.
pub fn run(args: GatewayBenchArgs) -> CliResult {
    let exe = std::env::current_exe().map_err(other("finding this binary"))?;
    let tmp = tempfile::tempdir().map_err(other("temporary directory"))?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let store = match &args.store {
        Some(s) => s.clone(),
        None => default_store(&format!("bench-gateway-{stamp}"))?,
    };
    let big = tmp.path().join("big.bin");
    write_random(&big, args.size)?;
    let big_s = big.to_string_lossy().to_string();
    let size = args.size;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(other("async runtime"))?;

    // 1. The big object through the gateway (boto3).
    let home_a = tmp.path().join("a");
    init_home(&exe, &home_a, &store)?;
    let gw = GatewayProcess::start(&exe, &home_a, &[])?;
    rt.block_on(async {
        gw.client()
            .create_bucket()
            .bucket("bigone")
            .send()
            .await
            .map_err(|e| CliError::other(format!("create bucket: {e}")))
    })?;
    let through = boto3(
        &args.python,
        &[
            &gw.endpoint,
            gw.creds.access_key_id(),
            gw.creds.secret_access_key(),
            "bigone",
            "big.bin",
            &big_s,
        ],
    )?;
    let gw_rss_big = gw.peak_rss_mib();
    gw.stop();

    // 2. The same file with `coffer put` / `coffer get` (no S3 in between).
    let put_s = timed(&exe, &home_a, &["put", &big_s, "cli/big.bin"])?;
    let back = tmp.path().join("back.bin");
    let get_s = timed(
        &exe,
        &home_a,
        &["get", "cli/big.bin", &back.to_string_lossy()],
    )?;
    if files_differ(&big, &back)? {
        return Err(CliError::other("coffer get read back different bytes"));
    }
    let _ = std::fs::remove_file(&back);

    // 3. boto3 straight to the store (when it is S3).
    let direct = match s3_target(&store) {
        Some((endpoint, bucket, prefix)) => Some(boto3(
            &args.python,
            &[
                &endpoint,
                "-",
                "-",
                &bucket,
                &format!("{prefix}-direct/big.bin"),
                &big_s,
            ],
        )?),
        None => None,
    };

    // 4. Small objects, grouped and not.
    let mut small = serde_json::Map::new();
    for (label, extra) in [
        ("grouped", &[][..]),
        ("ungrouped", &["--max-commit-batch", "1"][..]),
    ] {
        let home = tmp.path().join(format!("small-{label}"));
        let st = if store.starts_with("s3://") {
            store.replacen('?', &format!("-{label}?"), 1)
        } else {
            store.clone()
        };
        init_home(&exe, &home, &st)?;
        let gw = GatewayProcess::start(&exe, &home, extra)?;
        let mut v = rt.block_on(small_objects(
            &gw.client(),
            args.small,
            args.small_size as usize,
            args.clients,
        ))?;
        let report = gw.stop();
        if let Some(o) = v.as_object_mut() {
            o.insert("gateway_report".into(), json!(report));
        }
        small.insert(label.into(), v);
    }
    let grouping_ratio = match (
        small["grouped"]["put_ops_s"].as_f64(),
        small["ungrouped"]["put_ops_s"].as_f64(),
    ) {
        (Some(a), Some(b)) if b > 0.0 => round(a / b),
        _ => 0.0,
    };

    // 5. Peak RSS of the gateway with concurrent big uploads.
    let home_c = tmp.path().join("c");
    let st = if store.starts_with("s3://") {
        store.replacen('?', "-concurrent?", 1)
    } else {
        store.clone()
    };
    init_home(&exe, &home_c, &st)?;
    let gw = GatewayProcess::start(&exe, &home_c, &[])?;
    let wall = rt.block_on(concurrent_uploads(&gw.client(), &big, args.concurrent))?;
    let peak = gw.peak_rss_mib();
    gw.stop();

    let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
    let gw_put = f(&through, "put_s");
    let gw_get = f(&through, "get_s");
    let report = json!({
        "store": store.split('?').next().unwrap_or(""),
        "size_bytes": size,
        "big": {
            "gateway_boto3": {"put_s": round(gw_put), "get_s": round(gw_get),
                              "put_mib_s": mib_s(size, gw_put), "get_mib_s": mib_s(size, gw_get),
                              "gateway_peak_rss_mib": gw_rss_big.map(round)},
            "coffer_cli": {"put_s": round(put_s), "get_s": round(get_s),
                           "put_mib_s": mib_s(size, put_s), "get_mib_s": mib_s(size, get_s)},
            "direct_s3_boto3": direct.as_ref().map(|d| json!({
                "put_s": round(f(d, "put_s")), "get_s": round(f(d, "get_s")),
                "put_mib_s": mib_s(size, f(d, "put_s")), "get_mib_s": mib_s(size, f(d, "get_s"))})),
            "ratio_gateway_vs_cli": {"put": round(put_s / gw_put.max(1e-9)), "get": round(get_s / gw_get.max(1e-9))},
            "ratio_gateway_vs_direct_s3": direct.as_ref().map(|d| json!({
                "put": round(f(d, "put_s") / gw_put.max(1e-9)), "get": round(f(d, "get_s") / gw_get.max(1e-9))})),
        },
        "small": {
            "objects": args.small, "size_bytes": args.small_size, "clients": args.clients,
            "grouped": small["grouped"], "ungrouped": small["ungrouped"],
            "ratio_put_grouped_vs_ungrouped": grouping_ratio,
        },
        "concurrent_uploads": {
            "uploads": args.concurrent, "size_bytes": size, "wall_s": round(wall),
            "mib_s": mib_s(size * args.concurrent as u64, wall),
            "gateway_peak_rss_mib": peak.map(round),
        },
    });
    if args.json {
        println!("{report}");
    } else {
        print_text(&report);
    }
    Ok(())
}

fn files_differ(a: &Path, b: &Path) -> CliResult<bool> {
    let hash = |p: &Path| -> CliResult<blake3::Hash> {
        let mut h = blake3::Hasher::new();
        let mut f = std::fs::File::open(p).map_err(|e| CliError::io(p, e))?;
        std::io::copy(&mut f, &mut h).map_err(|e| CliError::io(p, e))?;
        Ok(h.finalize())
    };
    Ok(hash(a)? != hash(b)?)
}

fn print_text(r: &Value) {
    let mib = r["size_bytes"].as_u64().unwrap_or(0) >> 20;
    println!(
        "coffer bench gateway  (store {})",
        r["store"].as_str().unwrap_or("")
    );
    let b = &r["big"];
    println!("  {mib} MiB object            PUT MiB/s   GET MiB/s");
    for (label, k) in [
        ("boto3 through the gateway", "gateway_boto3"),
        ("coffer put / get", "coffer_cli"),
        ("boto3 straight to the store", "direct_s3_boto3"),
    ] {
        if b[k].is_object() {
            println!(
                "    {label:<28} {:>8} {:>10}",
                b[k]["put_mib_s"], b[k]["get_mib_s"]
            );
        }
    }
    println!(
        "    gateway / coffer CLI (throughput)     put {}  get {}",
        b["ratio_gateway_vs_cli"]["put"], b["ratio_gateway_vs_cli"]["get"]
    );
    if b["ratio_gateway_vs_direct_s3"].is_object() {
        println!(
            "    gateway / plain S3 (throughput)       put {}  get {}",
            b["ratio_gateway_vs_direct_s3"]["put"], b["ratio_gateway_vs_direct_s3"]["get"]
        );
    }
    let s = &r["small"];
    println!(
        "  {} small objects, {} clients       ops/s (p50 / p99 ms)",
        s["objects"], s["clients"]
    );
    for k in ["grouped", "ungrouped"] {
        println!(
            "    {k:<10} PUT {} ({} / {})  GET {} ({} / {})  {}",
            s[k]["put_ops_s"],
            s[k]["put_p50_ms"],
            s[k]["put_p99_ms"],
            s[k]["get_ops_s"],
            s[k]["get_p50_ms"],
            s[k]["get_p99_ms"],
            s[k]["gateway_report"].as_str().unwrap_or("")
        );
    }
    println!(
        "    grouping speeds PUTs up {}x",
        s["ratio_put_grouped_vs_ungrouped"]
    );
    let c = &r["concurrent_uploads"];
    println!(
        "  {} concurrent {mib} MiB PUTs: {} s ({} MiB/s), gateway peak RSS {} MiB",
        c["uploads"], c["wall_s"], c["mib_s"], c["gateway_peak_rss_mib"]
    );
    let _ = std::io::stdout().flush();
}
