//! IPFS through the Kubo RPC API (native; hyper over HTTP/1.1, rustls for https).
//!
//! - Blocks of at most 1 MiB are `block/put` with `cid-codec=raw|dag-cbor&mhtype=blake3&mhlen=32`;
//!   the CID Kubo returns must equal coffer's, otherwise the put fails with
//!   [`StoreError::Corrupt`]. DAG-CBOR nodes stay DAG-CBOR, so `ipfs dag get <cid>` shows them.
//! - Larger blobs become a DAG of ≤ 1 MiB raw leaves under a DAG-CBOR root ([`BlobRoot`]); the
//!   MFS file `/coffer/<namespace>/blobs/<cid>` maps the blob's coffer CID to the root's CID.
//! - Everything stored is pinned (recursively, named `coffer:<namespace>` for blocks and
//!   `coffer:<namespace>:blob` for blob roots), so `ipfs repo gc` keeps it; `delete` unpins.
//!   Blocks are put with `pin=true`, so a GC between the put and the named pin cannot take them.
//! - Heads are MFS files `/coffer/<namespace>/heads/<vault>/<writer>`, replaced atomically with
//!   `files/write` to a temp name + `files/mv`; conditions are checked by reading first, which is
//!   not atomic ([`ConditionalWrites::BestEffort`]). See `docs/FORMAT.md §7` for why not IPNS.
//! - Reads may come from trustless HTTP gateways (`/ipfs/<cid>?format=raw`), tried in order of
//!   health before the node; every block read, from a gateway or the node, is checked against its
//!   CID. A gateway that serves other bytes (or inflates its answer) is marked unhealthy at once
//!   and tried last until a cool-down passes ([`IpfsStore::gateway_health`]).
//! - [`ClusterStore`] drives IPFS Cluster: blocks through any Kubo node, pins through the
//!   cluster's REST API with replication factors (see [`cluster`]).
//! - [`pinsvc::PinningService`] asks a remote pinning service (the IPFS Pinning Service API) to
//!   keep what a node holds, following each pin to `pinned` (see [`pinsvc`]).
//!
//! Reads ask the node with `offline=true` unless [`IpfsConfig::fetch_from_network`] is set, so a
//! missing block is an immediate `NotFound` rather than a network search.

pub mod cluster;
mod heads;
mod http;
pub mod pinsvc;
mod rpc;

pub use cluster::{ClusterConfig, ClusterStore, PeerPinState, PinStatus};
pub use pinsvc::{PinServiceConfig, PinServiceError, PinningService, ServiceToken};

pub use super::blob_root::{BlobRoot, LEAF_SIZE, MAX_BLOCK, MAX_LEAVES};

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::io::Cursor;
use futures_util::stream::FuturesUnordered;
use futures_util::{StreamExt, TryStreamExt};
use serde::Deserialize;

use super::replicated::health::Health;
use super::stream::{check_digest, check_len, fill_buf};
use super::verifying::verify_fetched;
use super::{
    BlobSource, BlockStore, ByteStream, StoreError, StoreResult, check_max, check_range,
    check_range_u64, validate_name,
};
use crate::block::{CODEC_DAG_CBOR, CODEC_RAW, Cid, blake3_digest, raw_cid, to_dag_cbor};
use rpc::{LISTING_ANSWER, Rpc, SMALL_ANSWER};

/// Cap of a blob map entry (`/coffer/<namespace>/blobs/<cid>`): one CID string.
const MAP_ENTRY: u64 = 1 << 10;

/// How to reach a Kubo node.
#[derive(Clone, Debug)]
pub struct IpfsConfig {
    /// RPC API address, e.g. `http://127.0.0.1:5001`.
    pub api: String,
    /// Separates coffer stores sharing a node (pin names, MFS directory); a name as accepted by
    /// [`validate_name`].
    pub namespace: String,
    /// A trustless gateway to read blocks from (`http://127.0.0.1:8080`), checked against CIDs;
    /// the first of [`IpfsConfig::gateways`] when both are set.
    pub gateway: Option<String>,
    /// More trustless gateways, tried in order of health (after [`IpfsConfig::gateway`] while
    /// none has failed); the node answers when every gateway failed or lied.
    pub gateways: Vec<String>,
    /// Let the node search the IPFS network for blocks it does not hold (reads then wait up to
    /// [`IpfsConfig::timeout`] for a missing block instead of failing at once).
    pub fetch_from_network: bool,
    /// Deadline of one RPC request.
    pub timeout: Duration,
    /// Leaves uploaded or fetched at once for large blobs.
    pub concurrency: usize,
    /// The gateway written into share links ([`BlockStore::presigned_get`]): one the recipients
    /// can reach, e.g. `https://ipfs.example.org` (defaults to [`IpfsConfig::gateway`]; without
    /// either this store makes no links).
    pub link_gateway: Option<String>,
}

impl IpfsConfig {
    /// Defaults: namespace `default`, no gateway, local reads only, 60 s requests, 4 in flight.
    pub fn new(api: impl Into<String>) -> Self {
        Self {
            api: api.into(),
            namespace: "default".into(),
            gateway: None,
            gateways: Vec::new(),
            fetch_from_network: false,
            timeout: Duration::from_secs(60),
            concurrency: 4,
            link_gateway: None,
        }
    }
}

/// A trustless gateway and how it has answered so far.
#[derive(Debug)]
struct Gateway {
    url: String,
    health: Mutex<Health>,
}

#[derive(Debug)]
struct Inner {
    rpc: Rpc,
    namespace: String,
    gateways: Vec<Gateway>,
    link_gateway: Option<String>,
    offline: &'static str,
    concurrency: usize,
    gateway_reads: std::sync::atomic::AtomicU64,
    /// Pin what is stored on this node (a plain IPFS store); `false` when IPFS Cluster pins.
    local_pins: bool,
}

fn lock(m: &Mutex<Health>) -> std::sync::MutexGuard<'_, Health> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A block and head store on a Kubo node. Cloning shares the connection pool.
#[derive(Clone, Debug)]
pub struct IpfsStore {
    inner: Arc<Inner>,
}

#[derive(Deserialize)]
struct PutAnswer {
    #[serde(rename = "Key")]
    key: String,
}

#[derive(Deserialize)]
struct PinLsAnswer {
    #[serde(rename = "Keys", default)]
    keys: HashMap<String, PinInfo>,
}

#[derive(Deserialize)]
struct PinInfo {
    #[serde(rename = "Name", default)]
    name: String,
}

#[derive(Deserialize)]
pub(super) struct LsAnswer {
    #[serde(rename = "Entries", default)]
    pub(super) entries: Option<Vec<LsEntry>>,
}

#[derive(Deserialize)]
pub(super) struct LsEntry {
    #[serde(rename = "Name")]
    pub(super) name: String,
}

impl IpfsStore {
    /// Connects to the node and checks that it answers (`version`).
    pub async fn connect(config: IpfsConfig) -> StoreResult<Self> {
        let store = Self::build(config, true)?;
        store
            .inner
            .rpc
            .call("version", &[], None, SMALL_ANSWER)
            .await?;
        Ok(store)
    }

    /// The store without contacting the node; `local_pins: false` leaves pinning to IPFS Cluster.
    fn build(config: IpfsConfig, local_pins: bool) -> StoreResult<Self> {
        validate_name(&config.namespace)?;
        let rpc = Rpc::new(&config.api, config.timeout)?;
        let mut gateways = Vec::new();
        for g in config.gateway.iter().chain(config.gateways.iter()) {
            let url = g.trim_end_matches('/').to_string();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(StoreError::Config(format!(
                    "IPFS gateway {url:?} must start with http:// or https://"
                )));
            }
            gateways.push(Gateway {
                url,
                health: Mutex::default(),
            });
        }
        let link_gateway = config
            .link_gateway
            .map(|g| g.trim_end_matches('/').to_string())
            .or_else(|| gateways.first().map(|g| g.url.clone()));
        let offline = if config.fetch_from_network {
            "false"
        } else {
            "true"
        };
        let inner = Inner {
            rpc,
            namespace: config.namespace,
            gateways,
            link_gateway,
            offline,
            concurrency: config.concurrency.max(1),
            gateway_reads: Default::default(),
            local_pins,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The health of each gateway, in the order configured ([`IpfsConfig::gateway`] first, then
    /// [`IpfsConfig::gateways`]); `index` is the position in that order. A gateway that served
    /// wrong bytes is unhealthy at once.
    pub fn gateway_health(&self) -> Vec<super::BackendHealth> {
        self.inner
            .gateways
            .iter()
            .enumerate()
            .map(|(i, g)| lock(&g.health).snapshot(i))
            .collect()
    }

    /// Blocks read (and verified) from the gateways so far.
    pub fn gateway_reads(&self) -> u64 {
        self.inner
            .gateway_reads
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn pin_name(&self) -> String {
        format!("coffer:{}", self.inner.namespace)
    }

    fn blob_pin_name(&self) -> String {
        format!("coffer:{}:blob", self.inner.namespace)
    }

    fn mfs_root(&self) -> String {
        format!("/coffer/{}", self.inner.namespace)
    }

    fn blob_map_path(&self, cid: &Cid) -> String {
        format!("{}/blobs/{cid}", self.mfs_root())
    }

    /// `block/put` of one block with `pin=true`, checking that Kubo names it `cid`.
    ///
    /// Kubo adds and pins the block (recursively, without a name) under its GC lock, so an
    /// `ipfs repo gc` between this call and coffer's named pin (or the blob root's pin) cannot
    /// take it: a separate `block/put` + `pin/add` loses blocks to a concurrent GC.
    async fn put_block(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        let codec = match cid.codec() {
            CODEC_RAW => "raw",
            CODEC_DAG_CBOR => "dag-cbor",
            other => {
                return Err(StoreError::Unsupported(format!(
                    "CID codec 0x{other:x} (coffer uses raw and dag-cbor)"
                )));
            }
        };
        blake3_digest(cid).map_err(|e| StoreError::Unsupported(e.to_string()))?;
        if bytes.len() > MAX_BLOCK {
            return Err(StoreError::Unsupported(format!(
                "block of {} bytes is over the 1 MiB limit",
                bytes.len()
            )));
        }
        let pin = if self.inner.local_pins {
            "true"
        } else {
            "false"
        };
        let args = [
            ("cid-codec", codec),
            ("mhtype", "blake3"),
            ("mhlen", "32"),
            ("pin", pin),
        ];
        let answer: PutAnswer = self
            .inner
            .rpc
            .call_json("block/put", &args, Some(bytes), SMALL_ANSWER)
            .await?;
        let got = Cid::try_from(answer.key.as_str()).map_err(|e| {
            StoreError::Other(format!(
                "IPFS block/put returned an unreadable CID {:?}: {e}",
                answer.key
            ))
        })?;
        if got != *cid {
            // Kubo hashed the bytes to something else: do not leave the stray block behind (its
            // pin is ours only on a plain store; a cluster's pin of it is left alone).
            if self.inner.local_pins {
                let _ = self
                    .inner
                    .rpc
                    .call("pin/rm", &[("arg", &answer.key)], None, SMALL_ANSWER)
                    .await;
            }
            let _ = self
                .inner
                .rpc
                .call(
                    "block/rm",
                    &[("arg", &answer.key), ("force", "true")],
                    None,
                    SMALL_ANSWER,
                )
                .await;
            return Err(StoreError::Corrupt {
                cid: cid.to_string(),
                detail: format!("the IPFS node computed {got} for these bytes"),
            });
        }
        Ok(())
    }

    /// Names the pin of `cid` (Kubo replaces an existing recursive pin of `cid` by this one, under
    /// its GC lock).
    async fn pin(&self, cid: &Cid, name: &str) -> StoreResult<()> {
        if !self.inner.local_pins {
            return Ok(());
        }
        self.inner
            .rpc
            .call(
                "pin/add",
                &[("arg", &cid.to_string()), ("name", name)],
                None,
                SMALL_ANSWER,
            )
            .await
            .map(|_| ())
    }

    /// Reads one block (gateway first when configured) of at most `max` bytes and checks it
    /// against `cid`.
    async fn fetch_block(&self, cid: &Cid, max: u64) -> StoreResult<Bytes> {
        fetch_block(&self.inner, cid, max).await
    }

    /// The root of blob `cid`, or `None` when `cid` is not a large blob here.
    async fn blob_root(&self, cid: &Cid) -> StoreResult<Option<(Cid, BlobRoot)>> {
        let text = match self
            .inner
            .rpc
            .call(
                "files/read",
                &[("arg", &self.blob_map_path(cid))],
                None,
                MAP_ENTRY,
            )
            .await
        {
            Ok(t) => t,
            Err(StoreError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e),
        };
        let root_cid = std::str::from_utf8(&text)
            .ok()
            .and_then(|s| Cid::try_from(s.trim()).ok())
            .ok_or_else(|| StoreError::Corrupt {
                cid: cid.to_string(),
                detail: "unreadable blob map entry".into(),
            })?;
        let root_bytes = self.fetch_block(&root_cid, MAX_BLOCK as u64).await?;
        let root = super::decode_blob_root(cid, &root_bytes)?;
        Ok(Some((root_cid, root)))
    }

    /// Stores a large blob as leaves + root, pins the root and maps `cid` to it. `first` holds
    /// the bytes already read from `source`.
    async fn put_blob(
        &self,
        cid: &Cid,
        first: Vec<u8>,
        mut source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        let mut hasher = blake3::Hasher::new();
        let mut leaves: Vec<Option<Cid>> = Vec::new();
        let mut in_flight = FuturesUnordered::new();
        let mut pending = Some(first);
        let mut total = 0u64;
        let mut failure = None;
        loop {
            while failure.is_none() && in_flight.len() < self.inner.concurrency {
                let chunk = match pending.take() {
                    Some(c) => c,
                    None => {
                        let mut buf = vec![0u8; LEAF_SIZE];
                        match fill_buf(&mut source, &mut buf).await {
                            Ok(0) => break,
                            Ok(n) => {
                                buf.truncate(n);
                                buf
                            }
                            Err(e) => {
                                failure = Some(e);
                                break;
                            }
                        }
                    }
                };
                hasher.update(&chunk);
                total += chunk.len() as u64;
                let leaf = raw_cid(&chunk);
                let index = leaves.len();
                leaves.push(None);
                if leaves.len() > MAX_LEAVES {
                    failure = Some(StoreError::Unsupported(format!(
                        "blob over {} bytes: the IPFS store keeps at most {MAX_LEAVES} leaves",
                        MAX_LEAVES * LEAF_SIZE
                    )));
                    break;
                }
                in_flight.push(async move {
                    (index, leaf, self.put_block(&leaf, Bytes::from(chunk)).await)
                });
            }
            match in_flight.next().await {
                Some((i, leaf, Ok(()))) => leaves[i] = Some(leaf),
                Some((_, _, Err(e))) => {
                    failure.get_or_insert(e);
                }
                None => break,
            }
        }
        let uploaded: Vec<Cid> = leaves.iter().flatten().copied().collect();
        let result = match failure {
            Some(e) => Err(e),
            None => {
                self.finish_blob(cid, total, len, &hasher, uploaded.clone())
                    .await
            }
        };
        // Each leaf was pinned on its own by `put_block`; the root's recursive pin now holds
        // them (or the upload failed and they are left to Kubo's garbage collector).
        self.unpin_all(&uploaded).await;
        result
    }

    /// Checks the whole blob, then writes and pins its root and maps `cid` to it.
    async fn finish_blob(
        &self,
        cid: &Cid,
        total: u64,
        len: Option<u64>,
        hasher: &blake3::Hasher,
        leaves: Vec<Cid>,
    ) -> StoreResult<()> {
        check_len(len, total)?;
        check_digest(cid, &hasher.finalize())?;
        let root = BlobRoot::new(cid, total, leaves);
        let root_bytes = to_dag_cbor(&root).map_err(|e| StoreError::Other(e.to_string()))?;
        let root_cid = crate::block::dag_cbor_cid(&root_bytes);
        self.put_block(&root_cid, Bytes::from(root_bytes)).await?;
        self.pin(&root_cid, &self.blob_pin_name()).await?;
        self.write_blob_map(cid, &root_cid).await
    }

    /// Maps blob `cid` to its root (`/coffer/<namespace>/blobs/<cid>` holds the root's CID).
    async fn write_blob_map(&self, cid: &Cid, root_cid: &Cid) -> StoreResult<()> {
        let map = [
            ("arg", self.blob_map_path(cid)),
            ("create", "true".into()),
            ("parents", "true".into()),
            ("truncate", "true".into()),
        ];
        let map: Vec<(&str, &str)> = map.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.inner
            .rpc
            .call(
                "files/write",
                &map,
                Some(Bytes::from(root_cid.to_string())),
                SMALL_ANSWER,
            )
            .await?;
        Ok(())
    }

    /// Removes the pins `put_block` gave `cids` (best effort: a pin left behind only keeps a
    /// block; Kubo stops `pin/rm` at the first CID it cannot unpin, so each is asked once).
    async fn unpin_all(&self, cids: &[Cid]) {
        if !self.inner.local_pins {
            return;
        }
        let mut unique: Vec<String> = cids.iter().map(Cid::to_string).collect();
        unique.sort_unstable();
        unique.dedup();
        for batch in unique.chunks(64) {
            let args: Vec<(&str, &str)> = batch.iter().map(|c| ("arg", c.as_str())).collect();
            if self
                .inner
                .rpc
                .call("pin/rm", &args, None, SMALL_ANSWER)
                .await
                .is_err()
            {
                for c in batch {
                    let _ = self
                        .inner
                        .rpc
                        .call("pin/rm", &[("arg", c)], None, SMALL_ANSWER)
                        .await;
                }
            }
        }
    }

    /// Removes blob `cid`: unpins its root, removes the map entry and the blocks no pin holds.
    async fn delete_blob(&self, cid: &Cid, root_cid: &Cid, root: &BlobRoot) -> StoreResult<()> {
        match self
            .inner
            .rpc
            .call(
                "pin/rm",
                &[("arg", &root_cid.to_string())],
                None,
                SMALL_ANSWER,
            )
            .await
        {
            Ok(_) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        self.inner
            .rpc
            .call(
                "files/rm",
                &[("arg", &self.blob_map_path(cid))],
                None,
                SMALL_ANSWER,
            )
            .await?;
        // block/rm reports blocks still pinned elsewhere inside its answer; those stay.
        for c in std::iter::once(root_cid).chain(root.leaves.iter()) {
            let _ = self
                .inner
                .rpc
                .call(
                    "block/rm",
                    &[("arg", &c.to_string()), ("force", "true")],
                    None,
                    SMALL_ANSWER,
                )
                .await;
        }
        Ok(())
    }
}

/// Reads one block of at most `max` bytes (the gateways first, in order of health, then the
/// node) and checks it against `cid`; a larger answer is [`StoreError::TooLarge`], read no
/// further. A gateway that fails is recorded and skipped; one that serves other bytes or inflates
/// its answer is marked unhealthy at once. When the node does not hold the block either and a
/// gateway lied about it, the answer is [`StoreError::Corrupt`].
async fn fetch_block(inner: &Inner, cid: &Cid, max: u64) -> StoreResult<Bytes> {
    let max = max.min(MAX_BLOCK as u64);
    let mut order: Vec<usize> = (0..inner.gateways.len()).collect();
    order.sort_by_key(|&i| lock(&inner.gateways[i].health).rank());
    let mut liars = Vec::new();
    for i in order {
        let gw = &inner.gateways[i];
        let url = format!("{}/ipfs/{cid}?format=raw", gw.url);
        let start = web_time::Instant::now();
        match inner
            .rpc
            .get_url(&url, "application/vnd.ipld.raw", max)
            .await
        {
            Ok((200, bytes)) if verify_fetched(cid, &bytes).is_ok() => {
                lock(&gw.health).success(start.elapsed());
                inner
                    .gateway_reads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(bytes);
            }
            // More than the caller's cap, which may be below the block's size: no verdict.
            Err(StoreError::TooLarge { .. }) if max < MAX_BLOCK as u64 => {}
            // Other bytes than the CID names, or more than any block: a lying gateway.
            Ok((200, _)) | Err(StoreError::TooLarge { .. }) => {
                lock(&gw.health).corrupt();
                liars.push(gw.url.clone());
            }
            // The gateway does not have it: an honest answer, not a failure.
            Ok((404 | 410, _)) => {}
            Ok(_) | Err(_) => lock(&gw.health).failure(),
        }
    }
    let bytes = inner
        .rpc
        .call(
            "block/get",
            &[("arg", &cid.to_string()), ("offline", inner.offline)],
            None,
            max,
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) if !liars.is_empty() => StoreError::Corrupt {
                cid: cid.to_string(),
                detail: format!(
                    "gateway(s) {} served other bytes and the node does not hold the block",
                    liars.join(", ")
                ),
            },
            StoreError::NotFound(_) => StoreError::NotFound(cid.to_string()),
            StoreError::TooLarge { .. } => StoreError::block_too_large(cid, None, max),
            other => other,
        })?;
    verify_fetched(cid, &bytes)?;
    Ok(bytes)
}

/// One leaf of a blob to stream: its CID, its length as the root says, and the part of it wanted
/// (`None`: all).
type LeafPart = (Cid, u64, Option<Range<usize>>);

/// The leaves of `root`, each whole.
fn whole_leaves(root: &BlobRoot) -> Vec<LeafPart> {
    root.leaves
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let r = root.leaf_range(i);
            (*l, r.end - r.start, None)
        })
        .collect()
}

/// Streams `leaves` (each whole, or the given part) in order with `concurrency` fetches ahead.
/// Each leaf is read with its length as the cap and must have exactly that length, so the stream
/// never yields more than the root's size.
fn leaf_stream(inner: Arc<Inner>, leaves: Vec<LeafPart>) -> ByteStream {
    let concurrency = inner.concurrency;
    Box::pin(
        futures_util::stream::iter(leaves)
            .map(move |(leaf, len, part)| {
                let inner = inner.clone();
                async move {
                    let bytes = fetch_block(&inner, &leaf, len).await?;
                    if bytes.len() as u64 != len {
                        return Err(StoreError::Corrupt {
                            cid: leaf.to_string(),
                            detail: format!(
                                "a leaf of {} bytes where the blob root says {len}",
                                bytes.len()
                            ),
                        });
                    }
                    match part {
                        None => Ok(bytes),
                        Some(r) => {
                            let r = check_range(
                                &leaf,
                                &(r.start as u64..r.end as u64),
                                bytes.len() as u64,
                            )?;
                            Ok(bytes.slice(r))
                        }
                    }
                }
            })
            .buffered(concurrency),
    )
}

#[async_trait::async_trait]
impl BlockStore for IpfsStore {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        if bytes.len() > MAX_BLOCK {
            let len = bytes.len() as u64;
            return self
                .put_stream(cid, &mut Cursor::new(bytes), Some(len))
                .await;
        }
        self.put_block(cid, bytes).await?;
        self.pin(cid, &self.pin_name()).await
    }

    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        self.get_max(cid, u64::MAX).await
    }

    /// A block is read with the cap (at most 1 MiB); a blob's root size is checked against it
    /// before any leaf is read, and each leaf is capped at its length.
    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        match self.fetch_block(cid, max_len).await {
            Err(StoreError::NotFound(_)) => {}
            other => return other,
        }
        let (_, root) = self
            .blob_root(cid)
            .await?
            .ok_or_else(|| StoreError::NotFound(cid.to_string()))?;
        check_max(cid, root.size, max_len)?;
        // The size is checked against the leaf count, so at most 16 GiB; the bytes themselves
        // are only trusted once they hash to `cid` (VerifyingStore or the caller).
        let mut out = BytesMut::with_capacity(
            usize::try_from(root.size)
                .unwrap_or(usize::MAX)
                .min(64 << 20),
        );
        let mut stream = leaf_stream(self.inner.clone(), whole_leaves(&root));
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out.freeze())
    }

    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        match self.fetch_block(cid, MAX_BLOCK as u64).await {
            Ok(bytes) => {
                let r = check_range(cid, &range, bytes.len() as u64)?;
                return Ok(bytes.slice(r));
            }
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let (_, root) = self
            .blob_root(cid)
            .await?
            .ok_or_else(|| StoreError::NotFound(cid.to_string()))?;
        check_range_u64(cid, &range, root.size)?;
        if range.start == range.end {
            return Ok(Bytes::new());
        }
        let first = (range.start / root.leaf_size) as usize;
        let last = ((range.end - 1) / root.leaf_size) as usize;
        let parts: Vec<LeafPart> = (first..=last)
            .map(|i| {
                let lr = root.leaf_range(i);
                let s = range.start.max(lr.start) - lr.start;
                let e = range.end.min(lr.end) - lr.start;
                (
                    root.leaves[i],
                    lr.end - lr.start,
                    Some(s as usize..e as usize),
                )
            })
            .collect();
        let chunks: Vec<Bytes> = leaf_stream(self.inner.clone(), parts).try_collect().await?;
        let mut out = BytesMut::with_capacity((range.end - range.start) as usize);
        for c in chunks {
            out.extend_from_slice(&c);
        }
        Ok(out.freeze())
    }

    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        let args = [("arg", cid.to_string()), ("type", "recursive".to_string())];
        let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        match self
            .inner
            .rpc
            .call("pin/ls", &args, None, SMALL_ANSWER)
            .await
        {
            Ok(_) => return Ok(true),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        match self
            .inner
            .rpc
            .call(
                "files/stat",
                &[("arg", &self.blob_map_path(cid))],
                None,
                SMALL_ANSWER,
            )
            .await
        {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        if let Some((root_cid, root)) = self.blob_root(cid).await? {
            return self.delete_blob(cid, &root_cid, &root).await;
        }
        match self
            .inner
            .rpc
            .call("pin/rm", &[("arg", &cid.to_string())], None, SMALL_ANSWER)
            .await
        {
            Ok(_) | Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        // Fails harmlessly (inside its answer) when another pin still holds the block.
        let _ = self
            .inner
            .rpc
            .call(
                "block/rm",
                &[("arg", &cid.to_string()), ("force", "true")],
                None,
                SMALL_ANSWER,
            )
            .await;
        Ok(())
    }

    /// A trustless-gateway URL answering a CAR file of `cid` (its one block, or a large blob's
    /// root and leaves): `<link_gateway>/ipfs/<cid or root>?format=car`. Content addressing has
    /// no expiry: the gateway serves it for as long as the node holds it, whatever
    /// `expires_in` says; a link's expiry is then enforced only by the opener's SDK
    /// ([`crate::share::Link::open_response`]). `None` without a gateway configured.
    async fn presigned_get(&self, cid: &Cid, expires_in: Duration) -> StoreResult<Option<String>> {
        let _ = expires_in;
        let Some(gateway) = self.inner.link_gateway.as_deref() else {
            return Ok(None);
        };
        let target = match self.blob_root(cid).await? {
            Some((root, _)) => root,
            None if self.has(cid).await? => *cid,
            None => return Err(StoreError::NotFound(cid.to_string())),
        };
        Ok(Some(format!("{gateway}/ipfs/{target}?format=car")))
    }

    async fn list(&self) -> StoreResult<Vec<Cid>> {
        let name = self.pin_name();
        let args = [
            ("type", "recursive"),
            ("names", "true"),
            ("name", name.as_str()),
        ];
        let pins: PinLsAnswer = self
            .inner
            .rpc
            .call_json("pin/ls", &args, None, LISTING_ANSWER)
            .await?;
        let mut out: Vec<Cid> = pins
            .keys
            .into_iter()
            .filter(|(_, info)| info.name == name)
            .filter_map(|(k, _)| Cid::try_from(k.as_str()).ok())
            .collect();
        let dir = format!("{}/blobs", self.mfs_root());
        match self
            .inner
            .rpc
            .call_json::<LsAnswer>("files/ls", &[("arg", &dir)], None, LISTING_ANSWER)
            .await
        {
            Ok(ls) => out.extend(
                ls.entries
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|e| Cid::try_from(e.name.as_str()).ok()),
            ),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        Ok(out)
    }

    /// Blobs up to 1 MiB become one block; larger ones a DAG of 1 MiB leaves, uploaded
    /// [`IpfsConfig::concurrency`] at a time with bounded memory.
    async fn put_stream(
        &self,
        cid: &Cid,
        mut source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        // Read one byte past a block to learn whether the blob fits in one.
        let mut first = vec![0u8; MAX_BLOCK + 1];
        let n = fill_buf(&mut source, &mut first).await?;
        if n <= MAX_BLOCK {
            first.truncate(n);
            check_len(len, n as u64)?;
            check_digest(cid, &blake3::hash(&first))?;
            return self.put(cid, Bytes::from(first)).await;
        }
        // Push the extra byte back in front of the rest of the source.
        let extra = first.split_off(LEAF_SIZE);
        let mut rest = futures_util::io::AsyncReadExt::chain(Cursor::new(extra), source);
        self.put_blob(cid, first, &mut rest, len).await
    }

    async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> {
        match self.fetch_block(cid, MAX_BLOCK as u64).await {
            Ok(bytes) => return Ok(super::bytes_stream(bytes)),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
        let (_, root) = self
            .blob_root(cid)
            .await?
            .ok_or_else(|| StoreError::NotFound(cid.to_string()))?;
        Ok(leaf_stream(self.inner.clone(), whole_leaves(&root)))
    }
}
