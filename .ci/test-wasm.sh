#!/usr/bin/env bash
# The wasm bindings and the npm package, end to end, on a fresh or a warm machine:
#   installs what is missing (wasm32 target, wasm-bindgen-cli 0.2.130, chromium, npm packages),
#   builds the package (npm run build), runs npm test (Node + headless Chromium, against
#   SeaweedFS), the wasm-bindgen-test cargo tests (Node runner), then `npm pack`s the package,
#   installs the tarball in a fresh directory and runs the README's Node example there.
# `npm test` starts SeaweedFS (.ci/seaweedfs.sh, S3 port $COFFER_S3_PORT, default here 18533) and
# Kubo (.ci/kubo.sh, RPC port $COFFER_IPFS_PORT, default here 15201) unless
# COFFER_TEST_S3_ENDPOINT / COFFER_TEST_IPFS_API are set, and stops what it started; it runs the
# coffer CLI ($COFFER_BIN, else it builds a release one) for the JS<->Rust interop tests (files, and
# vaults on S3). Exits non-zero on any failure.
# COFFER_BIN: a `coffer` CLI already built (CI: the workspace's debug build); else npm test builds a release one.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
PKG="$REPO/packages-npm"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
# shellcheck source=.ci/lib.sh
. "$HERE/lib.sh"

T0=$SECONDS
STEP_T=$SECONDS
step() {
  if [[ -n "${STEP_NAME:-}" ]]; then printf '=== %-40s %4ds\n' "$STEP_NAME" $((SECONDS - STEP_T)) >&2; fi
  STEP_NAME="$1"; STEP_T=$SECONDS
  echo "--- $1" >&2
}

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

step "tools"
command -v node >/dev/null || { echo "node (>= 20) is required" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || { echo "node >= 20 is required, found $(node --version)" >&2; exit 1; }
rustup target list --installed | grep -qx wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown
ensure_wasm_bindgen
ensure_chromium

step "npm ci"
(cd "$PKG" && npm ci --no-audit --no-fund --loglevel=error)

step "npm run build"
(cd "$PKG" && npm run build --silent)
cat "$PKG/dist/sizes.json" >&2

step "npm test (Node + Chromium)"
(cd "$PKG" && npm test --silent)

step "cargo test wasm32 (wasm-bindgen-test-runner)"
# --release: reuses the core that npm run build compiled for wasm32 (a debug build would compile
# the core and its dependencies once more).
(cd "$REPO" && cargo test --release -p coffer-wasm --target wasm32-unknown-unknown)

step "npm pack + fresh install + README example"
(cd "$PKG" && npm pack --silent --pack-destination "$TMP" >/dev/null)
TARBALL="$(ls "$TMP"/*.tgz)"
mkdir "$TMP/app"
(
  cd "$TMP/app"
  npm init -y >/dev/null
  npm pkg set type=module >/dev/null
  npm install --no-audit --no-fund --loglevel=error "$TARBALL"
  node -e '
    const r = require("fs").readFileSync(process.argv[1], "utf8");
    const m = /```js\n([\s\S]*?)```/.exec(r);
    require("fs").writeFileSync("example.mjs", m[1]);
  ' "$PKG/README.md"
  out="$(node example.mjs)"
  expected=$'hello\n5\nmeet at noon true'
  if [[ "$out" != "$expected" ]]; then
    echo "README example printed:"$'\n'"$out"$'\n'"expected:"$'\n'"$expected" >&2
    exit 1
  fi
  echo "README example OK in a fresh install of $(basename "$TARBALL") ($(du -k "$TARBALL" | cut -f1) KiB packed)" >&2
)
printf "=== %-40s %4ds\n" "$STEP_NAME" $((SECONDS - STEP_T)) >&2
echo "test-wasm.sh: all green in $((SECONDS - T0))s" >&2
