#!/usr/bin/env bash
# A local IPFS Cluster for coffer's integration tests: 3 Kubo nodes + 3 cluster peers (CRDT
# consensus), everything on 127.0.0.1, no mDNS, no bootstrap to the public network.
#
#   .ci/cluster.sh start    build ipfs-cluster-service/-ctl (and Kubo) if missing, init the peers
#                           in a temp dir, start them (or the ones not running), wait until every
#                           peer sees the other two, write .ci/state/cluster.env
#   .ci/cluster.sh kill N   SIGKILL peer N (0-2): its Kubo and its cluster daemon (tests use it;
#                           `start` brings it back with its data)
#   .ci/cluster.sh join     add a fourth peer (index 3) to the running cluster and wait for it
#   .ci/cluster.sh leave N  remove peer N from the peer set, stop it, delete its data
#   .ci/cluster.sh stop     stop everything and delete the data dir
#   .ci/cluster.sh env      print the connection settings of the running cluster
#
# Ports (base $COFFER_CLUSTER_PORT, default 15300), for peer i at base + 10*i: Kubo RPC +0,
# gateway +1, swarm +2; cluster libp2p +3, REST API +4, Pinning Service API +5. The cluster's IPFS
# proxy is disabled (its section is removed from service.json). The Pinning Service API requires a
# token: basic-auth credentials `coffer:<random>` (in the data dir) sign the JWT that `write_env`
# gets from `POST /token` and leaves in .ci/state/pinsvc.token (mode 600; tests read the file
# named by COFFER_TEST_PINSVC_TOKEN_FILE, never a token in the environment or argv).
#
# The binaries are built from the Go module proxy at a pinned version into the cache that
# survives fresh clones ($COFFER_CI_CACHE), like .ci/kubo.sh builds Kubo: `go mod download` +
# `go build ./cmd/...` inside the module (the proxy refuses `go install` of it).
set -euo pipefail

VERSION=v1.1.0
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="$HERE/state"
DIR_FILE="$STATE/cluster.dir"
ENV_FILE="$STATE/cluster.env"
BASE="${COFFER_CLUSTER_PORT:-15300}"
N=3
CACHE="${COFFER_CI_CACHE:-$HOME/.cache/coffer-ci}"
SERVICE="$CACHE/bin/ipfs-cluster-service-$VERSION"
CTL="$CACHE/bin/ipfs-cluster-ctl-$VERSION"
# Kubo: the same pinned build .ci/kubo.sh uses.
KUBO_VERSION="$(sed -n 's/^VERSION=//p' "$HERE/kubo.sh")"
IPFS="$CACHE/bin/ipfs-$KUBO_VERSION"

die() { echo "cluster.sh: $*" >&2; exit 1; }

install() {
  # jq reads the cluster's JSON answers; curl talks to both APIs.
  if ! command -v jq >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
    echo "cluster.sh: installing jq and curl" >&2
    apt-get update -qq >/dev/null && apt-get install -y -qq jq curl >/dev/null \
      || die "jq and curl are needed (apt-get install jq curl)"
  fi
  [[ -x "$IPFS" ]] || "$HERE/kubo.sh" install
  [[ -x "$SERVICE" && -x "$CTL" ]] && return
  command -v go >/dev/null 2>&1 || die "go is not installed; it is needed to build ipfs-cluster $VERSION"
  echo "cluster.sh: building ipfs-cluster $VERSION (a few minutes on 2 cores; cached in $CACHE/bin)" >&2
  mkdir -p "$CACHE/bin"
  local dir out
  dir="$(cd /tmp && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "github.com/ipfs-cluster/ipfs-cluster@$VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -n "$dir" && -d "$dir" ]] || die "go mod download github.com/ipfs-cluster/ipfs-cluster@$VERSION failed"
  out="$(mktemp -d)"
  (cd "$dir" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly \
    go build -trimpath -o "$out/" ./cmd/ipfs-cluster-service ./cmd/ipfs-cluster-ctl) \
    || { rm -rf "$out"; die "building ipfs-cluster $VERSION failed"; }
  mv "$out/ipfs-cluster-service" "$SERVICE"
  mv "$out/ipfs-cluster-ctl" "$CTL"
  rm -rf "$out"
}

data_dir() { [[ -f "$DIR_FILE" ]] && cat "$DIR_FILE"; }
port() { echo $((BASE + 10 * $1 + $2)); }
pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
kubo_answers() { curl -s -f -m 2 -X POST "http://127.0.0.1:$(port "$1" 0)/api/v0/version" >/dev/null 2>&1; }
rest_answers() { curl -s -f -m 2 "http://127.0.0.1:$(port "$1" 4)/id" >/dev/null 2>&1; }

# The peers in the data dir: 0..N-1 after init, plus one that joined (`join`) until it leaves.
peer_ids() {
  local root d; root="$(data_dir)"
  for d in "$root"/cluster[0-9]; do [[ -d $d ]] && echo "${d##*cluster}"; done
}
peer_count() { peer_ids | wc -l; }

# Creates peer $1's Kubo repo and cluster config (not yet wired to the others).
create_peer() {
  local i=$1 root; root="$(data_dir)"
  IPFS_PATH="$root/kubo$i" "$IPFS" init --profile=test >"$root/kubo$i.init.log" 2>&1 \
    || { cat "$root/kubo$i.init.log" >&2; die "ipfs init failed"; }
  "$SERVICE" --config "$root/cluster$i" init --consensus crdt >"$root/cluster$i.init.log" 2>&1 \
    || { cat "$root/cluster$i.init.log" >&2; die "ipfs-cluster-service init failed"; }
}

# Wires peer $1 to every other peer in the data dir (Kubo peering, cluster bootstrap).
configure_peer() {
  local i=$1 root j; root="$(data_dir)"
  local secret; secret="$(cat "$root/secret")"
  local pinsvc_pass; pinsvc_pass="$(cat "$root/pinsvc.password")"
  local peering="[]" peers="[]"
  for j in $(peer_ids); do
    [[ $j == "$i" ]] && continue
    peering="$(jq -c --arg id "$(jq -r .Identity.PeerID "$root/kubo$j/config")" \
      --arg a "/ip4/127.0.0.1/tcp/$(port "$j" 2)" '. + [{ID: $id, Addrs: [$a]}]' <<<"$peering")"
    peers="$(jq -c --arg a "/ip4/127.0.0.1/tcp/$(port "$j" 3)/p2p/$(jq -r .id "$root/cluster$j/identity.json")" \
      '. + [$a]' <<<"$peers")"
  done
  # Kubo: loopback only (the test profile: no bootstrap, no mDNS), fixed ports, always
  # connected to the others (Peering), so bitswap can fetch what the cluster pins.
  jq --arg api "/ip4/127.0.0.1/tcp/$(port "$i" 0)" --arg gw "/ip4/127.0.0.1/tcp/$(port "$i" 1)" \
    --arg sw "/ip4/127.0.0.1/tcp/$(port "$i" 2)" --argjson peering "$peering" '
    .Addresses.API = $api | .Addresses.Gateway = $gw | .Addresses.Swarm = [$sw]
    | .Addresses.Announce = [] | .Addresses.NoAnnounce = []
    | .Discovery.MDNS.Enabled = false | .Bootstrap = [] | .Peering.Peers = $peering' \
    "$root/kubo$i/config" >"$root/kubo$i/config.new"
  mv "$root/kubo$i/config.new" "$root/kubo$i/config"
  # Cluster: loopback, no mDNS, one secret, the others as bootstrap peers, repinning on (a dead
  # peer's pins move after a few seconds: short ping/check intervals, 10 s metric TTLs, long
  # enough not to flap on a busy 2-core machine), CRDT heads rebroadcast every 2 s (default 1
  # min: a peer revived after a kill missed pubsub updates from the others for up to 90 s, and
  # pins allocated to it in that window timed out in the tests), the REST
  # API on loopback, no IPFS proxy, the pinning-service API on loopback behind credentials.
  jq --arg name "coffer-$i" --arg secret "$secret" \
    --arg pinsvc "/ip4/127.0.0.1/tcp/$(port "$i" 5)" --arg pinsvc_pass "$pinsvc_pass" \
    --arg listen "/ip4/127.0.0.1/tcp/$(port "$i" 3)" --argjson peers "$peers" \
    --arg rest "/ip4/127.0.0.1/tcp/$(port "$i" 4)" --arg node "/ip4/127.0.0.1/tcp/$(port "$i" 0)" '
    .cluster.peername = $name | .cluster.secret = $secret
    | .cluster.listen_multiaddress = [$listen] | .cluster.mdns_interval = "0s"
    | .cluster.peer_addresses = $peers | .cluster.disable_repinning = false
    | .cluster.monitor_ping_interval = "2s" | .cluster.peer_watch_interval = "2s"
    | .cluster.pin_recover_interval = "10s"
    | .api.restapi.http_listen_multiaddress = $rest
    | del(.api.ipfsproxy)
    | .api.pinsvcapi.http_listen_multiaddress = $pinsvc
    | .api.pinsvcapi.basic_auth_credentials = {coffer: $pinsvc_pass}
    | .ipfs_connector.ipfshttp.node_multiaddress = $node
    | .consensus.crdt.rebroadcast_interval = "2s"
    | .monitor.pubsubmon.check_interval = "2s"
    | .informer |= with_entries(.value.metric_ttl = "10s")' \
    "$root/cluster$i/service.json" >"$root/cluster$i/service.json.new"
  mv "$root/cluster$i/service.json.new" "$root/cluster$i/service.json"
}

# Creates the data dir with N peers wired to each other.
init_all() {
  local root i
  root="$(mktemp -d "${TMPDIR:-/tmp}/coffer-cluster.XXXXXX")"
  mkdir -p "$STATE"
  echo "$root" >"$DIR_FILE"
  od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$root/secret"
  (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$root/pinsvc.password")
  for i in $(seq 0 $((N - 1))); do create_peer "$i"; done
  for i in $(seq 0 $((N - 1))); do configure_peer "$i"; done
}

start_peer() {
  local i=$1 root; root="$(data_dir)"
  if ! pid_alive "$root/kubo$i.pid"; then
    if kubo_answers "$i"; then die "port $(port "$i" 0) already answers and it is not this checkout's Kubo; set COFFER_CLUSTER_PORT"; fi
    IPFS_PATH="$root/kubo$i" setsid "$IPFS" daemon >>"$root/kubo$i.log" 2>&1 </dev/null &
    echo $! >"$root/kubo$i.pid"
  fi
  if ! pid_alive "$root/cluster$i.pid"; then
    if rest_answers "$i"; then die "port $(port "$i" 4) already answers and it is not this checkout's cluster; set COFFER_CLUSTER_PORT"; fi
    setsid "$SERVICE" --config "$root/cluster$i" daemon >>"$root/cluster$i.log" 2>&1 </dev/null &
    echo $! >"$root/cluster$i.pid"
  fi
}

# How many peers have valid allocation metrics (freespace) on peer $1: pins can be allocated to
# them.
metrics_seen() {
  curl -s -f -m 2 "http://127.0.0.1:$(port "$1" 4)/monitor/metrics/freespace" 2>/dev/null \
    | jq '[.[] | select(.valid)] | length' 2>/dev/null || echo 0
}

# How many peers peer $1 sees (itself included) without errors.
peers_seen() {
  "$CTL" --host "/ip4/127.0.0.1/tcp/$(port "$1" 4)" --enc json peers ls 2>/dev/null \
    | jq -s '[.[] | select((.error // "") == "")] | length' 2>/dev/null || echo 0
}

# How many other Kubo nodes Kubo $1 is connected to.
swarm_seen() {
  curl -s -f -m 2 -X POST "http://127.0.0.1:$(port "$1" 0)/api/v0/swarm/peers" 2>/dev/null \
    | jq '(.Peers // []) | length' 2>/dev/null || echo 0
}

# Connects Kubo $1 to every other Kubo that answers (Peering reconnects on its own, with a
# backoff: a peer restarted after a kill could otherwise wait long enough for a pin to time out
# because bitswap cannot reach the node that holds the block).
connect_kubos() {
  local j id
  for j in $(peer_ids); do
    [[ $j == "$1" ]] && continue
    id="$(curl -s -f -m 2 -X POST "http://127.0.0.1:$(port "$j" 0)/api/v0/id" 2>/dev/null | jq -r '.ID // empty' 2>/dev/null)" || continue
    [[ -n $id ]] || continue
    curl -s -m 5 -X POST "http://127.0.0.1:$(port "$1" 0)/api/v0/swarm/connect?arg=/ip4/127.0.0.1/tcp/$(port "$j" 2)/p2p/$id" >/dev/null 2>&1 || true
  done
}

wait_ready() {
  local root; root="$(data_dir)"
  local deadline=$((SECONDS + ${COFFER_SERVER_TIMEOUT:-120})) i n
  n="$(peer_count)"
  for i in $(peer_ids); do
    until kubo_answers "$i" && rest_answers "$i" && [[ "$(peers_seen "$i")" -ge $n ]] \
      && [[ "$(metrics_seen "$i")" -ge $n ]] && [[ "$(swarm_seen "$i")" -ge $((n - 1)) ]]; do
      kubo_answers "$i" && connect_kubos "$i"
      local p
      for p in kubo cluster; do
        if ! pid_alive "$root/$p$i.pid"; then
          echo "--- last lines of $root/$p$i.log ---" >&2; tail -n 40 "$root/$p$i.log" >&2
          die "$p $i exited during start-up"
        fi
      done
      if (( SECONDS > deadline )); then
        for p in kubo cluster; do echo "--- last lines of $root/$p$i.log ---" >&2; tail -n 20 "$root/$p$i.log" >&2; done
        die "peer $i is not ready (Kubo RPC, REST API, sees all $n peers and their metrics, its Kubo connected to the others) within ${COFFER_SERVER_TIMEOUT:-120}s"
      fi
      sleep 0.5
    done
  done
}

write_env() {
  local apis="" kubos="" gws="" pinsvcs="" i
  for i in $(seq 0 $((N - 1))); do
    apis+="${apis:+,}http://127.0.0.1:$(port "$i" 4)"
    pinsvcs+="${pinsvcs:+,}http://127.0.0.1:$(port "$i" 5)"
    kubos+="${kubos:+,}http://127.0.0.1:$(port "$i" 0)"
    gws+="${gws:+,}http://127.0.0.1:$(port "$i" 1)"
  done
  mkdir -p "$STATE"
  # A JWT for the pinning-service API from the first peer that gives one (every peer has the
  # same credentials, so every peer accepts it); a peer just restarted may need a moment.
  local token="" pass deadline=$((SECONDS + 30))
  pass="$(cat "$(data_dir)/pinsvc.password")"
  until [[ -n $token ]]; do
    for i in $(seq 0 $((N - 1))); do
      token="$(curl -s -f -m 5 -X POST -u "coffer:$pass" "http://127.0.0.1:$(port "$i" 5)/token" \
        2>/dev/null | jq -r '.token // empty' 2>/dev/null)" || token=""
      [[ -n $token ]] && break
    done
    [[ -n $token ]] && break
    (( SECONDS > deadline )) && die "no peer's pinning-service API gave a token (POST /token on port base+10*i+5)"
    sleep 0.5
  done
  (umask 077 && printf '%s' "$token" >"$STATE/pinsvc.token")
  cat >"$ENV_FILE" <<ENV
export COFFER_TEST_PINSVC_URLS=$pinsvcs
export COFFER_TEST_PINSVC_TOKEN_FILE=$STATE/pinsvc.token
export COFFER_TEST_CLUSTER_APIS=$apis
export COFFER_TEST_CLUSTER_KUBOS=$kubos
export COFFER_TEST_CLUSTER_GATEWAYS=$gws
export COFFER_TEST_CLUSTER_SCRIPT=$HERE/cluster.sh
ENV
  cat "$ENV_FILE"
  cat "$STATE"/*.env >"$STATE/env"
}

start() {
  local t0=$SECONDS
  install
  if [[ -z "$(data_dir)" || ! -d "$(data_dir)" ]]; then init_all; fi
  local i
  for i in $(peer_ids); do start_peer "$i"; done
  wait_ready
  write_env
  echo "cluster.sh: $(peer_count) Kubo nodes + $(peer_count) cluster peers ready in $((SECONDS - t0))s" >&2
}

kill_peer() {
  local i=$1 root p; root="$(data_dir)"
  [[ -n "$root" ]] || die "not started"
  for p in cluster kubo; do
    if pid_alive "$root/$p$i.pid"; then
      local pid; pid="$(cat "$root/$p$i.pid")"
      kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$root/$p$i.pid"
  done
}

# Adds peer N (a fourth Kubo + cluster peer) to the running cluster: the others learn of it
# through the cluster's bootstrap and Kubo's peering from its side. Tests use it for "repins to a
# peer that joins", then `leave N`.
join_peer() {
  local i=$N root; root="$(data_dir)"
  [[ -n "$root" ]] || die "not started"
  if [[ ! -d "$root/cluster$i" ]]; then
    create_peer "$i"
    configure_peer "$i"
  fi
  start_peer "$i"
  wait_ready
  write_env
}

# Removes peer $1 from the cluster's peer set, stops it and deletes its data.
leave_peer() {
  local i=$1 root id j; root="$(data_dir)"
  [[ -d "$root/cluster$i" ]] || return 0
  id="$(jq -r .id "$root/cluster$i/identity.json")"
  for j in $(peer_ids); do
    [[ $j == "$i" ]] && continue
    "$CTL" --host "/ip4/127.0.0.1/tcp/$(port "$j" 4)" peers rm "$id" >/dev/null 2>&1 && break
  done
  kill_peer "$i"
  rm -rf "$root/cluster$i" "$root/kubo$i"
}

stop() {
  local root; root="$(data_dir || true)"
  [[ -n "$root" ]] || return 0
  local i p pid
  for i in $(peer_ids); do
    for p in cluster kubo; do
      if pid_alive "$root/$p$i.pid"; then
        pid="$(cat "$root/$p$i.pid")"
        kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
      fi
    done
  done
  for i in $(peer_ids); do
    for p in cluster kubo; do
      [[ -f "$root/$p$i.pid" ]] || continue
      pid="$(cat "$root/$p$i.pid")"
      for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 -- "-$pid" 2>/dev/null || true
    done
  done
  rm -rf "$root" "$DIR_FILE" "$ENV_FILE" "$STATE/pinsvc.token"
  if [[ -f "$STATE/env" ]]; then cat "$STATE"/*.env >"$STATE/env" 2>/dev/null || rm -f "$STATE/env"; fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  kill) [[ "${2:-}" =~ ^[0-9]$ ]] || die "usage: $0 kill N"; kill_peer "$2" ;;
  join) join_peer ;;
  leave) [[ "${2:-}" =~ ^[0-9]$ ]] || die "usage: $0 leave N"; leave_peer "$2" ;;
  env) r="$(data_dir || true)"; [[ -n "$r" ]] && pid_alive "$r/cluster0.pid" || die "not running; run: $0 start"; write_env ;;
  *) die "usage: $0 start|stop|kill N|join|leave N|env|install" ;;
esac
