#!/usr/bin/env bash
# Builds tiny noarch stand-ins for a RHEL release's KVM packages and a dnf repository of them, so tests
# can run the real dnf/yum and rpm against package names and dependencies shaped like the real ones.
#
#   stub-rpms.sh OUTDIR [PROFILE]     PROFILE: rhel9 (default), rhel8, rhel7
#
# Prints OUTDIR/repo (absolute). Every package holds one file, /usr/share/kvmhost-stub/<name>, whose
# content is "<name> <version>-<release>". A repository newer than this script and built for the same
# profile is reused as it is.
#
# Using it (Debian's dnf and rpm, tried here):
#   dnf --installroot=ROOT --releasever=9 --setopt=reposdir=/dev/null --repofrompath=local,OUTDIR/repo \
#       --setopt=local.gpgcheck=0 -y install qemu-kvm libvirt
#   rpm --root ROOT -q qemu-kvm
# Debian's rpm keeps its database in $HOME/.rpmdb (macro %_dbpath), so the installroot's database is
# ROOT/root/.rpmdb when HOME=/root, and /.rpmdb when HOME is unset. Keep HOME the same for dnf and rpm.
# RHEL 7 has yum, Debian has none: a directory holding a symlink yum -> dnf-3, put first on PATH,
# stands in (New-YumStandIn in StubRepo.psm1 makes one).
set -euo pipefail

SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
readonly SELF

die() { echo "stub-rpms.sh: $*" >&2; exit 1; }

# name|version|release|requires (comma-separated)|provides (comma-separated)
# Names follow each release's real repositories, so code that picks packages per release meets the
# same gaps as on a real machine: RHEL 7 has libvirt-python and qemu-kvm-common, no python3-libvirt,
# qemu-kvm-core or guestfs-tools; RHEL 8 has python3-libvirt and libguestfs-tools-c, no guestfs-tools
# (split out of libguestfs for RHEL 9). The *-release package carries system-release(releasever), which
# dnf reads to fill $releasever when a box has it installed.
profile_rhel9() {
  cat <<'EOF'
qemu-kvm|9.1.0|15.el9|qemu-kvm-core,qemu-img|
qemu-kvm-core|9.1.0|15.el9|qemu-img|
qemu-img|9.1.0|15.el9||
libvirt|10.10.0|7.el9|libvirt-daemon,libvirt-client|
libvirt-daemon|10.10.0|7.el9||
libvirt-client|10.10.0|7.el9||
python3-libvirt|10.10.0|1.el9|libvirt-client|
virt-install|4.1.0|9.el9|python3-libvirt|
virt-viewer|11.0|3.el9||
libguestfs|1.54.0|4.el9||
guestfs-tools|1.52.2|2.el9|libguestfs|
libguestfs-tools|1.54.0|4.el9|guestfs-tools|
redhat-release|9.6|0.1.el9||system-release,system-release(releasever) = 9
EOF
}

profile_rhel8() {
  cat <<'EOF'
qemu-kvm|6.2.0|52.module+el8.10.0|qemu-kvm-core,qemu-img|
qemu-kvm-core|6.2.0|52.module+el8.10.0|qemu-img|
qemu-img|6.2.0|52.module+el8.10.0||
libvirt|8.0.0|23.module+el8.10.0|libvirt-daemon,libvirt-client|
libvirt-daemon|8.0.0|23.module+el8.10.0||
libvirt-client|8.0.0|23.module+el8.10.0||
python3-libvirt|8.0.0|2.module+el8.10.0|libvirt-client|
virt-install|3.2.0|4.el8|python3-libvirt|
virt-viewer|9.0|12.el8||
libguestfs|1.44.0|9.module+el8.10.0||
libguestfs-tools-c|1.44.0|9.module+el8.10.0|libguestfs|
libguestfs-tools|1.44.0|9.module+el8.10.0|libguestfs-tools-c|
redhat-release|8.10|0.3.el8||system-release,system-release(releasever) = 8
EOF
}

profile_rhel7() {
  cat <<'EOF'
qemu-kvm|1.5.3|175.el7_9.6|qemu-kvm-common,qemu-img|
qemu-kvm-common|1.5.3|175.el7_9.6||
qemu-img|1.5.3|175.el7_9.6||
libvirt|4.5.0|36.el7_9.5|libvirt-daemon,libvirt-client|
libvirt-daemon|4.5.0|36.el7_9.5||
libvirt-client|4.5.0|36.el7_9.5||
libvirt-python|4.5.0|1.el7|libvirt-client|
virt-install|1.5.0|7.el7|libvirt-python|
virt-viewer|5.0|18.el7||
libguestfs|1.40.2|10.el7||
libguestfs-tools-c|1.40.2|10.el7|libguestfs|
libguestfs-tools|1.40.2|10.el7|libguestfs-tools-c|
redhat-release-server|7.9|7.el7||redhat-release,system-release,system-release(releasever) = 7Server
EOF
}

# One spec, one subpackage per stand-in: rpmbuild then starts once (about 0.3 s a run here) instead of
# once per package. Subpackages may carry their own Version and Release; the main package has no
# %files, so it is not built. Reads the profile's lines on stdin.
write_spec() {
  local name version release requires provides dep
  local -a install=()
  cat <<'EOF'
Name: kvmhost-stubs
Version: 1
Release: 1
Summary: KvmHost test stand-ins
License: MIT
BuildArch: noarch
AutoReqProv: no

%description
Stand-ins for RHEL packages, built by KvmHost's tests/harness/stub-rpms.sh.
EOF
  while IFS='|' read -r name version release requires provides; do
    printf '\n%%package -n %s\nVersion: %s\nRelease: %s\nSummary: KvmHost test stand-in for %s\n' \
      "$name" "$version" "$release" "$name"
    local IFS=,
    for dep in $requires; do echo "Requires: $dep"; done
    for dep in $provides; do echo "Provides: $dep"; done
    unset IFS
    printf '%%description -n %s\nStand-in for %s: one marker file, no code.\n' "$name" "$name"
    printf '%%files -n %s\n/usr/share/kvmhost-stub/%s\n' "$name" "$name"
    install+=("echo '$name $version-$release' >%{buildroot}/usr/share/kvmhost-stub/$name")
  done
  printf '\n%%install\nmkdir -p %%{buildroot}/usr/share/kvmhost-stub\n'
  printf '%s\n' "${install[@]}"
}

main() {
  (($# == 1 || $# == 2)) || { sed -n 's/^#   \(stub-rpms.sh .*\)/usage: \1/p' "$SELF" >&2; exit 2; }
  local profile=${2:-rhel9}
  [[ $profile =~ ^rhel[789]$ ]] || die "unknown profile '$profile' (rhel7, rhel8, rhel9)"
  mkdir -p -- "$1"
  local out repo
  out=$(cd -- "$1" && pwd -P)
  repo=$out/repo

  if [[ -d $repo/repodata && $repo/repodata -nt $SELF && "$(cat "$repo/.profile" 2>/dev/null)" == "$profile" ]]; then
    echo "$repo"
    return 0
  fi

  local tmp
  tmp=$(mktemp -d "$out/.build.XXXXXX")
  # shellcheck disable=SC2064 # expand now: $tmp is local
  trap "rm -rf -- '$tmp'" EXIT

  "profile_$profile" | write_spec >"$tmp/stubs.spec"

  # --dbpath and _topdir keep rpmbuild out of ~/.rpmdb and ~/rpmbuild (it creates both otherwise). The
  # post-install scripts (strip, byte-compile, build-id links) have nothing to do on one text file.
  rpmbuild -bb --quiet \
    --dbpath "$tmp/rpmdb" \
    --define "_topdir $tmp/top" \
    --define '__spec_install_post %{nil}' \
    --define '__os_install_post %{nil}' \
    --define '_build_id_links none' \
    --define "_rpmdir $tmp/repo" \
    --define '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm' \
    "$tmp/stubs.spec" >"$tmp/rpmbuild.log" 2>&1 || { cat "$tmp/rpmbuild.log" >&2; die "rpmbuild failed"; }
  createrepo_c --quiet "$tmp/repo" >&2
  echo "$profile" >"$tmp/repo/.profile"

  # Swap in whole, so a reader never sees half a repository.
  rm -rf -- "$repo.old"
  [[ ! -e $repo ]] || mv -- "$repo" "$repo.old"
  mv -- "$tmp/repo" "$repo"
  rm -rf -- "$repo.old"
  echo "$repo"
}

main "$@"
