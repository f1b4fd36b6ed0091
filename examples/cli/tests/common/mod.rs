//! Running the `coffer` binary from tests: a private home, no identity or store from the
//! environment, and the output checked.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// Runs `coffer` with `home` as its home and no identity or store from the environment.
pub fn run(home: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coffer"));
    cmd.args(args)
        .env("COFFER_HOME", home)
        .env_remove("COFFER_IDENTITY")
        .env_remove("COFFER_STORE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run coffer");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.unwrap_or_default().to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

pub fn ok(out: Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

pub fn text(out: Output) -> String {
    String::from_utf8(ok(out)).unwrap()
}

pub fn json(out: Output) -> Value {
    serde_json::from_slice(&ok(out)).expect("valid JSON")
}

pub fn code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// `prefix` followed by the time in ns: a name of its own, so runs against long-lived servers
/// never meet.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}{nanos}")
}

/// The variable `name`, or a panic saying which script sets it (`.ci/seaweedfs.sh` or
/// `.ci/kubo.sh`).
pub fn require_env(name: &str, script: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run `{script} start` and `source .ci/state/env`")
    })
}

/// An `s3://` store URL on the test SeaweedFS, under a fresh prefix starting with `tag`.
pub fn seaweedfs_url(tag: &str) -> String {
    s3_url("S3", ".ci/seaweedfs.sh", tag)
}

/// An `s3://` store URL on the test Ceph RADOS Gateway (same keys as SeaweedFS), under a fresh
/// prefix starting with `tag`.
#[allow(dead_code)] // not every test binary uses it
pub fn ceph_url(tag: &str) -> String {
    s3_url("CEPH", ".ci/ceph.sh", tag)
}

fn s3_url(server: &str, script: &str, tag: &str) -> String {
    let endpoint = require_env(&format!("COFFER_TEST_{server}_ENDPOINT"), script);
    let bucket = require_env(&format!("COFFER_TEST_{server}_BUCKET"), script);
    let prefix = unique(&format!("{tag}-"));
    format!("s3://{bucket}/{prefix}?endpoint={endpoint}&path_style=true")
}
