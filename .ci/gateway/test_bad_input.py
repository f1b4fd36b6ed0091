"""Bad input: each gets S3's status and error code, and loses nothing."""

import hashlib
import http.client
import os
import signal
import socket
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import err, new_gateway

MiB = 1 << 20


def signed_headers(gw, method, path, body=b"", headers=None, payload_hash=None):
    key, secret = gw.keys()
    url = gw.endpoint + path
    h = dict(headers or {})
    h["x-amz-content-sha256"] = payload_hash or hashlib.sha256(body).hexdigest()
    req = AWSRequest(method=method, url=url, data=body, headers=h)
    SigV4Auth(Credentials(key, secret), "s3", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def raw(gw, method, path, body=b"", headers=None):
    """A signed request sent as is; returns (status, body)."""
    h = signed_headers(gw, method, path, body, headers)
    u = urlparse(gw.endpoint)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    out = r.status, r.read()
    c.close()
    return out


def code_of(body):
    import re
    m = re.search(rb"<Code>([^<]+)</Code>", body)
    return m.group(1).decode() if m else None


def test_wrong_signature_and_unknown_key(gw, bucket):
    bad = gw.client(secret="x" * 40)
    with pytest.raises(ClientError) as e:
        bad.list_objects_v2(Bucket=bucket)
    assert err(e) == (403, "SignatureDoesNotMatch")
    with pytest.raises(ClientError) as e:
        bad.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert err(e) == (403, "SignatureDoesNotMatch")
    stranger = gw.client(access_key="AKIAUNKNOWN000000000")
    with pytest.raises(ClientError) as e:
        stranger.list_buckets()
    assert err(e) == (403, "InvalidAccessKeyId")
    assert gw.client().list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_anonymous_requests_are_refused(gw, bucket):
    for url in [gw.endpoint + "/", f"{gw.endpoint}/{bucket}", f"{gw.endpoint}/{bucket}/k"]:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url)
        assert e.value.code == 403
        assert code_of(e.value.read()) == "AccessDenied"


def test_tampered_payload_hash(gw, bucket):
    body = b"the real body"
    h = signed_headers(gw, "PUT", f"/{bucket}/tampered", body)
    u = urlparse(gw.endpoint)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("PUT", f"/{bucket}/tampered", body=b"the fake body", headers=h)
    r = c.getresponse()
    assert r.status in (400, 403), r.status
    r.read()
    with pytest.raises(ClientError) as e:
        gw.client().head_object(Bucket=bucket, Key="tampered")
    assert err(e)[0] == 404


def test_expired_presigned_url(gw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="p", Body=b"x")
    urls = [gw.client(signature_version=v).generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=1) for v in ["s3v4", "s3"]]
    with urllib.request.urlopen(urls[0]) as r:
        assert r.read() == b"x"
    time.sleep(2.5)
    for url in urls:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url)
        assert e.value.code == 403
        assert code_of(e.value.read()) == "AccessDenied"


def test_unknown_bucket_and_key(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="no-such-bucket-here", Key="k")
    assert err(e) == (404, "NoSuchBucket")
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="no-such-bucket-here", Key="k", Body=b"x")
    assert err(e) == (404, "NoSuchBucket")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=bucket, Key="no/such/key")
    assert err(e) == (404, "NoSuchKey")
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="no/such/key")
    assert err(e)[0] == 404
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="no-such-bucket-here")
    assert err(e) == (404, "NoSuchBucket")


def test_malformed_xml(gw, bucket):
    for path, body in [(f"/{bucket}?delete", b"<Delete><Object><Key>a</Key>"),
                       (f"/{bucket}?delete", b"not xml at all")]:
        status, out = raw(gw, "POST", path, body, {"Content-MD5": ""} if False else None)
        assert status == 400 and code_of(out) == "MalformedXML", (status, out)
    s3 = gw.client()
    up = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    status, out = raw(gw, "POST", f"/{bucket}/m?uploadId={up}", b"<CompleteMultipartUpload><Part>")
    assert status == 400 and code_of(out) == "MalformedXML", out
    status, out = raw(gw, "PUT", f"/{bucket}/m?tagging", b"<Tagging><TagSet><Tag>")
    assert status == 400 and code_of(out) == "MalformedXML", out


def test_mismatched_part_lists(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    small = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=b"a" * 100)
    p2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=2, Body=b"b" * 100)

    def complete(parts):
        with pytest.raises(ClientError) as e:
            s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up,
                                         MultipartUpload={"Parts": parts})
        return err(e)

    assert complete([{"PartNumber": 2, "ETag": p2["ETag"]}, {"PartNumber": 1, "ETag": small["ETag"]}]) \
        == (400, "InvalidPartOrder")
    assert complete([{"PartNumber": 1, "ETag": small["ETag"]}, {"PartNumber": 3, "ETag": p2["ETag"]}]) \
        == (400, "InvalidPart")
    assert complete([{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]) == (400, "InvalidPart")
    assert complete([{"PartNumber": 1, "ETag": small["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]) \
        == (400, "EntityTooSmall")
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=10001, Body=b"x")
    assert err(e)[0] == 400
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId="0" * 32,
                                     MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": small["ETag"]}]})
    assert err(e) == (404, "NoSuchUpload")
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket=bucket, Key="other-key", UploadId=up, PartNumber=1, Body=b"x")
    assert err(e) == (404, "NoSuchUpload")
    # Nothing was committed by the failed completions; a right one works.
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="mp")
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": p2["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"b" * 100


def test_too_large_body():
    with tempfile.TemporaryDirectory(prefix="coffer-gw-small-") as d:
        g = new_gateway(Path(d), ["--max-object-size", "1MiB"])
        try:
            s3 = g.client()
            s3.create_bucket(Bucket="small")
            s3.put_object(Bucket="small", Key="fits", Body=b"x" * MiB)
            with pytest.raises(ClientError) as e:
                s3.put_object(Bucket="small", Key="big", Body=b"x" * (MiB + 1))
            assert err(e) == (400, "EntityTooLarge")
            up = s3.create_multipart_upload(Bucket="small", Key="mp")["UploadId"]
            with pytest.raises(ClientError) as e:
                s3.upload_part(Bucket="small", Key="mp", UploadId=up, PartNumber=1, Body=b"x" * (MiB + 1))
            assert err(e) == (400, "EntityTooLarge")
            with pytest.raises(ClientError):
                s3.head_object(Bucket="small", Key="big")
            assert not list((Path(d) / "home/gateway/tmp").iterdir())
        finally:
            g.stop()


def _partial_put(gw, path, total, sent, close=True):
    """Sends headers for `total` bytes and `sent` of them; closes the connection if asked."""
    h = signed_headers(gw, "PUT", path, payload_hash="UNSIGNED-PAYLOAD",
                       headers={"Content-Length": str(total)})
    h["Content-Length"] = str(total)
    u = urlparse(gw.endpoint)
    s = socket.create_connection((u.hostname, u.port))
    head = f"PUT {path} HTTP/1.1\r\nHost: {u.netloc}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    s.sendall(head.encode())
    s.sendall(b"z" * sent)
    if close:
        s.close()
        return None
    return s


def test_dropped_connection_leaves_nothing(gw, s3, bucket):
    _partial_put(gw, f"/{bucket}/dropped", 8 * MiB, 3 * MiB)
    time.sleep(1)
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=bucket, Key="dropped")
    assert err(e)[0] == 404
    # The spool holds nothing of it.
    assert not [p for p in (gw.home / "gateway/tmp").iterdir()]
    # A stalled body times out (the gateway runs with --body-idle-timeout 3).
    s = _partial_put(gw, f"/{bucket}/stalled", 2 * MiB, MiB, close=False)
    s.settimeout(20)
    reply = s.recv(4096)
    s.close()
    assert b" 400 " in reply.split(b"\r\n")[0] and b"RequestTimeout" in reply, reply[:300]
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="stalled")
    # A dropped part upload leaves the upload as it was.
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="mp", UploadId=up, PartNumber=1, Body=b"ok")
    h = signed_headers(gw, "PUT", f"/{bucket}/mp?partNumber=2&uploadId={up}",
                       payload_hash="UNSIGNED-PAYLOAD", headers={"Content-Length": str(6 * MiB)})
    u = urlparse(gw.endpoint)
    sock = socket.create_connection((u.hostname, u.port))
    head = f"PUT /{bucket}/mp?partNumber=2&uploadId={up} HTTP/1.1\r\nHost: {u.netloc}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    sock.sendall(head.encode() + b"q" * MiB)
    sock.close()
    time.sleep(1)
    parts = s3.list_parts(Bucket=bucket, Key="mp", UploadId=up).get("Parts", [])
    assert [p["PartNumber"] for p in parts] == [1]


def test_restart_mid_multipart(s3, bucket, gw):
    body = bytes(range(256)) * (45 * 1024)  # 11.25 MiB
    up = s3.create_multipart_upload(Bucket=bucket, Key="resumed", ContentType="text/x-resumed")["UploadId"]
    p1 = s3.upload_part(Bucket=bucket, Key="resumed", UploadId=up, PartNumber=1, Body=body[:6 * MiB])
    gw.restart(signal.SIGKILL)  # a crash, not a clean stop
    s3b = gw.client()
    ups = s3b.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [u["UploadId"] for u in ups] == [up]
    parts = s3b.list_parts(Bucket=bucket, Key="resumed", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, p1["ETag"])]
    p2 = s3b.upload_part(Bucket=bucket, Key="resumed", UploadId=up, PartNumber=2, Body=body[6 * MiB:])
    s3b.complete_multipart_upload(Bucket=bucket, Key="resumed", UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
    g = s3b.get_object(Bucket=bucket, Key="resumed")
    assert g["Body"].read() == body and g["ContentType"] == "text/x-resumed"
    # Objects committed before the crash are still there.
    s3b.head_bucket(Bucket=bucket)


def test_unsupported_is_not_implemented(s3, bucket):
    with pytest.raises(ClientError) as e:
        s3.get_bucket_policy(Bucket=bucket)
    assert err(e)[0] == 501
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", SSECustomerAlgorithm="AES256",
                      SSECustomerKey="0" * 32)
    assert err(e)[0] in (400, 501)
