#!/usr/bin/env bash
# Everything CI checks, in the order a developer wants to hear about failures.
# Usage: ./.ci/test.sh          (installs what is missing, starts and stops the test servers)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n==== %s\n' "$*"; }

step "setup"
./.ci/setup.sh

step "format"
cargo fmt --all -- --check

step "clippy (all targets, all features, warnings are errors)"
cargo clippy --workspace --all-targets --all-features -- -D warnings

step "core stays portable: wasm32 build"
cargo build -p coffer --target wasm32-unknown-unknown

servers=()
cleanup() {
  for s in "${servers[@]}"; do "$s" stop || true; done
}
trap cleanup EXIT
for s in .ci/seaweedfs.sh .ci/kubo.sh; do
  if [ -x "$s" ]; then
    step "start $s"
    "$s" start
    servers+=("$s")
  fi
done
if [ -f .ci/state/env ]; then
  set -a; . .ci/state/env; set +a
fi

step "tests: core with default features (portable AEAD)"
cargo test -p coffer

step "tests: whole workspace, all features (ring AEAD, S3, IPFS against real servers)"
cargo test --workspace --all-features

step "S3 gateway: boto3, AWS CLI, rclone, Node SDK against coffer serve s3"; ./.ci/test-gateway.sh

step "npm package: wasm-bindgen build, Node and headless Chromium tests, npm pack + fresh install"
./.ci/test-wasm.sh

step "Kotlin: uniffi bindings tested on the JVM (local dir, SeaweedFS, a Kotlin transport)"
./packages-kotlin/test-jvm.sh

step "Swift: generated sources are fresh, the C header matches the library's symbols"
./packages-swift/check.sh

step "fuzz smoke"
./.ci/fuzz-smoke.sh

step "all checks passed"
