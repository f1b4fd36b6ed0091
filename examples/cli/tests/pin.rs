//! `coffer pin add|ls|rm|status` against the IPFS Cluster of `.ci/cluster.sh` (its Pinning
//! Service API behind a JWT): a vault on Kubo 0 pinned at the service, listed, checked, removed;
//! a wrong or missing token.
#![cfg(feature = "stores")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on setup failures

mod common;

use common::{code, json, ok, require_env, run, unique};

const HOW: &str = ".ci/cluster.sh";

#[test]
fn a_vault_is_pinned_listed_checked_and_removed_at_a_pinning_service() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let kubo = require_env("COFFER_TEST_CLUSTER_KUBOS", HOW)
        .split(',')
        .next()
        .unwrap()
        .to_string();
    let service = require_env("COFFER_TEST_PINSVC_URLS", HOW)
        .split(',')
        .nth(2)
        .unwrap()
        .to_string();
    let token_file = require_env("COFFER_TEST_PINSVC_TOKEN_FILE", HOW);
    let store = format!("ipfs://{}", kubo.trim_start_matches("http://"));
    let vault = unique("pin");
    ok(run(
        h,
        &[
            "init", "--store", &store, "--vault", &vault, "--device", "d",
        ],
        None,
    ));
    let big: Vec<u8> = (0..1_500_000u32)
        .map(|i| (i * 13 + i / 999) as u8)
        .collect();
    ok(run(h, &["put", "-", "media/big.bin"], Some(&big)));
    ok(run(h, &["put", "-", "notes/a.txt"], Some(b"alpha")));
    std::fs::write(
        h.join("pin-services.json"),
        serde_json::to_vec(&serde_json::json!({
            "cluster": { "endpoint": service, "token_file": token_file }
        }))
        .unwrap(),
    )
    .unwrap();
    let svc = ["--service", "cluster", "--json"];

    let before = run(h, &[&["pin", "status"][..], &svc].concat(), None);
    assert_eq!(code(&before), Some(1));
    let before: serde_json::Value = serde_json::from_slice(&before.stdout).unwrap();
    let blocks = before["blocks"].as_u64().unwrap();
    assert!(blocks >= 6, "{before}");
    assert_eq!(before["missing"], blocks);

    let added = json(run(h, &[&["pin", "add"][..], &svc].concat(), None));
    assert_eq!(
        (added["pinned"].as_u64(), added["added"].as_u64()),
        (Some(blocks), Some(blocks))
    );
    let name = added["name"].as_str().unwrap().to_string();
    assert!(
        name.starts_with("coffer-") && !name.contains(&vault),
        "{name}"
    );

    let after = json(run(h, &[&["pin", "status"][..], &svc].concat(), None));
    assert_eq!(
        (after["pinned"].as_u64(), after["missing"].as_u64()),
        (Some(blocks), Some(0))
    );
    let listed = json(run(h, &[&["pin", "ls"][..], &svc].concat(), None));
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len() as u64, blocks);
    assert!(
        listed
            .iter()
            .all(|p| p["status"] == "pinned" && p["name"] == name.as_str())
    );

    // Again: nothing new to ask for.
    let again = json(run(h, &[&["pin", "add"][..], &svc].concat(), None));
    assert_eq!(again["already_pinned"].as_u64(), Some(blocks));

    let removed = json(run(h, &[&["pin", "rm"][..], &svc].concat(), None));
    assert_eq!(removed["removed"].as_u64(), Some(blocks));

    // A wrong token: refused, and never printed.
    let bad = h.join("bad-token");
    let forged =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJjb2ZmZXIifQ.Zm9yZ2VkLXNpZ25hdHVyZQ";
    std::fs::write(&bad, forged).unwrap();
    let out = run(
        h,
        &[
            "pin",
            "ls",
            "--endpoint",
            &service,
            "--token-file",
            bad.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code(&out), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused the access token"), "{err}");
    assert!(!err.contains(forged) && !err.contains("Zm9yZ2Vk"), "{err}");
    // No token at all: a usage error that says where a token comes from.
    let out = run(h, &["pin", "ls", "--endpoint", &service], None);
    assert_eq!(code(&out), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("COFFER_PIN_TOKEN"));
}
