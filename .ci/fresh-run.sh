#!/usr/bin/env bash
# Measures .ci/run as on a fresh machine without deleting anything others use: a fresh clone of
# this repository's HEAD, an empty tool cache (COFFER_CI_CACHE), an empty CARGO_HOME (no crates
# downloaded, no installed wasm-bindgen-cli or cargo-fuzz; rustup's toolchains stay, as on the
# machine image), empty Go and npm caches, and server ports of its own. Prints .ci/test.sh's
# per-step table at the end. What it cannot hide: Debian packages already installed (chromium,
# JNA, ceph-mon/ceph-osd/radosgw: 14 s to install from a warm apt cache, 66 MB to download):
# `apt-get install --download-only` them to estimate their cost.
#
#   .ci/fresh-run.sh [WORKDIR]        (default /tmp/coffer-fresh; wiped first)
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
FRESH="${1:-/tmp/coffer-fresh}"
rm -rf "$FRESH"; mkdir -p "$FRESH"/{bin,cargo-home,cache,gomod,gocache,npm-cache}
git clone -q "$SRC" "$FRESH/repo"
rustup_bin="$(dirname "$(command -v rustup)")"
for t in cargo rustc rustup rustfmt cargo-fmt cargo-clippy clippy-driver rustdoc; do
  ln -s "$rustup_bin/$t" "$FRESH/bin/$t"
done
PATH="$FRESH/bin:$(echo "$PATH" | tr ':' '\n' | grep -vx "$rustup_bin" | paste -sd:)"
export PATH CARGO_HOME="$FRESH/cargo-home" COFFER_CI_CACHE="$FRESH/cache" \
  GOMODCACHE="$FRESH/gomod" GOCACHE="$FRESH/gocache" npm_config_cache="$FRESH/npm-cache" \
  COFFER_S3_PORT="${COFFER_S3_PORT:-18833}" COFFER_IPFS_PORT="${COFFER_IPFS_PORT:-15801}" \
  COFFER_CEPH_PORT="${COFFER_CEPH_PORT:-18580}" COFFER_CLUSTER_PORT="${COFFER_CLUSTER_PORT:-15500}" CI=true
if command -v wasm-bindgen >/dev/null || cargo fuzz --version >/dev/null 2>&1; then
  echo "fresh-run.sh: wasm-bindgen or cargo-fuzz is still visible on PATH" >&2; exit 1
fi
cd "$FRESH/repo"
bash .ci/run </dev/null
