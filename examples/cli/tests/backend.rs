//! `coffer backend …` and `coffer policy …` on a federation of directory stores and a SeaweedFS
//! prefix (`.ci/seaweedfs.sh start`): the registry refuses duplicates, a vault's policy is
//! enforced and stored in the vault, a rebalance moves blocks to where the policy puts them, a
//! drained backend ends empty and can be removed, a backend holding blocks cannot.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on setup failures

mod common;

use common::{code, json, ok, run, seaweedfs_url, text};
use serde_json::Value;

fn objects(home: &std::path::Path) -> Vec<(String, String, u64)> {
    let list = json(run(home, &["backend", "list", "--json"], None));
    list["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            assert_eq!(b["health"], "ok", "{b}");
            (
                b["name"].as_str().unwrap().to_string(),
                b["state"].as_str().unwrap().to_string(),
                b["objects"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn backend_and_policy_commands() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let stores = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let url = |i: usize| format!("file://{}/d{i}", stores.path().display());
    let places = [
        ("paris", "eu-west", "EU"),
        ("dublin", "eu-west", "eu"),
        ("berlin", "eu-central", "EU"),
        ("vienna", "eu-central", "EU"),
        ("ohio", "us-east", "US"),
    ];
    for (i, (name, region, j)) in places.iter().enumerate() {
        let u = url(i);
        ok(run(
            h,
            &[
                "backend",
                "add",
                name,
                &u,
                "--region",
                region,
                "--jurisdiction",
                j,
                "--tag",
                "ssd",
            ],
            None,
        ));
    }
    let s3 = seaweedfs_url("backend-cli");
    ok(run(
        h,
        &[
            "backend",
            "add",
            "virginia",
            &s3,
            "--region",
            "us-east",
            "--jurisdiction",
            "US",
        ],
        None,
    ));
    // Duplicates, IPFS and bad labels are refused with a usage error.
    let u0 = url(0);
    for bad in [
        vec!["backend", "add", "paris", "file:///elsewhere"],
        vec!["backend", "add", "paris2", u0.as_str()],
        vec!["backend", "add", "virginia2", s3.as_str()],
        vec!["backend", "add", "kubo", "ipfs://127.0.0.1:5001"],
        vec!["backend", "add", "x", "file:///x", "--tag", "no spaces"],
    ] {
        let out = run(h, &bad, None);
        assert_eq!(
            code(&out),
            Some(2),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(objects(h).len(), 6);

    // A vault on the federation, under the registry's default policy (replicate 2).
    ok(run(
        h,
        &[
            "init",
            "--store",
            "federation:",
            "--vault",
            "fed",
            "--device",
            "laptop",
        ],
        None,
    ));
    let show = json(run(h, &["policy", "show", "--json"], None));
    assert_eq!(
        show,
        serde_json::json!({"policy": "replicate 2", "source": "default"})
    );
    let mut bodies = Vec::new();
    for i in 0..6 {
        let path = files.path().join(format!("f{i}"));
        let body: Vec<u8> = (0..(if i % 2 == 0 { 300_000 } else { 700 }))
            .map(|x: u32| (x.wrapping_mul(7) ^ i) as u8)
            .collect();
        std::fs::write(&path, &body).unwrap();
        ok(run(
            h,
            &["put", path.to_str().unwrap(), &format!("k{i}")],
            None,
        ));
        bodies.push(body);
    }
    let check_all = || {
        for (i, body) in bodies.iter().enumerate() {
            let got = ok(run(h, &["get", &format!("k{i}"), "-"], None));
            assert_eq!(&got, body, "k{i}");
        }
    };
    check_all();

    // A policy that the registry cannot meet: stored, but every write fails and says why.
    let bad = run(h, &["policy", "set", "rs 4+2 fast"], None);
    assert_eq!(
        code(&bad),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    // A policy the registry cannot meet is refused (its own block would break it), and a
    // default the registry cannot meet makes every write fail and say why.
    let refused = run(h, &["policy", "set", "rs 4+2 eu-only"], None);
    assert_eq!(code(&refused), Some(1));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("rs 4+2 jurisdiction=EU needs 6 eligible backends, 4 are"),
        "{why}"
    );
    let show = json(run(h, &["policy", "show", "--json"], None));
    assert_eq!(show["source"], "default");
    ok(run(
        h,
        &["backend", "default-policy", "replicate 2 tag=hdd"],
        None,
    ));
    let path = files.path().join("f0");
    let refused = run(h, &["put", path.to_str().unwrap(), "nope"], None);
    assert_eq!(code(&refused), Some(1));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("replicate 2 tag=hdd needs 2 eligible backends, 0 are"),
        "{why}"
    );
    // EU only, coded 2+1: stored in the vault, applied on open, then a rebalance moves
    // everything off the US backends.
    ok(run(h, &["policy", "set", "rs 2+1 eu-only"], None));
    let show = json(run(h, &["policy", "show", "--json"], None));
    assert_eq!(
        show,
        serde_json::json!({"policy": "rs 2+1 jurisdiction=EU", "source": "vault"})
    );
    let report = json(run(h, &["backend", "rebalance", "--json"], None));
    assert!(report["moved"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["failed"], Value::Array(vec![]));
    for (name, _, n) in objects(h) {
        if name == "ohio" || name == "virginia" {
            assert_eq!(n, 0, "{name} still holds blocks");
        }
    }
    check_all();
    let again = json(run(h, &["backend", "rebalance", "--json"], None));
    assert_eq!(again["moved"], 0, "{again}");

    // Scrub under the vault's rs 2+1 policy: clean; then berlin loses every block file, the scrub
    // says so (exit 1), a repair puts them back from the other EU backends, and all reads back.
    let clean = json(run(h, &["scrub", "--json"], None));
    assert_eq!(clean["clean"], true, "{clean}");
    let berlin = stores.path().join("d2").join("blocks");
    let mut lost = 0;
    for fan in std::fs::read_dir(&berlin).unwrap() {
        for f in std::fs::read_dir(fan.unwrap().path()).unwrap() {
            std::fs::remove_file(f.unwrap().path()).unwrap();
            lost += 1;
        }
    }
    assert!(lost > 0, "berlin held nothing to lose");
    let found = run(h, &["scrub", "--json"], None);
    assert_eq!(code(&found), Some(1));
    let found: Value = serde_json::from_slice(&found.stdout).unwrap();
    let missing: u64 = found["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["missing"].as_u64().unwrap())
        .sum();
    assert_eq!(missing, lost, "{found}");
    let repaired = json(run(h, &["scrub", "--repair", "--json"], None));
    assert_eq!(repaired["clean"], true, "{repaired}");
    assert_eq!(json(run(h, &["scrub", "--json"], None))["clean"], true);
    check_all();

    // Drain one EU backend: it ends empty and can be removed; one with blocks cannot.
    let drained = json(run(h, &["backend", "drain", "dublin", "--json"], None));
    assert_eq!(drained["failed"], Value::Array(vec![]), "{drained}");
    let after = objects(h);
    let dublin = after.iter().find(|(n, _, _)| n == "dublin").unwrap();
    assert_eq!((dublin.1.as_str(), dublin.2), ("draining", 0));
    let refused = run(h, &["backend", "remove", "paris"], None);
    assert_eq!(code(&refused), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("drain it first"));
    ok(run(h, &["backend", "remove", "dublin"], None));
    assert_eq!(objects(h).len(), 5);
    check_all();
    let listing = text(run(h, &["backend", "list"], None));
    assert!(listing.contains("paris\tactive"), "{listing}");
}
