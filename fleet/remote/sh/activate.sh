# activate + validate: move staged files into the target by atomic rename in
# the playbook's order, then check every file's sha256 and mode and run the
# playbook's checks. Check output goes to stderr; stdout says CHECK lines.
# Every folder is entered with "into": nothing is written through a link
# swapped in since preflight.
have_lock || { say "ERR lost-lock $(lockholder)"; exit 1; }
[ -d "$B" ] || { say "ERR no-backup"; exit 1; }
beat
stagedir "$RUN" || { say "ERR stage-dir"; exit 1; }
say "STEP activate"
load_tp && into "" || { say "ERR target-moved"; exit 1; }
# The release's folders, parents first; each is made inside its real parent.
j=0
while [ "$j" -lt "$ND" ]; do
  eval "d=\$D_$j"
  splitname "$d"
  into "$_dir" || { say "ERR target-moved"; exit 1; }
  if [ -L "./$_base" ]; then say "ERR dir-link $j"; exit 1
  elif [ ! -d "./$_base" ]; then mkdir "./$_base" 2>/dev/null || { say "ERR mkdir $j"; exit 1; }
  fi
  j=$((j + 1))
done
# move_into FIRST DIR SOURCE...: move the staged files FIRST.. into the
# target's folder DIR with one mv (it renames its sources in order, each
# atomically, and a link at a file's place is replaced, never followed); if
# it fails, name the first file still staged.
move_into() {
  _k=$1
  _to=$2
  shift 2
  [ $# -gt 0 ] || return 0
  into "$_to" || { say "ERR target-moved"; exit 1; }
  mv -f -- "$@" ./ 2>/dev/null && return 0
  for _s in "$@"; do
    if [ -e "$_s" ] || [ -L "$_s" ]; then break; fi
    _k=$((_k + 1))
  done
  say "ERR activate $_k"
  exit 1
}
# The playbook's order, one mv per run of files bound for the same folder.
set --
first=0
cur=
i=0
while [ "$i" -lt "$N" ]; do
  getf "$i"
  splitname "$f"
  if [ $# -gt 0 ] && [ "$_dir" != "$cur" ]; then
    move_into "$first" "$cur" "$@"
    set --
  fi
  if [ $# -eq 0 ]; then first=$i; cur=$_dir; fi
  set -- "$@" "$G/$i/$_base"
  i=$((i + 1))
done
move_into "$first" "$cur" "$@"
# The emptied staging folder goes with the lock at the commit (one rm for both),
# or on the way out below; after a failure the rollback removes it.
say "STEP validate"
# The checks read the release's folders: each must still be the real one.
j=0
while [ "$j" -lt "$ND" ]; do
  eval "d=\$D_$j"
  into "$d" || { say "ERR target-moved"; exit 1; }
  j=$((j + 1))
done
into "" || { say "ERR target-moved"; exit 1; }
T=.
# The host's own verdict on the checks (the controller judges them again):
# every check answered, each within its limit L<k>, no file off the release.
_failed=0
_checked=0
verdict() {  # verdict K WORD [ARG]
  _checked=$((_checked + 1))
  case $2 in
    OK) ;;
    EXIT) [ "$3" = 0 ] || _failed=1 ;;
    VALUE)
      eval "_lim=\${L$1-}"
      case $_lim:$3 in
        :*|*:|*[!0-9:]*) _failed=1 ;;
        *) [ "$3" -le "$_lim" ] || _failed=1 ;;
      esac ;;
    *) _failed=1 ;;
  esac
}
say() {
  printf '\n%s\n' "$*"
  case $* in
    "CHECK "*) _v=$*; set -f; set -- $_v; set +f; verdict "$2" "$3" "${4-}" ;;
  esac
}
if ! release_in "$T" names; then  # name the files that differ
  i=0
  while [ "$i" -lt "$N" ]; do
    getf "$i"
    if [ -L "$T/$f" ] || [ ! -f "$T/$f" ] || [ "$(fsha "$T/$f")" != "$h" ] \
        || [ "$(fmode "$T/$f")" != "$m" ]; then say "CHECK sha FAIL $i"; fi
    i=$((i + 1))
  done
fi
run_snippets
into "" || { say "ERR target-moved"; exit 1; }
say VALIDATED
# Commit in this same round trip (the commit body follows) only when the host
# judged every check a pass; otherwise the controller decides.
if [ "$COMMIT_HERE" != 1 ] || [ "$_failed" != 0 ] || [ "$_checked" != "$NCHK" ]; then
  rm -rf "$G"
  exit 0
fi
say "STEP commit"
