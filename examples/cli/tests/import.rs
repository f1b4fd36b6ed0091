//! `coffer import SOURCE` against a real S3 server (SeaweedFS, from `.ci/seaweedfs.sh`) and local
//! directories: keys, content types, user metadata and modification times kept; a bucket import
//! killed halfway and resumed (each object there exactly once, with the right bytes, the second
//! run skipping what the first committed); `--delete-source` only for what was verified and
//! committed; an object changed mid-import refused and reported; wrong credentials, a missing
//! bucket and the vault's own store refused with clear errors.
//!
//! Source buckets are filled with the Rust `aws-sdk-s3` (the SDK the S3 store uses), under a fresh
//! prefix of the test bucket per test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on setup failures

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use common::{code, json, require_env, run, seaweedfs_url, text, unique};
use serde_json::Value;

/// Objects in the killed-and-resumed import (the 10,000-object run is `coffer bench import`:
/// in a debug build it takes longer than a test should; see the README).
const RESUME_OBJECTS: usize = 2000;

/// The test SeaweedFS: a client with the credentials `.ci/seaweedfs.sh` set, and a runtime.
struct S3 {
    rt: tokio::runtime::Runtime,
    client: Client,
    endpoint: String,
    bucket: String,
}

impl S3 {
    /// The test SeaweedFS.
    fn new() -> Self {
        Self::on("S3", ".ci/seaweedfs.sh")
    }

    /// The server whose variables are `COFFER_TEST_{server}_ENDPOINT` and `_BUCKET`.
    fn on(server: &str, script: &str) -> Self {
        let endpoint = require_env(&format!("COFFER_TEST_{server}_ENDPOINT"), script);
        let bucket = require_env(&format!("COFFER_TEST_{server}_BUCKET"), script);
        let key = require_env("AWS_ACCESS_KEY_ID", ".ci/seaweedfs.sh");
        let secret = require_env("AWS_SECRET_ACCESS_KEY", ".ci/seaweedfs.sh");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                key, secret, None, None, "test",
            ))
            .build();
        Self {
            rt,
            client: Client::from_conf(conf),
            endpoint,
            bucket,
        }
    }

    /// `s3://bucket/prefix` of the test bucket.
    fn url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    fn put(&self, key: &str, body: Vec<u8>, content_type: Option<&str>, meta: &[(&str, &str)]) {
        self.rt.block_on(async {
            let mut req = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .body(ByteStream::from(body));
            if let Some(ct) = content_type {
                req = req.content_type(ct);
            }
            for (k, v) in meta {
                req = req.metadata(*k, *v);
            }
            req.send().await.unwrap();
        });
    }

    /// Puts `objects` (key, bytes), 32 at once.
    fn fill(&self, objects: Vec<(String, Vec<u8>)>) {
        use futures_util::StreamExt;
        self.rt.block_on(async {
            futures_util::stream::iter(objects.into_iter().map(|(k, b)| {
                let client = self.client.clone();
                let bucket = self.bucket.clone();
                async move {
                    client
                        .put_object()
                        .bucket(bucket)
                        .key(k)
                        .body(ByteStream::from(b))
                        .send()
                        .await
                        .unwrap();
                }
            }))
            .buffer_unordered(32)
            .collect::<Vec<_>>()
            .await;
        });
    }

    /// Last-Modified of an object, in ns since the epoch.
    fn mtime_ns(&self, key: &str) -> u128 {
        self.rt.block_on(async {
            let h = self
                .client
                .head_object()
                .bucket(&self.bucket)
                .key(key)
                .send()
                .await
                .unwrap();
            let t = h.last_modified().unwrap();
            t.secs() as u128 * 1_000_000_000 + u128::from(t.subsec_nanos())
        })
    }

    /// Keys under `prefix`.
    fn keys(&self, prefix: &str) -> Vec<String> {
        self.rt.block_on(async {
            let mut out = Vec::new();
            let mut token = None;
            loop {
                let page = self
                    .client
                    .list_objects_v2()
                    .bucket(&self.bucket)
                    .prefix(prefix)
                    .set_continuation_token(token.take())
                    .send()
                    .await
                    .unwrap();
                out.extend(
                    page.contents()
                        .iter()
                        .filter_map(|o| o.key().map(String::from)),
                );
                match page.next_continuation_token() {
                    Some(t) => token = Some(t.to_string()),
                    None => return out,
                }
            }
        })
    }
}

/// A fresh home with a vault on a local directory.
fn vault_home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    json(run(
        home.path(),
        &["init", "--json", "--device", "importer"],
        None,
    ));
    home
}

/// Every key in the vault under `prefix`, with its size.
fn vault_keys(home: &Path, prefix: &str) -> BTreeMap<String, u64> {
    text(run(home, &["ls", prefix], None))
        .lines()
        .map(|l| {
            let mut parts = l.split_whitespace();
            let _date = parts.next();
            let _time = parts.next();
            let size = parts.next().unwrap().parse().unwrap();
            (parts.collect::<Vec<_>>().join(" "), size)
        })
        .collect()
}

fn import_json(home: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = run(home, &all, None);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("no JSON report ({:?}): {stderr}", code(&out)));
    (code(&out), v, stderr)
}

#[test]
fn a_bucket_import_keeps_keys_types_metadata_and_times() {
    let s3 = S3::new();
    let src = unique("import-meta-");
    let small = b"a picture of a cat".to_vec();
    // Over 8 MiB: spooled to a file and streamed (the bounded-memory path).
    let big: Vec<u8> = (0..9_500_000u32).map(|i| (i % 251) as u8).collect();
    s3.put(
        &format!("{src}/2024/cat.jpg"),
        small.clone(),
        Some("image/jpeg"),
        &[("camera", "x100"), ("Owner", "Alice")],
    );
    s3.put(&format!("{src}/big.bin"), big.clone(), None, &[]);
    s3.put(&format!("{src}-other/not-me.txt"), b"x".to_vec(), None, &[]);
    let home = vault_home();
    let h = home.path();
    let (rc, report, stderr) = import_json(
        h,
        &[
            &s3.url(&src),
            "--endpoint",
            &s3.endpoint,
            "--path-style",
            "--to",
            "old",
        ],
    );
    assert_eq!(rc, Some(0), "{stderr}");
    assert_eq!(report["imported"], 2, "{report}");
    assert_eq!(report["bytes"], (small.len() + big.len()) as u64);
    assert_eq!(report["verification"], "read-back");
    assert_eq!(
        vault_keys(h, ""),
        BTreeMap::from([
            ("old/2024/cat.jpg".to_string(), small.len() as u64),
            ("old/big.bin".to_string(), big.len() as u64)
        ])
    );
    let stat = json(run(h, &["stat", "old/2024/cat.jpg", "--json"], None));
    assert_eq!(stat["content_type"], "image/jpeg");
    assert_eq!(stat["metadata"]["camera"], "x100");
    assert_eq!(stat["metadata"]["owner"], "Alice");
    assert_eq!(
        stat["metadata"]["coffer-mtime"],
        s3.mtime_ns(&format!("{src}/2024/cat.jpg")).to_string()
    );
    let get = |key: &str| common::ok(run(h, &["get", key, "-"], None));
    assert_eq!(get("old/2024/cat.jpg"), small);
    assert_eq!(get("old/big.bin"), big);

    // Run again: nothing to do, everything recognised as already imported.
    let (rc, again, _) = import_json(
        h,
        &[
            &format!("{}?endpoint={}&path_style=true", s3.url(&src), s3.endpoint),
            "--to",
            "old",
        ],
    );
    assert_eq!(rc, Some(0));
    assert_eq!(again["imported"], 0);
    assert_eq!(again["already_imported"], 2);
    assert_eq!(again["commits"], 0);
}

#[test]
fn a_ceph_bucket_imports_into_a_vault_on_seaweedfs_with_its_own_credentials() {
    // The source on Ceph RGW (a second S3 implementation), the vault on SeaweedFS.
    let ceph = S3::on("CEPH", ".ci/ceph.sh");
    let src = unique("import-ceph-");
    let small = b"from another server".to_vec();
    let big: Vec<u8> = (0..9_000_000u32).map(|i| (i % 241) as u8).collect();
    ceph.put(
        &format!("{src}/docs/a.txt"),
        small.clone(),
        Some("text/plain"),
        &[("project", "apollo")],
    );
    ceph.put(&format!("{src}/big.bin"), big.clone(), None, &[]);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    json(run(
        h,
        &["init", "--json", "--store", &seaweedfs_url("import-ceph")],
        None,
    ));
    let secret_file = h.join("ceph-secret");
    std::fs::write(
        &secret_file,
        require_env("AWS_SECRET_ACCESS_KEY", ".ci/ceph.sh"),
    )
    .unwrap();
    let key_id = require_env("AWS_ACCESS_KEY_ID", ".ci/ceph.sh");
    let args = [
        ceph.url(&src),
        "--endpoint".into(),
        ceph.endpoint.clone(),
        "--path-style".into(),
        "--access-key-id".into(),
        key_id,
        "--secret-access-key-file".into(),
        secret_file.to_str().unwrap().into(),
        "--to".into(),
        "ceph".into(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (rc, report, stderr) = import_json(h, &args);
    assert_eq!(rc, Some(0), "{stderr}");
    assert_eq!(report["imported"], 2, "{report}");
    let stat = json(run(h, &["stat", "ceph/docs/a.txt", "--json"], None));
    assert_eq!(stat["content_type"], "text/plain");
    assert_eq!(stat["metadata"]["project"], "apollo");
    assert_eq!(
        stat["metadata"]["coffer-mtime"],
        ceph.mtime_ns(&format!("{src}/docs/a.txt")).to_string()
    );
    let get = |key: &str| common::ok(run(h, &["get", key, "-"], None));
    assert_eq!(get("ceph/docs/a.txt"), small);
    assert_eq!(get("ceph/big.bin"), big);
    let (rc, again, _) = import_json(h, &args);
    assert_eq!(rc, Some(0));
    assert_eq!(again["already_imported"], 2, "{again}");
}

/// Deterministic content of object `i` (sizes vary from 100 bytes to a few KiB).
fn content(i: usize) -> Vec<u8> {
    format!("object {i} ")
        .into_bytes()
        .into_iter()
        .cycle()
        .take(100 + (i * 37) % 3000)
        .collect()
}

#[test]
fn a_bucket_import_killed_halfway_resumes_and_skips_what_was_committed() {
    let s3 = S3::new();
    let src = unique("import-resume-");
    let started = Instant::now();
    s3.fill(
        (0..RESUME_OBJECTS)
            .map(|i| (format!("{src}/k{i:05}"), content(i)))
            .collect(),
    );
    eprintln!(
        "filled {RESUME_OBJECTS} objects in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let home = vault_home();
    let h = home.path();
    let url = format!("{}?endpoint={}&path_style=true", s3.url(&src), s3.endpoint);

    // First run: killed as soon as the second commit is reported.
    let mut child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["import", &url, "--commit-every", "200", "-v"])
        .env("COFFER_HOME", h)
        .env_remove("COFFER_IDENTITY")
        .env_remove("COFFER_STORE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut commits = 0;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.starts_with("committed ") {
            commits += 1;
            if commits == 2 {
                child.kill().unwrap();
                break;
            }
        }
    }
    let status = child.wait().unwrap();
    assert_eq!(commits, 2, "the import ended before its second commit");
    assert!(!status.success(), "killed, so not a success");
    let first = vault_keys(h, "");
    assert!(
        first.len() >= 400 && first.len() < RESUME_OBJECTS,
        "{} objects committed before the kill",
        first.len()
    );

    // Second run: skips exactly what the first committed, imports the rest.
    let (rc, report, stderr) = import_json(h, &[&url]);
    assert_eq!(rc, Some(0), "{stderr}");
    assert_eq!(report["already_imported"], first.len() as u64, "{report}");
    assert_eq!(
        report["imported"],
        (RESUME_OBJECTS - first.len()) as u64,
        "{report}"
    );
    assert_eq!(report["failed"], Value::Array(vec![]));
    assert_eq!(report["skipped"], Value::Array(vec![]));

    // Everything there once, with the right bytes; the first run's objects were not imported
    // again (one version each).
    let all = vault_keys(h, "");
    assert_eq!(all.len(), RESUME_OBJECTS);
    let out = tempfile::tempdir().unwrap();
    let got = json(run(
        h,
        &["get", "-r", "", out.path().to_str().unwrap(), "--json"],
        None,
    ));
    assert_eq!(got["files"], RESUME_OBJECTS as u64);
    for i in 0..RESUME_OBJECTS {
        let key = format!("k{i:05}");
        assert_eq!(
            std::fs::read(out.path().join(&key)).unwrap(),
            content(i),
            "{key}"
        );
    }
    for key in first.keys().take(3).chain(first.keys().last()) {
        let versions = json(run(h, &["versions", key, "--json"], None));
        assert_eq!(
            versions["versions"].as_array().map(Vec::len),
            Some(1),
            "{key}: {versions}"
        );
    }
}

#[test]
fn a_directory_import_keeps_times_and_deletes_only_verified_sources() {
    let home = vault_home();
    let h = home.path();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("2024/summer")).unwrap();
    let files: HashMap<&str, Vec<u8>> = HashMap::from([
        ("a.txt", b"alpha".to_vec()),
        ("2024/summer/beach.jpg", vec![7u8; 300_000]),
        ("2024/big.raw", (0..9_000_000u32).map(|i| i as u8).collect()),
    ]);
    for (rel, bytes) in &files {
        std::fs::write(d.join(rel), bytes).unwrap();
    }
    #[cfg(unix)]
    std::os::unix::fs::symlink(d.join("a.txt"), d.join("link.txt")).unwrap();
    let mtime = |rel: &str| {
        std::fs::metadata(d.join(rel))
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    };
    let beach_mtime = mtime("2024/summer/beach.jpg");

    let (rc, report, stderr) = import_json(
        h,
        &[d.to_str().unwrap(), "--to", "photos", "--delete-source"],
    );
    assert_eq!(rc, Some(0), "{stderr}");
    assert_eq!(report["imported"], 3);
    assert_eq!(report["deleted"], 3);
    for (rel, bytes) in &files {
        assert!(
            !d.join(rel).exists(),
            "{rel} was verified and committed: deleted"
        );
        let got = common::ok(run(h, &["get", &format!("photos/{rel}"), "-"], None));
        assert_eq!(&got, bytes, "{rel}");
    }
    // The symbolic link was not followed, not imported, not deleted.
    #[cfg(unix)]
    assert!(d.join("link.txt").symlink_metadata().is_ok());
    let stat = json(run(
        h,
        &["stat", "photos/2024/summer/beach.jpg", "--json"],
        None,
    ));
    assert_eq!(stat["metadata"]["coffer-mtime"], beach_mtime.to_string());

    // Unchanged files are skipped (and, skipped, never deleted); a changed one is imported again.
    std::fs::write(d.join("kept.txt"), b"kept").unwrap();
    let (rc, report, _) = import_json(h, &[d.to_str().unwrap(), "--to", "photos"]);
    assert_eq!(rc, Some(0));
    assert_eq!(report["imported"], 1);
    let (rc, report, _) = import_json(
        h,
        &[d.to_str().unwrap(), "--to", "photos", "--delete-source"],
    );
    assert_eq!(rc, Some(0));
    assert_eq!(report["already_imported"], 1);
    assert_eq!(report["deleted"], 0);
    assert!(d.join("kept.txt").exists(), "already imported: not deleted");

    // The vault's own store is not a source.
    let out = run(h, &["import", h.join("store").to_str().unwrap()], None);
    assert_eq!(code(&out), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("coffer's own ciphertext"));
}

#[test]
fn an_object_changed_mid_import_is_refused_reported_and_kept() {
    let s3 = S3::new();
    let src = unique("import-changed-");
    let n = 300;
    s3.fill(
        (0..n)
            .map(|i| (format!("{src}/k{i:03}"), content(i)))
            .collect(),
    );
    // A folder marker: the prefix itself is no object under it.
    s3.put(&format!("{src}/"), Vec::new(), None, &[]);
    let home = vault_home();
    let h = home.path();
    let last = format!("{src}/k{:03}", n - 1);
    let changed = vec![b'Z'; content(n - 1).len()];
    let url = format!("{}?endpoint={}&path_style=true", s3.url(&src), s3.endpoint);
    // One object at a time, a commit each: the listing is long done when the last is read.
    let mut child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args([
            "import",
            &url,
            "--jobs",
            "1",
            "--commit-every",
            "1",
            "--delete-source",
            "--json",
            "-v",
        ])
        .env("COFFER_HOME", h)
        .env_remove("COFFER_IDENTITY")
        .env_remove("COFFER_STORE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut stderr = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        stderr.push_str(&line);
        stderr.push('\n');
        if line.starts_with("committed ") {
            // Changed after the listing, before the importer reaches it: same size, other
            // bytes (so only the ETag tells).
            s3.put(&last, changed.clone(), None, &[]);
            break;
        }
    }
    for line in lines {
        stderr.push_str(&line.unwrap());
        stderr.push('\n');
    }
    let out: Output = child.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(
        out.status.code(),
        Some(1),
        "something was skipped: {stderr}"
    );
    assert_eq!(report["imported"], (n - 1) as u64, "{report}");
    let skipped: BTreeMap<String, String> = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap().to_string(),
                s["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(skipped.len(), 2, "{report}");
    assert!(skipped[&last].contains("changed"), "{report}");
    assert!(
        skipped[&format!("{src}/")].contains("folder marker"),
        "{report}"
    );
    assert!(stderr.contains(&format!("skipped {last}")), "{stderr}");
    // Only what was verified and committed left the source.
    assert_eq!(report["deleted"], (n - 1) as u64);
    let mut left = s3.keys(&format!("{src}/"));
    left.sort();
    assert_eq!(left, vec![format!("{src}/"), last.clone()]);
    assert!(!vault_keys(h, "").contains_key(&format!("k{:03}", n - 1)));

    // Run again: the changed object comes in with its new bytes.
    let (rc, again, _) = import_json(h, &[&url, "--delete-source"]);
    assert_eq!(rc, Some(1), "the folder marker is still skipped");
    assert_eq!(again["imported"], 1);
    let got = common::ok(run(h, &["get", &format!("k{:03}", n - 1), "-"], None));
    assert_eq!(got, changed);
}

#[test]
fn wrong_credentials_a_missing_bucket_and_the_vaults_own_store_are_refused() {
    let s3 = S3::new();
    let home = vault_home();
    let h = home.path();
    let src = unique("import-bad-");
    s3.put(&format!("{src}/a"), b"a".to_vec(), None, &[]);
    let secret = "not-the-secret-0123456789abcdef";
    let secret_file = h.join("secret");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();

    let out = run(
        h,
        &[
            "import",
            &s3.url(&src),
            "--endpoint",
            &s3.endpoint,
            "--path-style",
            "--access-key-id",
            "someone-else",
            "--secret-access-key-file",
            secret_file.to_str().unwrap(),
        ],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), Some(1), "{err}");
    assert!(err.contains("refused the credentials"), "{err}");
    assert!(err.contains(&s3.endpoint), "names the endpoint: {err}");
    assert!(!err.contains(secret), "never the secret: {err}");

    // The same through COFFER_IMPORT_AWS_*.
    let out = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args([
            "import",
            &s3.url(&src),
            "--endpoint",
            &s3.endpoint,
            "--path-style",
        ])
        .env("COFFER_HOME", h)
        .env("COFFER_IMPORT_AWS_ACCESS_KEY_ID", "someone-else")
        .env("COFFER_IMPORT_AWS_SECRET_ACCESS_KEY", secret)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), Some(1), "{err}");
    assert!(
        err.contains("refused the credentials") && !err.contains(secret),
        "{err}"
    );

    let missing = unique("no-such-bucket-");
    let out = run(
        h,
        &[
            "import",
            &format!("s3://{missing}/x"),
            "--endpoint",
            &s3.endpoint,
            "--path-style",
        ],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(code(&out), Some(1), "{err}");
    assert!(
        err.contains(&format!("bucket {missing} does not exist")),
        "{err}"
    );

    // A vault on SeaweedFS: importing its own bucket prefix (or one around it) is refused.
    let store = seaweedfs_url("import-own");
    let own = tempfile::tempdir().unwrap();
    json(run(
        own.path(),
        &["init", "--json", "--store", &store],
        None,
    ));
    let location = store.split('?').next().unwrap().to_string();
    let bucket_root = format!("s3://{}", s3.bucket);
    for source in [location.as_str(), bucket_root.as_str()] {
        let out = run(
            own.path(),
            &["import", source, "--endpoint", &s3.endpoint, "--path-style"],
            None,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), Some(2), "{source}: {err}");
        assert!(err.contains("coffer's own ciphertext"), "{err}");
    }

    // SOURCE or --car, exactly one.
    for args in [vec!["import"], vec!["import", "./x", "--car", "x.car"]] {
        let out = run(h, &args, None);
        assert_eq!(code(&out), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("exactly one"));
    }
    let out = run(h, &["import", "--car", "x.car", "--to", "p"], None);
    assert_eq!(code(&out), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not for --car"));
}
