# activate + validate: move staged files into the target by atomic rename in
# the playbook's order, then check every file's sha256 and mode and run the
# playbook's checks. Check output goes to stderr; stdout says CHECK lines.
have_lock || { say "ERR lost-lock $(lockholder)"; exit 1; }
note_pid
stagedir "$RUN" || { say "ERR stage-dir"; exit 1; }
say "STEP activate"
enter_target "$S/backups/$RUN/tphys" || { say "ERR target-moved"; exit 1; }
j=0
while [ "$j" -lt "$ND" ]; do
  eval "d=\$D_$j"
  mkdir -p "$T/$d" 2>/dev/null || { say "ERR mkdir $j"; exit 1; }
  j=$((j + 1))
done
# move_into FIRST DIR SOURCE...: move the staged files FIRST.. into DIR with
# one mv (it renames its sources in order, each atomically); if it fails, name
# the first file still staged.
move_into() {
  _k=$1
  _to=$2
  shift 2
  [ $# -gt 0 ] || return 0
  mv -f -- "$@" "$_to" 2>/dev/null && return 0
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
  case $f in */*) dir=${f%/*} ;; *) dir= ;; esac
  if [ $# -gt 0 ] && [ "$dir" != "$cur" ]; then
    move_into "$first" "$T/${cur:+$cur/}" "$@"
    set --
  fi
  if [ $# -eq 0 ]; then first=$i; cur=$dir; fi
  set -- "$@" "$G/$i/${f##*/}"
  i=$((i + 1))
done
move_into "$first" "$T/${cur:+$cur/}" "$@"
rm -rf "$G"
say "STEP validate"
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
  printf '%s\n' "$*"
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
say VALIDATED
# Commit in this same round trip (the commit body follows) only when the host
# judged every check a pass; otherwise the controller decides.
if [ "$COMMIT_HERE" != 1 ] || [ "$_failed" != 0 ] || [ "$_checked" != "$NCHK" ]; then exit 0; fi
say "STEP commit"
