//! Writer heads on IPFS as MFS files `/coffer/<namespace>/heads/<vault>/<writer>`.
//!
//! A write goes to a temp name and is moved over the head (`files/mv` replaces atomically), so a
//! reader sees the old head or the new one. Kubo has no compare-and-swap on MFS, so conditions
//! are checked by reading the head first: a write racing between that read and the move can be
//! lost ([`ConditionalWrites::BestEffort`]); coffer's heads merge as a CRDT, so it only delays.

use bytes::Bytes;

use super::{IpfsStore, LsAnswer};
use crate::store::head::{check_condition, content_version};
use crate::store::{
    ConditionalWrites, Head, HeadCondition, HeadStore, HeadVersion, StoreError, StoreResult,
    validate_name,
};

impl IpfsStore {
    fn head_dir(&self, vault: &str) -> String {
        format!("{}/heads/{vault}", self.mfs_root())
    }

    async fn read_file(&self, path: &str) -> StoreResult<Option<Bytes>> {
        match self
            .inner
            .rpc
            .call("files/read", &[("arg", path)], None)
            .await
        {
            Ok(b) => Ok(Some(b)),
            Err(StoreError::NotFound(_)) => Ok(None),
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
            .call_json("files/ls", &[("arg", &dir)], None)
            .await
        {
            Ok(ls) => ls,
            Err(StoreError::NotFound(_)) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut heads = Vec::new();
        for entry in ls.entries.unwrap_or_default() {
            if validate_name(&entry.name).is_err() {
                continue; // temp files start with '.'
            }
            if let Some(bytes) = self.read_file(&format!("{dir}/{}", entry.name)).await? {
                heads.push(Head {
                    writer: entry.name,
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
        let path = format!("{}/{writer}", self.head_dir(vault));
        Ok(self.read_file(&path).await?.map(|bytes| Head {
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
            let current = self.read_file(&path).await?.map(|b| content_version(&b));
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
            .call("files/write", &args, Some(bytes))
            .await?;
        if let Err(e) = self
            .inner
            .rpc
            .call("files/mv", &[("arg", &tmp), ("arg", &path)], None)
            .await
        {
            let _ = self
                .inner
                .rpc
                .call("files/rm", &[("arg", &tmp)], None)
                .await;
            return Err(e);
        }
        Ok(version)
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        ConditionalWrites::BestEffort
    }
}
