#!/usr/bin/env bash
# Compiles the Swift package (generated bindings + Swift layer) on Linux and runs its XCTest suite
# and examples/swift against the host-built coffer library:
#   1. the Swift toolchain: Debian trixie's swiftlang in a cached chroot (.ci/swift-linux.sh);
#   2. the release library libcoffer_uniffi.so ($COFFER_UNIFFI_LIB when it points to one, else
#      `cargo build --release -p coffer-uniffi --features cli`, as test-robolectric.sh);
#   3. SeaweedFS for the S3 and link tests (.ci/seaweedfs.sh, unless COFFER_TEST_S3_ENDPOINT is
#      set or it already runs; stopped again if this script started it);
#   4. `swift build --build-tests` and `swift test` in packages-swift (the closing XCTest line
#      counts the tests);
#   5. examples/swift: built as a user's own package depending on packages-swift, run on a file,
#      its output compared with the input.
# Prints a duration per step. Exits non-zero on any failure. Needs root (chroot).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
SWIFT="$ROOT/.ci/swift-linux.sh"
T0=$SECONDS
STEP_T=$SECONDS

log() { echo "test-linux.sh: $*" >&2; }
die() { log "$*"; exit 1; }
done_step() { log "$1: $((SECONDS - STEP_T)) s"; STEP_T=$SECONDS; }

# --- 1. toolchain ----------------------------------------------------------------------------
"$SWIFT" install
done_step "Swift toolchain (chroot)"

# --- 2. the library --------------------------------------------------------------------------
if [[ -n ${COFFER_UNIFFI_LIB:-} ]]; then
  [[ -f $COFFER_UNIFFI_LIB ]] || die "COFFER_UNIFFI_LIB=$COFFER_UNIFFI_LIB does not exist"
  SO="$COFFER_UNIFFI_LIB"
else
  # `--features cli` also builds uniffi-bindgen: the same build serves test-robolectric.sh.
  log "cargo build --release -p coffer-uniffi --features cli"
  (cd "$ROOT" && cargo build -q --release -p coffer-uniffi --features cli)
  SO="$CARGO_TARGET_DIR/release/libcoffer_uniffi.so"
fi
# The chroot sees only the repository: keep a copy of the library inside it.
LIB="$HERE/.build/coffer-lib"
mkdir -p "$LIB" && cp -f "$SO" "$LIB/libcoffer_uniffi.so"
done_step "coffer library ($SO)"

# --- 3. S3 -----------------------------------------------------------------------------------
STARTED_WEED=0
cleanup() { if [[ $STARTED_WEED == 1 ]]; then "$ROOT/.ci/seaweedfs.sh" stop >/dev/null || true; fi; }
trap cleanup EXIT
if [[ -z ${COFFER_TEST_S3_ENDPOINT:-} ]]; then
  if ! "$ROOT/.ci/seaweedfs.sh" env >/dev/null 2>&1; then
    log "starting SeaweedFS"
    STARTED_WEED=1
    "$ROOT/.ci/seaweedfs.sh" start >/dev/null
  fi
  # shellcheck disable=SC1091
  source "$ROOT/.ci/state/seaweedfs.env"
fi
done_step "S3 server ($COFFER_TEST_S3_ENDPOINT)"

# --- 4. build and test the package -------------------------------------------------------------
LINK=(-Xlinker -L"$LIB" -Xlinker -rpath -Xlinker "$LIB")
ENV=(env COFFER_TEST_S3_ENDPOINT="$COFFER_TEST_S3_ENDPOINT" COFFER_TEST_S3_BUCKET="${COFFER_TEST_S3_BUCKET:-coffer-test}"
  AWS_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
  AWS_REGION="${AWS_REGION:-us-east-1}" COFFER_SWIFT_REQUIRE_S3=1)
in_swift() { "$SWIFT" run "$ROOT" "${ENV[@]}" bash -c "cd \"\$0\" && exec \"\$@\"" "$@"; }
# swift build's progress lines are many: keep them in a log, show the rest (warnings, errors).
quiet_build() { # DIR ARGS..
  local out="$HERE/.build/build-$(basename "$1").log"
  mkdir -p "$HERE/.build"
  if ! in_swift "$@" >"$out" 2>&1; then cat "$out" >&2; die "swift build in $1 failed"; fi
  grep -v -E '^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Write|Linking|Build|Planning)' "$out" | grep -v '^Building for' || true
}

log "swift build --build-tests (packages-swift)"
quiet_build "$HERE" swift build --build-tests "${LINK[@]}"
done_step "swift build (package + tests)"

log "swift test (packages-swift)"
# XCTest only: swift-testing would close with "0 tests passed" (there are none of its kind).
in_swift "$HERE" swift test --skip-build --disable-swift-testing "${LINK[@]}" || die "swift test failed"
done_step "swift test"

# --- 5. the example --------------------------------------------------------------------------
EX="$ROOT/examples/swift"
WORK="$HERE/.build/example-run" && rm -rf "$WORK" && mkdir -p "$WORK"
head -c 123457 /dev/urandom >"$WORK/input.bin"
log "examples/swift: swift build, then StoreFile on a file"
quiet_build "$EX" swift build "${LINK[@]}"
in_swift "$EX" .build/debug/StoreFile "$WORK/vault" "$WORK/input.bin" "$WORK/output.bin" || die "examples/swift failed"
cmp "$WORK/input.bin" "$WORK/output.bin" || die "examples/swift read back different bytes"
echo "ok   examples/swift stores a file and reads it back"
done_step "examples/swift"

log "all green in $((SECONDS - T0)) s"
