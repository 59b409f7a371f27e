#!/usr/bin/env bash
# A throw-away "systemd box" for tests: real systemd as PID 1 in its own pid/mount/net/uts/ipc/cgroup
# namespaces, over an overlay of / whose writable layer lives on a tmpfs that only the box can see.
#
#   box.sh start NAME [--os-release FILE] [--file SRC:DEST]... [--remove PATH]... [--mask UNIT]... [--bind HOSTDIR:BOXDIR]... [--device NODE]...
#   box.sh exec NAME -- CMD...
#   box.sh pid NAME
#   box.sh stop NAME
#   box.sh stop-all
#
# `start` prints the host PID of the box's systemd as its only stdout line; diagnostics go to stderr.
# --remove deletes a path from the box's overlay before boot (the machine's file stays; the box sees none).
# --device binds /dev/NODE of the machine into the box's /dev (a NODE the machine lacks is an error).
# Every mount is made inside the box's private mount namespace, so the kernel drops them all when the box
# dies; the only host-side traces are the state directory, the `ip netns` name and the box's cgroup
# directories, and `stop` removes all three.
set -euo pipefail

readonly STATE_ROOT=/run/kvmhost-test-boxes
readonly BOX_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
readonly BOOT_TIMEOUT=60
SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
readonly SELF
REPO_ROOT=$(cd -- "$(dirname -- "$SELF")/../.." && pwd -P)
readonly REPO_ROOT
# shellcheck source=lib.sh
source "${SELF%/*}/lib.sh"

# Units the box never starts, whatever the host has enabled (the overlay shows the host's /etc).
# Each one either reaches outside the box's namespaces or slows the boot for nothing.
readonly DEFAULT_MASKS=(
  # No terminals exist in the box; gettys would only respawn-loop or wait.
  getty.target console-getty.service
  # A box has nothing but lo, so "online" never comes: these would hold network-online.target (and all
  # that is ordered after it) for 30 s to 2 min.
  systemd-networkd-wait-online.service NetworkManager-wait-online.service
  # Not namespaced: kernel modules, the clock, and trims/LVM snapshots of the host's own disks
  # (reachable through bind mounts). Capabilities are dropped too; masking keeps the journal quiet.
  systemd-modules-load.service systemd-timesyncd.service
  e2scrub_reap.service e2scrub_all.timer fstrim.timer
  # Boots a guest-suspend helper that connects to libvirtd at boot (a 4 s capability probe) and on
  # shutdown; tests start libvirtd themselves.
  libvirt-guests.service
  # Housekeeping timers with no use in a box that lives for seconds; apt would only fail (no network).
  apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer man-db.timer logrotate.timer
  # The host may run a database cluster; a second postmaster on an overlay copy of its files is
  # neither wanted nor fast.
  postgresql.service
)

# Capabilities removed from the bounding set of the box's systemd and every service it starts: the
# ones that act on the whole machine rather than on a namespace. (Commands run with `exec` come from
# the host via nsenter and keep the caller's capabilities.)
readonly DROPPED_CAPS=-sys_module,-sys_time,-wake_alarm,-syslog,-sys_pacct

die() { echo "box.sh: $*" >&2; exit 1; }

usage() {
  sed -n 's/^#   \(box.sh .*\)/usage: \1/p' "$SELF" >&2
  exit 2
}

check_name() {
  [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,30}$ ]] || die "bad box name '$1' (letters, digits, _ . -; at most 31)"
}

# Prints the host PID of box NAME if that box is alive; fails otherwise.
box_pid() {
  local dir=$STATE_ROOT/$1 pid
  [[ -s $dir/pid && -s $dir/identity ]] || return 1
  pid=$(<"$dir/pid")
  [[ "$(proc_identity "$pid")" == "$(<"$dir/identity")" ]] || return 1
  echo "$pid"
}

# The cgroup directories a box gets, one per hierarchy its systemd writes to: the unified (v2) one, at
# /sys/fs/cgroup on pure v2 hosts or /sys/fs/cgroup/unified on hybrid ones, and on hybrid hosts the v1
# name=systemd one, which systemd mirrors its tree into. The box's cgroup namespace is rooted there, so
# two boxes never share a cgroup (their systemds would fight over system.slice) and `stop` knows what to
# remove. v1 controller hierarchies are left alone: systemd creates nothing in them unless a unit sets a
# limit, and cpuset would refuse a new cgroup without cpus and mems copied in.
box_cgroup_dirs() {
  local name=$1 mnt fstype opts own seen=' '
  while read -r mnt fstype opts; do
    case $fstype in
      cgroup2) own=$(sed -n 's/^0:://p' /proc/self/cgroup) ;;
      cgroup)
        [[ ,$opts, == *,name=systemd,* ]] || continue
        own=$(sed -n 's/^[0-9]*:name=systemd://p' /proc/self/cgroup) ;;
      *) continue ;;
    esac
    [[ $seen != *" $fstype "* && -n $own && -d $mnt$own ]] || continue
    seen+="$fstype "
    echo "${mnt}${own%/}/kvmhost-box-$name"
  done < <(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { print $5, $(i + 1), $(i + 3); break } }' \
    /proc/self/mountinfo)
}

parse_start_args() {
  OS_RELEASE='' FILES=() REMOVES=() MASKS=() BINDS=() DEVICES=()
  while (($#)); do
    case $1 in
      --os-release) (($# >= 2)) || usage; OS_RELEASE=$2; shift 2 ;;
      --file) (($# >= 2)) || usage; FILES+=("$2"); shift 2 ;;
      --remove) (($# >= 2)) || usage; REMOVES+=("$2"); shift 2 ;;
      --mask) (($# >= 2)) || usage; MASKS+=("$2"); shift 2 ;;
      --device) (($# >= 2)) || usage; DEVICES+=("$2"); shift 2 ;;
      --bind) (($# >= 2)) || usage; BINDS+=("$2"); shift 2 ;;
      *) die "start: unknown option '$1'" ;;
    esac
  done
}

# ---------------------------------------------------------------------------------------------------
# Runs as PID 1 of the new pid namespace, in the new (private) mount namespace, before systemd.
box_init() {
  local name=$1 dir=$STATE_ROOT/$1; shift
  parse_start_args "$@"

  # This /proc is still the host's, so it names our host PID; the host side waits for this file.
  local host_pid _
  read -r host_pid _ </proc/self/stat
  proc_identity "$host_pid" >"$dir/identity"
  echo "$host_pid" >"$dir/pid.tmp"
  mv "$dir/pid.tmp" "$dir/pid"

  # Move into a child of the cgroup namespace root, so the box's systemd owns its whole subtree and the
  # unshare process waiting outside stays out of it.
  local cg
  while read -r cg; do
    mkdir "$cg/payload"
    echo 0 >"$cg/payload/cgroup.procs"   # 0: the writing process
  done <"$dir/cgroups"

  local tmp=$dir/tmpfs root=$dir/tmpfs/merged
  mkdir -p "$tmp"
  mount -t tmpfs -o mode=0755 kvmhost-box "$tmp"
  mkdir "$tmp/upper" "$tmp/work" "$root"
  mount -t overlay -o lowerdir=/,upperdir="$tmp/upper",workdir="$tmp/work" kvmhost-box "$root"

  # Files before boot, so the box comes up as the release the test wants.
  echo "$name" >"$root/etc/hostname"
  # Resolvable as on an installed host: libvirt looks its host name up (getaddrinfo) for many calls, and
  # the box's network has no DNS server, so every lookup would wait 10 s for the resolver to give up.
  printf '127.0.1.1\t%s\n' "$name" >>"$root/etc/hosts"
  # Its own machine id: NetworkManager's DHCP client ids and libvirt's host UUID derive from it, and
  # two boxes (or a box and the host) should not look like one machine.
  local id
  id=$(</proc/sys/kernel/random/uuid)
  echo "${id//-/}" >"$root/etc/machine-id"
  [[ ! -d $root/var/lib/dbus ]] || ln -sfn /etc/machine-id "$root/var/lib/dbus/machine-id"   # dbus reads this first
  if [[ -n $OS_RELEASE ]]; then
    rm -f "$root/etc/os-release"   # a symlink into /usr/lib on Debian
    cp -- "$OS_RELEASE" "$root/etc/os-release"
  fi
  local spec unit
  for spec in "${FILES[@]}"; do
    mkdir -p -- "$(dirname -- "$root${spec#*:}")"
    cp -- "${spec%%:*}" "$root${spec#*:}"
  done
  for spec in "${REMOVES[@]}"; do
    rm -rf -- "${root:?}$spec"   # a whiteout in the upper layer: the machine's file is untouched
  done
  for unit in "${DEFAULT_MASKS[@]}" "${MASKS[@]}"; do
    ln -sfn /dev/null "$root/etc/systemd/system/$unit"
  done

  # /proc/sys is read-only except for net/, which belongs to the box's own network namespace:
  # everything else there (kernel.*, vm.*, fs.*) is the host's.
  mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
  mount --bind "$root/proc/sys" "$root/proc/sys"
  mount -o remount,bind,ro "$root/proc/sys"
  mount --bind "$root/proc/sys/net" "$root/proc/sys/net"
  mount -o remount,bind,rw "$root/proc/sys/net"
  if [[ -e $root/proc/sysrq-trigger ]]; then   # absent on kernels without CONFIG_MAGIC_SYSRQ
    mount --bind "$root/proc/sysrq-trigger" "$root/proc/sysrq-trigger"
    mount -o remount,bind,ro "$root/proc/sysrq-trigger"
  fi
  # Read-only sysfs puts systemd in container mode: no udevd, and NetworkManager manages devices
  # instead of waiting for udev to announce them.
  mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"

  mount -t tmpfs -o mode=0755,nosuid kvmhost-box-dev "$root/dev"
  local node
  for node in null zero full random urandom tty net/tun "${DEVICES[@]}"; do
    [[ -e /dev/$node ]] || continue
    mkdir -p "$(dirname "$root/dev/$node")"
    touch "$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
  done
  mkdir "$root/dev/pts" "$root/dev/shm"
  mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
  ln -s pts/ptmx "$root/dev/ptmx"
  ln -s /proc/self/fd "$root/dev/fd"
  ln -s /proc/self/fd/0 "$root/dev/stdin"
  ln -s /proc/self/fd/1 "$root/dev/stdout"
  ln -s /proc/self/fd/2 "$root/dev/stderr"
  mount -t tmpfs -o mode=0755,nosuid,nodev kvmhost-box-run "$root/run"
  mount -t tmpfs -o mode=1777,nosuid,nodev kvmhost-box-tmp "$root/tmp"

  # The work tree at its own path, so a module built under <repo>/out loads inside as it does outside.
  local bind
  for bind in "$REPO_ROOT:$REPO_ROOT" "${BINDS[@]}"; do
    mkdir -p -- "$root${bind#*:}"
    mount --rbind -- "${bind%%:*}" "$root${bind#*:}"
  done

  cd "$root"
  mkdir -p .kvmhost-oldroot
  pivot_root . .kvmhost-oldroot
  cd /
  umount -l /.kvmhost-oldroot
  rmdir /.kvmhost-oldroot

  exec setpriv --bounding-set "$DROPPED_CAPS" \
    env -i container="$name" PATH="$BOX_PATH" /lib/systemd/systemd --system --unit=multi-user.target
}

# ---------------------------------------------------------------------------------------------------
cmd_start() {
  (($# >= 1)) || usage
  local name=$1; shift
  check_name "$name"
  parse_start_args "$@"

  # Resolve paths here: the init half runs elsewhere and should fail only on real mount errors.
  local -a args=()
  local spec src
  if [[ -n $OS_RELEASE ]]; then
    [[ -f $OS_RELEASE ]] || die "start: no such file: $OS_RELEASE"
    args+=(--os-release "$(readlink -f -- "$OS_RELEASE")")
  fi
  for spec in "${FILES[@]}"; do
    [[ $spec == *:/* ]] || die "start: --file wants SRC:/ABSOLUTE/DEST, got '$spec'"
    src=${spec%%:*}
    [[ -f $src ]] || die "start: no such file: $src"
    args+=(--file "$(readlink -f -- "$src"):${spec#*:}")
  done
  for spec in "${REMOVES[@]}"; do
    [[ $spec == /?* && /$spec/ != */../* && /$spec/ != */./* ]] || die "start: --remove wants an absolute path without . or .., got '$spec'"
    args+=(--remove "$spec")
  done
  for spec in "${MASKS[@]}"; do
    [[ $spec =~ ^[A-Za-z0-9@_.:-]+$ ]] || die "start: bad unit name '$spec'"
    args+=(--mask "$spec")
  done
  for spec in "${DEVICES[@]}"; do
    [[ $spec =~ ^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*$ ]] || die "start: bad device name '$spec' (a path under /dev, like kvm or net/tun)"
    [[ -c /dev/$spec || -b /dev/$spec ]] || die "start: /dev/$spec is not a device node on this machine"
    args+=(--device "$spec")
  done
  for spec in "${BINDS[@]}"; do
    # The box's overlay gets the mount point, so BOXDIR need not exist on the machine.
    parse_bind "$spec" directory || die "start: $BIND_ERROR"
    args+=(--bind "$BIND_SRC:$BIND_DEST")
  done

  local dir=$STATE_ROOT/$name
  if [[ -d $dir ]]; then
    box_pid "$name" >/dev/null && die "start: box '$name' is already running"
    cmd_stop "$name"   # leftovers of a box that died on its own
  fi
  [[ ! -e /run/netns/$name ]] || die "start: a network namespace named '$name' exists and is not a box's"

  mkdir -p "$dir"
  local cg
  : >"$dir/cgroups"
  while read -r cg; do
    # A box killed without `stop` leaves empty cgroups behind; they go, live ones make mkdir fail.
    [[ ! -d $cg ]] || find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
    mkdir "$cg"
    echo "$cg" >>"$dir/cgroups"
  done < <(box_cgroup_dirs "$name")
  echo "$dir/tmpfs" >"$dir/tmpfs-path"   # mounted only inside the box's namespace

  local started=$SECONDS
  BOX_STARTED=''   # global: the EXIT trap runs after this function has returned
  # shellcheck disable=SC2064 # expand now: the name must survive into the trap
  trap "[[ -n \$BOX_STARTED ]] || cmd_stop '$name' >&2" EXIT

  # setsid + redirections: the box outlives this script, and must not hold the caller's pipes open
  # (a PowerShell caller reading our stdout would otherwise wait for the box to end).
  (
    while read -r cg; do echo "$BASHPID" >"$cg/cgroup.procs"; done <"$dir/cgroups"
    exec setsid unshare --fork --pid --mount --net --uts --ipc --cgroup --propagation private \
      -- "$SELF" __init "$name" "${args[@]}"
  ) </dev/null >"$dir/console.log" 2>&1 &
  echo $! >"$dir/launcher.pid"

  local pid='' state=''
  while ((SECONDS - started < BOOT_TIMEOUT)); do
    if [[ -z $pid ]]; then
      pid=$(box_pid "$name") || pid=''
      if [[ -n $pid ]]; then
        ip netns attach "$name" "$pid"
      elif ! kill -0 "$(<"$dir/launcher.pid")" 2>/dev/null; then
        break
      fi
    else
      box_pid "$name" >/dev/null || break
      state=$(nsenter -t "$pid" -a -- env -i PATH="$BOX_PATH" systemctl is-system-running 2>/dev/null) || true
      case $state in
        running|degraded) break ;;
        maintenance|stopping) break ;;
      esac
    fi
    sleep 0.2
  done

  if [[ $state != running && $state != degraded ]]; then
    echo "box.sh: box '$name' did not boot (state '${state:-none}' after $((SECONDS - started)) s); its console:" >&2
    tail -n 40 "$dir/console.log" >&2 || true
    exit 1
  fi
  if [[ $state == degraded ]]; then
    echo "box.sh: box '$name' is degraded; failed units:" >&2
    nsenter -t "$pid" -a -- env -i PATH="$BOX_PATH" systemctl --failed --no-legend --plain >&2 || true
  fi
  BOX_STARTED=1
  echo "$pid"
}

cmd_exec() {
  (($# >= 2)) && [[ $2 == -- ]] || usage
  local name=$1 pid; shift 2
  (($#)) || usage
  pid=$(box_pid "$name") || die "exec: box '$name' is not running"
  # A clean environment as a login would give: the caller's (dotnet, pwsh, CI) variables would leak
  # into the box, and Debian's rpm keeps its database under $HOME/.rpmdb, so HOME must be /root.
  exec nsenter -t "$pid" -a -- env -i PATH="$BOX_PATH" HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" "$@"
}

cmd_pid() {
  (($# == 1)) || usage
  box_pid "$1" || die "pid: box '$1' is not running"
}

wait_gone() {
  local name=$1 tries=$2
  while ((tries-- > 0)); do
    box_pid "$name" >/dev/null || return 0
    sleep 0.1
  done
  return 1
}

cmd_stop() {
  (($# == 1)) || usage
  local name=$1 dir=$STATE_ROOT/$1 pid
  check_name "$name"
  [[ -d $dir ]] || return 0

  if pid=$(box_pid "$name"); then
    # -ff is reboot(2) at once: in a pid namespace that kills its init and with it every process;
    # a plain poweroff can wait 90 s for sessions to end.
    timeout 10 nsenter -t "$pid" -a -- env -i PATH="$BOX_PATH" systemctl poweroff -ff >/dev/null 2>&1 || true
    if ! wait_gone "$name" 50; then
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$name" 100 || die "stop: box '$name' (pid $pid) does not die"
    fi
  fi
  # The launcher (unshare) reaps the box's systemd and then exits; a moment may pass.
  local launcher tries=50
  launcher=$(cat "$dir/launcher.pid" 2>/dev/null) || launcher=''
  while [[ -n $launcher ]] && ((tries-- > 0)) && [[ "$(ps -o stat= -p "$launcher" 2>/dev/null)" == [^Z]* ]]; do
    sleep 0.1
  done

  if [[ -e /run/netns/$name ]]; then
    ip netns delete "$name"
  fi
  local cg
  while read -r cg; do
    tries=50
    # Empty cgroups can be removed only once the kernel has finished tearing their tasks down.
    while [[ -d $cg ]] && ((tries-- > 0)); do
      find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || sleep 0.1
    done
    [[ ! -d $cg ]] || echo "box.sh: stop: could not remove cgroup $cg" >&2
  done < <(cat "$dir/cgroups" 2>/dev/null)
  rm -rf -- "$dir"
  rmdir "$STATE_ROOT" 2>/dev/null || true
}

cmd_stop_all() {
  (($# == 0)) || usage
  local dir rc=0
  [[ -d $STATE_ROOT ]] || return 0
  for dir in "$STATE_ROOT"/*/; do
    [[ -d $dir ]] || continue
    (cmd_stop "$(basename "$dir")") || rc=1
  done
  return $rc
}

main() {
  (($#)) || usage
  local cmd=$1; shift
  case $cmd in
    start) [[ $(id -u) == 0 ]] || die "start needs root"; cmd_start "$@" ;;
    exec) cmd_exec "$@" ;;
    pid) cmd_pid "$@" ;;
    stop) cmd_stop "$@" ;;
    stop-all) cmd_stop_all "$@" ;;
    __init) box_init "$@" ;;
    *) usage ;;
  esac
}

main "$@"
