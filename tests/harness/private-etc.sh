#!/usr/bin/env bash
# Runs a command with a private /etc: the harness's one way to let a cmdlet write "the live /etc"
# without a byte of it reaching the machine's own.
#
#   private-etc.sh [--upper DIR] [--empty DIR[:KEEP,...]]... [--bind SRC:DEST]... -- CMD [ARG...]
#
# In a new private mount namespace (it lives as long as CMD):
#   - /etc is an overlay over the /etc the caller sees: reads see it, writes land in DIR/upper
#     (--upper: kept afterwards, to look at) or in a tmpfs that vanishes with the namespace. Mounts
#     below /etc (a NetworkManager lab's /etc/NetworkManager, `ip netns exec`'s /etc/netns binds) stay
#     where they were: overlayfs alone would show the directories underneath them.
#   - /run/lock is an empty tmpfs (KvmHost's lock file lives there).
#   - --empty DIR[:KEEP,...]: DIR (below /etc) starts empty but for the entries named KEEP, e.g.
#     --empty /etc/sysctl.d:99-sysctl.conf keeps the distribution's link to /etc/sysctl.conf and hides
#     every other drop-in of the machine. Deleted in the overlay only.
#   - --bind SRC:DEST shows SRC at DEST, after the overlay (so a scratch folder can stand in for
#     /etc/sysctl.d). DEST must exist and be of SRC's kind; the harness never creates mount points on
#     the machine. Checked before anything is mounted.
# Needs root. Exit code: CMD's.
set -euo pipefail

SELF=$(readlink -f -- "${BASH_SOURCE[0]}")
readonly SELF
# shellcheck source=lib.sh
source "${SELF%/*}/lib.sh"

die() { echo "private-etc.sh: $*" >&2; exit 1; }

usage() {
  sed -n 's/^#   \(private-etc.sh .*\)/usage: \1/p' "$SELF" >&2
  exit 2
}

# Mount points below /etc in this mount namespace, outermost first; mountinfo escapes blanks as \040.
etc_submounts() {
  local point kept=()
  while IFS= read -r point; do
    point=$(printf '%b' "$point")
    local outer nested=''
    for outer in "${kept[@]}"; do [[ $point == "$outer"/* ]] && nested=1; done
    # A nested mount travels with its parent (rbind), so only the outermost ones are moved.
    [[ -n $nested ]] || kept+=("$point")
  done < <(awk '$5 ~ /^\/etc\// { print $5 }' /proc/self/mountinfo | sort -u)
  ((${#kept[@]} == 0)) || printf '%s\n' "${kept[@]}"
}

# The second half, in the new mount namespace: UPPER ('' for a tmpfs), then EMPTY specs, '--',
# resolved bind pairs, '--', CMD.
inside() {
  local upper=$1; shift
  local -a empties=() binds=()
  while [[ $1 != -- ]]; do empties+=("$1"); shift; done
  shift
  while [[ $1 != -- ]]; do binds+=("$1"); shift; done
  shift

  [[ -d /run/lock ]] || mkdir -p /run/lock
  mount -n -t tmpfs -o mode=1777,nosuid,nodev kvmhost-lock /run/lock
  local scratch=/run/lock/.kvmhost-etc
  mkdir -p "$scratch/stage"
  if [[ -z $upper ]]; then
    upper=$scratch
    mkdir -p "$upper/upper" "$upper/work"
  fi

  local -a submounts=()
  local point index=0
  mapfile -t submounts < <(etc_submounts)
  for point in "${submounts[@]}"; do
    if [[ -d $point ]]; then mkdir "$scratch/stage/$index"; else touch "$scratch/stage/$index"; fi
    mount -n --rbind -- "$point" "$scratch/stage/$index"
    index=$((index + 1))
  done
  mount -n -t overlay kvmhost-etc -o "lowerdir=/etc,upperdir=$upper/upper,workdir=$upper/work" /etc
  index=0
  for point in "${submounts[@]}"; do
    mount -n --move -- "$scratch/stage/$index" "$point"
    index=$((index + 1))
  done

  local spec dir keep entry name
  for spec in "${empties[@]}"; do
    dir=${spec%%:*} keep=''
    [[ $spec != *:* ]] || keep=,${spec#*:},
    # Only the overlay's own files: a mount below /etc is the machine's (or a lab's) real folder.
    [[ $(stat -c %d -- "$dir") == "$(stat -c %d /etc)" ]] || die "--empty $dir: it is a mount of its own, not part of the /etc overlay"
    for entry in "$dir"/* "$dir"/.[!.]* "$dir"/..?*; do
      [[ -e $entry || -L $entry ]] || continue
      name=${entry##*/}
      [[ $keep == *",$name,"* ]] || rm -rf -- "$entry"
    done
  done
  local i
  for ((i = 0; i < ${#binds[@]}; i += 2)); do
    mount -n --bind -- "${binds[i]}" "${binds[i + 1]}"
  done
  exec "$@"
}

main() {
  [[ ${1:-} != __inside ]] || { shift; inside "$@"; }
  local upper='' spec
  local -a empties=() binds=()
  while (($#)); do
    case $1 in
      --upper) (($# >= 2)) || usage; upper=$2; shift 2 ;;
      --empty) (($# >= 2)) || usage; empties+=("$2"); shift 2 ;;
      --bind)
        (($# >= 2)) || usage
        parse_bind "$2" existing || die "$BIND_ERROR"
        binds+=("$BIND_SRC" "$BIND_DEST")
        shift 2 ;;
      --) shift; break ;;
      *) die "unknown option '$1'" ;;
    esac
  done
  (($#)) || usage
  [[ $(id -u) == 0 ]] || die "must run as root (mount namespaces, overlayfs)"
  for spec in "${empties[@]}"; do
    [[ ${spec%%:*} == /etc/* && -d ${spec%%:*} ]] || die "--empty wants a directory below /etc, got '${spec%%:*}'"
  done
  if [[ -n $upper ]]; then
    mkdir -p -- "$upper/upper" "$upper/work"
    upper=$(readlink -f -- "$upper")
  fi
  exec unshare --mount --propagation private -- bash "$SELF" __inside "$upper" "${empties[@]}" -- "${binds[@]}" -- "$@"
}

main "$@"
