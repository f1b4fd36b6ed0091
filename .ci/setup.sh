#!/usr/bin/env bash
# Installs what the tests need, only when it is missing. Safe to run again; fast when all is there.
# Tools go to the cache that survives fresh clones (${COFFER_CI_CACHE:-~/.cache/coffer-ci}, see
# .ci/lib.sh); each prints how long it took when it had to be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

timed() { # NAME COMMAND...: runs it, says how long it took
  local t=$SECONDS
  "${@:2}"
  printf '== setup: %-40s %4ds\n' "$1" $((SECONDS - t))
}

command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust with rustup first" >&2; exit 1; }

# The pinned toolchain (rust-toolchain.toml) with fmt, clippy and the wasm32 target.
toolchain() {
  local channel
  channel=$(grep channel rust-toolchain.toml | cut -d'"' -f2)
  rustup toolchain list | grep -q "^$channel" || rustup toolchain install "$channel" --profile minimal
  rustup component add rustfmt clippy >/dev/null 2>&1
  rustup target add wasm32-unknown-unknown >/dev/null 2>&1
}
timed "Rust toolchain, rustfmt, clippy, wasm32" toolchain
timed "nightly toolchain (cargo-fuzz)" ensure_nightly
timed "cargo-fuzz" ensure_cargo_fuzz
timed "wasm-bindgen-cli $WASM_BINDGEN_VERSION" ensure_wasm_bindgen
timed "chromium" ensure_chromium

# Servers for the transport tests (each script installs only when missing).
for s in .ci/seaweedfs.sh .ci/kubo.sh; do
  if [ -x "$s" ]; then timed "$s install" "$s" install; fi
done
