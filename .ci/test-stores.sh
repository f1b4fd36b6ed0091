#!/usr/bin/env bash
# Runs coffer's store tests against real servers: starts SeaweedFS, Ceph RGW, Kubo and a 3-peer
# IPFS Cluster on 127.0.0.1
# (installing them when missing), runs the store test suites with the s3 and ipfs features, and
# stops the servers again if this script started them. A server that cannot start fails the run.
#
#   .ci/test-stores.sh [extra cargo test args]
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/.."

started=()
cleanup() { for s in "${started[@]}"; do "$HERE/$s.sh" stop || true; done; }
trap cleanup EXIT

for s in seaweedfs ceph kubo cluster; do
  if ! "$HERE/$s.sh" env >/dev/null 2>&1; then started+=("$s"); fi
  "$HERE/$s.sh" start >/dev/null
done
# shellcheck source=/dev/null
source "$HERE/state/env"
cargo test -p coffer --features s3,ipfs,erasure --lib --test store_local --test store_s3 --test store_erasure --test store_ipfs --test store_cluster --test store_pinsvc --test car_move "$@"
