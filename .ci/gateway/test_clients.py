"""Other real clients against the gateway (the AWS CLI, rclone, the AWS SDK for JavaScript), what the
store behind it holds, and one smoke test on SeaweedFS."""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import Gateway

MiB = 1 << 20
HERE = Path(__file__).resolve().parent


def data(n, seed):
    out = bytearray()
    block = hashlib.sha256(seed.encode()).digest()
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:n])


def run(cmd, env, **kw):
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, f"{cmd}: {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


# ---------------------------------------------------------------- the AWS CLI

def test_aws_cli(gw, s3, bucket, tmp_path):
    env = gw.client_env()
    aws = os.environ.get("COFFER_AWS_CLI", "aws")
    big = data(100 * MiB, "aws-big")
    (tmp_path / "big.bin").write_bytes(big)
    run([aws, "s3", "cp", str(tmp_path / "big.bin"), f"s3://{bucket}/big.bin"], env)  # multipart
    run([aws, "s3", "cp", f"s3://{bucket}/big.bin", str(tmp_path / "big.out")], env)  # ranged GETs
    assert (tmp_path / "big.out").read_bytes() == big
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    files = {"small.txt": b"hello\n", "empty": b"", "sub/nested.bin": data(9 * MiB, "aws-nested")}
    for name, body in files.items():
        (src / name).write_bytes(body)
    run([aws, "s3", "sync", str(src), f"s3://{bucket}/tree/"], env)
    listing = run([aws, "s3", "ls", "--recursive", f"s3://{bucket}/tree/"], env)
    for name in files:
        assert f"tree/{name}" in listing
    out = tmp_path / "out"
    run([aws, "s3", "sync", f"s3://{bucket}/tree/", str(out)], env)
    for name, body in files.items():
        assert (out / name).read_bytes() == body, name
    head = json.loads(run([aws, "s3api", "head-object", "--bucket", bucket, "--key", "tree/small.txt"], env))
    assert head["ETag"] == f'"{hashlib.md5(b"hello").hexdigest()}"' or head["ContentLength"] == 6
    run([aws, "s3api", "put-object-tagging", "--bucket", bucket, "--key", "tree/small.txt",
         "--tagging", "TagSet=[{Key=a,Value=b}]"], env)
    tags = json.loads(run([aws, "s3api", "get-object-tagging", "--bucket", bucket, "--key", "tree/small.txt"], env))
    assert tags["TagSet"] == [{"Key": "a", "Value": "b"}]
    run([aws, "s3", "mv", f"s3://{bucket}/tree/small.txt", f"s3://{bucket}/moved.txt"], env)
    assert s3.get_object(Bucket=bucket, Key="moved.txt")["Body"].read() == b"hello\n"
    run([aws, "s3", "rm", "--recursive", f"s3://{bucket}/tree/"], env)
    assert "tree/" not in run([aws, "s3", "ls", "--recursive", f"s3://{bucket}/"], env)
    presigned = run([aws, "s3", "presign", f"s3://{bucket}/moved.txt", "--expires-in", "60"], env).strip()
    import urllib.request
    with urllib.request.urlopen(presigned) as r:
        assert r.read() == b"hello\n"


# ---------------------------------------------------------------- rclone

def test_rclone(gw, bucket, tmp_path):
    rclone = shutil.which("rclone")
    if rclone is None:
        pytest.fail("rclone is not installed (.ci/test-gateway.sh installs it)")
    key, secret = gw.keys()
    env = dict(os.environ)
    env.pop("AWS_CA_BUNDLE", None)  # rclone 1.60 chokes on it
    env.update({
        "RCLONE_CONFIG": str(tmp_path / "rclone.conf"),
        "RCLONE_CONFIG_GW_TYPE": "s3",
        "RCLONE_CONFIG_GW_PROVIDER": "Other",
        "RCLONE_CONFIG_GW_ACCESS_KEY_ID": key,
        "RCLONE_CONFIG_GW_SECRET_ACCESS_KEY": secret,
        "RCLONE_CONFIG_GW_ENDPOINT": gw.endpoint,
        "RCLONE_CONFIG_GW_REGION": "us-east-1",
        "RCLONE_CONFIG_GW_FORCE_PATH_STYLE": "true",
        "RCLONE_CONFIG_GW_CHUNK_SIZE": "5Mi",
        "RCLONE_CONFIG_GW_UPLOAD_CUTOFF": "10Mi",
    })
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    files = {"a.txt": b"rclone says hi\n", "d/b.bin": data(3 * MiB + 5, "rc-b"),
             "big.bin": data(100 * MiB, "rc-big"), "zero": b""}
    for n, b in files.items():
        (src / n).write_bytes(b)
    run([rclone, "copy", str(src), f"gw:{bucket}/rc"], env)
    run([rclone, "check", str(src), f"gw:{bucket}/rc"], env)  # sizes and MD5s (ETags)
    lsjson = json.loads(run([rclone, "lsjson", "-R", "--files-only", f"gw:{bucket}/rc"], env))
    assert sorted(e["Path"] for e in lsjson) == sorted(files)
    part = subprocess.run(
        [rclone, "cat", "--offset", "1000", "--count", "100", f"gw:{bucket}/rc/d/b.bin"],
        env=env, capture_output=True, timeout=120).stdout
    assert part == files["d/b.bin"][1000:1100]
    out = tmp_path / "out"
    run([rclone, "copy", f"gw:{bucket}/rc", str(out)], env)
    for n, b in files.items():
        assert (out / n).read_bytes() == b, n
    run([rclone, "delete", f"gw:{bucket}/rc/d"], env)
    lsjson = json.loads(run([rclone, "lsjson", "-R", "--files-only", f"gw:{bucket}/rc"], env))
    assert sorted(e["Path"] for e in lsjson) == ["a.txt", "big.bin", "zero"]


# ---------------------------------------------------------------- AWS SDK for JavaScript v3

def test_node_sdk(gw):
    node_dir = os.environ.get("COFFER_GATEWAY_NODE_DIR")
    if not node_dir:
        pytest.fail("COFFER_GATEWAY_NODE_DIR is not set (.ci/test-gateway.sh installs the SDK)")
    script = Path(node_dir) / "s3-client.test.mjs"
    shutil.copy(HERE / "node" / "s3-client.test.mjs", script)
    env = gw.client_env()
    r = subprocess.run(["node", "--test", str(script)], env=env, capture_output=True, text=True, timeout=300)
    print(r.stdout[-4000:])
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-3000:]


# ---------------------------------------------------------------- what the store holds

def test_store_holds_no_plaintext_and_no_key_names(gw, s3, bucket, tmp_path):
    marker = b"PLAINTEXT-MARKER-7f3a9c1e-" * 4096
    keyname = "secret-client-list/quarterly-report-4f8e2d.xlsx"
    s3.put_object(Bucket=bucket, Key=keyname, Body=marker, Metadata={"owner-note": "metadata-marker-91b2"},
                  Tagging="tag-marker-55c3=yes")
    s3.copy_object(Bucket=bucket, Key=keyname + ".copy", CopySource={"Bucket": bucket, "Key": keyname})
    up = s3.create_multipart_upload(Bucket=bucket, Key="multipart-key-name-a91c")["UploadId"]
    p = s3.upload_part(Bucket=bucket, Key="multipart-key-name-a91c", UploadId=up, PartNumber=1, Body=marker)
    s3.complete_multipart_upload(Bucket=bucket, Key="multipart-key-name-a91c", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    assert s3.get_object(Bucket=bucket, Key=keyname)["Body"].read() == marker
    needles = [b"PLAINTEXT-MARKER-7f3a9c1e", b"quarterly-report-4f8e2d", b"secret-client-list",
               b"multipart-key-name-a91c", b"metadata-marker-91b2", b"tag-marker-55c3"]
    files = [f for f in gw.store_dir.rglob("*") if f.is_file()]
    assert len(files) > 10
    for f in files:
        content = f.read_bytes()
        for n in needles:
            assert n not in content, f"{n!r} found in {f}"
        assert keyname.encode() not in f.name.encode()
    # grep agrees (and proves the search itself works on a file that does hold the marker).
    r = subprocess.run(["grep", "-rlF", "PLAINTEXT-MARKER-7f3a9c1e", str(gw.store_dir)], capture_output=True)
    assert r.returncode == 1, r.stdout
    probe = tmp_path / "probe"
    probe.write_bytes(marker)
    r = subprocess.run(["grep", "-rlF", "PLAINTEXT-MARKER-7f3a9c1e", str(tmp_path)], capture_output=True)
    assert r.returncode == 0


# ---------------------------------------------------------------- SeaweedFS behind the gateway

def test_seaweedfs_smoke(tmp_path):
    endpoint = os.environ.get("COFFER_TEST_S3_ENDPOINT")
    store_bucket = os.environ.get("COFFER_TEST_S3_BUCKET")
    if not endpoint or not store_bucket:
        pytest.fail("COFFER_TEST_S3_ENDPOINT/BUCKET are not set (.ci/test-gateway.sh starts SeaweedFS)")
    prefix = f"gateway-smoke-{os.getpid()}"
    url = f"s3://{store_bucket}/{prefix}?endpoint={endpoint}&path_style=true&region=us-east-1"
    g = Gateway(tmp_path / "home", url).start()
    try:
        s3 = g.client()
        s3.create_bucket(Bucket="weed")
        body = data(7 * MiB + 11, "weed")
        s3.put_object(Bucket="weed", Key="a/b.bin", Body=body)
        up = s3.create_multipart_upload(Bucket="weed", Key="mp")["UploadId"]
        p1 = s3.upload_part(Bucket="weed", Key="mp", UploadId=up, PartNumber=1, Body=body[:5 * MiB])
        p2 = s3.upload_part(Bucket="weed", Key="mp", UploadId=up, PartNumber=2, Body=body[5 * MiB:])
        s3.complete_multipart_upload(Bucket="weed", Key="mp", UploadId=up, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
        assert s3.get_object(Bucket="weed", Key="a/b.bin")["Body"].read() == body
        assert s3.get_object(Bucket="weed", Key="mp")["Body"].read() == body
        assert s3.get_object(Bucket="weed", Key="a/b.bin", Range="bytes=-100")["Body"].read() == body[-100:]
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="weed")["Contents"]] == ["a/b.bin", "mp"]
        assert "weed" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
        s3.delete_object(Bucket="weed", Key="mp")
        g.restart()
        s3 = g.client()
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="weed")["Contents"]] == ["a/b.bin"]
    finally:
        g.stop()
