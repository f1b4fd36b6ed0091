//! Writer heads in S3: one object per writer, conditional writes with `If-Match` /
//! `If-None-Match`, and a probe for stores that ignore them.

use std::sync::atomic::Ordering;

use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use bytes::Bytes;
use futures_util::StreamExt;

use super::error::map_sdk_error;
use super::{S3Store, declared_len, read_capped};
use crate::store::head::{check_head_count, check_head_len, head_too_large};
use crate::store::{
    ConditionalWrites, Head, HeadCondition, HeadStore, HeadVersion, MAX_HEAD_BYTES, StoreError,
    StoreResult, validate_name,
};

pub(super) fn encode_cw(c: ConditionalWrites) -> u8 {
    match c {
        ConditionalWrites::Unknown => 0,
        ConditionalWrites::Enforced => 1,
        ConditionalWrites::BestEffort => 2,
    }
}

fn decode_cw(v: u8) -> ConditionalWrites {
    match v {
        1 => ConditionalWrites::Enforced,
        2 => ConditionalWrites::BestEffort,
        _ => ConditionalWrites::Unknown,
    }
}

impl S3Store {
    fn head_key(&self, vault: &str, writer: &str) -> String {
        format!("{}heads/{vault}/{writer}", self.prefix)
    }

    /// Reads `writer`'s head in `vault` with its ETag (at most [`MAX_HEAD_BYTES`]); `None` when
    /// missing.
    async fn get_with_etag(
        &self,
        vault: &str,
        writer: &str,
    ) -> StoreResult<Option<(Bytes, HeadVersion)>> {
        let key = &self.head_key(vault, writer);
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                return match map_sdk_error(e, key) {
                    StoreError::NotFound(_) => Ok(None),
                    other => Err(other),
                };
            }
        };
        let etag = out
            .e_tag()
            .map(|t| HeadVersion(t.to_string()))
            .ok_or_else(|| StoreError::Other(format!("S3 returned no ETag for {key}")))?;
        let declared = declared_len(out.content_length());
        if let Some(len) = declared {
            check_head_len(vault, writer, len)?;
        }
        let bytes = read_capped(out.body, MAX_HEAD_BYTES, key, || {
            head_too_large(vault, writer, declared)
        })
        .await?;
        Ok(Some((bytes, etag)))
    }

    /// The ETag of an object without reading it; `None` when missing.
    async fn etag(&self, key: &str) -> StoreResult<Option<HeadVersion>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out
                .e_tag()
                .map(|t| Some(HeadVersion(t.to_string())))
                .ok_or_else(|| StoreError::Other(format!("S3 returned no ETag for {key}"))),
            Err(e) => match map_sdk_error(e, key) {
                StoreError::NotFound(_) => Ok(None),
                other => Err(other),
            },
        }
    }

    /// One put with the condition as headers; the new ETag.
    ///
    /// An `If-Match` refused although the object's ETag is the one we sent is retried once
    /// with the ETag unquoted, and this store sends it unquoted from then on. Ceph RGW 16
    /// compares `If-Match` with the bare ETag, so it refuses the quoted form (RFC 9110) that
    /// S3 and SeaweedFS accept, while both forms are enforced (a wrong one gets 412). The retry
    /// is still conditional: a write racing between the check and the retry gets 412 too.
    async fn put_conditional(
        &self,
        key: &str,
        bytes: Bytes,
        condition: &HeadCondition,
    ) -> StoreResult<HeadVersion> {
        let unquoted = self.unquoted_if_match.load(Ordering::SeqCst);
        match self.put_once(key, bytes.clone(), condition, unquoted).await {
            Err(StoreError::PreconditionFailed(detail)) => match condition {
                HeadCondition::Matches(v) if !unquoted && v.0.starts_with('"') => {
                    if self.etag(key).await?.as_ref() != Some(v) {
                        return Err(StoreError::PreconditionFailed(detail));
                    }
                    let written = self.put_once(key, bytes, condition, true).await?;
                    self.unquoted_if_match.store(true, Ordering::SeqCst);
                    Ok(written)
                }
                _ => Err(StoreError::PreconditionFailed(detail)),
            },
            other => other,
        }
    }

    async fn put_once(
        &self,
        key: &str,
        bytes: Bytes,
        condition: &HeadCondition,
        unquoted: bool,
    ) -> StoreResult<HeadVersion> {
        let mut req = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(SdkByteStream::from(bytes));
        match condition {
            HeadCondition::Absent => req = req.if_none_match("*"),
            HeadCondition::Matches(v) if unquoted => req = req.if_match(v.0.trim_matches('"')),
            HeadCondition::Matches(v) => req = req.if_match(&v.0),
            HeadCondition::Any => {}
        }
        let out = req.send().await.map_err(|e| map_sdk_error(e, key))?;
        out.e_tag()
            .map(|t| HeadVersion(t.to_string()))
            .ok_or_else(|| StoreError::Other(format!("S3 returned no ETag for {key}")))
    }
}

#[async_trait::async_trait]
impl HeadStore for S3Store {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        validate_name(vault)?;
        let prefix = format!("{}heads/{vault}/", self.prefix);
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .into_paginator()
            .send();
        let mut writers = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| map_sdk_error(e, &prefix))?;
            for obj in page.contents() {
                if let Some(w) = obj.key().and_then(|k| k.strip_prefix(&prefix))
                    && validate_name(w).is_ok()
                {
                    writers.push(w.to_string());
                    check_head_count(vault, writers.len())?;
                }
            }
        }
        // Fetch heads 8 at a time; the ETag comes with the bytes, so they always agree.
        let fetched: Vec<StoreResult<Option<Head>>> = futures_util::stream::iter(writers)
            .map(|w| async move {
                Ok(self
                    .get_with_etag(vault, &w)
                    .await?
                    .map(|(bytes, version)| Head {
                        writer: w,
                        bytes,
                        version,
                    }))
            })
            .buffer_unordered(8)
            .collect()
            .await;
        let mut heads = Vec::new();
        for h in fetched {
            // A head deleted between listing and reading is simply absent.
            if let Some(h) = h? {
                heads.push(h);
            }
        }
        Ok(heads)
    }

    async fn read_head(&self, vault: &str, writer: &str) -> StoreResult<Option<Head>> {
        validate_name(vault)?;
        validate_name(writer)?;
        Ok(self
            .get_with_etag(vault, writer)
            .await?
            .map(|(bytes, version)| Head {
                writer: writer.to_string(),
                bytes,
                version,
            }))
    }

    /// Sends `If-None-Match: *` / `If-Match: <etag>`. When the store is known to ignore them
    /// (`BestEffort`), the condition is also checked by reading first, which catches every
    /// conflict except a write racing between that read and our put.
    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<HeadVersion> {
        validate_name(vault)?;
        validate_name(writer)?;
        let key = self.head_key(vault, writer);
        if self.conditional_writes() == ConditionalWrites::BestEffort
            && condition != HeadCondition::Any
        {
            let current = self.etag(&key).await?;
            crate::store::head::check_condition(&key, current.as_ref(), &condition)?;
        }
        self.put_conditional(&key, bytes, &condition)
            .await
            .map_err(|e| match e {
                StoreError::PreconditionFailed(_) => {
                    StoreError::PreconditionFailed(format!("head {vault}/{writer}"))
                }
                other => other,
            })
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        decode_cw(self.conditional.load(Ordering::SeqCst))
    }

    /// Writes a probe object with `If-None-Match: *` twice and once with a wrong `If-Match`;
    /// a store that accepts the second or third write ignores conditions. A fourth write with
    /// the right `If-Match` must then succeed. The probe object is
    /// deleted afterwards. The answer is remembered by this store.
    async fn probe_conditional_writes(&self) -> StoreResult<ConditionalWrites> {
        let mut rnd = [0u8; 8];
        getrandom::fill(&mut rnd)
            .map_err(|e| StoreError::Other(format!("no randomness for the probe: {e}")))?;
        let key = format!(
            "{}probe/{}",
            self.prefix,
            rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let probe = Bytes::from_static(b"coffer conditional-write probe");
        let result = async {
            let first = self
                .put_conditional(&key, probe.clone(), &HeadCondition::Absent)
                .await?;
            let second = self
                .put_conditional(&key, probe.clone(), &HeadCondition::Absent)
                .await;
            let wrong =
                HeadCondition::Matches(HeadVersion("\"00000000000000000000000000000000\"".into()));
            let third = self.put_conditional(&key, probe.clone(), &wrong).await;
            match (second, third) {
                (
                    Err(StoreError::PreconditionFailed(_)),
                    Err(StoreError::PreconditionFailed(_)),
                ) => {
                    // A store that refused everything would look enforcing: the right
                    // ETag must be accepted (possibly unquoted, see `put_conditional`).
                    self.put_conditional(&key, probe.clone(), &HeadCondition::Matches(first))
                        .await?;
                    Ok(ConditionalWrites::Enforced)
                }
                (Ok(_), _) | (_, Ok(_)) => Ok(ConditionalWrites::BestEffort),
                (Err(e), Err(StoreError::PreconditionFailed(_))) | (_, Err(e)) => Err(e),
            }
        }
        .await;
        let _ = self
            .client
            .delete_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await;
        let found = result?;
        self.conditional.store(encode_cw(found), Ordering::SeqCst);
        Ok(found)
    }
}
