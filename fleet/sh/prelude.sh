# fleet remote prelude: POSIX sh + coreutils (GNU or BSD), no Python.
# Protocol: stdout carries one fact per line ("WORD args…"); "ERR kind [index]"
# reports a failure the controller turns into a message. Names of files never
# appear on stdout (they may hold newlines); files are referred to by index.
set -u
umask 022
LC_ALL=C
export LC_ALL
S="$HOME/.local/state/fleet/$NAME"
case $TARGET in
  "~/"*) T="$HOME/${TARGET#"~/"}" ;;
  *) T=$TARGET ;;
esac
if command -v sha256sum >/dev/null 2>&1; then SHA=sha256sum; else SHA="shasum -a 256"; fi
NL='
'
say() { printf '%s\n' "$*"; }
fsha() { _r=$($SHA < "$1" 2>/dev/null) || return 1; printf '%s' "${_r%% *}"; }
if stat -c %a / >/dev/null 2>&1; then
  fmode() { stat -c %a "$1" 2>/dev/null; }
  fdev() { stat -c %d "$1" 2>/dev/null; }
  modes() { [ $# -gt 0 ] || return 0; stat -c %a -- "$@" 2>/dev/null; }
else
  fmode() { stat -f %Lp "$1" 2>/dev/null; }
  fdev() { stat -f %d "$1" 2>/dev/null; }
  modes() { [ $# -gt 0 ] || return 0; stat -f %Lp -- "$@" 2>/dev/null; }
fi
# shas FILE...: the sha256 of each file, one line each, in order, from one process
# (GNU escapes odd names with a leading backslash; a name that still breaks the
# lines only makes a comparison fail, and callers then check file by file).
shas() { [ $# -gt 0 ] || return 0; $SHA -- "$@" 2>/dev/null | sed 's/^\\//' | cut -c1-64; }
# The release's expected sums and modes, one per line, in order.
want_sums() {
  WANT_H=
  WANT_M=
  _i=0
  while [ "$_i" -lt "$N" ]; do
    eval "WANT_H=\${WANT_H:+\$WANT_H
}\$H_$_i WANT_M=\${WANT_M:+\$WANT_M
}\$M_$_i"
    _i=$((_i + 1))
  done
}
# release_in DIR NAMED: are the N release files in DIR (named by index when NAMED
# is "index", by their names otherwise) regular files with the right sha256 and
# mode? Few processes however many files.
release_in() {
  _dir=$1
  _how=$2
  set --
  _i=0
  while [ "$_i" -lt "$N" ]; do
    if [ "$_how" = index ]; then _p="$_dir/$_i"; else getf "$_i"; _p="$_dir/$f"; fi
    if [ -L "$_p" ] || [ ! -f "$_p" ]; then return 1; fi
    set -- "$@" "$_p"
    _i=$((_i + 1))
  done
  [ -n "${WANT_H+x}" ] || want_sums
  [ "$(shas "$@")" = "$WANT_H" ] && [ "$(modes "$@")" = "$WANT_M" ]
}
getf() { eval "f=\$F_$1 h=\$H_$1 m=\$M_$1"; }
# name files end in "/" so that $(cat) keeps trailing newlines of a name
readname() { _n=$(cat "$1"; printf x); _n=${_n%x}; n=${_n%/}; }
# The holder writes lock/run right after mkdir lock: give it a moment.
lockholder() {
  _h=$(cat "$S/lock/run" 2>/dev/null)
  if [ -z "$_h" ] && [ -d "$S/lock" ]; then sleep 1; _h=$(cat "$S/lock/run" 2>/dev/null); fi
  printf '%s' "${_h:-unknown}"
}
have_lock() { [ -d "$S/lock" ] && [ "$(lockholder)" = "$RUN" ]; }
# A long step leaves its pid in the lock, so a rollback can stop it first (a
# step whose connection died may still be running on the host).
note_pid() { printf '%s\n' "$$" > "$S/lock/pid"; }
stop_step_of() {
  [ -f "$S/lock/pid" ] || return 0
  _pid=$(cat "$S/lock/pid" 2>/dev/null)
  case $_pid in ''|*[!0-9]*) return 0 ;; esac
  [ "$_pid" = "$$" ] && return 0
  # only our own script of that run: the pid may have been reused since
  ps -p "$_pid" -o args= 2>/dev/null | grep -F -q -- "$1" || return 0
  kill "$_pid" 2>/dev/null
  _w=0
  while kill -0 "$_pid" 2>/dev/null && [ "$_w" -lt 10 ]; do sleep 1; _w=$((_w + 1)); done
}
# Enter the target's real folder and check it is the one preflight saw: a link
# swapped in since is never written through. Then T is "." from here on.
enter_target() {
  [ -f "$1" ] || return 0
  [ -L "$T" ] && return 1
  cd -P "$T" 2>/dev/null || return 1
  [ "$(pwd -P)" = "$(cat "$1")" ] || return 1
  T=.
}
# Where a run stages files: on the target's filesystem (so mv is an atomic
# rename) but never inside the target.
stagedir() {
  _p=$T
  while [ ! -d "$_p" ]; do _p=$(dirname "$_p"); done
  mkdir -p "$S" || return 1
  if [ "$(fdev "$_p")" = "$(fdev "$S")" ]; then G="$S/stage-$1"
  else G="$(dirname "$T")/.fleet-stage-$NAME-$1"; fi
}
# Recorded timestamps, UTC.
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
