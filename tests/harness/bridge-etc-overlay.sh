#!/usr/bin/env bash
# Runs a command with a private, writable /etc: an overlay whose writes land in SCRATCH/upper, in a
# private mount namespace (and a private /run/lock for KvmHost's lock file). The bridge tests run
# New-HostBridge on the live root of a network lab this way, so the ifcfg files it writes into
# /etc/sysconfig/network-scripts never reach the machine's own /etc.
#
#   bridge-etc-overlay.sh SCRATCH -- CMD [ARG...]
#
# Overlayfs shows the lower /etc without the mounts on top of it: do not use it inside the
# NetworkManager lab, whose /etc/NetworkManager is a bind mount (that lab needs no overlay).
set -euo pipefail
(($# >= 3)) && [[ $2 == -- ]] || { echo "usage: bridge-etc-overlay.sh SCRATCH -- CMD [ARG...]" >&2; exit 2; }
scratch=$(readlink -f -- "$1")
shift 2
[[ $(id -u) -eq 0 ]] || { echo "bridge-etc-overlay.sh: must run as root" >&2; exit 1; }
mkdir -p -- "$scratch/upper" "$scratch/work"
exec unshare --mount --propagation private -- bash -c '
  set -e
  mount -n -t overlay kvmhost-etc -o "lowerdir=/etc,upperdir=$1/upper,workdir=$1/work" /etc
  mount -n -t tmpfs -o mode=0755,nosuid,nodev kvmhost-lock /run/lock
  shift
  exec "$@"' bridge-etc-overlay "$scratch" "$@"
