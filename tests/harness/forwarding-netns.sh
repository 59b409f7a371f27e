#!/bin/bash
# Runs a command in a throw-away network namespace, under the harness's private /etc (private-etc.sh):
# /etc is an overlay that vanishes with the command, its /etc/sysctl.d starts empty but for the
# distribution's 99-sysctl.conf link (so boot order is as on the host, and no drop-in of the machine
# decides a result), and /run/lock is a scratch tmpfs (KvmHost's lock file). The command sees its own
# /proc/sys/net; nothing it writes reaches the host.
#
#   forwarding-netns.sh [--ip-netns] -- COMMAND [ARGS...]
#
# Default: unshare --net. With --ip-netns the namespace is made with `ip netns add` and entered with
# `ip netns exec`, the way admins enter one; it is deleted again on exit. Needs root. Exit code: the
# command's.
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
self=$(readlink -f "$0")

if [[ $inside -eq 1 ]]; then
    ip link set lo up
    exec bash "$(dirname "$self")/private-etc.sh" --empty /etc/sysctl.d:99-sysctl.conf -- "$@"
fi

[[ $(id -u) -eq 0 ]] || { echo "$0: needs root" >&2; exit 1; }
if [[ $mode == unshare ]]; then
    exec unshare --net -- "$self" --inside -- "$@"
fi

name="kvmhost-fwd-$$-$RANDOM"
ip netns add "$name"
trap 'ip netns delete "$name" 2>/dev/null || true' EXIT
status=0
ip netns exec "$name" "$self" --inside -- "$@" || status=$?
exit $status
