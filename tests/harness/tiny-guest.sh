#!/usr/bin/env bash
# The smallest real guest for the guest lab: a Debian cloud kernel and an initramfs of busybox-static
# whose /init loads the virtio modules, starts busybox acpid (so an ACPI shutdown powers it off),
# prints marker lines on the serial console and then gives that console a shell.
#
#   tiny-guest.sh build CACHE_DIR
#
# Prints KERNEL=, INITRD=, KERNEL_VERSION=, BUILT=(0|1) as KEY=VALUE lines. The packages are fetched
# with `apt-get download` and unpacked with `dpkg-deb -x`: nothing is installed on the machine. Both the
# .debs and the built image stay in CACHE_DIR, so a second run downloads nothing and builds nothing;
# the image's folder is named after a hash of this script, so editing /init below rebuilds it.
#
# What the guest does, in order (the tests and GuestLab.md rely on it):
#   1. mounts devtmpfs, proc, sysfs; insmods the modules in dependency order
#   2. if it has a virtio disk: prints "KVMHOST-DISK <first line of the raw disk>" (NULs dropped)
#   3. unless the kernel command line has kvmhost.noacpi: starts acpid, whose power-button handler
#      syncs and runs `poweroff -f` (kvmhost.noacpi makes the guest that ignores ACPI shutdown)
#   4. if it has a NIC (eth0): runs udhcpc in the background ("KVMHOST-NET eth0 <address>" on a lease)
#   5. prints "KVMHOST-GUEST-READY <name>" (name from kvmhost.name=, else "tiny")
#   6. runs a shell on the console, again whenever it exits
set -euo pipefail

SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
readonly SELF
# The kernel's module names the guest loads; their dependencies are added from the .ko files.
readonly WANTED_MODULES=(button evdev virtio_pci virtio_blk virtio_net virtio_balloon)

die() { echo "tiny-guest.sh: $*" >&2; exit 1; }

usage() {
  sed -n 's/^#   \(tiny-guest.sh .*\)/usage: \1/p' "$SELF" >&2
  exit 2
}

# The versioned kernel package behind Debian's cloud metapackage (linux-image-6.1.0-57-cloud-amd64...).
kernel_package() {
  apt-cache depends linux-image-cloud-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9].*-cloud-amd64\)$/\1/p' | head -n 1
}

# Downloads what is missing into DEBS. A machine whose package lists are older than the archive gets
# a 404: one `apt-get update` (root only) and a second try.
fetch_debs() {
  local debs=$1 kernel
  if compgen -G "$debs/linux-image-*-cloud-amd64_*.deb" >/dev/null &&
    compgen -G "$debs/busybox-static_*.deb" >/dev/null; then
    return 0
  fi
  command -v apt-get >/dev/null || die "no cached packages in $debs and no apt-get to download them"
  kernel=$(kernel_package)
  if [[ -z $kernel && $(id -u) == 0 ]]; then
    apt-get update -qq >&2 || true
    kernel=$(kernel_package)
  fi
  [[ -n $kernel ]] || die "apt-cache does not know linux-image-cloud-amd64 (run apt-get update)"
  mkdir -p "$debs"
  if ! (cd "$debs" && apt-get download -q "$kernel" busybox-static >&2); then
    [[ $(id -u) == 0 ]] || die "apt-get download $kernel busybox-static failed"
    apt-get update -qq >&2
    kernel=$(kernel_package)
    (cd "$debs" && apt-get download -q "$kernel" busybox-static >&2) ||
      die "apt-get download $kernel busybox-static failed"
  fi
}

# Prints the .ko files for WANTED_MODULES, each after the modules it depends on. The package has no
# modules.dep; each module names its dependencies in its own .modinfo section ("depends=a,b").
module_order() {
  local tree=$1 busybox=$2
  declare -A file_of=() done_=()
  local ko name
  while IFS= read -r ko; do
    name=${ko##*/}; name=${name%.ko}
    file_of[${name//-/_}]=$ko
  done < <(find "$tree" -name '*.ko')
  visit() {
    local module=$1 dep depends
    [[ -z ${done_[$module]:-} ]] || return 0
    [[ -n ${file_of[$module]:-} ]] || die "module $module is not in the kernel package"
    done_[$module]=1
    depends=$("$busybox" strings "${file_of[$module]}" | sed -n 's/^depends=//p' | head -n 1)
    for dep in ${depends//,/ }; do visit "${dep//-/_}"; done
    echo "${file_of[$module]}"
  }
  local module
  for module in "${WANTED_MODULES[@]}"; do visit "$module"; done
}

write_init() {
  cat >"$1/init" <<'EOF'
#!/bin/sh
# /init of the KvmHost tiny test guest (tests/harness/tiny-guest.sh).
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
for module in $(cat /etc/modules-order); do
  insmod "/lib/modules/$module.ko" || echo "KVMHOST-GUEST-WARNING insmod $module failed"
done

name=tiny
acpi=1
for argument in $(cat /proc/cmdline); do
  case $argument in
    kvmhost.name=*) name=${argument#kvmhost.name=} ;;
    kvmhost.noacpi) acpi=0 ;;
  esac
done
hostname "$name"

# devtmpfs creates the node when virtio_blk finds the disk, which insmod waits for.
if [ -b /dev/vda ]; then
  echo "KVMHOST-DISK $(head -c 512 /dev/vda | tr -d '\000' | head -n 1)"
fi
if [ "$acpi" = 1 ]; then
  acpid -l /var/log/acpid.log
fi
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
  ip link set eth0 up
  udhcpc -f -i eth0 -s /etc/udhcpc.script >/var/log/udhcpc.log 2>&1 &
fi
echo "KVMHOST-GUEST-READY $name"

# cttyhack opens the console's real tty (ttyS0) so the shell gets job control and Ctrl+C.
while :; do
  setsid cttyhack sh -l
done
EOF
  chmod 0755 "$1/init"

  mkdir -p "$1/etc/acpi/PWRF"
  cat >"$1/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
# The ACPI power button (virsh shutdown): flush the disk and power off now.
# A line of its own: the shell's prompt may be waiting on the console without a newline.
printf '\nKVMHOST-GUEST-POWEROFF %s\n' "$(hostname)" >/dev/console
sync
poweroff -f
EOF
  chmod 0755 "$1/etc/acpi/PWRF/00000080"

  cat >"$1/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# busybox udhcpc calls this with deconfig, bound or renew; the lease itself is what libvirt reports.
case $1 in
  deconfig) ip addr flush dev "$interface" ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    for gateway in $router; do ip route add default via "$gateway" dev "$interface"; break; done
    printf '\nKVMHOST-NET %s %s\n' "$interface" "$ip" >/dev/console ;;
esac
EOF
  chmod 0755 "$1/etc/udhcpc.script"
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$1/etc/passwd"
  printf 'root:x:0:\n' >"$1/etc/group"
  printf 'export PS1='"'"'tiny# '"'"'\n' >"$1/etc/profile"
}

cmd_build() {
  (($# == 1)) || usage
  local cache
  mkdir -p "$1"
  cache=$(readlink -f -- "$1")
  local hash image
  hash=$(sha256sum "$SELF" | cut -c1-12)
  image=$cache/tiny-guest-$hash

  # One builder at a time per cache; the others find its result.
  exec 9>"$cache/.lock"
  flock 9
  if [[ ! -f $image/done ]]; then
    build_image "$cache" "$image"
    BUILT=1
  else
    BUILT=0
  fi
  echo "KERNEL=$image/vmlinuz"
  echo "INITRD=$image/initrd.gz"
  echo "KERNEL_VERSION=$(<"$image/kernel-version")"
  echo "BUILT=$BUILT"
}

build_image() {
  local cache=$1 image=$2 work
  fetch_debs "$cache/debs"
  work=$(mktemp -d "$cache/.build-XXXXXX")
  # shellcheck disable=SC2064 # expand now
  trap "rm -rf -- '$work'" EXIT
  local kernel_deb busybox_deb
  kernel_deb=$(ls -1 "$cache"/debs/linux-image-*-cloud-amd64_*.deb | sort -V | tail -n 1)
  busybox_deb=$(ls -1 "$cache"/debs/busybox-static_*.deb | sort -V | tail -n 1)
  dpkg-deb -x "$kernel_deb" "$work/kernel"
  dpkg-deb -x "$busybox_deb" "$work/busybox"
  local busybox=$work/busybox/bin/busybox version
  [[ -x $busybox ]] || die "no bin/busybox in $busybox_deb"
  version=$(ls -1 "$work/kernel/lib/modules" | head -n 1)
  [[ -n $version && -f $work/kernel/boot/vmlinuz-$version ]] || die "no kernel in $kernel_deb"

  local root=$work/root applet ko name modules
  modules=$(module_order "$work/kernel/lib/modules/$version" "$busybox")
  mkdir -p "$root"/{bin,dev,proc,sys,etc,lib/modules,var/log,tmp,root}
  cp "$busybox" "$root/bin/busybox"
  for applet in $("$busybox" --list); do
    [[ $applet == busybox ]] || ln -s busybox "$root/bin/$applet"
  done
  ln -s bin "$root/sbin"
  : >"$root/etc/modules-order"
  while IFS= read -r ko; do
    name=${ko##*/}; name=${name%.ko}
    cp "$ko" "$root/lib/modules/$name.ko"
    echo "$name" >>"$root/etc/modules-order"
  done <<<"$modules"
  write_init "$root"

  local staged=$work/image
  mkdir "$staged"
  cp "$work/kernel/boot/vmlinuz-$version" "$staged/vmlinuz"
  # newc is the format the kernel unpacks; busybox's own cpio, so the machine needs none.
  (cd "$root" && find . | LC_ALL=C sort | "$busybox" cpio -o -H newc 2>/dev/null | gzip -9 >"$staged/initrd.gz")
  echo "$version" >"$staged/kernel-version"
  : >"$staged/done"
  chmod 0755 "$staged"
  chmod 0644 "$staged"/*
  rm -rf -- "$image"
  mv "$staged" "$image"
}

main() {
  (($#)) || usage
  local cmd=$1; shift
  case $cmd in
    build) cmd_build "$@" ;;
    *) usage ;;
  esac
}

main "$@"
