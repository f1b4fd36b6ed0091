//! The `coffer` binary as scripts use it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on setup failures

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn coffer(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(args)
        .env_remove("COFFER_IDENTITY")
        .output()
        .expect("run coffer")
}

fn coffer_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(args)
        .env_remove("COFFER_IDENTITY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run coffer");
    // Feed stdin from another thread: coffer writes stdout while it reads, and a full pipe
    // would block both sides.
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn keygen(dir: &Path, name: &str) -> (String, String) {
    let path = dir.join(name);
    let p = path.to_str().unwrap().to_string();
    let stdout = ok(&coffer(&["keygen", "-o", &p]));
    let recipient = stdout.split_whitespace().last().unwrap().to_string();
    assert!(recipient.starts_with("coffer1"), "{stdout}");
    (p, recipient)
}

#[test]
fn keygen_writes_a_private_file_and_prints_the_recipient_last() {
    let dir = tempfile::tempdir().unwrap();
    let (path, recipient) = keygen(dir.path(), "me.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert_eq!(ok(&coffer(&["recipient", "-i", &path])).trim(), recipient);
    // Refuses to overwrite.
    let again = coffer(&["keygen", "-o", &path]);
    assert_eq!(again.status.code(), Some(2));
    // Without -o the identity goes to stdout.
    assert!(ok(&coffer(&["keygen"])).contains("COFFER-SECRET-KEY-1"));
}

#[test]
fn seal_open_verify_round_trip_with_files_and_pipes() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let (alice_key, alice) = keygen(dir.path(), "alice.key");
    let (bob_key, bob) = keygen(dir.path(), "bob.key");
    let plain: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(d("plain"), &plain).unwrap();

    ok(&coffer(&[
        "seal",
        "-r",
        &bob,
        "-i",
        &alice_key,
        &d("plain"),
        &d("sealed"),
        "--outboard",
        &d("obao"),
    ]));
    ok(&coffer(&[
        "open",
        "-i",
        &bob_key,
        "--signer",
        &alice,
        &d("sealed"),
        &d("out"),
    ]));
    assert_eq!(std::fs::read(d("out")).unwrap(), plain);

    // Range: only bytes 70000..70100.
    ok(&coffer(&[
        "open",
        "-i",
        &bob_key,
        "--range",
        "70000..70100",
        &d("sealed"),
        &d("part"),
    ]));
    assert_eq!(std::fs::read(d("part")).unwrap(), &plain[70000..70100]);

    // verify prints the CID; --cid and --outboard check it; -i authenticates everything.
    let v = ok(&coffer(&[
        "verify",
        "--json",
        "-i",
        &bob_key,
        "--outboard",
        &d("obao"),
        &d("sealed"),
    ]));
    let v: serde_json::Value = serde_json::from_str(&v).unwrap();
    let cid = v["cid"].as_str().unwrap().to_string();
    assert!(cid.starts_with("bafkr4i"));
    assert_eq!(v["plaintext_size"], 200_000);
    assert_eq!(v["signer"], alice);
    ok(&coffer(&["verify", "--cid", &cid, &d("sealed")]));

    // stdin → stdout both ways; sealing to yourself when no -r is given.
    let sealed = ok_bytes(&coffer_stdin(
        &["seal", "-q", "-i", &alice_key, "-", "-"],
        &plain,
    ));
    let opened = ok_bytes(&coffer_stdin(
        &["open", "-i", &alice_key, "-", "-"],
        &sealed,
    ));
    assert_eq!(opened, plain);
}

fn ok_bytes(out: &Output) -> Vec<u8> {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout.clone()
}

#[test]
fn damage_is_exit_code_3_and_leaves_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let (key, me) = keygen(dir.path(), "me.key");
    let (other_key, _) = keygen(dir.path(), "other.key");
    std::fs::write(d("plain"), vec![7u8; 300_000]).unwrap();
    ok(&coffer(&["seal", "-r", &me, &d("plain"), &d("sealed")]));
    let mut sealed = std::fs::read(d("sealed")).unwrap();
    sealed[250_000] ^= 1;
    std::fs::write(d("bad"), &sealed).unwrap();

    let out = coffer(&["open", "-i", &key, &d("bad"), &d("out")]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("segment 3 failed authentication"));
    assert!(
        !Path::new(&d("out")).exists(),
        "partial plaintext left behind"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| {
            let n = e.unwrap().file_name().into_string().unwrap();
            n.starts_with(".coffer-tmp").then_some(n)
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // Wrong identity, wrong CID, unsigned when a signer is required.
    assert_eq!(
        coffer(&["open", "-i", &other_key, &d("sealed"), &d("out")])
            .status
            .code(),
        Some(3)
    );
    let wrong_cid = "bafkr4ifpcne3t5pzugtkaqcn5i3nzskjtpfslsnnyejlpte2spfoihzsmi";
    assert_eq!(
        coffer(&["verify", "--cid", wrong_cid, &d("sealed")])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(
        coffer(&["open", "-i", &key, "--signer", &me, &d("sealed"), &d("out")])
            .status
            .code(),
        Some(3)
    );
}

#[test]
fn usage_errors_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    std::fs::write(d("plain"), b"x").unwrap();
    let out = coffer(&["seal", &d("plain"), &d("sealed")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-r RECIPIENT"));
    // A typo in a recipient is an error, never another key.
    let (_, me) = keygen(dir.path(), "me.key");
    let mut typo = me.clone().into_bytes();
    typo[20] = if typo[20] == b'q' { b'p' } else { b'q' };
    let typo = String::from_utf8(typo).unwrap();
    let out = coffer(&["seal", "-r", &typo, &d("plain"), &d("sealed")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum"));
    let out = coffer(&["open", &d("plain"), &d("x")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("COFFER_IDENTITY"));
    let out = coffer(&["open", "-i", &d("me.key"), &d("nonexistent"), &d("x")]);
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn identity_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let (key, me) = keygen(dir.path(), "me.key");
    let out = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(["recipient"])
        .env("COFFER_IDENTITY", &key)
        .output()
        .unwrap();
    assert_eq!(ok(&out).trim(), me);
}

/// Runs coffer with extra environment variables and `input` on stdin, without
/// `COFFER_PASSPHRASE` unless given.
fn coffer_with(args: &[&str], env: &[(&str, &str)], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_coffer"))
        .args(args)
        .env_remove("COFFER_IDENTITY")
        .env_remove("COFFER_PASSPHRASE")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run coffer");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn derived_vectors() -> serde_json::Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-vectors/derived-identities.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The recipient in keygen's stdout (`# recipient: …` of the identity file, or the last word).
fn recipient_in(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .find(|w| w.starts_with("coffer1"))
        .unwrap_or_else(|| panic!("no recipient in {stdout}"))
        .to_string()
}

#[test]
fn keygen_from_a_passphrase_is_the_same_per_account_and_differs_between_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let pw = [("COFFER_PASSPHRASE", "correct horse battery staple")];
    let alice = |out: &str| {
        ok(&coffer_with(
            &[
                "keygen",
                "--passphrase",
                "--account",
                "alice@example.com",
                "-o",
                out,
            ],
            &pw,
            b"",
        ))
    };
    let first = recipient_in(&alice(&d("a1.key")));
    let second = recipient_in(&alice(&d("a2.key")));
    assert_eq!(first, second);
    assert_eq!(
        std::fs::read(d("a1.key")).unwrap(),
        std::fs::read(d("a2.key")).unwrap()
    );
    // The default parameters' known answer (test-vectors/derived-identities.json).
    let vectors = derived_vectors();
    let default_case = vectors["passphrase"]["vectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["default_params"] == true)
        .unwrap();
    assert_eq!(default_case["account"], "alice@example.com");
    assert_eq!(default_case["passphrase"], pw[0].1);
    assert_eq!(first, default_case["recipient"].as_str().unwrap());
    // Another account, same passphrase: another identity.
    let bob = ok(&coffer_with(
        &["keygen", "--passphrase", "--account", "bob@example.com"],
        &pw,
        b"",
    ));
    assert!(bob.contains("COFFER-SECRET-KEY-1"));
    assert_ne!(recipient_in(&bob), first);
    // Without the variable and without a terminal, one line of stdin.
    let piped = ok(&coffer_with(
        &["keygen", "--passphrase", "--account", "alice@example.com"],
        &[],
        b"correct horse battery staple\n",
    ));
    assert_eq!(recipient_in(&piped), first);
}

#[test]
fn keygen_passphrase_usage_errors() {
    let empty = coffer_with(
        &["keygen", "--passphrase", "--account", "alice"],
        &[("COFFER_PASSPHRASE", "")],
        b"",
    );
    assert_eq!(empty.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&empty.stderr).contains("passphrase is empty"));
    let no_account = coffer_with(
        &["keygen", "--passphrase"],
        &[("COFFER_PASSPHRASE", "pw")],
        b"",
    );
    assert_eq!(no_account.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_account.stderr).contains("--account"));
    let blank_account = coffer_with(
        &["keygen", "--passphrase", "--account", "  "],
        &[("COFFER_PASSPHRASE", "pw")],
        b"",
    );
    assert_eq!(blank_account.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&blank_account.stderr).contains("account is empty"));
}

#[test]
fn keygen_from_a_wallet_signature_matches_the_vectors() {
    let vectors = derived_vectors();
    let message = ok(&coffer(&["keygen", "--print-wallet-message"]));
    assert_eq!(
        message.trim_end_matches('\n'),
        vectors["wallet"]["message"].as_str().unwrap()
    );
    for v in vectors["wallet"]["vectors"].as_array().unwrap() {
        let sig = v["signature"].as_str().unwrap();
        let out = ok(&coffer(&[
            "keygen",
            "--wallet-signature",
            &format!("0x{sig}"),
        ]));
        assert_eq!(
            recipient_in(&out),
            v["recipient"].as_str().unwrap(),
            "{}",
            v["note"]
        );
    }
    // From stdin, without 0x.
    let first = &vectors["wallet"]["vectors"][0];
    let out = ok(&coffer_with(
        &["keygen", "--wallet-signature", "-"],
        &[],
        format!("{}\n", first["signature"].as_str().unwrap()).as_bytes(),
    ));
    assert_eq!(recipient_in(&out), first["recipient"].as_str().unwrap());
    for v in vectors["wallet"]["invalid"].as_array().unwrap() {
        let out = coffer(&[
            "keygen",
            "--wallet-signature",
            v["signature"].as_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", v["note"]);
        assert!(out.stdout.is_empty());
    }
    let out = coffer(&["keygen", "--wallet-signature", "0xabc"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hex"));
}

/// Post-quantum and did:key recipients from the command line: `coffer recipient --pq/--did`
/// print them, `seal -r` takes them, the identity opens what was sealed to any form, and
/// `open --signer` accepts the signer in any form.
#[test]
fn post_quantum_and_did_key_recipients() {
    let dir = tempfile::tempdir().unwrap();
    let d = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let (alice_key, alice) = keygen(dir.path(), "alice.key");
    let (bob_key, _) = keygen(dir.path(), "bob.key");
    let (carol_key, _) = keygen(dir.path(), "carol.key");
    let bob_pq = ok(&coffer(&["recipient", "--pq", "-i", &bob_key]))
        .trim()
        .to_string();
    assert!(
        bob_pq.starts_with("cofferpq1") && bob_pq.len() == 2065,
        "{bob_pq}"
    );
    let carol_did = ok(&coffer(&["recipient", "--did", "-i", &carol_key]))
        .trim()
        .to_string();
    assert!(carol_did.starts_with("did:key:z6Mk"), "{carol_did}");
    let alice_did = ok(&coffer(&["recipient", "--did", "-i", &alice_key]))
        .trim()
        .to_string();
    let alice_pq = ok(&coffer(&["recipient", "--pq", "-i", &alice_key]))
        .trim()
        .to_string();
    let plain = b"for the long run".repeat(1000);
    std::fs::write(d("plain"), &plain).unwrap();
    ok(&coffer(&[
        "seal",
        "-i",
        &alice_key,
        "-r",
        &bob_pq,
        "-r",
        &carol_did,
        &d("plain"),
        &d("sealed"),
    ]));
    for (who, signer) in [
        (&bob_key, &alice),
        (&carol_key, &alice_did),
        (&bob_key, &alice_pq),
    ] {
        let out = d("out");
        let _ = std::fs::remove_file(&out);
        ok(&coffer(&[
            "open",
            "-i",
            who,
            "--signer",
            signer,
            &d("sealed"),
            &out,
        ]));
        assert_eq!(std::fs::read(&out).unwrap(), plain);
    }
    // Alice is not a recipient; a wrong expected signer is refused.
    assert!(
        !coffer(&["open", "-i", &alice_key, &d("sealed"), &d("x")])
            .status
            .success()
    );
    let wrong = coffer(&[
        "open",
        "-i",
        &bob_key,
        "--signer",
        &carol_did,
        &d("sealed"),
        &d("y"),
    ]);
    assert!(!wrong.status.success());
    assert!(!Path::new(&d("y")).exists());
    // A did:key of another key type, and a mistyped post-quantum recipient: usage errors.
    let x25519_did = "did:key:z6LShLeXRTzevtwcfehaGEzCMyL3bNsAeKCwcqwJxyCo63yE";
    let mut typo = bob_pq.clone();
    typo.replace_range(500..501, if &bob_pq[500..501] == "q" { "p" } else { "q" });
    for bad in [x25519_did, typo.as_str()] {
        let out = coffer(&["seal", "-r", bad, &d("plain"), &d("z")]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
}
