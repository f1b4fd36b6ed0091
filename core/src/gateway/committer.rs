//! Grouped commits: uploads run at once under a bucket's read lock, and one task per bucket links
//! whatever uploads are waiting with one [`Vault::commit_uploads`] (one index batch, one head
//! write) under the write lock. While it waits for the write lock (uploads in flight hold the read
//! lock), more uploads queue, so the busier the bucket, the larger the groups.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use s3s::{S3Error, S3Result};
use tokio::sync::{RwLock, mpsc, oneshot};

use super::error::{internal, vault_error};
use crate::store::{BlockStore, HeadStore};
use crate::vault::{ObjectInfo, Upload, Vault, VaultError};

/// Counters of what grouping did (read by benchmarks and tests).
#[derive(Debug, Default)]
pub struct CommitStats {
    /// Head writes of grouped commits.
    pub commits: AtomicU64,
    /// Uploads they linked.
    pub uploads: AtomicU64,
}

impl CommitStats {
    /// `(commits, uploads)` so far.
    pub fn snapshot(&self) -> (u64, u64) {
        (
            self.commits.load(Ordering::Relaxed),
            self.uploads.load(Ordering::Relaxed),
        )
    }
}

struct Job {
    upload: Upload,
    reply: oneshot::Sender<S3Result<ObjectInfo>>,
}

/// The sending side of a bucket's committer; the task ends when this is dropped.
pub(crate) struct Committer {
    tx: mpsc::UnboundedSender<Job>,
}

impl Committer {
    /// Starts the committer of `vault`, linking at most `max_batch` uploads per head write.
    pub(crate) fn start<S>(
        vault: Arc<RwLock<Vault<S>>>,
        max_batch: usize,
        stats: Arc<CommitStats>,
    ) -> Self
    where
        S: BlockStore + HeadStore + ?Sized + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(vault, rx, max_batch.max(1), stats));
        Self { tx }
    }

    /// Commits `upload` in the next group; its version, or why it was refused.
    pub(crate) async fn commit(&self, upload: Upload) -> S3Result<ObjectInfo> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Job { upload, reply })
            .map_err(|_| internal("the bucket's committer stopped"))?;
        rx.await
            .map_err(|_| internal("the bucket's committer stopped"))?
    }
}

async fn run<S>(
    vault: Arc<RwLock<Vault<S>>>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    max_batch: usize,
    stats: Arc<CommitStats>,
) where
    S: BlockStore + HeadStore + ?Sized + 'static,
{
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut guard = vault.write().await;
        // Everything that queued while the uploads in flight held the read lock joins.
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let uploads = jobs.iter().map(|j| j.upload.clone()).collect();
        let outcome = guard.commit_uploads(uploads).await;
        drop(guard);
        match outcome {
            Ok(results) => {
                stats.commits.fetch_add(1, Ordering::Relaxed);
                stats
                    .uploads
                    .fetch_add(results.len() as u64, Ordering::Relaxed);
                for (job, result) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send(result.map_err(|e| vault_error(&e)));
                }
            }
            Err(e) => {
                for job in jobs {
                    let _ = job.reply.send(Err(commit_error(&e)));
                }
            }
        }
    }
}

/// The failure of a whole commit (each upload of the group gets it).
fn commit_error(e: &VaultError) -> S3Error {
    match e {
        // The head changed under this device: another process writes the vault as this device.
        VaultError::PreconditionFailed(_) => internal(
            "another process writes this bucket's vault as the gateway's device; nothing was \
             committed (give each gateway its own --device)",
        ),
        other => vault_error(other),
    }
}
