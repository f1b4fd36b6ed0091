#!/usr/bin/env bash
# A longer fuzzing campaign than the CI smoke (not in the CI path): every target (or those named)
# for FUZZ_LONG_SECONDS each (default 600), on all cores libFuzzer is given (FUZZ_JOBS, default 1),
# keeping the corpus under fuzz/corpus. Prints, per target: executions, coverage (libFuzzer's
# `cov:` edges) and features at the end, and whether it found a crash (left in fuzz/artifacts).
#
#   .ci/fuzz-long.sh                  # all targets, 10 minutes each
#   FUZZ_LONG_SECONDS=3600 .ci/fuzz-long.sh sealed_trailer vault_head
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${FUZZ_LONG_SECONDS:-600}"
jobs="${FUZZ_JOBS:-1}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
fi
cargo +nightly fuzz build -O
printf '%-22s %14s %8s %8s %s\n' target executions cov ft result > /tmp/coffer-fuzz-long.txt
status=0
for t in "${targets[@]}"; do
  log="$(mktemp)"
  echo "== $t: ${secs}s"
  mkdir -p "corpus/$t" && cp -n "seeds/$t/"* "corpus/$t/" 2>/dev/null || true
  cargo +nightly fuzz run -O "$t" -- -max_total_time="$secs" -jobs="$jobs" -workers="$jobs" \
    -print_final_stats=1 >"$log" 2>&1 || true
  execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{s+=$2} END {print s+0}')
  cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -Eo 'ft: [0-9]+' "$log" | tail -1 | awk '{print $2}')
  result=ok
  if [ -n "$(ls -A "artifacts/$t" 2>/dev/null)" ]; then
    result="CRASH (see fuzz/artifacts/$t)"
    status=1
  fi
  printf '%-22s %14s %8s %8s %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result" >> /tmp/coffer-fuzz-long.txt
  rm -f "$log"
done
cat /tmp/coffer-fuzz-long.txt
exit $status
