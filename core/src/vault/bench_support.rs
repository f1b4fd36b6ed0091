//! Measurements for `coffer bench trust` (feature `bench-internals`): what the v2 formats cost.

use super::format::Manifest;
use super::{Vault, VaultError, VaultResult};
use crate::block::Cid;
use crate::store::{BlockStore, HeadStore};

impl<S: BlockStore + HeadStore + ?Sized> Vault<S> {
    /// Benchmarks only: the plaintext length of version `version`'s manifest and how many of its
    /// bytes are padding.
    #[doc(hidden)]
    pub async fn manifest_padding(&self, version: &str) -> VaultResult<(u64, u64)> {
        let cid: Cid = version
            .parse()
            .map_err(|_| VaultError::InvalidVersion("not a CID".into()))?;
        let plain = self.open_sealed(&cid).await?;
        let m = Manifest::decode(&plain).map_err(|e| VaultError::corrupt(&cid, e))?;
        let pad = m.pad.as_ref().map_or(0, |p| p.len() as u64);
        Ok((plain.len() as u64, pad))
    }
}
