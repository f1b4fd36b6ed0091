//! Each attack of [`HostileStore`] takes effect, and the caps it enforces by default hold.

use bytes::Bytes;
use futures_executor::block_on;

use super::*;
use crate::block::raw_cid;
use crate::store::{MAX_HEAD_BYTES, MemoryStore, collect_stream};

fn block(s: &str) -> (Cid, Bytes) {
    let b = Bytes::from(s.as_bytes().to_vec());
    (raw_cid(&b), b)
}

fn store() -> (HostileStore<MemoryStore>, (Cid, Bytes), (Cid, Bytes)) {
    let h = HostileStore::new(MemoryStore::new(), 42);
    let a = block("block a: the honest answer");
    let b = block("block b: another block of the same store");
    block_on(h.put(&a.0, a.1.clone())).unwrap();
    block_on(h.put(&b.0, b.1.clone())).unwrap();
    (h, a, b)
}

fn write(h: &HostileStore<MemoryStore>, ns: &str, writer: &str, bytes: &str) {
    block_on(h.write_head(
        ns,
        writer,
        Bytes::from(bytes.to_string()),
        HeadCondition::Any,
    ))
    .unwrap();
}

fn heads(h: &HostileStore<MemoryStore>, ns: &str) -> Vec<(String, Bytes)> {
    let mut v: Vec<(String, Bytes)> = block_on(h.read_heads(ns))
        .unwrap()
        .into_iter()
        .map(|h| (h.writer, h.bytes))
        .collect();
    v.sort();
    v
}

#[test]
fn substitute_truncate_and_oversize_blocks() {
    let (h, a, b) = store();
    h.arm_once(Attack::SubstituteBlock {
        target: a.0,
        with: b.0,
    });
    assert_eq!(block_on(h.get(&a.0)).unwrap(), b.1);
    // One-shot: the next read is honest.
    assert_eq!(block_on(h.get(&a.0)).unwrap(), a.1);

    h.arm_once(Attack::SubstituteBlock {
        target: a.0,
        with: b.0,
    });
    assert_eq!(block_on(h.get_range(&a.0, 0..5)).unwrap(), b.1.slice(0..5));

    h.arm_once(Attack::TruncateBlock {
        target: a.0,
        keep: 3,
    });
    assert_eq!(block_on(h.get(&a.0)).unwrap(), a.1.slice(..3));

    h.arm_once(Attack::OversizeBlock {
        target: a.0,
        extra: 10,
    });
    let got = block_on(h.get(&a.0)).unwrap();
    assert_eq!(got.len(), a.1.len() + 10);
    assert_eq!(got.slice(..a.1.len()), a.1);
    assert_eq!(h.attack_count(), 4);
    let kinds: Vec<AttackKind> = h.applied().iter().map(|x| x.attack.kind()).collect();
    assert_eq!(
        kinds,
        [
            AttackKind::SubstituteBlock,
            AttackKind::SubstituteBlock,
            AttackKind::TruncateBlock,
            AttackKind::OversizeBlock
        ]
    );
}

#[test]
fn caps_refuse_what_a_built_in_transport_refuses() {
    let (h, a, _) = store();
    let len = a.1.len() as u64;
    // A huge inflation is refused from its planned length: nothing is allocated.
    h.arm_once(Attack::OversizeBlock {
        target: a.0,
        extra: 1 << 40,
    });
    assert!(matches!(
        block_on(h.get_max(&a.0, len)),
        Err(StoreError::TooLarge { limit, .. }) if limit == len
    ));
    h.arm_once(Attack::OversizeBlock {
        target: a.0,
        extra: 1,
    });
    assert!(matches!(
        block_on(h.get_range(&a.0, 0..4)),
        Err(StoreError::TooLarge { .. })
    ));
    h.arm_once(Attack::TruncateBlock {
        target: a.0,
        keep: 2,
    });
    assert!(matches!(
        block_on(h.get_range(&a.0, 0..4)),
        Err(StoreError::Corrupt { .. })
    ));
    // Without caps the hostile answers go through, as from a careless app store.
    h.set_enforce_caps(false);
    h.arm_once(Attack::OversizeBlock {
        target: a.0,
        extra: 5,
    });
    assert_eq!(
        block_on(h.get_max(&a.0, len)).unwrap().len() as u64,
        len + 5
    );
    h.arm_once(Attack::TruncateBlock {
        target: a.0,
        keep: 2,
    });
    assert_eq!(block_on(h.get_range(&a.0, 0..4)).unwrap().len(), 2);
    assert_eq!(h.attack_count(), 5);
}

#[test]
fn streams_are_attacked_without_buffering() {
    let (h, a, b) = store();
    h.arm_once(Attack::OversizeBlock {
        target: a.0,
        extra: 200_000,
    });
    let got = block_on(collect_stream(block_on(h.get_stream(&a.0)).unwrap())).unwrap();
    assert_eq!(got.len(), a.1.len() + 200_000);
    h.arm_once(Attack::TruncateBlock {
        target: a.0,
        keep: 4,
    });
    let got = block_on(collect_stream(block_on(h.get_stream(&a.0)).unwrap())).unwrap();
    assert_eq!(got, a.1.slice(..4));
    h.arm_once(Attack::SubstituteBlock {
        target: a.0,
        with: b.0,
    });
    let got = block_on(collect_stream(block_on(h.get_stream(&a.0)).unwrap())).unwrap();
    assert_eq!(got, b.1);
}

#[test]
fn replay_omit_swap_and_oversize_heads() {
    let (h, _, _) = store();
    write(&h, "vault", "alice", "alice v1");
    write(&h, "vault", "alice", "alice v2");
    write(&h, "vault", "bob", "bob v1");
    write(&h, "_coffer-inbox-x", "grant", "a grant");
    let alice = HeadName::new("vault", "alice");
    assert_eq!(h.head_history(&alice).len(), 2);

    h.arm_once(Attack::ReplayHead {
        head: alice.clone(),
        version: 0,
    });
    let got = heads(&h, "vault");
    assert_eq!(got[0], ("alice".into(), Bytes::from("alice v1")));
    h.arm_once(Attack::ReplayHead {
        head: alice.clone(),
        version: 0,
    });
    let one = block_on(h.read_head("vault", "alice")).unwrap().unwrap();
    assert_eq!(one.bytes, Bytes::from("alice v1"));
    assert_eq!(one.version, content_version(b"alice v1"));

    h.arm_once(Attack::OmitHead {
        head: HeadName::new("vault", "bob"),
    });
    assert_eq!(heads(&h, "vault").len(), 1);
    h.arm_once(Attack::OmitHead {
        head: HeadName::new("vault", "bob"),
    });
    assert!(block_on(h.read_head("vault", "bob")).unwrap().is_none());
    // An armed attack on another writer is kept for a read that it hits.
    h.arm_once(Attack::OmitHead {
        head: HeadName::new("vault", "bob"),
    });
    assert!(block_on(h.read_head("vault", "alice")).unwrap().is_some());
    assert!(block_on(h.read_head("vault", "bob")).unwrap().is_none());

    // Across namespaces: an inbox entry served as a vault head.
    h.arm_once(Attack::SwapHead {
        source: HeadName::new("_coffer-inbox-x", "grant"),
        target: HeadName::new("vault", "bob"),
    });
    let got = heads(&h, "vault");
    assert_eq!(got[1], ("bob".into(), Bytes::from("a grant")));

    h.arm_once(Attack::OversizeHead {
        head: alice.clone(),
        len: MAX_HEAD_BYTES + 1,
    });
    assert!(matches!(
        block_on(h.read_heads("vault")),
        Err(StoreError::TooLarge { limit, .. }) if limit == MAX_HEAD_BYTES
    ));
    h.set_enforce_caps(false);
    h.arm_once(Attack::OversizeHead {
        head: alice,
        len: 2 << 20,
    });
    let got = heads(&h, "vault");
    assert_eq!(got[0].1.len(), 2 << 20);
    assert_eq!(h.attack_count(), 8);
}

#[test]
fn inbox_entries_reordered_duplicated_dropped_and_overwritten() {
    let (h, _, _) = store();
    let inbox = "_coffer-inbox-bob";
    for i in 0..6 {
        write(&h, inbox, &format!("e{i}"), &format!("entry {i}"));
    }
    let honest = heads(&h, inbox);
    let order = |h: &HostileStore<MemoryStore>| {
        block_on(h.read_heads(inbox))
            .unwrap()
            .into_iter()
            .map(|h| h.writer)
            .collect::<Vec<_>>()
    };
    let before = order(&h);
    h.arm_once(Attack::ReorderHeads {
        namespace: inbox.into(),
        seed: 7,
    });
    let after = order(&h);
    assert_ne!(before, after);
    let mut sorted = after.clone();
    sorted.sort();
    assert_eq!(sorted.len(), 6);

    h.arm_once(Attack::DuplicateHead {
        head: HeadName::new(inbox, "e1"),
        alias: "e1-copy".into(),
    });
    let got = heads(&h, inbox);
    assert_eq!(got.len(), 7);
    assert!(got.contains(&("e1-copy".into(), Bytes::from("entry 1"))));

    // Overwrite is a real write: the honest store now holds it too.
    let e2 = HeadName::new(inbox, "e2");
    block_on(h.overwrite_head(&e2, Bytes::from("forged"))).unwrap();
    let stored = block_on(h.inner().read_head(inbox, "e2")).unwrap().unwrap();
    assert_eq!(stored.bytes, Bytes::from("forged"));
    assert_ne!(heads(&h, inbox), honest);
    assert_eq!(h.attack_count(), 3);
}

#[test]
fn writes_fail_when_told() {
    let (h, a, _) = store();
    h.arm(Attack::FailWrites);
    assert!(matches!(
        block_on(h.put(&a.0, a.1.clone())),
        Err(StoreError::Unavailable(_))
    ));
    assert!(block_on(h.write_head("v", "w", Bytes::new(), HeadCondition::Any)).is_err());
    assert!(block_on(h.delete(&a.0)).is_err());
    h.disarm_all();
    block_on(h.delete(&a.0)).unwrap();
    assert_eq!(h.attack_count(), 3);
}

/// Runs a fixed workload under random attacks and returns the log.
fn random_run(seed: u64) -> (Vec<Applied>, usize) {
    let h = HostileStore::new(MemoryStore::new(), seed);
    h.set_random(RandomAttacks {
        read_rate: 0.5,
        write_failure_rate: 0.1,
        ..Default::default()
    });
    let mut wrong = 0;
    for i in 0..200u32 {
        let (cid, bytes) = block(&format!("block {i}"));
        let _ = block_on(h.put(&cid, bytes.clone()));
        let _ = block_on(h.write_head(
            "_coffer-inbox-r",
            &format!("w{}", i % 7),
            Bytes::from(format!("head {i}")),
            HeadCondition::Any,
        ));
        match block_on(h.get_max(&cid, bytes.len() as u64)) {
            Ok(b) if b != bytes => wrong += 1,
            _ => {}
        }
        let _ = block_on(h.read_heads("_coffer-inbox-r"));
    }
    (h.applied(), wrong)
}

#[test]
fn random_attacks_replay_from_the_seed() {
    let (log, wrong) = random_run(9);
    // Compared as text so that a failure prints a short diff rather than megabytes of garbage.
    let text = |log: &[Applied]| format!("{log:?}");
    assert!(
        text(&random_run(9).0) == text(&log),
        "seed 9 did not replay"
    );
    assert!(text(&random_run(10).0) != text(&log));
    // Every kind shows up in a run of this size, and wrong bytes do reach the caller.
    for kind in [
        AttackKind::ReplayHead,
        AttackKind::OmitHead,
        AttackKind::SwapHead,
        AttackKind::OversizeHead,
        AttackKind::ReorderHeads,
        AttackKind::DuplicateHead,
        AttackKind::OverwriteHead,
        AttackKind::SubstituteBlock,
        AttackKind::TruncateBlock,
        AttackKind::OversizeBlock,
        AttackKind::FailWrites,
    ] {
        assert!(log.iter().any(|a| a.attack.kind() == kind), "{kind:?}");
    }
    assert!(wrong > 0);
}
