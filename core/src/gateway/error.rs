//! What starting the gateway can fail with, and the one place where vault and store errors become
//! S3 error codes and HTTP statuses.
//!
//! Every S3 error the gateway answers is built here (or by s3s for protocol errors: signatures,
//! malformed XML, bad headers), so the mapping can be read and checked against the S3 API
//! reference in one file. Messages name keys' lengths, CIDs and writer ids, never object contents
//! or key material (they come from [`VaultError`]'s messages, which promise the same).

use std::path::Path;

use s3s::{S3Error, S3ErrorCode};

use crate::index::IndexError;
use crate::seal::SealError;
use crate::store::StoreError;
use crate::vault::VaultError;

/// Errors of starting or running the gateway (request errors are S3 errors, not these).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}; pick another address with --listen")]
    Bind {
        /// The address asked for.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The gateway's state directory (credentials, multipart spool) could not be used.
    #[error("gateway state at {path}: {source}")]
    State {
        /// The file or directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The credentials file exists but cannot be read as credentials.
    #[error(
        "the gateway credentials file {path} is not valid ({detail}); remove it to have new \
         credentials created"
    )]
    BadCredentials {
        /// The file.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A configuration value that cannot work.
    #[error("invalid gateway configuration: {0}")]
    Config(String),
    /// A vault or store error while starting (reading the bucket registry).
    #[error(transparent)]
    Vault(#[from] VaultError),
}

impl GatewayError {
    pub(crate) fn state(path: &Path, source: std::io::Error) -> Self {
        Self::State {
            path: path.display().to_string(),
            source,
        }
    }
}

/// Result of starting the gateway.
pub type GatewayResult<T> = Result<T, GatewayError>;

/// An S3 error with a message.
pub(crate) fn s3(code: S3ErrorCode, message: impl Into<String>) -> S3Error {
    S3Error::with_message(code, message.into())
}

/// An internal failure that retrying may cure: 503 with `Retry-After`, which every SDK retries.
fn unavailable(message: String) -> S3Error {
    let mut e = s3(S3ErrorCode::ServiceUnavailable, message);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static("1"),
    );
    e.set_headers(headers);
    e
}

/// A failure of the gateway itself or of what the store returned (500; SDKs retry it too).
pub(crate) fn internal(message: impl Into<String>) -> S3Error {
    s3(S3ErrorCode::InternalError, message)
}

/// A local I/O failure of the gateway's spool.
pub(crate) fn spool_io(e: std::io::Error) -> S3Error {
    internal(format!("the gateway's local spool failed: {e}"))
}

/// What a store error means to an S3 client.
pub(crate) fn store_error(e: &StoreError) -> S3Error {
    match e {
        StoreError::Unavailable(_)
        | StoreError::Throttled(_)
        | StoreError::Timeout(_)
        | StoreError::QuorumFailed { .. } => {
            unavailable(format!("the backing store failed; retry: {e}"))
        }
        StoreError::PreconditionFailed(_) => {
            unavailable(format!("a concurrent write got there first; retry: {e}"))
        }
        _ => internal(format!("the backing store failed: {e}")),
    }
}

/// What a vault error of an object operation means to an S3 client.
pub(crate) fn vault_error(e: &VaultError) -> S3Error {
    use S3ErrorCode as C;
    match e {
        VaultError::NotFound => s3(C::NoSuchKey, "The specified key does not exist."),
        VaultError::PreconditionFailed(_) => s3(
            C::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold",
        ),
        VaultError::KeyTooLong { .. } => s3(C::KeyTooLongError, "Your key is too long"),
        VaultError::InvalidKey(m) => s3(C::InvalidArgument, m.clone()),
        VaultError::InvalidTags(m) => s3(C::InvalidTag, m.clone()),
        VaultError::InvalidVersion(_) => s3(C::InvalidArgument, "Invalid version id specified"),
        VaultError::NoSuchVault { .. } => {
            s3(C::NoSuchBucket, "The specified bucket does not exist")
        }
        VaultError::AlreadyExists { .. } => s3(
            C::BucketAlreadyExists,
            "The requested bucket name is not available.",
        ),
        VaultError::Store(s) => store_error(s),
        VaultError::Index(IndexError::Store(s)) => store_error(s),
        VaultError::Index(IndexError::InvalidToken(_)) => s3(
            C::InvalidArgument,
            "The continuation token provided is incorrect",
        ),
        VaultError::Seal(SealError::RangeOutOfBounds { .. }) => {
            s3(C::InvalidRange, "The requested range is not satisfiable")
        }
        VaultError::SourceChanged => internal(
            "the spooled upload changed while it was sealed (a concurrent write of the same part?); \
             nothing was committed, retry",
        ),
        other => internal(other.to_string()),
    }
}

/// The error of a bucket that does not exist.
pub(crate) fn no_such_bucket() -> S3Error {
    s3(
        S3ErrorCode::NoSuchBucket,
        "The specified bucket does not exist",
    )
}

/// The error of an operation or option coffer does not do (501).
pub(crate) fn not_implemented(what: &str) -> S3Error {
    s3(
        S3ErrorCode::NotImplemented,
        format!("{what} is not implemented by the coffer gateway (see docs/gateway.md)"),
    )
}

/// A request parameter that is not valid (400 InvalidArgument).
pub(crate) fn invalid_argument(message: impl Into<String>) -> S3Error {
    s3(S3ErrorCode::InvalidArgument, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_s3_reference() {
        let cases: Vec<(VaultError, u16, S3ErrorCode)> = vec![
            (VaultError::NotFound, 404, S3ErrorCode::NoSuchKey),
            (
                VaultError::PreconditionFailed("x".into()),
                412,
                S3ErrorCode::PreconditionFailed,
            ),
            (
                VaultError::KeyTooLong { len: 2000 },
                400,
                S3ErrorCode::KeyTooLongError,
            ),
            (
                VaultError::InvalidTags("x".into()),
                400,
                S3ErrorCode::InvalidTag,
            ),
            (
                VaultError::Store(StoreError::Unavailable("down".into())),
                503,
                S3ErrorCode::ServiceUnavailable,
            ),
            (
                VaultError::Corrupt {
                    cid: "b".into(),
                    detail: "flipped".into(),
                },
                500,
                S3ErrorCode::InternalError,
            ),
            (
                VaultError::Index(IndexError::InvalidToken("forged")),
                400,
                S3ErrorCode::InvalidArgument,
            ),
        ];
        for (e, status, code) in cases {
            let s3e = vault_error(&e);
            assert_eq!(s3e.code(), &code, "{e}");
            assert_eq!(s3e.status_code().map(|s| s.as_u16()), Some(status), "{e}");
        }
        let busy = vault_error(&VaultError::Store(StoreError::Timeout("t".into())));
        assert!(
            busy.headers()
                .is_some_and(|h| h.contains_key("retry-after"))
        );
    }
}
