//! Listings: ListObjectsV2, ListObjects (v1, with markers) and ListObjectVersions, over the
//! vault's encrypted index (prefix, delimiter, pages), with `encoding-type=url`.

use s3s::dto::*;
use s3s::{S3Request, S3Response, S3Result};

use super::attrs::{etag_value, last_modified, url_encode};
use super::buckets::{Shared, owner, timestamp};
use super::error::{invalid_argument, vault_error};
use crate::index::ListRequest;
use crate::store::{BlockStore, HeadStore};
use crate::vault::{ListPage, VaultError};

/// `max-keys` as the index takes it: 0 to 1000 (larger is 1000, as in S3); negative is refused.
fn max_keys(m: Option<i32>) -> S3Result<u32> {
    match m {
        None => Ok(1000),
        Some(n) if n < 0 => Err(invalid_argument("max-keys must be 0 or more")),
        Some(n) => Ok((n as u32).min(1000)),
    }
}

/// Whether keys are to be URL-encoded in the answer (`encoding-type=url`).
fn url_encoded(e: Option<&EncodingType>) -> S3Result<bool> {
    match e.map(EncodingType::as_str) {
        None => Ok(false),
        Some(EncodingType::URL) => Ok(true),
        Some(_) => Err(invalid_argument(
            "Invalid Encoding Method specified in Request",
        )),
    }
}

/// Text as the answer carries it.
fn text(s: &str, encode: bool) -> String {
    if encode { url_encode(s) } else { s.to_string() }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// One page of the index under the bucket's read lock.
async fn page<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    bucket: &str,
    req: &ListRequest,
) -> S3Result<ListPage> {
    let b = sh.bucket(bucket).await?;
    let vault = b.vault.read().await;
    vault.list(req).await.map_err(|e| vault_error(&e))
}

fn contents(page: &ListPage, encode: bool, fetch_owner: bool) -> Vec<Object> {
    page.contents
        .iter()
        .map(|o| Object {
            key: Some(text(&lossy(&o.key), encode)),
            size: Some(o.size as i64),
            e_tag: Some(ETag::Strong(
                o.s3_etag.clone().unwrap_or_else(|| o.etag.clone()),
            )),
            last_modified: Some(timestamp(o.last_modified_ms / 1000 * 1000)),
            storage_class: Some(ObjectStorageClass::from_static(
                ObjectStorageClass::STANDARD,
            )),
            owner: fetch_owner.then(owner),
            ..Default::default()
        })
        .collect()
}

fn prefixes(page: &ListPage, encode: bool) -> Vec<CommonPrefix> {
    page.common_prefixes
        .iter()
        .map(|p| CommonPrefix {
            prefix: Some(text(&lossy(p), encode)),
        })
        .collect()
}

/// ListObjectsV2.
pub(crate) async fn list_objects_v2<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<ListObjectsV2Input>,
) -> S3Result<S3Response<ListObjectsV2Output>> {
    let input = req.input;
    let encode = url_encoded(input.encoding_type.as_ref())?;
    let max = max_keys(input.max_keys)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let lr = ListRequest {
        prefix: prefix.clone().into_bytes(),
        delimiter: input
            .delimiter
            .clone()
            .filter(|d| !d.is_empty())
            .map(String::into_bytes),
        start_after: input.start_after.clone().map(String::into_bytes),
        continuation_token: input.continuation_token.clone(),
        max_keys: Some(max),
    };
    let page = page(sh, &input.bucket, &lr).await?;
    Ok(S3Response::new(ListObjectsV2Output {
        name: Some(input.bucket),
        prefix: Some(text(&prefix, encode)),
        delimiter: input.delimiter.map(|d| text(&d, encode)),
        max_keys: Some(max as i32),
        key_count: Some(page.key_count as i32),
        continuation_token: input.continuation_token,
        next_continuation_token: page.next_continuation_token.clone(),
        is_truncated: Some(page.is_truncated),
        start_after: input.start_after.map(|s| text(&s, encode)),
        encoding_type: input.encoding_type,
        contents: Some(contents(&page, encode, input.fetch_owner == Some(true))),
        common_prefixes: Some(prefixes(&page, encode)),
        ..Default::default()
    }))
}

/// ListObjects (v1): `marker` is where the page starts; `NextMarker` is given when a delimiter
/// is (as in S3; without one, clients continue after the last key).
pub(crate) async fn list_objects<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<ListObjectsInput>,
) -> S3Result<S3Response<ListObjectsOutput>> {
    let input = req.input;
    let encode = url_encoded(input.encoding_type.as_ref())?;
    let max = max_keys(input.max_keys)?;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let lr = ListRequest {
        prefix: prefix.clone().into_bytes(),
        delimiter: delimiter.clone().map(String::into_bytes),
        start_after: input
            .marker
            .clone()
            .filter(|m| !m.is_empty())
            .map(String::into_bytes),
        continuation_token: None,
        max_keys: Some(max),
    };
    let page = page(sh, &input.bucket, &lr).await?;
    let last_key = page.contents.last().map(|o| o.key.clone());
    let last_prefix = page.common_prefixes.last().cloned();
    let next_marker = if page.is_truncated && delimiter.is_some() {
        last_key
            .into_iter()
            .chain(last_prefix)
            .max()
            .map(|k| text(&lossy(&k), encode))
    } else {
        None
    };
    Ok(S3Response::new(ListObjectsOutput {
        name: Some(input.bucket),
        prefix: Some(text(&prefix, encode)),
        delimiter: input.delimiter.map(|d| text(&d, encode)),
        marker: Some(text(&input.marker.unwrap_or_default(), encode)),
        next_marker,
        max_keys: Some(max as i32),
        is_truncated: Some(page.is_truncated),
        encoding_type: input.encoding_type,
        contents: Some(contents(&page, encode, true)),
        common_prefixes: Some(prefixes(&page, encode)),
        ..Default::default()
    }))
}

/// ListObjectVersions: every version of every live key (current first, `IsLatest`), paged by
/// `key-marker`/`version-id-marker`. Versions of deleted keys and delete markers are not listed
/// (the vault does not keep a listing of them yet).
pub(crate) async fn list_object_versions<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<ListObjectVersionsInput>,
) -> S3Result<S3Response<ListObjectVersionsOutput>> {
    let input = req.input;
    let encode = url_encoded(input.encoding_type.as_ref())?;
    let max = max_keys(input.max_keys)? as usize;
    let prefix = input.prefix.clone().unwrap_or_default();
    let delimiter = input.delimiter.clone().filter(|d| !d.is_empty());
    let key_marker = input.key_marker.clone().filter(|k| !k.is_empty());
    let version_marker = input.version_id_marker.clone().filter(|v| !v.is_empty());
    if version_marker.is_some() && key_marker.is_none() {
        return Err(invalid_argument(
            "A version-id marker cannot be specified without a key marker.",
        ));
    }
    let bucket = sh.bucket(&input.bucket).await?;
    let vault = bucket.vault.read().await;

    let mut versions: Vec<ObjectVersion> = Vec::new();
    let mut common: Vec<CommonPrefix> = Vec::new();
    let mut truncated = false;
    let mut next_key = None;
    let mut next_version = None;
    // Versions of the marker key after the marker version come first.
    let mut pending_marker = key_marker.clone().zip(version_marker.clone());
    let mut start_after = key_marker.clone().map(String::into_bytes);
    let mut token = None;
    'pages: loop {
        if let Some((key, after)) = pending_marker.take() {
            let all = match vault.versions(key.as_bytes()).await {
                Ok(v) => v,
                Err(VaultError::NotFound) => Vec::new(),
                Err(e) => return Err(vault_error(&e)),
            };
            let skip = all
                .iter()
                .position(|v| v.version == after)
                .map_or(0, |i| i + 1);
            for (i, v) in all.iter().enumerate().skip(skip) {
                if versions.len() + common.len() == max {
                    truncated = true;
                    break 'pages;
                }
                versions.push(object_version(v, i == 0, encode));
                next_key = Some(key.clone());
                next_version = Some(v.version.clone());
            }
        }
        let lr = ListRequest {
            prefix: prefix.clone().into_bytes(),
            delimiter: delimiter.clone().map(String::into_bytes),
            start_after: start_after.clone(),
            continuation_token: token.clone(),
            max_keys: Some(1000),
        };
        let page = vault.list(&lr).await.map_err(|e| vault_error(&e))?;
        // Keys and prefixes interleave in key order.
        let mut items: Vec<(Vec<u8>, bool)> = page
            .contents
            .iter()
            .map(|o| (o.key.clone(), false))
            .chain(page.common_prefixes.iter().map(|p| (p.clone(), true)))
            .collect();
        items.sort();
        // A common prefix given back as the key marker was answered on the page before.
        let marker = key_marker.as_deref().map(str::as_bytes);
        items.retain(|(name, is_prefix)| !(*is_prefix && Some(name.as_slice()) == marker));
        for (name, is_prefix) in items {
            if versions.len() + common.len() == max {
                truncated = true;
                break 'pages;
            }
            let shown = lossy(&name);
            if is_prefix {
                common.push(CommonPrefix {
                    prefix: Some(text(&shown, encode)),
                });
                next_key = Some(shown);
                next_version = None;
                continue;
            }
            let all = match vault.versions(&name).await {
                Ok(v) => v,
                Err(VaultError::NotFound) => continue, // deleted since the page was read
                Err(e) => return Err(vault_error(&e)),
            };
            for (i, v) in all.iter().enumerate() {
                if versions.len() + common.len() == max {
                    truncated = true;
                    break 'pages;
                }
                versions.push(object_version(v, i == 0, encode));
                next_key = Some(shown.clone());
                next_version = Some(v.version.clone());
            }
        }
        if !page.is_truncated {
            break;
        }
        token = page.next_continuation_token;
        start_after = None;
    }
    if !truncated {
        next_key = None;
        next_version = None;
    }
    Ok(S3Response::new(ListObjectVersionsOutput {
        name: Some(input.bucket),
        prefix: Some(text(&prefix, encode)),
        delimiter: input.delimiter.map(|d| text(&d, encode)),
        key_marker: Some(text(&key_marker.unwrap_or_default(), encode)),
        version_id_marker: Some(version_marker.unwrap_or_default()),
        next_key_marker: next_key.map(|k| text(&k, encode)),
        next_version_id_marker: next_version,
        max_keys: Some(max as i32),
        is_truncated: Some(truncated),
        encoding_type: input.encoding_type,
        versions: Some(versions),
        common_prefixes: Some(common),
        ..Default::default()
    }))
}

fn object_version(v: &crate::vault::ObjectInfo, latest: bool, encode: bool) -> ObjectVersion {
    ObjectVersion {
        key: Some(text(&lossy(&v.key), encode)),
        version_id: Some(v.version.clone()),
        is_latest: Some(latest),
        size: Some(v.size as i64),
        e_tag: Some(ETag::Strong(etag_value(v))),
        last_modified: Some(last_modified(v)),
        storage_class: Some(ObjectVersionStorageClass::from_static(
            ObjectVersionStorageClass::STANDARD,
        )),
        owner: Some(owner()),
        ..Default::default()
    }
}
