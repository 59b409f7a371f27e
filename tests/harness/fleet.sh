#!/usr/bin/env bash
# Network and sshd plumbing for a test fleet: systemd boxes (box.sh) joined on a bridge in a network
# namespace of their own, each running sshd with the PowerShell subsystem, reached by an ssh client that
# runs inside that namespace. Fleet.psm1 drives it; nothing here touches the machine's own network.
#
#   fleet.sh prepare NAME COUNT -- PWSH_COMMAND...
#   fleet.sh attach NAME INDEX BOX
#   fleet.sh link NAME INDEX up|down
#   fleet.sh destroy NAME
#
# `prepare` makes the namespace NAME with bridge fleet0 at 198.51.100.1/24, a throw-away client key, one
# host key and sshd_config per host, and prints KEY=VALUE lines (STATE_DIR, CLIENT_PATH, KEY_FILE,
# KNOWN_HOSTS, then HOST_<i>=ADDRESS and FILES_<i>=SRC:DEST,SRC:DEST,... to pass to the box's start).
# `attach` runs once box BOX is up: a veth from the bridge to the box's eth0, the host's address, then
# sshd. `link` cuts host INDEX off the bridge (its port down: packets vanish, nothing is refused) or
# joins it again. `destroy` removes the namespace and the state directory (stop the boxes first).
set -euo pipefail

readonly STATE_ROOT=${FLEET_STATE_ROOT:-/run/kvmhost-test-fleet}
readonly SUBNET=198.51.100   # TEST-NET-2 (RFC 5737): never routed, so never the machine's own network
readonly BRIDGE=fleet0
readonly MAX_HOSTS=20
SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
readonly SELF
readonly BOX_SCRIPT=${SELF%/*}/box.sh

die() { echo "fleet.sh: $*" >&2; exit 1; }

usage() {
  sed -n 's/^#   \(fleet.sh .*\)/usage: \1/p' "$SELF" >&2
  exit 2
}

check_name() {
  # The name is the namespace's and the prefix of its veths, which must fit in 15 bytes ("NAME-20").
  [[ $1 =~ ^[A-Za-z0-9]{1,12}$ ]] || die "bad fleet name '$1' (1-12 letters or digits)"
}

host_address() { echo "$SUBNET.$((10 + $1))"; }

cmd_prepare() {
  (($# >= 4)) && [[ $3 == -- ]] || usage
  local name=$1 count=$2; shift 3
  check_name "$name"
  [[ $count =~ ^[0-9]+$ ]] && ((count >= 1 && count <= MAX_HOSTS)) || die "prepare: COUNT must be 1-$MAX_HOSTS"
  local dir=$STATE_ROOT/$name
  [[ ! -e $dir && ! -e /run/netns/$name ]] || die "prepare: fleet '$name' exists"
  local ssh
  ssh=$(command -v ssh) || die "prepare: no ssh client on PATH"

  PREPARED=''   # global: the EXIT trap runs after this function has returned
  # shellcheck disable=SC2064 # expand now: the name must survive into the trap
  trap "[[ -n \$PREPARED ]] || cmd_destroy '$name'" EXIT
  mkdir -p "$dir/client" "$dir/box"
  chmod 0700 "$dir"
  ip netns add "$name"
  ip -n "$name" link set lo up
  ip -n "$name" link add "$BRIDGE" type bridge
  ip -n "$name" addr add "$SUBNET.1/24" dev "$BRIDGE"
  ip -n "$name" link set "$BRIDGE" up

  ssh-keygen -q -t ed25519 -N '' -C "kvmhost-fleet-$name-client" -f "$dir/client_key"

  # PowerShell remoting starts whatever `ssh` it finds on PATH; this one runs inside the fleet's
  # namespace, so the caller reaches the boxes while its own process stays on the machine's network.
  cat >"$dir/client/ssh" <<EOF
#!/bin/sh
exec nsenter --net=/run/netns/$name -- $ssh "\$@"
EOF
  chmod 0755 "$dir/client/ssh"

  # The same pwsh as the caller's (a .NET tool: dotnet + pwsh.dll), quoted word by word.
  local word quoted=''
  for word in "$@"; do quoted+=" $(printf '%q' "$word")"; done
  printf '#!/bin/sh\nexec%s "$@"\n' "$quoted" >"$dir/box/pwsh-subsystem"
  chmod 0755 "$dir/box/pwsh-subsystem"

  # Until `attach` gives the box its address, sshd could not bind it: keep it from starting at boot
  # (a failed condition leaves the box "running", not "degraded").
  printf '[Unit]\nConditionPathExists=/run/kvmhost-fleet-network-ready\n' >"$dir/box/ssh-dropin.conf"
  # Without this NetworkManager puts its DHCP profile on eth0 and drops the address after 45 s.
  printf '[main]\nno-auto-default=*\n' >"$dir/box/nm-fleet.conf"
  cp "$dir/client_key.pub" "$dir/box/authorized_keys"

  echo "STATE_DIR=$dir"
  echo "CLIENT_PATH=$dir/client"
  echo "KEY_FILE=$dir/client_key"
  echo "KNOWN_HOSTS=$dir/known_hosts"
  : >"$dir/known_hosts"
  local i address files
  for ((i = 1; i <= count; i++)); do
    address=$(host_address "$i")
    mkdir "$dir/host$i"
    ssh-keygen -q -t ed25519 -N '' -C "kvmhost-fleet-$name-host$i" -f "$dir/host$i/ssh_host_ed25519_key"
    echo "$address $(cut -d' ' -f1,2 "$dir/host$i/ssh_host_ed25519_key.pub")" >>"$dir/known_hosts"
    cat >"$dir/host$i/sshd_config" <<EOF
# KvmHost test fleet host $i: root by key only, the PowerShell remoting subsystem, on its fleet address.
ListenAddress $address
HostKey /etc/kvmhost-fleet/ssh_host_ed25519_key
AuthorizedKeysFile /etc/kvmhost-fleet/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
Subsystem powershell /etc/kvmhost-fleet/pwsh-subsystem -sshs -NoLogo -NoProfile
EOF
    files="$dir/host$i/sshd_config:/etc/ssh/sshd_config"
    files+=",$dir/host$i/ssh_host_ed25519_key:/etc/kvmhost-fleet/ssh_host_ed25519_key"
    files+=",$dir/box/authorized_keys:/etc/kvmhost-fleet/authorized_keys"
    files+=",$dir/box/pwsh-subsystem:/etc/kvmhost-fleet/pwsh-subsystem"
    files+=",$dir/box/ssh-dropin.conf:/etc/systemd/system/ssh.service.d/kvmhost-fleet.conf"
    files+=",$dir/box/nm-fleet.conf:/etc/NetworkManager/conf.d/kvmhost-fleet.conf"
    echo "HOST_$i=$address"
    echo "FILES_$i=$files"
  done
  PREPARED=1
}

cmd_attach() {
  (($# == 3)) || usage
  local name=$1 index=$2 box=$3
  check_name "$name"
  [[ $index =~ ^[0-9]+$ ]] && ((index >= 1 && index <= MAX_HOSTS)) || die "attach: bad INDEX '$index'"
  [[ -e /run/netns/$name ]] || die "attach: no fleet '$name'"
  [[ -e /run/netns/$box ]] || die "attach: box '$box' has no network namespace (is it running?)"
  local port=$name-$index
  ip -n "$name" link add "$port" type veth peer name eth0 netns "$box"
  ip -n "$name" link set "$port" master "$BRIDGE" up
  ip -n "$box" addr add "$(host_address "$index")/24" dev eth0
  ip -n "$box" link set eth0 up
  bash "$BOX_SCRIPT" exec "$box" -- touch /run/kvmhost-fleet-network-ready
  # ssh.service is Type=notify: start returns once sshd listens.
  if ! bash "$BOX_SCRIPT" exec "$box" -- systemctl start ssh.service; then
    # systemctl only says "see journalctl": show it, so a failed boot of the fleet explains itself.
    bash "$BOX_SCRIPT" exec "$box" -- journalctl -u ssh.service -n 20 --no-pager -o cat >&2 || true
    bash "$BOX_SCRIPT" exec "$box" -- ip -o addr show dev eth0 >&2 || true
    die "attach: sshd did not start in box '$box'"
  fi
}

cmd_link() {
  (($# == 3)) && [[ $3 == up || $3 == down ]] || usage
  check_name "$1"
  ip -n "$1" link set "$1-$2" "$3"
}

cmd_destroy() {
  (($# == 1)) || usage
  local name=$1
  check_name "$name"
  # The veths die with the boxes' namespaces; the bridge dies with this one.
  [[ ! -e /run/netns/$name ]] || ip netns delete "$name"
  rm -rf -- "${STATE_ROOT:?}/$name"
  rmdir "$STATE_ROOT" 2>/dev/null || true
}

main() {
  (($#)) || usage
  local cmd=$1; shift
  case $cmd in
    prepare) cmd_prepare "$@" ;;
    attach) cmd_attach "$@" ;;
    link) cmd_link "$@" ;;
    destroy) cmd_destroy "$@" ;;
    *) usage ;;
  esac
}

main "$@"
