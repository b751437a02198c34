# probe: read the deployment's state on the host; writes nothing.
if [ -f "$S/current" ]; then
  { read -r crel; read -r crun; read -r ctime; } < "$S/current"
  say "CURRENT $crel $crun $ctime"
fi
if [ -d "$S/lock" ]; then
  say "LOCK $(lockholder)"
  # whether the holder is live is the controller's call: the lease, the
  # controller that holds it, and whether its step is still running here
  firstline "$S/lock/lease"
  say "LEASE ${_fl:--}"
  firstline "$S/lock/owner"
  [ -n "$_fl" ] && say "OWNER $_fl"
fi
for b in "$S"/backups/*/; do
  [ -d "$b" ] || continue
  r=${b%/}
  r=${r##*/}
  firstline "$b/release"
  rel=${_fl:--}
  prev=-
  [ -f "$b/prev" ] && { read -r prev < "$b/prev"; }
  c=0
  [ -f "$b/committed" ] && c=1
  say "BACKUP $r $rel $c $prev"
done
# Backups never completed (their run died while making them).
for b in "$S"/backups/.inc-*/; do
  [ -d "$b" ] || continue
  r=${b%/}
  say "INCOMPLETE ${r##*/.inc-}"
done
# Drift: files of the current release changed or removed since it was deployed.
# Names go to stderr (they may hold anything); stdout only counts. One sha256
# process for all files; file by file only when that finds a difference.
# probed_drift: how many files of run $crun drifted, once counted.
drifted() { say "DRIFT $1"; printf '\n%s: %s\n' "$1" "$2" >&2; probed_drift=$((probed_drift + 1)); }
if [ -n "${crun:-}" ] && [ -d "$S/backups/$crun/e" ]; then
  probed_drift=0
  find_drift "$S/backups/$crun"
fi
# Staging left behind: only where a run of this deployment recorded it would
# stage (a folder of that name made by anyone else is not ours to report).
for g in "$S"/stage-*; do
  [ -d "$g" ] && say "STAGING ${g##*/stage-}"
done
for b in "$S"/backups/*/ "$S"/backups/.inc-*/; do
  [ -f "$b/gpre" ] || continue
  r=${b%/}
  r=${r##*/}
  r=${r#.inc-}
  unset _gpre
  stagedir "$r" || continue
  case $G in "$S/stage-"*) continue ;; esac
  [ -d "$G" ] && [ ! -L "$G" ] && say "STAGING $r"
done
# Each release file's state; sha256 and mode of the present ones from one
# process each (a name with a newline is read on its own).
set --
present=
i=0
while [ "$i" -lt "$N" ]; do
  getf "$i"
  if [ -L "$T/$f" ]; then say "FILE $i link"
  elif [ -f "$T/$f" ]; then
    case $f in
      *"$NL"*) say "FILE $i $(fsha "$T/$f") $(fmode "$T/$f")" ;;
      *) set -- "$@" "$T/$f"; present="$present $i" ;;
    esac
  elif [ -e "$T/$f" ]; then say "FILE $i other"
  else say "FILE $i absent"; fi
  i=$((i + 1))
done
if [ $# -gt 0 ]; then
  sums_modes "$@"
  for i in $present; do
    if [ "$aligned" = 1 ]; then
      say "FILE $i ${sums%%"$NL"*} ${perms%%"$NL"*}"
      sums=${sums#*"$NL"}
      perms=${perms#*"$NL"}
    else  # a file could not be read: one by one, so no answer lands on another file
      getf "$i"
      say "FILE $i $(fsha "$T/$f") $(fmode "$T/$f")"
    fi
  done
fi
say PROBED
