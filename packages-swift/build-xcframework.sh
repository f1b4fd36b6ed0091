#!/usr/bin/env bash
# Builds CofferFFI.xcframework (the Rust staticlib per Apple platform + the generated C header and
# module map) and regenerates Sources/Coffer/Coffer.swift. Runs on macOS with Xcode:
#
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios \
#                     aarch64-apple-darwin x86_64-apple-darwin
#   ./build-xcframework.sh          # then: swift build && swift test
#
# Slices: ios-arm64 (aarch64-apple-ios), ios-arm64_x86_64-simulator (aarch64-apple-ios-sim +
# x86_64-apple-ios, lipo'd), macos-arm64_x86_64 (aarch64-apple-darwin + x86_64-apple-darwin).
# There is no Swift toolchain on this project's Linux machines: this script has not run there.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
[[ $(uname) == Darwin ]] || { echo "build-xcframework.sh: needs macOS with Xcode" >&2; exit 1; }
PROFILE=release
TARGETS=(aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin)
rustup target add "${TARGETS[@]}"
cd "$ROOT"
for t in "${TARGETS[@]}"; do
  cargo build --profile "$PROFILE" -p coffer-uniffi --lib --target "$t"
done
# Bindings + header from the host build (same crate, same metadata).
cargo build --profile "$PROFILE" -p coffer-uniffi --features cli
"$CARGO_TARGET_DIR/$PROFILE/uniffi-bindgen" generate --library "$CARGO_TARGET_DIR/$PROFILE/libcoffer_uniffi.dylib" \
  --language swift --out-dir "$HERE/generated" --no-format
mv "$HERE/generated/Coffer.swift" "$HERE/Sources/Coffer/Coffer.swift"

WORK="$CARGO_TARGET_DIR/xcframework"
rm -rf "$WORK" "$HERE/CofferFFI.xcframework" && mkdir -p "$WORK/headers"
cp "$HERE/generated/CofferFFI.h" "$WORK/headers/"
cp "$HERE/generated/CofferFFI.modulemap" "$WORK/headers/module.modulemap"
lib() { echo "$CARGO_TARGET_DIR/$1/$PROFILE/libcoffer_uniffi.a"; }
mkdir -p "$WORK/ios-sim" "$WORK/macos"
lipo -create "$(lib aarch64-apple-ios-sim)" "$(lib x86_64-apple-ios)" -output "$WORK/ios-sim/libcoffer_uniffi.a"
lipo -create "$(lib aarch64-apple-darwin)" "$(lib x86_64-apple-darwin)" -output "$WORK/macos/libcoffer_uniffi.a"
xcodebuild -create-xcframework \
  -library "$(lib aarch64-apple-ios)" -headers "$WORK/headers" \
  -library "$WORK/ios-sim/libcoffer_uniffi.a" -headers "$WORK/headers" \
  -library "$WORK/macos/libcoffer_uniffi.a" -headers "$WORK/headers" \
  -output "$HERE/CofferFFI.xcframework"
echo "build-xcframework.sh: $HERE/CofferFFI.xcframework; now: swift build && swift test"
