//! A client of the IPFS Pinning Service API (<https://ipfs.github.io/pinning-services-api-spec/>):
//! ask a remote service (Pinata, Filebase, an IPFS Cluster's `pinsvcapi`, …) to keep blocks that
//! live on your Kubo node, follow each request until the service says `pinned`, list and remove.
//!
//! - **Add** is `POST /pins` with the CID, a pin name and `origins` (the node's multiaddrs, so
//!   the service can fetch from it); **follow** is `GET /pins/{requestid}` until `pinned` or
//!   `failed`, bounded by [`PinServiceConfig::pin_timeout`] ([`PinServiceError::Timeout`] with
//!   the last state). Nothing is reported durable unless the service said `pinned`.
//! - **List** is `GET /pins` with filters (CIDs, name, states), paginated by `before` (the
//!   oldest `created` of the previous page), deduplicated by request ID and capped in pages and
//!   results, so a service that repeats or invents pins cannot keep the client listing forever.
//! - **Remove** is `DELETE /pins/{requestid}`.
//! - **Errors** are typed: 401/403 [`PinServiceError::Auth`]; 429 is retried after the
//!   `Retry-After` it gives (at most [`PinServiceConfig::max_backoff`]) then
//!   [`PinServiceError::Throttled`]; 5xx and unreachable services are retried with exponential
//!   backoff then [`PinServiceError::Unavailable`]; answers over a cap are
//!   [`PinServiceError::TooLarge`] (read no further); undecodable ones
//!   [`PinServiceError::Malformed`].
//! - **The token** ([`ServiceToken`]) is zeroized on drop, sent only as a sensitive
//!   `Authorization` header, never shown by `Debug`, and scrubbed from any text a service
//!   answers before that text reaches an error.
//!
//! [`PinningService::pin_all`] pins a set of blocks (typically [`crate::vault::Vault::referenced_blocks`]
//! mapped by [`super::IpfsStore::pin_roots`]) under one name, skipping what the service already holds,
//! with progress.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use zeroize::Zeroizing;

use super::http::{HttpClient, https_client};

use crate::block::Cid;
use crate::store::StoreError;

mod bulk;
mod exchange;
mod node;
mod wire;

use wire::{Timestamp, WirePinResults, parse_rfc3339};

/// Cap of one pin's answer (`POST /pins`, `GET /pins/{id}`): a few hundred bytes when honest,
/// more with many delegates.
const PIN_ANSWER: u64 = 256 << 10;
/// Cap of one page of a listing (1,000 pins of a few hundred bytes each, and their delegates).
const PAGE_ANSWER: u64 = 16 << 20;
/// Cap of an error answer's body (only its start is kept, for the message).
const ERROR_ANSWER: u64 = 16 << 10;
/// Pins asked per page (the spec's maximum).
const PAGE_LIMIT: usize = 1000;
/// CIDs per `cid=` filter (the spec's maximum).
const CID_FILTER: usize = 10;
/// At most this many pins come out of one listing (whatever a service claims).
pub const MAX_LISTED: usize = 10_000_000;
/// A service's text kept in an error message, in characters.
const REASON_CHARS: usize = 300;

/// A pinning service's access token. Zeroized on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct ServiceToken(Zeroizing<String>);

impl ServiceToken {
    /// A token (surrounding whitespace removed); it must be non-empty printable ASCII (it goes
    /// in an HTTP header).
    pub fn new(token: impl Into<String>) -> Result<Self, PinServiceError> {
        let raw = Zeroizing::new(token.into());
        let t = raw.trim();
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(PinServiceError::Config(
                "the pinning service token must be non-empty printable ASCII without spaces".into(),
            ));
        }
        Ok(Self(Zeroizing::new(t.to_string())))
    }

    /// Reads a token from a file (its first line; the file should be readable by you only).
    pub fn from_file(path: &std::path::Path) -> Result<Self, PinServiceError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
            PinServiceError::Config(format!(
                "cannot read the token file {}: {}",
                path.display(),
                e.kind()
            ))
        })?);
        Self::new(text.lines().next().unwrap_or_default())
    }

    fn header(&self) -> Result<http::HeaderValue, PinServiceError> {
        let bearer = Zeroizing::new(format!("Bearer {}", self.0.as_str()));
        let mut v = http::HeaderValue::from_str(&bearer)
            .map_err(|_| PinServiceError::Config("the token is not a valid header value".into()))?;
        v.set_sensitive(true);
        Ok(v)
    }

    /// `text` with every occurrence of the token replaced by `<token>`.
    fn scrub(&self, text: &str) -> String {
        text.replace(self.0.as_str(), "<token>")
    }
}

impl fmt::Debug for ServiceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServiceToken(<redacted>)")
    }
}

/// How to reach a pinning service and how patient to be with it.
#[derive(Clone, Debug)]
pub struct PinServiceConfig {
    /// The API endpoint, e.g. `https://api.pinata.cloud/psa` (no credentials in it).
    pub endpoint: String,
    /// The access token (sent as `Authorization: Bearer …`).
    pub token: ServiceToken,
    /// Deadline of one HTTP exchange.
    pub timeout: Duration,
    /// Retries of a request answered 429 or 5xx, or that could not reach the service.
    pub retries: u32,
    /// Longest wait between two tries (also caps a `Retry-After`).
    pub max_backoff: Duration,
    /// How long [`PinningService::wait`] (and [`PinningService::pin_all`], for all its pins
    /// together) waits for `pinned`.
    pub pin_timeout: Duration,
    /// First interval between two status checks of a pin (it grows to 5 s).
    pub poll_interval: Duration,
    /// Requests in flight at once in [`PinningService::pin_all`].
    pub concurrency: usize,
}

impl PinServiceConfig {
    /// Defaults: 30 s requests, 5 retries backing off up to 30 s, 10 minutes to pin, polls
    /// from 0.5 s, 8 requests in flight.
    pub fn new(endpoint: impl Into<String>, token: ServiceToken) -> Self {
        Self {
            endpoint: endpoint.into(),
            token,
            timeout: Duration::from_secs(30),
            retries: 5,
            max_backoff: Duration::from_secs(30),
            pin_timeout: Duration::from_secs(600),
            poll_interval: Duration::from_millis(500),
            concurrency: 8,
        }
    }
}

/// What went wrong talking to a pinning service. Messages never contain the token.
#[derive(Debug, thiserror::Error)]
pub enum PinServiceError {
    /// The service refused the token (HTTP 401 or 403).
    #[error(
        "the pinning service refused the access token (HTTP {status}): {reason}; check the token"
    )]
    Auth {
        /// 401 or 403.
        status: u16,
        /// The service's reason.
        reason: String,
    },
    /// The service kept answering 429 after every retry.
    #[error("the pinning service is throttling requests ({0}); retry later")]
    Throttled(String),
    /// The service could not be reached, timed out, or kept answering 5xx after every retry.
    #[error("the pinning service is unavailable: {0}")]
    Unavailable(String),
    /// No such pin request.
    #[error("no such pin request at the service: {0}")]
    NotFound(String),
    /// The service refused the request (another 4xx).
    #[error("the pinning service refused the request (HTTP {status}): {reason}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// The service's reason.
        reason: String,
    },
    /// The service reports the pin `failed`.
    #[error("the pinning service failed to pin {cid}: {reason}")]
    Failed {
        /// The CID.
        cid: String,
        /// What the service said, if anything.
        reason: String,
    },
    /// A pin was still queued or pinning when the deadline passed: it is not durable.
    #[error("{0}")]
    Timeout(String),
    /// An answer that is not what the API specifies.
    #[error("unexpected answer from the pinning service: {0}")]
    Malformed(String),
    /// An answer over the cap (read no further).
    #[error("the pinning service's answer to {what} is over {limit} bytes")]
    TooLarge {
        /// Which request.
        what: String,
        /// The cap, in bytes.
        limit: u64,
    },
    /// A bad endpoint, token or argument.
    #[error("pinning service configuration: {0}")]
    Config(String),
    /// The IPFS node the blocks live on failed (while finding what to pin).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Result of the pinning-service client.
pub type PinServiceResult<T> = Result<T, PinServiceError>;

/// The state of a pin request, as the service reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PinState {
    /// Waiting to be processed.
    Queued,
    /// The service is fetching the blocks.
    Pinning,
    /// The service holds the blocks: the only durable state.
    Pinned,
    /// The service gave up.
    Failed,
}

impl PinState {
    /// Every state.
    pub const ALL: [PinState; 4] = [Self::Queued, Self::Pinning, Self::Pinned, Self::Failed];

    /// The API's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Pinning => "pinning",
            Self::Pinned => "pinned",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for PinState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A pin request at the service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemotePin {
    /// The service's ID for the request.
    pub request_id: String,
    /// Its state.
    pub state: PinState,
    /// When the service queued it (RFC 3339, as the service wrote it).
    pub created: String,
    /// The pinned CID.
    pub cid: Cid,
    /// The pin's name, if it has one.
    pub name: Option<String>,
    /// Multiaddrs of the service's nodes that hold or fetch it.
    pub delegates: Vec<String>,
    /// What the service adds (`info`), e.g. a failure's details.
    pub info: Vec<(String, String)>,
}

/// What [`PinningService::list`] returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinFilter {
    /// Only these CIDs (asked 10 at a time, as the API allows).
    pub cids: Vec<Cid>,
    /// Only pins with exactly this name.
    pub name: Option<String>,
    /// Only pins in these states (empty: every state; the API's own default is `pinned` only).
    pub states: Vec<PinState>,
}

/// Where [`PinningService::pin_all`] is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinProgress {
    /// The service's pins with this name were listed.
    Listed {
        /// How many it has.
        pins: u64,
    },
    /// Pin requests sent.
    Adding {
        /// Sent so far.
        done: u64,
        /// To send.
        total: u64,
    },
    /// Waiting for the service.
    Waiting {
        /// Blocks the service reports `pinned`.
        pinned: u64,
        /// Blocks to pin.
        total: u64,
    },
}

/// A progress callback.
pub type PinProgressFn<'a> = &'a mut (dyn FnMut(&PinProgress) + Send);

/// What [`PinningService::pin_all`] did. Every block counted in `pinned` was reported `pinned`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinAllReport {
    /// Distinct blocks asked for.
    pub blocks: u64,
    /// Of those, already pinned under this name before.
    pub already_pinned: u64,
    /// Pin requests sent.
    pub added: u64,
    /// Blocks the service reports pinned (all of them, when `pin_all` returns `Ok`).
    pub pinned: u64,
}

/// A client of one pinning service. Cloning shares the connection pool.
#[derive(Clone)]
pub struct PinningService {
    client: HttpClient,
    base: Arc<str>,
    config: Arc<PinServiceConfig>,
}

impl fmt::Debug for PinningService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinningService")
            .field("endpoint", &self.base)
            .finish_non_exhaustive()
    }
}

impl PinningService {
    /// A client for `config.endpoint` (nothing is sent yet).
    pub fn new(config: PinServiceConfig) -> PinServiceResult<Self> {
        let base = config.endpoint.trim_end_matches('/').to_string();
        let rest = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"))
            .ok_or_else(|| {
                PinServiceError::Config(format!(
                    "the endpoint {base:?} must start with https:// or http://"
                ))
            })?;
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.contains('@') {
            return Err(PinServiceError::Config(
                "the endpoint must not carry credentials (user:password@); give the token \
                 separately"
                    .into(),
            ));
        }
        if authority.is_empty() || base.contains(['?', '#']) {
            return Err(PinServiceError::Config(format!(
                "the endpoint {base:?} is not a base URL (https://host[:port][/path])"
            )));
        }
        base.parse::<http::Uri>()
            .map_err(|e| PinServiceError::Config(format!("bad endpoint {base:?}: {e}")))?;
        if config.concurrency == 0 {
            return Err(PinServiceError::Config(
                "concurrency must be at least 1".into(),
            ));
        }
        let client = https_client().map_err(PinServiceError::Config)?;
        Ok(Self {
            client,
            base: base.into(),
            config: Arc::new(config),
        })
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &str {
        &self.base
    }

    /// Asks the service to pin `cid` under `name`, fetching from `origins` (multiaddrs of nodes
    /// that hold it) if it can. The answer's state is usually `queued`: follow it with
    /// [`PinningService::wait`].
    pub async fn add(
        &self,
        cid: &Cid,
        name: &str,
        origins: &[String],
    ) -> PinServiceResult<RemotePin> {
        check_name(name)?;
        let mut body = serde_json::json!({ "cid": cid.to_string(), "name": name });
        if !origins.is_empty() {
            body["origins"] = serde_json::json!(origins);
        }
        let body = serde_json::to_vec(&body).map_err(|e| PinServiceError::Config(e.to_string()))?;
        let answer = self
            .call(
                http::Method::POST,
                "/pins",
                Some(body),
                PIN_ANSWER,
                "POST /pins",
            )
            .await?;
        let pin = self.decode_pin(&answer, "POST /pins")?;
        if pin.cid != *cid {
            return Err(PinServiceError::Malformed(format!(
                "asked to pin {cid}, the service answered for {}",
                pin.cid
            )));
        }
        Ok(pin)
    }

    /// The state of one pin request.
    pub async fn get(&self, request_id: &str) -> PinServiceResult<RemotePin> {
        let path = format!("/pins/{}", encode(check_request_id(request_id)?));
        let answer = self
            .call(http::Method::GET, &path, None, PIN_ANSWER, "GET /pins/{id}")
            .await?;
        let pin = self.decode_pin(&answer, "GET /pins/{id}")?;
        if pin.request_id != request_id {
            return Err(PinServiceError::Malformed(format!(
                "asked for request {request_id:?}, the service answered for {:?}",
                pin.request_id
            )));
        }
        Ok(pin)
    }

    /// Follows a pin request until the service says `pinned` (`Ok`) or `failed`
    /// ([`PinServiceError::Failed`]); still queued or pinning after
    /// [`PinServiceConfig::pin_timeout`]: [`PinServiceError::Timeout`].
    pub async fn wait(&self, request_id: &str) -> PinServiceResult<RemotePin> {
        let deadline = web_time::Instant::now() + self.config.pin_timeout;
        let mut interval = self.config.poll_interval;
        loop {
            let pin = self.get(request_id).await?;
            match pin.state {
                PinState::Pinned => return Ok(pin),
                PinState::Failed => return Err(failed(&pin)),
                PinState::Queued | PinState::Pinning => {}
            }
            let now = web_time::Instant::now();
            if now >= deadline {
                return Err(PinServiceError::Timeout(format!(
                    "the pin of {} (request {request_id}) is still {} after {:?}: not durable",
                    pin.cid, pin.state, self.config.pin_timeout
                )));
            }
            futures_timer::Delay::new(interval.min(deadline - now)).await;
            interval = next_interval(interval);
        }
    }

    /// The service's pins matching `filter`, newest first as the service pages them, each
    /// request once (at most [`MAX_LISTED`]).
    pub async fn list(&self, filter: &PinFilter) -> PinServiceResult<Vec<RemotePin>> {
        if let Some(name) = &filter.name {
            check_name(name)?;
        }
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        if filter.cids.is_empty() {
            self.list_pages(filter, None, &mut seen, &mut out).await?;
        } else {
            for chunk in filter.cids.chunks(CID_FILTER) {
                self.list_pages(filter, Some(chunk), &mut seen, &mut out)
                    .await?;
            }
        }
        Ok(out)
    }

    async fn list_pages(
        &self,
        filter: &PinFilter,
        cids: Option<&[Cid]>,
        seen: &mut HashSet<String>,
        out: &mut Vec<RemotePin>,
    ) -> PinServiceResult<()> {
        let states = if filter.states.is_empty() {
            &PinState::ALL[..]
        } else {
            &filter.states[..]
        };
        let mut query = format!(
            "limit={PAGE_LIMIT}&status={}",
            states
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        if let Some(name) = &filter.name {
            query.push_str(&format!("&name={}&match=exact", encode(name)));
        }
        if let Some(cids) = cids {
            let list: Vec<String> = cids.iter().map(Cid::to_string).collect();
            query.push_str(&format!("&cid={}", list.join(",")));
        }
        let mut before: Option<String> = None;
        loop {
            let mut target = format!("/pins?{query}");
            if let Some(b) = &before {
                target.push_str(&format!("&before={}", encode(b)));
            }
            let answer = self
                .call(http::Method::GET, &target, None, PAGE_ANSWER, "GET /pins")
                .await?;
            let page: WirePinResults = serde_json::from_slice(&answer.body).map_err(|e| {
                PinServiceError::Malformed(format!("GET /pins: {}", self.clean(&e.to_string())))
            })?;
            let results = page.results.unwrap_or_default();
            let full = results.len() >= PAGE_LIMIT;
            let mut oldest: Option<(Timestamp, String)> = None;
            let mut new = 0usize;
            for w in results {
                let pin = self.convert(w, "GET /pins")?;
                if !states.contains(&pin.state)
                    || filter
                        .name
                        .as_ref()
                        .is_some_and(|n| pin.name.as_ref() != Some(n))
                    || cids.is_some_and(|c| !c.contains(&pin.cid))
                {
                    // Not what was asked for: a service that ignores a filter.
                    continue;
                }
                let t = parse_rfc3339(&pin.created).ok_or_else(|| {
                    PinServiceError::Malformed(format!(
                        "GET /pins: `created` {:?} is not an RFC 3339 time",
                        self.clean(&pin.created)
                    ))
                })?;
                if oldest.as_ref().is_none_or(|(o, _)| t < *o) {
                    oldest = Some((t, pin.created.clone()));
                }
                if seen.insert(pin.request_id.clone()) {
                    new += 1;
                    if out.len() >= MAX_LISTED {
                        return Err(PinServiceError::TooLarge {
                            what: format!("GET /pins (over {MAX_LISTED} pins)"),
                            limit: MAX_LISTED as u64,
                        });
                    }
                    out.push(pin);
                }
            }
            // A short page is the last; a full page that brought nothing new would repeat.
            if !full || new == 0 {
                return Ok(());
            }
            before = oldest.map(|(_, s)| s);
        }
    }

    /// Removes a pin request (the service may keep the blocks for other pins).
    pub async fn remove(&self, request_id: &str) -> PinServiceResult<()> {
        let path = format!("/pins/{}", encode(check_request_id(request_id)?));
        self.call(
            http::Method::DELETE,
            &path,
            None,
            ERROR_ANSWER,
            "DELETE /pins/{id}",
        )
        .await?;
        Ok(())
    }
}

fn failed(pin: &RemotePin) -> PinServiceError {
    let reason = pin
        .info
        .iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join("; ");
    PinServiceError::Failed {
        cid: pin.cid.to_string(),
        reason: if reason.is_empty() {
            format!("the service reports request {} failed", pin.request_id)
        } else {
            reason
        },
    }
}

fn next_interval(d: Duration) -> Duration {
    (d * 3 / 2).min(Duration::from_secs(5))
}

/// Pin names are 1 to 255 characters (the spec's limit).
fn check_name(name: &str) -> PinServiceResult<()> {
    let n = name.chars().count();
    if n == 0 || n > 255 {
        return Err(PinServiceError::Config(format!(
            "a pin name has 1 to 255 characters, not {n}"
        )));
    }
    Ok(())
}

/// Request IDs go into a URL path: printable ASCII, at most 512 bytes.
fn check_request_id(id: &str) -> PinServiceResult<&str> {
    if id.is_empty() || id.len() > 512 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(PinServiceError::Config(
            "a pin request ID is 1 to 512 printable ASCII characters".into(),
        ));
    }
    Ok(id)
}

/// Percent-encodes a path segment or query value (RFC 3986 unreserved characters stay).
fn encode(s: &str) -> String {
    crate::percent::percent_encode(s, b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_compare_across_offsets_and_precision() {
        let a = parse_rfc3339("2024-03-01T10:00:00Z").expect("valid");
        let b = parse_rfc3339("2024-03-01T11:00:00.5+01:00").expect("valid");
        let c = parse_rfc3339("2024-03-01T10:00:00.000000001Z").expect("valid");
        assert_eq!(a.0, 1_709_287_200);
        assert_eq!(b, (a.0, 500_000_000));
        assert!(a < c && c < b);
        for bad in [
            "",
            "2024-03-01",
            "2024-13-01T00:00:00Z",
            "2024-03-01T00:00:00",
            "x024-03-01T00:00:00Z",
            "2024-03-01T00:00:00.Z",
        ] {
            assert!(parse_rfc3339(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn token_stays_out_of_debug_and_scrubbed_text() {
        let t = ServiceToken::new("  s3cr3t-t0ken\n").expect("valid");
        assert!(!format!("{t:?}").contains("s3cr3t"));
        assert_eq!(t.scrub("bad token s3cr3t-t0ken!"), "bad token <token>!");
        assert!(t.header().expect("header").is_sensitive());
        assert!(ServiceToken::new("a b").is_err());
        assert!(ServiceToken::new("").is_err());
        let svc =
            PinningService::new(PinServiceConfig::new("http://127.0.0.1:1", t)).expect("valid");
        assert!(!format!("{svc:?}").contains("s3cr3t"));
    }

    #[test]
    fn endpoints_without_credentials() {
        let t = ServiceToken::new("x").expect("valid");
        for bad in [
            "ftp://h",
            "http://user:pw@h/psa",
            "http://h/psa?x=1",
            "http://",
        ] {
            let cfg = PinServiceConfig::new(bad, t.clone());
            assert!(
                matches!(PinningService::new(cfg), Err(PinServiceError::Config(_))),
                "{bad}"
            );
        }
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
