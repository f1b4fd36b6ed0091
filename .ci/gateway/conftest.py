"""Fixtures for the gateway's client tests: `coffer serve s3` processes on 127.0.0.1 over a
directory store in a temporary coffer home, and clients configured for them.

Run by .ci/test-gateway.sh (which installs the clients); COFFER_BIN names the coffer binary.
"""

import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
import botocore.config
import pytest

COFFER = os.environ.get("COFFER_BIN", "coffer")


class Gateway:
    """One `coffer serve s3` process and its coffer home (kept across restarts)."""

    def __init__(self, home: Path, store_url: str, extra_args=()):
        self.home = home
        self.store_url = store_url
        self.extra_args = list(extra_args)
        self.proc = None
        self.endpoint = None
        self.port = 0
        env = self.env()
        subprocess.run(
            [COFFER, "init", "--store", store_url, "--vault", "default"],
            env=env, check=True, capture_output=True,
        )

    def env(self):
        env = dict(os.environ)
        env["COFFER_HOME"] = str(self.home)
        for k in ("COFFER_IDENTITY", "COFFER_STORE"):
            env.pop(k, None)
        return env

    def start(self):
        listen = f"127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [COFFER, "serve", "s3", "--listen", listen, *self.extra_args],
            env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.time() + 60
        for line in self.proc.stdout:
            m = re.match(r"coffer S3 gateway on (http://127\.0\.0\.1:(\d+))", line)
            if m:
                self.endpoint = m.group(1)
                self.port = int(m.group(2))
                break
            if time.time() > deadline:
                break
        if self.endpoint is None:
            self.proc.kill()
            raise RuntimeError("the gateway did not start: " + self.proc.stderr.read())
        # Keep draining stdout so the process never blocks on a full pipe.
        import threading
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        return self

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()

    @property
    def credentials_file(self):
        return self.home / "gateway" / "credentials"

    def keys(self):
        text = self.credentials_file.read_text()
        key = re.search(r"aws_access_key_id = (\S+)", text).group(1)
        secret = re.search(r"aws_secret_access_key = (\S+)", text).group(1)
        return key, secret

    def client_env(self):
        """What a client shell exports (as `coffer serve s3` prints it)."""
        key, secret = self.keys()
        env = dict(os.environ)
        env.update({
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        })
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SHARED_CREDENTIALS_FILE"):
            env.pop(k, None)
        return env

    def client(self, secret=None, access_key=None, **config):
        key, real_secret = self.keys()
        cfg = botocore.config.Config(
            s3={"addressing_style": "path"},
            retries={"max_attempts": 1, "mode": "standard"},
            **config,
        )
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access_key or key,
            aws_secret_access_key=secret or real_secret,
            region_name="us-east-1",
            config=cfg,
        )


def new_gateway(tmp: Path, extra_args=()):
    store = tmp / "store"
    return Gateway(tmp / "home", f"file://{store}", extra_args).start()


@pytest.fixture(scope="session")
def gw():
    """The main gateway: a directory store, default limits, small timeouts for the tests."""
    with tempfile.TemporaryDirectory(prefix="coffer-gw-") as d:
        g = new_gateway(Path(d), ["--body-idle-timeout", "3"])
        g.store_dir = Path(d) / "store"
        try:
            yield g
        finally:
            g.stop()


@pytest.fixture(scope="session")
def s3(gw):
    return gw.client()


_counter = [0]


@pytest.fixture
def bucket(s3):
    """A fresh bucket per test."""
    _counter[0] += 1
    name = f"t{os.getpid()}-{_counter[0]}-{int(time.time() * 1000) % 100000}"
    s3.create_bucket(Bucket=name)
    return name


def err(excinfo):
    """(HTTP status, S3 error code) of a botocore ClientError."""
    r = excinfo.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]
