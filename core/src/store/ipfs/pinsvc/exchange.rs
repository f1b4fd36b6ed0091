//! One HTTP exchange with the service (bounded in time and size) and the retry policy around it.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::{Either, select};
use http_body_util::Full;

use super::super::http::{ReadError, read_bounded};
use super::wire::WireFailure;
use super::{ERROR_ANSWER, PinServiceError, PinServiceResult, PinningService, REASON_CHARS};

/// One HTTP answer.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) retry_after: Option<Duration>,
    pub(super) body: Bytes,
}

/// Why one HTTP exchange failed.
pub(super) enum ExchangeError {
    /// Worth retrying: unreachable, reset, timed out.
    Transport(String),
    /// Over the cap: not retried.
    Fatal(PinServiceError),
}

impl PinningService {
    /// A service's text made fit for an error: the token scrubbed, control characters
    /// dropped, cut at [`REASON_CHARS`].
    pub(super) fn clean(&self, text: &str) -> String {
        let scrubbed = self.config.token.scrub(text);
        let mut out: String = scrubbed
            .chars()
            .filter(|c| !c.is_control())
            .take(REASON_CHARS)
            .collect();
        if scrubbed.chars().count() > REASON_CHARS {
            out.push('…');
        }
        out
    }

    /// The reason in an error answer (`{"error": {"reason", "details"}}`, else its text).
    pub(super) fn reason(&self, body: &[u8]) -> String {
        match serde_json::from_slice::<WireFailure>(body) {
            Ok(f) => match f.error.details {
                Some(d) if !d.is_empty() => self.clean(&format!("{}: {d}", f.error.reason)),
                _ => self.clean(&f.error.reason),
            },
            Err(_) if body.is_empty() => "no reason given".into(),
            Err(_) => self.clean(&String::from_utf8_lossy(body)),
        }
    }
    /// Sends a request, retrying 429 (after `Retry-After`), 5xx and transport failures; maps
    /// the final answer to a typed error.
    pub(super) async fn call(
        &self,
        method: http::Method,
        target: &str,
        body: Option<Vec<u8>>,
        max: u64,
        what: &str,
    ) -> PinServiceResult<Answer> {
        let mut attempt = 0u32;
        loop {
            let result = self
                .exchange(method.clone(), target, body.clone(), max, what)
                .await;
            let last = attempt >= self.config.retries;
            let wait = match result {
                Ok(a) if (200..300).contains(&a.status) => return Ok(a),
                Ok(a) => match a.status {
                    401 | 403 => {
                        return Err(PinServiceError::Auth {
                            status: a.status,
                            reason: self.reason(&a.body),
                        });
                    }
                    404 => {
                        return Err(PinServiceError::NotFound(format!(
                            "{what}: {}",
                            self.reason(&a.body)
                        )));
                    }
                    429 if last => {
                        return Err(PinServiceError::Throttled(format!(
                            "{what}: HTTP 429 after {} tries: {}",
                            attempt + 1,
                            self.reason(&a.body)
                        )));
                    }
                    429 => a
                        .retry_after
                        .unwrap_or_else(|| self.backoff(attempt))
                        .min(self.config.max_backoff),
                    500..=599 if last => {
                        return Err(PinServiceError::Unavailable(format!(
                            "{what}: HTTP {} after {} tries: {}",
                            a.status,
                            attempt + 1,
                            self.reason(&a.body)
                        )));
                    }
                    500..=599 => a
                        .retry_after
                        .unwrap_or_else(|| self.backoff(attempt))
                        .min(self.config.max_backoff),
                    status => {
                        return Err(PinServiceError::Rejected {
                            status,
                            reason: self.reason(&a.body),
                        });
                    }
                },
                Err(ExchangeError::Fatal(e)) => return Err(e),
                Err(ExchangeError::Transport(e)) if last => {
                    return Err(PinServiceError::Unavailable(format!(
                        "{what}: {e} (after {} tries)",
                        attempt + 1
                    )));
                }
                Err(ExchangeError::Transport(_)) => self.backoff(attempt),
            };
            futures_timer::Delay::new(wait).await;
            attempt += 1;
        }
    }

    /// 250 ms doubling per attempt, at most [`PinServiceConfig::max_backoff`].
    pub(super) fn backoff(&self, attempt: u32) -> Duration {
        Duration::from_millis(250u64.saturating_mul(1u64 << attempt.min(16)))
            .min(self.config.max_backoff)
    }

    /// One HTTP exchange: a successful answer of at most `max` bytes (else
    /// [`PinServiceError::TooLarge`], from `Content-Length` before reading or as soon as the
    /// body passes `max`), an error answer cut at [`ERROR_ANSWER`] bytes; the whole within
    /// [`PinServiceConfig::timeout`].
    pub(super) async fn exchange(
        &self,
        method: http::Method,
        target: &str,
        body: Option<Vec<u8>>,
        max: u64,
        what: &str,
    ) -> Result<Answer, ExchangeError> {
        let url = format!("{}{target}", self.base);
        let mut req = http::Request::builder()
            .method(method)
            .uri(&url)
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::AUTHORIZATION,
                self.config.token.header().map_err(ExchangeError::Fatal)?,
            );
        if body.is_some() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(Full::new(body.map(Bytes::from).unwrap_or_default()))
            .map_err(|e| {
                ExchangeError::Fatal(PinServiceError::Config(format!("bad request {what}: {e}")))
            })?;
        let exchange = async {
            let resp =
                self.client.request(req).await.map_err(|e| {
                    ExchangeError::Transport(format!("cannot reach the service ({e})"))
                })?;
            let status = resp.status();
            let retry_after = resp
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = read_bounded(resp, max, ERROR_ANSWER)
                .await
                .map_err(|e| match e {
                    ReadError::TooLarge(_) => ExchangeError::Fatal(PinServiceError::TooLarge {
                        what: what.to_string(),
                        limit: max,
                    }),
                    ReadError::Body(e) => {
                        ExchangeError::Transport(format!("reading the answer failed: {e}"))
                    }
                })?;
            Ok(Answer {
                status: status.as_u16(),
                retry_after,
                body,
            })
        };
        let exchange = std::pin::pin!(exchange);
        match select(exchange, futures_timer::Delay::new(self.config.timeout)).await {
            Either::Left((r, _)) => r,
            Either::Right(_) => Err(ExchangeError::Transport(format!(
                "no complete answer within {:?}",
                self.config.timeout
            ))),
        }
    }
}
