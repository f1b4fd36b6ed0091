//! IPFS Cluster as a block and head store: blocks go into a Kubo node, the cluster pins them with
//! replication factors, reads come from any peer's Kubo.
//!
//! - **Put.** A block (or a large blob's DAG of ≤ 1 MiB leaves under a DAG-CBOR root, as in
//!   [`super::IpfsStore`]) is `block/put` into the healthiest Kubo node *without* a local pin,
//!   then pinned through the cluster's REST API (`POST /pins/<cid>?replication-min=…&
//!   replication-max=…&name=coffer:<namespace>`; a blob's root is pinned recursively, named
//!   `coffer:<namespace>:blob`). The put is acknowledged only once the cluster reports the pin
//!   `pinned` on at least `replication-min` peers; otherwise it fails with
//!   [`StoreError::Timeout`] after [`ClusterConfig::pin_timeout`] and nothing is acknowledged.
//!   The block sits unpinned on the receiving node until the allocated peers fetched it: a
//!   `repo gc` on that node in that window makes the pin (and so the put) time out, never
//!   acknowledges a lost block.
//! - **Read.** From the Kubo nodes in order of health (`block/get`, offline: a node that does not
//!   hold a block says so at once), every block checked against its CID; a node that serves other
//!   bytes is marked unhealthy at once and skipped. All nodes `NotFound`: `NotFound`; a node
//!   that lied and none that answered: `Corrupt`; otherwise the last failure (`Unavailable`, …).
//! - **Delete** unpins through the cluster (`DELETE /pins/<cid>`); each Kubo drops the blocks at
//!   its next garbage collection. **List** reads the cluster's pin set (`GET /allocations`) for
//!   this namespace's pin names, plus the blob map.
//! - **Blob map and heads** are MFS files on *every* Kubo node (the same paths as
//!   [`super::IpfsStore`]): a write goes to each reachable node and succeeds when at least
//!   `min(replication-min, nodes)` took it. Heads are read from every reachable node and, per
//!   writer, the version most nodes hold wins (ties: the healthiest node); the blob map is read
//!   from the first node that has the entry. Limits: MFS is not replicated by the cluster, so a
//!   node that was down during a head write keeps the older head until that writer writes
//!   again; when such nodes are the majority of those reachable, a reader gets the older head,
//!   and the vault's trust state refuses to go back (the stale head is skipped and reported), so
//!   this delays a reader, never rolls it back. Conditions are checked against the head the
//!   majority holds, not atomically with the write ([`ConditionalWrites::BestEffort`]).
//!
//! [`ClusterStore::pin_status`] and [`ClusterStore::pin_statuses`] show each pin's allocations
//! and per-peer state.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::io::Cursor;
use serde::Deserialize;

use super::rpc::{LISTING_ANSWER, Rpc, SMALL_ANSWER};
use super::{IpfsConfig, IpfsStore, LsAnswer, MAX_BLOCK, lock};
use crate::block::Cid;
use crate::store::head::{check_condition, content_version};
use crate::store::replicated::health::Health;
use crate::store::{
    BackendHealth, BlobSource, BlockStore, ByteStream, ConditionalWrites, Head, HeadCondition,
    HeadStore, HeadVersion, StoreError, StoreResult, validate_name,
};

/// How to reach an IPFS Cluster and its peers' Kubo nodes.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    /// The cluster's REST API addresses (`http://127.0.0.1:9094`): the first healthy one is
    /// used, the others when it fails.
    pub apis: Vec<String>,
    /// Kubo RPC API addresses of the peers (`http://127.0.0.1:5001`): blocks are added through
    /// the healthiest, read from any, and heads and the blob map live on each.
    pub nodes: Vec<String>,
    /// Separates coffer stores sharing a cluster (pin names, MFS directory).
    pub namespace: String,
    /// Peers that must have pinned a block before a put is acknowledged (at least 1).
    pub replication_min: u32,
    /// Peers the cluster allocates a pin to (at least `replication_min`).
    pub replication_max: u32,
    /// How long a put waits for `replication_min` peers to report the pin `pinned`.
    pub pin_timeout: Duration,
    /// Deadline of one HTTP request.
    pub timeout: Duration,
    /// Leaves uploaded or fetched at once for large blobs.
    pub concurrency: usize,
}

impl ClusterConfig {
    /// Defaults: namespace `default`, replication 2..3, 120 s to pin, 60 s requests, 4 in flight.
    pub fn new(apis: Vec<String>, nodes: Vec<String>) -> Self {
        Self {
            apis,
            nodes,
            namespace: "default".into(),
            replication_min: 2,
            replication_max: 3,
            pin_timeout: Duration::from_secs(120),
            timeout: Duration::from_secs(60),
            concurrency: 4,
        }
    }
}

/// One peer's view of a pin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerPinState {
    /// The cluster peer's ID.
    pub peer: String,
    /// Its name (`peername` in its configuration).
    pub peername: String,
    /// `pinned`, `pinning`, `pin_queued`, `pin_error`, `remote` (not allocated there),
    /// `cluster_error` (unreachable), … as the cluster reports it.
    pub status: String,
    /// The peer's error, if any.
    pub error: String,
}

/// A pin's allocations and state on each peer, as the cluster reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PinStatus {
    /// The pinned CID (a block, or a large blob's root).
    pub cid: String,
    /// The pin's name (`coffer:<namespace>` or `coffer:<namespace>:blob`).
    pub name: String,
    /// The peers the cluster allocated it to.
    pub allocations: Vec<String>,
    /// Every peer's state, by peer ID.
    pub peers: Vec<PeerPinState>,
}

impl PinStatus {
    /// Peers that report the pin `pinned`.
    pub fn pinned(&self) -> usize {
        self.peers.iter().filter(|p| p.status == "pinned").count()
    }
}

#[derive(Deserialize)]
struct GlobalPinInfo {
    cid: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    allocations: Option<Vec<String>>,
    #[serde(default)]
    peer_map: Option<BTreeMap<String, PeerInfo>>,
}

#[derive(Deserialize)]
struct PeerInfo {
    #[serde(default)]
    peername: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    error: String,
}

#[derive(Deserialize)]
struct PinEntry {
    cid: String,
    #[serde(default)]
    name: String,
}

impl From<GlobalPinInfo> for PinStatus {
    fn from(g: GlobalPinInfo) -> Self {
        PinStatus {
            cid: g.cid,
            name: g.name,
            allocations: g.allocations.unwrap_or_default(),
            peers: g
                .peer_map
                .unwrap_or_default()
                .into_iter()
                .map(|(peer, p)| PeerPinState {
                    peer,
                    peername: p.peername,
                    status: p.status,
                    error: p.error,
                })
                .collect(),
        }
    }
}

#[derive(Debug)]
struct Api {
    url: String,
    rpc: Rpc,
    health: Mutex<Health>,
}

#[derive(Debug)]
struct Node {
    store: IpfsStore,
    health: Mutex<Health>,
}

#[derive(Debug)]
struct Inner {
    apis: Vec<Api>,
    nodes: Vec<Node>,
    namespace: String,
    rmin: u32,
    rmax: u32,
    pin_timeout: Duration,
}

/// A block and head store on IPFS Cluster (see the [module docs](self)). Cloning shares the
/// connections.
#[derive(Clone, Debug)]
pub struct ClusterStore {
    inner: Arc<Inner>,
}

/// Whether `e` says something about the backend (it failed) rather than about the request.
fn backend_failure(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Unavailable(_)
            | StoreError::Timeout(_)
            | StoreError::Throttled(_)
            | StoreError::Other(_)
    )
}

/// Maps an error answer of the cluster REST API (`{"code":…,"message":…}`).
fn api_error(what: &str, status: u16, body: &[u8]) -> StoreError {
    #[derive(Deserialize)]
    struct ApiError {
        #[serde(default)]
        message: String,
    }
    let message = serde_json::from_slice::<ApiError>(body)
        .map(|e| e.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
    match status {
        404 => StoreError::NotFound(format!("IPFS Cluster {what}: {message}")),
        401 | 403 => StoreError::AccessDenied(format!("IPFS Cluster {what}: {message}")),
        429 | 503 => StoreError::Throttled(format!("IPFS Cluster {what}: {message}")),
        _ => StoreError::Other(format!(
            "IPFS Cluster {what} failed (HTTP {status}): {message}"
        )),
    }
}

impl ClusterStore {
    /// Connects: at least one REST API and one Kubo node must answer (the others may be down;
    /// they are tried again as their health recovers).
    pub async fn connect(config: ClusterConfig) -> StoreResult<Self> {
        validate_name(&config.namespace)?;
        if config.apis.is_empty() || config.nodes.is_empty() {
            return Err(StoreError::Config(
                "IPFS Cluster needs at least one REST API address and one Kubo node".into(),
            ));
        }
        if config.replication_min == 0 || config.replication_max < config.replication_min {
            return Err(StoreError::Config(format!(
                "IPFS Cluster replication {}..{}: the minimum must be at least 1 and at most the maximum",
                config.replication_min, config.replication_max
            )));
        }
        let mut apis = Vec::new();
        for url in &config.apis {
            let url = url.trim_end_matches('/').to_string();
            apis.push(Api {
                rpc: Rpc::new(&url, config.timeout)?,
                url,
                health: Mutex::default(),
            });
        }
        let mut nodes = Vec::new();
        for api in &config.nodes {
            let mut c = IpfsConfig::new(api.clone());
            c.namespace = config.namespace.clone();
            c.timeout = config.timeout;
            c.concurrency = config.concurrency;
            nodes.push(Node {
                store: IpfsStore::build(c, false)?,
                health: Mutex::default(),
            });
        }
        let store = Self {
            inner: Arc::new(Inner {
                apis,
                nodes,
                namespace: config.namespace,
                rmin: config.replication_min,
                rmax: config.replication_max,
                pin_timeout: config.pin_timeout,
            }),
        };
        store
            .api(http::Method::GET, "/id", "id", SMALL_ANSWER)
            .await?;
        store
            .on_nodes(|s| async move {
                s.inner
                    .rpc
                    .call("version", &[], None, SMALL_ANSWER)
                    .await
                    .map(|_| ())
            })
            .await?;
        Ok(store)
    }

    /// The health of each Kubo node, in the order configured.
    pub fn node_health(&self) -> Vec<BackendHealth> {
        let nodes = &self.inner.nodes;
        nodes
            .iter()
            .enumerate()
            .map(|(i, n)| lock(&n.health).snapshot(i))
            .collect()
    }

    fn pin_name(&self) -> String {
        format!("coffer:{}", self.inner.namespace)
    }

    fn blob_pin_name(&self) -> String {
        format!("coffer:{}:blob", self.inner.namespace)
    }

    /// Heads and blob-map writes must reach this many nodes.
    fn write_quorum(&self) -> usize {
        (self.inner.rmin as usize).min(self.inner.nodes.len())
    }

    fn node_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.inner.nodes.len()).collect();
        order.sort_by_key(|&i| lock(&self.inner.nodes[i].health).rank());
        order
    }

    /// One REST API call (`path` with its query), on the healthiest API that answers; any HTTP
    /// status is returned with its body.
    async fn api(
        &self,
        method: http::Method,
        path: &str,
        what: &str,
        max: u64,
    ) -> StoreResult<(u16, Bytes)> {
        // The first healthy API in the order given, not the fastest: the pin set is replicated
        // between peers eventually (CRDT), so staying on one peer reads one's own writes.
        let mut order: Vec<usize> = (0..self.inner.apis.len()).collect();
        order.sort_by_key(|&i| !lock(&self.inner.apis[i].health).healthy());
        let mut last = None;
        for i in order {
            let api = &self.inner.apis[i];
            let start = web_time::Instant::now();
            let url = format!("{}{path}", api.url);
            match api
                .rpc
                .request(method.clone(), &url, &format!("Cluster {what}"), max)
                .await
            {
                // A proxy or a peer in trouble; the cluster's own refusals (500 with a message,
                // e.g. not enough peers to allocate) are answers.
                Ok((status, _)) if matches!(status, 502..=504) => {
                    lock(&api.health).failure();
                    last = Some(StoreError::Unavailable(format!(
                        "IPFS Cluster {what}: {} answered HTTP {status}",
                        api.url
                    )));
                }
                Ok(answer) => {
                    lock(&api.health).success(start.elapsed());
                    return Ok(answer);
                }
                Err(e) if backend_failure(&e) => {
                    lock(&api.health).failure();
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Unavailable("no IPFS Cluster API".into())))
    }

    /// Runs `op` on the nodes in order of health until one succeeds. `NotFound` from every node
    /// is `NotFound`; a node that served wrong bytes is marked and skipped (`Corrupt` when no
    /// node answered); a failing node is recorded and skipped.
    ///
    /// With nodes down, `NotFound` is still the answer when more nodes said so than could have
    /// missed a write of this store's quorum (`replication-min` pins, blob map and heads on
    /// `min(replication-min, nodes)` nodes): with 3 nodes and a minimum of 2, two `NotFound`s
    /// and one unreachable node mean the thing is not stored. Fewer: `Unavailable`.
    async fn on_nodes<T, F, Fut>(&self, op: F) -> StoreResult<T>
    where
        F: Fn(IpfsStore) -> Fut,
        Fut: std::future::Future<Output = StoreResult<T>>,
    {
        let mut not_found = None;
        let mut not_found_count = 0;
        let mut corrupt = None;
        let mut failed = None;
        for i in self.node_order() {
            let node = &self.inner.nodes[i];
            let start = web_time::Instant::now();
            match op(node.store.clone()).await {
                Ok(v) => {
                    lock(&node.health).success(start.elapsed());
                    return Ok(v);
                }
                Err(e @ StoreError::NotFound(_)) => {
                    lock(&node.health).success(start.elapsed());
                    not_found = Some(e);
                    not_found_count += 1;
                }
                Err(e @ StoreError::Corrupt { .. }) => {
                    lock(&node.health).corrupt();
                    corrupt = Some(e);
                }
                Err(e) if backend_failure(&e) => {
                    lock(&node.health).failure();
                    failed = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        if corrupt.is_none()
            && not_found_count + self.write_quorum() > self.inner.nodes.len()
            && let Some(e) = not_found
        {
            return Err(e);
        }
        Err(corrupt
            .or(failed)
            .or(not_found)
            .unwrap_or_else(|| StoreError::Unavailable("no Kubo node configured".into())))
    }

    /// Runs `op` on every node; succeeds when at least [`Self::write_quorum`] nodes did.
    async fn on_all_nodes<F, Fut>(&self, what: &str, op: F) -> StoreResult<()>
    where
        F: Fn(IpfsStore) -> Fut,
        Fut: std::future::Future<Output = StoreResult<()>>,
    {
        let mut ok = 0;
        let mut last = None;
        for node in &self.inner.nodes {
            let start = web_time::Instant::now();
            match op(node.store.clone()).await {
                Ok(()) => {
                    lock(&node.health).success(start.elapsed());
                    ok += 1;
                }
                Err(e) => {
                    if backend_failure(&e) {
                        lock(&node.health).failure();
                    }
                    last = Some(e);
                }
            }
        }
        if ok >= self.write_quorum() {
            return Ok(());
        }
        Err(match last {
            Some(e) if !backend_failure(&e) => e,
            other => StoreError::Unavailable(format!(
                "{what} reached {ok} of {} Kubo node(s), {} needed{}",
                self.inner.nodes.len(),
                self.write_quorum(),
                other
                    .map(|e| format!(" (last error: {e})"))
                    .unwrap_or_default()
            )),
        })
    }

    /// Pins `cid` through the cluster with the configured replication and waits until at least
    /// `replication_min` peers report it `pinned`.
    ///
    /// A peer that died less than a metric TTL ago can still be allocated a new pin; while an
    /// allocated peer is unreachable (`cluster_error`) the pin is asked again every few
    /// seconds, which lets the cluster allocate it elsewhere once it knows the peer is gone.
    ///
    /// While the cluster has too few live peers to allocate the pin (a peer down, or one that
    /// just restarted and has not sent its metrics yet), the pin is asked again until the pin
    /// timeout, then the put fails with [`StoreError::Unavailable`].
    async fn pin(&self, cid: &Cid, name: &str) -> StoreResult<()> {
        self.post_pin(cid, name).await?;
        self.wait_pinned(cid, name).await
    }

    /// `POST /pins/<cid>`, asked again while the cluster has too few peers to allocate it.
    async fn post_pin(&self, cid: &Cid, name: &str) -> StoreResult<()> {
        let path = format!(
            "/pins/{cid}?replication-min={}&replication-max={}&name={name}",
            self.inner.rmin, self.inner.rmax
        );
        let mut backoff = Backoff::new(200, 2000, self.inner.pin_timeout);
        loop {
            let (status, body) = self
                .api(http::Method::POST, &path, "pin", SMALL_ANSWER)
                .await?;
            if (200..300).contains(&status) {
                break;
            }
            let err = api_error("pin", status, &body);
            let StoreError::Other(message) = &err else {
                return Err(err);
            };
            if !message.contains("not enough peers to allocate") {
                return Err(err);
            }
            if !backoff.wait().await {
                return Err(StoreError::Unavailable(format!(
                    "{message} (for {:?}; the block is not acknowledged as stored)",
                    self.inner.pin_timeout
                )));
            }
        }
        Ok(())
    }

    async fn wait_pinned(&self, cid: &Cid, name: &str) -> StoreResult<()> {
        const REPOST: Duration = Duration::from_secs(5);
        let mut backoff = Backoff::new(50, 1000, self.inner.pin_timeout);
        let mut last_post = web_time::Instant::now();
        let mut pinned = 0;
        loop {
            match self.pin_status(cid).await {
                Ok(s) => {
                    pinned = s.pinned();
                    if pinned >= self.inner.rmin as usize {
                        return Ok(());
                    }
                    let stuck = s
                        .peers
                        .iter()
                        .any(|p| p.status == "cluster_error" && s.allocations.contains(&p.peer));
                    if stuck && last_post.elapsed() >= REPOST {
                        last_post = web_time::Instant::now();
                        match self.post_pin(cid, name).await {
                            Ok(()) => {}
                            Err(e) if backend_failure(&e) => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(e) if backend_failure(&e) => {}
                Err(e) => return Err(e),
            }
            if !backoff.wait().await {
                return Err(StoreError::Timeout(format!(
                    "IPFS Cluster pinned {cid} on {pinned} peer(s) within {:?}; the policy needs {} \
                     (the block is not acknowledged as stored)",
                    self.inner.pin_timeout, self.inner.rmin
                )));
            }
        }
    }

    /// After the cluster dropped the pin of `cid`: waits until no reachable Kubo node still pins
    /// it (each peer unpins on its own, shortly after), bounded by the pin timeout.
    async fn wait_unpinned(&self, cid: &Cid) -> StoreResult<()> {
        let start = web_time::Instant::now();
        let arg = cid.to_string();
        for node in &self.inner.nodes {
            // One deadline for all nodes; the pauses start short again for each.
            let mut backoff = Backoff::starting_at(start, 20, 500, self.inner.pin_timeout);
            loop {
                let args = [("arg", arg.as_str()), ("type", "recursive")];
                match node
                    .store
                    .inner
                    .rpc
                    .call("pin/ls", &args, None, SMALL_ANSWER)
                    .await
                {
                    Ok(_) => {}
                    // Unpinned there, or the node is down (it unpins when it is back).
                    Err(_) => break,
                }
                if !backoff.wait().await {
                    return Err(StoreError::Timeout(format!(
                        "a Kubo node still pins {cid} {:?} after the cluster unpinned it",
                        self.inner.pin_timeout
                    )));
                }
            }
        }
        Ok(())
    }

    /// The cluster's view of the pin of `cid` (a block or a blob root): its allocations and each
    /// peer's state. A CID the cluster does not pin shows every peer `unpinned`.
    pub async fn pin_status(&self, cid: &Cid) -> StoreResult<PinStatus> {
        let (status, body) = self
            .api(
                http::Method::GET,
                &format!("/pins/{cid}"),
                "pin status",
                SMALL_ANSWER,
            )
            .await?;
        if status != 200 {
            return Err(api_error("pin status", status, &body));
        }
        let info: GlobalPinInfo = serde_json::from_slice(&body).map_err(|e| {
            StoreError::Other(format!(
                "unexpected answer from IPFS Cluster pin status: {e}"
            ))
        })?;
        Ok(info.into())
    }

    /// The status of every pin of this namespace (one `GET /pins` of the whole cluster).
    pub async fn pin_statuses(&self) -> StoreResult<Vec<PinStatus>> {
        let (status, body) = self
            .api(http::Method::GET, "/pins", "pin status", LISTING_ANSWER)
            .await?;
        if status != 200 {
            return Err(api_error("pin status", status, &body));
        }
        let (a, b) = (self.pin_name(), self.blob_pin_name());
        let mut out = Vec::new();
        for item in serde_json::Deserializer::from_slice(&body).into_iter::<GlobalPinInfo>() {
            let info = item.map_err(|e| {
                StoreError::Other(format!(
                    "unexpected answer from IPFS Cluster pin status: {e}"
                ))
            })?;
            if info.name == a || info.name == b {
                out.push(info.into());
            }
        }
        Ok(out)
    }

    /// Whether the cluster's pin set holds `cid`.
    async fn pinned_in_cluster(&self, cid: &Cid) -> StoreResult<bool> {
        let (status, body) = self
            .api(
                http::Method::GET,
                &format!("/allocations/{cid}"),
                "allocation",
                SMALL_ANSWER,
            )
            .await?;
        match status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(api_error("allocation", status, &body)),
        }
    }

    async fn unpin(&self, cid: &Cid) -> StoreResult<()> {
        let (status, body) = self
            .api(
                http::Method::DELETE,
                &format!("/pins/{cid}"),
                "unpin",
                SMALL_ANSWER,
            )
            .await?;
        match status {
            200..=299 | 404 => Ok(()),
            _ => match api_error("unpin", status, &body) {
                StoreError::NotFound(_) => Ok(()),
                e => Err(e),
            },
        }
    }

    /// The blob root of `cid` from the first node that has the map entry (`None`: not a blob).
    async fn blob_root(&self, cid: &Cid) -> StoreResult<Option<Cid>> {
        let found = self
            .on_nodes(|s| async move {
                match s.blob_root(cid).await? {
                    Some((root, _)) => Ok(root),
                    None => Err(StoreError::NotFound(cid.to_string())),
                }
            })
            .await;
        match found {
            Ok(root) => Ok(Some(root)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// After a put on `node`: pins the block, or the blob root (whose map is copied to the other
    /// nodes first).
    async fn pin_stored(&self, node: &IpfsStore, cid: &Cid, blob: bool) -> StoreResult<()> {
        let root = if blob {
            node.blob_root(cid).await?.map(|(root, _)| root)
        } else {
            None
        };
        match root {
            None => self.pin(cid, &self.pin_name()).await,
            Some(root) => {
                self.on_all_nodes("the blob map", |s| async move {
                    s.write_blob_map(cid, &root).await
                })
                .await?;
                self.pin(&root, &self.blob_pin_name()).await
            }
        }
    }

    /// Stores through the healthiest node that takes the bytes (`put_stream` on it), then pins.
    async fn put_via_node(
        &self,
        cid: &Cid,
        source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        // The source can be read once: only the first node gets it; a node that fails before
        // reading leaves it for the next one (errors after a partial read are final).
        let Some(&first) = self.node_order().first() else {
            return Err(StoreError::Unavailable("no Kubo node configured".into()));
        };
        let node = &self.inner.nodes[first];
        let start = web_time::Instant::now();
        match node.store.put_stream(cid, source, len).await {
            Ok(()) => lock(&node.health).success(start.elapsed()),
            Err(e) => {
                if backend_failure(&e) {
                    lock(&node.health).failure();
                }
                return Err(e);
            }
        }
        let blob = len.is_none_or(|l| l > MAX_BLOCK as u64);
        self.pin_stored(&node.store, cid, blob).await
    }
}

#[async_trait::async_trait]
impl BlockStore for ClusterStore {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        if bytes.len() > MAX_BLOCK {
            let len = bytes.len() as u64;
            return self
                .put_via_node(cid, &mut Cursor::new(bytes), Some(len))
                .await;
        }
        if bytes.is_empty() {
            // Kubo's bitswap never transfers a zero-length block (a `block/get` of one on a
            // node that lacks it waits until its timeout; seen with Kubo v0.42.0 here), so an
            // allocated peer could never pin it: it goes to every node.
            self.on_all_nodes("the empty block", |s| async move {
                s.put(cid, Bytes::new()).await
            })
            .await?;
            return self.pin(cid, &self.pin_name()).await;
        }
        // A small block can be offered to each node in turn.
        let mut last = None;
        for i in self.node_order() {
            let node = &self.inner.nodes[i];
            let start = web_time::Instant::now();
            match node.store.put(cid, bytes.clone()).await {
                Ok(()) => {
                    lock(&node.health).success(start.elapsed());
                    return self.pin_stored(&node.store, cid, false).await;
                }
                Err(e) if backend_failure(&e) => {
                    lock(&node.health).failure();
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| StoreError::Unavailable("no Kubo node configured".into())))
    }

    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        self.on_nodes(|s| async move { s.get(cid).await }).await
    }

    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        self.on_nodes(|s| async move { s.get_max(cid, max_len).await })
            .await
    }

    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        self.on_nodes(|s| {
            let range = range.clone();
            async move { s.get_range(cid, range).await }
        })
        .await
    }

    /// A large blob streams from the first node that holds its root; a node failing mid-stream
    /// fails the stream (retry the read: the node is then tried later).
    async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> {
        self.on_nodes(|s| async move { s.get_stream(cid).await })
            .await
    }

    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        if self.pinned_in_cluster(cid).await? {
            return Ok(true);
        }
        match self.blob_root(cid).await? {
            Some(root) => self.pinned_in_cluster(&root).await,
            None => Ok(false),
        }
    }

    /// Unpins through the cluster, waits until no peer holds the pin any more (bounded by
    /// [`ClusterConfig::pin_timeout`]), removes the blob map, then asks every node to drop the
    /// blocks (`block/rm`; a block another pin still holds stays). A peer that is down keeps its
    /// copy until it rejoins and the cluster unpins it there.
    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        let blob = self
            .on_nodes(|s| async move {
                s.blob_root(cid)
                    .await?
                    .ok_or_else(|| StoreError::NotFound(cid.to_string()))
            })
            .await;
        let (pinned, blocks) = match blob {
            Ok((root_cid, root)) => {
                let mut blocks = vec![root_cid];
                blocks.extend(root.leaves.iter().copied());
                (root_cid, blocks)
            }
            Err(StoreError::NotFound(_)) => (*cid, vec![*cid]),
            Err(e) => return Err(e),
        };
        self.unpin(&pinned).await?;
        self.wait_unpinned(&pinned).await?;
        if pinned != *cid {
            self.on_all_nodes("removing the blob map", |s| async move {
                match s
                    .inner
                    .rpc
                    .call(
                        "files/rm",
                        &[("arg", &s.blob_map_path(cid))],
                        None,
                        SMALL_ANSWER,
                    )
                    .await
                {
                    Ok(_) | Err(StoreError::NotFound(_)) => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .await?;
        }
        for node in &self.inner.nodes {
            for b in &blocks {
                // Fails harmlessly (inside its answer) when another pin still holds the block;
                // a node that is down is skipped.
                if let Err(StoreError::Unavailable(_)) = node
                    .store
                    .inner
                    .rpc
                    .call(
                        "block/rm",
                        &[("arg", &b.to_string()), ("force", "true")],
                        None,
                        SMALL_ANSWER,
                    )
                    .await
                {
                    break;
                }
            }
        }
        Ok(())
    }

    async fn list(&self) -> StoreResult<Vec<Cid>> {
        let (status, body) = self
            .api(
                http::Method::GET,
                "/allocations?filter=pin",
                "pin listing",
                LISTING_ANSWER,
            )
            .await?;
        if status != 200 {
            return Err(api_error("pin listing", status, &body));
        }
        let name = self.pin_name();
        let mut out = BTreeSet::new();
        for item in serde_json::Deserializer::from_slice(&body).into_iter::<PinEntry>() {
            let pin = item.map_err(|e| {
                StoreError::Other(format!(
                    "unexpected answer from IPFS Cluster pin listing: {e}"
                ))
            })?;
            if pin.name == name
                && let Ok(c) = Cid::try_from(pin.cid.as_str())
            {
                out.insert(c);
            }
        }
        // The blob map of every node that answers (one that was down may lack recent entries).
        let mut answered = false;
        let mut last = None;
        for node in &self.inner.nodes {
            let dir = format!("{}/blobs", node.store.mfs_root());
            match node
                .store
                .inner
                .rpc
                .call_json::<LsAnswer>("files/ls", &[("arg", &dir)], None, LISTING_ANSWER)
                .await
            {
                Ok(ls) => {
                    answered = true;
                    out.extend(
                        ls.entries
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|e| Cid::try_from(e.name.as_str()).ok()),
                    );
                }
                Err(StoreError::NotFound(_)) => answered = true,
                Err(e) => last = Some(e),
            }
        }
        if !answered && let Some(e) = last {
            return Err(e);
        }
        Ok(out.into_iter().collect())
    }

    async fn put_stream(
        &self,
        cid: &Cid,
        source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        if len == Some(0) {
            // An empty blob is the empty block, which must reach every node (see `put`).
            let mut extra = Vec::new();
            futures_util::AsyncReadExt::read_to_end(
                &mut futures_util::AsyncReadExt::take(source, 1),
                &mut extra,
            )
            .await
            .map_err(|e| StoreError::Other(format!("reading the blob to store failed: {e}")))?;
            crate::store::stream::check_len(len, extra.len() as u64)?;
            return self.put(cid, Bytes::new()).await;
        }
        self.put_via_node(cid, source, len).await
    }
}

#[async_trait::async_trait]
impl HeadStore for ClusterStore {
    /// Every reachable node's heads; per writer, the version most nodes hold (ties: the
    /// healthiest node's), so a node that missed writes while it was down is outvoted.
    async fn read_heads(&self, vault: &str) -> StoreResult<Vec<Head>> {
        validate_name(vault)?;
        let mut answers = Vec::new();
        let mut last = None;
        for i in self.node_order() {
            let node = &self.inner.nodes[i];
            let start = web_time::Instant::now();
            match node.store.read_heads(vault).await {
                Ok(heads) => {
                    lock(&node.health).success(start.elapsed());
                    answers.push(heads);
                }
                Err(e) if backend_failure(&e) => {
                    lock(&node.health).failure();
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        if answers.is_empty() {
            return Err(last.unwrap_or_else(|| StoreError::Unavailable("no Kubo node".into())));
        }
        Ok(majority(answers))
    }

    async fn read_head(&self, vault: &str, writer: &str) -> StoreResult<Option<Head>> {
        validate_name(vault)?;
        validate_name(writer)?;
        let mut answers = Vec::new();
        let mut last = None;
        for i in self.node_order() {
            let node = &self.inner.nodes[i];
            let start = web_time::Instant::now();
            match node.store.read_head(vault, writer).await {
                Ok(head) => {
                    lock(&node.health).success(start.elapsed());
                    answers.push(head.into_iter().collect());
                }
                Err(e) if backend_failure(&e) => {
                    lock(&node.health).failure();
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        if answers.is_empty() {
            return Err(last.unwrap_or_else(|| StoreError::Unavailable("no Kubo node".into())));
        }
        Ok(majority(answers).into_iter().next())
    }

    /// The condition is checked against the head most nodes hold (as [`HeadStore::read_head`]
    /// answers; not atomic with the write), then the head is written to every node, and the write
    /// succeeds when at least `min(replication_min, nodes)` nodes took it.
    async fn write_head(
        &self,
        vault: &str,
        writer: &str,
        bytes: Bytes,
        condition: HeadCondition,
    ) -> StoreResult<HeadVersion> {
        validate_name(vault)?;
        validate_name(writer)?;
        if condition != HeadCondition::Any {
            let current = match self.read_head(vault, writer).await {
                Ok(h) => h.map(|h| h.version),
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
        let version = content_version(&bytes);
        self.on_all_nodes(&format!("head {vault}/{writer}"), |s| {
            let bytes = bytes.clone();
            async move {
                s.write_head(vault, writer, bytes, HeadCondition::Any)
                    .await
                    .map(|_| ())
            }
        })
        .await?;
        Ok(version)
    }

    fn conditional_writes(&self) -> ConditionalWrites {
        ConditionalWrites::BestEffort
    }
}

/// Per writer, the head version held by most of `answers` (one list per node, healthiest
/// first; ties go to the earlier node).
fn majority(answers: Vec<Vec<Head>>) -> Vec<Head> {
    // writer -> (version -> (count, first node's position, head))
    let mut votes: BTreeMap<String, BTreeMap<String, (usize, usize, Head)>> = BTreeMap::new();
    for (pos, heads) in answers.into_iter().enumerate() {
        for head in heads {
            let entry = votes
                .entry(head.writer.clone())
                .or_default()
                .entry(head.version.0.clone())
                .or_insert((0, pos, head));
            entry.0 += 1;
        }
    }
    votes
        .into_values()
        .filter_map(|versions| {
            versions
                .into_values()
                .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
                .map(|(_, _, head)| head)
        })
        .collect()
}

/// Pauses that double from a first one up to a longest one, until a time limit: the waits of the
/// pin, unpin and pin-status polls.
struct Backoff {
    start: web_time::Instant,
    pause: Duration,
    longest: Duration,
    limit: Duration,
}

impl Backoff {
    /// Pauses from `first_ms` to `longest_ms`, for at most `limit` from now.
    fn new(first_ms: u64, longest_ms: u64, limit: Duration) -> Self {
        Self::starting_at(web_time::Instant::now(), first_ms, longest_ms, limit)
    }

    /// The same, for at most `limit` from `start`.
    fn starting_at(
        start: web_time::Instant,
        first_ms: u64,
        longest_ms: u64,
        limit: Duration,
    ) -> Self {
        Self {
            start,
            pause: Duration::from_millis(first_ms),
            longest: Duration::from_millis(longest_ms),
            limit,
        }
    }

    /// Waits the next pause and returns `true`; returns `false` at once when that pause would end
    /// past the limit.
    async fn wait(&mut self) -> bool {
        if self.start.elapsed() + self.pause > self.limit {
            return false;
        }
        futures_timer::Delay::new(self.pause).await;
        self.pause = (self.pause * 2).min(self.longest);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_go_by_majority_then_health() {
        let head = |w: &str, b: &'static [u8]| Head {
            writer: w.into(),
            version: crate::store::head::content_version(b),
            bytes: Bytes::from_static(b),
        };
        // Node 0 (healthiest) missed the last write of `a`: outvoted. `b` is only on node 2.
        let got = majority(vec![
            vec![head("a", b"old")],
            vec![head("a", b"new")],
            vec![head("a", b"new"), head("b", b"x")],
        ]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].bytes, Bytes::from_static(b"new"));
        assert_eq!(got[1].writer, "b");
        // A tie goes to the healthier node.
        let got = majority(vec![vec![head("a", b"one")], vec![head("a", b"two")]]);
        assert_eq!(got[0].bytes, Bytes::from_static(b"one"));
    }

    #[test]
    fn pin_status_parses_the_cluster_answer() {
        let body = br#"{"cid":"bafk","name":"coffer:x","allocations":["P1","P2"],"origins":[],"created":"2026-12-05T14:27:16Z","metadata":null,"peer_map":{"P1":{"peername":"coffer-1","ipfs_peer_id":"K1","status":"pinned","timestamp":"2026-12-05T14:27:16Z","error":"","attempt_count":0,"priority_pin":false},"P0":{"peername":"coffer-0","status":"remote","error":""},"P2":{"peername":"coffer-2","status":"pin_error","error":"boom"}}}"#;
        let s: PinStatus = serde_json::from_slice::<GlobalPinInfo>(body)
            .expect("valid answer")
            .into();
        assert_eq!(s.allocations, ["P1", "P2"]);
        assert_eq!(s.pinned(), 1);
        assert_eq!(s.peers.len(), 3);
        assert_eq!(s.peers[2].error, "boom");
        assert!(matches!(
            api_error("pin", 404, br#"{"code":404,"message":"pin is not part of the pinset"}"#),
            StoreError::NotFound(m) if m.contains("pinset")
        ));
        assert!(matches!(api_error("pin", 500, b"x"), StoreError::Other(_)));
    }
}
