#!/usr/bin/env bash
# Installs what the tests need, only when it is missing. Safe to run again; fast when all is there.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== setup: %s\n' "$*"; }

command -v cargo >/dev/null || { echo "setup: cargo not found; install Rust with rustup first" >&2; exit 1; }

# The pinned toolchain (rust-toolchain.toml) with fmt, clippy and the wasm32 target.
channel=$(grep channel rust-toolchain.toml | cut -d'"' -f2)
say "Rust toolchain $channel, rustfmt, clippy, wasm32"
rustup toolchain list | grep -q "^$channel" || rustup toolchain install "$channel" --profile minimal
rustup component add rustfmt clippy >/dev/null
rustup target add wasm32-unknown-unknown >/dev/null

# cargo-fuzz needs a nightly toolchain (sanitizer flags).
if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  say "nightly toolchain for cargo-fuzz"
  rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null; then
  say "cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# Servers for the transport tests (each script installs only when missing).
for s in .ci/seaweedfs.sh .ci/kubo.sh; do
  if [ -x "$s" ]; then say "$s install"; "$s" install; fi
done
