//! `coffer put -r DIR PREFIX` and `coffer get -r PREFIX DIR`: nested and unicode names, empty
//! directories and files, a rerun that sends nothing, a changed file sent again, an interrupted
//! transfer resumed, `get -r` into a directory that already holds files, keys that would reach
//! outside the directory, and the same round trip on SeaweedFS (`.ci/test.sh` sets its variables).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on setup failures

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use common::{code, json, run, seaweedfs_url, unique};
use serde_json::Value;

/// A home with a vault on `url` (None: the default directory store).
fn init(url: Option<&str>) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    let vault = unique("tree");
    let mut args = vec!["init", "--json", "--vault", &vault, "--device", "d1"];
    if let Some(u) = url {
        args.extend(["--store", u]);
    }
    json(run(home.path(), &args, None));
    home
}

/// Every regular file under `dir`: relative path → (content, modification time).
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, SystemTime)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (Vec<u8>, SystemTime)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                let meta = std::fs::metadata(&p).unwrap();
                out.insert(rel, (std::fs::read(&p).unwrap(), meta.modified().unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A tree with nested directories, unicode names, an empty file, an empty directory, and one
/// file big enough to stream (more than 8 MiB).
fn sample_tree(dir: &Path) {
    write(&dir.join("top.txt"), b"top");
    write(&dir.join("a/b/c/deep.txt"), b"deep inside");
    write(&dir.join("ünïcødé/кот.txt"), "мяу".as_bytes());
    write(&dir.join("日本/データ 1.bin"), &[0xAB; 5000]);
    write(&dir.join("empty.txt"), b"");
    std::fs::create_dir_all(dir.join("nothing/here")).unwrap();
    let big: Vec<u8> = (0..9_000_000u32).map(|i| (i * 31 / 7) as u8).collect();
    write(&dir.join("a/big.bin"), &big);
}

fn put_r(home: &Path, dir: &Path, prefix: &str, extra: &[&str]) -> Value {
    let mut args = vec!["put", "-r", dir.to_str().unwrap(), prefix, "--json"];
    args.extend_from_slice(extra);
    json(run(home, &args, None))
}

fn get_r(home: &Path, prefix: &str, dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["get", "-r", prefix, dir.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    json(run(home, &args, None))
}

fn keys(home: &Path, prefix: &str) -> Vec<String> {
    let out = common::text(run(home, &["ls", prefix], None));
    // `{time:>19} {size:>12} {key}`: the key is the rest of the line (it may hold spaces).
    out.lines().map(|l| l[33..].to_string()).collect()
}

/// put -r then get -r into a fresh directory gives the same files, content and modification
/// times; the keys are PREFIX/relative/path.
fn round_trip(url: Option<&str>) {
    let home = init(url);
    let h = home.path();
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    let put = put_r(h, src.path(), "photos", &[]);
    assert_eq!(put["files"], 6, "{put}");
    assert_eq!(put["unchanged"], 0);
    assert_eq!(put["failed"], 0);
    assert_eq!(put["bytes"], 3 + 11 + 6 + 5000 + 9_000_000);
    let mut listed = keys(h, "photos/");
    listed.sort();
    assert_eq!(
        listed,
        [
            "photos/a/b/c/deep.txt",
            "photos/a/big.bin",
            "photos/empty.txt",
            "photos/top.txt",
            "photos/ünïcødé/кот.txt",
            "photos/日本/データ 1.bin",
        ]
    );
    let dst = tempfile::tempdir().unwrap();
    let out = dst.path().join("restored");
    let got = get_r(h, "photos", &out, &[]);
    assert_eq!(got["files"], 6, "{got}");
    assert_eq!(got["failed"], 0);
    assert_eq!(snapshot(src.path()), snapshot(&out));
}

#[test]
fn put_r_and_get_r_round_trip_nested_unicode_and_empty_files() {
    round_trip(None);
}

#[test]
fn put_r_and_get_r_round_trip_on_seaweedfs() {
    round_trip(Some(&seaweedfs_url("tree")));
}

#[test]
fn an_empty_directory_sends_nothing_and_an_empty_prefix_gets_nothing() {
    let home = init(None);
    let h = home.path();
    let src = tempfile::tempdir().unwrap();
    let put = put_r(h, src.path(), "void", &[]);
    assert_eq!(
        (put["files"].as_u64(), put["commits"].as_u64()),
        (Some(0), Some(0))
    );
    let dst = tempfile::tempdir().unwrap();
    let out = dst.path().join("new");
    let got = get_r(h, "void", &out, &[]);
    assert_eq!(got["files"], 0);
    assert!(out.is_dir(), "get -r creates the directory");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

#[test]
fn a_rerun_sends_nothing_and_changed_files_are_sent_again() {
    let home = init(None);
    let h = home.path();
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    assert_eq!(put_r(h, src.path(), "p", &[])["files"], 6);
    let again = put_r(h, src.path(), "p", &[]);
    assert_eq!(
        (again["files"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(6))
    );
    assert_eq!(again["commits"], 0, "nothing to commit");
    let again = put_r(h, src.path(), "p", &["--checksum"]);
    assert_eq!(again["files"], 0);

    // Same size, new content (and so a new modification time): sent again.
    std::thread::sleep(Duration::from_millis(20));
    write(&src.path().join("top.txt"), b"TOP");
    // Same content, only a new modification time: sent again by time, not by --checksum.
    let f = std::fs::File::options()
        .write(true)
        .open(src.path().join("a/b/c/deep.txt"))
        .unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(5))
        .unwrap();
    drop(f);
    let checked = put_r(h, src.path(), "p", &["--checksum"]);
    assert_eq!(
        (checked["files"].as_u64(), checked["unchanged"].as_u64()),
        (Some(1), Some(5))
    );
    let timed = put_r(h, src.path(), "p", &[]);
    assert_eq!(timed["files"], 1, "deep.txt's time changed: {timed}");
    assert_eq!(put_r(h, src.path(), "p", &[])["files"], 0);
    let out = common::ok(run(h, &["get", "p/top.txt"], None));
    assert_eq!(out, b"TOP");
}

#[test]
fn get_r_into_a_directory_that_holds_files() {
    let home = init(None);
    let h = home.path();
    let src = tempfile::tempdir().unwrap();
    sample_tree(src.path());
    put_r(h, src.path(), "p", &[]);
    let dst = tempfile::tempdir().unwrap();
    let d = dst.path();
    write(&d.join("mine.txt"), b"not from the vault");
    write(&d.join("top.txt"), b"old"); // same name, other content and size
    write(&d.join("ünïcødé/кот.txt"), "МЯУ".as_bytes()); // same size, other time
    let got = get_r(h, "p/", d, &[]);
    assert_eq!(got["files"], 6, "{got}");
    assert_eq!(
        std::fs::read(d.join("mine.txt")).unwrap(),
        b"not from the vault"
    );
    assert_eq!(std::fs::read(d.join("top.txt")).unwrap(), b"top");
    assert_eq!(
        std::fs::read(d.join("ünïcødé/кот.txt")).unwrap(),
        "мяу".as_bytes()
    );
    // Nothing left behind under a temporary name, and a rerun fetches nothing.
    let mut expected = snapshot(src.path());
    expected.insert("mine.txt".into(), snapshot(d).remove("mine.txt").unwrap());
    assert_eq!(snapshot(d), expected);
    let again = get_r(h, "p", d, &[]);
    assert_eq!(
        (again["files"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(6))
    );
    let again = get_r(h, "p", d, &["--checksum"]);
    assert_eq!(again["files"], 0);
}

#[test]
fn an_interrupted_put_r_resumes_where_it_stopped() {
    let home = init(None);
    let h = home.path();
    let src = tempfile::tempdir().unwrap();
    let n = 1000;
    for i in 0..n {
        write(
            &src.path().join(format!("d{}/f{i:04}.txt", i % 7)),
            format!("file {i}").as_bytes(),
        );
    }
    // Killed right after its first commit (of 10 files), long before the 100th.
    let mut child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args([
            "put",
            "-r",
            src.path().to_str().unwrap(),
            "r",
            "-v",
            "--jobs",
            "2",
        ])
        .args(["--commit-every", "10"])
        .env("COFFER_HOME", h)
        .env_remove("COFFER_IDENTITY")
        .env_remove("COFFER_STORE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = lines.next().expect("a commit line before the end").unwrap();
        if line.starts_with("committed") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let stored = keys(h, "r/").len();
    assert!(
        stored >= 10 && stored < n,
        "{stored} of {n} stored before the kill"
    );

    let resumed = put_r(h, src.path(), "r", &[]);
    assert_eq!(
        resumed["unchanged"].as_u64(),
        Some(stored as u64),
        "{resumed}"
    );
    assert_eq!(resumed["files"].as_u64(), Some((n - stored) as u64));
    let out = tempfile::tempdir().unwrap();
    get_r(h, "r", out.path(), &[]);
    assert_eq!(snapshot(src.path()), snapshot(out.path()));
}

#[test]
fn get_r_writes_nothing_outside_the_directory() {
    let home = init(None);
    let h = home.path();
    let files = tempfile::tempdir().unwrap();
    let f = files.path().join("x");
    std::fs::write(&f, b"x").unwrap();
    for key in ["t/ok.txt", "t/../escape.txt", "t/a//b", "t/dir/"] {
        json(run(h, &["put", f.to_str().unwrap(), key, "--json"], None));
    }
    let root = tempfile::tempdir().unwrap();
    let dst: PathBuf = root.path().join("inner");
    let out = run(h, &["get", "-r", "t", dst.to_str().unwrap()], None);
    assert_eq!(
        code(&out),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 file(s) failed"));
    assert_eq!(std::fs::read(dst.join("ok.txt")).unwrap(), b"x");
    assert!(!root.path().join("escape.txt").exists());
    let names: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
    assert_eq!(names.len(), 1, "only inner/ beside it");
}

#[test]
fn usage_errors() {
    let home = init(None);
    let h = home.path();
    let file = tempfile::NamedTempFile::new().unwrap();
    let out = run(h, &["put", "-r", file.path().to_str().unwrap(), "p"], None);
    assert_eq!(code(&out), Some(2), "put -r of a file");
    let out = run(h, &["get", "-r", "p"], None);
    assert_eq!(code(&out), Some(2), "get -r without a directory");
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        h,
        &[
            "put",
            "-r",
            dir.path().to_str().unwrap(),
            "p",
            "--if-match",
            "x",
        ],
        None,
    );
    assert_eq!(code(&out), Some(2));
}
