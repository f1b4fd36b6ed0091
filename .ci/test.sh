#!/usr/bin/env bash
# Everything CI checks, in the order a developer wants to hear about failures.
# Usage: ./.ci/test.sh          (installs what is missing, starts and stops the test servers)
#
# Budget: 60 minutes on a fresh machine (empty target/, empty tool cache). Every step prints
# `==== time: STEP  Ns` and a table closes the run. To stay in budget:
#   - each crate is compiled once per profile: one debug build of the whole workspace with all
#     features serves clippy's check, the tests, the JVM, Robolectric and Swift bindings
#     (COFFER_UNIFFI_DIR, COFFER_UNIFFI_LIB), the CLI tests, and, as COFFER_BIN, every suite that
#     runs the CLI (npm, Kotlin, the S3 gateway clients: a release CLI was 607 of a fresh run's
#     3,675 s, and these suites ran no slower on the debug one); the wasm32 release build serves
#     the npm package;
#   - the seal tests run both AEAD backends (portable and ring) in that one build;
#   - slow tools are installed once into ${COFFER_CI_CACHE:-~/.cache/coffer-ci} (.ci/lib.sh);
#   - the fuzz smoke runs FUZZ_SECONDS (default 5) per target; the long campaign (fuzzing and
#     the big property tests for longer) is .ci/long-checks.sh, outside CI.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

servers=()
finish() {
  local rc=$?
  for s in "${servers[@]}"; do "$s" stop >/dev/null 2>&1 || true; done
  if [[ $rc -ne 0 ]]; then step_summary failed; else step_summary; fi
  exit $rc
}
trap finish EXIT

# One feature set for every debug build, so nothing is compiled twice.
WORKSPACE=(--workspace --all-features)

step "setup: toolchain and tools (installed only when missing)"
# A run needs about 25 GB of disk (target/ and the servers' state); with less, builds or servers
# fail in ways that do not say "disk" (ceph-mon exited silently at stop 25's CI).
free_gb=$(df -Pk . | awk 'NR == 2 { print int($4 / 1048576) }')
echo "free disk space here: ${free_gb} GB"
if ((free_gb < 25)); then echo "warning: under 25 GB free; this run may fail for lack of space" >&2; fi
./.ci/setup.sh

step "format"
cargo fmt --all -- --check

step "clippy (all targets, all features, warnings are errors)"
cargo clippy "${WORKSPACE[@]}" --all-targets -- -D warnings

step "build: workspace tests, debug, all features (ring and portable AEAD, S3, IPFS)"
# --lib --bins --tests --examples: what `cargo test` builds, plus the uniffi-bindgen binary.
cargo build "${WORKSPACE[@]}" --lib --bins --tests --examples
export COFFER_UNIFFI_DIR="$PWD/target/debug"
# The Robolectric and Swift suites load this same debug library (and its uniffi-bindgen) instead
# of building a release one: that build compiled the core a second time for the release profile,
# with the bindings' features (268 s of a 302 s step at stop 24).
export COFFER_UNIFFI_LIB="$COFFER_UNIFFI_DIR/libcoffer_uniffi.so"

# The debug CLI of that build drives the npm, Kotlin and gateway suites (debug assertions on).
export COFFER_BIN="$PWD/target/debug/coffer"

for s in .ci/seaweedfs.sh .ci/ceph.sh .ci/kubo.sh .ci/cluster.sh; do
  if [ -x "$s" ]; then
    step "start $s"
    "$s" start
    servers+=("$s")
  fi
done
if [ -f .ci/state/env ]; then
  set -a; . .ci/state/env; set +a
fi

step "tests: whole workspace, all features (seal tests on both AEAD backends; S3, IPFS against real servers)"
cargo test "${WORKSPACE[@]}"

step "S3 gateway: boto3, AWS CLI, rclone, Node SDK against coffer serve s3"; ./.ci/test-gateway.sh

step "npm package: wasm32 release build, Node and headless Chromium tests, npm pack + fresh install"
./.ci/test-wasm.sh

step "Kotlin: uniffi bindings tested on the JVM (local dir, SeaweedFS, a Kotlin transport)"
./packages-kotlin/test-jvm.sh

step "Kotlin on Android's classes: the same tests, Android specifics and examples/kotlin/android on Robolectric (API 34)"
./packages-kotlin/test-robolectric.sh

step "Swift: generated sources are fresh, the C header matches the library's symbols"
./packages-swift/check.sh

step "Swift on Linux: the package compiled with Swift 6.0.3, its XCTest suite, examples/swift"
./packages-swift/test-linux.sh

step "README snippets (Swift, Kotlin) are the code CI runs"
python3 .ci/check-snippets.py

step "fuzz smoke (${FUZZ_SECONDS:-5}s per target)"
./.ci/fuzz-smoke.sh

step_end
printf '\n==== all checks passed\n'
