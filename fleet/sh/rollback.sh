# rollback: put back exactly what the backup of run $UNDO recorded. Replaced
# files come back byte for byte with their mode, created files and folders
# are removed, nothing else is touched. Idempotent: a retry finishes the job.
B="$S/backups/$UNDO"
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
    stagedir "$r" || continue
    if [ -e "$G" ] || [ -e "$G.err" ]; then rm -rf "$G" "$G.err"; fi
  done
}
if [ ! -d "$B" ]; then
  [ "$MISSING_OK" = 1 ] || { say "ERR no-backup"; exit 1; }
  # The run failed before it made a backup: clear its staging and release its
  # lock, if it took one.
  if [ -d "$S/lock" ]; then
    case $(lockholder) in "$RUN"|"$UNDO") ;; *) say "LOCKED $(lockholder)"; exit 1 ;; esac
  fi
  clear_staging
  rm -rf "$S/lock"
  current_line
  exit 0
fi
if mkdir "$S/lock" 2>/dev/null; then printf '%s\n' "$RUN" > "$S/lock/run"
else
  holder=$(lockholder)
  case $holder in "$RUN"|"$UNDO") ;; *) say "LOCKED $holder"; exit 1 ;; esac
fi
unlock() { rm -rf "$S/lock"; }
# A failure from here on leaves the host unfinished: the lock is handed to the
# run being undone, so status shows it and a later rollback or recover resumes.
give_up() { printf '%s\n' "$UNDO" > "$S/lock/run"; say "ERR $*"; exit 1; }
stop_step_of "$UNDO"
if [ "$FORCE" != 1 ]; then
  # Drift: one sha256 process for all the files; file by file only to name them.
  drift=0
  set --
  wants=
  for e in "$B"/e/*/; do
    [ -f "$e/new" ] || continue
    readname "$e/name"
    read -r want < "$e/new"
    if [ -L "$T/$n" ] || [ ! -f "$T/$n" ]; then
      printf 'changed since deployed: %s\n' "$n" >&2
      drift=$((drift + 1))
    else
      set -- "$@" "$T/$n"
      wants="$wants$want$NL"
    fi
  done
  if [ $# -gt 0 ] && [ "$(shas "$@")$NL" != "$wants" ]; then
    for p in "$@"; do
      want=${wants%%"$NL"*}
      wants=${wants#*"$NL"}
      if [ "$(fsha "$p")" != "$want" ]; then
        printf 'changed since deployed: %s\n' "${p#"$T/"}" >&2
        drift=$((drift + 1))
      fi
    done
  fi
  if [ "$drift" -gt 0 ]; then unlock; say "ERR drift $drift"; exit 1; fi
fi
clear_staging
stagedir "$RUN" || give_up stage-dir
enter_target "$B/tphys" || give_up target-moved
fails=0
# restore I: put back entry I's old file (name in $n, recorded "$mode $sha").
restore() {
  [ -d "$G" ] || mkdir -p "$G" || give_up stage-dir
  if cp -p "$B/e/$1/old" "$G/r" && chmod "$mode" "$G/r" && mv -f "$G/r" "$T/$n" \
      && [ "$(fsha "$T/$n")" = "$sha" ]; then :; else
    printf 'could not restore: %s\n' "$n" >&2; fails=$((fails + 1)); fi
}
# Files the run created go: one rm for all (file by file if that fails).
set --
for e in "$B"/e/*/; do
  [ -f "$e/name" ] && [ ! -f "$e/meta" ] || continue
  readname "$e/name"
  if [ -e "$T/$n" ] || [ -L "$T/$n" ]; then set -- "$@" "$T/$n"; fi
done
if [ $# -gt 0 ] && ! rm -f -- "$@" 2>/dev/null; then
  for p in "$@"; do
    if [ -e "$p" ] || [ -L "$p" ]; then
      printf 'could not remove: %s\n' "${p#"$T/"}" >&2; fails=$((fails + 1))
    fi
  done
fi
# Files it replaced come back, except those already as recorded (nothing to
# write, no space needed): one sha256 and one stat process find those.
set --
check=
for e in "$B"/e/*/; do
  [ -f "$e/name" ] && [ -f "$e/meta" ] || continue
  i=${e%/}
  i=${i##*/}
  readname "$e/name"
  read -r mode sha < "$e/meta"
  if [ ! -L "$T/$n" ] && [ -f "$T/$n" ]; then
    set -- "$@" "$T/$n"
    check="$check $i"
  else
    restore "$i"
  fi
done
if [ $# -gt 0 ]; then
  sums_modes "$@"
  for i in $check; do
    readname "$B/e/$i/name"
    read -r mode sha < "$B/e/$i/meta"
    if [ "$aligned" = 1 ]; then
      have=${sums%%"$NL"*}
      perm=${perms%%"$NL"*}
      sums=${sums#*"$NL"}
      perms=${perms#*"$NL"}
    else  # a name broke the lines or a file could not be read: one by one
      have=$(fsha "$T/$n")
      perm=$(fmode "$T/$n")
    fi
    [ "$have" = "$sha" ] && [ "$perm" = "$mode" ] || restore "$i"
  done
fi
if [ -e "$G" ]; then rm -rf "$G"; fi
[ "$fails" -eq 0 ] || give_up restore "$fails"
# Folders this run created: deepest first; a folder someone else filled stays.
set --
for dfile in "$B"/d.*; do [ -f "$dfile" ] && set -- "$dfile" "$@"; done
for dfile in "$@"; do readname "$dfile"; rmdir "$T/$n" 2>/dev/null; done
cd / || exit 1
k=0
while [ -f "$B/tdir.$k" ]; do readname "$B/tdir.$k"; rmdir "$n" 2>/dev/null; k=$((k + 1)); done
if [ -f "$B/prev" ]; then
  cp "$B/prev" "$S/current.tmp" && mv -f "$S/current.tmp" "$S/current"
elif [ -f "$S/current" ]; then
  { read -r crel; read -r crun; read -r ctime; } < "$S/current"
  [ "$crun" = "$UNDO" ] && rm -f "$S/current"
fi
rm -rf "$B"
unlock
current_line
