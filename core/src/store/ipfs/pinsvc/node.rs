//! What a Kubo node tells a pinning service: the CIDs to pin for a store's blocks and where to
//! fetch them.

use std::collections::HashSet;

use serde::Deserialize;

use crate::block::Cid;
use crate::store::ipfs::rpc::{LISTING_ANSWER, SMALL_ANSWER};
use crate::store::ipfs::{IpfsStore, LsAnswer};
use crate::store::{StoreError, StoreResult};

impl IpfsStore {
    /// The CIDs a pinning service must pin (recursively) to keep `cids` of this store: a block
    /// is itself, a large blob is the root of its DAG (see [`crate::store::BlobRoot`]). Order kept,
    /// duplicates dropped.
    pub async fn pin_roots(&self, cids: &[Cid]) -> StoreResult<Vec<Cid>> {
        let dir = format!("{}/blobs", self.mfs_root());
        let blobs: HashSet<String> = match self
            .inner
            .rpc
            .call_json::<LsAnswer>("files/ls", &[("arg", &dir)], None, LISTING_ANSWER)
            .await
        {
            Ok(ls) => ls
                .entries
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.name)
                .collect(),
            Err(StoreError::NotFound(_)) => HashSet::new(),
            Err(e) => return Err(e),
        };
        let mut out = Vec::with_capacity(cids.len());
        let mut seen = HashSet::new();
        for c in cids {
            let target = if blobs.contains(&c.to_string()) {
                match self.blob_root(c).await? {
                    Some((root, _)) => root,
                    None => *c,
                }
            } else {
                *c
            };
            if seen.insert(target) {
                out.push(target);
            }
        }
        Ok(out)
    }

    /// The node's swarm addresses (`/ip4/…/tcp/…/p2p/<peer id>`), the `origins` to give a
    /// pinning service so it can fetch from this node.
    pub async fn swarm_addresses(&self) -> StoreResult<Vec<String>> {
        #[derive(Deserialize)]
        struct Id {
            #[serde(rename = "Addresses", default)]
            addresses: Option<Vec<String>>,
        }
        let id: Id = self
            .inner
            .rpc
            .call_json("id", &[], None, SMALL_ANSWER)
            .await?;
        Ok(id.addresses.unwrap_or_default())
    }
}
