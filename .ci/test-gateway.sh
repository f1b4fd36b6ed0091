#!/usr/bin/env bash
# The S3 gateway (`coffer serve s3`) against real clients, on 127.0.0.1 only:
#   boto3 and the AWS CLI (PyPI, in a cached venv), rclone (Debian), the AWS SDK for JavaScript v3
#   (npm, cached), each uploading, listing, reading ranges, copying, tagging, deleting, with
#   versions, conditions and presigned URLs; bad input; a grep of the store for plaintext and key
#   names; and a smoke test with SeaweedFS behind the gateway. (aws-sdk-s3 from Rust drives the
#   gateway in-process in core/tests/gateway.rs, run by `cargo test --all-features`.)
#
#   .ci/test-gateway.sh [pytest args]
#
# Uses the CLI at $COFFER_BIN when set (CI: the workspace's debug build), else builds a release one. Installs what
# is missing into ${COFFER_CI_CACHE:-$HOME/.cache/coffer-ci}. Starts SeaweedFS when it is not
# running and stops it again.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CACHE="${COFFER_CI_CACHE:-$HOME/.cache/coffer-ci}"
started_at=$SECONDS
say() { printf '== test-gateway: %s\n' "$*"; }

if [ -z "${COFFER_BIN:-}" ]; then
  say "building the release CLI"
  (cd "$ROOT" && cargo build --release -p coffer-cli --quiet)
  COFFER_BIN="$ROOT/target/release/coffer"
fi
export COFFER_BIN
"$COFFER_BIN" serve s3 --help >/dev/null || { echo "test-gateway: $COFFER_BIN has no gateway" >&2; exit 1; }

# Python clients, pinned.
VENV="$CACHE/gateway-venv"
PY_PINS="boto3==1.43.11 awscli==1.45.11 pytest==9.2.0"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$PY_PINS" ]; then
  say "installing $PY_PINS into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install --quiet --disable-pip-version-check $PY_PINS
  echo "$PY_PINS" >"$VENV/.pins"
fi
export COFFER_AWS_CLI="$VENV/bin/aws"

# rclone (Debian).
if ! command -v rclone >/dev/null 2>&1; then
  say "installing rclone (Debian)"
  if [ "$(id -u)" = 0 ]; then APT=(apt-get); else APT=(sudo apt-get); fi
  "${APT[@]}" update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y -qq --no-install-recommends rclone >/dev/null
fi

# The AWS SDK for JavaScript v3 (npm), installed from the committed lock file.
NODE_DIR="$CACHE/gateway-node"
if ! cmp -s "$HERE/gateway/node/package-lock.json" "$NODE_DIR/package-lock.json" \
  || [ ! -d "$NODE_DIR/node_modules/@aws-sdk/client-s3" ]; then
  say "installing @aws-sdk/client-s3 into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  cp "$HERE/gateway/node/package.json" "$HERE/gateway/node/package-lock.json" "$NODE_DIR/"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
export COFFER_GATEWAY_NODE_DIR="$NODE_DIR"

# SeaweedFS for the smoke test behind the gateway (left alone when already running).
stop_weed=0
if ! "$HERE/seaweedfs.sh" env >/dev/null 2>&1; then
  say "starting SeaweedFS"
  "$HERE/seaweedfs.sh" start >/dev/null
  stop_weed=1
fi
cleanup() { if [ "$stop_weed" = 1 ]; then "$HERE/seaweedfs.sh" stop || true; fi; }
trap cleanup EXIT
# shellcheck source=/dev/null
set -a; . "$HERE/state/seaweedfs.env"; set +a

say "pytest .ci/gateway (boto3, AWS CLI, rclone, Node SDK, bad input, store contents, SeaweedFS)"
unset AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$HERE/gateway" "$@"
say "done in $((SECONDS - started_at)) s"
