#!/usr/bin/env bash
# Builds every fuzz target and runs each for a short time (FUZZ_SECONDS, default 5: a smoke test
# that the targets build, start and survive their corpus; .ci/long-checks.sh fuzzes for longer).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/lib.sh
. .ci/lib.sh
ensure_nightly
ensure_cargo_fuzz
cd fuzz
secs="${FUZZ_SECONDS:-5}"
targets=$(cargo +nightly fuzz list)
cargo +nightly fuzz build -O
for t in $targets; do
  echo "== fuzz $t (${secs}s)"
  # Corpus kept under fuzz/corpus (gitignored), started from the committed fuzz/seeds/<target>;
  # a crash leaves its input in fuzz/artifacts.
  mkdir -p "corpus/$t" && cp -n "seeds/$t/"* "corpus/$t/" 2>/dev/null || true
  cargo +nightly fuzz run -O "$t" -- -max_total_time="$secs" -print_final_stats=0 2>&1 \
    | grep -E '^(Done|==[0-9]+==|SUMMARY|thread|panicked)' || true
  if [ -n "$(ls -A "artifacts/$t" 2>/dev/null)" ]; then
    echo "fuzz target $t found a crash: see fuzz/artifacts/$t" >&2
    exit 1
  fi
done
echo "fuzz smoke: $(echo $targets | wc -w) targets ran ${secs}s each without a crash"
