# fleet remote prelude: POSIX sh + coreutils (GNU, busybox or BSD), no Python.
# Protocol: stdout carries one fact per line ("WORD args..."); "ERR kind [index]"
# reports a failure the controller turns into a message. Names of files never
# appear on stdout (they may hold newlines); files are referred to by index.
set -u
umask 022
LC_ALL=C
export LC_ALL
unset CDPATH
S="$HOME/.local/state/fleet/$NAME"
B="$S/backups/$RUN"
# A backup is built in $I and renamed to $B only once every copy in it is
# verified: a backup folder exists complete or not at all.
I="$S/backups/.inc-$RUN"
case $TARGET in
  "~/"*) T="$HOME/${TARGET#"~/"}" ;;
  *) T=$TARGET ;;
esac
if command -v sha256sum >/dev/null 2>&1; then SHA=sha256sum; else SHA="shasum -a 256"; fi
NL='
'
say() { printf '\n%s\n' "$*"; }  # a line of its own, whatever was printed before it
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
# The lines are cut by the shell: split once on newlines, no sed, no work that
# grows faster than the output.
shas() {
  [ $# -gt 0 ] || return 0
  _sr=$($SHA -- "$@" 2>/dev/null)
  _ifs=$IFS
  IFS=$NL
  set -f
  # shellcheck disable=SC2086  # split into lines on purpose
  set -- $_sr
  set +f
  IFS=$_ifs
  for _sl do
    _sl=${_sl#\\}
    printf '%s\n' "${_sl%% *}"
  done
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
# release_in DIR NAMED: are the N release files in DIR (staged as DIR/i/BASENAME
# when NAMED is "index", by their names otherwise) regular files with the
# right sha256 and mode (WANT_H, WANT_M)? Few processes however many files,
# and no work that grows faster than the number of files.
release_in() {
  _dir=$1
  if [ "$2" = index ]; then eval "set -- $ALL_INDEXED"; else eval "set -- $ALL_NAMED"; fi
  for _p do
    if [ -L "$_p" ] || [ ! -f "$_p" ]; then return 1; fi
  done
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
# splitname NAME: its folder (relative to the target, "" for the target itself)
# in $_dir and its last part in $_base.
splitname() {
  case $1 in */*) _dir=${1%/*}; _base=${1##*/} ;; *) _dir=; _base=$1 ;; esac
}

# ---- the lock: which run holds the deployment, whether it is live
# lock/run: the holding run's id; lock/owner: the controller that holds it
# (machine, boot id, pid, start); lock/lease: until when (epoch seconds, the
# controller's clock) the holder counts as live without a word from it;
# lock/pid: the step script running for it now (pid, pgid, start).
# The holder writes lock/run right after mkdir lock: give it a moment.
lockholder() {
  firstline "$S/lock/run"
  if [ -z "$_fl" ] && [ -d "$S/lock" ]; then sleep 1; firstline "$S/lock/run"; fi
  printf '%s' "${_fl:-unknown}"
}
have_lock() { [ -d "$S/lock" ] && [ "$(lockholder)" = "$RUN" ]; }
# procinfo PID: "pgid start" of a live process in $_pi ("" when it is gone):
# read from /proc without a process where there is one, else from ps.
procinfo() {
  _pi=
  if [ -r "/proc/$1/stat" ]; then
    { IFS= read -r _st; } 2>/dev/null < "/proc/$1/stat" || return 0
    _st=${_st##*") "}   # the command name may hold anything; fields follow its ")"
    set -f
    # shellcheck disable=SC2086  # split into fields on purpose
    set -- $_st
    set +f
    [ $# -ge 20 ] && _pi="$3 ${20}"
  elif [ ! -d /proc/self ]; then
    _pi=$(ps -o pgid= -o lstart= -p "$1" 2>/dev/null | tr -s ' ' '_')
    _pi=${_pi#_}
    case $_pi in *_*) _pi="${_pi%%_*} ${_pi#*_}" ;; *) _pi= ;; esac
  fi
}
# beat: renew this run's lease and name the step now running for it.
beat() {
  printf '%s\n' "$LEASE" > "$S/lock/lease"
  procinfo $$
  printf '%s %s\n' "$$" "${_pi:-- -}" > "$S/lock/pid"
}
# take_lock: this run holds the deployment now (after mkdir lock succeeded).
take_lock() {
  printf '%s\n' "$RUN" > "$S/lock/run"
  printf '%s\n' "$OWNER" > "$S/lock/owner"
  beat
}
# stop_step: stop the step script of the lock's holder if it is still running
# (its controller is gone, the controller that calls this judged): the whole
# process group when the script leads its own, as over SSH. Only a process
# whose start matches the record: the pid may have been reused since.
stop_step() {
  firstline "$S/lock/pid"
  set -f
  # shellcheck disable=SC2086
  set -- $_fl
  set +f
  [ $# -ge 3 ] || return 0
  case $1 in ''|*[!0-9]*) return 0 ;; esac
  [ "$1" = "$$" ] && return 0
  _sp=$1
  _want="$2 $3"
  procinfo "$_sp"
  [ -n "$_pi" ] && [ "$_pi" = "$_want" ] || return 0
  if [ "$2" = "$_sp" ]; then kill -TERM -- "-$_sp" 2>/dev/null || kill -TERM "$_sp" 2>/dev/null
  else kill -TERM "$_sp" 2>/dev/null; fi
  _w=0
  while [ "$_w" -lt 50 ]; do
    procinfo "$_sp"
    [ -n "$_pi" ] && [ "$_pi" = "$_want" ] || break
    sleep 0.2 2>/dev/null || sleep 1
    _w=$((_w + 1))
  done
  [ "$2" = "$_sp" ] && kill -KILL -- "-$_sp" 2>/dev/null
  return 0
}

# ---- the target, never through a link swapped in since preflight
# TP: the target's real path as preflight recorded it ($B/tphys or $I/tphys).
load_tp() {
  TP=
  for _tf in "$B/tphys" "$I/tphys"; do
    [ -f "$_tf" ] || continue
    readname "$_tf"
    TP=${n%"$NL"}  # (a record made before format 2 ends in a newline)
    return 0
  done
  return 1
}
# into DIR: enter DIR (relative to the target; "" is the target itself)
# without following any link: after "cd -P" the working folder must be the
# recorded real path. From then on the folder is pinned, whatever is renamed.
into() {
  if [ -z "$1" ]; then cd -P "$TP" 2>/dev/null && [ "$PWD" = "$TP" ]
  else cd -P "$TP/$1" 2>/dev/null && [ "$PWD" = "$TP/$1" ]; fi
}
# Where a run stages files: on the target's filesystem (so mv is an atomic
# rename) but never inside the target: fleet's state folder when it is on
# that filesystem, else beside the target. Prepare decides and records it.
stagedir() {
  if [ -z "${_gpre+x}" ]; then
    for _gf in "$S/backups/$1/gpre" "$S/backups/.inc-$1/gpre"; do
      [ -f "$_gf" ] || continue
      readname "$_gf"
      _gpre=${n%"$NL"}
      break
    done
  fi
  [ -n "${_gpre+x}" ] || return 1
  G="$_gpre$1"
}
# place_staging: decide where this run stages (in $_gpre); 1 when the target's
# filesystem has no place outside the target (the target is a mount point).
place_staging() {
  nearest "$T"
  [ -d "$S" ] || mkdir -p "$S" || return 1
  parent "$_p"
  _up=$_pa
  # one stat for all three: the nearest folder of the target, the state
  # folder, and the target's parent when the target exists
  _d=$(fdevs "$_p" "$S" "$_up")$NL
  _d1=${_d%%"$NL"*}
  _d=${_d#*"$NL"}
  _d2=${_d%%"$NL"*}
  _d3=${_d#*"$NL"}
  _d3=${_d3%"$NL"}
  [ -n "$_d1" ] || return 1
  if [ "$_d1" = "$_d2" ]; then _gpre="$S/stage-"
  elif [ "$_p" = "$T" ] && [ "$_d1" != "$_d3" ]; then return 1
  else parent "$T"; _gpre="${_pa%/}/.fleet-stage-$NAME-"; fi
}
# parent PATH: its parent folder in $_pa (PATH is absolute; no process).
parent() {
  _pa=$1
  while :; do case $_pa in */) [ "$_pa" = / ] && break; _pa=${_pa%/} ;; *) break ;; esac; done
  _pa=${_pa%/*}
  [ -n "$_pa" ] || _pa=/
}
# nearest PATH: PATH or its nearest existing ancestor folder, in $_p.
nearest() {
  _p=$1
  while [ ! -d "$_p" ]; do parent "$_p"; _p=$_pa; done
}
# rm_tdirs DIR: remove the folders of the target's own path that the run
# recorded (in DIR/tdir.K) as made by it, deepest first, if they are empty.
rm_tdirs() {
  _k=0
  while [ -f "$1/tdir.$_k" ]; do readname "$1/tdir.$_k"; rmdir "$n" 2>/dev/null; _k=$((_k + 1)); done
}
# runcheck TIMEOUT CODE: run a check's shell CODE in the current folder with
# no stdin, without a new command line (ps shows no check); its exit code in
# $_rc, 124 when it outlived TIMEOUT seconds (it is then stopped), and the last
# lines of its output on stderr when it failed (each marked "output: ", so that
# nothing else on stderr, e.g. an rc file's late noise, passes for it). No GNU timeout needed; the
# output goes to a file, so nothing the check leaves running in the
# background can hold the step's answer open.
runcheck() {
  _of="$B/check.out"
  if [ ! -d "$B" ]; then mkdir -p "$S" 2>/dev/null; _of="$S/.check-$$.out"; fi
  if [ -e "$_of.late" ] || [ -L "$_of.late" ]; then rm -f "$_of.late"; fi
  ( set +u; eval "$2" ) > "$_of" 2>&1 < /dev/null &
  _cp=$!
  ( trap 'kill "$_sl" 2>/dev/null; exit 0' TERM
    sleep "$1" & _sl=$!
    wait "$_sl" && { : > "$_of.late"; kill -TERM "$_cp" 2>/dev/null; } ) > /dev/null 2>&1 &
  _wd=$!
  wait "$_cp"
  _rc=$?
  kill -TERM "$_wd" 2>/dev/null
  wait "$_wd" 2>/dev/null
  [ -f "$_of.late" ] && _rc=124
  [ "$_rc" = 0 ] || { printf '\n'; tail -n 5 "$_of" | sed 's/^/output: /'; } >&2
  # A backup's check.out stays until the commit removes it with the lock (one
  # process fewer per check); a file outside a backup goes now.
  if [ "$_of" != "$B/check.out" ] || [ -f "$_of.late" ]; then rm -f "$_of" "$_of.late"; fi
}
# access_usec FILE...: the microseconds one `stat` process takes to reach FILE..., in
# $_us ("" when the host has no sub-millisecond clock): GNU or busybox `date
# +%N` where it works (no process spent on finding out), else usec_stat.
access_usec() {
  _t0=$(date +%s%N 2>/dev/null); stat "$@" >/dev/null 2>&1; _t1=$(date +%s%N 2>/dev/null)
  case "$_t0$_t1" in
    *[!0-9]*|'') _us=$(usec_stat "$@") ;;
    *) _us=$(( (_t1 - _t0) / 1000 )) ;;
  esac
}
# usec_stat FILE...: the microseconds one `stat` process takes over FILE..., for hosts
# whose `date` has no %N: timed by perl's Time::HiRes (every Mac has perl),
# else by busybox's adjtimex; prints nothing when the host has neither.
usec_stat() {
  if command -v perl >/dev/null 2>&1; then
    perl -MTime::HiRes=time -e 'open(my $o, ">&", \*STDOUT) or exit 1;
      open(STDOUT, ">", "/dev/null"); open(STDERR, ">", "/dev/null");
      my $t = time; system("stat", @ARGV); printf $o "%d\n", (time - $t) * 1e6' -- "$@"
  elif _a0=$(adjusec); then
    stat "$@" >/dev/null 2>&1
    _a1=$(adjusec) && printf '%s\n' "$((_a1 - _a0))"
  fi
}
# adjusec: the clock in microseconds from busybox's adjtimex (read only; its tv_usec
# holds ns when the kernel's status has STA_NANO, 8192).
adjusec() {
  adjtimex 2>/dev/null | awk '$1 == "time.tv_sec:" {s = $2} $1 == "time.tv_usec:" {u = $2}
    $1 == "status:" {st = $2}
    END {if (s == "" || u == "") exit 1; if (int(st / 8192) % 2) u = int(u / 1000)
      printf "%d%06d\n", s, u}'
}
# The awk that sums `ps -o rss= -o comm=` lines whose name holds $P, in KB
# (busybox's ps writes large values as 10m or 1.2g); "none" when ps listed nothing.
RSS_AWK='{r = $1; $1 = ""; sub(/^ /, ""); u = substr(r, length(r))
  if (u == "m") r *= 1024; else if (u == "g") r *= 1048576; else if (u == "t") r *= 1073741824
  if (index($0, ENVIRON["P"]) > 0) s += r}
  END {if (NR == 0) print "none"; else printf "%d\n", s}'
# find_drift BACKUP: call "drifted missing|changed NAME" for every file of the
# backup's release that is gone from the target, or changed, since it was
# deployed: one sha256 process for all the files, file by file only to name them.
find_drift() {
  _fb=$1
  set --
  _wants=
  for _e in "$_fb"/e/*/; do
    [ -f "$_e/new" ] || continue
    readname "$_e/name"
    read -r _want < "$_e/new"
    if [ -L "$T/$n" ] || [ ! -f "$T/$n" ]; then drifted missing "$n"
    else
      set -- "$@" "$T/$n"
      _wants="$_wants$_want$NL"
    fi
  done
  [ $# -gt 0 ] && [ "$(shas "$@")$NL" != "$_wants" ] || return 0
  for _p in "$@"; do
    _want=${_wants%%"$NL"*}
    _wants=${_wants#*"$NL"}
    [ "$(fsha "$_p")" = "$_want" ] || drifted changed "${_p#"$T/"}"
  done
}
# Recorded timestamps, UTC.
# NOW comes from the controller where it can (one process fewer).
now() { if [ -n "${NOW:-}" ]; then printf '%s\n' "$NOW"; else date -u +%Y-%m-%dT%H:%M:%SZ; fi; }
