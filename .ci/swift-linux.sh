#!/usr/bin/env bash
# A Swift toolchain for Linux CI: Debian trixie's `swiftlang` (Swift 6.0.3) in a minimal trixie
# chroot, because Debian bookworm (this machine) ships no Swift.
#
#   .ci/swift-linux.sh install        make the chroot if missing (about 2 min and 530 MB, once)
#   .ci/swift-linux.sh run DIR CMD..  run CMD inside the chroot with DIR (absolute) visible at the
#                                     same path, in DIR; /proc, /dev and a fresh /tmp are mounted
#                                     for it; the environment is clean (pass variables with `env`)
#
# The chroot lives in ${COFFER_CI_CACHE:-$HOME/.cache/coffer-ci}/swift-trixie and survives fresh
# clones. `run` mounts in a private mount namespace (unshare), so nothing stays mounted when it
# ends, however it ends. Needs root (debootstrap, chroot, mount).
set -euo pipefail

CACHE="${COFFER_CI_CACHE:-$HOME/.cache/coffer-ci}"
ROOTFS="$CACHE/swift-trixie"
MIRROR="${COFFER_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES="swiftlang libc6-dev"
# Written last by `install`: a chroot without it is incomplete and is made again.
READY="$ROOTFS/.coffer-ready"

log() { echo "swift-linux.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "needs root (debootstrap, chroot, mount)"

mounted_under() { # any mount point below $1?
  awk -v p="$1/" 'index($2, p) == 1 { found = 1 } END { exit !found }' /proc/self/mounts
}

install() {
  if [[ -f $READY ]] && grep -qx "$PACKAGES" "$READY"; then return; fi
  local t0=$SECONDS
  command -v debootstrap >/dev/null 2>&1 || {
    log "installing debootstrap (apt)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  }
  if [[ -e $ROOTFS ]]; then
    # Never delete through a live bind mount of /dev or the repository.
    mounted_under "$ROOTFS" && die "something is mounted under $ROOTFS: unmount it first"
    log "removing the incomplete chroot $ROOTFS"
    rm -rf --one-file-system "$ROOTFS"
  fi
  mkdir -p "$CACHE"
  log "debootstrap --variant=minbase trixie $ROOTFS (once)"
  debootstrap --variant=minbase trixie "$ROOTFS" "$MIRROR" >"$CACHE/swift-trixie-debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/swift-trixie-debootstrap.log" >&2; die "debootstrap failed (log: $CACHE/swift-trixie-debootstrap.log)"; }
  log "apt-get install $PACKAGES (inside the chroot)"
  cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf" 2>/dev/null || true
  in_chroot / env DEBIAN_FRONTEND=noninteractive bash -c \
    "apt-get update -qq && apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null && apt-get clean" \
    || die "installing $PACKAGES in the chroot failed"
  in_chroot / swift --version >&2 || die "swift does not run in the chroot"
  echo "$PACKAGES" >"$READY"
  log "chroot ready in $((SECONDS - t0)) s ($(du -sh "$ROOTFS" | cut -f1))"
}

# in_chroot DIR CMD..: CMD in the chroot, in DIR (bound at the same path unless it is /), with
# /proc, /dev and a fresh /tmp mounted, in a private mount namespace: the mounts vanish with it.
in_chroot() {
  unshare --mount --propagation private bash -c '
    set -e
    root=$1 dir=$2; shift 2
    mount -t proc proc "$root/proc"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs -o size=4g tmpfs "$root/tmp"
    if [[ $dir != / ]]; then mkdir -p "$root$dir" && mount --bind "$dir" "$root$dir"; fi
    exec chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp/home TERM=dumb \
      LANG=C.UTF-8 bash -c "mkdir -p /tmp/home && cd \"\$0\" && exec \"\$@\"" "$dir" "$@"
  ' _ "$ROOTFS" "$@"
}

run() {
  local dir=$1
  [[ $dir == /* && -d $dir && $dir != / ]] || die "run: $dir is not an absolute directory"
  install
  in_chroot "$@"
}

case "${1:-}" in
  install) install ;;
  run) shift; [[ $# -ge 2 ]] || die "usage: $0 run DIR CMD..."; run "$@" ;;
  *) die "usage: $0 install | run DIR CMD..." ;;
esac
