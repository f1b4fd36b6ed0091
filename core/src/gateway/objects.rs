//! Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects, CopyObject.
//!
//! Writes spool the body, upload it under the bucket's read lock and commit through the
//! bucket's committer. Reads resolve the version once, then read it in pieces of at most
//! [`CHUNK`] bytes, each under a short read lock and pinned to that version, so a slow client
//! never holds up commits and a concurrent overwrite never mixes two versions in one response.

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use s3s::dto::*;
use s3s::{S3Error, S3ErrorCode, S3Request, S3Response, S3Result};
use tokio::sync::mpsc;

use super::attrs::{
    StoredHeaders, etag, etag_matches, etag_value, last_modified, parse_tagging, user_metadata,
    version_metadata,
};
use super::buckets::{Bucket, Shared};
use super::error::{invalid_argument, not_implemented, s3, spool_io, vault_error};
use super::spool::{BodyLimits, Expect, Spooled, check_checksums, spool, trailer_checksums};
use crate::store::{BlockStore, HeadStore};
use crate::vault::{CopyOptions, ObjectInfo, PutOptions, PutSource, VaultError};

/// Reads are done in pieces of this many bytes (each verified on its own).
pub(crate) const CHUNK: u64 = 8 << 20;

/// The content type S3 answers for objects stored without one.
const DEFAULT_CONTENT_TYPE: &str = "binary/octet-stream";

/// Runs a future that does CPU-bound work between its awaits (sealing, hashing a spooled file)
/// without starving the runtime's other tasks: on a multi-threaded runtime the worker is handed
/// over to blocking first.
pub(crate) async fn heavy<F: Future>(f: F) -> F::Output {
    let handle = tokio::runtime::Handle::current();
    if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread {
        tokio::task::block_in_place(|| handle.block_on(f))
    } else {
        f.await
    }
}

/// Uploads `source` under the read lock and commits it in the bucket's next group.
pub(crate) async fn upload_and_commit<S: BlockStore + HeadStore + ?Sized + 'static>(
    bucket: &Bucket<S>,
    key: &[u8],
    source: &mut dyn PutSource,
    opts: PutOptions,
) -> S3Result<ObjectInfo> {
    let upload = {
        let vault = bucket.vault.read().await;
        heavy(vault.upload_source(key, source, opts, None)).await
    }
    .map_err(|e| vault_error(&e))?;
    bucket.committer.commit(upload).await
}

/// Refuses customer-provided encryption keys (coffer encrypts everything with its own keys).
pub(crate) fn refuse_sse_c(algorithm: Option<&String>) -> S3Result<()> {
    match algorithm {
        Some(_) => Err(not_implemented(
            "Server-side encryption with customer keys (SSE-C)",
        )),
        None => Ok(()),
    }
}

/// Accepts the canned ACLs that change nothing for a single-user gateway.
pub(crate) fn check_acl(acl: Option<&ObjectCannedACL>) -> S3Result<()> {
    match acl.map(ObjectCannedACL::as_str) {
        None
        | Some(ObjectCannedACL::PRIVATE)
        | Some(ObjectCannedACL::BUCKET_OWNER_FULL_CONTROL) => Ok(()),
        Some(_) => Err(not_implemented("ACLs other than private")),
    }
}

/// The algorithm of a checksum the client announced for a trailer.
pub(crate) fn announced_algorithm(headers: &http::HeaderMap) -> Option<String> {
    let trailer = headers.get("x-amz-trailer")?.to_str().ok()?;
    trailer
        .trim()
        .strip_prefix("x-amz-checksum-")
        .map(str::to_ascii_uppercase)
}

/// The checksums sent as headers.
pub(crate) fn sent_checksum(
    crc32: Option<String>,
    crc32c: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
    crc64nvme: Option<String>,
) -> Checksum {
    Checksum {
        checksum_crc32: crc32,
        checksum_crc32c: crc32c,
        checksum_sha1: sha1,
        checksum_sha256: sha256,
        checksum_crc64nvme: crc64nvme,
        checksum_type: None,
    }
}

/// A raw header's text.
pub(crate) fn header_text(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `If-Match` / `If-None-Match` of a write, as vault conditions: `(if_absent, if_match version)`.
/// An `If-Match` ETag is mapped to the version that has it now; the commit checks that version
/// again, so a write between here and the commit still fails the condition.
pub(crate) async fn write_conditions<S: BlockStore + HeadStore + ?Sized + 'static>(
    bucket: &Bucket<S>,
    key: &[u8],
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<(bool, Option<String>)> {
    let if_absent = match if_none_match {
        None => false,
        Some(ETagCondition::Any) => true,
        Some(ETagCondition::ETag(_)) => {
            return Err(not_implemented(
                "If-None-Match with an ETag on writes (only *)",
            ));
        }
    };
    let version = match if_match {
        None => None,
        Some(cond) => {
            let info = bucket
                .vault
                .read()
                .await
                .head(key)
                .await
                .map_err(|e| vault_error(&e))?;
            if !etag_matches(cond, &info) {
                return Err(precondition_failed());
            }
            Some(info.version)
        }
    };
    Ok((if_absent, version))
}

fn precondition_failed() -> S3Error {
    s3(
        S3ErrorCode::PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold",
    )
}

/// PutObject.
pub(crate) async fn put_object<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<PutObjectInput>,
) -> S3Result<S3Response<PutObjectOutput>> {
    let S3Request {
        input,
        headers,
        trailing_headers,
        ..
    } = req;
    refuse_sse_c(input.sse_customer_algorithm.as_ref())?;
    check_acl(input.acl.as_ref())?;
    if input.write_offset_bytes.is_some() {
        return Err(not_implemented("Appending (x-amz-write-offset-bytes)"));
    }
    if input.object_lock_mode.is_some() || input.object_lock_legal_hold_status.is_some() {
        return Err(not_implemented("Object Lock"));
    }
    let bucket = sh.bucket(&input.bucket).await?;
    let key = input.key.as_bytes();
    let stored = StoredHeaders {
        cache_control: input.cache_control,
        content_disposition: input.content_disposition,
        content_encoding: input.content_encoding,
        content_language: input.content_language,
        expires: header_text(&headers, "expires"),
        website_redirect_location: input.website_redirect_location,
    };
    let metadata = version_metadata(input.metadata, &stored)?;
    let tags = parse_tagging(input.tagging.as_deref())?;
    let algorithm = announced_algorithm(&headers);
    let expect = Expect {
        len: input.content_length.and_then(|l| u64::try_from(l).ok()),
        content_md5: input.content_md5.as_deref(),
        checksum: sent_checksum(
            input.checksum_crc32,
            input.checksum_crc32c,
            input.checksum_sha1,
            input.checksum_sha256,
            input.checksum_crc64nvme,
        ),
        algorithm: algorithm.as_deref(),
    };
    let limits = BodyLimits {
        max_len: sh.limits.max_object_size,
        idle: sh.limits.body_idle_timeout,
    };
    let spooled = spool(input.body, &sh.tmp_dir, limits, &expect).await?;
    check_checksums(
        &trailer_checksums(trailing_headers.as_ref()),
        &spooled.checksum,
    )?;
    let (if_absent, if_match) = write_conditions(
        &bucket,
        key,
        input.if_match.as_ref(),
        input.if_none_match.as_ref(),
    )
    .await?;
    let opts = PutOptions {
        content_type: input.content_type,
        metadata,
        tags,
        if_absent,
        if_match,
        s3_etag: Some(spooled.etag()),
    };
    let info = upload_and_commit(&bucket, key, &mut spooled.path_buf(), opts).await?;
    let c = spooled.checksum.clone();
    Ok(S3Response::new(PutObjectOutput {
        e_tag: Some(etag(&info)),
        version_id: Some(info.version.clone()),
        checksum_crc32: c.checksum_crc32,
        checksum_crc32c: c.checksum_crc32c,
        checksum_sha1: c.checksum_sha1,
        checksum_sha256: c.checksum_sha256,
        checksum_crc64nvme: c.checksum_crc64nvme,
        ..Default::default()
    }))
}

/// The version a read names: the current one, or `versionId`.
pub(crate) async fn resolve<S: BlockStore + HeadStore + ?Sized + 'static>(
    bucket: &Bucket<S>,
    key: &str,
    version: Option<&str>,
) -> S3Result<ObjectInfo> {
    let vault = bucket.vault.read().await;
    match version {
        None => vault
            .head(key.as_bytes())
            .await
            .map_err(|e| vault_error(&e)),
        Some(v) => vault
            .head_version(key.as_bytes(), v)
            .await
            .map_err(|e| match e {
                VaultError::NotFound => s3(
                    S3ErrorCode::NoSuchVersion,
                    "The specified version does not exist.",
                ),
                other => vault_error(&other),
            }),
    }
}

/// The read preconditions of GetObject and HeadObject (RFC 9110 §13.2.2, as S3 applies them):
/// `If-Match` wins over `If-Unmodified-Since` (412), `If-None-Match` over `If-Modified-Since`
/// (304).
fn check_read_conditions(
    info: &ObjectInfo,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let modified = last_modified(info);
    match (if_match, if_unmodified_since) {
        (Some(c), _) if !etag_matches(c, info) => return Err(precondition_failed()),
        (None, Some(t)) if modified > *t => return Err(precondition_failed()),
        _ => {}
    }
    let not_modified = match (if_none_match, if_modified_since) {
        (Some(c), _) => etag_matches(c, info),
        (None, Some(t)) => modified <= *t,
        (None, None) => false,
    };
    if not_modified {
        let mut e = s3(S3ErrorCode::NotModified, "Not Modified");
        let mut h = http::HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_str(&format!("\"{}\"", etag_value(info))) {
            h.insert(http::header::ETAG, v);
        }
        e.set_headers(h);
        return Err(e);
    }
    Ok(())
}

/// The byte range a read answers: the `Range` header, or part `partNumber` of an object (a
/// coffer object is one part), or all of it; with its `Content-Range`.
fn read_range(
    info: &ObjectInfo,
    range: Option<&s3s::dto::Range>,
    part_number: Option<i32>,
) -> S3Result<(Range<u64>, Option<String>)> {
    match (range, part_number) {
        (Some(_), Some(_)) => Err(s3(
            S3ErrorCode::InvalidRequest,
            "Cannot specify both Range header and partNumber query parameter",
        )),
        (None, Some(1)) | (None, None) => Ok((0..info.size, None)),
        (None, Some(_)) => {
            let mut e = s3(
                S3ErrorCode::Custom("InvalidPartNumber".into()),
                "The requested partnumber is not satisfiable",
            );
            e.set_status_code(http::StatusCode::RANGE_NOT_SATISFIABLE);
            Err(e)
        }
        (Some(r), None) => {
            let r = r.check(info.size).map_err(|_| {
                s3(
                    S3ErrorCode::InvalidRange,
                    "The requested range is not satisfiable",
                )
            })?;
            let cr = format!("bytes {}-{}/{}", r.start, r.end - 1, info.size);
            Ok((r, Some(cr)))
        }
    }
}

/// Reads `range` of `version` of `key` under a short read lock (at most [`CHUNK`] bytes).
pub(crate) async fn read_chunk<S: BlockStore + HeadStore + ?Sized + 'static>(
    bucket: &Bucket<S>,
    key: &[u8],
    version: &str,
    range: Range<u64>,
) -> S3Result<Bytes> {
    let vault = bucket.vault.read().await;
    vault
        .get_version_range(key, version, range)
        .await
        .map(Bytes::from)
        .map_err(|e| vault_error(&e))
}

/// A body that yields verified pieces fed by a reader task.
struct Pieces(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl futures_core::Stream for Pieces {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// The body of a read: verified plaintext of `range`, read one piece ahead of the client. If a
/// piece fails verification the body ends with an error (the connection is cut), never with
/// wrong bytes.
async fn body<S: BlockStore + HeadStore + ?Sized + 'static>(
    bucket: Arc<Bucket<S>>,
    key: String,
    version: String,
    range: Range<u64>,
) -> S3Result<StreamingBlob> {
    if range.end - range.start <= CHUNK {
        let bytes = read_chunk(&bucket, key.as_bytes(), &version, range).await?;
        return Ok(StreamingBlob::from(s3s::Body::from(bytes)));
    }
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut at = range.start;
        while at < range.end {
            let end = (at + CHUNK).min(range.end);
            let piece = read_chunk(&bucket, key.as_bytes(), &version, at..end)
                .await
                .map_err(|e| std::io::Error::other(e.to_string()));
            let failed = piece.is_err();
            if tx.send(piece).await.is_err() || failed {
                return; // the client went away, or the read failed
            }
            at = end;
        }
    });
    Ok(StreamingBlob::wrap(Pieces(rx)))
}

/// GetObject.
pub(crate) async fn get_object<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<GetObjectInput>,
) -> S3Result<S3Response<GetObjectOutput>> {
    let input = req.input;
    refuse_sse_c(input.sse_customer_algorithm.as_ref())?;
    let bucket = sh.bucket(&input.bucket).await?;
    let info = resolve(&bucket, &input.key, input.version_id.as_deref()).await?;
    check_read_conditions(
        &info,
        input.if_match.as_ref(),
        input.if_none_match.as_ref(),
        input.if_modified_since.as_ref(),
        input.if_unmodified_since.as_ref(),
    )?;
    let (range, content_range) = read_range(&info, input.range.as_ref(), input.part_number)?;
    let tag_count = tag_count(&bucket, &info, input.version_id.is_some()).await;
    let len = range.end - range.start;
    let body = body(bucket, input.key, info.version.clone(), range).await?;
    let stored = StoredHeaders::from_metadata(&info.metadata);
    Ok(S3Response::new(GetObjectOutput {
        body: Some(body),
        content_length: Some(len as i64),
        content_range,
        accept_ranges: Some("bytes".into()),
        content_type: Some(
            info.content_type
                .clone()
                .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.into()),
        ),
        e_tag: Some(etag(&info)),
        last_modified: Some(last_modified(&info)),
        metadata: user_metadata(&info),
        version_id: Some(info.version.clone()),
        expires: stored.expires_timestamp(),
        cache_control: stored.cache_control,
        content_disposition: stored.content_disposition,
        content_encoding: stored.content_encoding,
        content_language: stored.content_language,
        website_redirect_location: stored.website_redirect_location,
        tag_count,
        parts_count: input.part_number.map(|_| 1),
        ..Default::default()
    }))
}

/// `x-amz-tagging-count` of the current version (versions read by id are not counted).
async fn tag_count<S: BlockStore + HeadStore + ?Sized + 'static>(
    bucket: &Bucket<S>,
    info: &ObjectInfo,
    by_version: bool,
) -> Option<i32> {
    if by_version {
        return None;
    }
    let tags = bucket.vault.read().await.tags(&info.key).await.ok()?;
    i32::try_from(tags.len()).ok().filter(|n| *n > 0)
}

/// HeadObject.
pub(crate) async fn head_object<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<HeadObjectInput>,
) -> S3Result<S3Response<HeadObjectOutput>> {
    let input = req.input;
    refuse_sse_c(input.sse_customer_algorithm.as_ref())?;
    let bucket = sh.bucket(&input.bucket).await?;
    let info = resolve(&bucket, &input.key, input.version_id.as_deref()).await?;
    check_read_conditions(
        &info,
        input.if_match.as_ref(),
        input.if_none_match.as_ref(),
        input.if_modified_since.as_ref(),
        input.if_unmodified_since.as_ref(),
    )?;
    let (range, content_range) = read_range(&info, input.range.as_ref(), input.part_number)?;
    let stored = StoredHeaders::from_metadata(&info.metadata);
    Ok(S3Response::new(HeadObjectOutput {
        content_length: Some((range.end - range.start) as i64),
        content_range,
        accept_ranges: Some("bytes".into()),
        content_type: Some(
            info.content_type
                .clone()
                .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.into()),
        ),
        e_tag: Some(etag(&info)),
        last_modified: Some(last_modified(&info)),
        metadata: user_metadata(&info),
        version_id: Some(info.version.clone()),
        expires: stored.expires_timestamp(),
        cache_control: stored.cache_control,
        content_disposition: stored.content_disposition,
        content_encoding: stored.content_encoding,
        content_language: stored.content_language,
        website_redirect_location: stored.website_redirect_location,
        parts_count: input.part_number.map(|_| 1),
        ..Default::default()
    }))
}

/// DeleteObject: deleting a key that holds nothing succeeds (204), as in S3.
pub(crate) async fn delete_object<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<DeleteObjectInput>,
) -> S3Result<S3Response<DeleteObjectOutput>> {
    let input = req.input;
    if input.version_id.is_some() {
        return Err(not_implemented(
            "Deleting one version permanently (DeleteObject with versionId)",
        ));
    }
    let bucket = sh.bucket(&input.bucket).await?;
    let key = input.key.as_bytes();
    let mut vault = bucket.vault.write().await;
    if let Some(cond) = &input.if_match {
        let info = vault.head(key).await.map_err(|e| vault_error(&e))?;
        if !etag_matches(cond, &info) {
            return Err(precondition_failed());
        }
    }
    match vault.delete(key).await {
        Ok(()) | Err(VaultError::NotFound) => Ok(S3Response::new(DeleteObjectOutput::default())),
        Err(e) => Err(vault_error(&e)),
    }
}

/// DeleteObjects (quiet and verbose): one commit for all keys; keys that hold nothing are
/// reported deleted, as in S3.
pub(crate) async fn delete_objects<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<DeleteObjectsInput>,
) -> S3Result<S3Response<DeleteObjectsOutput>> {
    let input = req.input;
    let objects = input.delete.objects;
    if objects.is_empty() || objects.len() > 1000 {
        return Err(s3(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published \
             schema (1 to 1000 objects)",
        ));
    }
    let quiet = input.delete.quiet.unwrap_or(false);
    let bucket = sh.bucket(&input.bucket).await?;
    let mut errors = Vec::new();
    let mut deleted = Vec::new();
    let plain: Vec<&[u8]> = objects
        .iter()
        .filter(|o| o.version_id.is_none())
        .map(|o| o.key.as_bytes())
        .collect();
    for o in objects.iter().filter(|o| o.version_id.is_some()) {
        errors.push(Error {
            code: Some("NotImplemented".into()),
            key: Some(o.key.clone()),
            message: Some("Deleting one version permanently is not implemented".into()),
            version_id: o.version_id.clone(),
        });
    }
    if !plain.is_empty() {
        let results = bucket
            .vault
            .write()
            .await
            .delete_many(&plain)
            .await
            .map_err(|e| vault_error(&e))?;
        for r in results {
            let key = String::from_utf8_lossy(&r.key).into_owned();
            match r.result {
                Ok(()) | Err(VaultError::NotFound) => deleted.push(DeletedObject {
                    key: Some(key),
                    ..Default::default()
                }),
                Err(e) => {
                    let s3e = vault_error(&e);
                    errors.push(Error {
                        code: Some(s3e.code().as_str().to_string()),
                        key: Some(key),
                        message: s3e.message().map(str::to_string),
                        version_id: None,
                    });
                }
            }
        }
    }
    Ok(S3Response::new(DeleteObjectsOutput {
        deleted: (!quiet).then_some(deleted),
        errors: (!errors.is_empty()).then_some(errors),
        ..Default::default()
    }))
}

/// The source of a copy: `(bucket, key, versionId)`.
pub(crate) fn copy_source(src: &CopySource) -> S3Result<(&str, &str, Option<&str>)> {
    match src {
        CopySource::Bucket {
            bucket,
            key,
            version_id,
        } => Ok((bucket, key, version_id.as_deref())),
        _ => Err(not_implemented("Access point and Outposts copy sources")),
    }
}

/// The copy-source preconditions (all fail with 412, as S3 answers them for copies).
pub(crate) fn check_copy_conditions(
    info: &ObjectInfo,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    check_read_conditions(
        info,
        if_match,
        if_none_match,
        if_modified_since,
        if_unmodified_since,
    )
    .map_err(|e| {
        if *e.code() == S3ErrorCode::NotModified {
            precondition_failed()
        } else {
            e
        }
    })
}

/// Writes `range` of a version to a new spool file (for copies between buckets and part copies).
pub(crate) async fn spool_version<S: BlockStore + HeadStore + ?Sized + 'static>(
    bucket: &Bucket<S>,
    info: &ObjectInfo,
    range: Range<u64>,
    dir: &std::path::Path,
) -> S3Result<Spooled> {
    use md5::Digest;
    use tokio::io::AsyncWriteExt;
    let (file, path) = super::spool::temp_in(dir)?;
    let mut file = tokio::fs::File::from_std(file);
    let mut md5 = md5::Md5::new();
    let mut at = range.start;
    while at < range.end {
        let end = (at + CHUNK).min(range.end);
        let piece = read_chunk(bucket, &info.key, &info.version, at..end).await?;
        md5.update(&piece);
        file.write_all(&piece).await.map_err(spool_io)?;
        at = end;
    }
    file.flush().await.map_err(spool_io)?;
    Ok(Spooled {
        path,
        len: range.end - range.start,
        md5: md5.finalize().into(),
        checksum: Checksum::default(),
    })
}

/// CopyObject: within a bucket by reference (nothing re-encrypted or uploaded); between buckets
/// (two vaults) the plaintext is read, spooled and sealed again.
pub(crate) async fn copy_object<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<CopyObjectInput>,
) -> S3Result<S3Response<CopyObjectOutput>> {
    let S3Request { input, headers, .. } = req;
    refuse_sse_c(input.sse_customer_algorithm.as_ref())?;
    refuse_sse_c(input.copy_source_sse_customer_algorithm.as_ref())?;
    check_acl(input.acl.as_ref())?;
    if input.object_lock_mode.is_some() || input.object_lock_legal_hold_status.is_some() {
        return Err(not_implemented("Object Lock"));
    }
    let (src_bucket, src_key, src_version) = copy_source(&input.copy_source)?;
    let dst = sh.bucket(&input.bucket).await?;
    let same_bucket = src_bucket == input.bucket;
    let src = if same_bucket {
        dst.clone()
    } else {
        sh.bucket(src_bucket).await?
    };
    let info = resolve(&src, src_key, src_version).await?;
    check_copy_conditions(
        &info,
        input.copy_source_if_match.as_ref(),
        input.copy_source_if_none_match.as_ref(),
        input.copy_source_if_modified_since.as_ref(),
        input.copy_source_if_unmodified_since.as_ref(),
    )?;
    let replace_meta = match input
        .metadata_directive
        .as_ref()
        .map(MetadataDirective::as_str)
    {
        None | Some(MetadataDirective::COPY) => false,
        Some(MetadataDirective::REPLACE) => true,
        Some(_) => return Err(invalid_argument("Unknown metadata directive.")),
    };
    let replace_tags = match input
        .tagging_directive
        .as_ref()
        .map(TaggingDirective::as_str)
    {
        None | Some(TaggingDirective::COPY) => false,
        Some(TaggingDirective::REPLACE) => true,
        Some(_) => return Err(invalid_argument("Unknown tagging directive.")),
    };
    if same_bucket && src_key == input.key && !replace_meta && !replace_tags {
        return Err(s3(
            S3ErrorCode::InvalidRequest,
            "This copy request is illegal because it is trying to copy an object to itself \
             without changing the object's metadata, storage class, website redirect location \
             or encryption attributes.",
        ));
    }
    let metadata = if replace_meta {
        let stored = StoredHeaders {
            cache_control: input.cache_control,
            content_disposition: input.content_disposition,
            content_encoding: input.content_encoding,
            content_language: input.content_language,
            expires: header_text(&headers, "expires"),
            website_redirect_location: input.website_redirect_location,
        };
        Some((
            input.content_type,
            version_metadata(input.metadata, &stored)?,
        ))
    } else {
        None
    };
    let tags = if replace_tags {
        Some(parse_tagging(input.tagging.as_deref())?)
    } else {
        None
    };
    let dst_key = input.key.as_bytes();
    let copied = if same_bucket {
        let opts = CopyOptions {
            metadata,
            tags,
            ..Default::default()
        };
        dst.vault
            .write()
            .await
            .copy_version(&info.key, Some(&info.version), dst_key, opts)
            .await
            .map_err(|e| vault_error(&e))?
    } else {
        let tags = match tags {
            Some(t) => t,
            None if src_version.is_none() => src
                .vault
                .read()
                .await
                .tags(&info.key)
                .await
                .map_err(|e| vault_error(&e))?,
            None => Default::default(),
        };
        let (content_type, metadata) =
            metadata.unwrap_or_else(|| (info.content_type.clone(), info.metadata.clone()));
        let spooled = spool_version(&src, &info, 0..info.size, &sh.tmp_dir).await?;
        let opts = PutOptions {
            content_type,
            metadata,
            tags,
            s3_etag: Some(info.s3_etag.clone().unwrap_or_else(|| spooled.etag())),
            ..Default::default()
        };
        upload_and_commit(&dst, dst_key, &mut spooled.path_buf(), opts).await?
    };
    Ok(S3Response::new(CopyObjectOutput {
        copy_object_result: Some(CopyObjectResult {
            e_tag: Some(etag(&copied)),
            last_modified: Some(last_modified(&copied)),
            ..Default::default()
        }),
        version_id: Some(copied.version.clone()),
        copy_source_version_id: src_version.map(str::to_string),
        ..Default::default()
    }))
}
