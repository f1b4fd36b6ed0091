//! The vault commands of the `coffer` binary as people and scripts use them: `init` on the
//! embedded default, puts and gets through files and pipes, the `ls --json` shape scripts rely
//! on, versions, two devices syncing, exit codes, and the same commands on SeaweedFS and Kubo
//! (`--store s3://…`, `ipfs://…`) when their variables are set by `.ci/test.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on setup failures

mod common;

use common::{ceph_url, code, json, ok, require_env, run, seaweedfs_url, text, unique};
use serde_json::Value;

/// The whole command set against the store at `url` (None: the default `coffer init` picks).
fn command_suite(url: Option<&str>) {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let files = tempfile::tempdir().unwrap();
    let f = files.path();

    // Before init: a clear usage error.
    let out = run(h, &["ls"], None);
    assert_eq!(code(&out), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("coffer init"));

    // A vault name of its own, so runs against long-lived servers never meet.
    let vault = unique("v");
    let mut init = vec!["init", "--json", "--device", "laptop", "--vault", &vault];
    if let Some(u) = url {
        init.extend(["--store", u]);
    }
    let cfg = json(run(h, &init, None));
    assert_eq!(cfg["created_identity"], true);
    assert!(cfg["recipient"].as_str().unwrap().starts_with("coffer1"));
    if url.is_none() {
        assert!(cfg["store"].as_str().unwrap().starts_with("file:///"));
        assert!(h.join("store").is_dir());
    }
    // init again is harmless and keeps the identity
    let again = json(run(h, &init, None));
    assert_eq!(again["created_identity"], false);
    assert_eq!(again["recipient"], cfg["recipient"]);

    // put from a file and from stdin; get to a file and to stdout
    let big: Vec<u8> = (0..2_500_000u32)
        .map(|i| (i * 7 + i / 1000) as u8)
        .collect();
    std::fs::write(f.join("big.bin"), &big).unwrap();
    let put = json(run(
        h,
        &[
            "put",
            f.join("big.bin").to_str().unwrap(),
            "media/big.bin",
            "--json",
            "--content-type",
            "application/octet-stream",
            "--meta",
            "camera=x100",
        ],
        None,
    ));
    assert_eq!(put["size"], 2_500_000);
    assert_eq!(put["etag"], put["version"]);
    ok(run(h, &["put", "-", "notes/a.txt"], Some(b"alpha")));
    ok(run(h, &["put", "-", "notes/b.txt"], Some(b"bravo")));
    ok(run(h, &["put", "-", "top.txt"], Some(b"top")));
    let out_path = f.join("out.bin");
    ok(run(
        h,
        &["get", "media/big.bin", out_path.to_str().unwrap()],
        None,
    ));
    assert!(std::fs::read(&out_path).unwrap() == big);
    assert_eq!(ok(run(h, &["get", "notes/a.txt"], None)), b"alpha");
    assert_eq!(ok(run(h, &["get", "notes/a.txt", "-"], None)), b"alpha");
    assert_eq!(
        ok(run(
            h,
            &["get", "media/big.bin", "--range", "1000000..1000010"],
            None
        )),
        &big[1_000_000..1_000_010]
    );
    let stat = json(run(h, &["stat", "media/big.bin", "--json"], None));
    assert_eq!(stat["content_type"], "application/octet-stream");
    assert_eq!(stat["metadata"]["camera"], "x100");
    assert_eq!(stat["version"], put["version"]);

    // ls --json: exactly the shape scripts rely on
    let page = json(run(h, &["ls", "--json"], None));
    let obj = page.as_object().unwrap();
    let mut fields: Vec<&str> = obj.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "common_prefixes",
            "contents",
            "is_truncated",
            "key_count",
            "next_continuation_token"
        ]
    );
    let keys: Vec<&str> = page["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        ["media/big.bin", "notes/a.txt", "notes/b.txt", "top.txt"]
    );
    for c in page["contents"].as_array().unwrap() {
        let mut f: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        f.sort_unstable();
        assert_eq!(f, ["etag", "key", "last_modified", "size"]);
        assert!(c["last_modified"].as_str().unwrap().ends_with('Z'));
    }
    assert_eq!(page["key_count"], 4);
    assert_eq!(page["is_truncated"], false);
    assert_eq!(page["next_continuation_token"], Value::Null);
    assert_eq!(page["contents"][0]["size"], 2_500_000);
    assert_eq!(page["contents"][0]["etag"], put["etag"]);

    let page = json(run(h, &["ls", "--json", "--delimiter", "/"], None));
    assert_eq!(page["common_prefixes"][0]["prefix"], "media/");
    assert_eq!(page["common_prefixes"][1]["prefix"], "notes/");
    assert_eq!(page["contents"][0]["key"], "top.txt");
    assert_eq!(page["key_count"], 3);

    // pages: --max-keys, --continuation-token, --start-after, a prefix
    let p1 = json(run(h, &["ls", "--json", "--max-keys", "2"], None));
    assert_eq!(p1["is_truncated"], true);
    assert_eq!(p1["key_count"], 2);
    let token = p1["next_continuation_token"].as_str().unwrap().to_string();
    let p2 = json(run(
        h,
        &[
            "ls",
            "--json",
            "--max-keys",
            "2",
            "--continuation-token",
            &token,
        ],
        None,
    ));
    assert_eq!(p2["contents"][0]["key"], "notes/b.txt");
    assert_eq!(p2["contents"][1]["key"], "top.txt");
    assert_eq!(p2["is_truncated"], false);
    let p = json(run(
        h,
        &["ls", "--json", "--start-after", "notes/a.txt", "notes/"],
        None,
    ));
    assert_eq!(p["key_count"], 1);
    assert_eq!(p["contents"][0]["key"], "notes/b.txt");
    let bad = run(
        h,
        &["ls", "--json", "--continuation-token", "garbage"],
        None,
    );
    assert_eq!(code(&bad), Some(2));
    let listing = text(run(h, &["ls", "--recursive"], None));
    assert_eq!(listing.lines().count(), 4);

    // versions, conditional puts, exit codes
    ok(run(h, &["put", "-", "notes/a.txt"], Some(b"alpha 2")));
    let versions = json(run(h, &["versions", "notes/a.txt", "--json"], None));
    let list = versions["versions"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    let old = list[1]["version"].as_str().unwrap();
    assert_eq!(
        ok(run(h, &["get", "notes/a.txt", "--version", old], None)),
        b"alpha"
    );
    let cond = run(h, &["put", "-", "notes/a.txt", "--if-absent"], Some(b"x"));
    assert_eq!(code(&cond), Some(6));
    let cond = run(
        h,
        &["put", "-", "notes/a.txt", "--if-match", old],
        Some(b"x"),
    );
    assert_eq!(code(&cond), Some(6));
    assert_eq!(code(&run(h, &["get", "nope"], None)), Some(5));
    assert_eq!(code(&run(h, &["stat", "nope"], None)), Some(5));
    let long = "k".repeat(1025);
    assert_eq!(code(&run(h, &["put", "-", &long], Some(b"x"))), Some(2));
    let missing = f.join("missing");
    assert_eq!(
        code(&run(h, &["put", missing.to_str().unwrap(), "k"], None)),
        Some(4)
    );
    // a get that fails leaves no file behind
    let never = f.join("never");
    assert_eq!(
        code(&run(h, &["get", "nope", never.to_str().unwrap()], None)),
        Some(5)
    );
    assert!(!never.exists());

    // tags
    ok(run(
        h,
        &["put", "-", "tagged.txt", "--tag", "project=apollo"],
        Some(b"t"),
    ));
    let tags = json(run(h, &["tag", "tagged.txt", "--json"], None));
    assert_eq!(tags["tags"]["project"], "apollo");
    assert_eq!(
        text(run(
            h,
            &["tag", "tagged.txt", "state=final", "owner=me"],
            None
        )),
        "owner=me\nstate=final\n"
    );
    ok(run(h, &["tag", "tagged.txt", "--clear"], None));
    assert_eq!(text(run(h, &["tag", "tagged.txt"], None)), "");
    ok(run(h, &["rm", "tagged.txt"], None));

    // cp / mv / rm
    ok(run(h, &["cp", "media/big.bin", "media/copy.bin"], None));
    let copy = json(run(h, &["stat", "media/copy.bin", "--json"], None));
    assert_eq!(copy["data"], stat["data"], "copied by reference");
    ok(run(h, &["mv", "media/copy.bin", "media/moved.bin"], None));
    assert_eq!(code(&run(h, &["stat", "media/copy.bin"], None)), Some(5));
    let rm = run(h, &["rm", "media/moved.bin", "no-such-key", "--json"], None);
    assert_eq!(code(&rm), Some(5));
    let results: Value = serde_json::from_slice(&rm.stdout).unwrap();
    assert_eq!(results["results"][0]["deleted"], true);
    assert_eq!(results["results"][1]["deleted"], false);

    // a second device: sees nothing until it syncs; its edits flow back
    let phone = ["--device", "phone"];
    let page = json(run(h, &[&["ls", "--json"][..], &phone].concat(), None));
    assert_eq!(page["key_count"], 0);
    let status = json(run(h, &["status", "--json", "--device", "phone"], None));
    assert_eq!(status["unmerged_writers"], 1);
    let report = json(run(h, &["sync", "--json", "--device", "phone"], None));
    assert_eq!(report["changed"], true);
    let page = json(run(h, &[&["ls", "--json"][..], &phone].concat(), None));
    assert_eq!(page["key_count"], 4);
    ok(run(
        h,
        &[&["put", "-", "from-phone.txt"][..], &phone].concat(),
        Some(b"hi"),
    ));
    ok(run(h, &["sync"], None));
    assert_eq!(ok(run(h, &["get", "from-phone.txt"], None)), b"hi");
    let status = json(run(h, &["status", "--json"], None));
    assert_eq!(status["unmerged_writers"], 0);
    assert_eq!(status["writers"].as_array().unwrap().len(), 2);

    // another identity cannot open it
    let other = tempfile::tempdir().unwrap();
    let other_id = other.path().join("id");
    ok(run(
        other.path(),
        &["keygen", "-o", other_id.to_str().unwrap()],
        None,
    ));
    let store = cfg["store"].as_str().unwrap();
    let wrong = run(
        other.path(),
        &[
            "ls",
            "--store",
            store,
            "--vault",
            &vault,
            "-i",
            other_id.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        code(&wrong),
        Some(3),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
}

#[test]
fn commands_on_the_embedded_default_store() {
    command_suite(None);
}

#[test]
fn commands_on_seaweedfs() {
    let url = seaweedfs_url("cli");
    command_suite(Some(&url));
}

#[test]
fn commands_on_ceph_rgw() {
    let url = ceph_url("cli");
    command_suite(Some(&url));
}

#[test]
fn commands_on_kubo() {
    let api = require_env("COFFER_TEST_IPFS_API", ".ci/kubo.sh");
    let host = api.trim_start_matches("http://").trim_end_matches('/');
    command_suite(Some(&format!("ipfs://{host}")));
}

/// `ipfs-cluster://` URL of the `.ci/cluster.sh` cluster with replication `rmin..rmax`, in a
/// namespace of its own.
fn cluster_url(rmin: u32, rmax: u32) -> String {
    let apis = require_env("COFFER_TEST_CLUSTER_APIS", ".ci/cluster.sh");
    let kubos = require_env("COFFER_TEST_CLUSTER_KUBOS", ".ci/cluster.sh");
    let hosts: Vec<&str> = apis
        .split(',')
        .map(|a| a.trim_start_matches("http://").trim_end_matches('/'))
        .collect();
    format!(
        "ipfs-cluster://{}?kubo={kubos}&rmin={rmin}&rmax={rmax}&ns={}",
        hosts.join(","),
        unique("cli-")
    )
}

#[test]
fn commands_on_an_ipfs_cluster() {
    command_suite(Some(&cluster_url(2, 3)));
}

/// `coffer status` on a cluster store lists every pin with its allocation and per-peer state.
#[test]
fn status_shows_the_cluster_pins() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let url = cluster_url(2, 2);
    let vault = unique("v");
    ok(run(
        h,
        &["init", "--store", &url, "--vault", &vault, "--device", "d"],
        None,
    ));
    ok(run(h, &["put", "-", "notes/a.txt"], Some(b"pinned twice")));
    let status = json(run(h, &["status", "--json"], None));
    let pins = status["cluster_pins"].as_array().expect("cluster_pins");
    assert!(!pins.is_empty(), "{status}");
    for p in pins {
        assert_eq!(p["allocations"].as_array().unwrap().len(), 2, "{p}");
        assert!(p["pinned_on"].as_u64().unwrap() >= 2, "{p}");
        let pinned = p["peers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["status"] == "pinned")
            .count();
        assert!(pinned >= 2, "{p}");
    }
    let table = text(run(h, &["status"], None));
    assert!(table.contains("cluster:"), "{table}");
    assert!(table.contains("=pinned"), "{table}");
}

#[test]
fn store_urls_that_are_wrong_say_what_is_expected() {
    let home = tempfile::tempdir().unwrap();
    for url in [
        "ftp://x",
        "file://relative",
        "s3://?endpoint=x",
        "s3://b?colour=red",
    ] {
        let out = run(home.path(), &["init", "--store", url], None);
        assert_eq!(code(&out), Some(2), "{url}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("store URLs are"),
            "{url}"
        );
    }
}

#[test]
fn demo_tells_the_vault_story() {
    let home = tempfile::tempdir().unwrap();
    let out = text(run(home.path(), &["demo"], None));
    for needle in [
        "converged: true",
        "both versions visible: true",
        "matches the original: true",
        "an untouched range still reads and verifies: true",
        "reading the video          → refused",
        "a foreign head             → skipped and reported",
        "an old head of the phone   → refused: the store served the head of writer",
        "Bob lists: trip/day1.txt  trip/day2.txt",
        "Bob reads trip/day1.txt: \"sand\"",
        "Bob asks for taxes/2026.pdf → refused",
        "Bob reads trip/day1.txt   → refused: the share expired",
        "Bob reads trip/day3.txt   → refused",
        "Carol reads trip/day3.txt: \"hills\"",
        "Dan writes taxes/2026.pdf → refused: cannot write taxes/2026.pdf",
        "everyone converged: true",
        "plans/menu.txt keeps 3 versions",
        "Dan writes again → refused",
        "the owner still reads Dan's last edit: \"tomatoes, basil\"",
        "the owner reads \"sunday\"",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    assert!(!out.contains("ACCEPTED"));
}

/// `coffer init --post-quantum` makes a vault whose key block is wrapped with X-Wing (its
/// header's first stanza kind is 0x02, `docs/FORMAT.md` §3.2); its files read back as usual.
#[test]
fn init_post_quantum_wraps_the_vault_key_with_x_wing() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let files = tempfile::tempdir().unwrap();
    let f = files.path();
    let vault = unique("pq");
    json(run(
        h,
        &["init", "--json", "--post-quantum", "--vault", &vault],
        None,
    ));
    std::fs::write(f.join("a.txt"), b"quantum-safe").unwrap();
    ok(run(
        h,
        &["put", f.join("a.txt").to_str().unwrap(), "a.txt"],
        None,
    ));
    let got = run(h, &["get", "a.txt", "-"], None);
    assert_eq!(ok(got), b"quantum-safe");
    // Exactly one block in the store is sealed with an X-Wing stanza (the vault key) and none
    // with an X25519 one: v2 prefix (16 bytes) and salt (32), then the first stanza's kind.
    let mut kinds = Vec::new();
    for entry in walk(&h.join("store")) {
        let bytes = std::fs::read(&entry).unwrap();
        if bytes.len() > 48 && bytes.starts_with(b"COFFER\x02") {
            kinds.push(bytes[48]);
        }
    }
    assert_eq!(kinds.iter().filter(|k| **k == 0x02).count(), 1, "{kinds:?}");
    assert!(!kinds.contains(&0x01), "{kinds:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// `ec:4+2:…` over six directories, each a fresh temp dir (kept alive by the returned guards).
fn erasure_url(extra: &[String]) -> (String, Vec<tempfile::TempDir>) {
    let dirs: Vec<tempfile::TempDir> = (0..6 - extra.len())
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    let mut urls: Vec<String> = dirs
        .iter()
        .map(|d| format!("file://{}", d.path().display()))
        .collect();
    urls.extend(extra.iter().cloned());
    (format!("ec:4+2:{}", urls.join(",")), dirs)
}

#[test]
fn commands_on_an_erasure_coded_store() {
    let (url, _dirs) = erasure_url(&[]);
    command_suite(Some(&url));
}

#[test]
fn commands_on_an_erasure_coded_store_mixing_seaweedfs_ceph_and_directories() {
    let s3: Vec<String> = vec![
        seaweedfs_url("cli-ec"),
        seaweedfs_url("cli-ec"),
        ceph_url("cli-ec"),
    ];
    let (url, _dirs) = erasure_url(&s3);
    command_suite(Some(&url));
}

/// `coffer scrub` finds what a lost backend took, `--repair` puts it back, and the exit code
/// says which is which.
#[test]
fn scrub_finds_and_repair_heals_a_lost_backend() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let (url, dirs) = erasure_url(&[]);
    ok(run(h, &["init", "--store", &url], None));
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 991) as u8).collect();
    ok(run(h, &["put", "-", "big"], Some(&big)));
    ok(run(h, &["put", "-", "small"], Some(b"hello")));
    let clean = json(run(h, &["scrub", "--json"], None));
    assert_eq!(clean["clean"], true, "{clean}");
    std::fs::remove_dir_all(dirs[2].path().join("blocks")).unwrap();
    let out = run(h, &["get", "big", "-"], None);
    assert_eq!(ok(out), big);
    let out = run(h, &["scrub", "--json"], None);
    assert_eq!(code(&out), Some(1));
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(found["clean"], false);
    let missing = found["backends"][2]["missing"].as_u64().unwrap();
    assert!(missing > 0, "{found}");
    let repaired = json(run(h, &["scrub", "--repair", "--json"], None));
    assert_eq!(repaired["backends"][2]["healed"].as_u64(), Some(missing));
    assert_eq!(json(run(h, &["scrub", "--json"], None))["clean"], true);
    // A store that is not erasure-coded: a usage error.
    let plain = tempfile::tempdir().unwrap();
    let out = run(
        h,
        &[
            "scrub",
            "--store",
            &format!("file://{}", plain.path().display()),
        ],
        None,
    );
    assert_eq!(code(&out), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("erasure"));
}
