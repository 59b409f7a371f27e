#!/bin/bash
# Runs a command in a throw-away network namespace with a private mount namespace in which
# /etc/sysctl.d is an empty scratch directory (keeping only the 99-sysctl.conf link, so boot order is
# as on the host), /etc/sysctl.conf is a scratch copy of the host's, and /run/lock is a scratch tmpfs
# (KvmHost's lock file). The command sees its own /proc/sys/net; nothing it writes reaches the host.
#
#   forwarding-netns.sh [--ip-netns] -- COMMAND [ARGS...]
#
# Default: unshare --net --mount. With --ip-netns the namespace is made with `ip netns add` and entered
# with `ip netns exec` (which itself gives a private mount namespace), the way admins enter one; it is
# deleted again on exit. Needs root. Exit code: the command's.
set -euo pipefail

usage() { echo "usage: $0 [--ip-netns] -- COMMAND [ARGS...]" >&2; exit 2; }

mode=unshare
inside=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --ip-netns) mode=ipnetns; shift ;;
        --inside) inside=1; shift ;;
        --) shift; break ;;
        *) usage ;;
    esac
done
[[ $# -gt 0 ]] || usage

if [[ $inside -eq 1 ]]; then
    # Private propagation first: none of the mounts below may show up in the host's namespace.
    mount --make-rprivate /
    # The scratch files live on a tmpfs over /run/lock (KvmHost's lock directory, which must be private
    # anyway), so nothing is left behind on the host's disks when the namespace goes away.
    mkdir -p /run/lock
    mount -t tmpfs -o mode=1777 kvmhost-fwd /run/lock
    scratch=/run/lock/.kvmhost-fwd-scratch
    mkdir -p "$scratch/sysctl.d"
    if [[ -L /etc/sysctl.d/99-sysctl.conf ]]; then cp -P /etc/sysctl.d/99-sysctl.conf "$scratch/sysctl.d/"; fi
    if [[ -f /etc/sysctl.conf ]]; then cp /etc/sysctl.conf "$scratch/sysctl.conf"; else : > "$scratch/sysctl.conf"; fi
    mkdir -p /etc/sysctl.d
    mount --bind "$scratch/sysctl.d" /etc/sysctl.d
    mount --bind "$scratch/sysctl.conf" /etc/sysctl.conf
    ip link set lo up
    exec "$@"
fi

[[ $(id -u) -eq 0 ]] || { echo "$0: needs root" >&2; exit 1; }
self=$(readlink -f "$0")
if [[ $mode == unshare ]]; then
    exec unshare --net --mount --propagation private -- "$self" --inside -- "$@"
fi

name="kvmhost-fwd-$$-$RANDOM"
ip netns add "$name"
trap 'ip netns delete "$name" 2>/dev/null || true' EXIT
status=0
ip netns exec "$name" "$self" --inside -- "$@" || status=$?
exit $status
