#!/usr/bin/env bash
# Throw-away network labs for the KvmHost tests: a "host" network namespace whose NIC is one end of a
# veth pair and a "gateway" namespace holding the other end. Cmdlets that change forwarding or move a
# NIC into a bridge run inside the host namespace, so the machine's own network is never touched.
#
#   netns.sh lab NAME                      create NAME-host + NAME-gw, print KEY=VALUE summary
#   netns.sh destroy NAME                  remove both namespaces, their processes, state (idempotent)
#   netns.sh run NS [--private-etc DIR] [--bind SRC:DEST]... -- CMD [ARG...]
#                                          run CMD in namespace NS (NAME-host or NAME-gw); with
#                                          --private-etc, DIR is seen at /etc/sysctl.d; --bind SRC:DEST
#                                          shows SRC at DEST; with either, CMD runs under
#                                          private-etc.sh (its own mount namespace and /etc overlay)
#   netns.sh ping NS ADDR [TRIES]          exit 0 when ADDR answers from inside NS (ICMP with ping;
#                                          without ping, a TCP RST from a closed port counts)
#   netns.sh state-dir [NAME]              print where the harness keeps per-lab scratch state
#
# Only /proc/sys/net/* follows the network namespace. /proc/sys/kernel/*, /proc/sys/vm/* etc. are
# global: a root process in the lab that writes them changes the machine. Binds cover only the
# paths given; the rest of / is the machine's own file system.
set -euo pipefail

SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
HERE=$(dirname -- "$SELF")
# shellcheck source=lib.sh
source "$HERE/lib.sh"

readonly NIC=kvmt0 GW_NIC=kvmg0
readonly HOST_IP=192.0.2.10 GW_IP=192.0.2.1 PREFIX=24
readonly HOST_IP6=2001:db8::10 GW_IP6=2001:db8::1 PREFIX6=64

die() { printf 'netns.sh: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$SELF" >&2
  exit 2
}

# Deterministic, so a later "destroy" in another process finds what "lab" made. /run is preferred
# because it is cleared on reboot; NETLAB_STATE_DIR overrides (keep it short: it holds a D-Bus
# socket and sun_path is limited to 108 bytes).
state_root() {
  if [[ -n ${NETLAB_STATE_DIR:-} ]]; then
    printf '%s\n' "$NETLAB_STATE_DIR"
  elif [[ -d /run && -w /run ]]; then
    printf '%s\n' /run/kvmhost-netlab
  else
    printf '%s\n' "${TMPDIR:-/tmp}/kvmhost-netlab"
  fi
}

check_name() {
  # Restricted so the name is safe in file names, netns names and the socket path length.
  [[ ${1:-} =~ ^[A-Za-z0-9][A-Za-z0-9_.]{0,19}$ ]] ||
    die "bad lab name '${1:-}': 1-20 chars of [A-Za-z0-9_.], no '-' (the -host/-gw suffixes are added)"
}

need_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces need CAP_SYS_ADMIN)"
  command -v ip >/dev/null || die "'ip' (iproute2) not found"
}

# Stops every process whose network namespace is NS. They can only be processes started in the
# lab (the namespace was made by this script), never the machine's own.
kill_ns_pids() {
  local ns=$1 pids i
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  [[ -z $pids ]] && return 0
  # shellcheck disable=SC2086
  kill -TERM $pids 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -z $pids ]] && return 0
    sleep 0.1
  done
  # shellcheck disable=SC2086
  kill -KILL $pids 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    [[ -z $(ip netns pids "$ns" 2>/dev/null || true) ]] && return 0
    sleep 0.1
  done
  echo "netns.sh: processes still in $ns after SIGKILL: $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')" >&2
  return 1
}

cmd_destroy() {
  local name=$1 rc=0 ns root
  check_name "$name"
  need_root
  root=$(state_root)
  # NetworkManager runs in its own pid namespace; stopping it first lets it exit cleanly and
  # removes its scratch mounts' holder before the namespace goes.
  if [[ -d $root/$name/nm ]]; then
    "$HERE/nm-netns.sh" stop "$name" || rc=1
  fi
  for ns in "$name-host" "$name-gw"; do
    if netns_exists "$ns"; then
      kill_ns_pids "$ns" || rc=1
      # Deleting the namespace destroys the veth pair and any bridge made inside it.
      ip netns delete "$ns" || rc=1
    fi
  done
  if [[ -d $root/$name ]]; then
    rm -rf -- "${root:?}/$name" || rc=1
  fi
  rmdir -- "$root" 2>/dev/null || true
  return "$rc"
}

cmd_lab() {
  local name=$1 h g root mac
  check_name "$name"
  need_root
  h=$name-host g=$name-gw
  netns_exists "$h" && die "namespace $h already exists (netns.sh destroy $name first)"
  netns_exists "$g" && die "namespace $g already exists (netns.sh destroy $name first)"
  root=$(state_root)

  # Only namespaces this call created may be removed on failure (never a namesake made meanwhile).
  ip netns add "$h"
  if ! ip netns add "$g"; then
    ip netns delete "$h"
    die "could not create namespace $g"
  fi
  # A half-built lab must not outlive a failure. Expanded now: locals are gone when EXIT runs.
  # shellcheck disable=SC2064
  trap "rc=\$?; if ((rc != 0)); then cmd_destroy '$name' >/dev/null 2>&1 || true; fi; exit \$rc" EXIT
  mkdir -p -- "$root/$name"
  # Created directly inside the lab namespace: the veth never exists in the machine's namespace.
  ip -n "$h" link add "$NIC" type veth peer name "$GW_NIC" netns "$g"
  ip -n "$h" link set lo up
  ip -n "$g" link set lo up
  # nodad: duplicate address detection would leave the IPv6 addresses "tentative" for ~2 s and
  # make the first test flaky; nothing else can own these addresses on a two-ended veth.
  ip -n "$h" addr add "$HOST_IP/$PREFIX" dev "$NIC"
  ip -n "$h" -6 addr add "$HOST_IP6/$PREFIX6" dev "$NIC" nodad
  ip -n "$g" addr add "$GW_IP/$PREFIX" dev "$GW_NIC"
  ip -n "$g" -6 addr add "$GW_IP6/$PREFIX6" dev "$GW_NIC" nodad
  ip -n "$g" link set "$GW_NIC" up
  # NetworkManager only manages an externally created veth once it is up.
  ip -n "$h" link set "$NIC" up
  ip -n "$h" route add default via "$GW_IP" dev "$NIC"
  ip -n "$h" -6 route add default via "$GW_IP6" dev "$NIC"
  # Read through the namespace: the machine's /sys could have its own interface with this name.
  mac=$(ip -n "$h" -br link show dev "$NIC" | awk '{print $3}')
  trap - EXIT

  cat <<EOF
LAB=$name
HOST_NS=$h
GW_NS=$g
NIC=$NIC
NIC_MAC=$mac
GW_NIC=$GW_NIC
HOST_IP=$HOST_IP
GW_IP=$GW_IP
PREFIX=$PREFIX
HOST_CIDR=$HOST_IP/$PREFIX
HOST_IP6=$HOST_IP6
GW_IP6=$GW_IP6
PREFIX6=$PREFIX6
HOST_CIDR6=$HOST_IP6/$PREFIX6
STATE_DIR=$root/$name
EOF
}

cmd_run() {
  local ns="" etc=()
  while (($#)); do
    case $1 in
      --private-etc)
        (($# >= 2)) || die "--private-etc needs a directory"
        etc+=(--bind "$2:/etc/sysctl.d"); shift 2 ;;
      --bind)
        (($# >= 2)) || die "--bind needs SRC:DEST"
        etc+=(--bind "$2"); shift 2 ;;
      --) shift; break ;;
      -*) die "run: unknown option $1" ;;
      *)
        [[ -z $ns ]] || die "run: namespace given twice ('$ns', '$1')"
        ns=$1; shift ;;
    esac
  done
  [[ -n $ns ]] || die "run: no namespace (use NAME-host or NAME-gw)"
  (($#)) || die "run: no command after --"
  need_root
  netns_exists "$ns" || die "run: no network namespace '$ns' (netns.sh lab NAME makes NAME-host, NAME-gw)"

  if ((${#etc[@]} == 0)); then
    exec ip netns exec "$ns" "$@"
  fi
  # The harness's one private /etc (an overlay, the binds on top) in a mount namespace of its own, so
  # none of it can reach the machine.
  exec ip netns exec "$ns" bash "$HERE/private-etc.sh" "${etc[@]}" -- "$@"
}

# Retries because right after a change (a NIC moved into a bridge, a rollback) the first probe can
# race the neighbour/ARP entry. Prints how the answer came, for test logs. NETLAB_PING=tcp forces
# the fallback used where iputils-ping is not installed.
cmd_ping() {
  local ns=$1 addr=$2 tries=${3:-5} i out
  need_root
  netns_exists "$ns" || die "ping: no network namespace '$ns'"
  [[ $tries =~ ^[1-9][0-9]?$ ]] || die "ping: TRIES must be 1-99"
  for ((i = 1; i <= tries; i++)); do
    if [[ ${NETLAB_PING:-icmp} == icmp ]] && command -v ping >/dev/null; then
      if ip netns exec "$ns" ping -n -c 1 -W 1 "$addr" >/dev/null 2>&1; then
        echo "reachable icmp try=$i"; return 0
      fi
    else
      # ICMP needs ping (or a raw socket); a refused TCP connection proves the same thing: the peer
      # got the SYN and its RST came back. A timeout or "no route" means no answer.
      # shellcheck disable=SC2016
      out=$(ip netns exec "$ns" timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/9"' _ "$addr" 2>&1) && {
        echo "reachable tcp try=$i"; return 0; }
      if [[ $out == *"Connection refused"* ]]; then echo "reachable tcp-rst try=$i"; return 0; fi
    fi
    ((i < tries)) && sleep 0.3
  done
  echo "unreachable $addr from $ns after $tries tries" >&2
  return 1
}

main() {
  (($#)) || usage
  local sub=$1; shift
  case $sub in
    lab) (($# == 1)) || usage; cmd_lab "$1" ;;
    destroy) (($# == 1)) || usage; cmd_destroy "$1" ;;
    run) cmd_run "$@" ;;
    ping) (($# == 2 || $# == 3)) || usage; cmd_ping "$@" ;;
    state-dir)
      if (($#)); then check_name "$1"; printf '%s/%s\n' "$(state_root)" "$1"; else state_root; fi ;;
    -h|--help|help) usage ;;
    *) die "unknown subcommand '$sub' (lab, destroy, run, ping, state-dir)" ;;
  esac
}

main "$@"
