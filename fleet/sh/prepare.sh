# prepare = preflight + backup. Unchanged hosts answer in this one round trip.
if [ -f "$S/current" ]; then
  { read -r crel; read -r crun; read -r ctime; } < "$S/current"
  if [ "$crel" = "$RELEASE" ] && release_in "$T" names; then say "UNCHANGED $crun"; exit 0; fi
fi
[ -d "$S/backups" ] || mkdir -p "$S/backups" 2>/dev/null || { say "ERR state-dir"; exit 1; }
if ! mkdir "$S/lock" 2>/dev/null; then say "LOCKED $(lockholder)"; exit 1; fi
printf '%s\n' "$RUN" > "$S/lock/run"
B="$S/backups/$RUN"
abort() { rm -rf "$B" "$S/lock"; say "ERR $*"; exit 1; }
say "STEP preflight"
[ -L "$T" ] && abort target-link
[ -e "$T" ] && [ ! -d "$T" ] && abort target-not-dir
_p=$T
while [ ! -d "$_p" ]; do _p=$(dirname "$_p"); done
[ -w "$_p" ] || abort target-perm
# free space where the files go and where the backup goes: one df for both
# (a long device name may wrap a line; then ask for each alone)
free=$(df -Pk "$_p" "$S" 2>/dev/null)
set -f
# shellcheck disable=SC2086  # split into words on purpose, no globbing
set -- $free
set +f
if [ $# -eq 19 ] && [ "$6" = Mounted ]; then a1=${11}; a2=${17}; else
  a1=$(df -Pk "$_p" | awk 'NR==2 {print $4}')
  a2=$(df -Pk "$S" | awk 'NR==2 {print $4}'); fi
for avail in "$a1" "$a2"; do
  [ "${avail:-0}" -ge "$NEED_KB" ] 2>/dev/null || abort space "${avail:-0}" "$NEED_KB"
done
# The backup folder and one entry folder per release file: one mkdir.
set -- "$B" "$B/e"
i=0
while [ "$i" -lt "$N" ]; do set -- "$@" "$B/e/$i"; i=$((i + 1)); done
mkdir -- "$@" || abort state-dir
printf '%s\n' "$RELEASE" > "$B/release" || abort state-dir
if [ -f "$S/current" ]; then cp "$S/current" "$B/prev" || abort state-dir; fi
# Record what does not exist yet, so rollback removes exactly what we make.
k=0
_p=$T
while [ ! -e "$_p" ]; do printf '%s/' "$_p" > "$B/tdir.$k"; k=$((k + 1)); _p=$(dirname "$_p"); done
j=0
while [ "$j" -lt "$ND" ]; do
  eval "d=\$D_$j"
  if [ -L "$T/$d" ]; then abort dir-link "$j"
  elif [ ! -e "$T/$d" ]; then printf '%s/' "$d" > "$B/d.$(printf '%06d' "$j")"
  elif [ ! -d "$T/$d" ]; then abort dir-not-dir "$j"; fi
  j=$((j + 1))
done
say "STEP backup"
set --
existing=
i=0
while [ "$i" -lt "$N" ]; do
  getf "$i"
  e="$B/e/$i"
  printf '%s/' "$f" > "$e/name"
  printf '%s\n' "$h" > "$e/new"
  if [ -L "$T/$f" ]; then abort file-link "$i"
  elif [ -e "$T/$f" ]; then
    [ -f "$T/$f" ] || abort not-a-file "$i"
    [ -r "$T/$f" ] || abort file-perm "$i"
    cp -p "$T/$f" "$e/old" 2>/dev/null || abort backup "$i"
    set -- "$@" "$T/$f"
    existing="$existing $i"
  else
    say "FILE $i create"
  fi
  i=$((i + 1))
done
if [ -n "$existing" ]; then
  # Verify every copy against its original: one sha256 process for both sides.
  perms=$(modes "$@")
  k=$#
  for i in $existing; do set -- "$@" "$B/e/$i/old"; done
  copies=$(shas "$@")$NL
  originals=
  while [ "$k" -gt 0 ]; do
    originals="$originals${copies%%"$NL"*}$NL"
    copies=${copies#*"$NL"}
    k=$((k - 1))
  done
  originals=${originals%"$NL"}
  copies=${copies%"$NL"}
  if [ "$originals" != "$copies" ]; then
    for i in $existing; do  # tell which one (or find the names that broke the lines)
      getf "$i"
      [ "$(fsha "$T/$f")" = "$(fsha "$B/e/$i/old")" ] || abort backup-verify "$i"
    done
  fi
  for i in $existing; do
    sum=${copies%%"$NL"*}
    copies=${copies#*"$NL"}
    perm=${perms%%"$NL"*}
    perms=${perms#*"$NL"}
    [ -n "$sum" ] && [ -n "$perm" ] || abort backup-verify "$i"
    printf '%s %s\n' "$perm" "$sum" > "$B/e/$i/meta" || abort backup "$i"
    getf "$i"
    if [ "$sum" = "$h" ]; then say "FILE $i same"; else say "FILE $i replace"; fi
  done
fi
[ -d "$T" ] || mkdir -p "$T" 2>/dev/null || abort target-mkdir
(cd -P "$T" && pwd -P) > "$B/tphys" 2>/dev/null || abort target-mkdir
# Where this run stages, decided once here for stage and activate (a path
# with a newline is left for them to find again).
if stagedir "$RUN"; then
  case $_gpre in *"$NL"*) ;; *) printf '%s\n' "$_gpre" > "$B/gpre" ;; esac
fi
say READY
