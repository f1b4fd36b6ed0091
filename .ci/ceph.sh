#!/usr/bin/env bash
# A local Ceph RADOS Gateway (a second S3 implementation) for coffer's integration tests, on
# 127.0.0.1 only: one monitor, one OSD on memstore (RAM, nothing written to disk but logs), and
# radosgw with the beast frontend. Cluster authentication is off (loopback only); S3 requests are
# signed with SigV4 as on any S3 service.
#
#   .ci/ceph.sh install  install Debian's ceph-mon, ceph-osd and radosgw if missing (apt, ~15 s)
#   .ci/ceph.sh start    install if missing, start a fresh cluster, create the S3 user and bucket,
#                        write .ci/state/ceph.env and print it (about 15-25 s)
#   .ci/ceph.sh stop     stop it and delete its state (the OSD keeps everything in RAM anyway)
#   .ci/ceph.sh env      print the connection settings of the running gateway
#
# Ports: S3 $COFFER_CEPH_PORT (default 18480), the monitor on the port above it, the OSD on the
# 16 ports above that. The S3 user has the same keys as .ci/seaweedfs.sh's, so the AWS_* variables
# that script exports sign requests to both servers.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE="$HERE/state/ceph"
ENV_FILE="$HERE/state/ceph.env"
PORT="${COFFER_CEPH_PORT:-18480}"
MON_PORT=$((PORT + 1))
BUCKET=coffer-test
ACCESS_KEY=coffer-test-access
SECRET_KEY=coffer-test-secret-0123456789
CONF="$STATE/ceph.conf"
DAEMONS=(radosgw osd mon)

die() { echo "ceph.sh: $*" >&2; exit 1; }
say() { echo "ceph.sh: $*" >&2; }

install() {
  if command -v ceph-mon >/dev/null && command -v ceph-osd >/dev/null \
    && command -v radosgw >/dev/null && command -v uuidgen >/dev/null; then
    return
  fi
  say "installing ceph-mon ceph-osd radosgw (Debian packages)"
  local apt=(apt-get)
  [[ "$(id -u)" == 0 ]] || apt=(sudo apt-get)
  "${apt[@]}" update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends \
    ceph-mon ceph-osd radosgw uuid-runtime >/dev/null || die "apt-get install of ceph failed"
}

pid_of() { cat "$STATE/$1.pid" 2>/dev/null || true; }
alive() { local p; p="$(pid_of "$1")"; [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }
running() { alive radosgw && alive osd && alive mon; }

answers() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$PORT/" | grep -qv '^000$'; }

# `ceph` against this cluster only, bounded (a missing monitor makes it wait forever otherwise).
ceph_cmd() { timeout 10 ceph -c "$CONF" "$@"; }

# Starts one daemon in its own session (it outlives this script and ignores our signals). A small
# shell stays as the session leader to write the daemon's exit status into its .out file: a daemon
# that exits before its log thread flushes (ceph-mon on a nearly full disk did) leaves no other
# trace. `stop` kills the whole session's process group.
spawn() {
  local name=$1; shift
  setsid bash -c '"$@"; echo "$1 exited with status $?" >&2' spawn "$@" -c "$CONF" -f \
    >"$STATE/log/$name.out" 2>&1 </dev/null &
  echo $! >"$STATE/$name.pid"
}

# Waits until `test` succeeds, failing with the daemon's log when it dies or time runs out.
wait_for() {
  local name=$1 what=$2 test=$3
  local deadline=$((SECONDS + ${COFFER_SERVER_TIMEOUT:-120}))
  until eval "$test"; do
    if ! alive "$name" || ((SECONDS > deadline)); then
      echo "--- last lines of the $name log ---" >&2
      tail -n 30 "$STATE/log/"*"$name"*.log >&2 2>/dev/null || true
      echo "--- $name's standard output and error ---" >&2
      tail -n 30 "$STATE/log/$name.out" >&2 || true
      echo "--- free space where the cluster lives ---" >&2
      df -h "$STATE" >&2 || true
      die "$what ($name exited or ${COFFER_SERVER_TIMEOUT:-120}s passed)"
    fi
    sleep 0.5
  done
}

write_conf() {
  local fsid=$1
  cat >"$CONF" <<CONF
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$MON_PORT
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv4 = true
ms_bind_ipv6 = false
ms_bind_port_min = $((MON_PORT + 1))
ms_bind_port_max = $((MON_PORT + 16))
# Loopback only: the daemons trust each other without cephx. S3 clients still sign (SigV4).
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
ms_client_mode = crc
ms_mon_service_mode = crc
ms_mon_cluster_mode = crc
ms_service_mode = crc
ms_cluster_mode = crc
keyring = /dev/null
# One OSD in RAM: pools of one replica, few placement groups.
osd_objectstore = memstore
memstore_device_bytes = 4294967296
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
mon_max_pg_per_osd = 1000
# The monitor's store is a few MB, so a nearly full disk must not stop it: with the defaults
# (warn 30 %, crit 5 %) and even at 1 %, ceph-mon exits at start without a word on a build machine
# whose disk is full of target/ directories (a CI run failed so).
mon_data_avail_warn = 1
mon_data_avail_crit = 0
run_dir = $STATE/run
admin_socket = $STATE/run/\$name.asok
log_file = $STATE/log/\$name.log
pid_file = $STATE/run/\$name.pid
[mon.a]
mon_data = $STATE/mon
[osd.0]
osd_data = $STATE/osd
[client.rgw]
rgw_frontends = beast endpoint=127.0.0.1:$PORT
rgw_data = $STATE/rgw
rgw_dns_name = 127.0.0.1
CONF
}

start() {
  install
  if ! running; then
    stop
    if answers; then die "port $PORT already answers and it is not this checkout's gateway; set COFFER_CEPH_PORT"; fi
    mkdir -p "$STATE"/{mon,osd,run,log,rgw}
    local fsid; fsid="$(uuidgen)"
    write_conf "$fsid"
    monmaptool --create --addv a "[v2:127.0.0.1:$MON_PORT]" --fsid "$fsid" "$STATE/monmap" >/dev/null
    ceph-mon -c "$CONF" --mkfs -i a --monmap "$STATE/monmap" >"$STATE/log/mkfs.out" 2>&1 \
      || { cat "$STATE/log/mkfs.out" >&2; die "ceph-mon --mkfs failed"; }
    spawn mon ceph-mon -i a
    wait_for mon "the monitor did not answer on 127.0.0.1:$MON_PORT" "ceph_cmd -s >/dev/null 2>&1"
    local id; id="$(ceph_cmd osd create)"
    [[ "$id" == 0 ]] || die "expected OSD id 0, got $id"
    ceph-osd -c "$CONF" -i 0 --mkfs >"$STATE/log/osd-mkfs.out" 2>&1 \
      || { cat "$STATE/log/osd-mkfs.out" >&2; die "ceph-osd --mkfs failed"; }
    spawn osd ceph-osd -i 0
    wait_for osd "the OSD did not come up" "ceph_cmd osd stat 2>/dev/null | grep -q '1 up'"
    spawn radosgw radosgw -n client.rgw
    wait_for radosgw "radosgw did not answer on 127.0.0.1:$PORT" answers
    radosgw-admin -c "$CONF" user create --uid=coffer --display-name=coffer \
      --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >"$STATE/log/user.out" 2>&1 \
      || { cat "$STATE/log/user.out" >&2; die "radosgw-admin user create failed"; }
  fi
  wait_for radosgw "radosgw did not answer on 127.0.0.1:$PORT" answers
  # The bucket, through S3 itself (curl signs SigV4); 409 BucketAlreadyExists/Owned is fine.
  local code
  code="$(curl -s -o "$STATE/log/bucket.out" -w '%{http_code}' -m 10 -X PUT \
    --aws-sigv4 "aws:amz:us-east-1:s3" --user "$ACCESS_KEY:$SECRET_KEY" \
    -H 'x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' \
    "http://127.0.0.1:$PORT/$BUCKET")"
  [[ "$code" == 200 || "$code" == 409 ]] || { cat "$STATE/log/bucket.out" >&2; die "creating bucket $BUCKET answered $code"; }
  write_env
}

write_env() {
  mkdir -p "$HERE/state"
  cat >"$ENV_FILE" <<ENV
export COFFER_TEST_CEPH_ENDPOINT=http://127.0.0.1:$PORT
export COFFER_TEST_CEPH_BUCKET=$BUCKET
ENV
  cat "$ENV_FILE"
  cat "$HERE"/state/*.env >"$HERE/state/env"
}

stop() {
  local d pid
  for d in "${DAEMONS[@]}"; do
    pid="$(pid_of "$d")"
    [[ -n "$pid" ]] || continue
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
  done
  for d in "${DAEMONS[@]}"; do
    pid="$(pid_of "$d")"
    [[ -n "$pid" ]] || continue
    for _ in $(seq 1 20); do kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
    kill -9 -- "-$pid" 2>/dev/null || kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$STATE"
  rm -f "$ENV_FILE"
  if compgen -G "$HERE/state/*.env" >/dev/null; then cat "$HERE"/state/*.env >"$HERE/state/env"; fi
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  env) running || die "not running; run: $0 start"; write_env ;;
  *) die "usage: $0 install|start|stop|env" ;;
esac
