//! Streaming a blob to several backends at once with bounded memory.
//!
//! One loop reads the source in 1 MiB chunks and hands each chunk to every backend's
//! `put_stream` through a bounded channel (two chunks deep), so memory stays at a few MiB per
//! backend whatever the blob size, and the slowest backend sets the pace. A backend that fails
//! drops its channel and is left out of the rest of the stream.

use bytes::Bytes;
use futures_channel::mpsc;
use futures_util::future::{join, join_all};
use futures_util::{SinkExt, TryStreamExt};

use super::ReplicatedStore;
use crate::block::Cid;
use crate::store::stream::fill_buf;
use crate::store::{BlobSource, StoreError, StoreResult};

/// Chunk handed to the backends.
const CHUNK: usize = 1 << 20;

impl ReplicatedStore {
    /// Streams `source` to the backends `targets`; one result per target, in order.
    pub(super) async fn tee_to(
        &self,
        cid: &Cid,
        targets: &[usize],
        mut source: BlobSource<'_>,
        len: Option<u64>,
    ) -> Vec<StoreResult<()>> {
        let (senders, receivers): (Vec<_>, Vec<_>) = targets
            .iter()
            .map(|_| mpsc::channel::<std::io::Result<Bytes>>(2))
            .unzip();
        let writers = targets.iter().zip(receivers).map(|(&i, rx)| async move {
            let mut reader = rx.into_async_read();
            let result = self.backends[i]
                .store
                .put_stream(cid, &mut reader, len)
                .await;
            if result.is_err() {
                super::lock(&self.backends[i].health).failure();
            }
            result
        });
        let feeder = async move {
            let mut senders: Vec<Option<mpsc::Sender<std::io::Result<Bytes>>>> =
                senders.into_iter().map(Some).collect();
            let mut buf = vec![0u8; CHUNK];
            loop {
                let item = match fill_buf(&mut source, &mut buf).await {
                    Ok(0) => break,
                    Ok(n) => Ok(Bytes::copy_from_slice(&buf[..n])),
                    Err(e) => Err(std::io::Error::other(e.to_string())),
                };
                let failed = item.is_err();
                for slot in senders.iter_mut() {
                    if let Some(tx) = slot {
                        let copy = match &item {
                            Ok(b) => Ok(b.clone()),
                            Err(e) => Err(std::io::Error::other(e.to_string())),
                        };
                        // A backend that gave up has dropped its receiver: leave it out.
                        if tx.send(copy).await.is_err() {
                            *slot = None;
                        }
                    }
                }
                if failed || senders.iter().all(Option::is_none) {
                    break;
                }
            }
            // Dropping the senders ends every backend's stream.
        };
        let (results, ()) = join(join_all(writers), feeder).await;
        results
    }
}

/// Why a streamed replicated put failed, for [`StoreError::QuorumFailed`]'s detail.
pub(super) fn describe(targets: &[usize], results: &[StoreResult<()>]) -> Vec<String> {
    targets
        .iter()
        .zip(results)
        .filter_map(|(i, r)| {
            r.as_ref()
                .err()
                .map(|e: &StoreError| format!("backend {i}: {e}"))
        })
        .collect()
}
