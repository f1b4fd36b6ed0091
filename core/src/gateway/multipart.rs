//! Multipart uploads: CreateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListMultipartUploads, ListParts.
//!
//! Parts are spooled on the gateway's machine under `<state>/uploads/<upload id>/` (nothing
//! leaves it unsealed), so uploads survive a restart of the gateway. An upload's directory holds
//! `upload.json` (bucket, key, content type, metadata, tags), per part `part-NNNNN.json` (its MD5,
//! size and data file) and the data file, and once completed `completed.json` (the result, so a
//! retried Complete gets the same answer) until it is cleaned an hour later. Complete checks the
//! part list against S3's rules, then uploads the concatenation of the parts as one object (a
//! [`PutSource`] over the part files): its time is proportional to the object's size, so a large
//! Complete answers `200` at once and keeps the connection alive with whitespace until the
//! result (S3 does the same). The ETag is S3's multipart ETag, `md5(md5(part 1) ‖ …)-N`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use md5::Digest;
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};
use serde::{Deserialize, Serialize};

use super::attrs::{StoredHeaders, parse_tagging, version_metadata};
use super::buckets::{Shared, owner, timestamp};
use super::error::{internal, invalid_argument, s3, spool_io};
use super::objects::{
    announced_algorithm, check_acl, check_copy_conditions, copy_source, header_text, refuse_sse_c,
    resolve, sent_checksum, spool_version, upload_and_commit, write_conditions,
};
use super::spool::{BodyLimits, Expect, Spooled, check_checksums, spool, trailer_checksums};
use crate::store::{BlockStore, HeadStore};
use crate::vault::{PutOptions, PutSource, now_ms};

/// Every part but the last must be at least this large (S3's rule).
pub(crate) const MIN_PART_SIZE: u64 = 5 << 20;

/// At most this many parts (S3's rule).
const MAX_PART_NUMBER: i32 = 10_000;

/// Completed uploads are remembered this long (a retried Complete gets the same answer).
const COMPLETED_RETENTION_MS: u64 = 3_600_000;

/// A Complete of more than this many bytes answers at once and keeps the connection alive.
const KEEP_ALIVE_ABOVE: u64 = 256 << 20;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct UploadMeta {
    v: u8,
    bucket: String,
    key: String,
    initiated_ms: u64,
    content_type: Option<String>,
    metadata: BTreeMap<String, String>,
    tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct PartMeta {
    part: i32,
    /// The data file's name in the upload's directory.
    file: String,
    /// MD5 of the part, hex.
    etag: String,
    size: u64,
    modified_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Completed {
    etag: String,
    version: String,
    completed_ms: u64,
}

/// The multipart spool: one directory per upload.
pub(crate) struct UploadDir {
    root: PathBuf,
}

fn no_such_upload() -> s3s::S3Error {
    s3(
        S3ErrorCode::NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may \
         have been aborted or completed.",
    )
}

/// Writes `value` as JSON to `path` atomically (a temporary file renamed over it).
async fn write_json<T: Serialize>(dir: &Path, path: &Path, value: &T) -> S3Result<()> {
    let text = serde_json::to_vec(value).map_err(|e| internal(e.to_string()))?;
    let (file, tmp) = super::spool::temp_in(dir)?;
    drop(file);
    tokio::fs::write(&tmp, text).await.map_err(spool_io)?;
    tmp.persist(path).map_err(|e| spool_io(e.error))?;
    Ok(())
}

async fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<T> {
    let bytes = tokio::fs::read(path).await.ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl UploadDir {
    /// The spool at `root` (created, private to the user).
    pub(crate) fn open(root: PathBuf) -> std::io::Result<Self> {
        create_private_dir(&root)?;
        Ok(Self { root })
    }

    /// The directory of upload `id` (ids are 32 hex digits; anything else names no upload).
    fn dir(&self, id: &str) -> S3Result<PathBuf> {
        if id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            Ok(self.root.join(id))
        } else {
            Err(no_such_upload())
        }
    }

    async fn create(&self, meta: &UploadMeta) -> S3Result<String> {
        let mut raw = [0u8; 16];
        crate::keys::fill_random(&mut raw);
        let id = data_encoding::HEXLOWER.encode(&raw);
        let dir = self.dir(&id)?;
        tokio::fs::create_dir(&dir).await.map_err(spool_io)?;
        write_json(&dir, &dir.join("upload.json"), meta).await?;
        Ok(id)
    }

    /// The upload `id` of `bucket`/`key` (not completed).
    async fn load(&self, id: &str, bucket: &str, key: &str) -> S3Result<(PathBuf, UploadMeta)> {
        let dir = self.dir(id)?;
        let meta: UploadMeta = read_json(&dir.join("upload.json"))
            .await
            .ok_or_else(no_such_upload)?;
        if meta.bucket != bucket || meta.key != key || dir.join("completed.json").exists() {
            return Err(no_such_upload());
        }
        Ok((dir, meta))
    }

    async fn parts(&self, dir: &Path) -> S3Result<BTreeMap<i32, PartMeta>> {
        let mut out = BTreeMap::new();
        let mut rd = tokio::fs::read_dir(dir)
            .await
            .map_err(|_| no_such_upload())?;
        while let Some(entry) = rd.next_entry().await.map_err(spool_io)? {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with("part-")
                && name.ends_with(".json")
                && let Some(p) = read_json::<PartMeta>(&entry.path()).await
            {
                out.insert(p.part, p);
            }
        }
        Ok(out)
    }

    /// Moves a spooled part into the upload and records it (replacing a part of that number).
    async fn put_part(&self, dir: &Path, part: i32, spooled: Spooled) -> S3Result<PartMeta> {
        let mut raw = [0u8; 8];
        crate::keys::fill_random(&mut raw);
        let file = format!("part-{part:05}-{}", data_encoding::HEXLOWER.encode(&raw));
        let etag = spooled.etag();
        let size = spooled.len;
        spooled
            .path
            .persist(dir.join(&file))
            .map_err(|_| no_such_upload())?;
        let meta_path = dir.join(format!("part-{part:05}.json"));
        let previous: Option<PartMeta> = read_json(&meta_path).await;
        let meta = PartMeta {
            part,
            file,
            etag,
            size,
            modified_ms: now_ms(),
        };
        write_json(dir, &meta_path, &meta)
            .await
            .map_err(|_| no_such_upload())?;
        if let Some(old) = previous
            && old.file != meta.file
        {
            let _ = tokio::fs::remove_file(dir.join(old.file)).await;
        }
        Ok(meta)
    }

    /// Every upload in progress of `bucket`, ordered by key, then initiation.
    async fn list(&self, bucket: &str) -> Vec<(String, UploadMeta)> {
        let mut out = Vec::new();
        let Ok(mut rd) = tokio::fs::read_dir(&self.root).await else {
            return out;
        };
        while let Ok(Some(entry)) = rd.next_entry().await {
            let id = entry.file_name().to_string_lossy().into_owned();
            let Ok(dir) = self.dir(&id) else { continue };
            if dir.join("completed.json").exists() {
                continue;
            }
            if let Some(meta) = read_json::<UploadMeta>(&dir.join("upload.json")).await
                && meta.bucket == bucket
            {
                out.push((id, meta));
            }
        }
        out.sort_by(|a, b| {
            (&a.1.key, a.1.initiated_ms, &a.0).cmp(&(&b.1.key, b.1.initiated_ms, &b.0))
        });
        out
    }

    /// Aborts every upload of `bucket` (its bucket was deleted).
    pub(crate) async fn abort_bucket(&self, bucket: &str) {
        for (id, _) in self.list(bucket).await {
            if let Ok(dir) = self.dir(&id) {
                let _ = tokio::fs::remove_dir_all(dir).await;
            }
        }
    }

    /// Removes completed uploads past their retention and directories without `upload.json`
    /// (a crash during CreateMultipartUpload).
    pub(crate) async fn clean(&self) {
        let Ok(mut rd) = tokio::fs::read_dir(&self.root).await else {
            return;
        };
        let now = now_ms();
        while let Ok(Some(entry)) = rd.next_entry().await {
            let path = entry.path();
            let done: Option<Completed> = read_json(&path.join("completed.json")).await;
            let stale = match done {
                Some(c) => now.saturating_sub(c.completed_ms) > COMPLETED_RETENTION_MS,
                None => !path.join("upload.json").exists(),
            };
            if stale {
                let _ = tokio::fs::remove_dir_all(&path).await;
            }
        }
    }
}

/// Creates `dir` (and parents) readable by the user only.
pub(crate) fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The concatenation of the part files, read from the start each time it is opened.
struct PartsSource(Vec<PathBuf>);

struct Chain {
    files: std::vec::IntoIter<std::fs::File>,
    current: Option<std::fs::File>,
}

impl Read for Chain {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let Some(f) = self.current.as_mut() else {
                return Ok(0);
            };
            let n = f.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            self.current = self.files.next();
        }
    }
}

impl PutSource for PartsSource {
    fn open(&mut self) -> std::io::Result<Box<dyn Read + Send + '_>> {
        let files = self
            .0
            .iter()
            .map(std::fs::File::open)
            .collect::<std::io::Result<Vec<_>>>()?;
        let mut files = files.into_iter();
        let current = files.next();
        Ok(Box::new(Chain { files, current }))
    }
}

fn check_part_number(n: i32) -> S3Result<()> {
    if (1..=MAX_PART_NUMBER).contains(&n) {
        Ok(())
    } else {
        Err(invalid_argument(
            "Part number must be an integer between 1 and 10000, inclusive",
        ))
    }
}

/// CreateMultipartUpload.
pub(crate) async fn create<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<CreateMultipartUploadInput>,
) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
    let S3Request { input, headers, .. } = req;
    refuse_sse_c(input.sse_customer_algorithm.as_ref())?;
    check_acl(input.acl.as_ref())?;
    if input.object_lock_mode.is_some() || input.object_lock_legal_hold_status.is_some() {
        return Err(super::error::not_implemented("Object Lock"));
    }
    sh.bucket(&input.bucket).await?;
    let stored = StoredHeaders {
        cache_control: input.cache_control,
        content_disposition: input.content_disposition,
        content_encoding: input.content_encoding,
        content_language: input.content_language,
        expires: header_text(&headers, "expires"),
        website_redirect_location: input.website_redirect_location,
    };
    let meta = UploadMeta {
        v: 1,
        bucket: input.bucket.clone(),
        key: input.key.clone(),
        initiated_ms: now_ms(),
        content_type: input.content_type,
        metadata: version_metadata(input.metadata, &stored)?,
        tags: parse_tagging(input.tagging.as_deref())?,
    };
    let id = sh.uploads.create(&meta).await?;
    Ok(S3Response::new(CreateMultipartUploadOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(id),
        ..Default::default()
    }))
}

/// UploadPart.
pub(crate) async fn upload_part<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<UploadPartInput>,
) -> S3Result<S3Response<UploadPartOutput>> {
    let S3Request {
        input,
        headers,
        trailing_headers,
        ..
    } = req;
    refuse_sse_c(input.sse_customer_algorithm.as_ref())?;
    check_part_number(input.part_number)?;
    sh.bucket(&input.bucket).await?;
    let (dir, _) = sh
        .uploads
        .load(&input.upload_id, &input.bucket, &input.key)
        .await?;
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
        max_len: sh.limits.max_part_size,
        idle: sh.limits.body_idle_timeout,
    };
    let spooled = spool(input.body, &dir, limits, &expect).await?;
    check_checksums(
        &trailer_checksums(trailing_headers.as_ref()),
        &spooled.checksum,
    )?;
    let c = spooled.checksum.clone();
    let part = sh
        .uploads
        .put_part(&dir, input.part_number, spooled)
        .await?;
    Ok(S3Response::new(UploadPartOutput {
        e_tag: Some(ETag::Strong(part.etag)),
        checksum_crc32: c.checksum_crc32,
        checksum_crc32c: c.checksum_crc32c,
        checksum_sha1: c.checksum_sha1,
        checksum_sha256: c.checksum_sha256,
        checksum_crc64nvme: c.checksum_crc64nvme,
        ..Default::default()
    }))
}

/// `x-amz-copy-source-range: bytes=first-last` within an object of `size` bytes.
fn copy_range(range: Option<&str>, size: u64) -> S3Result<std::ops::Range<u64>> {
    let Some(r) = range else {
        return Ok(0..size);
    };
    let bad = || {
        invalid_argument(
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first \
             and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let (first, last) = r
        .strip_prefix("bytes=")
        .and_then(|s| s.split_once('-'))
        .ok_or_else(bad)?;
    let first: u64 = first.parse().map_err(|_| bad())?;
    let last: u64 = last.parse().map_err(|_| bad())?;
    if first > last {
        return Err(bad());
    }
    if last >= size {
        return Err(s3(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        ));
    }
    Ok(first..last + 1)
}

/// UploadPartCopy: the part is read from an object (verified), spooled and recorded.
pub(crate) async fn upload_part_copy<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<UploadPartCopyInput>,
) -> S3Result<S3Response<UploadPartCopyOutput>> {
    let input = req.input;
    refuse_sse_c(input.sse_customer_algorithm.as_ref())?;
    refuse_sse_c(input.copy_source_sse_customer_algorithm.as_ref())?;
    check_part_number(input.part_number)?;
    sh.bucket(&input.bucket).await?;
    let (dir, _) = sh
        .uploads
        .load(&input.upload_id, &input.bucket, &input.key)
        .await?;
    let (src_bucket, src_key, src_version) = copy_source(&input.copy_source)?;
    let src = sh.bucket(src_bucket).await?;
    let info = resolve(&src, src_key, src_version).await?;
    check_copy_conditions(
        &info,
        input.copy_source_if_match.as_ref(),
        input.copy_source_if_none_match.as_ref(),
        input.copy_source_if_modified_since.as_ref(),
        input.copy_source_if_unmodified_since.as_ref(),
    )?;
    let range = copy_range(input.copy_source_range.as_deref(), info.size)?;
    if range.end - range.start > sh.limits.max_part_size {
        return Err(s3(
            S3ErrorCode::EntityTooLarge,
            "Your proposed upload exceeds the maximum allowed object size.",
        ));
    }
    let spooled = spool_version(&src, &info, range, &dir).await?;
    let part = sh
        .uploads
        .put_part(&dir, input.part_number, spooled)
        .await?;
    Ok(S3Response::new(UploadPartCopyOutput {
        copy_part_result: Some(CopyPartResult {
            e_tag: Some(ETag::Strong(part.etag)),
            last_modified: Some(timestamp(part.modified_ms / 1000 * 1000)),
            ..Default::default()
        }),
        copy_source_version_id: src_version.map(str::to_string),
        ..Default::default()
    }))
}

/// S3's multipart ETag of parts with these MD5s (hex).
fn multipart_etag(md5s: &[&str]) -> S3Result<String> {
    let mut h = md5::Md5::new();
    for m in md5s {
        let raw = data_encoding::HEXLOWER_PERMISSIVE
            .decode(m.as_bytes())
            .map_err(|_| internal("a spooled part has a malformed MD5"))?;
        h.update(&raw);
    }
    Ok(format!(
        "{}-{}",
        data_encoding::HEXLOWER.encode(&h.finalize()),
        md5s.len()
    ))
}

fn complete_output(
    bucket: &str,
    key: &str,
    done: &Completed,
    with_version: bool,
) -> CompleteMultipartUploadOutput {
    CompleteMultipartUploadOutput {
        bucket: Some(bucket.to_string()),
        key: Some(key.to_string()),
        location: Some(format!("/{bucket}/{key}")),
        e_tag: Some(ETag::Strong(done.etag.clone())),
        version_id: with_version.then(|| done.version.clone()),
        ..Default::default()
    }
}

/// CompleteMultipartUpload.
pub(crate) async fn complete<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Arc<Shared<S>>,
    req: S3Request<CompleteMultipartUploadInput>,
) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
    let input = req.input;
    refuse_sse_c(input.sse_customer_algorithm.as_ref())?;
    let bucket = sh.bucket(&input.bucket).await?;
    let dir = sh.uploads.dir(&input.upload_id)?;
    // A retried Complete gets the answer the first one got.
    if let Some(done) = read_json::<Completed>(&dir.join("completed.json")).await
        && let Some(meta) = read_json::<UploadMeta>(&dir.join("upload.json")).await
        && meta.bucket == input.bucket
        && meta.key == input.key
    {
        return Ok(S3Response::new(complete_output(
            &input.bucket,
            &input.key,
            &done,
            true,
        )));
    }
    let (dir, meta) = sh
        .uploads
        .load(&input.upload_id, &input.bucket, &input.key)
        .await?;
    let requested = input
        .multipart_upload
        .and_then(|m| m.parts)
        .unwrap_or_default();
    if requested.is_empty() {
        return Err(s3(
            S3ErrorCode::MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published \
             schema (a Complete names at least one part)",
        ));
    }
    let stored = sh.uploads.parts(&dir).await?;
    let mut chosen: Vec<&PartMeta> = Vec::with_capacity(requested.len());
    let mut last = 0;
    for p in &requested {
        let n = p.part_number.ok_or_else(|| {
            s3(
                S3ErrorCode::MalformedXML,
                "The XML you provided was not well-formed (a part without a PartNumber)",
            )
        })?;
        if n <= last {
            return Err(s3(
                S3ErrorCode::InvalidPartOrder,
                "The list of parts was not in ascending order. The parts list must be specified \
                 in order by part number.",
            ));
        }
        last = n;
        let invalid_part = || {
            s3(
                S3ErrorCode::InvalidPart,
                "One or more of the specified parts could not be found. The part might not have \
                 been uploaded, or the specified entity tag might not have matched the part's \
                 entity tag.",
            )
        };
        let part = stored.get(&n).ok_or_else(invalid_part)?;
        if let Some(e) = &p.e_tag
            && !e.value().eq_ignore_ascii_case(&part.etag)
        {
            return Err(invalid_part());
        }
        chosen.push(part);
    }
    if let Some((_, all_but_last)) = chosen.split_last()
        && all_but_last.iter().any(|p| p.size < MIN_PART_SIZE)
    {
        return Err(s3(
            S3ErrorCode::EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed object size (each part \
             but the last must be at least 5 MiB).",
        ));
    }
    let md5s: Vec<&str> = chosen.iter().map(|p| p.etag.as_str()).collect();
    let etag = multipart_etag(&md5s)?;
    let total: u64 = chosen.iter().map(|p| p.size).sum();
    let mut source = PartsSource(chosen.iter().map(|p| dir.join(&p.file)).collect());
    let (if_absent, if_match) = write_conditions(
        &bucket,
        input.key.as_bytes(),
        input.if_match.as_ref(),
        input.if_none_match.as_ref(),
    )
    .await?;
    let opts = PutOptions {
        content_type: meta.content_type.clone(),
        metadata: meta.metadata.clone(),
        tags: meta.tags.clone(),
        if_absent,
        if_match,
        s3_etag: Some(etag.clone()),
    };
    let (b, k) = (input.bucket.clone(), input.key.clone());
    let shared = sh.clone();
    let finish = async move {
        let info = upload_and_commit(&bucket, k.as_bytes(), &mut source, opts).await;
        let info = match info {
            Ok(info) => info,
            // The upload was aborted while its parts were read.
            Err(_) if !dir.join("upload.json").exists() => return Err(no_such_upload()),
            Err(e) => return Err(e),
        };
        let done = Completed {
            etag,
            version: info.version,
            completed_ms: now_ms(),
        };
        write_json(&dir, &dir.join("completed.json"), &done).await?;
        // The parts are no longer needed; the directory goes with the next clean-up.
        if let Ok(parts) = shared.uploads.parts(&dir).await {
            for p in parts.values() {
                let _ = tokio::fs::remove_file(dir.join(&p.file)).await;
                let _ = tokio::fs::remove_file(dir.join(format!("part-{:05}.json", p.part))).await;
            }
        }
        Ok(complete_output(&b, &k, &done, true))
    };
    if total > KEEP_ALIVE_ABOVE {
        Ok(S3Response::new(CompleteMultipartUploadOutput {
            future: Some(Box::pin(finish)),
            ..Default::default()
        }))
    } else {
        Ok(S3Response::new(finish.await?))
    }
}

/// AbortMultipartUpload.
pub(crate) async fn abort<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<AbortMultipartUploadInput>,
) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
    let input = req.input;
    sh.bucket(&input.bucket).await?;
    let (dir, _) = sh
        .uploads
        .load(&input.upload_id, &input.bucket, &input.key)
        .await?;
    tokio::fs::remove_dir_all(&dir)
        .await
        .map_err(|_| no_such_upload())?;
    Ok(S3Response::new(AbortMultipartUploadOutput::default()))
}

/// ListMultipartUploads.
pub(crate) async fn list_uploads<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<ListMultipartUploadsInput>,
) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
    let input = req.input;
    sh.bucket(&input.bucket).await?;
    let max = match input.max_uploads {
        None => 1000,
        Some(n) if n < 0 => return Err(invalid_argument("max-uploads must be 0 or more")),
        Some(n) => (n as usize).min(1000),
    };
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let key_marker = input.key_marker.clone().unwrap_or_default();
    let id_marker = input
        .upload_id_marker
        .clone()
        .filter(|_| !key_marker.is_empty());
    let all = sh.uploads.list(&input.bucket).await;
    let mut uploads = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut truncated = false;
    let mut next = (None, None);
    let mut seen_id_marker = false;
    for (id, meta) in all {
        if !meta.key.starts_with(&prefix) {
            continue;
        }
        if !key_marker.is_empty() {
            match meta.key.as_str().cmp(key_marker.as_str()) {
                std::cmp::Ordering::Less => continue,
                std::cmp::Ordering::Equal => match &id_marker {
                    None => continue,
                    Some(m) if !seen_id_marker => {
                        seen_id_marker = id == *m;
                        continue;
                    }
                    Some(_) => {}
                },
                std::cmp::Ordering::Greater => {}
            }
            // A common prefix given back as the key marker was answered on the page before.
            if delimiter
                .as_deref()
                .is_some_and(|d| key_marker.ends_with(d) && meta.key.starts_with(&key_marker))
            {
                continue;
            }
        }
        if let Some(d) = &delimiter
            && let Some(i) = meta.key[prefix.len()..].find(d.as_str())
        {
            let p = meta.key[..prefix.len() + i + d.len()].to_string();
            if prefixes.last() != Some(&p) {
                if uploads.len() + prefixes.len() == max {
                    truncated = true;
                    break;
                }
                next = (Some(p.clone()), None);
                prefixes.push(p);
            }
            continue;
        }
        if uploads.len() + prefixes.len() == max {
            truncated = true;
            break;
        }
        next = (Some(meta.key.clone()), Some(id.clone()));
        uploads.push(MultipartUpload {
            key: Some(meta.key),
            upload_id: Some(id),
            initiated: Some(timestamp(meta.initiated_ms)),
            initiator: Some(Initiator {
                display_name: Some("coffer".into()),
                id: Some("coffer".into()),
            }),
            owner: Some(owner()),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            ..Default::default()
        });
    }
    let (next_key, next_id) = if truncated { next } else { (None, None) };
    Ok(S3Response::new(ListMultipartUploadsOutput {
        bucket: Some(input.bucket),
        prefix: Some(prefix),
        delimiter: input.delimiter,
        key_marker: Some(key_marker),
        upload_id_marker: Some(input.upload_id_marker.unwrap_or_default()),
        next_key_marker: next_key,
        next_upload_id_marker: next_id,
        max_uploads: Some(max as i32),
        is_truncated: Some(truncated),
        uploads: Some(uploads),
        common_prefixes: Some(
            prefixes
                .into_iter()
                .map(|p| CommonPrefix { prefix: Some(p) })
                .collect(),
        ),
        encoding_type: input.encoding_type,
        ..Default::default()
    }))
}

/// ListParts.
pub(crate) async fn list_parts<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<ListPartsInput>,
) -> S3Result<S3Response<ListPartsOutput>> {
    let input = req.input;
    sh.bucket(&input.bucket).await?;
    let (dir, _) = sh
        .uploads
        .load(&input.upload_id, &input.bucket, &input.key)
        .await?;
    let max = match input.max_parts {
        None => 1000,
        Some(n) if n < 0 => return Err(invalid_argument("max-parts must be 0 or more")),
        Some(n) => (n as usize).min(1000),
    };
    let marker = input.part_number_marker.unwrap_or(0);
    let all = sh.uploads.parts(&dir).await?;
    let after: Vec<&PartMeta> = all.values().filter(|p| p.part > marker).collect();
    let truncated = after.len() > max;
    let page: Vec<&PartMeta> = after.into_iter().take(max).collect();
    let next = page.last().map(|p| p.part);
    Ok(S3Response::new(ListPartsOutput {
        bucket: Some(input.bucket),
        key: Some(input.key),
        upload_id: Some(input.upload_id),
        part_number_marker: Some(marker),
        next_part_number_marker: if truncated { next } else { None },
        max_parts: Some(max as i32),
        is_truncated: Some(truncated),
        parts: Some(
            page.into_iter()
                .map(|p| Part {
                    part_number: Some(p.part),
                    e_tag: Some(ETag::Strong(p.etag.clone())),
                    size: Some(p.size as i64),
                    last_modified: Some(timestamp(p.modified_ms / 1000 * 1000)),
                    ..Default::default()
                })
                .collect(),
        ),
        initiator: Some(Initiator {
            display_name: Some("coffer".into()),
            id: Some("coffer".into()),
        }),
        owner: Some(owner()),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        ..Default::default()
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn multipart_etag_is_md5_of_md5s() {
        // Two parts "a" and "b": md5("a") = 0cc1…, md5("b") = 92eb….
        let etag = multipart_etag(&[
            "0cc175b9c0f1b6a831c399e269772661",
            "92eb5ffee6ae2fec3ad71c777531578f",
        ])
        .unwrap();
        let mut h = md5::Md5::new();
        h.update(
            data_encoding::HEXLOWER
                .decode(b"0cc175b9c0f1b6a831c399e269772661")
                .unwrap(),
        );
        h.update(
            data_encoding::HEXLOWER
                .decode(b"92eb5ffee6ae2fec3ad71c777531578f")
                .unwrap(),
        );
        assert_eq!(
            etag,
            format!("{}-2", data_encoding::HEXLOWER.encode(&h.finalize()))
        );
    }

    #[test]
    fn copy_ranges() {
        assert_eq!(copy_range(Some("bytes=0-9"), 100).unwrap(), 0..10);
        assert_eq!(copy_range(None, 100).unwrap(), 0..100);
        assert!(copy_range(Some("bytes=5-"), 100).is_err());
        assert!(copy_range(Some("bytes=9-5"), 100).is_err());
        assert_eq!(
            copy_range(Some("bytes=90-100"), 100).unwrap_err().code(),
            &S3ErrorCode::InvalidRange
        );
    }
}
