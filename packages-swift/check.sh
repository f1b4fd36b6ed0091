#!/usr/bin/env bash
# Checks the committed Swift bindings without a Swift toolchain (there is none on Linux here):
#   1. regenerates the Swift sources, C header and module map from the host library with the
#      workspace's uniffi-bindgen and fails when the committed ones (Sources/Coffer/Coffer.swift,
#      generated/CofferFFI.h, generated/CofferFFI.modulemap) differ: run with --update to refresh;
#   2. checks that every function the C header declares is exported by the shared library
#      (nm -D) and defined in the static library (nm), and that every uniffi symbol the library
#      exports is declared in the header.
# Exits non-zero on any failure.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
UPDATE=0; [[ ${1:-} == --update ]] && UPDATE=1
fail=0
log() { echo "check.sh: $*" >&2; }

command -v nm >/dev/null 2>&1 || { log "installing binutils"; apt-get update -qq >/dev/null; apt-get install -y -qq binutils >/dev/null; }

# Same build as packages-kotlin/test-jvm.sh (same features), so the two share artifacts; CI
# builds it once for every suite and says where (COFFER_UNIFFI_DIR).
if [[ -z ${COFFER_UNIFFI_DIR:-} ]]; then
  (cd "$ROOT" && cargo build -q -p coffer-uniffi --features cli)
fi
UNIFFI_DIR="${COFFER_UNIFFI_DIR:-$CARGO_TARGET_DIR/debug}"
SO="$UNIFFI_DIR/libcoffer_uniffi.so"
A="$UNIFFI_DIR/libcoffer_uniffi.a"

GEN="$(mktemp -d)"; trap 'rm -rf "$GEN"' EXIT
(cd "$ROOT" && "$UNIFFI_DIR/uniffi-bindgen" generate --library "$SO" --language swift \
  --out-dir "$GEN" --no-format >/dev/null)

compare() { # generated-file committed-file
  if [[ $UPDATE == 1 ]]; then mkdir -p "$(dirname "$2")"; cp "$1" "$2"; return; fi
  if ! diff -q "$1" "$2" >/dev/null 2>&1; then
    log "STALE: ${2#"$ROOT"/} differs from what uniffi-bindgen generates now (run packages-swift/check.sh --update):"
    diff -u "$2" "$1" | head -40 >&2 || true
    fail=1
  else
    echo "ok   ${2#"$ROOT"/} is up to date"
  fi
}
compare "$GEN/Coffer.swift" "$HERE/Sources/Coffer/Coffer.swift"
compare "$GEN/CofferFFI.h" "$HERE/generated/CofferFFI.h"
compare "$GEN/CofferFFI.modulemap" "$HERE/generated/CofferFFI.modulemap"

# Functions the header declares: `<type> name(` at the start of a declaration.
HEADER="$GEN/CofferFFI.h"
grep -oE '\b(uniffi|ffi)_[A-Za-z0-9_]+\(' "$HEADER" | tr -d '(' | sort -u >"$GEN/declared"
nm -D --defined-only "$SO" | awk '$2 ~ /^[TtWw]$/ {print $3}' | grep -E '^(uniffi|ffi)_' | sort -u >"$GEN/so"
nm --defined-only "$A" 2>/dev/null | awk '$2 ~ /^[TW]$/ {print $3}' | grep -E '^(uniffi|ffi)_' | sort -u >"$GEN/a"
# Header lines like `void uniffi_foo(...)` inside typedefs of callbacks are not functions: only
# keep names that are not typedef'd callback types.
grep -oE 'typedef [^;]*\(\*[A-Za-z0-9_]+\)' "$HEADER" | grep -oE '\(\*[A-Za-z0-9_]+\)' | tr -d '(*)' | sort -u >"$GEN/typedefs"
comm -23 "$GEN/declared" "$GEN/typedefs" >"$GEN/functions"
n=$(wc -l <"$GEN/functions")
missing_so=$(comm -23 "$GEN/functions" "$GEN/so")
missing_a=$(comm -23 "$GEN/functions" "$GEN/a")
undeclared=$(comm -13 "$GEN/functions" "$GEN/so" | grep -E '^(uniffi_coffer_uniffi_|ffi_coffer_uniffi_)' || true)
if [[ -n $missing_so ]]; then log "declared in the header but not exported by $SO:"; echo "$missing_so" >&2; fail=1; fi
if [[ -n $missing_a ]]; then log "declared in the header but not defined in $A:"; echo "$missing_a" >&2; fail=1; fi
if [[ -n $undeclared ]]; then log "exported by the library but not declared in the header:"; echo "$undeclared" >&2; fail=1; fi
if [[ -z $missing_so && -z $missing_a && -z $undeclared ]]; then
  echo "ok   the header's $n functions are exported by the .so and defined in the staticlib, and nothing more"
fi
(( n > 20 )) || { log "suspiciously few functions ($n) found in the header"; fail=1; }

if [[ $fail == 0 ]]; then echo "check.sh: Swift bindings OK"; fi
exit $fail
