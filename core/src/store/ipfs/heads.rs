//! Writer heads on IPFS as MFS files `/coffer/<namespace>/heads/<vault>/<writer>`.
//!
//! A write goes to a temp name and is moved over the head (`files/mv` replaces atomically), so a
//! reader sees the old head or the new one. Kubo has no compare-and-swap on MFS, so conditions
//! are checked by reading the head first: a write racing between that read and the move can be
//! lost ([`ConditionalWrites::BestEffort`]); coffer's heads merge as a CRDT, so it only delays.

use bytes::Bytes;

use super::rpc::SMALL_ANSWER;
use super::{IpfsStore, LsAnswer};
use crate::store::head::{check_condition, check_head_count, content_version, head_too_large};
use crate::store::{
    ConditionalWrites, Head, HeadCondition, HeadStore, HeadVersion, MAX_HEAD_BYTES, MAX_HEADS,
    StoreError, StoreResult, validate_name,
};

/// Cap of the `files/ls` answer of a head directory: [`MAX_HEADS`] entries of at most a few
/// hundred bytes (`{"Name":…,"Type":0,"Size":0,"Hash":""}`), and room for temp files.
const HEAD_LISTING: u64 = MAX_HEADS as u64 * 256 + (64 << 10);

impl IpfsStore {
    fn head_dir(&self, vault: &str) -> String {
        format!("{}/heads/{vault}", self.mfs_root())
    }

    /// Reads `writer`'s head file in `vault` (at most [`MAX_HEAD_BYTES`]); `None` when missing.
    async fn read_head_file(&self, vault: &str, writer: &str) -> StoreResult<Option<Bytes>> {
        let path = format!("{}/{writer}", self.head_dir(vault));
        match self
            .inner
            .rpc
            .call("files/read", &[("arg", &path)], None, MAX_HEAD_BYTES)
            .await
        {
            Ok(b) => Ok(Some(b)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(StoreError::TooLarge { .. }) => Err(head_too_large(vault, writer, None)),
            Err(e) => Err(e),
        }
    }
}

#[async_trait::async_trait]
impl HeadStore for IpfsStore {
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        validate_name(vault)?;
        let dir = self.head_dir(vault);
        let ls: LsAnswer = match self
            .inner
            .rpc
            .call_json("files/ls", &[("arg", &dir)], None, HEAD_LISTING)
            .await
        {
            Ok(ls) => ls,
            Err(StoreError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut writers = Vec::new();
        for entry in ls.entries.unwrap_or_default() {
            // Temp files start with '.'.
            if validate_name(&entry.name).is_ok() {
                writers.push(entry.name);
                check_head_count(vault, writers.len())?;
            }
        }
        let mut heads = Vec::new();
        for name in writers {
            if let Some(bytes) = self.read_head_file(vault, &name).await? {
                heads.push(Head {
                    writer: name,
                    version: content_version(&bytes),
                    bytes,
                });
            }
        }
        Ok(heads)
    }

    async fn read_head(&self, vault: &str, writer: &str) -> StoreResult<Option<Head>> {
        validate_name(vault)?;
        validate_name(writer)?;
        Ok(self.read_head_file(vault, writer).await?.map(|bytes| Head {
            writer: writer.to_string(),
            version: content_version(&bytes),
            bytes,
        }))
    }

    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<HeadVersion> {
        validate_name(vault)?;
        validate_name(writer)?;
        let dir = self.head_dir(vault);
        let path = format!("{dir}/{writer}");
        if condition != HeadCondition::Any {
            let current = match self.read_head_file(vault, writer).await {
                Ok(b) => b.map(|b| content_version(&b)),
                // Not read whole; no version it could have matches a head coffer accepted.
                Err(StoreError::TooLarge { .. }) => Some(HeadVersion("oversized".into())),
                Err(e) => return Err(e),
            };
            check_condition(
                &format!("head {vault}/{writer}"),
                current.as_ref(),
                &condition,
            )?;
        }
        let mut rnd = [0u8; 8];
        getrandom::fill(&mut rnd)
            .map_err(|e| StoreError::Other(format!("no randomness for a temp name: {e}")))?;
        let tmp = format!(
            "{dir}/.tmp-{}",
            rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let args = [
            ("arg", tmp.as_str()),
            ("create", "true"),
            ("parents", "true"),
            ("truncate", "true"),
        ];
        let version = content_version(&bytes);
        self.inner
            .rpc
            .call("files/write", &args, Some(bytes), SMALL_ANSWER)
            .await?;
        if let Err(e) = self
            .inner
            .rpc
            .call(
                "files/mv",
                &[("arg", &tmp), ("arg", &path)],
                None,
                SMALL_ANSWER,
            )
            .await
        {
            let _ = self
                .inner
                .rpc
                .call("files/rm", &[("arg", &tmp)], None, SMALL_ANSWER)
                .await;
            return Err(e);
        }
        Ok(version)
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        ConditionalWrites::BestEffort
    }
}
