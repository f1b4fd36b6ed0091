//! A minimal client of the Kubo RPC API (`POST /api/v0/<command>`) over hyper.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::future::{Either, select};
use http_body_util::Full;
use serde::de::DeserializeOwned;

use super::http::{HttpClient, ReadError, https_client, read_bounded};
use crate::store::{StoreError, StoreResult};

/// Cap of a short JSON answer (`version`, `block/put`, `pin/add`, `pin/rm` of 64 CIDs,
/// `files/write`, `files/mv`, `files/stat`, …): a few hundred bytes to a few KiB when honest.
pub(super) const SMALL_ANSWER: u64 = 64 << 10;
/// Cap of an error answer's body (`{"Message": …}`), whatever the call's own cap.
const ERROR_ANSWER: u64 = 64 << 10;
/// Cap of a listing of the whole store (`pin/ls` of a namespace, `files/ls` of the blob map):
/// about 2.5 million entries.
pub(super) const LISTING_ANSWER: u64 = 256 << 20;

/// Boundary of multipart bodies; never appears in a header we write, and Kubo reads the part by
/// its length, so blocks containing it are fine.
const BOUNDARY: &str = "coffer-block-boundary-5d1c7a3e";

/// An HTTP client for one Kubo node (and, for [`Rpc::get_url`], a gateway).
#[derive(Clone, Debug)]
pub(super) struct Rpc {
    client: HttpClient,
    base: String,
    timeout: Duration,
    /// Held across every `files/*` call to this node (see [`mfs_lock`]).
    mfs: Arc<futures_util::lock::Mutex<()>>,
}

/// The lock every `files/*` call to the node at `base` takes, shared by every store of the
/// process. Kubo's MFS does not read back its own writes while other MFS requests run on the
/// node: measured with Kubo 0.42, four clients each writing a file, moving it over its head
/// and reading it back, in their own directories, read the previous content or nothing about
/// once in seven, and `files/mv` sometimes did not find the file just written; one request at
/// a time, none did (`core/tests/store_ipfs.rs::concurrent_stores_on_one_node_read_their_own_head_writes`).
/// A conditional head write reads the head first, so a stale read was a false conflict. MFS
/// carries only heads and the blob map, so the calls are few. Other processes using the same
/// node's MFS are not covered (docs/FORMAT.md §7, "Kubo caveat").
fn mfs_lock(base: &str) -> Arc<futures_util::lock::Mutex<()>> {
    type Locks = Mutex<HashMap<String, Arc<futures_util::lock::Mutex<()>>>>;
    static LOCKS: OnceLock<Locks> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Locks::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    Arc::clone(locks.entry(base.to_string()).or_default())
}

impl Rpc {
    pub(super) fn new(api: &str, timeout: Duration) -> StoreResult<Self> {
        let api = api.trim_end_matches('/');
        if !(api.starts_with("http://") || api.starts_with("https://")) {
            return Err(StoreError::Config(format!(
                "IPFS API address {api:?} must start with http:// or https://"
            )));
        }
        let client = https_client().map_err(StoreError::Config)?;
        let base = format!("{api}/api/v0/");
        Ok(Self {
            client,
            mfs: mfs_lock(&base),
            base,
            timeout,
        })
    }

    /// Runs `cmd` with query `args` (and a file part `body`), returning the raw response body;
    /// an answer over `max` bytes is [`StoreError::TooLarge`], read no further.
    pub(super) async fn call(
        &self,
        cmd: &str,
        args: &[(&str, &str)],
        body: Option<Bytes>,
        max: u64,
    ) -> StoreResult<Bytes> {
        // One MFS call at a time per node (see `mfs_lock`).
        let _mfs = match cmd.starts_with("files/") {
            true => Some(self.mfs.lock().await),
            false => None,
        };
        let mut url = format!("{}{cmd}", self.base);
        for (i, (k, v)) in args.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            url.push_str(&percent_encode(v));
        }
        let mut req = http::Request::post(&url);
        let body = match body {
            None => Full::new(Bytes::new()),
            Some(file) => {
                req = req.header(
                    "content-type",
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                );
                Full::new(multipart(&file))
            }
        };
        let req = req
            .body(body)
            .map_err(|e| StoreError::Config(format!("bad IPFS request {url}: {e}")))?;
        let (status, bytes) = self.send(req, cmd, max).await?;
        if status.is_success() {
            return Ok(bytes);
        }
        Err(map_error(cmd, status.as_u16(), &bytes))
    }

    /// Like [`Rpc::call`], decoding a JSON answer of at most `max` bytes.
    pub(super) async fn call_json<T: DeserializeOwned>(
        &self,
        cmd: &str,
        args: &[(&str, &str)],
        body: Option<Bytes>,
        max: u64,
    ) -> StoreResult<T> {
        let bytes = self.call(cmd, args, body, max).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::Other(format!("unexpected answer from IPFS {cmd}: {e}")))
    }

    /// A plain GET (trustless gateway reads), with an `Accept` header; a successful answer over
    /// `max` bytes is [`StoreError::TooLarge`].
    pub(super) async fn get_url(
        &self,
        url: &str,
        accept: &str,
        max: u64,
    ) -> StoreResult<(u16, Bytes)> {
        let req = http::Request::get(url)
            .header("accept", accept)
            .body(Full::new(Bytes::new()))
            .map_err(|e| StoreError::Config(format!("bad gateway request {url}: {e}")))?;
        let (status, bytes) = self.send(req, "gateway GET", max).await?;
        Ok((status.as_u16(), bytes))
    }

    /// A request with no body to an absolute URL (the IPFS Cluster REST API); any status is
    /// returned with its body, a successful one capped at `max` bytes.
    pub(super) async fn request(
        &self,
        method: http::Method,
        url: &str,
        what: &str,
        max: u64,
    ) -> StoreResult<(u16, Bytes)> {
        let req = http::Request::builder()
            .method(method)
            .uri(url)
            .body(Full::new(Bytes::new()))
            .map_err(|e| StoreError::Config(format!("bad request {url}: {e}")))?;
        let (status, bytes) = self.send(req, what, max).await?;
        Ok((status.as_u16(), bytes))
    }

    /// Sends `req` and reads the answer: a successful one of at most `max` bytes (else
    /// [`StoreError::TooLarge`], from `Content-Length` before reading or as soon as the body
    /// passes `max`), an error answer cut at [`ERROR_ANSWER`] bytes.
    async fn send(
        &self,
        req: http::Request<Full<Bytes>>,
        what: &str,
        max: u64,
    ) -> StoreResult<(http::StatusCode, Bytes)> {
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| {
                StoreError::Unavailable(format!(
                    "IPFS {what}: cannot reach the node ({e}); is the daemon running?"
                ))
            })?;
            let status = resp.status();
            let too_large = |len: Option<u64>| StoreError::TooLarge {
                what: match len {
                    Some(len) => format!("the answer of IPFS {what} ({len} bytes)"),
                    None => format!("the answer of IPFS {what}"),
                },
                limit: max,
            };
            let body = read_bounded(resp, max, ERROR_ANSWER)
                .await
                .map_err(|e| match e {
                    ReadError::TooLarge(declared) => too_large(declared),
                    ReadError::Body(e) => StoreError::Unavailable(format!(
                        "IPFS {what}: reading the answer failed: {e}"
                    )),
                })?;
            Ok::<_, StoreError>((status, body))
        };
        let exchange = std::pin::pin!(exchange);
        match select(exchange, futures_timer::Delay::new(self.timeout)).await {
            Either::Left((r, _)) => r,
            Either::Right(_) => Err(StoreError::Timeout(format!(
                "IPFS {what} took longer than {:?}",
                self.timeout
            ))),
        }
    }
}

/// A multipart/form-data body with one file part.
fn multipart(file: &[u8]) -> Bytes {
    let head = format!(
        "--{BOUNDARY}\r\ncontent-disposition: form-data; name=\"file\"; filename=\"block\"\r\n\
         content-type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    let mut out = BytesMut::with_capacity(head.len() + file.len() + tail.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(file);
    out.extend_from_slice(tail.as_bytes());
    out.freeze()
}

/// Percent-encodes a query value (RFC 3986 unreserved characters and `/` stay).
fn percent_encode(s: &str) -> String {
    crate::percent::percent_encode(s, b"/")
}

/// Maps a Kubo error answer (`{"Message": …, "Type": "error"}`) to a store error.
pub(super) fn map_error(cmd: &str, status: u16, body: &[u8]) -> StoreError {
    #[derive(serde::Deserialize)]
    struct KuboError {
        #[serde(rename = "Message")]
        message: String,
    }
    let message = serde_json::from_slice::<KuboError>(body)
        .map(|e| e.message)
        .unwrap_or_else(|_| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
    let lower = message.to_ascii_lowercase();
    if lower.contains("not found")
        || lower.contains("could not find")
        || lower.contains("does not exist")
        || lower.contains("not pinned")
    {
        return StoreError::NotFound(format!("IPFS {cmd}: {message}"));
    }
    match status {
        401 | 403 => StoreError::AccessDenied(format!("IPFS {cmd}: {message}")),
        404 | 405 => StoreError::Config(format!(
            "IPFS {cmd}: the node does not offer this RPC command (HTTP {status}); is this the Kubo RPC port? {message}"
        )),
        413 => StoreError::Unsupported(format!("IPFS {cmd}: block too large: {message}")),
        429 | 503 => StoreError::Throttled(format!("IPFS {cmd}: {message}")),
        _ => StoreError::Other(format!("IPFS {cmd} failed (HTTP {status}): {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors() {
        let nf = br#"{"Message":"block was not found locally (offline): ipld: could not find bafk","Code":0,"Type":"error"}"#;
        assert!(matches!(
            map_error("block/get", 500, nf),
            StoreError::NotFound(_)
        ));
        assert!(matches!(
            map_error("x", 403, b"nope"),
            StoreError::AccessDenied(_)
        ));
        assert!(matches!(
            map_error("x", 500, b"{\"Message\":\"boom\"}"),
            StoreError::Other(_)
        ));
        assert_eq!(percent_encode("/a b&c"), "/a%20b%26c");
    }
}
