#!/usr/bin/env bash
# A private NetworkManager for a lab made by netns.sh: it runs in NAME-host's network namespace, in
# its own mount, UTS and pid namespaces, on its own system D-Bus, with scratch copies of
# /etc/NetworkManager, /var/lib/NetworkManager and /run. The machine's NetworkManager (if any), its
# D-Bus, its profiles and its interfaces are never seen or touched.
#
#   nm-netns.sh start NAME [--timeout SEC]   start dbus-daemon + NetworkManager, wait until NM has
#                                            finished starting and manages the lab NIC; print
#                                            KEY=VALUE (DBUS_SYSTEM_BUS_ADDRESS, NM_PID, ...)
#   nm-netns.sh stop NAME                    kill NM and dbus (the whole pid namespace), remove state
#   nm-netns.sh nmcli NAME -- ARG...         nmcli against the lab's NetworkManager
#   nm-netns.sh run NAME [--private-etc DIR] [--bind SRC:DEST]... -- CMD [ARG...]
#                                            run CMD where NM runs: same network/mount/pid namespaces,
#                                            /etc/NetworkManager is the scratch copy, and
#                                            DBUS_SYSTEM_BUS_ADDRESS points at the lab's bus
#   nm-netns.sh env NAME                     print DBUS_SYSTEM_BUS_ADDRESS=... for clients outside the
#                                            lab; they work, but NM logs an assertion failure for
#                                            each call that checks the caller (its pid is 0 there)
#   nm-netns.sh checkpoint NAME create [--timeout SEC] [--flags N] [IFACE...]
#                                            (flags default: 6 for all devices, 2 with IFACEs)
#   nm-netns.sh checkpoint NAME rollback|destroy CHECKPOINT_PATH
#   nm-netns.sh checkpoint NAME adjust CHECKPOINT_PATH SEC
#   nm-netns.sh checkpoint NAME list
#                                            NetworkManager checkpoints over D-Bus (nmcli has none)
#
# Inside "run", /run is a private tmpfs (so NM's /run/NetworkManager and /run/dbus are private):
# "ip netns" sees no namespaces there; reach the gateway namespace from outside.
set -euo pipefail

SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
HERE=$(dirname -- "$SELF")
NETNS=$HERE/netns.sh
# shellcheck source=lib.sh
source "$HERE/lib.sh"
readonly NIC=kvmt0
# Path of the bus socket as processes inside the lab's mount namespace see it. The same socket is
# reachable from outside at $S/dbus/system_bus_socket.
readonly INNER_BUS=unix:path=/run/dbus/system_bus_socket
readonly NM_BUS_NAME=org.freedesktop.NetworkManager NM_OBJ=/org/freedesktop/NetworkManager

die() { printf 'nm-netns.sh: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$SELF" >&2
  exit 2
}

check_name() {
  [[ ${1:-} =~ ^[A-Za-z0-9][A-Za-z0-9_.]{0,19}$ ]] || die "bad lab name '${1:-}'"
}

nm_dir() { printf '%s/nm\n' "$("$NETNS" state-dir "$1")"; }

need() {
  local b
  for b in "$@"; do command -v "$b" >/dev/null || die "'$b' not found"; done
}

# A zombie counts as gone: its reaper may be the machine's pid 1, which can take seconds to reap.
alive() {
  local st
  [[ -n ${1:-} ]] || return 1
  # read, not $(<...): a failed open inside $(<...) exits the script under set -e.
  read -r st 2>/dev/null <"/proc/$1/stat" || return 1
  st=${st##*) }
  [[ ${st:0:1} != Z ]]
}

# True when PID is still the process we started (guards against PID reuse before any kill).
is_ours() {
  local pid=$1 marker=$2
  alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker"
}

children_of() {
  local parent=$1 f line rest
  for f in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$f" || continue
    # comm (field 2) may contain spaces and ')' : cut after the last ')'.
    rest=${line##*) }
    read -r _ ppid _ <<<"$rest"
    if [[ $ppid == "$parent" ]]; then f=${f#/proc/}; printf '%s\n' "${f%/stat}"; fi
  done
}

child_named() {
  local parent=$1 comm=$2 c
  for c in $(children_of "$parent"); do
    [[ $(cat "/proc/$c/comm" 2>/dev/null) == "$comm" ]] && { printf '%s\n' "$c"; return 0; }
  done
  return 1
}

init_pid() {
  local s p
  s=$(nm_dir "$1")
  p=$(cat "$s/init.pid" 2>/dev/null) || return 1
  is_ours "$p" "__inner $1 " || return 1
  printf '%s\n' "$p"
}

outer_bus() { printf 'unix:path=%s/dbus/system_bus_socket\n' "$(nm_dir "$1")"; }

write_config() {
  local name=$1 s=$2
  mkdir -p "$s"/etc/conf.d "$s"/etc/system-connections "$s"/etc/dispatcher.d "$s"/var-lib "$s"/run-nm \
    "$s"/dbus "$s"/newrun
  # NetworkManager ignores keyfiles that are not owned by root with mode 0600; the directory itself
  # is 0700 like a real /etc/NetworkManager/system-connections.
  chmod 0700 "$s"/etc/system-connections
  cat >"$s/etc/NetworkManager.conf" <<'EOF'
# Scratch configuration of a test lab (tests/harness/nm-netns.sh), not the machine's.
[main]
# keyfile only: Debian's default "ifupdown" plugin would read the machine's /etc/network/interfaces.
plugins=keyfile
# Without this NM creates "Wired connection 1" (DHCP) on the veth, which strips hand-set addresses
# after the 45 s DHCP timeout.
no-auto-default=*
# The machine's /etc/resolv.conf and hostname belong to the machine (resolv.conf is also shadowed).
dns=none
rc-manager=unmanaged
hostname-mode=none
systemd-resolved=false
# There is no polkit on the lab bus: root is allowed everything.
auth-polkit=false

[logging]
level=INFO

[connectivity]
enabled=false
EOF
  printf '# Lab %s (tests/harness/nm-netns.sh); a unique file so a stray NM shows whose config it read.\n[main]\n' \
    "$name" >"$s/etc/conf.d/00-netlab-$name.conf"

  # A minimal system bus: no service directories, so nothing is ever D-Bus-activated (no
  # nm-dispatcher, hostnamed, ...) and no pid file is written into the machine's /run/dbus.
  cat >"$s/dbus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>$INNER_BUS</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="root"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
EOF
}

# Runs as pid 1 of a new pid namespace, in a private mount + UTS namespace, inside NAME-host.
cmd_inner() {
  local name=$1 s=$2 i dbus nm rel
  # With a writable /sys NM expects udev and leaves every device unmanaged ("platform-init");
  # read-only sysfs makes it run without udev. A fresh mount so it lists this namespace's NICs.
  umount -n -l /sys
  mount -n -t sysfs -o ro,nosuid,nodev,noexec sysfs /sys
  mount -n --bind "$s/etc" /etc/NetworkManager
  mount -n --bind "$s/var-lib" /var/lib/NetworkManager
  # dns=none already keeps NM away from it; the shadow copy protects against a config mistake.
  if [[ -f /etc/resolv.conf && ! -L /etc/resolv.conf ]]; then
    cp -- /etc/resolv.conf "$s/resolv.conf"
    mount -n --bind "$s/resolv.conf" /etc/resolv.conf
  fi
  # Build the new /run aside and move it in: the state dir may itself live under /run and has to
  # stay reachable (at the same path) after the move.
  mount -n -t tmpfs -o mode=0755,nosuid,nodev netlab-run "$s/newrun"
  mkdir -p "$s/newrun/dbus" "$s/newrun/NetworkManager" "$s/newrun/lock"
  mount -n --bind "$s/dbus" "$s/newrun/dbus"
  mount -n --bind "$s/run-nm" "$s/newrun/NetworkManager"
  if [[ $s == /run/* ]]; then
    rel=${s#/run/}
    mkdir -p "$s/newrun/$rel"
    mount -n --bind "$s" "$s/newrun/$rel"
  fi
  mount -n --move "$s/newrun" /run
  cd /

  dbus-daemon --config-file="$s/dbus.conf" --nofork --nopidfile --nosyslog >"$s/dbus.log" 2>&1 &
  dbus=$!
  for ((i = 0; i < 100; i++)); do
    [[ -S /run/dbus/system_bus_socket ]] && break
    alive "$dbus" || { echo "dbus-daemon exited" >&2; exit 1; }
    sleep 0.1
  done
  [[ -S /run/dbus/system_bus_socket ]] || { echo "no bus socket after 10 s" >&2; exit 1; }
  export DBUS_SYSTEM_BUS_ADDRESS=$INNER_BUS
  # --debug: stay in the foreground and log to stderr (there is no syslog/journal to log to).
  NetworkManager --debug --log-level=INFO >"$s/nm.log" 2>&1 &
  nm=$!
  # pid 1 ignores signals it has no handler for.
  trap 'kill -TERM "$nm" "$dbus" 2>/dev/null || true' TERM INT
  # Either one dying ends the lab's NM: returning from pid 1 kills the whole pid namespace.
  wait -n "$nm" "$dbus" || true
  echo "NetworkManager or dbus-daemon exited; tearing down" >&2
  kill -TERM "$nm" "$dbus" 2>/dev/null || true
}

cmd_start() {
  local name=$1 timeout=30 s holder init t0 deadline state st nm_pid dbus_pid secs
  shift
  while (($#)); do
    case $1 in
      --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
      *) die "start: unknown argument $1" ;;
    esac
  done
  [[ $timeout =~ ^[0-9]+$ ]] || die "--timeout must be whole seconds"
  [[ $(id -u) -eq 0 ]] || die "must run as root"
  need ip unshare nsenter mount umount NetworkManager nmcli dbus-daemon
  netns_exists "$name-host" || die "no lab '$name' (netns.sh lab $name first)"
  s=$(nm_dir "$name")
  if init_pid "$name" >/dev/null; then die "NetworkManager already running for lab '$name'"; fi
  rm -rf -- "$s"
  write_config "$name" "$s"

  # Expanded now (locals are gone when EXIT runs); name and path are restricted to safe characters.
  # shellcheck disable=SC2064
  trap "rc=\$?; if ((rc != 0)); then
          echo '--- $s/inner.log' >&2; tail -n 20 '$s/inner.log' >&2 2>/dev/null || true
          echo '--- $s/nm.log' >&2; tail -n 30 '$s/nm.log' >&2 2>/dev/null || true
          cmd_stop '$name' >/dev/null 2>&1 || true
        fi; exit \$rc" EXIT

  t0=$(date +%s%N)
  deadline=$((SECONDS + timeout))
  # --kill-child: if the unshare parent dies, pid 1 of the namespace gets SIGKILL, and with it every
  # process inside (NM, dbus, anything started via "run"). All fds are redirected so callers that
  # read our stdout (pwsh) are not held open by the background processes.
  ip netns exec "$name-host" unshare --mount --uts --pid --fork --kill-child --mount-proc \
    --propagation private -- "$SELF" __inner "$name" "$s" </dev/null >"$s/inner.log" 2>&1 &
  holder=$!
  echo "$holder" >"$s/holder.pid"

  init=""
  while ((SECONDS < deadline)); do
    init=$(children_of "$holder" | head -n 1)
    [[ -n $init ]] && is_ours "$init" "__inner $name " && break
    init=""
    alive "$holder" || die "namespace holder exited early"
    sleep 0.05
  done
  [[ -n $init ]] || die "pid namespace init did not start within ${timeout}s"
  echo "$init" >"$s/init.pid"

  while ! [[ -S $s/dbus/system_bus_socket ]]; do
    ((SECONDS < deadline)) || die "no D-Bus socket within ${timeout}s"
    alive "$init" || die "lab init exited"
    sleep 0.05
  done
  while :; do
    state=$(in_lab "$name" nmcli -t -f RUNNING general 2>/dev/null || true)
    [[ $state == running ]] && break
    ((SECONDS < deadline)) || die "NetworkManager not answering within ${timeout}s"
    alive "$init" || die "lab init exited"
    sleep 0.1
  done
  in_lab "$name" nm-online -s -q -t "$((deadline > SECONDS ? deadline - SECONDS : 1))" ||
    die "NetworkManager startup not complete within ${timeout}s"
  while :; do
    st=$(in_lab "$name" nmcli -g GENERAL.STATE device show "$NIC" 2>/dev/null || true)
    [[ -n $st && $st != *unmanaged* ]] && break
    ((SECONDS < deadline)) || die "$NIC still '${st:-missing}' after ${timeout}s"
    sleep 0.1
  done
  secs=$(( ($(date +%s%N) - t0) / 1000000 ))
  nm_pid=$(child_named "$init" NetworkManager || true)
  dbus_pid=$(child_named "$init" dbus-daemon || true)
  trap - EXIT

  cat <<EOF
LAB=$name
HOST_NS=$name-host
NM_STATE_DIR=$s
DBUS_SOCKET=$s/dbus/system_bus_socket
DBUS_SYSTEM_BUS_ADDRESS=$(outer_bus "$name")
INNER_DBUS_SYSTEM_BUS_ADDRESS=$INNER_BUS
SYSTEM_CONNECTIONS_DIR=$s/etc/system-connections
NM_LOG=$s/nm.log
NM_VERSION=$(NetworkManager --version)
NM_PID=$nm_pid
DBUS_PID=$dbus_pid
INIT_PID=$init
HOLDER_PID=$holder
NIC=$NIC
NIC_STATE=$st
START_MS=$secs
NMCLI=$SELF nmcli $name --
RUN=$SELF run $name --
EOF
}

cmd_stop() {
  local name=$1 s holder init nm i
  s=$(nm_dir "$name")
  [[ -d $s ]] || return 0
  holder=$(cat "$s/holder.pid" 2>/dev/null || true)
  init=$(cat "$s/init.pid" 2>/dev/null || true)
  if [[ -n $init ]] && is_ours "$init" "__inner $name "; then
    # A clean SIGTERM lets NM write its state file; devices keep their configuration either way.
    nm=$(child_named "$init" NetworkManager || true)
    if [[ -n $nm ]]; then
      kill -TERM "$nm" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do alive "$nm" || break; sleep 0.1; done
    fi
    # pid 1 dying makes the kernel SIGKILL everything else in the pid namespace.
    kill -KILL "$init" 2>/dev/null || true
  fi
  if [[ -n $holder ]] && is_ours "$holder" "__inner $name "; then
    kill -KILL "$holder" 2>/dev/null || true
  fi
  for ((i = 0; i < 100; i++)); do
    alive "$init" || alive "$holder" || break
    sleep 0.05
  done
  if alive "$init" && is_ours "$init" "__inner $name "; then die "lab init $init still alive"; fi
  # The mounts lived only in the dead mount namespace; what is left is plain files.
  rm -rf -- "$s"
}

nsenter_argv() {
  local init
  init=$(init_pid "$1") || die "NetworkManager is not running for lab '$1' (nm-netns.sh start $1)"
  # The mount namespace switch resets the cwd to /, so the command restores it by path.
  # shellcheck disable=SC2016
  NSENTER=(nsenter -t "$init" -m -u -n -p -- env DBUS_SYSTEM_BUS_ADDRESS="$INNER_BUS"
    sh -c 'cd -- "$1" 2>/dev/null || cd /; shift; exec "$@"' sh "$PWD")
}

in_lab() {
  local NSENTER
  nsenter_argv "$1"
  shift
  "${NSENTER[@]}" "$@"
}

enter() {
  local NSENTER
  nsenter_argv "$1"
  shift
  exec "${NSENTER[@]}" "$@"
}

cmd_run() {
  local name="" etc=()
  while (($#)); do
    case $1 in
      --private-etc) etc+=(--bind "${2:?--private-etc needs a directory}:/etc/sysctl.d"); shift 2 ;;
      --bind) etc+=(--bind "${2:?--bind needs SRC:DEST}"); shift 2 ;;
      --) shift; break ;;
      -*) die "run: unknown option $1" ;;
      *) [[ -z $name ]] || die "run: lab given twice"; name=$1; shift ;;
    esac
  done
  check_name "$name"
  (($#)) || die "run: no command after --"
  if ((${#etc[@]} == 0)); then enter "$name" "$@"; fi
  # private-etc.sh makes a further private mount namespace: the binds never show up in NetworkManager's,
  # and the lab's /etc/NetworkManager stays what NetworkManager sees.
  enter "$name" bash "$HERE/private-etc.sh" "${etc[@]}" -- "$@"
}

# --- checkpoints -------------------------------------------------------------------------------
# Signature (NM >= 1.12): CheckpointCreate(ao devices, u rollback_timeout, u flags) -> o
#   devices: empty = all devices; rollback_timeout: seconds until automatic rollback, 0 = never
#   flags: 0x1 DESTROY_ALL, 0x2 DELETE_NEW_CONNECTIONS, 0x4 DISCONNECT_NEW_DEVICES (only with an
#          empty device list), 0x8 ALLOW_OVERLAPPING, 0x10 NO_PRESERVE_EXTERNAL_PORTS (1.38+)
# CheckpointRollback(o) -> a{su} (device path -> 0 ok, 1 no device, 2 unmanaged, 3 failed);
# CheckpointDestroy(o); CheckpointAdjustRollbackTimeout(o, u seconds_from_now).
# Calls are made from inside the lab's pid namespace: NM looks up the caller's pid, which is 0
# for a client outside it, and logs an assertion failure for every such call.
# busctl (systemd) gives compact output; dbus-send ships with dbus itself, so it is the fallback
# (NETLAB_DBUS_TOOL=dbus-send forces it, to test that path where busctl exists).
use_busctl() { [[ ${NETLAB_DBUS_TOOL:-busctl} == busctl ]] && command -v busctl >/dev/null; }

nm_call() {
  local name=$1 method=$2
  shift 2
  if use_busctl; then
    local sig=""
    case $method in
      CheckpointCreate) sig=aouu ;; CheckpointRollback|CheckpointDestroy) sig=o ;;
      CheckpointAdjustRollbackTimeout) sig=ou ;; GetDeviceByIpIface) sig=s ;;
    esac
    in_lab "$name" busctl call "$NM_BUS_NAME" "$NM_OBJ" "$NM_BUS_NAME" "$method" $sig "$@"
  else
    local a=()
    case $method in
      CheckpointCreate)
        local n=$1 i list=""; shift
        for ((i = 0; i < n; i++)); do list+="${list:+,}$1"; shift; done
        a=("array:objpath:$list" "uint32:$1" "uint32:$2") ;;
      CheckpointRollback|CheckpointDestroy) a=("objpath:$1") ;;
      CheckpointAdjustRollbackTimeout) a=("objpath:$1" "uint32:$2") ;;
      GetDeviceByIpIface) a=("string:$1") ;;
    esac
    in_lab "$name" dbus-send --system --print-reply --dest="$NM_BUS_NAME" "$NM_OBJ" \
      "$NM_BUS_NAME.$method" "${a[@]}"
  fi
}

# Object paths in busctl ('o "/x"') or dbus-send ('object path "/x"') output, one per line.
paths_of() { grep -oE '"/org/freedesktop/NetworkManager/[A-Za-z0-9_/]+"' | tr -d '"'; }

cmd_checkpoint() {
  local name=$1 action=$2 timeout=0 flags="" ifaces=() paths=() p out rc=0 dev res
  shift 2
  init_pid "$name" >/dev/null || die "NetworkManager is not running for lab '$name'"
  case $action in
    create)
      while (($#)); do
        case $1 in
          --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
          --flags) flags=${2:?--flags needs a number}; shift 2 ;;
          -*) die "checkpoint create: unknown option $1" ;;
          *) ifaces+=("$1"); shift ;;
        esac
      done
      # Without DELETE_NEW_CONNECTIONS a bridge made after the checkpoint survives the rollback,
      # still holding the NIC's address; DISCONNECT_NEW_DEVICES is refused with a device list.
      [[ -n $flags ]] || flags=$(( ${#ifaces[@]} ? 2 : 6 ))
      for p in "${ifaces[@]}"; do
        out=$(nm_call "$name" GetDeviceByIpIface "$p") || die "no NetworkManager device '$p'"
        paths+=("$(paths_of <<<"$out" | head -n 1)")
      done
      out=$(nm_call "$name" CheckpointCreate "${#paths[@]}" "${paths[@]}" "$timeout" "$flags") || exit 1
      paths_of <<<"$out" | head -n 1 ;;
    rollback)
      (($# == 1)) || die "checkpoint NAME rollback PATH"
      out=$(nm_call "$name" CheckpointRollback "$1") || exit 1
      # Prints "DEVICE_PATH RESULT" per device; fails unless every result is 0.
      while read -r dev res; do
        printf '%s %s\n' "$dev" "$res"
        [[ $res == 0 ]] || rc=1
      done < <(awk '{ for (i = 1; i <= NF; i++) { t = $i
                 if (t ~ /^"\/.*"$/) { gsub(/"/, "", t); p = t }
                 else if (p != "" && t ~ /^[0-9]+$/) { print p, t; p = "" } } }' <<<"$out")
      return "$rc" ;;
    destroy)
      (($# == 1)) || die "checkpoint NAME destroy PATH"
      nm_call "$name" CheckpointDestroy "$1" >/dev/null ;;
    adjust)
      (($# == 2)) || die "checkpoint NAME adjust PATH SECONDS"
      nm_call "$name" CheckpointAdjustRollbackTimeout "$1" "$2" >/dev/null ;;
    list)
      if use_busctl; then
        out=$(in_lab "$name" busctl get-property "$NM_BUS_NAME" "$NM_OBJ" "$NM_BUS_NAME" Checkpoints)
      else
        out=$(in_lab "$name" dbus-send --system --print-reply --dest="$NM_BUS_NAME" "$NM_OBJ" \
          org.freedesktop.DBus.Properties.Get "string:$NM_BUS_NAME" string:Checkpoints)
      fi
      paths_of <<<"$out" || true ;;
    *) die "checkpoint: action must be create, rollback, destroy, adjust or list" ;;
  esac
}

main() {
  (($#)) || usage
  local sub=$1; shift
  case $sub in
    start) (($# >= 1)) || usage; check_name "$1"; cmd_start "$@" ;;
    stop) (($# == 1)) || usage; check_name "$1"; cmd_stop "$1" ;;
    nmcli)
      (($# >= 1)) || usage
      local name=$1; shift
      [[ ${1:-} == -- ]] && shift
      check_name "$name"
      enter "$name" nmcli "$@" ;;
    run) cmd_run "$@" ;;
    env) (($# == 1)) || usage; check_name "$1"; printf 'DBUS_SYSTEM_BUS_ADDRESS=%s\n' "$(outer_bus "$1")" ;;
    checkpoint) (($# >= 2)) || usage; check_name "$1"; cmd_checkpoint "$@" ;;
    __inner) cmd_inner "$@" ;;
    -h|--help|help) usage ;;
    *) die "unknown subcommand '$sub'" ;;
  esac
}

main "$@"
