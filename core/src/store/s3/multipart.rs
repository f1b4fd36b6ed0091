//! Multipart uploads with parallel parts and resume.
//!
//! A blob of at least one part goes up as a multipart upload of fixed-size parts (the last one
//! shorter). Before creating an upload we look for an unfinished one of the same key
//! (`ListMultipartUploads`) and list its parts (`ListParts`): a part already there holding the
//! bytes we would send is not sent again. The source is still read and hashed in full (the BLAKE3 of
//! the whole blob must equal the CID before the upload is completed), so resuming saves upload
//! bandwidth, not reading. A listed part is reused only when its size matches and its ETag is a
//! plain MD5 equal to the MD5 of the bytes we would send; a part with any other ETag is sent again
//! (never reused on size alone). When the bytes do not match the CID the upload is aborted; when
//! the source or the network fails, it is left for the next attempt to resume.

use std::collections::HashMap;

use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::S3Store;
use super::error::map_sdk_error;
use crate::block::Cid;
use crate::store::stream::{check_digest, check_len, fill_buf};
use crate::store::{BlobSource, StoreError, StoreResult};

/// What a blob upload did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UploadReport {
    /// Parts of the blob (0 for a single `PutObject`).
    pub parts: u32,
    /// Parts found already uploaded by an interrupted upload and not sent again.
    pub parts_reused: u32,
    /// Bytes sent in this call.
    pub bytes_sent: u64,
    /// Whether the blob was already stored (nothing was sent).
    pub already_stored: bool,
}

/// Finds an unfinished upload of `key`: its id and the parts it has (number → (size, ETag)).
async fn find_unfinished(
    store: &S3Store,
    key: &str,
) -> StoreResult<Option<(String, HashMap<i32, (i64, String)>)>> {
    let listed = store
        .client
        .list_multipart_uploads()
        .bucket(&store.bucket)
        .prefix(key)
        .send()
        .await
        .map_err(|e| map_sdk_error(e, key))?;
    // The newest upload of exactly this key.
    let Some(upload_id) = listed
        .uploads()
        .iter()
        .filter(|u| u.key() == Some(key))
        .max_by_key(|u| u.initiated().map(|t| (t.secs(), t.subsec_nanos())))
        .and_then(|u| u.upload_id().map(str::to_string))
    else {
        return Ok(None);
    };
    let mut parts = HashMap::new();
    let mut marker: Option<String> = None;
    loop {
        let mut req = store
            .client
            .list_parts()
            .bucket(&store.bucket)
            .key(key)
            .upload_id(&upload_id);
        if let Some(m) = &marker {
            req = req.part_number_marker(m);
        }
        let page = match req.send().await {
            Ok(p) => p,
            // Completed or aborted in the meantime: start afresh.
            Err(e) => match map_sdk_error(e, key) {
                StoreError::NotFound(_) => return Ok(None),
                StoreError::Other(m) if m.contains("no longer exists") => return Ok(None),
                other => return Err(other),
            },
        };
        for p in page.parts() {
            if let (Some(n), Some(size), Some(etag)) = (p.part_number(), p.size(), p.e_tag()) {
                parts.insert(n, (size, etag.to_string()));
            }
        }
        match (page.is_truncated(), page.next_part_number_marker()) {
            (Some(true), Some(m)) if marker.as_deref() != Some(m) => marker = Some(m.to_string()),
            _ => break,
        }
    }
    Ok(Some((upload_id, parts)))
}

/// Uploads one part and returns its ETag.
async fn upload_part(
    store: &S3Store,
    key: &str,
    upload_id: &str,
    number: i32,
    bytes: Bytes,
) -> StoreResult<String> {
    let out = store
        .client
        .upload_part()
        .bucket(&store.bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(number)
        .body(SdkByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| map_sdk_error(e, &format!("{key} part {number}")))?;
    out.e_tag()
        .map(str::to_string)
        .ok_or_else(|| StoreError::Other(format!("S3 returned no ETag for {key} part {number}")))
}

pub(super) async fn put_blob(
    store: &S3Store,
    cid: &Cid,
    mut source: BlobSource<'_>,
    len: Option<u64>,
) -> StoreResult<UploadReport> {
    let key = store.block_key(cid);
    if store.object_len(cid).await.is_ok() {
        return Ok(UploadReport {
            already_stored: true,
            ..Default::default()
        });
    }
    let part_size = store.part_size;
    // The first part decides: a blob shorter than one part is a single PutObject.
    let mut first = vec![0u8; part_size];
    let first_len = fill_buf(&mut source, &mut first).await?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(&first[..first_len]);
    if first_len < part_size {
        check_len(len, first_len as u64)?;
        check_digest(cid, &hasher.finalize())?;
        first.truncate(first_len);
        store.put_small(&key, Bytes::from(first)).await?;
        return Ok(UploadReport {
            bytes_sent: first_len as u64,
            ..Default::default()
        });
    }

    let (upload_id, existing) = match find_unfinished(store, &key).await? {
        Some(found) => found,
        None => {
            let created = store
                .client
                .create_multipart_upload()
                .bucket(&store.bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| map_sdk_error(e, &key))?;
            let id = created
                .upload_id()
                .ok_or_else(|| StoreError::Other(format!("S3 returned no upload id for {key}")))?
                .to_string();
            (id, HashMap::new())
        }
    };

    let mut report = UploadReport::default();
    let mut done: Vec<(i32, String)> = Vec::new();
    let mut in_flight = FuturesUnordered::new();
    let mut next_chunk = Some(Bytes::from(first));
    let mut number: i32 = 0;
    let mut total = 0u64;
    let mut failure: Option<StoreError> = None;
    loop {
        // Keep `concurrency` parts in flight while the source has more.
        while failure.is_none() && in_flight.len() < store.concurrency {
            let chunk = match next_chunk.take() {
                Some(c) => c,
                None => {
                    let mut buf = vec![0u8; part_size];
                    match fill_buf(&mut source, &mut buf).await {
                        Ok(0) => break,
                        Ok(n) => {
                            buf.truncate(n);
                            hasher.update(&buf);
                            Bytes::from(buf)
                        }
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
            };
            number += 1;
            total += chunk.len() as u64;
            report.parts += 1;
            match existing.get(&number) {
                Some((size, etag)) if part_matches(*size, etag, &chunk) => {
                    report.parts_reused += 1;
                    done.push((number, etag.clone()));
                }
                _ => {
                    report.bytes_sent += chunk.len() as u64;
                    let n = number;
                    let (key, id) = (key.as_str(), upload_id.as_str());
                    in_flight.push(async move { (n, upload_part(store, key, id, n, chunk).await) });
                }
            }
        }
        match in_flight.next().await {
            Some((n, Ok(etag))) => done.push((n, etag)),
            Some((_, Err(e))) => {
                // Let the other parts finish so that a resume can reuse them.
                failure.get_or_insert(e);
            }
            None => break,
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    check_len(len, total)?;
    if let Err(e) = check_digest(cid, &hasher.finalize()) {
        let _ = store
            .client
            .abort_multipart_upload()
            .bucket(&store.bucket)
            .key(&key)
            .upload_id(&upload_id)
            .send()
            .await;
        return Err(e);
    }
    done.sort_by_key(|(n, _)| *n);
    let parts = done
        .into_iter()
        .map(|(n, etag)| CompletedPart::builder().part_number(n).e_tag(etag).build())
        .collect::<Vec<_>>();
    store
        .client
        .complete_multipart_upload()
        .bucket(&store.bucket)
        .key(&key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|e| map_sdk_error(e, &key))?;
    Ok(report)
}

/// Whether an uploaded part provably holds `chunk`: its size matches and its ETag is a plain MD5
/// (32 hex digits, as S3, SeaweedFS and Ceph give for unencrypted parts) equal to the MD5 of
/// `chunk`. Any other ETag (SSE-KMS, SSE-C, a store's own scheme) proves nothing, so the part is
/// sent again: a store, or a leftover upload of other bytes, can never slip a part in on size.
fn part_matches(size: i64, etag: &str, chunk: &[u8]) -> bool {
    if size != chunk.len() as i64 {
        return false;
    }
    let tag = etag.trim_matches('"');
    if tag.len() != 32 || !tag.bytes().all(|b| b.is_ascii_hexdigit()) {
        return false;
    }
    use md5::Digest;
    let md5 = md5::Md5::digest(chunk);
    let hex: String = md5.iter().map(|b| format!("{b:02x}")).collect();
    hex.eq_ignore_ascii_case(tag)
}

pub(super) async fn abort_all(store: &S3Store) -> StoreResult<usize> {
    let prefix = store.prefix.clone();
    let listed = store
        .client
        .list_multipart_uploads()
        .bucket(&store.bucket)
        .prefix(&prefix)
        .send()
        .await
        .map_err(|e| map_sdk_error(e, &prefix))?;
    let mut aborted = 0;
    for u in listed.uploads() {
        if let (Some(key), Some(id)) = (u.key(), u.upload_id()) {
            store
                .client
                .abort_multipart_upload()
                .bucket(&store.bucket)
                .key(key)
                .upload_id(id)
                .send()
                .await
                .map_err(|e| map_sdk_error(e, key))?;
            aborted += 1;
        }
    }
    Ok(aborted)
}

#[cfg(test)]
mod tests {
    use super::part_matches;

    #[test]
    fn a_part_is_reused_only_on_a_matching_md5() {
        let chunk = b"the part we would send";
        let md5 = "\"a5e1f9b3b4fa4a4b0b5b8f2a0e3c6d11\"";
        let right = {
            use md5::Digest;
            let d = md5::Md5::digest(chunk);
            format!(
                "\"{}\"",
                d.iter().map(|b| format!("{b:02x}")).collect::<String>()
            )
        };
        let n = chunk.len() as i64;
        assert!(part_matches(n, &right, chunk));
        assert!(part_matches(n, &right.to_uppercase(), chunk));
        // Same size, other bytes.
        assert!(!part_matches(n, md5, chunk));
        // Wrong size.
        assert!(!part_matches(n + 1, &right, chunk));
        // ETags that are not a plain MD5 prove nothing: never reused on size alone.
        for etag in [
            "\"abc-2\"",
            "\"\"",
            "\"0123456789abcdef0123456789abcdef-1\"",
            "W/\"x\"",
        ] {
            assert!(!part_matches(n, etag, chunk), "{etag}");
        }
    }
}
