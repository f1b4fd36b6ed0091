"""The gateway through boto3: what the S3 API reference says each operation does, byte for byte."""

import base64
import datetime
import hashlib
import io
import os
import urllib.error
import urllib.request

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from conftest import err

MiB = 1 << 20


def data(n, seed=0):
    """n pseudo-random bytes (distinct per seed)."""
    out = bytearray()
    block = hashlib.sha256(f"{seed}".encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:n])


def md5(b):
    return hashlib.md5(b).hexdigest()


# ---------------------------------------------------------------- buckets

def test_buckets_create_list_head_delete(s3):
    name = f"bk-{os.getpid()}"
    s3.create_bucket(Bucket=name)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert name in names and "default" in names
    s3.head_bucket(Bucket=name)
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] in (None, "")
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket=name)
    assert err(e) == (409, "BucketAlreadyOwnedByYou")
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket=name)
    assert err(e) == (409, "BucketNotEmpty")
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket=name)
    assert err(e)[0] == 404
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=name)
    assert err(e) == (404, "NoSuchBucket")
    # Created again: the same (empty) vault is reused.
    s3.create_bucket(Bucket=name)
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0


def test_bucket_names_are_checked(s3):
    for bad in ["ab", "UPPER", "a_b_c", "-leading"]:
        with pytest.raises(ClientError) as e:
            s3.create_bucket(Bucket=bad)
        assert err(e)[0] == 400, bad


def test_versioning_cannot_be_suspended(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    with pytest.raises(ClientError) as e:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert err(e) == (501, "NotImplemented")


# ---------------------------------------------------------------- put / get

@pytest.mark.parametrize("size", [0, 1, 65536 + 7, 5 * MiB + 3, 100 * MiB])
def test_put_get_single_part(s3, bucket, size):
    body = data(size, size)
    r = s3.put_object(Bucket=bucket, Key=f"obj-{size}", Body=body, ContentType="application/x-test",
                      Metadata={"colour": "blue"})
    assert r["ETag"] == f'"{md5(body)}"'
    vid = r["VersionId"]
    g = s3.get_object(Bucket=bucket, Key=f"obj-{size}")
    got = g["Body"].read()
    assert got == body
    assert g["ETag"] == f'"{md5(body)}"'
    assert g["ContentLength"] == size
    assert g["ContentType"] == "application/x-test"
    assert g["Metadata"] == {"colour": "blue"}
    assert g["VersionId"] == vid
    h = s3.head_object(Bucket=bucket, Key=f"obj-{size}")
    assert h["ContentLength"] == size and h["ETag"] == g["ETag"]


@pytest.mark.parametrize("size", [5 * MiB, 8 * MiB + 1, 100 * MiB])
def test_multipart_upload_file(s3, bucket, tmp_path, size):
    body = data(size, size + 1)
    src = tmp_path / "src"
    src.write_bytes(body)
    cfg = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB, max_concurrency=4)
    s3.upload_file(str(src), bucket, "big", Config=cfg)
    parts = (size + 5 * MiB - 1) // (5 * MiB)
    digests = b"".join(hashlib.md5(body[i:i + 5 * MiB]).digest() for i in range(0, size, 5 * MiB))
    want = f'"{hashlib.md5(digests).hexdigest()}-{parts}"'
    assert s3.head_object(Bucket=bucket, Key="big")["ETag"] == want
    out = tmp_path / "out"
    s3.download_file(bucket, "big", str(out), Config=cfg)  # ranged GETs in parallel
    assert out.read_bytes() == body


def test_empty_body_with_expect_continue_then_reuse(gw, bucket):
    """An empty PUT with `Expect: 100-continue` (file-like bodies) followed by another such PUT on
    the same connection: botocore misreads the second answer unless the first closed the
    connection (the gateway does)."""
    s3 = gw.client(max_pool_connections=1)
    r = s3.put_object(Bucket=bucket, Key="empty", Body=io.BytesIO(b""))
    assert r["ResponseMetadata"]["HTTPHeaders"].get("connection") == "close"
    r = s3.put_object(Bucket=bucket, Key="after", Body=io.BytesIO(b"after"))
    assert r["ETag"] == f'"{md5(b"after")}"'
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    s3.put_object(Bucket=bucket, Key="empty2", Body=io.BytesIO(b""))
    p = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=io.BytesIO(b"part"))
    assert p["ETag"] == f'"{md5(b"part")}"'


def test_stored_headers_and_response_overrides(s3, bucket):
    s3.put_object(Bucket=bucket, Key="h", Body=b"hello", CacheControl="max-age=60",
                  ContentDisposition='attachment; filename="h.txt"', ContentEncoding="identity",
                  ContentLanguage="en", Expires=datetime.datetime(2094, 12, 1, tzinfo=datetime.timezone.utc),
                  WebsiteRedirectLocation="/other")
    g = s3.get_object(Bucket=bucket, Key="h")
    assert g["CacheControl"] == "max-age=60"
    assert g["ContentDisposition"] == 'attachment; filename="h.txt"'
    assert g["ContentEncoding"] == "identity"
    assert g["ContentLanguage"] == "en"
    assert g["Expires"].year == 2094
    assert g["WebsiteRedirectLocation"] == "/other"
    assert g["ContentType"] == "binary/octet-stream"  # S3's default
    g = s3.get_object(Bucket=bucket, Key="h", ResponseContentType="text/plain",
                      ResponseCacheControl="no-store", ResponseContentDisposition="inline")
    assert g["ContentType"] == "text/plain"
    assert g["CacheControl"] == "no-store"
    assert g["ContentDisposition"] == "inline"


def test_content_md5_and_checksums(s3, bucket):
    body = b"checked body"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="m", Body=body, ContentMD5=good)
    bad = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="m2", Body=body, ContentMD5=bad)
    assert err(e) == (400, "BadDigest")
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="m2")
    for algo in ["CRC32", "SHA1", "SHA256"]:  # CRC32C needs botocore[crt]
        r = s3.put_object(Bucket=bucket, Key=f"c-{algo}", Body=body, ChecksumAlgorithm=algo)
        assert r.get(f"Checksum{algo}"), r
        assert s3.get_object(Bucket=bucket, Key=f"c-{algo}")["Body"].read() == body
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="c-bad", Body=body,
                      ChecksumSHA256=base64.b64encode(hashlib.sha256(b"x").digest()).decode())
    assert err(e) == (400, "BadDigest")


# ---------------------------------------------------------------- ranges

def test_ranges(s3, bucket):
    body = data(300_000, 9)
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    cases = {
        "bytes=0-0": body[0:1],
        "bytes=10-19": body[10:20],
        "bytes=-10": body[-10:],
        "bytes=299990-": body[299990:],
        "bytes=100-999999": body[100:],
        "bytes=-400000": body,
        "bytes=65530-200000": body[65530:200001],
    }
    for rng, want in cases.items():
        g = s3.get_object(Bucket=bucket, Key="r", Range=rng)
        assert g["Body"].read() == want, rng
        assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert g["ContentRange"].endswith("/300000")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=300000-")
    assert err(e) == (416, "InvalidRange")
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="empty", Range="bytes=0-")
    assert err(e) == (416, "InvalidRange")


def test_large_range_spans_pieces(s3, bucket):
    body = data(20 * MiB + 123, 11)
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    g = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={3 * MiB}-{19 * MiB}")
    assert g["Body"].read() == body[3 * MiB:19 * MiB + 1]


# ---------------------------------------------------------------- listings

KEYS = sorted(
    [f"photos/2024/{i:02}.jpg" for i in range(12)]
    + [f"photos/2025/{i:02}.jpg" for i in range(5)]
    + [f"docs/{n}" for n in ["a.txt", "b.txt", "c/d.txt"]]
    + ["top1", "top2", "with space", "plus+sign", "percent%", "ü-umlaut", "a/b/c/d"]
)


@pytest.fixture
def listed(s3, bucket):
    for k in KEYS:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    return bucket


def expected(prefix="", delimiter=None):
    keys, prefixes = [], []
    for k in KEYS:
        if not k.startswith(prefix):
            continue
        rest = k[len(prefix):]
        if delimiter and delimiter in rest:
            p = prefix + rest[: rest.index(delimiter) + len(delimiter)]
            if p not in prefixes:
                prefixes.append(p)
        else:
            keys.append(k)
    return keys, prefixes


@pytest.mark.parametrize("prefix,delimiter", [("", None), ("", "/"), ("photos/", "/"),
                                              ("photos/2024/", None), ("nothing", "/")])
@pytest.mark.parametrize("page", [1, 4, 1000])
def test_list_v2_pages(s3, listed, prefix, delimiter, page):
    keys, prefixes = [], []
    kw = {"Bucket": listed, "Prefix": prefix, "MaxKeys": page}
    if delimiter:
        kw["Delimiter"] = delimiter
    pages = 0
    while True:
        r = s3.list_objects_v2(**kw)
        pages += 1
        assert r["KeyCount"] == len(r.get("Contents", [])) + len(r.get("CommonPrefixes", []))
        assert r["KeyCount"] <= page
        keys += [o["Key"] for o in r.get("Contents", [])]
        prefixes += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        for o in r.get("Contents", []):
            assert o["Size"] == len(o["Key"].encode())
            assert o["ETag"] == f'"{md5(o["Key"].encode())}"'
        if not r["IsTruncated"]:
            assert "NextContinuationToken" not in r
            break
        kw["ContinuationToken"] = r["NextContinuationToken"]
    want_keys, want_prefixes = expected(prefix, delimiter)
    assert keys == want_keys
    assert prefixes == want_prefixes
    assert pages <= (len(want_keys) + len(want_prefixes)) // page + 1


def test_list_v2_start_after_and_paginator(s3, listed):
    r = s3.list_objects_v2(Bucket=listed, StartAfter="photos/2024/05.jpg", Prefix="photos/")
    assert [o["Key"] for o in r["Contents"]][0] == "photos/2024/06.jpg"
    keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(
        Bucket=listed, PaginationConfig={"PageSize": 3}) for o in p.get("Contents", [])]
    assert keys == KEYS  # boto3 asks for encoding-type=url and decodes
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket=listed, ContinuationToken="not-a-token")
    assert err(e) == (400, "InvalidArgument")


def test_list_v1_markers(s3, listed):
    keys, prefixes, marker = [], [], ""
    while True:
        r = s3.list_objects(Bucket=listed, Marker=marker, MaxKeys=3, Delimiter="/")
        keys += [o["Key"] for o in r.get("Contents", [])]
        prefixes += [p["Prefix"] for p in r.get("CommonPrefixes", [])]
        if not r["IsTruncated"]:
            break
        marker = r["NextMarker"]
    want_keys, want_prefixes = expected("", "/")
    assert keys == want_keys and prefixes == want_prefixes
    allkeys = [o["Key"] for p in s3.get_paginator("list_objects").paginate(
        Bucket=listed, PaginationConfig={"PageSize": 4}) for o in p.get("Contents", [])]
    assert allkeys == KEYS


def test_list_max_keys_zero(s3, listed):
    r = s3.list_objects_v2(Bucket=listed, MaxKeys=0)
    assert r["KeyCount"] == 0 and not r["IsTruncated"]


# ---------------------------------------------------------------- copies

def test_copy_object(s3, bucket, gw):
    body = data(70_000, 3)
    s3.put_object(Bucket=bucket, Key="src", Body=body, ContentType="text/x-src", Metadata={"a": "1"},
                  Tagging="t=1")
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == f'"{md5(body)}"'
    g = s3.get_object(Bucket=bucket, Key="dst")
    assert g["Body"].read() == body
    assert g["ContentType"] == "text/x-src" and g["Metadata"] == {"a": "1"}
    assert s3.get_object_tagging(Bucket=bucket, Key="dst")["TagSet"] == [{"Key": "t", "Value": "1"}]
    s3.copy_object(Bucket=bucket, Key="dst2", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", ContentType="text/x-new", Metadata={"b": "2"},
                   TaggingDirective="REPLACE", Tagging="u=2")
    g = s3.get_object(Bucket=bucket, Key="dst2")
    assert g["Body"].read() == body
    assert g["ContentType"] == "text/x-new" and g["Metadata"] == {"b": "2"}
    assert s3.get_object_tagging(Bucket=bucket, Key="dst2")["TagSet"] == [{"Key": "u", "Value": "2"}]
    # Copying onto itself needs a change.
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    assert err(e) == (400, "InvalidRequest")
    s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"c": "3"})
    assert s3.head_object(Bucket=bucket, Key="src")["Metadata"] == {"c": "3"}
    # Conditional copies.
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src"},
                       CopySourceIfMatch='"0123"')
    assert err(e) == (412, "PreconditionFailed")
    s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src"},
                   CopySourceIfMatch=f'"{md5(body)}"')
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src"},
                       CopySourceIfNoneMatch=f'"{md5(body)}"')
    assert err(e) == (412, "PreconditionFailed")
    # Across buckets (re-sealed in the other vault) and from an old version.
    other = bucket + "-o"
    s3.create_bucket(Bucket=other)
    s3.copy_object(Bucket=other, Key="copied", CopySource={"Bucket": bucket, "Key": "src"})
    assert s3.get_object(Bucket=other, Key="copied")["Body"].read() == body
    v1 = s3.put_object(Bucket=bucket, Key="v", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v", Body=b"two")
    r = s3.copy_object(Bucket=bucket, Key="v-old", CopySource={"Bucket": bucket, "Key": "v", "VersionId": v1})
    assert r["CopySourceVersionId"] == v1
    assert s3.get_object(Bucket=bucket, Key="v-old")["Body"].read() == b"one"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=bucket, Key="y", CopySource={"Bucket": bucket, "Key": "missing"})
    assert err(e) == (404, "NoSuchKey")


def test_upload_part_copy(s3, bucket):
    body = data(12 * MiB, 5)
    s3.put_object(Bucket=bucket, Key="src", Body=body)
    up = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    p1 = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=up, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange=f"bytes=0-{6 * MiB - 1}")
    p2 = s3.upload_part_copy(Bucket=bucket, Key="assembled", UploadId=up, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange=f"bytes={6 * MiB}-{12 * MiB - 1}")
    assert p1["CopyPartResult"]["ETag"] == f'"{md5(body[:6 * MiB])}"'
    s3.complete_multipart_upload(Bucket=bucket, Key="assembled", UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": p2["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == body
    with pytest.raises(ClientError) as e:
        up2 = s3.create_multipart_upload(Bucket=bucket, Key="z")["UploadId"]
        s3.upload_part_copy(Bucket=bucket, Key="z", UploadId=up2, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "src"},
                            CopySourceRange=f"bytes=0-{12 * MiB}")
    assert err(e) == (416, "InvalidRange")


# ---------------------------------------------------------------- deletes

def test_delete_object_and_objects(s3, bucket):
    for k in ["a", "b", "c", "d"]:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    r = s3.delete_object(Bucket=bucket, Key="a")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="a")
    assert err(e) == (404, "NoSuchKey")
    # Deleting what is not there succeeds, as in S3.
    assert s3.delete_object(Bucket=bucket, Key="never")["ResponseMetadata"]["HTTPStatusCode"] == 204
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}, {"Key": "c"}, {"Key": "zz"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["b", "c", "zz"]
    assert "Errors" not in r
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d"}], "Quiet": True})
    assert "Deleted" not in r and "Errors" not in r
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    s3.put_object(Bucket=bucket, Key="e", Body=b"e")
    vid = s3.head_object(Bucket=bucket, Key="e")["VersionId"]
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "e", "VersionId": vid}]})
    assert r["Errors"][0]["Code"] == "NotImplemented"
    with pytest.raises(ClientError) as e:
        s3.delete_object(Bucket=bucket, Key="e", VersionId=vid)
    assert err(e) == (501, "NotImplemented")
    assert s3.get_object(Bucket=bucket, Key="e")["Body"].read() == b"e"


# ---------------------------------------------------------------- tags

def test_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="project=apollo&state=draft%20one")
    v = s3.head_object(Bucket=bucket, Key="k")["VersionId"]
    got = s3.get_object_tagging(Bucket=bucket, Key="k")
    assert sorted((t["Key"], t["Value"]) for t in got["TagSet"]) == [("project", "apollo"), ("state", "draft one")]
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 2
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "state", "Value": "final"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "state", "Value": "final"}]
    assert s3.head_object(Bucket=bucket, Key="k")["VersionId"] == v  # tags make no version
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    with pytest.raises(ClientError) as e:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [
            {"Key": f"k{i}", "Value": "v"} for i in range(11)]})
    assert err(e) == (400, "InvalidTag")
    with pytest.raises(ClientError) as e:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert err(e) == (404, "NoSuchKey")


# ---------------------------------------------------------------- versions

def test_versions(s3, bucket):
    ids = [s3.put_object(Bucket=bucket, Key="doc", Body=f"v{i}".encode())["VersionId"] for i in range(3)]
    s3.put_object(Bucket=bucket, Key="other", Body=b"o")
    for i, vid in enumerate(ids):
        assert s3.get_object(Bucket=bucket, Key="doc", VersionId=vid)["Body"].read() == f"v{i}".encode()
        assert s3.head_object(Bucket=bucket, Key="doc", VersionId=vid)["ContentLength"] == 2
    r = s3.list_object_versions(Bucket=bucket, Prefix="doc")
    vs = r["Versions"]
    assert [v["VersionId"] for v in vs] == list(reversed(ids))
    assert [v["IsLatest"] for v in vs] == [True, False, False]
    # Pages of two.
    seen, kw = [], {"Bucket": bucket, "MaxKeys": 2}
    while True:
        r = s3.list_object_versions(**kw)
        seen += [(v["Key"], v["VersionId"]) for v in r.get("Versions", [])]
        if not r["IsTruncated"]:
            break
        kw.update(KeyMarker=r["NextKeyMarker"], VersionIdMarker=r["NextVersionIdMarker"])
    assert seen == [("doc", v) for v in reversed(ids)] + [("other", s3.head_object(Bucket=bucket, Key="other")["VersionId"])]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="other", VersionId=ids[0])
    assert err(e) == (404, "NoSuchVersion")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="doc", VersionId="not-a-version")
    assert err(e)[0] == 400


# ---------------------------------------------------------------- conditional requests

def test_conditional_writes(s3, bucket):
    s3.put_object(Bucket=bucket, Key="c", Body=b"1", IfNoneMatch="*")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="c", Body=b"2", IfNoneMatch="*")
    assert err(e) == (412, "PreconditionFailed")
    etag = s3.head_object(Bucket=bucket, Key="c")["ETag"]
    s3.put_object(Bucket=bucket, Key="c", Body=b"3", IfMatch=etag)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="c", Body=b"4", IfMatch=etag)  # no longer current
    assert err(e) == (412, "PreconditionFailed")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"4", IfMatch=etag)
    assert err(e) == (404, "NoSuchKey")
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"3"
    # Multipart completion honours If-None-Match too.
    up = s3.create_multipart_upload(Bucket=bucket, Key="c")["UploadId"]
    p = s3.upload_part(Bucket=bucket, Key="c", UploadId=up, PartNumber=1, Body=b"5")
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="c", UploadId=up, IfNoneMatch="*",
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    assert err(e) == (412, "PreconditionFailed")


def test_conditional_reads(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="c", Body=b"read me")
    etag = r["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    past = modified - datetime.timedelta(days=1)
    future = modified + datetime.timedelta(days=1)
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"read me"
    for kw, status in [({"IfMatch": '"nope"'}, 412), ({"IfNoneMatch": etag}, 304),
                       ({"IfModifiedSince": future}, 304), ({"IfUnmodifiedSince": past}, 412),
                       ({"IfModifiedSince": modified}, 304)]:
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket=bucket, Key="c", **kw)
        assert err(e)[0] == status, kw
        with pytest.raises(ClientError) as e:
            s3.head_object(Bucket=bucket, Key="c", **kw)
        assert err(e)[0] == status, kw
    # If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since.
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=past)["Body"].read()
    assert s3.get_object(Bucket=bucket, Key="c", IfNoneMatch='"other"', IfModifiedSince=future)["Body"].read()
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=past)["Body"].read() == b"read me"


# ---------------------------------------------------------------- presigned URLs

def test_presigned_urls(gw, bucket):
    s3 = gw.client(signature_version="s3v4")
    put = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=300)
    body = data(100_000, 7)
    req = urllib.request.Request(put, data=body, method="PUT")
    with urllib.request.urlopen(req) as r:
        assert r.status == 200
    get = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=300)
    with urllib.request.urlopen(get) as r:
        assert r.read() == body
    # A tampered URL is refused.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(get.replace("/p?", "/q?"))
    assert e.value.code == 403
    # Legacy SigV2 query strings (boto3's default for presigning) work too.
    v2 = gw.client(signature_version="s3").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=300)
    assert "Signature=" in v2
    with urllib.request.urlopen(v2) as r:
        assert r.read() == body


# ---------------------------------------------------------------- multipart bookkeeping

def test_multipart_listings_and_abort(s3, bucket):
    ups = [s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"] for k in ["m/a", "m/b", "n"]]
    r = s3.list_multipart_uploads(Bucket=bucket)
    assert [u["Key"] for u in r["Uploads"]] == ["m/a", "m/b", "n"]
    r = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["m/"]
    assert [u["Key"] for u in r["Uploads"]] == ["n"]
    r = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=1)
    assert r["IsTruncated"] and r["NextKeyMarker"] == "m/a"
    r = s3.list_multipart_uploads(Bucket=bucket, KeyMarker=r["NextKeyMarker"], UploadIdMarker=r["NextUploadIdMarker"])
    assert [u["Key"] for u in r["Uploads"]] == ["m/b", "n"]
    for i in range(1, 4):
        s3.upload_part(Bucket=bucket, Key="n", UploadId=ups[2], PartNumber=i, Body=bytes([i]) * 10)
    r = s3.list_parts(Bucket=bucket, Key="n", UploadId=ups[2], MaxParts=2)
    assert [p["PartNumber"] for p in r["Parts"]] == [1, 2] and r["IsTruncated"]
    r = s3.list_parts(Bucket=bucket, Key="n", UploadId=ups[2], PartNumberMarker=r["NextPartNumberMarker"])
    assert [p["PartNumber"] for p in r["Parts"]] == [3] and not r["IsTruncated"]
    assert r["Parts"][0]["ETag"] == f'"{md5(bytes([3]) * 10)}"'
    for k, u in zip(["m/a", "m/b", "n"], ups):
        assert s3.abort_multipart_upload(Bucket=bucket, Key=k, UploadId=u)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket) or not s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="n", UploadId=ups[2], PartNumber=1, Body=b"x")
    assert err(e) == (404, "NoSuchUpload")
    # A replaced part counts as its last upload; a retried Complete gets the same answer.
    up = s3.create_multipart_upload(Bucket=bucket, Key="r", ContentType="text/x-mp", Metadata={"m": "1"})["UploadId"]
    s3.upload_part(Bucket=bucket, Key="r", UploadId=up, PartNumber=1, Body=b"old")
    p = s3.upload_part(Bucket=bucket, Key="r", UploadId=up, PartNumber=1, Body=b"new")
    done = dict(Bucket=bucket, Key="r", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    a = s3.complete_multipart_upload(**done)
    b = s3.complete_multipart_upload(**done)
    assert a["ETag"] == b["ETag"] == f'"{hashlib.md5(hashlib.md5(b"new").digest()).hexdigest()}-1"'
    g = s3.get_object(Bucket=bucket, Key="r")
    assert g["Body"].read() == b"new" and g["ContentType"] == "text/x-mp" and g["Metadata"] == {"m": "1"}
