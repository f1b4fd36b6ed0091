#!/usr/bin/env bash
# A local Kubo (IPFS) node for coffer's integration tests: offline, RPC and gateway on 127.0.0.1.
#
#   .ci/kubo.sh start   build ipfs if missing, init a repo (test profile), start the daemon
#                       offline, wait until the RPC API answers, write .ci/state/kubo.env
#   .ci/kubo.sh stop    stop it (the repo is kept; `rm -rf .ci/state/kubo` to wipe)
#   .ci/kubo.sh env     print the connection settings of the running node
#
# Both commands are idempotent. Ports: RPC $COFFER_IPFS_PORT (default 15001), gateway the next;
# the one after is the browser test page's origin, the only one allowed by CORS.
#
# The binary is built from the Go module proxy at a pinned version into a cache that survives
# fresh clones ($COFFER_CI_CACHE, default ~/.cache/coffer-ci). We build inside the downloaded
# module (`go mod download` + `go build ./cmd/ipfs`), which is what `go install ...@version`
# does, with Kubo's own go.sum; plain `go install` also asks the proxy for Kubo's version list
# (to check for deprecation), which the proxy reachable here refuses.
set -euo pipefail

VERSION=v0.42.0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="$HERE/state/kubo"
ENV_FILE="$HERE/state/kubo.env"
PORT="${COFFER_IPFS_PORT:-15001}"
GW_PORT=$((PORT + 1))
# The one web origin whose pages may call the RPC API from a browser (the npm package's Chromium
# test serves its page there); Kubo refuses every other Origin with 403.
PAGE_ORIGIN="http://127.0.0.1:$((PORT + 2))"
CACHE="${COFFER_CI_CACHE:-$HOME/.cache/coffer-ci}"
BIN="$CACHE/bin/ipfs-$VERSION"
PIDFILE="$STATE/daemon.pid"
LOG="$STATE/daemon.log"
export IPFS_PATH="$STATE/repo"

die() { echo "kubo.sh: $*" >&2; exit 1; }

install() {
  [[ -x "$BIN" ]] && return
  command -v go >/dev/null 2>&1 || die "go is not installed; it is needed to build Kubo $VERSION"
  echo "kubo.sh: building Kubo $VERSION (several minutes on 2 cores; cached in $BIN)" >&2
  mkdir -p "$CACHE/bin"
  local dir
  dir="$(cd /tmp && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "github.com/ipfs/kubo@$VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -n "$dir" && -d "$dir" ]] || die "go mod download github.com/ipfs/kubo@$VERSION failed"
  (cd "$dir" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
    go build -trimpath -o "$BIN.partial" ./cmd/ipfs) || die "building Kubo $VERSION failed"
  mv "$BIN.partial" "$BIN"
}

running() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

answers() { curl -s -f -m 2 -X POST "http://127.0.0.1:$PORT/api/v0/version" >/dev/null 2>&1; }

write_env() {
  mkdir -p "$HERE/state"
  cat >"$ENV_FILE" <<ENV
export COFFER_TEST_IPFS_API=http://127.0.0.1:$PORT
export COFFER_TEST_IPFS_GATEWAY=http://127.0.0.1:$GW_PORT
export COFFER_TEST_IPFS_PAGE_ORIGIN=$PAGE_ORIGIN
ENV
  cat "$ENV_FILE"
  cat "$HERE"/state/*.env >"$HERE/state/env"
}

start() {
  # Already running (perhaps still starting): just wait for it.
  if ! running; then
    # Something else already serves our port (another worktree's server): never adopt it.
    if answers; then die "port $PORT already answers and it is not this checkout's server; set COFFER_IPFS_PORT"; fi
    install
    mkdir -p "$STATE"
    if [[ ! -f "$IPFS_PATH/config" ]]; then
      # The test profile: loopback addresses, no bootstrap peers, no MDNS.
      "$BIN" init --profile=test >"$STATE/init.log" 2>&1 || { cat "$STATE/init.log" >&2; die "ipfs init failed"; }
    fi
    "$BIN" config Addresses.API "/ip4/127.0.0.1/tcp/$PORT"
    "$BIN" config Addresses.Gateway "/ip4/127.0.0.1/tcp/$GW_PORT"
    "$BIN" config --json Addresses.Swarm '["/ip4/127.0.0.1/tcp/0"]'
    # CORS for exactly one origin: the browser test's page calls the RPC API (POST, multipart
    # bodies need no preflight; the headers below answer one anyway).
    "$BIN" config --json API.HTTPHeaders "{\"Access-Control-Allow-Origin\": [\"$PAGE_ORIGIN\"],
      \"Access-Control-Allow-Methods\": [\"POST\"], \"Access-Control-Allow-Headers\": [\"Content-Type\"],
      \"Access-Control-Expose-Headers\": [\"Content-Length\", \"X-Stream-Output\", \"X-Chunked-Output\"]}"
    # Offline: no swarm, so a missing block is an immediate error rather than a network search.
    setsid "$BIN" daemon --offline >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
  fi
  local deadline=$((SECONDS + ${COFFER_SERVER_TIMEOUT:-120}))
  until answers; do
    if ! running; then
      echo "--- last lines of $LOG ---" >&2; tail -n 40 "$LOG" >&2
      die "the Kubo daemon exited during start-up"
    fi
    if (( SECONDS > deadline )); then
      echo "--- last lines of $LOG ---" >&2; tail -n 40 "$LOG" >&2
      die "Kubo RPC did not answer on 127.0.0.1:$PORT within ${COFFER_SERVER_TIMEOUT:-120}s"
    fi
    sleep 0.5
  done
  # Another process's server on our port answers too: only ours counts.
  running || die "the Kubo daemon exited: port $PORT (or the ones after it) belongs to another process; set COFFER_IPFS_PORT"
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
  install) install ;;
  start) start ;;
  stop) stop ;;
  env) running || die "not running; run: $0 start"; write_env ;;
  *) die "usage: $0 start|stop|env|install" ;;
esac
