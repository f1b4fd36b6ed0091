//! S3-compatible object stores (AWS, SeaweedFS, MinIO, Ceph, Garage) through `aws-sdk-s3`.
//!
//! Key layout under the configured prefix (see `docs/FORMAT.md §7`):
//!
//! ```text
//! <prefix>blocks/<cid>              one object per block or blob (base32 CIDv1)
//! <prefix>heads/<vault>/<writer>    one object per writer head; version = ETag
//! <prefix>probe/<random>            short-lived object of the conditional-write probe
//! ```
//!
//! Blobs of at least [`S3Config::part_size`] bytes go up as multipart uploads with
//! [`S3Config::concurrency`] parts in flight; an interrupted upload is resumed by the next
//! `put_stream` of the same CID, which lists the parts already uploaded and sends only the rest.
//! Retries (throttling, 5xx, timeouts) use the SDK's standard strategy: exponential backoff with
//! full jitter, [`S3Config::max_attempts`] attempts; 4xx errors such as `AccessDenied` are never
//! retried. Requires a tokio runtime (the SDK's HTTP client and timers run on it).

mod error;
mod heads;
mod multipart;

pub use multipart::UploadReport;

/// The `aws-sdk-s3` crate this store is built on, for callers that need its types (e.g. a
/// benchmark comparing with plain SDK calls through [`S3Store::client`]).
pub use aws_sdk_s3 as sdk;

use std::ops::Range;
use std::sync::atomic::AtomicU8;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use bytes::{Bytes, BytesMut};
use futures_util::io::Cursor;

use super::{
    BlobSource, BlockStore, ByteStream, ConditionalWrites, StoreError, StoreResult, check_max,
    check_range_u64,
};
use crate::block::Cid;
use error::map_sdk_error;

/// Smallest part S3 accepts (except for the last part).
pub const MIN_PART_SIZE: usize = 5 << 20;

/// Explicit S3 credentials; `Debug` never shows the secret.
#[derive(Clone)]
pub struct S3Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: zeroize::Zeroizing<String>,
    /// Session token of temporary credentials.
    pub session_token: Option<zeroize::Zeroizing<String>>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// How to reach a bucket.
#[derive(Clone, Debug)]
pub struct S3Config {
    /// Bucket name.
    pub bucket: String,
    /// Endpoint URL (`http://127.0.0.1:8333`); `None` means AWS, resolved from the region.
    pub endpoint: Option<String>,
    /// Region; `None` takes it from the AWS environment/profile, else `us-east-1`.
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), needed by most self-hosted stores.
    pub path_style: bool,
    /// Explicit credentials; `None` uses the standard AWS chain (environment, profile, web
    /// identity, ECS/IMDS).
    pub credentials: Option<S3Credentials>,
    /// Prefix of every key (a `/` is appended when missing); empty for the bucket root.
    pub prefix: String,
    /// Multipart part size in bytes (at least [`MIN_PART_SIZE`]); blobs this large or larger
    /// use multipart.
    pub part_size: usize,
    /// Parts uploaded at once.
    pub concurrency: usize,
    /// Attempts per request, including the first (retries back off with jitter).
    pub max_attempts: u32,
    /// What to assume about conditional writes without probing (`Unknown`: probe with
    /// [`crate::store::HeadStore::probe_conditional_writes`]).
    pub conditional_writes: ConditionalWrites,
}

impl S3Config {
    /// A configuration with defaults: virtual-hosted style, no prefix, 16 MiB parts, 4 in
    /// flight, 5 attempts, conditional writes unknown.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            endpoint: None,
            region: None,
            path_style: false,
            credentials: None,
            prefix: String::new(),
            part_size: 16 << 20,
            concurrency: 4,
            max_attempts: 5,
            conditional_writes: ConditionalWrites::Unknown,
        }
    }
}

/// A block and head store in an S3 bucket.
#[derive(Debug)]
pub struct S3Store {
    client: Client,
    bucket: String,
    prefix: String,
    part_size: usize,
    concurrency: usize,
    /// [`ConditionalWrites`] as a number (see `heads::encode_cw`), updated by the probe.
    conditional: AtomicU8,
    /// Set once the server refused an `If-Match` whose quoted ETag did match (Ceph RGW 16
    /// compares the header with the unquoted ETag): later `If-Match` headers are sent unquoted.
    unquoted_if_match: std::sync::atomic::AtomicBool,
}

impl S3Store {
    /// GetObject of `cid`'s block: the answer and the block's object key (`NotFound` names
    /// the CID). The body is not read yet.
    async fn get_block_object(
        &self,
        cid: &Cid,
    ) -> StoreResult<(aws_sdk_s3::operation::get_object::GetObjectOutput, String)> {
        let key = self.block_key(cid);
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| not_found_as_cid(map_sdk_error(e, &key), cid))?;
        Ok((out, key))
    }

    /// Builds the client (loading the AWS environment/profile when no credentials are given).
    /// No request is made; use [`S3Store::check_bucket`] to test the connection.
    pub async fn connect(config: S3Config) -> StoreResult<Self> {
        if config.bucket.is_empty() {
            return Err(StoreError::Config("the S3 bucket name is empty".into()));
        }
        if config.part_size < MIN_PART_SIZE {
            return Err(StoreError::Config(format!(
                "part size {} is below the S3 minimum of {MIN_PART_SIZE} bytes",
                config.part_size
            )));
        }
        let plain_http = config
            .endpoint
            .as_deref()
            .is_some_and(|e| e.len() >= 7 && e[..7].eq_ignore_ascii_case("http://"));
        let http = if plain_http {
            // No TLS at all for an http:// endpoint (a local server): nothing to verify, and no
            // need for the platform's CA certificates, which some systems lack.
            aws_smithy_http_client::Builder::new().build_http()
        } else {
            // The SDK's rustls client loads the platform's CA certificates and (in debug builds)
            // asserts that it found some: say what is missing instead.
            if rustls_native_certs::load_native_certs().certs.is_empty() {
                return Err(StoreError::Config(
                    "no CA certificates found on this system for https (install the \
                     ca-certificates package, or set SSL_CERT_FILE)"
                        .into(),
                ));
            }
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https()
        };
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if let Some(region) = &config.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(c) = &config.credentials {
            loader = loader.credentials_provider(Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.to_string(),
                c.session_token.as_ref().map(|t| t.to_string()),
                None,
                "coffer",
            ));
        }
        let sdk = loader.load().await;
        let mut builder = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(config.path_style)
            .retry_config(RetryConfig::standard().with_max_attempts(config.max_attempts.max(1)))
            // Content integrity is coffer's BLAKE3; SDK checksums would cost CPU and trip
            // S3-compatible stores that do not support them.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if sdk.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint.clone());
        }
        let mut prefix = config.prefix.clone();
        if !prefix.is_empty() && !prefix.ends_with('/') {
            prefix.push('/');
        }
        Ok(Self {
            client: Client::from_conf(builder.build()),
            bucket: config.bucket,
            prefix,
            part_size: config.part_size,
            concurrency: config.concurrency.max(1),
            conditional: AtomicU8::new(heads::encode_cw(config.conditional_writes)),
            unquoted_if_match: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Checks that the bucket exists and the credentials may use it.
    pub async fn check_bucket(&self) -> StoreResult<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map(|_| ())
            .map_err(
                |e| match map_sdk_error(e, &format!("bucket {}", self.bucket)) {
                    StoreError::NotFound(_) => {
                        StoreError::Config(format!("bucket {} does not exist", self.bucket))
                    }
                    other => other,
                },
            )
    }

    /// The underlying SDK client (benchmarks compare against it).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The object key of block `cid`.
    pub fn block_key(&self, cid: &Cid) -> String {
        format!("{}blocks/{cid}", self.prefix)
    }

    fn blocks_prefix(&self) -> String {
        format!("{}blocks/", self.prefix)
    }

    /// Stores a blob from `source`, multipart when it is at least one part long, resuming an
    /// interrupted upload of the same CID. Reports what was sent.
    pub async fn put_blob(
        &self,
        cid: &Cid,
        source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<UploadReport> {
        multipart::put_blob(self, cid, source, len).await
    }

    /// Aborts every unfinished multipart upload under this store's prefix (uploads abandoned for
    /// good; an aborted upload cannot be resumed). Returns how many were aborted.
    pub async fn abort_unfinished_uploads(&self) -> StoreResult<usize> {
        multipart::abort_all(self).await
    }

    async fn put_small(&self, key: &str, bytes: Bytes) -> StoreResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(SdkByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| map_sdk_error(e, key))
    }

    async fn object_len(&self, cid: &Cid) -> StoreResult<u64> {
        let key = self.block_key(cid);
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| not_found_as_cid(map_sdk_error(e, &key), cid))?;
        Ok(out.content_length().unwrap_or(0).max(0) as u64)
    }
}

/// Names the CID instead of the key in a `NotFound`.
fn not_found_as_cid(e: StoreError, cid: &Cid) -> StoreError {
    match e {
        StoreError::NotFound(_) => StoreError::NotFound(cid.to_string()),
        other => other,
    }
}

/// Reads `body` whole, failing with `too_large()` as soon as more than `cap` bytes have arrived:
/// at most `cap` bytes plus one chunk are ever held.
async fn read_capped(
    mut body: SdkByteStream,
    cap: u64,
    key: &str,
    too_large: impl Fn() -> StoreError,
) -> StoreResult<Bytes> {
    let mut out = BytesMut::new();
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| StoreError::Unavailable(format!("reading {key}: {e}")))?
    {
        if (out.len() + chunk.len()) as u64 > cap {
            return Err(too_large());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// The `Content-Length` an S3 answer declared, when it did.
fn declared_len(len: Option<i64>) -> Option<u64> {
    len.and_then(|l| u64::try_from(l).ok())
}

/// Total length from a `Content-Range: bytes a-b/total` header.
fn content_range_total(header: Option<&str>) -> Option<u64> {
    header?.rsplit('/').next()?.parse().ok()
}

#[async_trait::async_trait]
impl BlockStore for S3Store {
    async fn presigned_get(
        &self,
        cid: &Cid,
        expires_in: std::time::Duration,
    ) -> StoreResult<Option<String>> {
        // SigV4 presigned URLs live at most 7 days.
        let longest = std::time::Duration::from_secs(7 * 24 * 3600);
        let config = aws_sdk_s3::presigning::PresigningConfig::expires_in(expires_in.min(longest))
            .map_err(|e| StoreError::Config(format!("presigning: {e}")))?;
        let key = self.block_key(cid);
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .presigned(config)
            .await
            .map_err(|e| error::map_sdk_error(e, &key))?;
        Ok(Some(request.uri().to_string()))
    }

    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        if bytes.len() >= self.part_size {
            let len = bytes.len() as u64;
            let mut cursor = Cursor::new(bytes);
            return multipart::put_blob(self, cid, &mut cursor, Some(len))
                .await
                .map(|_| ());
        }
        self.put_small(&self.block_key(cid), bytes).await
    }

    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        let (out, key) = self.get_block_object(cid).await?;
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unavailable(format!("reading {key}: {e}")))?;
        Ok(body.into_bytes())
    }

    /// Refuses a `Content-Length` over `max_len` before reading, then reads the body with the
    /// same cap (a server may send no length, or a wrong one).
    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        let (out, key) = self.get_block_object(cid).await?;
        let declared = declared_len(out.content_length());
        if let Some(len) = declared {
            check_max(cid, len, max_len)?;
        }
        read_capped(out.body, max_len, &key, || {
            StoreError::block_too_large(cid, declared, max_len)
        })
        .await
    }

    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        if range.start >= range.end {
            let len = self.object_len(cid).await?;
            check_range_u64(cid, &range, len)?;
            return Ok(Bytes::new());
        }
        let key = self.block_key(cid);
        let sent = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .range(format!("bytes={}-{}", range.start, range.end - 1))
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            Err(e) => {
                return match not_found_as_cid(map_sdk_error(e, &key), cid) {
                    StoreError::RangeOutOfBounds { .. } => {
                        let len = self.object_len(cid).await?;
                        check_range_u64(cid, &range, len).and(Err(StoreError::Other(format!(
                            "S3 refused range {}..{} of {key} although it lies inside {len} bytes",
                            range.start, range.end
                        ))))
                    }
                    other => Err(other),
                };
            }
        };
        // S3 silently shortens a range that runs past the end.
        if let Some(total) = content_range_total(out.content_range()) {
            check_range_u64(cid, &range, total)?;
        }
        let want = range.end - range.start;
        let too_large = || StoreError::TooLarge {
            what: format!(
                "the answer to range {}..{} of {cid}",
                range.start, range.end
            ),
            limit: want,
        };
        if declared_len(out.content_length()).is_some_and(|l| l > want) {
            return Err(too_large());
        }
        let bytes = read_capped(out.body, want, &key, too_large).await?;
        super::check_range_answer(cid, &range, bytes)
    }

    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        match self.object_len(cid).await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        let key = self.block_key(cid);
        match self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match map_sdk_error(e, &key) {
                StoreError::NotFound(_) => Ok(()),
                other => Err(other),
            },
        }
    }

    async fn list(&self) -> StoreResult<Vec<Cid>> {
        let prefix = self.blocks_prefix();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_sdk_error(e, &prefix))?;
            for obj in page.contents() {
                if let Some(name) = obj.key().and_then(|k| k.strip_prefix(&prefix))
                    && let Ok(cid) = Cid::try_from(name)
                {
                    out.push(cid);
                }
            }
        }
        Ok(out)
    }

    /// Batched `DeleteObjects`, 1,000 keys a request (S3's limit), quiet mode: only failures come
    /// back, each mapped like a single delete's error.
    async fn delete_many(&self, cids: &[Cid]) -> StoreResult<Vec<(Cid, StoreError)>> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let mut failed = Vec::new();
        for batch in cids.chunks(1000) {
            let objects = batch
                .iter()
                .map(|c| ObjectIdentifier::builder().key(self.block_key(c)).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StoreError::Other(e.to_string()))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| StoreError::Other(e.to_string()))?;
            let out = self
                .client
                .delete_objects()
                .bucket(&self.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| map_sdk_error(e, &self.blocks_prefix()))?;
            for err in out.errors() {
                let Some(cid) = batch
                    .iter()
                    .find(|c| Some(self.block_key(c).as_str()) == err.key())
                else {
                    continue;
                };
                let what = format!(
                    "{}: {}",
                    err.code().unwrap_or("?"),
                    err.message().unwrap_or("")
                );
                match err.code() {
                    Some("NoSuchKey") => {}
                    Some("AccessDenied") => failed.push((*cid, StoreError::AccessDenied(what))),
                    _ => failed.push((*cid, StoreError::Other(what))),
                }
            }
        }
        Ok(failed)
    }

    /// Pages through `ListObjectsV2` (1,000 keys a page), with each object's size.
    async fn for_each_block(
        &self,
        each: &mut (dyn FnMut(Cid, Option<u64>) + Send),
    ) -> StoreResult<()> {
        let prefix = self.blocks_prefix();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_sdk_error(e, &prefix))?;
            for obj in page.contents() {
                if let Some(name) = obj.key().and_then(|k| k.strip_prefix(&prefix))
                    && let Ok(cid) = Cid::try_from(name)
                {
                    each(cid, obj.size().and_then(|n| u64::try_from(n).ok()));
                }
            }
        }
        Ok(())
    }

    async fn put_stream(
        &self,
        cid: &Cid,
        source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        multipart::put_blob(self, cid, source, len)
            .await
            .map(|_| ())
    }

    async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> {
        let (out, key) = self.get_block_object(cid).await?;
        // Never more than the declared length (S3 always declares it; hyper also enforces it).
        let limit = declared_len(out.content_length());
        let cid = *cid;
        let state = (out.body, key, 0u64);
        let stream = futures_util::stream::unfold(Some(state), move |state| async move {
            let (mut body, key, sent) = state?;
            match body.try_next().await {
                Ok(Some(chunk)) => {
                    let sent = sent + chunk.len() as u64;
                    if let Some(limit) = limit.filter(|l| sent > *l) {
                        let e = StoreError::block_too_large(&cid, None, limit);
                        return Some((Err(e), None));
                    }
                    Some((Ok(chunk), Some((body, key, sent))))
                }
                Ok(None) => None,
                Err(e) => Some((
                    Err(StoreError::Unavailable(format!("reading {key}: {e}"))),
                    None,
                )),
            }
        });
        Ok(Box::pin(stream))
    }
}
