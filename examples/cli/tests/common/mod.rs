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
