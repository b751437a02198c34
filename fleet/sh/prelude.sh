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
# GNU/busybox stat (-c) or BSD stat (-f): Linux has both /proc/self/stat and
# a stat with -c, so only other systems pay a process to find out.
if [ -e /proc/self/stat ] || stat -c %a / >/dev/null 2>&1; then
  fmode() { stat -c %a "$1" 2>/dev/null; }
  fdevs() { stat -c %d -- "$@" 2>/dev/null; }
  modes() { [ $# -gt 0 ] || return 0; stat -c %a -- "$@" 2>/dev/null; }
else
  fmode() { stat -f %Lp "$1" 2>/dev/null; }
  fdevs() { stat -f %d -- "$@" 2>/dev/null; }
  modes() { [ $# -gt 0 ] || return 0; stat -f %Lp -- "$@" 2>/dev/null; }
fi
# shas FILE...: the sha256 of each file, one line each, in order, from one process
# (GNU escapes odd names with a leading backslash; a name that still breaks the
# lines only makes a comparison fail, and callers then check file by file).
shas() {
  [ $# -gt 0 ] || return 0
  $SHA -- "$@" 2>/dev/null | while IFS= read -r _l; do _l=${_l#\\}; say "${_l%% *}"; done
}
# nlines TEXT: the number of lines in TEXT (each ended by a newline) in $_c.
nlines() {
  _c=0
  _t=$1
  while :; do
    case $_t in *"$NL"*) _t=${_t#*"$NL"}; _c=$((_c + 1)) ;; *) break ;; esac
  done
}
# sums_modes FILE...: the sha256 and the mode of each file, one line each, in
# $sums and $perms (each line ended by a newline), from one process each;
# $aligned is 1 when both have exactly one line per file (else a file could not
# be read, or a name broke the lines: the caller goes file by file).
sums_modes() {
  sums=$(shas "$@")
  perms=$(modes "$@")
  aligned=0
  [ -n "$sums" ] && [ -n "$perms" ] || return 0
  sums=$sums$NL
  perms=$perms$NL
  nlines "$sums"
  _ns=$_c
  nlines "$perms"
  if [ "$_ns" -eq $# ] && [ "$_c" -eq $# ]; then aligned=1; fi
}
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
# release_in DIR NAMED: are the N release files in DIR (staged as DIR/i/BASENAME
# when NAMED is "index", by their names otherwise) regular files with the right
# sha256 and mode? Few processes however many files.
release_in() {
  _dir=$1
  _how=$2
  set --
  _i=0
  while [ "$_i" -lt "$N" ]; do
    getf "$_i"
    if [ "$_how" = index ]; then _p="$_dir/$_i/${f##*/}"; else _p="$_dir/$f"; fi
    if [ -L "$_p" ] || [ ! -f "$_p" ]; then return 1; fi
    set -- "$@" "$_p"
    _i=$((_i + 1))
  done
  [ -n "${WANT_H+x}" ] || want_sums
  [ "$(shas "$@")" = "$WANT_H" ] && [ "$(modes "$@")" = "$WANT_M" ]
}
getf() { eval "f=\$F_$1 h=\$H_$1 m=\$M_$1"; }
# Name files end in "/" and no newline: "read" gets a name that has none
# (it then fails at the end of the file) without a process; $(cat) keeps a
# name's own newlines.
readname() {
  _n=
  if { IFS= read -r _n; } 2>/dev/null < "$1"; then _n=$(cat "$1"; printf x); _n=${_n%x}; fi
  n=${_n%/}
}
# firstline FILE: its first line in $_fl, without a process ("" if unreadable).
firstline() { _fl=; { IFS= read -r _fl; } 2>/dev/null < "$1" || :; }
# The holder writes lock/run right after mkdir lock: give it a moment.
lockholder() {
  firstline "$S/lock/run"
  if [ -z "$_fl" ] && [ -d "$S/lock" ]; then sleep 1; firstline "$S/lock/run"; fi
  printf '%s' "${_fl:-unknown}"
}
have_lock() { [ -d "$S/lock" ] && [ "$(lockholder)" = "$RUN" ]; }
# A long step leaves its pid in the lock, so a rollback can stop it first (a
# step whose connection died may still be running on the host).
note_pid() { printf '%s\n' "$$" > "$S/lock/pid"; }
stop_step_of() {
  [ -f "$S/lock/pid" ] || return 0
  firstline "$S/lock/pid"
  _pid=$_fl
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
  _w=$(pwd -P)
  _fl=
  _x=
  # one line (the usual case) is read without a process; else all of it
  if { IFS= read -r _fl && ! IFS= read -r _x && [ -z "$_x" ]; } < "$1"; then
    [ "$_w" = "$_fl" ] || return 1
  else
    [ "$_w" = "$(cat "$1")" ] || return 1
  fi
  T=.
}
# Where a run stages files: on the target's filesystem (so mv is an atomic
# rename) but never inside the target.
stagedir() {
  if [ -z "${_gpre+x}" ] && [ -f "$S/backups/$RUN/gpre" ]; then  # prepare's decision
    firstline "$S/backups/$RUN/gpre"
    [ -z "$_fl" ] || _gpre=$_fl
  fi
  if [ -z "${_gpre+x}" ]; then  # decided once per script, before T may become "."
    _p=$T
    while [ ! -d "$_p" ]; do _p=$(dirname "$_p"); done
    [ -d "$S" ] || mkdir -p "$S" || return 1
    # one stat for both: the same device twice means the same filesystem
    _d=$(fdevs "$_p" "$S")
    _d1=${_d%%"$NL"*}
    if [ "$_d1" != "$_d" ] && [ "$_d1" = "${_d#*"$NL"}" ]; then _gpre="$S/stage-"
    else _gpre="$(dirname "$T")/.fleet-stage-$NAME-"; fi
  fi
  G="$_gpre$1"
}
# Recorded timestamps, UTC.
# NOW comes from the controller where it can (one process fewer).
now() { if [ -n "${NOW:-}" ]; then printf '%s\n' "$NOW"; else date -u +%Y-%m-%dT%H:%M:%SZ; fi; }
