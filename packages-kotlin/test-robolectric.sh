#!/usr/bin/env bash
# Runs the Kotlin library on Android's framework classes (API 34) with Robolectric under plain
# Maven (pom.xml), JNA loading the host-built coffer library:
#   - every Kotlin test case of src/test (the ones test-jvm.sh runs on the JVM), one JUnit test each;
#   - the Android specifics (src/robolectric): the app's files directory as the default store,
#     calls started on the main thread that do not run on it, a scope's cancellation reaching Rust
#     and the app's transport;
#   - examples/kotlin/android/NotesActivity.kt, created, shown and destroyed.
# Steps (a duration each): Maven and a JDK (apt, when missing); the release library and
# uniffi-bindgen ($COFFER_UNIFFI_LIB when set, with uniffi-bindgen from the same directory when
# there; else `cargo build --release -p coffer-uniffi --features cli`); the Kotlin bindings;
# SeaweedFS for the S3 cases (.ci/seaweedfs.sh, unless COFFER_TEST_S3_ENDPOINT is set or it already
# runs; stopped again if started here); `mvn test` (Maven Central artifacts cached in
# ${COFFER_CI_CACHE:-$HOME/.cache/coffer-ci}/m2). Exits non-zero on any failure.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
M2="${COFFER_CI_CACHE:-$HOME/.cache/coffer-ci}/m2"
T0=$SECONDS
STEP_T=$SECONDS

log() { echo "test-robolectric.sh: $*" >&2; }
die() { log "$*"; exit 1; }
done_step() { log "$1: $((SECONDS - STEP_T)) s"; STEP_T=$SECONDS; }

apt_install() {
  log "installing $* (apt)"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- tools -----------------------------------------------------------------------------------
command -v javac >/dev/null 2>&1 || apt_install default-jdk-headless
command -v mvn >/dev/null 2>&1 || apt_install maven
done_step "JDK and Maven"

# --- the library and uniffi-bindgen ----------------------------------------------------------
if [[ -n ${COFFER_UNIFFI_LIB:-} ]]; then
  [[ -f $COFFER_UNIFFI_LIB ]] || die "COFFER_UNIFFI_LIB=$COFFER_UNIFFI_LIB does not exist"
  LIB="$COFFER_UNIFFI_LIB"
  BINDGEN="$(dirname "$LIB")/uniffi-bindgen"
  if [[ ! -x $BINDGEN ]]; then
    log "cargo build --release -p coffer-uniffi --features cli (for uniffi-bindgen)"
    (cd "$ROOT" && cargo build -q --release -p coffer-uniffi --features cli)
    BINDGEN="$CARGO_TARGET_DIR/release/uniffi-bindgen"
  fi
else
  log "cargo build --release -p coffer-uniffi --features cli"
  (cd "$ROOT" && cargo build -q --release -p coffer-uniffi --features cli)
  LIB="$CARGO_TARGET_DIR/release/libcoffer_uniffi.so"
  BINDGEN="$CARGO_TARGET_DIR/release/uniffi-bindgen"
fi
done_step "coffer library ($LIB)"

GEN="$HERE/build/generated/uniffi"
rm -rf "$GEN" && mkdir -p "$GEN"
(cd "$ROOT" && "$BINDGEN" generate --library "$LIB" --language kotlin --out-dir "$GEN" --no-format >/dev/null)
done_step "Kotlin bindings ($(find "$GEN" -name '*.kt' | wc -l) file(s))"

# --- S3 --------------------------------------------------------------------------------------
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
export COFFER_TEST_S3_ENDPOINT COFFER_TEST_S3_BUCKET AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_REGION
done_step "S3 server ($COFFER_TEST_S3_ENDPOINT)"

# --- Maven: compile and run on Robolectric ---------------------------------------------------
export COFFER_REPO="$ROOT"
export COFFER_KT_OUT="$HERE/build/robolectric-out"
rm -rf "$COFFER_KT_OUT" && mkdir -p "$COFFER_KT_OUT"
log "mvn test (Robolectric, API 34)"
(cd "$HERE" && mvn -B -ntp -Dstyle.color=never -Dmaven.repo.local="$M2" \
  -Dcoffer.lib.dir="$(dirname "$LIB")" test) || die "the Robolectric tests failed"
done_step "mvn test"

log "all green in $((SECONDS - T0)) s"
