//! Streaming helpers: the types that carry large blobs in and out of a store.

use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_util::{AsyncReadExt, StreamExt};

use super::{StoreError, StoreResult};
use crate::block::{Cid, blake3_digest};

/// A stream of byte chunks read from a store; an `Err` item ends it.
#[cfg(not(target_arch = "wasm32"))]
pub type ByteStream = Pin<Box<dyn Stream<Item = StoreResult<Bytes>> + Send>>;
/// A stream of byte chunks read from a store; an `Err` item ends it.
#[cfg(target_arch = "wasm32")]
pub type ByteStream = Pin<Box<dyn Stream<Item = StoreResult<Bytes>>>>;

/// Where a streaming put reads its bytes from (any `futures_io::AsyncRead`).
#[cfg(not(target_arch = "wasm32"))]
pub type BlobSource<'a> = &'a mut (dyn futures_io::AsyncRead + Unpin + Send + 'a);
/// Where a streaming put reads its bytes from (any `futures_io::AsyncRead`).
#[cfg(target_arch = "wasm32")]
pub type BlobSource<'a> = &'a mut (dyn futures_io::AsyncRead + Unpin + 'a);

/// A one-chunk stream holding `bytes`.
pub fn bytes_stream(bytes: Bytes) -> ByteStream {
    Box::pin(futures_util::stream::once(async move { Ok(bytes) }))
}

/// Concatenates every chunk of `stream`; returns its first error.
pub async fn collect_stream(mut stream: ByteStream) -> StoreResult<Bytes> {
    let mut out = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out.freeze())
}

/// Reads `source` to its end into memory; `len`, when given, must match what was read.
pub async fn read_source(source: BlobSource<'_>, len: Option<u64>) -> StoreResult<Bytes> {
    let mut buf = Vec::with_capacity(len.map_or(0, |l| l.min(64 << 20) as usize));
    source
        .read_to_end(&mut buf)
        .await
        .map_err(|e| StoreError::Other(format!("reading the blob to store failed: {e}")))?;
    check_len(len, buf.len() as u64)?;
    Ok(Bytes::from(buf))
}

/// Reads from `source` until `buf` is full or the source ends; returns how much was read.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) async fn fill_buf(source: &mut BlobSource<'_>, buf: &mut [u8]) -> StoreResult<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = source
            .read(&mut buf[filled..])
            .await
            .map_err(|e| StoreError::Other(format!("reading the blob to store failed: {e}")))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// Errors when a declared length and the length read differ.
pub(crate) fn check_len(declared: Option<u64>, read: u64) -> StoreResult<()> {
    match declared {
        Some(l) if l != read => Err(StoreError::Other(format!(
            "the blob source gave {read} bytes but its length was declared as {l}"
        ))),
        _ => Ok(()),
    }
}

/// Checks that the BLAKE3 digest computed over a streamed blob is the one `cid` names.
pub(crate) fn check_digest(cid: &Cid, actual: &blake3::Hash) -> StoreResult<()> {
    let expected = blake3_digest(cid).map_err(|e| StoreError::Unsupported(e.to_string()))?;
    if blake3::Hash::from(expected) == *actual {
        Ok(())
    } else {
        Err(StoreError::Corrupt {
            cid: cid.to_string(),
            detail: format!(
                "the bytes given hash to {}, not to this CID; nothing was stored",
                crate::block::cid_from_blake3(cid.codec(), actual.as_bytes())
            ),
        })
    }
}

/// [`check_digest`] over bytes in memory.
pub(crate) fn check_whole(cid: &Cid, bytes: &[u8]) -> StoreResult<()> {
    check_digest(cid, &blake3::hash(bytes))
}
