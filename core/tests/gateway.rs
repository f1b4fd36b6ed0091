//! The S3 gateway driven by aws-sdk-s3 (the Rust SDK), in-process, over a directory store:
//! uploads single and multipart, listings, ranges, copies, deletes, tags, versions, conditions,
//! presigned URLs, concurrency, a restart mid-multipart, and what the store holds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier, Tag, Tagging,
};
use coffer::gateway::{Credentials, Gateway, GatewayConfig};
use coffer::keys::Identity;
use coffer::store::DirStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: usize = 1 << 20;

struct Running {
    client: Client,
    endpoint: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Running {
    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }
}

async fn start(store: &Path, state: &Path, identity: &Identity, creds: &Credentials) -> Running {
    start_with_trust(store, state, identity, creds, None).await
}

async fn start_with_trust(
    store: &Path,
    state: &Path,
    identity: &Identity,
    creds: &Credentials,
    trust: Option<Arc<dyn coffer::trust::TrustStore>>,
) -> Running {
    let store = Arc::new(DirStore::open(store).unwrap());
    let mut config = GatewayConfig::new(state.to_path_buf());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.trust = trust;
    let gateway = Gateway::bind(store, identity.clone(), creds.clone(), config)
        .await
        .unwrap();
    let endpoint = format!("http://{}", gateway.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        gateway
            .serve(async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    Running {
        client: client(&endpoint, creds),
        endpoint,
        stop: Some(tx),
        task: Some(task),
    }
}

fn client(endpoint: &str, creds: &Credentials) -> Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .http_client(http)
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            creds.access_key_id(),
            creds.secret_access_key(),
            None,
            None,
            "test",
        ))
        .build();
    Client::from_conf(conf)
}

fn bytes(n: usize, seed: u8) -> Vec<u8> {
    let mut h = blake3::Hasher::new();
    h.update(&[seed]);
    let mut out = vec![0u8; n];
    h.finalize_xof().fill(&mut out);
    out
}

fn md5_hex(b: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(b))
}

async fn get(c: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let out = c.get_object().bucket(bucket).key(key).send().await.unwrap();
    out.body.collect().await.unwrap().into_bytes().to_vec()
}

fn code<E: aws_sdk_s3::error::ProvideErrorMetadata>(
    e: &aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> (u16, String) {
    let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
    let code = e
        .as_service_error()
        .and_then(|s| s.code())
        .unwrap_or("")
        .to_string();
    (status, code)
}

/// A raw HTTP/1.1 GET of `url` (a presigned URL): status and body.
async fn http_get(url: &str) -> (u16, Vec<u8>) {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
    let req = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = buf[split + 4..].to_vec();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    (status, if chunked { dechunk(&body) } else { body })
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n =
            usize::from_str_radix(std::str::from_utf8(&b[..line_end]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[line_end + 2..line_end + 2 + n]);
        b = &b[line_end + 2 + n + 2..];
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    store: PathBuf,
    state: PathBuf,
    identity: Identity,
    creds: Credentials,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    Setup {
        store: dir.path().join("store"),
        state: dir.path().join("state"),
        _dir: dir,
        identity: Identity::generate(),
        creds: Credentials::generate(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn objects_listings_and_errors_through_the_rust_sdk() {
    let s = setup();
    let gw = start(&s.store, &s.state, &s.identity, &s.creds).await;
    let c = &gw.client;
    c.create_bucket().bucket("rust").send().await.unwrap();

    // Single puts, 0 B to 9 MiB, every byte back; ETag = MD5.
    for (i, size) in [0, 1, 65_537, 9 * MIB].into_iter().enumerate() {
        let body = bytes(size, i as u8);
        let put = c
            .put_object()
            .bucket("rust")
            .key(format!("o/{size}"))
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            put.e_tag(),
            Some(format!("\"{}\"", md5_hex(&body)).as_str())
        );
        assert_eq!(get(c, "rust", &format!("o/{size}")).await, body);
    }

    // Multipart: 5 MiB + 5 MiB + 3 B, ETag md5-of-md5s-3.
    let body = bytes(10 * MIB + 3, 9);
    let up = c
        .create_multipart_upload()
        .bucket("rust")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    let mut parts = Vec::new();
    let mut digests = Vec::new();
    for (n, chunk) in body.chunks(5 * MIB).enumerate() {
        use md5::Digest;
        digests.extend_from_slice(&md5::Md5::digest(chunk));
        let p = c
            .upload_part()
            .bucket("rust")
            .key("mp")
            .upload_id(&id)
            .part_number(n as i32 + 1)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .unwrap();
        parts.push(
            CompletedPart::builder()
                .part_number(n as i32 + 1)
                .e_tag(p.e_tag().unwrap())
                .build(),
        );
    }
    let done = c
        .complete_multipart_upload()
        .bucket("rust")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        done.e_tag(),
        Some(format!("\"{}-3\"", md5_hex(&digests)).as_str())
    );
    assert_eq!(get(c, "rust", "mp").await, body);

    // Ranges: inclusive, suffix, open-ended, past the end.
    for (range, want) in [
        ("bytes=0-0", &body[..1]),
        ("bytes=-7", &body[body.len() - 7..]),
        ("bytes=10485000-", &body[10_485_000..]),
    ] {
        let out = c
            .get_object()
            .bucket("rust")
            .key("mp")
            .range(range)
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.body.collect().await.unwrap().into_bytes().as_ref(),
            want,
            "{range}"
        );
    }
    let e = c
        .get_object()
        .bucket("rust")
        .key("mp")
        .range("bytes=99999999-")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), (416, "InvalidRange".into()));

    // Listings: pages of 2 under a prefix, and a delimiter.
    for k in ["l/a/1", "l/a/2", "l/b", "l/c/3", "l/d"] {
        c.put_object()
            .bucket("rust")
            .key(k)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let mut keys = Vec::new();
    let mut token = None;
    loop {
        let page = c
            .list_objects_v2()
            .bucket("rust")
            .prefix("l/")
            .max_keys(2)
            .set_continuation_token(token)
            .send()
            .await
            .unwrap();
        keys.extend(page.contents().iter().map(|o| o.key().unwrap().to_string()));
        token = page.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(keys, ["l/a/1", "l/a/2", "l/b", "l/c/3", "l/d"]);
    let page = c
        .list_objects_v2()
        .bucket("rust")
        .prefix("l/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = page
        .common_prefixes()
        .iter()
        .map(|p| p.prefix().unwrap())
        .collect();
    assert_eq!(prefixes, ["l/a/", "l/c/"]);
    let direct: Vec<&str> = page.contents().iter().map(|o| o.key().unwrap()).collect();
    assert_eq!(direct, ["l/b", "l/d"]);

    // Copy by reference, tags, versions, deletes.
    c.copy_object()
        .bucket("rust")
        .key("mp-copy")
        .copy_source("rust/mp")
        .send()
        .await
        .unwrap();
    assert_eq!(get(c, "rust", "mp-copy").await, body);
    c.put_object_tagging()
        .bucket("rust")
        .key("mp-copy")
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("a").value("b").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let tags = c
        .get_object_tagging()
        .bucket("rust")
        .key("mp-copy")
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tag_set().len(), 1);
    let v1 = c
        .put_object()
        .bucket("rust")
        .key("v")
        .body(ByteStream::from_static(b"one"))
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket("rust")
        .key("v")
        .body(ByteStream::from_static(b"two"))
        .send()
        .await
        .unwrap();
    let old = c
        .get_object()
        .bucket("rust")
        .key("v")
        .version_id(v1.version_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.body.collect().await.unwrap().into_bytes().as_ref(),
        b"one"
    );
    let versions = c
        .list_object_versions()
        .bucket("rust")
        .prefix("v")
        .send()
        .await
        .unwrap();
    assert_eq!(versions.versions().len(), 2);
    c.delete_objects()
        .bucket("rust")
        .delete(
            Delete::builder()
                .objects(ObjectIdentifier::builder().key("v").build().unwrap())
                .objects(ObjectIdentifier::builder().key("mp-copy").build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let e = c
        .head_object()
        .bucket("rust")
        .key("v")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 404);

    // Conditional writes; errors for unknown buckets and keys.
    let e = c
        .put_object()
        .bucket("rust")
        .key("mp")
        .if_none_match("*")
        .body(ByteStream::from_static(b"no"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), (412, "PreconditionFailed".into()));
    let e = c
        .get_object()
        .bucket("nope-nope")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), (404, "NoSuchBucket".into()));
    let e = c
        .get_object()
        .bucket("rust")
        .key("nope")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), (404, "NoSuchKey".into()));

    // Presigned GET, and the same URL refused once tampered with.
    let presigned = c
        .get_object()
        .bucket("rust")
        .key("o/65537")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(
                60,
            ))
            .unwrap(),
        )
        .await
        .unwrap();
    let (status, got) = http_get(presigned.uri()).await;
    assert_eq!(status, 200);
    assert_eq!(got, bytes(65_537, 2));
    let (status, _) = http_get(&presigned.uri().replace("o/65537", "o/1")).await;
    assert_eq!(status, 403);

    // Wrong secret.
    let bad = client(
        &gw.endpoint,
        &Credentials::new(s.creds.access_key_id(), "x".repeat(40)),
    );
    let e = bad.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&e), (403, "SignatureDoesNotMatch".into()));

    gw.stop().await;

    // The store holds neither the plaintext nor the key names.
    let needle_data = &body[1000..1064];
    for entry in walk(&s.store) {
        let content = std::fs::read(&entry).unwrap();
        assert!(
            !contains(&content, needle_data),
            "plaintext in {}",
            entry.display()
        );
        for name in [b"l/a/1".as_slice(), b"mp-copy", b"o/65537"] {
            assert!(
                !contains(&content, name),
                "a key name in {}",
                entry.display()
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
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

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_puts_commit_in_groups_and_conditions_hold() {
    let s = setup();
    let store = Arc::new(DirStore::open(&s.store).unwrap());
    let mut config = GatewayConfig::new(s.state.clone());
    config.listen = "127.0.0.1:0".parse().unwrap();
    let gateway = Gateway::bind(store, s.identity.clone(), s.creds.clone(), config)
        .await
        .unwrap();
    let endpoint = format!("http://{}", gateway.local_addr().unwrap());
    let stats = gateway.commit_stats();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(gateway.serve(async {
        let _ = rx.await;
    }));
    let c = client(&endpoint, &s.creds);
    c.create_bucket().bucket("many").send().await.unwrap();

    let puts = (0..32).map(|i| {
        let c = c.clone();
        async move {
            c.put_object()
                .bucket("many")
                .key(format!("k{i:02}"))
                .body(ByteStream::from(bytes(256 * 1024, i)))
                .send()
                .await
        }
    });
    for r in futures_util::future::join_all(puts).await {
        r.unwrap();
    }
    for i in 0..32u8 {
        assert_eq!(
            get(&c, "many", &format!("k{i:02}")).await,
            bytes(256 * 1024, i)
        );
    }
    let (commits, uploads) = stats.snapshot();
    assert_eq!(uploads, 32);
    assert!(commits <= 32);

    // Eight writers race with If-None-Match: *; exactly one wins.
    let racers = (0..8).map(|i| {
        let c = c.clone();
        async move {
            c.put_object()
                .bucket("many")
                .key("race")
                .if_none_match("*")
                .body(ByteStream::from(vec![i; 1000]))
                .send()
                .await
        }
    });
    let results = futures_util::future::join_all(racers).await;
    let winners: Vec<usize> = results
        .iter()
        .enumerate()
        .filter(|(_, r)| r.is_ok())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for r in results.iter().filter(|r| r.is_err()) {
        let e = r.as_ref().unwrap_err();
        assert_eq!(code(e).0, 412);
    }
    assert_eq!(get(&c, "many", "race").await, vec![winners[0] as u8; 1000]);

    let _ = tx.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_multipart_upload_survives_a_restart() {
    let s = setup();
    let gw = start(&s.store, &s.state, &s.identity, &s.creds).await;
    gw.client
        .create_bucket()
        .bucket("restart")
        .send()
        .await
        .unwrap();
    gw.client
        .put_object()
        .bucket("restart")
        .key("before")
        .body(ByteStream::from_static(b"kept"))
        .send()
        .await
        .unwrap();
    let body = bytes(5 * MIB + 100, 7);
    let up = gw
        .client
        .create_multipart_upload()
        .bucket("restart")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    let p1 = gw
        .client
        .upload_part()
        .bucket("restart")
        .key("mp")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(body[..5 * MIB].to_vec()))
        .send()
        .await
        .unwrap();
    gw.stop().await;

    let gw = start(&s.store, &s.state, &s.identity, &s.creds).await;
    let c = &gw.client;
    let uploads = c
        .list_multipart_uploads()
        .bucket("restart")
        .send()
        .await
        .unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    let listed = c
        .list_parts()
        .bucket("restart")
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.parts().len(), 1);
    let p2 = c
        .upload_part()
        .bucket("restart")
        .key("mp")
        .upload_id(&id)
        .part_number(2)
        .body(ByteStream::from(body[5 * MIB..].to_vec()))
        .send()
        .await
        .unwrap();
    c.complete_multipart_upload()
        .bucket("restart")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(p1.e_tag().unwrap())
                        .build(),
                )
                .parts(
                    CompletedPart::builder()
                        .part_number(2)
                        .e_tag(p2.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(get(c, "restart", "mp").await, body);
    assert_eq!(get(c, "restart", "before").await, b"kept");
    let buckets = c.list_buckets().send().await.unwrap();
    assert_eq!(
        buckets
            .buckets()
            .iter()
            .map(|b| b.name().unwrap())
            .collect::<Vec<_>>(),
        ["restart"]
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_or_lying_store_gives_errors_never_wrong_bytes() {
    use coffer::store::FaultyStore;
    let s = setup();
    let store = Arc::new(FaultyStore::healthy(DirStore::open(&s.store).unwrap()));
    let mut config = GatewayConfig::new(s.state.clone());
    config.listen = "127.0.0.1:0".parse().unwrap();
    let gateway = Gateway::bind(store.clone(), s.identity.clone(), s.creds.clone(), config)
        .await
        .unwrap();
    let endpoint = format!("http://{}", gateway.local_addr().unwrap());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(gateway.serve(async {
        let _ = rx.await;
    }));
    let c = client(&endpoint, &s.creds);
    c.create_bucket().bucket("hostile").send().await.unwrap();
    let small = bytes(3 * MIB, 1);
    let big = bytes(20 * MIB, 2);
    c.put_object()
        .bucket("hostile")
        .key("small")
        .body(ByteStream::from(small.clone()))
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket("hostile")
        .key("big")
        .body(ByteStream::from(big.clone()))
        .send()
        .await
        .unwrap();

    // The store is down: 503 with a retry hint, and a write leaves nothing.
    store.set_down(true);
    let e = c
        .get_object()
        .bucket("hostile")
        .key("small")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), (503, "ServiceUnavailable".into()));
    let e = c
        .put_object()
        .bucket("hostile")
        .key("new")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e).0, 503);
    store.set_down(false);
    assert_eq!(
        code(
            &c.head_object()
                .bucket("hostile")
                .key("new")
                .send()
                .await
                .unwrap_err()
        )
        .0,
        404
    );
    assert_eq!(get(&c, "hostile", "small").await, small);

    // The store flips a byte in the middle of the big object: whole reads and ranges over it
    // fail; ranges elsewhere are still served, verified.
    let largest = walk(&s.store)
        .into_iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "blocks"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut sealed = std::fs::read(&largest).unwrap();
    assert!(sealed.len() > 20 * MIB);
    sealed[10 * MIB] ^= 1;
    std::fs::write(&largest, &sealed).unwrap();
    let whole = c.get_object().bucket("hostile").key("big").send().await;
    match whole {
        Err(e) => assert_eq!(code(&e).0, 500),
        Ok(out) => assert!(
            out.body.collect().await.is_err(),
            "a corrupt object was served"
        ),
    }
    let e = c
        .get_object()
        .bucket("hostile")
        .key("big")
        .range(format!("bytes={}-{}", 10 * MIB - 100, 10 * MIB + 100))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), (500, "InternalError".into()));
    let first = c
        .get_object()
        .bucket("hostile")
        .key("big")
        .range("bytes=0-1048575")
        .send()
        .await
        .unwrap();
    assert_eq!(
        first.body.collect().await.unwrap().into_bytes().as_ref(),
        &big[..MIB]
    );

    let _ = tx.send(());
    task.await.unwrap().unwrap();
}

/// The files of a directory store's heads of vault `vault`, by name.
fn head_files(store: &Path, vault: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = store.join("heads").join(vault);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    out.sort();
    out
}

/// A gateway keeps what it saw of each bucket across restarts (its trust memory): a store that
/// serves an older head of the bucket's vault after a restart gets an error, never the old
/// object. Without the memory (the check that this test can fail), the old object comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_that_rolls_a_bucket_back_across_a_restart_is_refused() {
    let s = setup();
    let trust: Arc<dyn coffer::trust::TrustStore> =
        Arc::new(coffer::trust::FileTrust::open(s.state.join("trust")).unwrap());
    let gw = start_with_trust(
        &s.store,
        &s.state,
        &s.identity,
        &s.creds,
        Some(trust.clone()),
    )
    .await;
    gw.client
        .create_bucket()
        .bucket("rolled-back")
        .send()
        .await
        .unwrap();
    let put = |body: &'static [u8]| {
        gw.client
            .put_object()
            .bucket("rolled-back")
            .key("k")
            .body(ByteStream::from_static(body))
            .send()
    };
    put(b"first").await.unwrap();
    let old = head_files(&s.store, "rolled-back");
    put(b"second").await.unwrap();
    assert_eq!(get(&gw.client, "rolled-back", "k").await, b"second");
    gw.stop().await;

    // The store serves the heads as they were after the first put.
    for (path, bytes) in &old {
        std::fs::write(path, bytes).unwrap();
    }
    let gw = start_with_trust(&s.store, &s.state, &s.identity, &s.creds, Some(trust)).await;
    let r = gw
        .client
        .get_object()
        .bucket("rolled-back")
        .key("k")
        .send()
        .await;
    match r {
        Ok(out) => {
            let b = out.body.collect().await.unwrap().into_bytes();
            panic!(
                "a rolled-back bucket answered {:?}",
                String::from_utf8_lossy(&b)
            );
        }
        Err(e) => {
            let (status, code) = code(&e);
            assert_eq!((status, code.as_str()), (500, "InternalError"), "{e:?}");
        }
    }
    gw.stop().await;

    // With no memory of what it saw, a restarted gateway is fooled: the old object is back.
    let fresh = s.state.join("fresh");
    let gw = start(&s.store, &fresh, &s.identity, &s.creds).await;
    assert_eq!(get(&gw.client, "rolled-back", "k").await, b"first");
    gw.stop().await;
}
