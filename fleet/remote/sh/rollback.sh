# rollback: put back exactly what the backup of run $UNDO recorded. Replaced
# files come back byte for byte with their mode, files the run positively
# recorded as created are removed, nothing else is touched, and nothing is
# written or removed through a link or in a folder that is not the one
# preflight saw. Idempotent: a retry finishes the job.
#
# The lock: free (taken), ours ($RUN), or held by $UNDO when the controller
# judged that run abandoned and the lease it saw ($ABANDONED) is unchanged;
# any other holder, or a lease renewed since, is refused (the run is live).
B="$S/backups/$UNDO"
I="$S/backups/.inc-$UNDO"
current_line() {
  if [ -f "$S/current" ]; then
    { read -r crel; read -r crun; read -r ctime; } < "$S/current"
    say "ROLLED_BACK $crel $crun"
  else
    say "ROLLED_BACK - -"
  fi
}
clear_staging() {
  for r in "$UNDO" "$RUN"; do
    unset _gpre
    if stagedir "$r" && { [ -e "$G" ] || [ -L "$G" ]; }; then rm -rf "$G"; fi
  done
  unset _gpre
}
[ -d "$S" ] || mkdir -p "$S" 2>/dev/null
if mkdir "$S/lock" 2>/dev/null; then
  take_lock
else
  holder=$(lockholder)
  if [ "$holder" = "$RUN" ]; then
    # this run's own step may still be running here (its answer timed out): stop it
    stop_step
    beat
  elif [ "$holder" = "$UNDO" ] && [ -n "$ABANDONED" ]; then
    firstline "$S/lock/lease"
    [ "${_fl:--}" = "$ABANDONED" ] || { say "LIVE $holder"; exit 1; }
    # the run's controller is gone: stop a step of it still running here
    stop_step
    take_lock
  else
    say "LOCKED $holder"; exit 1
  fi
fi
unlock() { rm -rf "$S/lock"; }
if [ ! -d "$B" ]; then
  if [ "$MISSING_OK" != 1 ]; then unlock; say "ERR no-backup"; exit 1; fi
  # The run never completed its backup: nothing in the target was changed
  # but the target's own folders it made (recorded in $I); those go if empty.
  [ -d "$I" ] && rm_tdirs "$I"
  clear_staging
  rm -rf "$I"
  unlock
  current_line
  exit 0
fi
# A failure from here on leaves the host unfinished: the lock is handed to the
# run being undone, so status shows it and a later rollback or recover resumes.
give_up() { printf '%s\n' "$UNDO" > "$S/lock/run"; say "ERR $*"; exit 1; }
# Backups made before format 2 record a created file as an entry without meta;
# such a backup is trusted only when its run committed (it was complete).
legacy=0
[ -f "$B/format" ] || { [ -f "$B/committed" ] && legacy=1; }
is_created() { [ -f "$1/created" ] || { [ "$legacy" = 1 ] && [ ! -f "$1/meta" ]; }; }
if [ "$FORCE" != 1 ] && [ "${DRIFT_CHECKED:-0}" != 1 ]; then
  drift=0
  drifted() { printf '\nchanged since deployed: %s\n' "$2" >&2; drift=$((drift + 1)); }
  find_drift "$B"
  if [ "$drift" -gt 0 ]; then unlock; say "ERR drift $drift"; exit 1; fi
fi
clear_staging
# Restore copies are made where the undone run staged (on the target's
# filesystem; a leftover is that run's staging, found and cleared as such).
if ! stagedir "$UNDO"; then place_staging || give_up stage-place; G="$_gpre$UNDO"; fi
load_tp || give_up target-moved
into "" || give_up target-moved
fails=0
refuse() { printf '\n%s\n' "$*" >&2; fails=$((fails + 1)); }
# Files the run created go, each removed inside its real folder (never
# through a link); one rm per run of files in the same folder.
flush_rm() {
  [ $# -gt 0 ] || return 0
  rm -f -- "$@" 2>/dev/null && return 0
  for _x in "$@"; do [ ! -e "$_x" ] || refuse "could not remove: ${_x#./}"; done
}
set --
cur=//
for e in "$B"/e/*/; do
  is_created "$e" || continue
  readname "$e/name"
  splitname "$n"
  if [ "$_dir" != "$cur" ]; then
    flush_rm "$@"
    set --
    cur=$_dir
    if ! into "$_dir"; then
      [ -e "$TP/$_dir" ] || [ -L "$TP/$_dir" ] || { cur=//gone; continue; }
      cur=//moved
    fi
  fi
  case $cur in
    //gone) continue ;;  # its folder is gone, and the file with it
    //moved) refuse "could not remove: $n (its folder was replaced since the rollout;" \
                    "fleet does not write through it)"; continue ;;
  esac
  # a link put in its place goes (rm removes the link itself, never its target);
  # a folder put there is someone's: it stays
  if [ -L "./$_base" ] || [ -f "./$_base" ]; then set -- "$@" "./$_base"
  elif [ -e "./$_base" ]; then refuse "could not remove: $n is no longer a regular file"
  fi
done
flush_rm "$@"
# restore I: put back entry I's old file (name in $n, parts in $_dir/$_base,
# recorded "$mode $sha") from inside its folder: the copy is made in staging
# under its final name, then renamed in (atomic; a link there is replaced,
# never followed).
restore() {
  if [ ! -L "./$_base" ] && [ -e "./$_base" ] && [ ! -f "./$_base" ]; then
    refuse "could not restore: $n is now a folder; fleet does not write into it"
    return 0
  fi
  [ -d "$G/$1" ] || mkdir -p "$G/$1" || give_up stage-dir
  if cp -p "$B/e/$1/old" "$G/$1/$_base" && chmod "$mode" "$G/$1/$_base" \
      && mv -f -- "$G/$1/$_base" ./ && [ "$(fsha "./$_base")" = "$sha" ]; then :; else
    refuse "could not restore: $n"; fi
}
# Files it replaced come back, except those already as recorded (nothing to
# write, no space needed): one sha256 and one stat process per folder find those.
# entry_of ENTRY: the backup entry's index in $i, its name in $n, split in $_dir/$_base.
entry_of() {
  i=${1%/}
  i=${i##*/}
  readname "$1/name"
  splitname "$n"
}
restore_group() {
  [ $# -gt 0 ] || return 0
  sums_modes "$@"
  for _ri in $check; do
    entry_of "$B/e/$_ri"
    read -r mode sha < "$B/e/$i/meta"
    if [ "$aligned" = 1 ]; then
      have=${sums%%"$NL"*}
      perm=${perms%%"$NL"*}
      sums=${sums#*"$NL"}
      perms=${perms#*"$NL"}
    else  # a name broke the lines or a file could not be read: one by one
      have=$(fsha "./$_base")
      perm=$(fmode "./$_base")
    fi
    [ "$have" = "$sha" ] && [ "$perm" = "$mode" ] || restore "$i"
  done
}
set --
check=
cur=//
for e in "$B"/e/*/; do
  [ -f "$e/name" ] && [ -f "$e/meta" ] || continue
  entry_of "$e"
  if [ "$_dir" != "$cur" ]; then
    restore_group "$@"  # (it sets i, n, _dir and _base for its own files)
    entry_of "$e"
    set --
    check=
    cur=$_dir
    if ! into "$_dir"; then
      if [ -e "$TP/$_dir" ] || [ -L "$TP/$_dir" ]; then cur=//moved; else cur=//gone; fi
    fi
  fi
  case $cur in
    //moved) refuse "could not restore: $n (its folder was replaced since the rollout;" \
                    "fleet does not write through it)"; continue ;;
    //gone) refuse "could not restore: $n (its folder is gone)"; continue ;;
  esac
  read -r mode sha < "$e/meta"
  if [ ! -L "./$_base" ] && [ -f "./$_base" ]; then
    set -- "$@" "./$_base"
    check="$check $i"
  else
    restore "$i"
  fi
done
restore_group "$@"
cd / || exit 1
if [ -e "$G" ]; then rm -rf "$G"; fi
[ "$fails" -eq 0 ] || give_up restore "$fails"
# Folders this run created: deepest first, each inside its real parent; a
# folder someone else filled stays.
set --
for dfile in "$B"/d.*; do [ -f "$dfile" ] && set -- "$dfile" "$@"; done
for dfile in "$@"; do
  readname "$dfile"
  splitname "$n"
  if into "$_dir" && [ ! -L "./$_base" ]; then rmdir "./$_base" 2>/dev/null; fi
done
cd / || exit 1
rm_tdirs "$B"
# The record of the release before, then the backup and the lock: one rm.
set --
if [ -f "$B/prev" ]; then
  { read -r prel; read -r prun; read -r ptime; } < "$B/prev"
  printf '%s\n%s\n%s\n' "$prel" "$prun" "$ptime" > "$S/current.tmp" \
    && mv -f "$S/current.tmp" "$S/current"
elif [ -f "$S/current" ]; then
  { read -r crel; read -r crun; read -r ctime; } < "$S/current"
  [ "$crun" = "$UNDO" ] && set -- "$S/current"
fi
rm -rf "$@" "$B" "$S/lock"
current_line
