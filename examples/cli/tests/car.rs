//! `coffer export --car`, `coffer import --car` and `coffer copy` as a user moving a vault runs
//! them: a directory store to another, progress on stderr, a resumed export, a damaged file
//! refused with exit 3 and nothing imported, and a directory to a real Kubo node (`.ci/kubo.sh`).
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on setup failures

mod common;

use std::path::Path;

use common::{code, json, ok, require_env, run, unique};

/// A home with a vault on the embedded default store holding a few objects and versions.
fn vault_home(h: &Path, vault: &str) {
    ok(run(
        h,
        &["init", "--device", "laptop", "--vault", vault],
        None,
    ));
    ok(run(h, &["put", "-", "a.txt"], Some(b"first")));
    ok(run(h, &["put", "-", "a.txt"], Some(b"second")));
    let big: Vec<u8> = (0..300_000u32).map(|i| (i * 13 + i / 977) as u8).collect();
    ok(run(h, &["put", "-", "big.bin"], Some(&big)));
    ok(run(h, &["put", "-", "gone.txt"], Some(b"x")));
    ok(run(h, &["rm", "gone.txt"], None));
}

/// What a new device reads from `store`.
fn reads(h: &Path, store: &str) {
    ok(run(
        h,
        &["sync", "--store", store, "--device", "new-device"],
        None,
    ));
    let args = |k: &'static str| vec!["get", k, "--store", store, "--device", "new-device"];
    assert_eq!(ok(run(h, &args("a.txt"), None)), b"second");
    assert_eq!(ok(run(h, &args("big.bin"), None)).len(), 300_000);
    let versions = json(run(
        h,
        &[
            "versions",
            "a.txt",
            "--json",
            "--store",
            store,
            "--device",
            "new-device",
        ],
        None,
    ));
    assert_eq!(
        versions["versions"].as_array().map(Vec::len),
        Some(2),
        "{versions}"
    );
}

#[test]
fn a_vault_moves_to_another_directory_store_through_a_car_file() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    vault_home(h, "moving");
    let work = tempfile::tempdir().unwrap();
    let car = work.path().join("vault.car");
    let car_s = car.to_str().unwrap();

    let out = run(h, &["export", "--car", car_s, "--json"], None);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let report = json(out);
    assert_eq!(report["vault"], "moving");
    assert!(report["blocks"].as_u64().unwrap() > 5, "{report}");
    assert_eq!(report["resumed"], 0);
    assert!(
        stderr.contains("copying blocks"),
        "progress on stderr: {stderr}"
    );
    assert!(car.is_file() && !work.path().join("vault.car.part").exists());

    // Re-running over a complete .part keeps every block.
    std::fs::copy(&car, work.path().join("vault.car.part")).unwrap();
    let again = json(run(h, &["export", "--car", car_s, "--json"], None));
    assert_eq!(again["resumed"], report["blocks"]);

    // A damaged copy is refused (exit 3) and the target gets nothing.
    let bytes = std::fs::read(&car).unwrap();
    let cut = work.path().join("cut.car");
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let target = work.path().join("refused");
    let refused_url = format!("file://{}", target.display());
    let out = run(
        h,
        &[
            "import",
            "--car",
            cut.to_str().unwrap(),
            "--store",
            &refused_url,
        ],
        None,
    );
    assert_eq!(
        code(&out),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("truncated"));
    let out = run(h, &["ls", "--store", &refused_url, "--device", "d"], None);
    assert_eq!(code(&out), Some(2), "no vault there");

    // The whole file imports; a new device reads every object and version.
    let url = format!("file://{}", work.path().join("new").display());
    let out = run(
        h,
        &["import", "--car", car_s, "--store", &url, "--json"],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let imported = json(out);
    assert_eq!(imported["blocks"], report["blocks"]);
    assert_eq!(imported["skipped"], 0);
    assert!(stderr.contains("checking it against the vault"), "{stderr}");
    reads(h, &url);
    // Importing again finds everything there.
    let twice = json(run(
        h,
        &["import", "--car", car_s, "--store", &url, "--json"],
        None,
    ));
    assert_eq!(twice["skipped"], report["blocks"]);
    assert_eq!(twice["heads_written"], 0);
}

#[test]
fn copy_moves_a_vault_from_a_directory_to_kubo() {
    let api = require_env("COFFER_TEST_IPFS_API", ".ci/kubo.sh");
    let host = api.trim_start_matches("http://").trim_end_matches('/');
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let vault = unique("car");
    vault_home(h, &vault);
    let from = format!("file://{}", h.join("store").display());
    let to = format!("ipfs://{host}");
    let out = json(run(
        h,
        &["copy", "--from", &from, "--to", &to, "--json", "-q"],
        None,
    ));
    assert_eq!(out["vault"], vault.as_str());
    assert_eq!(out["skipped"], 0);
    reads(h, &to);
}
