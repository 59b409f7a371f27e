#!/usr/bin/env bash
# A throw-away libvirtd of the test's own, for tests that run real QEMU guests (under TCG).
#
#   guestlab.sh start NAME [--timeout SEC]
#   guestlab.sh exec NAME -- CMD [ARG...]
#   guestlab.sh console NAME GUEST TEXT
#   guestlab.sh stop NAME
#   guestlab.sh leftovers NAME [GUEST...]
#
# The lab is new pid + mount + net namespaces (unshare --fork --pid --mount-proc --mount --net) whose
# PID 1 is this script (it reaps: qemu processes that die are waited for at once), with private copies
# bound over /etc/libvirt, /run, /var/lib/libvirt, /var/cache/libvirt and /var/log/libvirt, then
# `virtlogd -d` and `libvirtd -d` in there. Everything lives in one folder, DIR=LAB_ROOT/kvmhost-guestlab-NAME
# (LAB_ROOT: $KVMHOST_GUESTLAB_ROOT, default /tmp), seen from the host as:
#   DIR/run/libvirt/libvirt-sock     the daemon's socket: qemu+unix:///system?socket=<that path>
#   DIR/var-lib-libvirt/images       the "default" dir pool (/var/lib/libvirt/images in the lab)
#   DIR/var-log-libvirt              /var/log/libvirt in the lab (daemon logs, guests' serial logs)
# `start` prints KEY=VALUE lines (DIR, URI, SOCKET, PID, PIDNS, IMAGES, LOGS, START_MS).
# `exec` runs a command in the lab's mount, net and pid namespaces, where qemu:///system is the lab's
# daemon (all three: with the mount namespace alone /proc/self is missing and .NET will not start).
# `console` types TEXT and Enter on a running guest's serial console (its pty; the guest needs a
# <log file=...> on that serial, which is how the typing is confirmed).
# `stop` kills the lab's PID 1 (the kernel then kills every process in the lab, and the mounts go with
# the mount namespace), removes DIR, and fails naming what is left behind, if anything is. `leftovers` prints what a stopped lab left behind (processes
# of its pid namespace, its folder, a name in `ip netns` for its network namespace, cgroups of the
# named guests); nothing means clean.
#
# Guests leave nothing in the machine's cgroups (qemu.conf cgroup_controllers = [ ]), load no AppArmor
# profile into the machine's kernel (security_driver = "none"; libvirt's DAC ownership still applies),
# and cannot use a PVM /dev/kvm: where /dev/kvm exists, a mode-000 character device is bound over it,
# so libvirt finds KVM unusable and offers TCG only (a plain file would break the private /dev libvirt
# builds per guest; a usable device would make libvirt re-probe QEMU at every define).
set -euo pipefail

readonly LAB_ROOT=${KVMHOST_GUESTLAB_ROOT:-/tmp}
readonly LAB_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
readonly SELF
# shellcheck source=lib.sh
source "${SELF%/*}/lib.sh"
# Host folder -> path in the lab. DIR/run over /run keeps the socket at a path the host can reach.
readonly PRIVATE_DIRS=(
  etc-libvirt:/etc/libvirt
  run:/run
  var-lib-libvirt:/var/lib/libvirt
  var-cache-libvirt:/var/cache/libvirt
  var-log-libvirt:/var/log/libvirt
)

die() { echo "guestlab.sh: $*" >&2; exit 1; }

usage() {
  sed -n 's/^#   \(guestlab.sh .*\)/usage: \1/p' "$SELF" >&2
  exit 2
}

check_name() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}$ ]] || die "bad lab name '$1' (letters, digits, _ . -; at most 31)"
}

lab_dir() { echo "$LAB_ROOT/kvmhost-guestlab-$1"; }

# Prints the host PID of the lab's PID 1 while it lives; fails otherwise.
lab_pid() {
  local dir pid
  dir=$(lab_dir "$1")
  [[ -s $dir/pid && -s $dir/identity ]] || return 1
  pid=$(<"$dir/pid")
  [[ "$(proc_identity "$pid")" == "$(<"$dir/identity")" ]] || return 1
  echo "$pid"
}

write_config() {
  local dir=$1
  # The folders Debian's and RHEL's packages ship (libvirtd makes the rest): the serial logs go to
  # /var/log/libvirt/qemu, which libvirt expects to exist.
  # run/lock: /var/lock links to /run/lock, where libvirt locks a pty while a console client holds it
  # (virDomainOpenConsole fails without the folder); the lab's /run is this private one.
  mkdir -p "$dir/etc-libvirt" "$dir/run/lock" "$dir/var-lib-libvirt/images" "$dir/var-lib-libvirt/boot" \
    "$dir/var-cache-libvirt/qemu" "$dir/var-log-libvirt/qemu"
  chmod 0711 "$dir/var-lib-libvirt/images" "$dir/var-lib-libvirt/boot" "$dir/var-cache-libvirt" "$dir/var-cache-libvirt/qemu"
  # Only what the lab needs; everything else is libvirt's built-in default, whatever the machine's own
  # /etc/libvirt says (its guests, networks, hooks and logging must not leak into a lab).
  cat >"$dir/etc-libvirt/libvirtd.conf" <<'EOF'
# KvmHost guest lab (tests/harness/guestlab.sh): root only, no polkit (there is no D-Bus in the lab).
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
  cat >"$dir/etc-libvirt/virtlogd.conf" <<'EOF'
log_outputs = "3:file:/var/log/libvirt/virtlogd.log"
EOF
  cat >"$dir/etc-libvirt/qemu.conf" <<'EOF'
# KvmHost guest lab (tests/harness/guestlab.sh).
# No cgroups: guests must leave nothing under the machine's /sys/fs/cgroup.
cgroup_controllers = [ ]
# No AppArmor/SELinux driver: it would load a profile per guest into the machine's kernel.
security_driver = "none"
EOF
  chmod 0600 "$dir/etc-libvirt/qemu.conf"
}

# ---------------------------------------------------------------------------------------------------
# PID 1 of the lab's pid namespace, in its private mount and network namespaces.
lab_init() {
  local name=$1 dir=$2
  # This /proc is already the lab's (--mount-proc): self is 1 here. The host-side PID comes from the
  # host's view, which the starter reads from the unshare process's child.
  local spec
  for spec in "${PRIVATE_DIRS[@]}"; do
    mount --bind "$dir/${spec%%:*}" "${spec#*:}"
  done
  if [[ -e /dev/kvm ]]; then
    mknod -m 000 "$dir/kvm-unusable" c 1 3
    mount --bind "$dir/kvm-unusable" /dev/kvm
  fi
  ip link set lo up

  virtlogd -d
  libvirtd -d
  echo ready >"$dir/init-ready"

  # bash reaps every child that exits while it waits, adopted orphans (qemu, daemons' helpers) too.
  trap 'exit 0' TERM
  while :; do
    sleep 3600 &
    wait $! || true
  done
}

# ---------------------------------------------------------------------------------------------------
cmd_start() {
  (($# >= 1)) || usage
  local name=$1 timeout=60; shift
  check_name "$name"
  while (($#)); do
    case $1 in
      --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
      *) die "start: unknown option '$1'" ;;
    esac
  done
  [[ $timeout =~ ^[0-9]+$ ]] || die "start: --timeout must be whole seconds"
  [[ $(id -u) == 0 ]] || die "start needs root (namespaces, mounts)"
  local tool
  for tool in unshare nsenter mount mknod ip libvirtd virtlogd virsh; do
    command -v "$tool" >/dev/null || die "start: '$tool' is not on PATH"
  done

  local dir
  dir=$(lab_dir "$name")
  if [[ -e $dir ]]; then
    lab_pid "$name" >/dev/null && die "start: lab '$name' is already running"
    cmd_stop "$name"   # leftovers of a lab whose test died
  fi
  mkdir -p "$dir"
  chmod 0755 "$dir"
  write_config "$dir"

  STARTED=''   # global: the EXIT trap runs after this function has returned
  # shellcheck disable=SC2064 # expand now: the name must survive into the trap
  trap "rc=\$?; if [[ -z \$STARTED ]]; then
          echo '--- lab.log' >&2; tail -n 20 '$dir/lab.log' >&2 2>/dev/null || true
          echo '--- libvirtd.log' >&2; tail -n 20 '$dir/var-log-libvirt/libvirtd.log' >&2 2>/dev/null || true
          cmd_stop '$name' >&2 || true
        fi; exit \$rc" EXIT

  local t0
  t0=$(date +%s%N)
  # setsid and redirections: the lab outlives this script and must not hold the caller's pipes open.
  # --kill-child: if the unshare parent is killed, the lab's PID 1 gets SIGKILL, and with it the lab.
  setsid unshare --fork --kill-child --pid --mount-proc --mount --net --propagation private \
    -- bash "$SELF" __init "$name" "$dir" </dev/null >"$dir/lab.log" 2>&1 &
  local holder=$! init='' deadline=$((SECONDS + timeout))
  echo "$holder" >"$dir/holder.pid"
  while [[ -z $init ]]; do
    init=$(cat "/proc/$holder/task/$holder/children" 2>/dev/null | awk '{ print $1 }') || init=''
    [[ -n $init ]] && break
    kill -0 "$holder" 2>/dev/null || die "start: unshare exited at once"
    ((SECONDS < deadline)) || die "start: no lab init after ${timeout}s"
    sleep 0.02
  done
  proc_identity "$init" >"$dir/identity"
  echo "$init" >"$dir/pid"
  readlink "/proc/$init/ns/pid" | tr -dc '0-9' >"$dir/pidns"
  readlink "/proc/$init/ns/net" | tr -dc '0-9' >"$dir/netns"

  local uri="qemu+unix:///system?socket=$dir/run/libvirt/libvirt-sock"
  while ! virsh -q -c "$uri" uri >/dev/null 2>&1; do
    lab_pid "$name" >/dev/null || die "start: the lab's init exited"
    ((SECONDS < deadline)) || die "start: libvirtd did not answer within ${timeout}s"
    sleep 0.1
  done
  # The "default" pool, as a fresh Debian or RHEL install has it, at the lab's private path.
  virsh -q -c "$uri" pool-define-as default dir --target /var/lib/libvirt/images >/dev/null
  virsh -q -c "$uri" pool-autostart default >/dev/null
  virsh -q -c "$uri" pool-start default >/dev/null
  STARTED=1

  cat <<EOF
NAME=$name
DIR=$dir
URI=$uri
SOCKET=$dir/run/libvirt/libvirt-sock
PID=$init
PIDNS=$(<"$dir/pidns")
NETNS=$(<"$dir/netns")
IMAGES=$dir/var-lib-libvirt/images
BOOT=$dir/var-lib-libvirt/boot
LOGS=$dir/var-log-libvirt
START_MS=$((($(date +%s%N) - t0) / 1000000))
EOF
}

cmd_exec() {
  (($# >= 2)) && [[ $2 == -- ]] || usage
  local name=$1 pid; shift 2
  (($#)) || usage
  check_name "$name"
  pid=$(lab_pid "$name") || die "exec: lab '$name' is not running"
  # The mount namespace switch resets the cwd to /: restore it by path where the lab can see it.
  # shellcheck disable=SC2016 # expanded by the inner sh
  exec nsenter -t "$pid" -m -n -p -- sh -c 'cd -- "$1" 2>/dev/null || cd /; shift; exec "$@"' sh "$PWD" "$@"
}

# Host path of a path inside the lab, for the folders the lab binds from DIR; others are shared.
host_path() {
  local dir=$1 path=$2 spec
  for spec in "${PRIVATE_DIRS[@]}"; do
    if [[ $path == "${spec#*:}"/* ]]; then
      echo "$dir/${spec%%:*}/${path#"${spec#*:}"/}"
      return
    fi
  done
  echo "$path"
}

cmd_console() {
  (($# == 3)) || usage
  local name=$1 guest=$2 text=$3 dir uri pty inside log size i
  check_name "$name"
  lab_pid "$name" >/dev/null || die "console: lab '$name' is not running"
  dir=$(lab_dir "$name")
  uri="qemu+unix:///system?socket=$dir/run/libvirt/libvirt-sock"
  pty=$(virsh -q -c "$uri" ttyconsole "$guest") || die "console: guest '$guest' has no pty console (is it running?)"
  inside=$(virsh -q -c "$uri" dumpxml "$guest" | sed -n "s/.*<log file='\([^']*\)'.*/\1/p" | head -n 1)
  [[ -n $inside ]] || die "console: guest '$guest' has no <log file=...> on its serial: nothing would confirm the typing"
  log=$(host_path "$dir" "$inside")
  # The pty is the host's (the lab shares /dev). Keep its slave open and drained while typing: QEMU
  # reads a pty only while a client holds it, and finds out with a once-a-second poll.
  exec 3<>"$pty"
  cat <&3 >/dev/null &
  local drain=$!
  # shellcheck disable=SC2064 # expand now
  trap "kill $drain 2>/dev/null || true; exec 3>&-" EXIT
  # An empty line first: the shell answers with a prompt once QEMU reads again, so what is typed next
  # goes to a connected console.
  size=$(stat -c %s "$log")
  printf '\r' >&3
  for ((i = 0; i < 150; i++)); do
    (($(stat -c %s "$log") > size)) && break
    sleep 0.1
  done
  (($(stat -c %s "$log") > size)) || die "console: guest '$guest' did not answer on its console within 15 s"
  # The shell echoes what it reads: once the echo is as long as the text, QEMU has taken all of it.
  size=$(stat -c %s "$log")
  printf '%s\r' "$text" >&3
  for ((i = 0; i < 100; i++)); do
    (($(stat -c %s "$log") > size + ${#text})) && break
    sleep 0.1
  done
}

# Lines naming what lab NAME left behind; none when it is gone without a trace. GUESTs: the guests it
# had, whose cgroups libvirt would name qemu-N-GUEST (cgroupfs) or machine-qemu\x2dN\x2dGUEST.scope.
cmd_leftovers() {
  (($# >= 1)) || usage
  local name=$1 dir pidns netns proc link guest; shift
  check_name "$name"
  dir=$(lab_dir "$name")
  pidns=$(cat "$dir/pidns" 2>/dev/null || echo "${KVMHOST_GUESTLAB_PIDNS:-}")
  netns=$(cat "$dir/netns" 2>/dev/null || echo "${KVMHOST_GUESTLAB_NETNS:-}")
  if [[ -n $pidns ]]; then
    # One find for all of /proc: a readlink per process costs a second on a busy machine.
    local -a found=()
    local line other=''
    while IFS= read -r proc; do
      proc=${proc%/ns/pid}
      # 2>/dev/null first: a process that ended since find saw it has no cmdline to open.
      line="process ${proc#/proc/} ($(tr '\0' ' ' 2>/dev/null <"$proc/cmdline" | cut -c1-80 || true)) in the lab's pid namespace"
      found+=("$line")
      # The kernel reuses a dead namespace's inode number: a namespace whose init is another lab's is that lab's.
      if [[ $line =~ guestlab\.sh\ __init\ ([^ ]+) && ${BASH_REMATCH[1]} != "$name" ]]; then other=${BASH_REMATCH[1]}; fi
    done < <(find /proc -mindepth 3 -maxdepth 3 -path '/proc/[0-9]*/ns/pid' -lname "pid:\[$pidns\]" 2>/dev/null)
    [[ -n $other ]] || { ((${#found[@]} == 0)) || printf '%s\n' "${found[@]}"; }
  fi
  if [[ -n $netns && -d /run/netns ]]; then
    for link in /run/netns/*; do
      [[ -e $link && "$(stat -L -c %i "$link" 2>/dev/null)" == "$netns" ]] && echo "ip netns ${link##*/} is the lab's network namespace"
    done
  fi
  [[ ! -e $dir ]] || echo "folder $dir"
  if (($#)) && [[ -d /sys/fs/cgroup ]]; then
    local -a patterns=()
    # '-' in a guest's name is \x2d in a systemd unit name: '*' matches both spellings.
    for guest in "$@"; do patterns+=(-o -name "*qemu*${guest//-/*}*"); done
    find /sys/fs/cgroup -mindepth 1 -maxdepth 12 -type d \( "${patterns[@]:1}" \) 2>/dev/null | sed 's/^/cgroup /' || true
  fi
  return 0
}

cmd_stop() {
  (($# == 1)) || usage
  local name=$1 dir pid holder i guests=''
  check_name "$name"
  dir=$(lab_dir "$name")
  [[ -d $dir ]] || return 0
  if pid=$(lab_pid "$name"); then
    # Their names are what to look for in the cgroup trees afterwards.
    guests=$(virsh -q -c "qemu+unix:///system?socket=$dir/run/libvirt/libvirt-sock" list --all --name 2>/dev/null || true)
    # SIGKILL to a pid namespace's init kills every process in it; the mounts vanish with the last one.
    kill -KILL "$pid" 2>/dev/null || true
  fi
  holder=$(cat "$dir/holder.pid" 2>/dev/null || true)
  # unshare returns once the kernel has torn the whole namespace down (QEMU takes a moment to die).
  for ((i = 0; i < 200; i++)); do
    lab_pid "$name" >/dev/null || { [[ -n $holder ]] && kill -0 "$holder" 2>/dev/null; } || break
    sleep 0.05
  done
  ! lab_pid "$name" >/dev/null || die "stop: lab '$name' (pid $pid) does not die"
  local pidns netns left
  pidns=$(cat "$dir/pidns" 2>/dev/null || true)
  netns=$(cat "$dir/netns" 2>/dev/null || true)
  for ((i = 0; i < 100; i++)); do
    left=$(cmd_leftovers "$name" | grep '^process' || true)
    [[ -n $left ]] || break
    sleep 0.05
  done
  rm -rf -- "$dir"
  # shellcheck disable=SC2086 # one guest name per word
  left=$(KVMHOST_GUESTLAB_PIDNS=$pidns KVMHOST_GUESTLAB_NETNS=$netns cmd_leftovers "$name" $guests)
  [[ -z $left ]] || die "stop: lab '$name' left behind: $left"
}

main() {
  (($#)) || usage
  local cmd=$1; shift
  case $cmd in
    start) cmd_start "$@" ;;
    exec) cmd_exec "$@" ;;
    console) cmd_console "$@" ;;
    stop) cmd_stop "$@" ;;
    leftovers) cmd_leftovers "$@" ;;
    __init) lab_init "$@" ;;
    *) usage ;;
  esac
}

main "$@"
