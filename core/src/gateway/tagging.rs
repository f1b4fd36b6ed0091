//! Object tagging: GetObjectTagging, PutObjectTagging, DeleteObjectTagging. Tags belong to a
//! key's current version and change without making a new version; a `versionId` is accepted
//! when it names the current version.

use std::collections::BTreeMap;

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use super::buckets::{Bucket, Shared};
use super::error::{not_implemented, s3, vault_error};
use crate::store::{BlockStore, HeadStore};

/// Checks that `version` (if given) is the current version of `key`; returns the current one.
async fn current_version<S: BlockStore + HeadStore + ?Sized + 'static>(
    bucket: &Bucket<S>,
    key: &str,
    version: Option<&str>,
) -> S3Result<String> {
    let info = bucket
        .vault
        .read()
        .await
        .head(key.as_bytes())
        .await
        .map_err(|e| vault_error(&e))?;
    match version {
        Some(v) if v != info.version => Err(not_implemented(
            "Tags of a version other than the current one",
        )),
        _ => Ok(info.version),
    }
}

/// GetObjectTagging.
pub(crate) async fn get_object_tagging<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<GetObjectTaggingInput>,
) -> S3Result<S3Response<GetObjectTaggingOutput>> {
    let input = req.input;
    let bucket = sh.bucket(&input.bucket).await?;
    let version = current_version(&bucket, &input.key, input.version_id.as_deref()).await?;
    let tags = bucket
        .vault
        .read()
        .await
        .tags(input.key.as_bytes())
        .await
        .map_err(|e| vault_error(&e))?;
    let tag_set = tags
        .into_iter()
        .map(|(k, v)| Tag {
            key: Some(k),
            value: Some(v),
        })
        .collect();
    Ok(S3Response::new(GetObjectTaggingOutput {
        tag_set,
        version_id: Some(version),
    }))
}

/// PutObjectTagging: replaces the tag set (at most 10, keys 1..=128 characters, values at most
/// 256, no key twice).
pub(crate) async fn put_object_tagging<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<PutObjectTaggingInput>,
) -> S3Result<S3Response<PutObjectTaggingOutput>> {
    let input = req.input;
    let bucket = sh.bucket(&input.bucket).await?;
    let mut tags = BTreeMap::new();
    for t in input.tagging.tag_set {
        let key = t.key.unwrap_or_default();
        if tags.insert(key, t.value.unwrap_or_default()).is_some() {
            return Err(s3(
                S3ErrorCode::InvalidTag,
                "Cannot provide multiple Tags with the same key",
            ));
        }
    }
    set(&bucket, &input.key, input.version_id.as_deref(), tags).await?;
    Ok(S3Response::new(PutObjectTaggingOutput {
        version_id: input.version_id,
    }))
}

/// DeleteObjectTagging.
pub(crate) async fn delete_object_tagging<S: BlockStore + HeadStore + ?Sized + 'static>(
    sh: &Shared<S>,
    req: S3Request<DeleteObjectTaggingInput>,
) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
    let input = req.input;
    let bucket = sh.bucket(&input.bucket).await?;
    set(
        &bucket,
        &input.key,
        input.version_id.as_deref(),
        BTreeMap::new(),
    )
    .await?;
    Ok(S3Response::new(DeleteObjectTaggingOutput {
        version_id: input.version_id,
    }))
}

async fn set<S: BlockStore + HeadStore + ?Sized + 'static>(
    bucket: &Bucket<S>,
    key: &str,
    version: Option<&str>,
    tags: BTreeMap<String, String>,
) -> S3Result<()> {
    let mut vault = bucket.vault.write().await;
    if let Some(v) = version {
        let info = vault
            .head(key.as_bytes())
            .await
            .map_err(|e| vault_error(&e))?;
        if info.version != v {
            return Err(not_implemented(
                "Tags of a version other than the current one",
            ));
        }
    }
    vault
        .set_tags(key.as_bytes(), tags)
        .await
        .map_err(|e| vault_error(&e))
}
