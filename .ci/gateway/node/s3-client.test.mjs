// The coffer S3 gateway driven by the AWS SDK for JavaScript v3. The gateway's endpoint and keys
// come from the standard AWS_* variables (as `coffer serve s3 --print-env` prints them).
// Run by .ci/gateway/test_clients.py from the directory where the SDK is installed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import {
  S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, CopyObjectCommand, DeleteObjectCommand, DeleteObjectsCommand,
  PutObjectTaggingCommand, GetObjectTaggingCommand, ListObjectVersionsCommand,
  CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand,
  AbortMultipartUploadCommand, ListPartsCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

const MiB = 1 << 20;
const s3 = new S3Client({
  endpoint: process.env.AWS_ENDPOINT_URL,
  region: "us-east-1",
  forcePathStyle: true,
  maxAttempts: 1,
});
const bucket = `node-${process.pid}-${Date.now() % 100000}`;
const md5 = (b) => createHash("md5").update(b).digest("hex");
const bytes = async (out) => Buffer.from(await out.Body.transformToByteArray());
const status = async (p) => {
  try {
    await p;
    return 200;
  } catch (e) {
    return [e.$metadata?.httpStatusCode, e.name];
  }
};

test("bucket", async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

test("put and get, 0 B to 12 MiB, every byte", async () => {
  for (const size of [0, 1, 70_000, 12 * MiB]) {
    const body = randomBytes(size);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `o/${size}`, Body: body, ContentType: "x/y" }));
    assert.equal(put.ETag, `"${md5(body)}"`);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `o/${size}` }));
    assert.equal(got.ContentType, "x/y");
    assert.ok((await bytes(got)).equals(body));
  }
});

test("multipart, ranges, copies, tags, versions, conditions, deletes", async () => {
  const body = randomBytes(11 * MiB + 17);
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "mp" }));
  const parts = [];
  for (const [n, start, end] of [[1, 0, 5 * MiB], [2, 5 * MiB, 10 * MiB], [3, 10 * MiB, body.length]]) {
    const r = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: "mp", UploadId, PartNumber: n, Body: body.subarray(start, end) }));
    parts.push({ PartNumber: n, ETag: r.ETag });
  }
  const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: "mp", UploadId }));
  assert.deepEqual(listed.Parts.map((p) => p.PartNumber), [1, 2, 3]);
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: "mp", UploadId, MultipartUpload: { Parts: parts } }));
  assert.ok((await bytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "mp" })))).equals(body));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "mp" }));
  assert.match(head.ETag, /^"[0-9a-f]{32}-3"$/);

  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "mp", Range: "bytes=-1000" }));
  assert.ok((await bytes(r)).equals(body.subarray(body.length - 1000)));
  const r2 = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "mp", Range: `bytes=${9 * MiB}-` }));
  assert.ok((await bytes(r2)).equals(body.subarray(9 * MiB)));
  assert.deepEqual(await status(s3.send(new GetObjectCommand({ Bucket: bucket, Key: "mp", Range: `bytes=${body.length}-` }))), [416, "InvalidRange"]);

  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "mp-copy", CopySource: `${bucket}/mp` }));
  assert.ok((await bytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "mp-copy" })))).equals(body));

  await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: "mp", Tagging: { TagSet: [{ Key: "k", Value: "v" }] } }));
  const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: "mp" }));
  assert.deepEqual(tags.TagSet, [{ Key: "k", Value: "v" }]);

  const v1 = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "v", Body: "one" }))).VersionId;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "v", Body: "two" }));
  const vs = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: "v" }));
  assert.equal(vs.Versions.length, 2);
  assert.equal(vs.Versions[1].VersionId, v1);
  assert.equal((await bytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "v", VersionId: v1 })))).toString(), "one");

  assert.deepEqual(await status(s3.send(new PutObjectCommand({ Bucket: bucket, Key: "v", Body: "x", IfNoneMatch: "*" }))), [412, "PreconditionFailed"]);
  assert.deepEqual(await status(s3.send(new GetObjectCommand({ Bucket: bucket, Key: "v", IfMatch: '"nope"' }))), [412, "PreconditionFailed"]);

  const { UploadId: aborted } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "ab" }));
  await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: "ab", UploadId: aborted }));
  assert.deepEqual(await status(s3.send(new ListPartsCommand({ Bucket: bucket, Key: "ab", UploadId: aborted }))), [404, "NoSuchUpload"]);

  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "mp-copy" }));
  const del = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: "v" }, { Key: "nothing" }] } }));
  assert.equal(del.Deleted.length, 2);
  assert.deepEqual(await status(s3.send(new GetObjectCommand({ Bucket: bucket, Key: "v" }))), [404, "NoSuchKey"]);
});

test("listings with pages and a delimiter", async () => {
  for (let i = 0; i < 9; i++) {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `l/${i % 3}/${i}`, Body: `${i}` }));
  }
  let token;
  const keys = [];
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "l/", MaxKeys: 2, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key));
    token = page.NextContinuationToken;
  } while (token);
  assert.equal(keys.length, 9);
  assert.deepEqual(keys, [...keys].sort());
  const rolled = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "l/", Delimiter: "/" }));
  assert.deepEqual(rolled.CommonPrefixes.map((p) => p.Prefix), ["l/0/", "l/1/", "l/2/"]);
});

test("presigned URLs", async () => {
  const body = randomBytes(4096);
  const put = await getSignedUrl(s3, new PutObjectCommand({ Bucket: bucket, Key: "presigned" }), { expiresIn: 60 });
  const res = await fetch(put, { method: "PUT", body });
  assert.equal(res.status, 200);
  const get = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: "presigned" }), { expiresIn: 60 });
  const got = Buffer.from(await (await fetch(get)).arrayBuffer());
  assert.ok(got.equals(body));
  const expired = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: "presigned" }), { expiresIn: 1 });
  await new Promise((r) => setTimeout(r, 2100));
  assert.equal((await fetch(expired)).status, 403);
});
