//! Buckets: each is a vault of the identity in the store, opened on first use and kept open, with
//! its committer. Bucket operations: ListBuckets, CreateBucket, DeleteBucket, HeadBucket,
//! GetBucketLocation, Get/PutBucketVersioning.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};
use tokio::sync::RwLock;

use super::Limits;
use super::committer::{CommitStats, Committer};
use super::error::{no_such_bucket, not_implemented, s3, vault_error};
use super::multipart::UploadDir;
use super::registry::{BucketEntry, Registry};
use crate::index::ListRequest;
use crate::keys::Identity;
use crate::store::{BlockStore, HeadStore};
use crate::vault::{Vault, VaultError};

/// One open bucket.
pub(crate) struct Bucket<S: BlockStore + HeadStore + ?Sized> {
    /// The vault: transfers and reads under the read lock, commits under the write lock.
    pub vault: Arc<RwLock<Vault<S>>>,
    /// Groups upload commits.
    pub committer: Committer,
}

/// What every operation shares.
pub(crate) struct Shared<S: BlockStore + HeadStore + ?Sized> {
    pub store: Arc<S>,
    pub identity: Identity,
    pub device: String,
    pub region: String,
    pub limits: Limits,
    /// Where single-part bodies are spooled.
    pub tmp_dir: PathBuf,
    /// Multipart uploads in progress.
    pub uploads: UploadDir,
    pub registry: Registry<S>,
    pub max_commit_batch: usize,
    pub stats: Arc<CommitStats>,
    /// The trust memory every bucket's vault is opened with.
    trust: Option<Arc<dyn crate::trust::TrustStore>>,
    open: tokio::sync::Mutex<HashMap<String, Arc<Bucket<S>>>>,
}

/// An S3 timestamp from milliseconds since the Unix epoch.
pub(crate) fn timestamp(ms: u64) -> Timestamp {
    Timestamp::from(UNIX_EPOCH + Duration::from_millis(ms))
}

/// The owner shown in listings: the gateway's one user.
pub(crate) fn owner() -> Owner {
    Owner {
        display_name: Some("coffer".into()),
        id: Some("coffer".into()),
    }
}

impl<S: BlockStore + HeadStore + ?Sized + 'static> Shared<S> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        store: Arc<S>,
        identity: Identity,
        device: String,
        region: String,
        limits: Limits,
        tmp_dir: PathBuf,
        uploads: UploadDir,
        max_commit_batch: usize,
        trust: Option<Arc<dyn crate::trust::TrustStore>>,
    ) -> Self {
        Self {
            registry: Registry::new(store.clone(), identity.clone(), &device),
            store,
            identity,
            device,
            region,
            limits,
            tmp_dir,
            uploads,
            max_commit_batch,
            trust,
            stats: Arc::new(CommitStats::default()),
            open: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The open bucket `name`, opening its vault when the registry lists it.
    pub(crate) async fn bucket(&self, name: &str) -> S3Result<Arc<Bucket<S>>> {
        let mut open = self.open.lock().await;
        if let Some(b) = open.get(name) {
            return Ok(b.clone());
        }
        if self
            .registry
            .get(name)
            .await
            .map_err(|e| vault_error(&e))?
            .is_none()
        {
            return Err(no_such_bucket());
        }
        let vault = self.open_vault(name, false).await?;
        let bucket = Arc::new(self.wrap(vault));
        open.insert(name.to_string(), bucket.clone());
        Ok(bucket)
    }

    fn wrap(&self, vault: Vault<S>) -> Bucket<S> {
        let vault = Arc::new(RwLock::new(vault));
        Bucket {
            committer: Committer::start(vault.clone(), self.max_commit_batch, self.stats.clone()),
            vault,
        }
    }

    /// Opens (or creates) the vault of bucket `name` and takes in the other devices' changes.
    async fn open_vault(&self, name: &str, create: bool) -> S3Result<Vault<S>> {
        let opened = Vault::open_with_options(
            self.store.clone(),
            self.identity.clone(),
            name,
            &self.device,
            create.then_some(false),
            crate::vault::VaultOptions {
                trust: self.trust.clone(),
                ..Default::default()
            },
        )
        .await;
        let mut vault = opened.map_err(|e| match e {
            VaultError::WrongIdentity => s3(
                S3ErrorCode::BucketAlreadyExists,
                "The requested bucket name is not available.",
            ),
            VaultError::NoSuchVault { .. } => no_such_bucket(),
            other => vault_error(&other),
        })?;
        // Heads of other devices that do not verify fail the open above; a sync merges theirs.
        vault.sync().await.map_err(|e| vault_error(&e))?;
        Ok(vault)
    }

    /// Takes in other devices' changes in every open bucket that has some (called periodically).
    pub(crate) async fn sync_open(&self) {
        let buckets: Vec<Arc<Bucket<S>>> = self.open.lock().await.values().cloned().collect();
        for b in buckets {
            let mut vault = b.vault.write().await;
            let behind = match vault.writers().await {
                Ok(ws) => ws.iter().any(|w| !w.merged),
                Err(_) => false,
            };
            if behind {
                // A failed sync leaves the vault as it was; the next round retries.
                let _ = vault.sync().await;
            }
        }
    }

    /// ListBuckets.
    pub(crate) async fn list_buckets(
        &self,
        _req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        let entries = self.registry.list().await.map_err(|e| vault_error(&e))?;
        let buckets = entries
            .into_iter()
            .map(|e| Bucket_ {
                name: Some(e.name),
                creation_date: Some(timestamp(e.created_ms)),
                bucket_region: Some(self.region.clone()),
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput {
            buckets: Some(buckets),
            owner: Some(owner()),
            ..Default::default()
        }))
    }

    /// CreateBucket. A bucket of this gateway that exists is `BucketAlreadyOwnedByYou` (409); a
    /// vault of another identity is `BucketAlreadyExists` (409); an existing vault of this
    /// identity that is not registered yet (made with `coffer init`, or deleted as a bucket) is
    /// taken as the bucket.
    pub(crate) async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        let name = req.input.bucket;
        check_bucket_name(&name)?;
        if req.input.object_lock_enabled_for_bucket == Some(true) {
            return Err(not_implemented("Object Lock"));
        }
        let mut open = self.open.lock().await;
        let registered = self
            .registry
            .get(&name)
            .await
            .map_err(|e| vault_error(&e))?;
        if registered.is_some() {
            return Err(s3(
                S3ErrorCode::BucketAlreadyOwnedByYou,
                "Your previous request to create the named bucket succeeded and you already own it.",
            ));
        }
        let vault = self.open_vault(&name, true).await?;
        self.registry
            .set(&name, true)
            .await
            .map_err(|e| vault_error(&e))?;
        open.insert(name.clone(), Arc::new(self.wrap(vault)));
        Ok(S3Response::new(CreateBucketOutput {
            location: Some(format!("/{name}")),
        }))
    }

    /// Registers the existing vault `name` of this identity as a bucket (used by `coffer serve
    /// s3` for the configured vault); nothing happens when it is registered already.
    pub(crate) async fn adopt(&self, name: &str) -> S3Result<BucketEntry> {
        if let Some(e) = self.registry.get(name).await.map_err(|e| vault_error(&e))? {
            return Ok(e);
        }
        check_bucket_name(name)?;
        let _ = self.open_vault(name, false).await?;
        self.registry
            .set(name, true)
            .await
            .map_err(|e| vault_error(&e))
    }

    /// DeleteBucket: refuses a bucket that holds objects (`BucketNotEmpty`); aborts its
    /// multipart uploads. The vault stays in the store (stores keep heads), so creating the
    /// bucket again reuses it.
    pub(crate) async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        let name = req.input.bucket;
        let bucket = self.bucket(&name).await?;
        let mut open = self.open.lock().await;
        {
            let vault = bucket.vault.write().await;
            let page = vault
                .list(&ListRequest {
                    max_keys: Some(1),
                    ..Default::default()
                })
                .await
                .map_err(|e| vault_error(&e))?;
            if !page.contents.is_empty() {
                return Err(s3(
                    S3ErrorCode::BucketNotEmpty,
                    "The bucket you tried to delete is not empty",
                ));
            }
            self.registry
                .set(&name, false)
                .await
                .map_err(|e| vault_error(&e))?;
        }
        open.remove(&name);
        self.uploads.abort_bucket(&name).await;
        Ok(S3Response::new(DeleteBucketOutput {}))
    }

    /// HeadBucket.
    pub(crate) async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.bucket(&req.input.bucket).await?;
        Ok(S3Response::new(HeadBucketOutput {
            bucket_region: Some(self.region.clone()),
            ..Default::default()
        }))
    }

    /// GetBucketLocation: empty (us-east-1) or the configured region.
    pub(crate) async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.bucket(&req.input.bucket).await?;
        let location_constraint = (self.region != "us-east-1")
            .then(|| BucketLocationConstraint::from(self.region.clone()));
        Ok(S3Response::new(GetBucketLocationOutput {
            location_constraint,
        }))
    }

    /// GetBucketVersioning: always `Enabled` (a vault keeps every version).
    pub(crate) async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        self.bucket(&req.input.bucket).await?;
        Ok(S3Response::new(GetBucketVersioningOutput {
            status: Some(BucketVersioningStatus::from_static(
                BucketVersioningStatus::ENABLED,
            )),
            ..Default::default()
        }))
    }

    /// PutBucketVersioning: `Enabled` is what a vault does already; suspending is not possible.
    pub(crate) async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        self.bucket(&req.input.bucket).await?;
        let status = req.input.versioning_configuration.status;
        match status.as_ref().map(BucketVersioningStatus::as_str) {
            Some(BucketVersioningStatus::ENABLED) => {
                Ok(S3Response::new(PutBucketVersioningOutput {}))
            }
            _ => Err(not_implemented(
                "Suspending versioning (a vault always keeps versions)",
            )),
        }
    }

    /// Removes leftovers of a crash (spooled bodies) and completed-upload markers past their
    /// retention; called at start.
    pub(crate) async fn clean_spool(&self) -> std::io::Result<()> {
        let mut dir = tokio::fs::read_dir(&self.tmp_dir).await?;
        while let Some(entry) = dir.next_entry().await? {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
        self.uploads.clean().await;
        Ok(())
    }
}

/// The s3s bucket type (named apart from ours).
use s3s::dto::Bucket as Bucket_;

/// Bucket names: S3's rules (s3s checks them on every request too, so a bucket must pass them to
/// be reachable) and the store's name rules (every S3 name passes); `_coffer…` is reserved.
fn check_bucket_name(name: &str) -> S3Result<()> {
    use s3s::validation::NameValidation;
    crate::store::validate_name(name).map_err(|_| {
        s3(
            S3ErrorCode::InvalidBucketName,
            "The specified bucket is not valid.",
        )
    })?;
    if !s3s::validation::AwsNameValidation::new().validate_bucket_name(name)
        || name.starts_with("_coffer")
    {
        return Err(s3(
            S3ErrorCode::InvalidBucketName,
            "The specified bucket is not valid.",
        ));
    }
    Ok(())
}
