# Functions the harness's bash scripts share; `source` it (it defines functions and nothing else).
#
#   parse_bind SPEC MODE     one SRC:DEST bind, checked; sets BIND_SRC (resolved) and BIND_DEST, or
#                            BIND_ERROR and fails
#   proc_identity PID        "<boot id> <start time>" of a live process; fails for a dead or zombie one
#   netns_exists NAME        true when `ip netns` has NAME

# MODE existing: the bind goes onto the machine's own tree (private-etc.sh), where the harness never
#   creates a mount point: DEST must exist and be the same kind (file or directory) as SRC.
# MODE directory: SRC must be a directory; DEST is made by the caller inside a private root (box.sh).
parse_bind() {
  local spec=$1 mode=$2
  BIND_SRC='' BIND_DEST='' BIND_ERROR=''
  if [[ $spec != *:* ]]; then BIND_ERROR="bind '$spec' is not SRC:DEST"; return 1; fi
  BIND_SRC=${spec%%:*} BIND_DEST=${spec#*:}
  if [[ $BIND_DEST != /* ]]; then BIND_ERROR="bind '$spec': DEST must be an absolute path"; return 1; fi
  if [[ $BIND_DEST == *:* ]]; then BIND_ERROR="bind '$spec': paths with ':' are not supported"; return 1; fi
  if [[ ! -e $BIND_SRC ]]; then BIND_ERROR="bind source '$BIND_SRC' does not exist"; return 1; fi
  case $mode in
    existing)
      if [[ ! -e $BIND_DEST ]]; then BIND_ERROR="bind destination '$BIND_DEST' does not exist"; return 1; fi
      if [[ -d $BIND_SRC && ! -d $BIND_DEST ]] || [[ ! -d $BIND_SRC && -d $BIND_DEST ]]; then
        BIND_ERROR="bind '$spec': source and destination must both be directories or both files"
        return 1
      fi ;;
    directory)
      if [[ ! -d $BIND_SRC ]]; then BIND_ERROR="bind source '$BIND_SRC' is not a directory"; return 1; fi ;;
    *) BIND_ERROR="parse_bind: unknown mode '$mode'"; return 1 ;;
  esac
  BIND_SRC=$(readlink -f -- "$BIND_SRC")
}

# A PID is reused once its process is gone (and /run may survive a reboot where it is no tmpfs): the
# boot id and the start time tell the process a script started from a stranger with the same number.
proc_identity() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  # After the command name, which may hold spaces and ')': field 3 is the state, field 22 the start time.
  stat=${stat##*) }
  # shellcheck disable=SC2086 # split into fields on purpose
  set -- $stat
  [[ $1 != Z ]] || return 1
  echo "$(cat /proc/sys/kernel/random/boot_id) ${20}"
}

netns_exists() {
  local name
  # "ip netns list" prints "NAME (id: N)"; only the first word is the name.
  while read -r name _; do [[ $name == "$1" ]] && return 0; done < <(ip netns list 2>/dev/null)
  return 1
}
