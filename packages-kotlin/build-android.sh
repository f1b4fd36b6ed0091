#!/usr/bin/env bash
# Cross-compiles libcoffer_uniffi.so for the Android ABIs and generates the Kotlin bindings, so
# that `gradle assembleRelease` can package the AAR.
#
# Needs: the Android NDK (ANDROID_NDK_HOME, r26 or newer), `cargo install cargo-ndk`, and the
# Rust targets (rustup target add aarch64-linux-android armv7-linux-androideabi
# x86_64-linux-android i686-linux-android). The development machines of this project have no
# NDK, so this script has not been run there; test-jvm.sh covers the same bindings on the host JVM.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ -n ${ANDROID_NDK_HOME:-} && -d ${ANDROID_NDK_HOME:-/nonexistent} ]] \
  || { echo "build-android.sh: set ANDROID_NDK_HOME to an Android NDK" >&2; exit 1; }
command -v cargo-ndk >/dev/null 2>&1 || cargo install cargo-ndk --locked
ABIS=(arm64-v8a armeabi-v7a x86_64 x86)
rustup target add aarch64-linux-android armv7-linux-androideabi x86_64-linux-android i686-linux-android
cd "$ROOT"
args=(); for abi in "${ABIS[@]}"; do args+=(-t "$abi"); done
cargo ndk "${args[@]}" --platform 24 -o "$HERE/src/main/jniLibs" build --release -p coffer-uniffi

# Bindings: generated from a host build of the same crate (the metadata is target-independent).
cargo build --release -p coffer-uniffi --features cli
GEN="$HERE/build/generated/uniffi"
rm -rf "$GEN" && mkdir -p "$GEN"
"$CARGO_TARGET_DIR/release/uniffi-bindgen" generate --library "$CARGO_TARGET_DIR/release/libcoffer_uniffi.so" \
  --language kotlin --out-dir "$GEN" --no-format
echo "build-android.sh: .so files in src/main/jniLibs, bindings in $GEN; now: gradle assembleRelease"
