//! Reads pinned to one version and copies that replace metadata: what the S3 gateway needs beside
//! the other object operations. A GET streamed in pieces must read every piece from the version
//! it started with ([`Vault::get_version_range`]); HEAD and GET take a `versionId`
//! ([`Vault::head_version`]); CopyObject copies any version and may replace the content type,
//! metadata and tags ([`Vault::copy_version`]). All of them are by reference: nothing is
//! re-encrypted.

use std::collections::BTreeMap;
use std::ops::Range;

use super::format::Manifest;
use super::{ObjectInfo, PutOptions, Vault, VaultError, VaultResult, now_ms};
use crate::block::Cid;
use crate::seal::{self, OpenedHeader};
use crate::store::{BlockStore, HeadStore};

/// What [`Vault::copy_version`] replaces; `None` fields keep the source's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// New content type and user metadata (S3's `x-amz-metadata-directive: REPLACE`).
    pub metadata: Option<(Option<String>, BTreeMap<String, String>)>,
    /// New tags. `None` keeps the source's tags when the source is its key's current version
    /// (older versions have no tags of their own: tags belong to a key's current entry).
    pub tags: Option<BTreeMap<String, String>>,
    /// Fail with [`VaultError::PreconditionFailed`] if the destination holds a live object.
    pub if_absent: bool,
    /// Fail with [`VaultError::PreconditionFailed`] unless the destination's current version is
    /// this one.
    pub if_match: Option<String>,
}

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// Metadata of version `version` of `key` ([`VaultError::NotFound`] when it is not one).
    pub async fn head_version(&self, key: &[u8], version: &str) -> VaultResult<ObjectInfo> {
        let m = self.version_manifest(key, version).await?;
        let cid: Cid = version
            .parse()
            .map_err(|_| VaultError::InvalidVersion("not a CID".into()))?;
        Ok(ObjectInfo::from_manifest(&cid, &m))
    }

    /// Bytes `range` of version `version` of `key`, fetched and verified as
    /// [`Vault::get_range`] does (only the covering segments and their proof).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{PutOptions, Vault}};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    /// let v1 = vault.put(b"big", data.clone(), PutOptions::default()).await?;
    /// vault.put(b"big", b"replaced".to_vec(), PutOptions::default()).await?;
    /// let piece = vault.get_version_range(b"big", &v1.version, 150_000..150_100).await?;
    /// assert_eq!(piece, &data[150_000..150_100]);
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn get_version_range(
        &self,
        key: &[u8],
        version: &str,
        range: Range<u64>,
    ) -> VaultResult<Vec<u8>> {
        let m = self.version_manifest(key, version).await?;
        self.manifest_range(&m, range).await
    }

    /// The header of the object of manifest `m`, its bytes verified against the manifest's root.
    async fn verified_header(&self, m: &Manifest) -> VaultResult<Vec<u8>> {
        let prefix_end = (seal::PREFIX_LEN as u64).min(m.sealed_len);
        let first = self.verified_range(m, 0..prefix_end).await?;
        let header_len = seal::Header::len_from_prefix(&first)
            .map_err(|e| VaultError::corrupt(&m.data, e))? as u64;
        Ok(if header_len <= first.len() as u64 {
            first
        } else {
            self.verified_range(m, 0..header_len.min(m.sealed_len))
                .await?
        })
    }

    /// The file key of the object of manifest `m`, from its verified header, opened with
    /// [`Vault::with_unlock`] (an identity-rotated vault's co-written objects open with a share
    /// epoch's key).
    pub(super) async fn verified_file_key(&self, m: &Manifest) -> VaultResult<seal::FileKey> {
        let header = self.verified_header(m).await?;
        self.with_unlock(|u| seal::file_key_of(u, &header))
            .map_err(|e| VaultError::corrupt(&m.data, e))
    }

    /// Bytes `range` of the object of manifest `m`, verified (the body of [`Vault::get_range`]).
    pub(super) async fn manifest_range(
        &self,
        m: &Manifest,
        range: Range<u64>,
    ) -> VaultResult<Vec<u8>> {
        if range.start > range.end || range.end > m.plain_len {
            return Err(VaultError::Seal(seal::SealError::RangeOutOfBounds {
                start: range.start,
                end: range.end,
                len: m.plain_len,
            }));
        }
        let header = self.verified_header(m).await?;
        // The header's bytes were verified against the manifest's root: the manifest, signed by
        // the owner, vouches for them (v2 data objects carry no signature of their own).
        let opened = self
            .with_unlock(|u| OpenedHeader::open(&header, m.sealed_len, u))
            .map_err(|e| VaultError::corrupt(&m.data, e))?;
        if opened.plaintext_len() != m.plain_len {
            return Err(VaultError::corrupt(
                &m.data,
                "header does not match its manifest",
            ));
        }
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let ct = opened.ciphertext_range(range.clone())?;
        let bytes = self.verified_range(m, ct).await?;
        opened
            .decrypt_range(range, &bytes)
            .map_err(|e| VaultError::corrupt(&m.data, e))
    }

    /// Copies version `version` of `src` (its current version when `None`) to `dst` by
    /// reference, replacing what `opts` says, and commits. The S3 ETag is the source's.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use std::collections::BTreeMap;
    /// # use coffer::{keys::Identity, store::MemoryStore, vault::{CopyOptions, PutOptions, Vault}};
    /// # futures_executor::block_on(async {
    /// # let mut vault = Vault::create(Arc::new(MemoryStore::new()), Identity::generate(), "v", "d").await?;
    /// vault.put(b"a", b"x".to_vec(), PutOptions::default()).await?;
    /// let meta = BTreeMap::from([("colour".to_string(), "blue".to_string())]);
    /// let opts = CopyOptions { metadata: Some((Some("text/plain".into()), meta)), ..Default::default() };
    /// let copy = vault.copy_version(b"a", None, b"b", opts).await?;
    /// assert_eq!(copy.content_type.as_deref(), Some("text/plain"));
    /// assert_eq!(copy.data, vault.head(b"a").await?.data); // the same sealed object
    /// # Ok::<(), coffer::vault::VaultError>(())
    /// # }).unwrap();
    /// ```
    pub async fn copy_version(
        &mut self,
        src: &[u8],
        version: Option<&str>,
        dst: &[u8],
        opts: CopyOptions,
    ) -> VaultResult<ObjectInfo> {
        super::gc::retry_gc!(
            self.copy_version_once(src, version, dst, opts.clone())
                .await
        )
    }

    async fn copy_version_once(
        &mut self,
        src: &[u8],
        version: Option<&str>,
        dst: &[u8],
        opts: CopyOptions,
    ) -> VaultResult<ObjectInfo> {
        super::objects::check_key(dst)?;
        let current_src = self.current(src).await?;
        let (m, is_current) = match version {
            None => (self.current_manifest(src).await?.1, true),
            Some(v) => {
                let m = self.version_manifest(src, v).await?;
                let is_current = current_src.as_ref().is_some_and(|c| c.m.to_string() == v);
                (m, is_current)
            }
        };
        // A deleted key's history continues from its graveyard (as a put's does).
        let base = self.history_base(dst).await?;
        let prev = base.prev;
        let conditions = PutOptions {
            if_absent: opts.if_absent,
            if_match: opts.if_match.clone(),
            ..PutOptions::default()
        };
        super::upload::check_against(base.live.as_ref(), &conditions)?;
        let t = match &opts.tags {
            Some(tags) => self.put_tags_block(tags).await?,
            None if is_current => current_src.and_then(|v| v.t),
            None => None,
        };
        let (content_type, metadata) = match opts.metadata {
            Some(replaced) => replaced,
            None => (m.content_type.clone(), m.metadata.clone()),
        };
        let manifest = Manifest {
            key: dst.to_vec(),
            created_ms: now_ms(),
            prev,
            content_type,
            metadata,
            ..m
        };
        self.link(dst, &manifest, t).await
    }
}
