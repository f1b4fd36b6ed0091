//! A wrapper that checks every block it returns against the CID it was asked for.

use std::ops::Range;

use bytes::Bytes;
use futures_util::StreamExt;

use super::{BlobSource, BlockStore, ByteStream, StoreError, StoreResult, check_range};
use crate::block::{BlockError, Cid, verify_block};

/// Wraps a store so that `get`, `get_range` and `get_stream` only return bytes that hash to the
/// requested CID; anything else is [`StoreError::Corrupt`] naming the CID.
///
/// `get_range` fetches and verifies the whole block before slicing it: a CID can only vouch for
/// the whole. For ranges of large blobs, verify with the Bao outboard ([`crate::verify`]) instead.
#[derive(Clone, Debug)]
pub struct VerifyingStore<S> {
    inner: S,
}

impl<S> VerifyingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// Unwraps the store.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Verifies `bytes` against `cid`, mapping a mismatch to [`StoreError::Corrupt`].
pub fn verify_fetched(cid: &Cid, bytes: &[u8]) -> StoreResult<()> {
    verify_block(cid, bytes).map_err(|e| match e {
        BlockError::HashMismatch { cid, actual } => StoreError::Corrupt {
            cid,
            detail: format!("its bytes hash to {actual}"),
        },
        other => StoreError::Unsupported(other.to_string()),
    })
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl<S: BlockStore> BlockStore for VerifyingStore<S> {
    async fn put(&self, cid: &Cid, bytes: Bytes) -> StoreResult<()> {
        self.inner.put(cid, bytes).await
    }

    async fn get(&self, cid: &Cid) -> StoreResult<Bytes> {
        let bytes = self.inner.get(cid).await?;
        verify_fetched(cid, &bytes)?;
        Ok(bytes)
    }

    async fn get_max(&self, cid: &Cid, max_len: u64) -> StoreResult<Bytes> {
        let bytes = self.inner.get_max(cid, max_len).await?;
        verify_fetched(cid, &bytes)?;
        Ok(bytes)
    }

    async fn get_range(&self, cid: &Cid, range: Range<u64>) -> StoreResult<Bytes> {
        let bytes = self.get(cid).await?;
        let r = check_range(cid, &range, bytes.len() as u64)?;
        Ok(bytes.slice(r))
    }

    async fn has(&self, cid: &Cid) -> StoreResult<bool> {
        self.inner.has(cid).await
    }

    async fn delete(&self, cid: &Cid) -> StoreResult<()> {
        self.inner.delete(cid).await
    }

    async fn list(&self) -> StoreResult<Vec<Cid>> {
        self.inner.list().await
    }

    async fn put_stream(
        &self,
        cid: &Cid,
        source: BlobSource<'_>,
        len: Option<u64>,
    ) -> StoreResult<()> {
        self.inner.put_stream(cid, source, len).await
    }

    /// Passes chunks through while hashing them and holds back the last one until the whole
    /// has been checked: a mismatch replaces it with [`StoreError::Corrupt`]. Consumers must not
    /// act on the data before the stream has ended without error.
    async fn get_stream(&self, cid: &Cid) -> StoreResult<ByteStream> {
        let expected =
            crate::block::blake3_digest(cid).map_err(|e| StoreError::Unsupported(e.to_string()))?;
        let inner = self.inner.get_stream(cid).await?;
        Ok(verified_stream(*cid, expected, inner))
    }
}

struct VerifyState {
    cid: Cid,
    expected: [u8; 32],
    inner: Option<ByteStream>,
    hasher: blake3::Hasher,
    held: Option<Bytes>,
}

/// Wraps `inner` so that its last item is held back until the BLAKE3 of all chunks is checked.
pub(crate) fn verified_stream(cid: Cid, expected: [u8; 32], inner: ByteStream) -> ByteStream {
    let state = VerifyState {
        cid,
        expected,
        inner: Some(inner),
        hasher: blake3::Hasher::new(),
        held: None,
    };
    Box::pin(futures_util::stream::unfold(state, |mut st| async move {
        loop {
            let inner = st.inner.as_mut()?;
            match inner.next().await {
                Some(Ok(chunk)) => {
                    st.hasher.update(&chunk);
                    if let Some(prev) = st.held.replace(chunk) {
                        return Some((Ok(prev), st));
                    }
                }
                Some(Err(e)) => {
                    st.inner = None;
                    return Some((Err(e), st));
                }
                None => {
                    st.inner = None;
                    let actual = st.hasher.finalize();
                    if actual == blake3::Hash::from(st.expected) {
                        let last = st.held.take();
                        return last.map(|b| (Ok(b), st));
                    }
                    let detail = format!(
                        "the streamed bytes hash to {}",
                        crate::block::cid_from_blake3(st.cid.codec(), actual.as_bytes())
                    );
                    return Some((
                        Err(StoreError::Corrupt {
                            cid: st.cid.to_string(),
                            detail,
                        }),
                        st,
                    ));
                }
            }
        }
    }))
}
