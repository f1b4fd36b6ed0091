//! The S3 store against two real S3 implementations: SeaweedFS (`.ci/seaweedfs.sh start`) and
//! Ceph's RADOS Gateway (`.ci/ceph.sh start`). Every test that talks to a server runs on both
//! (`seaweedfs::…` and `ceph::…`); none is skipped: a missing server fails the tests with what to
//! do.
#![cfg(feature = "s3")]
// Test helpers too: a failed step is a failed test.
#![allow(clippy::unwrap_used)]

mod common;

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use coffer::block::raw_cid;
use coffer::store::s3::{S3Config, S3Credentials, S3Store};
use coffer::store::{
    BlockStore, ConditionalWrites, HeadCondition, HeadStore, StoreError, collect_stream,
};
use common::{
    HttpAnswer, block_store_suite, data, head_cas_race, head_store_suite, hostile_http, refused,
    require_env, run_tag, within,
};
use futures_util::io::{AsyncRead, Cursor};

/// A real S3 server the tests run against, found through the environment its script writes.
#[derive(Clone, Copy)]
struct Server {
    endpoint: &'static str,
    bucket: &'static str,
    how: &'static str,
}

const SEAWEEDFS: Server = Server {
    endpoint: "COFFER_TEST_S3_ENDPOINT",
    bucket: "COFFER_TEST_S3_BUCKET",
    how: ".ci/seaweedfs.sh start",
};

/// Ceph RGW: its S3 user has SeaweedFS's keys, so the same AWS_* variables sign for both.
const CEPH: Server = Server {
    endpoint: "COFFER_TEST_CEPH_ENDPOINT",
    bucket: "COFFER_TEST_CEPH_BUCKET",
    how: ".ci/ceph.sh start",
};

/// Every test below that takes a [`Server`] runs once per server, as `seaweedfs::NAME` and
/// `ceph::NAME`.
macro_rules! on_every_server {
    ($($name:ident),* $(,)?) => {
        mod seaweedfs {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::SEAWEEDFS).await
                }
            )*
        }
        mod ceph {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::CEPH).await
                }
            )*
        }
    };
}

on_every_server!(
    passes_the_block_suite,
    passes_the_share_suite,
    passes_the_vault_suite,
    heads_are_conditional,
    best_effort_mode_still_catches_sequential_conflicts,
    wrong_credentials_give_access_denied_without_retrying,
    multipart_upload_resumes_without_resending_parts,
    an_inflated_object_is_refused_from_its_length,
    a_leftover_part_of_other_bytes_is_not_reused,
);

fn config(server: Server, prefix: &str) -> S3Config {
    let mut c = S3Config::new(require_env(server.bucket, server.how));
    c.endpoint = Some(require_env(server.endpoint, server.how));
    c.path_style = true;
    c.prefix = format!("tests/{prefix}");
    c
}

async fn store(server: Server, prefix: &str) -> S3Store {
    // Credentials come from the standard AWS environment chain (AWS_ACCESS_KEY_ID, ...).
    require_env("AWS_ACCESS_KEY_ID", server.how);
    let s = S3Store::connect(config(server, prefix))
        .await
        .expect("S3 client");
    s.check_bucket()
        .await
        .expect("the test bucket is reachable with these credentials");
    s
}

async fn passes_the_block_suite(server: Server) {
    let tag = run_tag("s3-suite");
    block_store_suite(&store(server, &tag).await, &tag, 3 << 20).await;
}

async fn passes_the_share_suite(server: Server) {
    let tag = run_tag("s3-share");
    common::share::share_suite(std::sync::Arc::new(store(server, &tag).await), "shared").await;
}

async fn passes_the_vault_suite(server: Server) {
    let tag = run_tag("s3-vault");
    common::vault::vault_suite(std::sync::Arc::new(store(server, &tag).await), "suite").await;
}

async fn heads_are_conditional(server: Server) {
    let tag = run_tag("s3-heads");
    let s = store(server, &tag).await;
    assert_eq!(s.conditional_writes(), ConditionalWrites::Unknown);
    assert_eq!(
        s.probe_conditional_writes().await.unwrap(),
        ConditionalWrites::Enforced
    );
    assert_eq!(s.conditional_writes(), ConditionalWrites::Enforced);
    head_store_suite(&s, "vault").await;
    head_cas_race(&s, "race", 6).await;
}

async fn best_effort_mode_still_catches_sequential_conflicts(server: Server) {
    // What coffer does on a store that ignores conditions (Garage): check by reading first.
    let tag = run_tag("s3-best-effort");
    let mut c = config(server, &tag);
    c.conditional_writes = ConditionalWrites::BestEffort;
    let s = S3Store::connect(c).await.unwrap();
    let v1 = s
        .write_head("v", "w", Bytes::from_static(b"1"), HeadCondition::Absent)
        .await
        .unwrap();
    assert!(matches!(
        s.write_head("v", "w", Bytes::from_static(b"2"), HeadCondition::Absent)
            .await,
        Err(StoreError::PreconditionFailed(_))
    ));
    s.write_head(
        "v",
        "w",
        Bytes::from_static(b"2"),
        HeadCondition::Matches(v1.clone()),
    )
    .await
    .unwrap();
    assert!(matches!(
        s.write_head(
            "v",
            "w",
            Bytes::from_static(b"3"),
            HeadCondition::Matches(v1)
        )
        .await,
        Err(StoreError::PreconditionFailed(_))
    ));
}

async fn wrong_credentials_give_access_denied_without_retrying(server: Server) {
    let mut c = config(server, &run_tag("s3-denied"));
    c.credentials = Some(S3Credentials {
        access_key_id: "coffer-wrong-key".into(),
        secret_access_key: String::from("not-the-secret").into(),
        session_token: None,
    });
    c.max_attempts = 5;
    let s = S3Store::connect(c).await.unwrap();
    let b = Bytes::from_static(b"denied");
    let started = std::time::Instant::now();
    let err = s.put(&raw_cid(&b), b).await.unwrap_err();
    assert!(matches!(err, StoreError::AccessDenied(_)), "{err:?}");
    assert!(
        !format!("{err:?}{err}").contains("not-the-secret"),
        "the secret leaked into the error"
    );
    assert!(matches!(
        s.get(&raw_cid(b"x")).await,
        Err(StoreError::AccessDenied(_))
    ));
    // Not a timing assertion on speed, a guard against a retry loop with backoff (5 attempts
    // with backoff would take seconds): one round trip on loopback.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

/// A reader that fails after `limit` bytes, as a crashed upload would.
struct FailAfter {
    inner: Cursor<Vec<u8>>,
    left: usize,
}

impl AsyncRead for FailAfter {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.left == 0 {
            return Poll::Ready(Err(std::io::Error::other("simulated crash")));
        }
        let n = buf.len().min(self.left);
        let this = &mut *self;
        let r = Pin::new(&mut this.inner).poll_read(cx, &mut buf[..n]);
        if let Poll::Ready(Ok(k)) = r {
            this.left -= k;
        }
        r
    }
}

async fn multipart_upload_resumes_without_resending_parts(server: Server) {
    let tag = run_tag("s3-multipart");
    let mut c = config(server, &tag);
    c.part_size = 5 << 20;
    c.concurrency = 2;
    let s = S3Store::connect(c).await.unwrap();
    let blob = data(&tag, (5 << 20) * 4 + 12345); // 5 parts, the last short
    let cid = raw_cid(&blob);

    // Crash after three whole parts have been read.
    let mut failing = FailAfter {
        inner: Cursor::new(blob.clone()),
        left: (5 << 20) * 3,
    };
    let err = s
        .put_blob(&cid, &mut failing, Some(blob.len() as u64))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("simulated crash"), "{err}");
    assert!(
        !s.has(&cid).await.unwrap(),
        "an interrupted upload must not be visible"
    );

    let mut src = Cursor::new(blob.clone());
    let report = s
        .put_blob(&cid, &mut src, Some(blob.len() as u64))
        .await
        .unwrap();
    assert_eq!(report.parts, 5, "{report:?}");
    assert_eq!(
        report.parts_reused, 3,
        "finished parts must not be sent again: {report:?}"
    );
    assert_eq!(report.bytes_sent, blob.len() as u64 - (5 << 20) * 3);

    assert_eq!(
        collect_stream(s.get_stream(&cid).await.unwrap())
            .await
            .unwrap(),
        blob
    );
    let r = (5 << 20) - 10..(5 << 20) + 10;
    assert_eq!(
        s.get_range(&cid, r.start as u64..r.end as u64)
            .await
            .unwrap(),
        &blob[r]
    );

    // Storing it again sends nothing.
    let mut src = Cursor::new(blob.clone());
    assert!(
        s.put_blob(&cid, &mut src, None)
            .await
            .unwrap()
            .already_stored
    );

    // A multipart stream whose bytes do not match the CID is aborted, leaving nothing.
    let other = raw_cid(&data("another blob", 10));
    let mut src = Cursor::new(blob.clone());
    assert!(matches!(
        s.put_blob(&other, &mut src, None).await,
        Err(StoreError::Corrupt { .. })
    ));
    assert!(!s.has(&other).await.unwrap());
    assert_eq!(
        s.abort_unfinished_uploads().await.unwrap(),
        0,
        "the mismatching upload was aborted"
    );
    s.delete(&cid).await.unwrap();
}

#[tokio::test]
async fn unreachable_endpoint_is_unavailable() {
    let mut c = config(SEAWEEDFS, "unreachable");
    c.endpoint = Some("http://127.0.0.1:9".into());
    c.max_attempts = 2;
    let s = S3Store::connect(c).await.unwrap();
    let err = s.get(&raw_cid(b"x")).await.unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

async fn an_inflated_object_is_refused_from_its_length(server: Server) {
    let tag = run_tag("s3-inflated");
    let s = store(server, &tag).await;
    let bytes = Bytes::from(data(&tag, 1000));
    let cid = raw_cid(&bytes);
    // Whoever can write the bucket puts 64 MiB under the block's key.
    let big = data(&format!("{tag}/big"), 64 << 20);
    s.client()
        .put_object()
        .bucket(s.bucket())
        .key(s.block_key(&cid))
        .body(big.into())
        .send()
        .await
        .unwrap();
    let err = refused(
        "get_max",
        within(30, "get_max", s.get_max(&cid, 1000)).await,
    );
    assert!(
        matches!(&err, StoreError::TooLarge { what, limit: 1000 } if what.contains(&(64u64 << 20).to_string())),
        "refused from Content-Length, before reading the body: {err}"
    );
    // A range is read exactly; the object's length shows only through Content-Range.
    assert_eq!(s.get_range(&cid, 5..10).await.unwrap().len(), 5);
    s.delete(&cid).await.unwrap();
}

/// An S3 store pointed at the adversary (no retries: the point is the first answer).
async fn store_at(url: &str) -> S3Store {
    let mut c = S3Config::new("bucket");
    c.endpoint = Some(url.to_string());
    c.path_style = true;
    c.max_attempts = 1;
    c.credentials = Some(S3Credentials {
        access_key_id: "hostile".into(),
        secret_access_key: zeroize::Zeroizing::new("hostile".into()),
        session_token: None,
    });
    S3Store::connect(c).await.unwrap()
}

#[tokio::test]
async fn endless_s3_answers_are_cut_at_the_cap() {
    let server = hostile_http(|_, _| HttpAnswer::Endless).await;
    let s = store_at(&server.url).await;
    let cid = raw_cid(b"any block");
    let err = refused(
        "get_max",
        within(30, "get_max", s.get_max(&cid, 1 << 20)).await,
    );
    assert!(
        matches!(err, StoreError::TooLarge { limit, .. } if limit == 1 << 20),
        "{err}"
    );
    let err = refused(
        "get_range",
        within(30, "get_range", s.get_range(&cid, 0..100)).await,
    );
    assert!(
        matches!(err, StoreError::TooLarge { limit: 100, .. }),
        "{err}"
    );
    let err = refused(
        "read_head",
        within(30, "read_head", s.read_head("vault", "alice")).await,
    );
    assert!(
        matches!(err, StoreError::TooLarge { limit, .. } if limit == coffer::store::MAX_HEAD_BYTES),
        "{err}"
    );
    // A stream ends with an error at the declared length (hyper enforces it as well).
    let declared = hostile_http(|_, _| HttpAnswer::Declared(1 << 40)).await;
    let s = store_at(&declared.url).await;
    let err = refused(
        "get_max",
        within(30, "get_max", s.get_max(&cid, 1 << 20)).await,
    );
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err}");
    // What the client read before hanging up: the cap and what sat in socket buffers.
    let sent = server.sent() + declared.sent();
    assert!(
        sent < 64 << 20,
        "the adversary sent {sent} bytes before the client hung up"
    );
}

async fn a_leftover_part_of_other_bytes_is_not_reused(server: Server) {
    let tag = run_tag("s3-part-reuse");
    let mut c = config(server, &tag);
    c.part_size = 5 << 20;
    let s = S3Store::connect(c).await.unwrap();
    let blob = data(&tag, (5 << 20) * 2 + 100); // 3 parts
    let cid = raw_cid(&blob);
    let key = s.block_key(&cid);

    // An unfinished upload of this key whose part 1 has the right size and other bytes, and
    // whose part 2 holds the right bytes.
    let created = s
        .client()
        .create_multipart_upload()
        .bucket(s.bucket())
        .key(&key)
        .send()
        .await
        .unwrap();
    let id = created.upload_id().unwrap();
    let mut forged = blob[..5 << 20].to_vec();
    forged[12345] ^= 1;
    for (n, part) in [(1, forged), (2, blob[5 << 20..10 << 20].to_vec())] {
        s.client()
            .upload_part()
            .bucket(s.bucket())
            .key(&key)
            .upload_id(id)
            .part_number(n)
            .body(part.into())
            .send()
            .await
            .unwrap();
    }

    let report = s
        .put_blob(
            &cid,
            &mut Cursor::new(blob.clone()),
            Some(blob.len() as u64),
        )
        .await
        .unwrap();
    assert_eq!(report.parts, 3, "{report:?}");
    assert_eq!(
        report.parts_reused, 1,
        "only the part whose MD5 matches is reused: {report:?}"
    );
    assert_eq!(report.bytes_sent, blob.len() as u64 - (5 << 20));
    assert_eq!(s.get(&cid).await.unwrap(), blob, "the stored blob is ours");
    s.delete(&cid).await.unwrap();
}
