//! `coffer identity rotate`: a vault handed over to a new identity on the embedded directory
//! store; the old identity's device is told and stops, and follows with the new identity file;
//! a rerun finds the rotation done.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{code, json, ok, run, text};

#[test]
fn identity_rotate_hands_the_vault_over_and_other_devices_follow() {
    let laptop = tempfile::tempdir().unwrap();
    let phone = tempfile::tempdir().unwrap();
    let (l, p) = (laptop.path(), phone.path());
    let cfg = json(run(
        l,
        &["init", "--json", "--device", "laptop", "--vault", "v"],
        None,
    ));
    let store = cfg["store"].as_str().unwrap().to_string();
    let old = l.join("identity");
    let old = old.to_str().unwrap();
    ok(run(l, &["put", "-", "a.txt"], Some(b"alpha")));
    // The phone: the same identity and store, another device.
    ok(run(
        p,
        &[
            "init", "--store", &store, "-i", old, "--device", "phone", "--vault", "v",
        ],
        None,
    ));
    ok(run(p, &["put", "-", "b.txt"], Some(b"bravo")));
    ok(run(l, &["sync"], None));
    ok(run(p, &["sync"], None));

    let new = l.join("new-identity");
    let new = new.to_str().unwrap();
    let report = json(run(
        l,
        &["identity", "rotate", "--new", new, "--json"],
        None,
    ));
    assert_eq!(report["resumed"], false, "{report}");
    assert_eq!(report["new_identity_created"], true);
    assert_eq!(report["final_heads"], 2);
    assert!(report["to"].as_str().unwrap().starts_with("coffer1"));
    assert!(std::path::Path::new(new).exists());
    // The laptop reads everything, and writes, as the new identity.
    assert_eq!(ok(run(l, &["get", "-i", new, "b.txt"], None)), b"bravo");
    ok(run(l, &["put", "-i", new, "-", "c.txt"], Some(b"charlie")));

    // The phone, still on the old identity, is refused and told where the vault went.
    let out = run(p, &["sync"], None);
    assert_eq!(
        code(&out),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("handed vault v over to"), "{err}");
    assert!(err.contains(report["to"].as_str().unwrap()), "{err}");
    // With the new identity file it follows.
    ok(run(p, &["sync", "-i", new], None));
    assert_eq!(ok(run(p, &["get", "-i", new, "a.txt"], None)), b"alpha");
    assert_eq!(ok(run(p, &["get", "-i", new, "c.txt"], None)), b"charlie");
    let status = text(run(p, &["status", "-i", new], None));
    assert!(status.contains(report["to"].as_str().unwrap()), "{status}");

    // Running it again (as after an interruption) finds it done.
    let again = json(run(
        l,
        &["identity", "rotate", "--new", new, "--json"],
        None,
    ));
    assert_eq!(again["resumed"], true, "{again}");
    assert_eq!(again["handover"], report["handover"]);
    // Rotating to the vault's current owner is refused as bad input.
    let out = run(l, &["identity", "rotate", "-i", new, "--new", new], None);
    assert_eq!(
        code(&out),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `coffer status` after two rotations: the owner now, then each retired owner (newest first)
/// with the time of its handover; `--json` lists the chain oldest first. A vault never rotated
/// shows no owner line and an empty chain.
#[test]
fn status_shows_the_chain_of_handovers() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    ok(run(
        h,
        &["init", "--json", "--device", "laptop", "--vault", "v"],
        None,
    ));
    ok(run(h, &["put", "-", "a.txt"], Some(b"alpha")));
    let before = json(run(h, &["status", "--json"], None));
    assert_eq!(before["handovers"], serde_json::json!([]), "{before}");
    let plain = text(run(h, &["status"], None));
    assert!(!plain.contains("retired:"), "{plain}");

    let second = h.join("second-identity");
    let second = second.to_str().unwrap();
    let third = h.join("third-identity");
    let third = third.to_str().unwrap();
    let r1 = json(run(
        h,
        &["identity", "rotate", "--new", second, "--json"],
        None,
    ));
    let r2 = json(run(
        h,
        &["identity", "rotate", "-i", second, "--new", third, "--json"],
        None,
    ));
    let (first_id, second_id, third_id) = (
        r1["from"].as_str().unwrap(),
        r1["to"].as_str().unwrap(),
        r2["to"].as_str().unwrap(),
    );
    assert_eq!(r2["from"].as_str().unwrap(), second_id);

    let status = json(run(h, &["status", "-i", third, "--json"], None));
    assert_eq!(status["owner"], third_id, "{status}");
    let chain = status["handovers"].as_array().unwrap();
    assert_eq!(chain.len(), 2, "{status}");
    for (i, (from, to, report)) in [(first_id, second_id, &r1), (second_id, third_id, &r2)]
        .into_iter()
        .enumerate()
    {
        assert_eq!(chain[i]["n"], i + 1);
        assert_eq!(chain[i]["from"], from);
        assert_eq!(chain[i]["to"], to);
        assert_eq!(chain[i]["handover"], report["handover"]);
        assert!(
            chain[i]["time"].as_str().unwrap().ends_with('Z'),
            "{status}"
        );
    }

    let plain = text(run(h, &["status", "-i", third], None));
    assert!(plain.contains(&format!("owner:     {third_id}")), "{plain}");
    let retired: Vec<&str> = plain.lines().filter(|l| l.contains("retired:")).collect();
    assert_eq!(retired.len(), 2, "{plain}");
    // Newest first: the second identity retired last.
    assert!(retired[0].contains(second_id), "{plain}");
    assert!(retired[1].contains(first_id), "{plain}");
    assert!(
        retired[1].contains(chain[0]["time"].as_str().unwrap()),
        "{plain}"
    );
}
