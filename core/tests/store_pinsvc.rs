//! Remote pinning services: a vault on a Kubo node pinned to a real Pinning Service API (IPFS
//! Cluster's `pinsvcapi`, behind a JWT, `.ci/cluster.sh start`; never skipped: a missing cluster
//! fails the tests with what to do), and the client against a hostile service (429, 5xx, pins
//! that never finish, malformed and endless answers, a service that echoes the token).
#![cfg(feature = "ipfs")]
// Test helpers too: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use coffer::block::{Cid, raw_cid};
use coffer::keys::Identity;
use coffer::store::ipfs::pinsvc::{PinFilter, PinProgress, PinState};
use coffer::store::ipfs::{
    IpfsConfig, IpfsStore, LEAF_SIZE, PinServiceConfig, PinServiceError, PinningService,
    ServiceToken,
};
use coffer::vault::{PruneOptions, PutOptions, Vault};
use common::{HttpAnswer, curl, data, hostile_http, require_env, run_tag, within};

const HOW: &str = ".ci/cluster.sh start";

fn list(var: &str) -> Vec<String> {
    require_env(var, HOW)
        .split(',')
        .map(str::to_string)
        .collect()
}

fn token() -> ServiceToken {
    ServiceToken::from_file(std::path::Path::new(&require_env(
        "COFFER_TEST_PINSVC_TOKEN_FILE",
        HOW,
    )))
    .unwrap()
}

fn token_text() -> String {
    std::fs::read_to_string(require_env("COFFER_TEST_PINSVC_TOKEN_FILE", HOW))
        .unwrap()
        .trim()
        .to_string()
}

fn service(endpoint: &str, token: ServiceToken) -> PinningService {
    let mut c = PinServiceConfig::new(endpoint, token);
    c.pin_timeout = Duration::from_secs(120);
    c.poll_interval = Duration::from_millis(200);
    PinningService::new(c).unwrap()
}

/// Whether Kubo `node` holds a recursive pin of `cid` (so it fetched the whole DAG).
async fn kubo_pins(node: &str, cid: &Cid) -> bool {
    let url = format!("{node}/api/v0/pin/ls?arg={cid}&type=recursive");
    let (status, body) = curl(&["-X", "POST", &url]).await;
    status == 200 && String::from_utf8_lossy(&body).contains(&cid.to_string())
}

/// The cluster REST API's view of `cid`: how many peers report it `pinned`.
async fn cluster_pinned(api: &str, cid: &Cid) -> usize {
    let (status, body) = curl(&[&format!("{api}/pins/{cid}")]).await;
    if status != 200 {
        return 0;
    }
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["peer_map"]
        .as_object()
        .map(|m| m.values().filter(|p| p["status"] == "pinned").count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vault_is_pinned_to_the_cluster_service_listed_and_removed() {
    let kubos = list("COFFER_TEST_CLUSTER_KUBOS");
    let apis = list("COFFER_TEST_CLUSTER_APIS");
    let services = list("COFFER_TEST_PINSVC_URLS");
    let tag = run_tag("pinsvc");

    // The user's node: a plain IPFS store on Kubo 0, which the cluster's other peers can reach.
    let mut c = IpfsConfig::new(kubos[0].clone());
    c.namespace = tag.clone();
    let store = Arc::new(IpfsStore::connect(c).await.unwrap());
    let mut vault = Vault::create(store.clone(), Identity::generate(), &tag, "laptop")
        .await
        .unwrap();
    let big = data("pinsvc-big", 2 * LEAF_SIZE + 777); // a DAG of three leaves
    vault
        .put(b"photos/big.raw", big.clone(), PutOptions::default())
        .await
        .unwrap();
    for i in 0..8 {
        let body = data(&format!("small-{i}"), 1000 + i);
        vault
            .put(format!("notes/{i}").as_bytes(), body, PutOptions::default())
            .await
            .unwrap();
    }
    vault
        .put(b"notes/0", b"v2".to_vec(), PutOptions::default())
        .await
        .unwrap();

    let blocks = vault.referenced_blocks(None).await.unwrap();
    // What a collection marks, each block on the node: marking also counts the `data` CID of each
    // of the 9 small versions stored inside its manifest, which needs no block (FORMAT §8 inline).
    let dry = vault
        .prune(
            PruneOptions {
                dry_run: true,
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(dry.marked.blocks, blocks.len() as u64 + 9);
    assert_eq!(blocks.iter().collect::<BTreeSet<_>>().len(), blocks.len());
    for b in &blocks {
        assert!(
            coffer::store::BlockStore::has(store.as_ref(), b)
                .await
                .unwrap(),
            "{b}"
        );
    }
    let roots = store.pin_roots(&blocks).await.unwrap();
    // The big object's data is a DAG on IPFS: its root is pinned, not its coffer CID.
    assert!(roots.iter().any(|r| !blocks.contains(r)), "no blob root");
    // More than 10, so the listing by CID below is asked in chunks (the small objects' data is
    // inline in their manifests: no block of their own).
    assert!(blocks.len() > 10, "{} blocks", blocks.len());
    assert_eq!(roots.len(), blocks.len());
    let origins = store.swarm_addresses().await.unwrap();
    assert!(origins.iter().any(|a| a.contains("/p2p/")), "{origins:?}");

    let svc = service(&services[1], token());
    let mut events = Vec::new();
    let mut progress = |p: &PinProgress| events.push(p.clone());
    let report = svc
        .pin_all(&roots, &tag, &origins, Some(&mut progress))
        .await
        .unwrap();
    assert_eq!(report.blocks, roots.len() as u64);
    assert_eq!(report.pinned, roots.len() as u64);
    assert_eq!(report.added, roots.len() as u64);
    assert_eq!(events.first(), Some(&PinProgress::Listed { pins: 0 }));
    assert_eq!(
        events.last(),
        Some(&PinProgress::Waiting {
            pinned: roots.len() as u64,
            total: roots.len() as u64
        })
    );

    // Pinned as the cluster sees it at once (the service says `pinned` only when every peer
    // it allocated the pin to has it: all three here, the cluster's default), and as the other
    // peers' Kubo nodes see it (recursive pins: the blob's leaves were fetched from Kubo 0).
    let peers: Vec<usize> =
        futures_util::future::join_all(roots.iter().map(|r| cluster_pinned(&apis[0], r))).await;
    assert!(peers.iter().all(|&n| n == 3), "pinned on {peers:?} peers");
    for r in &roots {
        assert!(kubo_pins(&kubos[2], r).await, "{r} not on Kubo 2");
    }

    // Listed by name (paged by the client), by CID (more than 10: asked in chunks), by state.
    let listed = svc
        .list(&PinFilter {
            name: Some(tag.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let listed_cids: BTreeSet<Cid> = listed.iter().map(|p| p.cid).collect();
    assert_eq!(listed_cids, roots.iter().copied().collect());
    assert!(listed.iter().all(|p| p.state == PinState::Pinned));
    assert!(
        listed
            .iter()
            .all(|p| p.name.as_deref() == Some(tag.as_str()))
    );
    let by_cid = svc
        .list(&PinFilter {
            cids: roots.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(by_cid.len(), roots.len());
    let queued = svc
        .list(&PinFilter {
            name: Some(tag.clone()),
            states: vec![PinState::Queued, PinState::Failed],
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(queued.is_empty(), "{queued:?}");
    let one = svc.get(&listed[0].request_id).await.unwrap();
    assert_eq!(one.state, PinState::Pinned);

    // Again: nothing to add.
    let again = svc.pin_all(&roots, &tag, &origins, None).await.unwrap();
    assert_eq!((again.already_pinned, again.added), (roots.len() as u64, 0));

    // A block the service never saw but that is on the node: added and followed on its own.
    let extra = bytes::Bytes::from(data(&format!("{tag}-extra"), 500));
    let extra_cid = raw_cid(&extra);
    coffer::store::BlockStore::put(store.as_ref(), &extra_cid, extra)
        .await
        .unwrap();
    let pin = svc.add(&extra_cid, &tag, &origins).await.unwrap();
    assert_eq!(
        svc.wait(&pin.request_id).await.unwrap().state,
        PinState::Pinned
    );
    // Pins the vault does not reference are removed; the vault's stay.
    assert_eq!(svc.remove_unlisted(&tag, &roots).await.unwrap(), 1);

    // Removed: the service lists none of them any more and the cluster unpins them.
    for p in &listed {
        svc.remove(&p.request_id).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = svc
            .list(&PinFilter {
                name: Some(tag.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still listed: {left:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for r in &roots {
        let deadline = Instant::now() + Duration::from_secs(60);
        while kubo_pins(&kubos[2], r).await {
            assert!(Instant::now() < deadline, "{r} still pinned on Kubo 2");
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    assert!(matches!(
        svc.get(&listed[0].request_id).await,
        Err(PinServiceError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_or_missing_token_is_an_auth_error_that_never_shows_it() {
    let services = list("COFFER_TEST_PINSVC_URLS");
    let real = token_text();
    // Same issuer, wrong signature: the signature's first character changed. (Changing its
    // last one is not enough: that character carries 2 padding bits a lenient base64url
    // decoder ignores, so 1 change in 16 left the signature as it was; CI saw it accepted.)
    let dot = real.rfind('.').expect("a JWT has three parts");
    let first = &real[dot + 1..dot + 2];
    let forged = format!(
        "{}{}{}",
        &real[..=dot],
        if first == "A" { "B" } else { "A" },
        &real[dot + 2..]
    );
    let svc = service(&services[0], ServiceToken::new(forged.clone()).unwrap());
    let err = svc.list(&PinFilter::default()).await.unwrap_err();
    assert!(
        matches!(err, PinServiceError::Auth { status: 401, .. }),
        "{err:?}"
    );
    for shown in [err.to_string(), format!("{err:?}"), format!("{svc:?}")] {
        assert!(!shown.contains(&forged), "token in {shown}");
        assert!(
            !shown.contains(&real[real.len() - 20..]),
            "token in {shown}"
        );
    }
    let garbage = service(&services[0], ServiceToken::new("not-a-jwt").unwrap());
    let cid = raw_cid(b"never pinned");
    assert!(matches!(
        garbage.add(&cid, "x", &[]).await,
        Err(PinServiceError::Auth { status: 401, .. })
    ));
    // And the real token works on every peer's service.
    for s in &services {
        service(s, token())
            .list(&PinFilter::default())
            .await
            .unwrap();
    }
}

// ---- A hostile pinning service ------------------------------------------------------------

/// The CID the hostile service claims its pins are for.
fn fake() -> Cid {
    raw_cid(b"a block the hostile service talks about")
}

fn pin_json(id: &str, status: &str, created: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "requestid": id, "status": status, "created": created,
        "pin": { "cid": fake().to_string(), "name": "n" }, "delegates": [],
        "info": { "status_details": "the service gave up" }
    }))
    .unwrap()
}

fn fast(url: &str, token: &str) -> PinningService {
    let mut c = PinServiceConfig::new(url, ServiceToken::new(token).unwrap());
    c.retries = 2;
    c.max_backoff = Duration::from_millis(1500);
    c.pin_timeout = Duration::from_secs(2);
    c.poll_interval = Duration::from_millis(100);
    c.timeout = Duration::from_secs(5);
    PinningService::new(c).unwrap()
}

#[tokio::test]
async fn throttling_is_retried_after_retry_after_then_a_typed_error() {
    let cid = fake();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let server = hostile_http(move |_, _| {
        if h.fetch_add(1, Ordering::SeqCst) < 2 {
            HttpAnswer::WithHeaders(
                429,
                vec![("retry-after".into(), "1".into())],
                b"{}".to_vec(),
            )
        } else {
            HttpAnswer::Small(202, pin_json("r1", "queued", "2024-01-01T00:00:00Z"))
        }
    })
    .await;
    let svc = fast(&server.url, "tok");
    let started = Instant::now();
    let pin = svc.add(&cid, "n", &[]).await.unwrap();
    assert_eq!(
        (pin.state, hits.load(Ordering::SeqCst)),
        (PinState::Queued, 3)
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After ignored"
    );

    // Always 429, asking for an hour: bounded by max_backoff, then Throttled.
    let always = hostile_http(|_, _| {
        HttpAnswer::WithHeaders(429, vec![("Retry-After".into(), "3600".into())], Vec::new())
    })
    .await;
    let started = Instant::now();
    let err = within(
        20,
        "throttled add",
        fast(&always.url, "tok").add(&cid, "n", &[]),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PinServiceError::Throttled(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn server_errors_are_retried_then_unavailable() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let server = hostile_http(move |_, _| {
        h.fetch_add(1, Ordering::SeqCst);
        HttpAnswer::Small(503, b"{\"error\":{\"reason\":\"down\"}}".to_vec())
    })
    .await;
    let err = fast(&server.url, "tok").get("r1").await.unwrap_err();
    assert!(matches!(err, PinServiceError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("down"), "{err}");
    assert_eq!(hits.load(Ordering::SeqCst), 3, "1 try + 2 retries");
    // Nobody listening: unavailable too.
    let err = fast("http://127.0.0.1:9", "tok")
        .get("r1")
        .await
        .unwrap_err();
    assert!(matches!(err, PinServiceError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_pin_that_never_finishes_or_fails_is_never_reported_durable() {
    let cid = fake();
    let stuck = hostile_http(|method, _| {
        let status = if method == "POST" { 202 } else { 200 };
        HttpAnswer::Small(status, pin_json("r1", "pinning", "2024-01-01T00:00:00Z"))
    })
    .await;
    let svc = fast(&stuck.url, "tok");
    let err = within(10, "wait", svc.wait("r1")).await.unwrap_err();
    assert!(matches!(err, PinServiceError::Timeout(_)), "{err:?}");
    let err = within(10, "pin_all", svc.pin_all(&[cid], "n", &[], None))
        .await
        .unwrap_err();
    assert!(matches!(err, PinServiceError::Timeout(_)), "{err:?}");

    // A service that lists nothing, accepts the pin, and keeps it queued: Timeout.
    let queued = hostile_http(|method, target| match (method, target) {
        ("GET", t) if t.starts_with("/pins?") => {
            HttpAnswer::Small(200, b"{\"count\":0,\"results\":[]}".to_vec())
        }
        ("POST", _) => HttpAnswer::Small(202, pin_json("r1", "queued", "2024-01-01T00:00:00Z")),
        _ => HttpAnswer::Small(200, pin_json("r1", "queued", "2024-01-01T00:00:00Z")),
    })
    .await;
    let err = within(
        10,
        "pin_all",
        fast(&queued.url, "tok").pin_all(&[cid], "n", &[], None),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, PinServiceError::Timeout(_)), "{err:?}");
    assert!(err.to_string().contains("not durable"), "{err}");

    // One that reports the pin failed: Failed, with its details.
    let failing = hostile_http(|method, target| match (method, target) {
        ("GET", t) if t.starts_with("/pins?") => {
            HttpAnswer::Small(200, b"{\"count\":0,\"results\":[]}".to_vec())
        }
        ("POST", _) => HttpAnswer::Small(202, pin_json("r1", "queued", "2024-01-01T00:00:00Z")),
        _ => HttpAnswer::Small(200, pin_json("r1", "failed", "2024-01-01T00:00:00Z")),
    })
    .await;
    let err = fast(&failing.url, "tok")
        .pin_all(&[cid], "n", &[], None)
        .await
        .unwrap_err();
    assert!(matches!(err, PinServiceError::Failed { .. }), "{err:?}");
    assert!(err.to_string().contains("gave up"), "{err}");
}

#[tokio::test]
async fn malformed_oversized_and_echoing_answers_are_typed_errors() {
    let cid = fake();
    let secret = "s3cr3t-pinning-token-42";
    let server = hostile_http(move |_, target| match target {
        "/pins/garbage" => HttpAnswer::Small(200, b"{not json".to_vec()),
        "/pins/other" => HttpAnswer::Small(
            200,
            pin_json("someone-else", "pinned", "2024-01-01T00:00:00Z"),
        ),
        "/pins/status" => {
            HttpAnswer::Small(200, pin_json("status", "done", "2024-01-01T00:00:00Z"))
        }
        "/pins/endless" => HttpAnswer::Endless,
        "/pins/declared" => HttpAnswer::Declared(1 << 40),
        "/pins/forbidden" => HttpAnswer::Small(403, Vec::new()),
        "/pins/bad" => HttpAnswer::Small(400, b"{\"error\":{\"reason\":\"BAD_REQUEST\"}}".to_vec()),
        // A service that puts the token it was given into its error message.
        _ => HttpAnswer::Small(
            401,
            format!("{{\"error\":{{\"reason\":\"token {secret} is revoked\"}}}}").into_bytes(),
        ),
    })
    .await;
    let svc = fast(&server.url, secret);
    let e = svc.get("garbage").await.unwrap_err();
    assert!(matches!(e, PinServiceError::Malformed(_)), "{e:?}");
    let e = svc.get("other").await.unwrap_err();
    assert!(matches!(e, PinServiceError::Malformed(_)), "{e:?}");
    let e = svc.get("status").await.unwrap_err();
    assert!(matches!(e, PinServiceError::Malformed(_)), "{e:?}");
    for id in ["endless", "declared"] {
        let e = within(10, id, svc.get(id)).await.unwrap_err();
        assert!(matches!(e, PinServiceError::TooLarge { .. }), "{id}: {e:?}");
    }
    assert!(server.sent() < 64 << 20, "read {} bytes", server.sent());
    let e = svc.get("forbidden").await.unwrap_err();
    assert!(
        matches!(e, PinServiceError::Auth { status: 403, .. }),
        "{e:?}"
    );
    let e = svc.remove("bad").await.unwrap_err();
    assert!(
        matches!(e, PinServiceError::Rejected { status: 400, .. }),
        "{e:?}"
    );
    let e = svc.add(&cid, "n", &[]).await.unwrap_err();
    assert!(
        matches!(e, PinServiceError::Auth { status: 401, .. }),
        "{e:?}"
    );
    for shown in [e.to_string(), format!("{e:?}"), format!("{svc:?}")] {
        assert!(!shown.contains(secret), "token in {shown}");
    }
    assert!(e.to_string().contains("<token> is revoked"), "{e}");
}

#[tokio::test]
async fn listings_page_by_before_and_stop_on_repeats() {
    // 2,500 pins, one second apart, served newest first 1,000 at a time as the spec says.
    const N: i64 = 2500;
    let created = |i: i64| {
        let (m, s) = (i / 60, i % 60);
        format!("2024-01-01T{:02}:{:02}:{:02}Z", m / 60, m % 60, s)
    };
    let server = hostile_http(move |_, target| {
        let before = target
            .split('&')
            .find_map(|kv| kv.strip_prefix("before="))
            .map(|b| b.replace("%3A", ":"));
        let mut results = Vec::new();
        for i in (0..N).rev() {
            let c = created(i);
            if before.as_ref().is_some_and(|b| c >= *b) {
                continue;
            }
            results.push(serde_json::json!({
                "requestid": format!("r{i}"), "status": "pinned", "created": c,
                "pin": { "cid": fake().to_string(), "name": "n" }
            }));
            if results.len() == 1000 {
                break;
            }
        }
        HttpAnswer::Small(
            200,
            serde_json::to_vec(&serde_json::json!({"count": N, "results": results})).unwrap(),
        )
    })
    .await;
    let pins = fast(&server.url, "tok")
        .list(&PinFilter::default())
        .await
        .unwrap();
    let ids: BTreeSet<&str> = pins.iter().map(|p| p.request_id.as_str()).collect();
    assert_eq!((pins.len(), ids.len()), (N as usize, N as usize));

    // A service that ignores `before` and repeats the same full page: the listing ends.
    let repeat = hostile_http(|_, _| {
        let results: Vec<_> = (0..1000)
            .map(|i| {
                serde_json::json!({
                    "requestid": format!("r{i}"), "status": "queued",
                    "created": "2024-01-01T00:00:00Z", "pin": { "cid": fake().to_string() }
                })
            })
            .collect();
        HttpAnswer::Small(
            200,
            serde_json::to_vec(&serde_json::json!({"count": 5000, "results": results})).unwrap(),
        )
    })
    .await;
    let pins = within(
        20,
        "repeating listing",
        fast(&repeat.url, "tok").list(&PinFilter::default()),
    )
    .await
    .unwrap();
    assert_eq!(pins.len(), 1000);
}
