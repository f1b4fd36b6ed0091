//! S3 errors to [`StoreError`]: by S3 error code first, HTTP status second.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::store::StoreError;

/// Maps an SDK error on `what` (a key or an operation) to a typed store error.
pub(super) fn map_sdk_error<E, R>(err: SdkError<E, R>, what: &str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HasStatus,
{
    let chain = source_chain(&err);
    match err {
        SdkError::ServiceError(se) => {
            let status = se.raw().status_code();
            let e = se.err();
            map_code(e.code(), e.message(), status, what)
        }
        SdkError::TimeoutError(_) => {
            StoreError::Timeout(format!("S3 request for {what} timed out"))
        }
        SdkError::DispatchFailure(d) => {
            let detail = if d.is_io() {
                "connection failed (is the endpoint up and reachable?)"
            } else if d.is_timeout() {
                return StoreError::Timeout(format!("S3 request for {what} timed out connecting"));
            } else {
                "request could not be sent"
            };
            StoreError::Unavailable(format!("S3 {what}: {detail}: {chain}"))
        }
        SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("S3 {what}: unreadable response: {chain}"))
        }
        SdkError::ConstructionFailure(_) => {
            StoreError::Config(format!("S3 request for {what} could not be built: {chain}"))
        }
        _ => StoreError::Other(format!("S3 {what}: {chain}")),
    }
}

/// Maps an S3 error code (or, without one, the HTTP status) to a store error.
pub(super) fn map_code(
    code: Option<&str>,
    message: Option<&str>,
    status: u16,
    what: &str,
) -> StoreError {
    let msg = message.unwrap_or("");
    let code_s = code.unwrap_or("");
    match (code_s, status) {
        ("NoSuchKey" | "NotFound", _) | ("", 404) => StoreError::NotFound(what.to_string()),
        ("NoSuchBucket", _) => {
            StoreError::Config(format!("the bucket does not exist ({what}): {msg}"))
        }
        (
            "AccessDenied"
            | "InvalidAccessKeyId"
            | "SignatureDoesNotMatch"
            | "InvalidToken"
            | "ExpiredToken",
            _,
        )
        | ("", 401 | 403) => {
            StoreError::AccessDenied(format!("{what}: {code_s} {msg}").trim().to_string())
        }
        ("PreconditionFailed" | "ConditionalRequestConflict", _) | ("", 409 | 412) => {
            StoreError::PreconditionFailed(what.to_string())
        }
        (
            "SlowDown"
            | "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TooManyRequests",
            _,
        )
        | ("", 429 | 503) => {
            StoreError::Throttled(format!("{what}: {code_s} {msg}").trim().to_string())
        }
        ("InvalidRange", _) | ("", 416) => StoreError::RangeOutOfBounds {
            cid: what.to_string(),
            start: 0,
            end: 0,
            len: 0,
        },
        ("NoSuchUpload", _) => StoreError::Other(format!(
            "multipart upload of {what} no longer exists: {msg}"
        )),
        ("InternalError" | "ServiceUnavailable", _) | (_, 500..=599) => StoreError::Unavailable(
            format!("S3 server error on {what}: {code_s} {msg}")
                .trim()
                .to_string(),
        ),
        _ => StoreError::Other(format!(
            "S3 error on {what}: {code_s} (HTTP {status}) {msg}"
        )),
    }
}

/// The HTTP status of a raw response.
pub(super) trait HasStatus {
    /// The status code.
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        assert!(matches!(
            map_code(Some("NoSuchKey"), None, 404, "k"),
            StoreError::NotFound(_)
        ));
        assert!(matches!(
            map_code(None, None, 404, "k"),
            StoreError::NotFound(_)
        ));
        assert!(matches!(
            map_code(Some("AccessDenied"), None, 403, "k"),
            StoreError::AccessDenied(_)
        ));
        assert!(matches!(
            map_code(Some("InvalidAccessKeyId"), None, 403, "k"),
            StoreError::AccessDenied(_)
        ));
        assert!(matches!(
            map_code(None, None, 412, "k"),
            StoreError::PreconditionFailed(_)
        ));
        assert!(matches!(
            map_code(Some("SlowDown"), None, 503, "k"),
            StoreError::Throttled(_)
        ));
        assert!(matches!(
            map_code(Some("InternalError"), None, 500, "k"),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            map_code(Some("NoSuchBucket"), None, 404, "k"),
            StoreError::Config(_)
        ));
        assert!(matches!(
            map_code(Some("Weird"), None, 400, "k"),
            StoreError::Other(_)
        ));
    }
}
