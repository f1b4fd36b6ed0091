//! Sharing from the terminal: Alice shares a prefix with Bob through his inbox, Bob accepts and
//! reads it, a share expires (exit 7), Alice revokes Bob while Carol keeps reading, rotation and
//! re-encryption report what they wrote. On the embedded default store and on SeaweedFS.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on setup failures

mod common;

use std::path::Path;

use common::{json, ok, require_env, run, seaweedfs_url, text, unique};

/// Makes an identity in `home` and returns its recipient.
fn person(home: &Path) -> String {
    let id = home.join("identity");
    ok(run(home, &["keygen", "-o", id.to_str().unwrap()], None));
    text(run(home, &["recipient", "-i", id.to_str().unwrap()], None))
        .trim()
        .to_string()
}

fn share_suite(url: Option<&str>) {
    let (alice, bob, carol, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = alice.path();
    let vault = unique("s");
    let mut init = vec!["init", "--json", "--vault", &vault];
    if let Some(u) = url {
        init.extend(["--store", u]);
    }
    let cfg = json(run(a, &init, None));
    let store = cfg["store"].as_str().unwrap().to_string();
    for (k, v) in [
        ("trip/day1.jpg", "sand"),
        ("trip/day2.jpg", "sea"),
        ("taxes.pdf", "secret"),
    ] {
        ok(run(a, &["put", "-", k], Some(v.as_bytes())));
    }
    let bob_r = person(bob.path());
    let carol_r = person(carol.path());
    // Bob and Carol point at Alice's store; their own homes hold their identity and share book.
    let as_ = |home: &Path, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--store", store.as_str()]);
        run(home, &all, None)
    };

    // Alice shares the prefix with Bob for a week.
    let share = json(run(
        a,
        &[
            "share",
            "trip/",
            "--to",
            &bob_r,
            "--expires",
            "7d",
            "--json",
        ],
        None,
    ));
    assert_eq!(share["scope"]["kind"], "prefix");
    assert_eq!(share["status"], "active");
    let bob_id = share["id"].as_str().unwrap().to_string();

    // Bob: inbox, accept, read.
    let inbox = json(as_(bob.path(), &["inbox", "--json"]));
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    assert_eq!(inbox[0]["status"], "new");
    assert_eq!(inbox[0]["from"], cfg["recipient"]);
    let accepted = json(as_(bob.path(), &["accept", "--all", "--json"]));
    assert_eq!(accepted[0]["result"], "accepted");
    let inbox = json(as_(bob.path(), &["inbox", "--json"]));
    assert_eq!(inbox[0]["status"], "accepted");
    // Accepting the same grant again is a replay (exit 3).
    let again = as_(bob.path(), &["accept", &bob_id[..8]]);
    assert_eq!(again.status.code(), Some(3), "{again:?}");
    let keys = json(as_(bob.path(), &["shared", "ls", &bob_id[..8], "--json"]));
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["trip/day1.jpg", "trip/day2.jpg"]);
    let out = files.path().join("day1.jpg");
    ok(as_(
        bob.path(),
        &[
            "shared",
            "get",
            &bob_id,
            "trip/day1.jpg",
            "-o",
            out.to_str().unwrap(),
        ],
    ));
    assert_eq!(std::fs::read(&out).unwrap(), b"sand");
    let outside = as_(bob.path(), &["shared", "get", &bob_id, "taxes.pdf"]);
    assert_eq!(outside.status.code(), Some(2), "out of scope");
    // Carol has nothing; Bob's share is not hers.
    assert!(text(as_(carol.path(), &["inbox"])).contains("inbox empty"));

    // A share that expires: refused with exit 7 once its time is up.
    let short = json(run(
        a,
        &[
            "share",
            "trip/day2.jpg",
            "--to",
            &bob_r,
            "--expires",
            "2s",
            "--json",
        ],
        None,
    ));
    assert_eq!(short["scope"]["kind"], "object");
    let short_id = short["id"].as_str().unwrap().to_string();
    ok(as_(bob.path(), &["accept", &short_id]));
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    let late = as_(bob.path(), &["shared", "get", &short_id, "trip/day2.jpg"]);
    assert_eq!(late.status.code(), Some(7), "{late:?}");
    assert!(String::from_utf8_lossy(&late.stderr).contains("expired"));
    // Alice writes after the expiry: the object's epoch ends (nobody else holds it).
    ok(run(a, &["put", "-", "trip/day2.jpg"], Some(b"sea, later")));
    let statuses = json(run(a, &["shares", "--json"], None));
    let status_of = |id: &str| {
        statuses
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status_of(&short_id), "expired");
    assert_eq!(status_of(&bob_id), "active");

    // Carol joins; Alice revokes Bob: Carol gets a new grant and reads what comes next, Bob is
    // refused (exit 7).
    let carol_share = json(run(
        a,
        &[
            "share",
            "trip/",
            "--to",
            &carol_r,
            "--expires",
            "30d",
            "--json",
        ],
        None,
    ));
    let carol_id = carol_share["id"].as_str().unwrap().to_string();
    ok(as_(carol.path(), &["accept", "--all"]));
    let revoked = json(run(a, &["revoke", &bob_id[..10], "--json"], None));
    assert_eq!(revoked["grants"], 1);
    assert_eq!(revoked["objects"], 2);
    ok(run(a, &["put", "-", "trip/day3.jpg"], Some(b"after bob")));
    let refused = as_(bob.path(), &["shared", "get", &bob_id, "trip/day1.jpg"]);
    assert_eq!(refused.status.code(), Some(7), "{refused:?}");
    let updated = json(as_(carol.path(), &["accept", "--all", "--json"]));
    assert!(
        updated
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["result"] == "updated"),
        "{updated}"
    );
    let day3 = as_(carol.path(), &["shared", "get", &carol_id, "trip/day3.jpg"]);
    assert_eq!(ok(day3), b"after bob");

    // Rotation re-wraps keys (metadata only); re-encryption writes new versions, resumably.
    let rotated = json(run(a, &["rotate", "trip/", "--json"], None));
    assert_eq!(rotated["objects"], 3);
    assert_eq!(rotated["grants"], 1);
    let re = json(run(a, &["reencrypt", "trip/", "--json"], None));
    assert_eq!(re["reencrypted"], 3);
    let since = re["since"].as_u64().unwrap().to_string();
    let resumed = json(run(
        a,
        &["reencrypt", "trip/", "--since", &since, "--json"],
        None,
    ));
    assert_eq!(
        (resumed["reencrypted"].clone(), resumed["skipped"].clone()),
        (0.into(), 3.into())
    );
    ok(as_(carol.path(), &["accept", "--all"]));
    let day1 = as_(carol.path(), &["shared", "get", &carol_id, "trip/day1.jpg"]);
    assert_eq!(ok(day1), b"sand");

    // Co-writing: read-write shares of team/ for Bob and Carol. Each writes (published by a
    // signed head of their own); Alice's sync merges what lies inside the prefix; a write outside
    // is refused (exit 2); a read-only share cannot write (exit 2).
    let mut write_ids = Vec::new();
    for who in [&bob_r, &carol_r] {
        let rw = json(run(
            a,
            &[
                "share",
                "team/",
                "--to",
                who,
                "--expires",
                "7d",
                "--write",
                "--json",
            ],
            None,
        ));
        assert_eq!(rw["write"], true);
        write_ids.push(rw["id"].as_str().unwrap().to_string());
    }
    ok(as_(bob.path(), &["accept", "--all"]));
    ok(as_(carol.path(), &["accept", "--all"]));
    let put_as = |home: &Path, id: &str, key: &str, body: &[u8]| {
        run(
            home,
            &["shared", "put", id, key, "-", "--store", store.as_str()],
            Some(body),
        )
    };
    ok(put_as(bob.path(), &write_ids[0], "team/a.txt", b"from bob"));
    ok(put_as(
        carol.path(),
        &write_ids[1],
        "team/b.txt",
        b"from carol",
    ));
    let outside = put_as(bob.path(), &write_ids[0], "taxes.pdf", b"evil");
    assert_eq!(outside.status.code(), Some(2), "{outside:?}");
    let read_only = put_as(carol.path(), &carol_id, "trip/x.jpg", b"no");
    assert_eq!(read_only.status.code(), Some(2), "{read_only:?}");
    ok(run(a, &["sync"], None));
    assert_eq!(ok(run(a, &["get", "team/a.txt"], None)), b"from bob");
    assert_eq!(ok(run(a, &["get", "team/b.txt"], None)), b"from carol");
    assert_eq!(ok(run(a, &["get", "taxes.pdf"], None)), b"secret");
    ok(as_(
        bob.path(),
        &["shared", "rm", &write_ids[0], "team/b.txt"],
    ));
    ok(run(a, &["sync"], None));
    let team: Vec<String> = json(run(a, &["ls", "team/", "--json"], None))["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(team, ["team/a.txt"]);
    let carol_sees = json(as_(
        carol.path(),
        &["shared", "ls", &write_ids[1], "--json"],
    ));
    let carol_keys: Vec<&str> = carol_sees
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["key"].as_str().unwrap())
        .collect();
    assert_eq!(carol_keys, ["team/a.txt"]);

    // Share links: on S3 a presigned URL with the key in the fragment, which the server stops
    // honouring at expiry; stores that cannot presign say so.
    if url.is_some() {
        let link = text(run(a, &["link", "taxes.pdf", "--expires", "3s"], None));
        let link = link.trim();
        assert!(
            link.contains("X-Amz-Signature") && link.contains("#coffer-link-2."),
            "{link}"
        );
        let nobody = tempfile::tempdir().unwrap();
        let got = files.path().join("taxes.pdf");
        ok(run(
            nobody.path(),
            &["open-link", link, "-o", got.to_str().unwrap()],
            None,
        ));
        assert_eq!(std::fs::read(&got).unwrap(), b"secret");
        // The link from stdin, or from COFFER_LINK: the key stays off the command line.
        std::fs::remove_file(&got).unwrap();
        let piped = run(
            nobody.path(),
            &["open-link", "-", "-o", got.to_str().unwrap()],
            Some(format!("{link}\n").as_bytes()),
        );
        ok(piped);
        assert_eq!(std::fs::read(&got).unwrap(), b"secret");
        let from_env = std::process::Command::new(env!("CARGO_BIN_EXE_coffer"))
            .args(["open-link"])
            .env("COFFER_HOME", nobody.path())
            .env("COFFER_LINK", link)
            .output()
            .unwrap();
        assert_eq!(ok(from_env), b"secret");
        // A server that answers more than the link's sealed length is cut off (exit 3).
        let inflating = endless_http_server();
        let (_, fragment) = link.split_once('#').unwrap();
        let hostile = format!("{inflating}/blocks/x#{fragment}");
        let started = std::time::Instant::now();
        let big = run(nobody.path(), &["open-link", &hostile], None);
        assert_eq!(big.status.code(), Some(3), "{big:?}");
        assert!(
            String::from_utf8_lossy(&big.stderr).contains("more than the"),
            "{big:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(60));
        // A link whose fragment was altered does not open.
        let tampered = link.replace("#coffer-link-2.", "#coffer-link-2.AAAA");
        let bad = run(nobody.path(), &["open-link", &tampered], None);
        assert_eq!(bad.status.code(), Some(3), "{bad:?}");
        std::thread::sleep(std::time::Duration::from_millis(4_000));
        let late = run(nobody.path(), &["open-link", link], None);
        assert_eq!(
            late.status.code(),
            Some(7),
            "the server must refuse: {late:?}"
        );
        // A version share can carry a presigned URL too.
        let version = json(run(a, &["stat", "taxes.pdf", "--json"], None))["version"]
            .as_str()
            .unwrap()
            .to_string();
        ok(run(
            a,
            &[
                "share",
                "taxes.pdf",
                "--version",
                &version,
                "--presign",
                "--to",
                &carol_r,
                "--expires",
                "1h",
            ],
            None,
        ));
        let inbox = json(as_(carol.path(), &["inbox", "--json"]));
        assert!(
            inbox.as_array().unwrap().iter().any(|e| e["presigned_url"]
                .as_str()
                .is_some_and(|u| u.contains("X-Amz-"))),
            "{inbox}"
        );
    } else {
        let none = run(a, &["link", "taxes.pdf", "--expires", "1h"], None);
        assert_eq!(none.status.code(), Some(2), "{none:?}");
        assert!(String::from_utf8_lossy(&none.stderr).contains("cannot make links"));
    }

    // Bad input: an expiry that is not a duration, a recipient that is not one.
    let bad = run(
        a,
        &["share", "trip/", "--to", &carol_r, "--expires", "soon"],
        None,
    );
    assert_eq!(bad.status.code(), Some(2));
    let bad = run(
        a,
        &["share", "trip/", "--to", "coffer1nope", "--expires", "1h"],
        None,
    );
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn sharing_on_the_embedded_default_store() {
    share_suite(None);
}

#[test]
fn sharing_on_seaweedfs() {
    let url = seaweedfs_url("share");
    share_suite(Some(&url));
}

/// The demo's co-writing chapter (owner with two devices, Carol and Dan under read-write shares,
/// offline edits, sync in turns, a write outside the prefix, a revocation) on SeaweedFS.
#[test]
fn demo_cowriting_on_seaweedfs() {
    let home = tempfile::tempdir().unwrap();
    let url = seaweedfs_url("demo");
    let out = text(run(home.path(), &["demo", "--store", &url], None));
    for needle in [
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

/// Share links on IPFS: the URL is a trustless-gateway CAR of the sealed object (one block, or a
/// large blob's root and leaves), the key in the fragment. The gateway never expires anything, so
/// coffer's opener refuses an expired link itself.
#[test]
fn share_links_on_ipfs_through_the_gateway() {
    let api = require_env("COFFER_TEST_IPFS_API", ".ci/kubo.sh");
    let gateway = require_env("COFFER_TEST_IPFS_GATEWAY", ".ci/kubo.sh");
    let (alice, nobody, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let a = alice.path();
    let host = api.trim_start_matches("http://");
    let store = format!("ipfs://{host}?link_gateway={gateway}");
    let vault = unique("l");
    ok(run(
        a,
        &["init", "--vault", &vault, "--store", &store],
        None,
    ));
    // Over 2 MiB sealed: a DAG of three leaves on the node.
    let big: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
    ok(run(a, &["put", "-", "note.txt"], Some(b"hello bob")));
    ok(run(a, &["put", "-", "film.bin"], Some(&big)));
    let mut links = Vec::new();
    for (key, want) in [("note.txt", &b"hello bob"[..]), ("film.bin", &big[..])] {
        let link = text(run(a, &["link", key, "--expires", "1h"], None));
        let link = link.trim().to_string();
        assert!(
            link.starts_with(&format!("{gateway}/ipfs/"))
                && link.contains("?format=car#coffer-link-2."),
            "{link}"
        );
        let got = files.path().join(key);
        ok(run(
            nobody.path(),
            &["open-link", &link, "-o", got.to_str().unwrap()],
            None,
        ));
        assert!(std::fs::read(&got).unwrap() == want, "{key} differs");
        links.push(link);
    }
    // One object's fragment on the other's CAR: the blocks check out, the object does not.
    let (small_url, small_key) = links[0].split_once('#').unwrap();
    let (big_url, big_key) = links[1].split_once('#').unwrap();
    for swapped in [
        format!("{small_url}#{big_key}"),
        format!("{big_url}#{small_key}"),
    ] {
        let bad = run(nobody.path(), &["open-link", &swapped], None);
        assert_eq!(bad.status.code(), Some(3), "{bad:?}");
    }
    // The gateway would serve it forever; coffer refuses an expired link before fetching.
    let link = text(run(a, &["link", "note.txt", "--expires", "1s"], None));
    let said = run(a, &["link", "note.txt", "--expires", "1s"], None);
    assert!(String::from_utf8_lossy(&said.stderr).contains("gateway keeps serving"));
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    let late = run(nobody.path(), &["open-link", link.trim()], None);
    assert_eq!(late.status.code(), Some(7), "{late:?}");
}

/// The adversary of the link test: an HTTP server on 127.0.0.1 answering any request with an
/// endless chunked body (until the client hangs up, at most 1 GiB). Returns its base URL.
fn endless_http_server() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            std::thread::spawn(move || {
                let mut req = Vec::new();
                let mut buf = [0u8; 4096];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let head =
                    "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
                if conn.write_all(head.as_bytes()).is_err() {
                    return;
                }
                let garbage = vec![0x5au8; 64 << 10];
                let mut chunk = format!("{:x}\r\n", garbage.len()).into_bytes();
                chunk.extend_from_slice(&garbage);
                chunk.extend_from_slice(b"\r\n");
                for _ in 0..(1 << 30) / garbage.len() {
                    if conn.write_all(&chunk).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}
