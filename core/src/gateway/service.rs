//! The S3 operations the gateway answers, each handed to the module of its family. Every other
//! operation gets s3s's default answer, `NotImplemented` (501).

use std::sync::Arc;

use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result};

use super::buckets::Shared;
use super::{listing, multipart, objects, tagging};
use crate::store::{BlockStore, HeadStore};

/// The gateway's implementation of the S3 API.
pub(crate) struct CofferS3<S: BlockStore + HeadStore + ?Sized>(pub(crate) Arc<Shared<S>>);

type Res<T> = S3Result<S3Response<T>>;

#[async_trait::async_trait]
impl<S: BlockStore + HeadStore + ?Sized + 'static> S3 for CofferS3<S> {
    async fn list_buckets(&self, req: S3Request<ListBucketsInput>) -> Res<ListBucketsOutput> {
        self.0.list_buckets(req).await
    }

    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> Res<CreateBucketOutput> {
        self.0.create_bucket(req).await
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> Res<DeleteBucketOutput> {
        self.0.delete_bucket(req).await
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> Res<HeadBucketOutput> {
        self.0.head_bucket(req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> Res<GetBucketLocationOutput> {
        self.0.get_bucket_location(req).await
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> Res<GetBucketVersioningOutput> {
        self.0.get_bucket_versioning(req).await
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> Res<PutBucketVersioningOutput> {
        self.0.put_bucket_versioning(req).await
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> Res<PutObjectOutput> {
        objects::put_object(&self.0, req).await
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> Res<GetObjectOutput> {
        objects::get_object(&self.0, req).await
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> Res<HeadObjectOutput> {
        objects::head_object(&self.0, req).await
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> Res<DeleteObjectOutput> {
        objects::delete_object(&self.0, req).await
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> Res<DeleteObjectsOutput> {
        objects::delete_objects(&self.0, req).await
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> Res<CopyObjectOutput> {
        objects::copy_object(&self.0, req).await
    }

    async fn list_objects_v2(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> Res<ListObjectsV2Output> {
        listing::list_objects_v2(&self.0, req).await
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> Res<ListObjectsOutput> {
        listing::list_objects(&self.0, req).await
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> Res<ListObjectVersionsOutput> {
        listing::list_object_versions(&self.0, req).await
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> Res<GetObjectTaggingOutput> {
        tagging::get_object_tagging(&self.0, req).await
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> Res<PutObjectTaggingOutput> {
        tagging::put_object_tagging(&self.0, req).await
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> Res<DeleteObjectTaggingOutput> {
        tagging::delete_object_tagging(&self.0, req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> Res<CreateMultipartUploadOutput> {
        multipart::create(&self.0, req).await
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> Res<UploadPartOutput> {
        multipart::upload_part(&self.0, req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> Res<UploadPartCopyOutput> {
        multipart::upload_part_copy(&self.0, req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> Res<CompleteMultipartUploadOutput> {
        multipart::complete(&self.0, req).await
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> Res<AbortMultipartUploadOutput> {
        multipart::abort(&self.0, req).await
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> Res<ListMultipartUploadsOutput> {
        multipart::list_uploads(&self.0, req).await
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> Res<ListPartsOutput> {
        multipart::list_parts(&self.0, req).await
    }
}
