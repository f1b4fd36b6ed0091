#!/usr/bin/env bash
# The long campaign, outside CI (CI runs the same checks briefly): the seal property tests with
# many more cases on every AEAD backend, then every fuzz target for longer (.ci/fuzz-long.sh).
#
#   .ci/long-checks.sh                      PROPTEST_CASES=1000000, FUZZ_LONG_SECONDS=600
#   PROPTEST_CASES=200000 FUZZ_LONG_SECONDS=60 .ci/long-checks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/lib.sh
. .ci/lib.sh
export PROPTEST_CASES="${PROPTEST_CASES:-1000000}"
step "seal property tests, $PROPTEST_CASES cases, portable and ring backends"
cargo test --release -p coffer --features ring --lib seal::tests
step "fuzz, ${FUZZ_LONG_SECONDS:-600}s per target"
ensure_nightly
ensure_cargo_fuzz
./.ci/fuzz-long.sh
step_summary
