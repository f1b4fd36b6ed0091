#!/usr/bin/env bash
# Many files at once: `coffer put -r` / `get -r` against `rclone copy` to and from a `crypt` remote
# (Debian's rclone 1.60: client-side encryption too), the same files, the same SeaweedFS, the same
# number of transfers at once. Prints both rates and coffer's ratio for the upload, a rerun with
# nothing to send, and the download.
#
#   benches-compare/transfer.sh [--files N] [--jobs J] [--max-size BYTES] [--json]
#
# Defaults: 10,000 files in 100 directories, sizes 0..64 KiB (deterministic), 16 transfers at once.
# Needs rclone (`apt-get install rclone`), a release coffer ($COFFER_BIN, else it builds one) and
# SeaweedFS (.ci/seaweedfs.sh: started here unless COFFER_TEST_S3_ENDPOINT is set, and stopped).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
FILES=10000
JOBS=16
MAX_SIZE=65536
JSON=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --files) FILES="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --max-size) MAX_SIZE="$2"; shift 2 ;;
    --json) JSON=1; shift ;;
    *) echo "usage: $0 [--files N] [--jobs J] [--max-size BYTES] [--json]" >&2; exit 2 ;;
  esac
done
log() { echo "transfer.sh: $*" >&2; }

command -v rclone >/dev/null || { log "rclone is missing: apt-get install rclone"; exit 1; }
if [[ -z ${COFFER_BIN:-} ]]; then
  (cd "$ROOT" && cargo build --quiet --release -p coffer-cli)
  COFFER_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/coffer"
fi

WORK="$(mktemp -d)"
STARTED=0
cleanup() {
  rm -rf "$WORK"
  if [[ $STARTED == 1 ]]; then "$ROOT/.ci/seaweedfs.sh" stop >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
if [[ -z ${COFFER_TEST_S3_ENDPOINT:-} ]]; then
  "$ROOT/.ci/seaweedfs.sh" env >/dev/null 2>&1 || STARTED=1
  "$ROOT/.ci/seaweedfs.sh" start >/dev/null
  # shellcheck disable=SC1091
  source "$ROOT/.ci/state/seaweedfs.env"
fi

log "making $FILES files (0..$MAX_SIZE bytes each) in $WORK/src"
python3 - "$WORK/src" "$FILES" "$MAX_SIZE" <<'PY'
import os, random, sys
root, n, max_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(20261205)
for i in range(n):
    d = os.path.join(root, f"dir{i % 100:03d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"file{i:05d}.bin"), "wb") as f:
        f.write(rng.randbytes(rng.randint(0, max_size)))
PY
BYTES=$(du -sb --apparent-size "$WORK/src" | cut -f1)
RUN="bench-$(date +%s%N)"

# rclone: an S3 remote on the same bucket, and a crypt remote over it (names and content
# encrypted, like coffer). AWS_CA_BUNDLE set to a file trips rclone 1.60's TLS set-up.
export RCLONE_CONFIG_SW_TYPE=s3 RCLONE_CONFIG_SW_PROVIDER=Other \
  RCLONE_CONFIG_SW_ENDPOINT="$COFFER_TEST_S3_ENDPOINT" \
  RCLONE_CONFIG_SW_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" \
  RCLONE_CONFIG_SW_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
  RCLONE_CONFIG_SW_REGION="${AWS_REGION:-us-east-1}" RCLONE_CONFIG_SW_FORCE_PATH_STYLE=true
export RCLONE_CONFIG_SECRET_TYPE=crypt \
  RCLONE_CONFIG_SECRET_REMOTE="sw:$COFFER_TEST_S3_BUCKET/$RUN-rclone" \
  RCLONE_CONFIG_SECRET_PASSWORD="$(rclone obscure "bench-password-$RUN")"
export RCLONE_CONFIG="$WORK/rclone.conf"
: >"$RCLONE_CONFIG"
rclone_run() { env -u AWS_CA_BUNDLE rclone --transfers "$JOBS" --checkers "$JOBS" "$@"; }

export COFFER_HOME="$WORK/home"
"$COFFER_BIN" init --store "s3://$COFFER_TEST_S3_BUCKET/$RUN-coffer?endpoint=$COFFER_TEST_S3_ENDPOINT&path_style=true" \
  --vault bench --device d1 >/dev/null

timed() { local t0=$EPOCHREALTIME; "$@" >/dev/null; python3 -c "print($EPOCHREALTIME - $t0)"; }

log "rclone copy (upload)"
R_UP=$(timed rclone_run copy "$WORK/src" secret:)
log "coffer put -r (upload)"
C_UP=$(timed "$COFFER_BIN" put -r "$WORK/src" data --jobs "$JOBS")
log "rclone copy (rerun, nothing to send)"
R_RE=$(timed rclone_run copy "$WORK/src" secret:)
log "coffer put -r (rerun, nothing to send)"
C_RE=$(timed "$COFFER_BIN" put -r "$WORK/src" data --jobs "$JOBS")
log "rclone copy (download)"
R_DOWN=$(timed rclone_run copy secret: "$WORK/rclone-out")
log "coffer get -r (download)"
C_DOWN=$(timed "$COFFER_BIN" get -r data "$WORK/coffer-out" --jobs "$JOBS")
diff -r "$WORK/src" "$WORK/coffer-out" >/dev/null || { log "coffer get -r gave other files"; exit 1; }
diff -r "$WORK/src" "$WORK/rclone-out" >/dev/null || { log "rclone gave other files"; exit 1; }

python3 - "$FILES" "$BYTES" "$JOBS" "$R_UP" "$C_UP" "$R_RE" "$C_RE" "$R_DOWN" "$C_DOWN" "$JSON" <<'PY'
import json, sys
files, nbytes, jobs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
r_up, c_up, r_re, c_re, r_down, c_down = map(float, sys.argv[4:10])
as_json = sys.argv[10] == "1"
def rates(s): return {"seconds": round(s, 2), "files_per_s": round(files / s, 1), "mib_per_s": round(nbytes / 2**20 / s, 2)}
out = {
    "files": files, "bytes": nbytes, "jobs": jobs, "rclone": "crypt remote over s3, rclone 1.60",
    "upload": {"coffer": rates(c_up), "rclone": rates(r_up), "ratio": round(r_up / c_up, 2)},
    "rerun": {"coffer_s": round(c_re, 2), "rclone_s": round(r_re, 2), "ratio": round(r_re / c_re, 2)},
    "download": {"coffer": rates(c_down), "rclone": rates(r_down), "ratio": round(r_down / c_down, 2)},
}
if as_json:
    print(json.dumps(out, indent=2))
else:
    print(f"{files} files, {nbytes / 2**20:.1f} MiB, {jobs} transfers at once, same SeaweedFS")
    print(f"{'':10} {'coffer':>24} {'rclone crypt':>24} {'ratio':>7}")
    for k in ("upload", "download"):
        c, r = out[k]["coffer"], out[k]["rclone"]
        print(f"{k:10} {c['files_per_s']:>9.0f} files/s {c['mib_per_s']:>6.1f} MiB/s {r['files_per_s']:>9.0f} files/s {r['mib_per_s']:>6.1f} MiB/s {out[k]['ratio']:>6.2f}x")
    print(f"{'rerun':10} {c_re:>22.2f} s {r_re:>22.2f} s {out['rerun']['ratio']:>6.2f}x")
PY
