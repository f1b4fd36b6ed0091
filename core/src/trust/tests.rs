use std::collections::BTreeMap;

use futures_executor::block_on;

use super::*;

fn head<'a>(writer: &'a str, seq: u64, d: u8, claims: &'a BTreeMap<String, u64>) -> ServedHead<'a> {
    ServedHead {
        writer,
        seq,
        digest: [d; 32],
        claims,
    }
}

#[test]
fn rollbacks_forks_and_omissions_are_refused() {
    let none = BTreeMap::new();
    let mut t = VaultTrust::default();
    let now = [head("a", 3, 3, &none), head("b", 5, 5, &none)];
    t.check(&now).expect("first sight is trusted");
    t.record(&now);
    // Newer is fine.
    t.check(&[head("a", 4, 4, &none), head("b", 5, 5, &none)])
        .expect("newer");
    // Older: rolled back.
    assert!(matches!(
        t.check(&[head("a", 2, 2, &none), head("b", 5, 5, &none)]),
        Err(TrustError::RolledBack {
            seen: 3,
            served: 2,
            ..
        })
    ));
    // Same seq, other content: forked.
    assert!(matches!(
        t.check(&[head("a", 3, 9, &none), head("b", 5, 5, &none)]),
        Err(TrustError::Forked { seq: 3, .. })
    ));
    // Omitted.
    assert!(matches!(
        t.check(&[head("a", 3, 3, &none)]),
        Err(TrustError::MissingHead { seen: 5, .. })
    ));
}

#[test]
fn a_head_that_claims_more_than_is_served_exposes_the_rollback() {
    // A fresh device has no memory, but b's head says it merged a at seq 7.
    let claims = BTreeMap::from([("a".to_string(), 7)]);
    let none = BTreeMap::new();
    let t = VaultTrust::default();
    assert!(matches!(
        t.check(&[head("a", 6, 6, &none), head("b", 1, 1, &claims)]),
        Err(TrustError::RolledBack {
            seen: 7,
            served: 6,
            ..
        })
    ));
    assert!(matches!(
        t.check(&[head("b", 1, 1, &claims)]),
        Err(TrustError::MissingHead { seen: 7, .. })
    ));
    t.check(&[head("a", 7, 7, &none), head("b", 1, 1, &claims)])
        .expect("consistent");
}

#[test]
fn record_counters_only_go_up() {
    let mut t = VaultTrust::default();
    t.check_record("r", 3).expect("first");
    t.check_record("r", 3).expect("same");
    assert!(matches!(
        t.check_record("r", 2),
        Err(TrustError::RolledBack {
            seen: 3,
            served: 2,
            ..
        })
    ));
}

#[test]
fn saving_merges_with_what_another_process_saved() {
    block_on(async {
        let store = MemoryTrust::new();
        let none = BTreeMap::new();
        let mut a = VaultTrust::default();
        a.record(&[head("w", 5, 5, &none)]);
        a.save(&store, "v").await.expect("save");
        let mut b = VaultTrust::default();
        b.record(&[head("w", 3, 3, &none), head("x", 1, 1, &none)]);
        b.save(&store, "v").await.expect("save");
        let got = VaultTrust::load(&store, "v").await.expect("load");
        assert_eq!(got.writers["w"].seq, 5);
        assert_eq!(got.writers["x"].seq, 1);
    });
}

#[test]
fn fingerprints_are_equal_for_equal_states_and_differ_otherwise() {
    let none = BTreeMap::new();
    let mut a = VaultTrust::default();
    a.record(&[head("w", 5, 5, &none)]);
    let mut b = VaultTrust::default();
    b.record(&[head("w", 5, 5, &none)]);
    assert_eq!(a.fingerprint("v"), b.fingerprint("v"));
    assert_eq!(a.fingerprint("v").len(), 19);
    b.record(&[head("w", 6, 6, &none)]);
    assert_ne!(a.fingerprint("v"), b.fingerprint("v"));
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn file_trust_round_trips_with_private_files() {
    block_on(async {
        let dir = tempfile::tempdir().expect("tmp");
        let store = FileTrust::open(dir.path().join("trust")).expect("open");
        assert_eq!(store.load("x").await.expect("load"), None);
        store.save("x", b"abc".to_vec()).await.expect("save");
        assert_eq!(store.load("x").await.expect("load"), Some(b"abc".to_vec()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for e in std::fs::read_dir(dir.path().join("trust")).expect("dir") {
                let mode = e
                    .expect("entry")
                    .metadata()
                    .expect("meta")
                    .permissions()
                    .mode();
                assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
            }
        }
    });
}
