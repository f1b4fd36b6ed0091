#!/usr/bin/env bash
# Builds the coffer uniffi library for this host, generates the Kotlin bindings from it, compiles
# them with the JVM tests and the example, and runs everything on the JVM against the host .so:
#   - the JVM tests (test-vectors/, vaults on a local directory, on SeaweedFS S3 and over a Kotlin
#     transport, typed errors, cancellation, sharing, links), closing with "N passed, N failed"
#     (the same cases run on Android's classes with test-robolectric.sh);
#   - the Rust `coffer` CLI opening an object Kotlin sealed;
#   - examples/kotlin (stores a file in a vault and reads it back).
# Exits non-zero on any failure. Installs what is missing (JDK, JNA, kotlinc) and starts SeaweedFS
# (.ci/seaweedfs.sh) unless COFFER_TEST_S3_ENDPOINT is set or it is already running; stops only
# what it started.
#
# Env: CARGO_TARGET_DIR (default: <repo>/target), COFFER_TEST_S3_ENDPOINT/_BUCKET +
# AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_REGION to use another S3 endpoint.
# Built artifacts to reuse (CI builds them once for every suite; else this script builds them):
#   COFFER_UNIFFI_DIR  a directory holding libcoffer_uniffi.so and uniffi-bindgen
#   COFFER_BIN         a `coffer` CLI
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
TOOLS="$HERE/.tools"
BUILD="$HERE/build"
KOTLIN_VERSION=2.2.20
T0=$SECONDS

log() { echo "test-jvm.sh: $*" >&2; }
die() { log "$*"; exit 1; }

apt_install() {
  log "installing $* (apt)"
  if [[ $(id -u) -eq 0 ]]; then apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else sudo apt-get update -qq >/dev/null && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; fi
}

# --- tools -----------------------------------------------------------------------------------
command -v javac >/dev/null 2>&1 && command -v java >/dev/null 2>&1 || apt_install default-jdk-headless
JNA_JAR=/usr/share/java/jna.jar
[[ -f $JNA_JAR ]] || apt_install libjna-java
[[ -f $JNA_JAR ]] || die "JNA is missing ($JNA_JAR)"

KOTLIN_HOME="$TOOLS/node_modules/kotlin-compiler"
if [[ ! -x $KOTLIN_HOME/bin/kotlinc ]] || ! grep -q "^$KOTLIN_VERSION" "$KOTLIN_HOME/build.txt" 2>/dev/null; then
  command -v npm >/dev/null 2>&1 || apt_install npm
  log "installing kotlin-compiler@$KOTLIN_VERSION (npm) into $TOOLS"
  mkdir -p "$TOOLS"
  (cd "$TOOLS" && npm install --silent --no-audit --no-fund --no-save "kotlin-compiler@$KOTLIN_VERSION" >/dev/null)
fi
KOTLINC="$KOTLIN_HOME/bin/kotlinc"
COROUTINES_JAR="$KOTLIN_HOME/lib/kotlinx-coroutines-core-jvm.jar"
STDLIB_JAR="$KOTLIN_HOME/lib/kotlin-stdlib.jar"
[[ -f $COROUTINES_JAR && -f $STDLIB_JAR ]] || die "kotlin-compiler has no stdlib/coroutines jars"

# --- Rust: the library, uniffi-bindgen (same uniffi version: same build) and the CLI ---------
if [[ -z ${COFFER_UNIFFI_DIR:-} ]]; then
  log "cargo build (coffer-uniffi + uniffi-bindgen)"
  (cd "$ROOT" && cargo build -q -p coffer-uniffi --features cli)
fi
if [[ -z ${COFFER_BIN:-} ]]; then
  log "cargo build (coffer CLI)"
  (cd "$ROOT" && cargo build -q -p coffer-cli)
fi
UNIFFI_DIR="${COFFER_UNIFFI_DIR:-$CARGO_TARGET_DIR/debug}"
COFFER="${COFFER_BIN:-$CARGO_TARGET_DIR/debug/coffer}"
LIB="$UNIFFI_DIR/libcoffer_uniffi.so"
[[ -f $LIB ]] || die "no $LIB"
[[ -x $COFFER ]] || die "no $COFFER"

# --- bindings --------------------------------------------------------------------------------
GEN="$BUILD/generated/uniffi"
rm -rf "$GEN" && mkdir -p "$GEN"
(cd "$ROOT" && "$UNIFFI_DIR/uniffi-bindgen" generate --library "$LIB" --language kotlin \
  --out-dir "$GEN" --no-format >/dev/null)
log "generated $(find "$GEN" -name '*.kt' | wc -l) Kotlin file(s) in $GEN"

# --- compile ---------------------------------------------------------------------------------
CLASSES="$BUILD/jvm/classes"
# Not src/android nor examples/kotlin/android: they need Android's classes (test-robolectric.sh).
SOURCES=("$GEN" "$HERE/src/main/kotlin" "$HERE/src/test/kotlin" "$ROOT/examples/kotlin/StoreFile.kt")
# kotlinc takes ~25 s: skip it when no source (generated or written) changed since the last run.
STAMP="$(cat "$KOTLIN_HOME/build.txt" <(find "${SOURCES[@]}" -name '*.kt' -type f | sort | xargs cat) | sha256sum | cut -d' ' -f1)"
if [[ -f $CLASSES/coffer/test/CofferTestsKt.class && "$(cat "$BUILD/jvm/stamp" 2>/dev/null)" == "$STAMP" ]]; then
  log "kotlinc: sources unchanged, reusing $CLASSES"
else
  rm -rf "$CLASSES" "$BUILD/jvm/stamp" && mkdir -p "$CLASSES"
  log "kotlinc (bindings + wrapper + tests + example)"
  JAVA_OPTS="${JAVA_OPTS:-} -Xss4m" "$KOTLINC" -nowarn -jvm-target 17 \
    -cp "$JNA_JAR:$COROUTINES_JAR" -d "$CLASSES" "${SOURCES[@]}" 2>&1 | grep -v '^warning' || true
  [[ -f $CLASSES/coffer/test/CofferTestsKt.class ]] || die "kotlinc failed"
  echo "$STAMP" >"$BUILD/jvm/stamp"
fi
CP="$CLASSES:$JNA_JAR:$COROUTINES_JAR:$STDLIB_JAR"
JAVA=(java -Djna.library.path="$(dirname "$LIB")" -Djna.nosys=false -cp "$CP")

# --- S3 --------------------------------------------------------------------------------------
STARTED_WEED=0
cleanup() { if [[ $STARTED_WEED == 1 ]]; then "$ROOT/.ci/seaweedfs.sh" stop || true; fi; }
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
log "S3 endpoint: $COFFER_TEST_S3_ENDPOINT"

# --- run -------------------------------------------------------------------------------------
OUT="$BUILD/interop" && rm -rf "$OUT" && mkdir -p "$OUT"
T1=$SECONDS
COFFER_REPO="$ROOT" COFFER_KT_OUT="$OUT" "${JAVA[@]}" coffer.test.CofferTestsKt
log "JVM tests took $((SECONDS - T1)) s"

log "Rust opens what Kotlin sealed (coffer open)"
"$COFFER" open -i "$OUT/identity.txt" --signer "$(cat "$OUT/recipient.txt")" "$OUT/kotlin.sealed" "$OUT/rust.opened" >/dev/null
cmp "$OUT/kotlin.plain" "$OUT/rust.opened" || die "the CLI opened different bytes than Kotlin sealed"
echo "ok   coffer CLI opens the Kotlin-sealed object"

log "example: examples/kotlin (store and read a file)"
EX="$BUILD/example" && rm -rf "$EX" && mkdir -p "$EX"
head -c 123457 /dev/urandom >"$EX/input.bin"
"${JAVA[@]}" coffer.example.StoreFileKt "$EX/vault" "$EX/input.bin" "$EX/output.bin"
cmp "$EX/input.bin" "$EX/output.bin" || die "the example read back different bytes"
echo "ok   examples/kotlin stores and reads a file"

log "all green in $((SECONDS - T0)) s"
