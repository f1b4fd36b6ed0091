//! HTTP plumbing shared by the Kubo RPC client ([`super::rpc`]) and the pinning-service client
//! ([`super::pinsvc`]): one way to build a client, one bounded way to read an answer.

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// An HTTP/1 client over plain TCP or TLS (the system's root certificates).
pub(super) type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A new [`HttpClient`]; the error says why the TLS roots could not be loaded.
pub(super) fn https_client() -> Result<HttpClient, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| format!("no TLS root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// Why [`read_bounded`] stopped.
pub(super) enum ReadError {
    /// A success answer over the cap (its declared length, when it declared one).
    TooLarge(Option<u64>),
    /// The connection failed while the body was read.
    Body(String),
}

/// Reads an answer's body. A success answer may hold at most `max` bytes: one that declares or
/// sends more is [`ReadError::TooLarge`], read no further. An error answer is read only for its
/// text, so its first `error_cap` bytes are kept and the rest is not read.
pub(super) async fn read_bounded(
    resp: http::Response<hyper::body::Incoming>,
    max: u64,
    error_cap: u64,
) -> Result<Bytes, ReadError> {
    let success = resp.status().is_success();
    let declared = resp
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if success && declared.is_some_and(|l| l > max) {
        return Err(ReadError::TooLarge(declared));
    }
    let cap = if success { max } else { error_cap };
    let mut body = resp.into_body();
    let mut out = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ReadError::Body(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if (out.len() + data.len()) as u64 > cap {
            if success {
                return Err(ReadError::TooLarge(declared));
            }
            let room = (cap as usize).saturating_sub(out.len());
            out.extend_from_slice(&data[..room.min(data.len())]);
            break;
        }
        out.extend_from_slice(&data);
    }
    Ok(out.freeze())
}
