//! The S3 gateway (`coffer serve s3`): an S3 REST server on the user's machine in front of the
//! user's vaults, so every S3 tool (boto3, the AWS CLI and SDKs, rclone) stores sealed, verified
//! objects without linking coffer. Keys never leave the machine; only sealed blocks reach the
//! store.
//!
//! - **A bucket is a vault** of the gateway's identity in its store, opened as the gateway's own
//!   device. Which buckets exist is kept in a sealed registry in the store's head store
//!   (`registry.rs`), so ListBuckets works on any store.
//! - **Protocol** (routing, SigV4 in headers and presigned URLs, `aws-chunked` bodies, XML) is
//!   the `s3s` crate's; `service.rs` hands each operation to its family: `buckets`,
//!   `objects`, `listing`, `tagging`, `multipart`. Every S3 error is built in `error.rs`.
//! - **Writes** spool the body to a file under the state directory (`spool.rs`: MD5 for the
//!   ETag, `Content-MD5` and `x-amz-checksum-*` checked), upload it under the bucket's read lock
//!   (many at once) and commit through the bucket's committer, which links whatever uploads
//!   are waiting with one index batch and one head write.
//! - **Reads** resolve the version once and read it in verified pieces, each under a short read
//!   lock, so slow clients never hold up commits.
//! - **Access**: one key pair created on the first start ([`Credentials`]); no anonymous
//!   requests; a header read timeout, an idle-body timeout, size limits and a bound on open
//!   connections ([`Limits`]).
//!
//! What is supported, operation by operation, and how it differs from S3: `docs/gateway.md`.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use coffer::gateway::{Credentials, Gateway, GatewayConfig};
//! use coffer::{keys::Identity, store::DirStore};
//!
//! let store = Arc::new(DirStore::open("/tmp/coffer-store")?);
//! let state = std::path::PathBuf::from("/tmp/coffer-gateway");
//! let (creds, _) = Credentials::load_or_create(&state.join("credentials"))?;
//! let gateway = Gateway::bind(store, Identity::generate(), creds, GatewayConfig::new(state)).await?;
//! println!("listening on http://{}", gateway.local_addr()?);
//! gateway.serve(async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

mod attrs;
mod auth;
mod buckets;
mod committer;
mod error;
mod listing;
mod multipart;
mod objects;
mod registry;
mod server;
mod service;
mod spool;
mod tagging;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use auth::{Credentials, PROFILE};
pub use committer::CommitStats;
pub use error::{GatewayError, GatewayResult};
pub use server::Gateway;

/// The address the gateway listens on by default: loopback only.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 7733);

/// Bounds that keep one request from exhausting the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest single-part object (S3's limit: 5 GiB); larger bodies get `EntityTooLarge`.
    pub max_object_size: u64,
    /// Largest part of a multipart upload (S3's limit: 5 GiB).
    pub max_part_size: u64,
    /// Largest XML request body (CompleteMultipartUpload, DeleteObjects, tagging).
    pub max_xml_size: usize,
    /// How long a client may take to send a request's headers (also the idle time of a
    /// kept-alive connection).
    pub header_timeout: Duration,
    /// How long a request body may stall between two pieces (`RequestTimeout`).
    pub body_idle_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_object_size: 5 << 30,
            max_part_size: 5 << 30,
            max_xml_size: 4 << 20,
            header_timeout: Duration::from_secs(30),
            body_idle_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

/// How the gateway runs.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Where to listen ([`DEFAULT_LISTEN`]: 127.0.0.1:7733).
    pub listen: SocketAddr,
    /// The gateway's local state: credentials are not kept here (see
    /// [`Credentials::load_or_create`]), but `tmp/` (spooled bodies) and `uploads/` (multipart
    /// parts, kept across restarts) are.
    pub state_dir: PathBuf,
    /// The device (vault writer) name the gateway writes as. Give each gateway its own.
    pub device: String,
    /// The region the gateway reports (`GetBucketLocation`); clients may sign with any.
    pub region: String,
    /// Request limits.
    pub limits: Limits,
    /// Most uploads linked by one head write (1 turns grouping off; benchmarks compare).
    pub max_commit_batch: usize,
    /// How often open buckets take in other devices' changes (`None`: only when opened).
    pub sync_interval: Option<Duration>,
    /// Where the gateway remembers the heads it saw of every bucket's vault, so a store that
    /// rolls a bucket back, forks it or hides a writer is refused across restarts
    /// ([`crate::trust`]). `None`: this process's memory only. The CLI keeps it in
    /// `$COFFER_HOME/trust`, shared with the other commands on the same store and identity.
    pub trust: Option<Arc<dyn crate::trust::TrustStore>>,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("listen", &self.listen)
            .field("state_dir", &self.state_dir)
            .field("device", &self.device)
            .field("region", &self.region)
            .field("limits", &self.limits)
            .field("max_commit_batch", &self.max_commit_batch)
            .field("sync_interval", &self.sync_interval)
            .field("trust", &self.trust.as_ref().map(|_| "…"))
            .finish()
    }
}

impl GatewayConfig {
    /// The defaults, with state under `state_dir`: device `s3-gateway`, region `us-east-1`.
    pub fn new(state_dir: PathBuf) -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            state_dir,
            device: "s3-gateway".into(),
            region: "us-east-1".into(),
            limits: Limits::default(),
            max_commit_batch: 1000,
            sync_interval: Some(Duration::from_secs(30)),
            trust: None,
        }
    }
}
