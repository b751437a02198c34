# prepare = preflight + backup. Unchanged hosts answer in this one round trip.
# With STAGE_IN=1 the release (stage's tar) follows this script on stdin and
# stage runs right after in the same script: every way out before it reads
# that input first (drain), so the controller's upload always completes.
drain() { if [ "${STAGE_IN:-0}" = 1 ]; then cat >/dev/null; fi; }
if [ -f "$S/current" ]; then
  { read -r crel; read -r crun; read -r ctime; } < "$S/current"
  if [ "$crel" = "$RELEASE" ] && release_in "$T" names; then
    drain
    say "UNCHANGED $crun"
    exit 0
  fi
fi
[ -d "$S/backups" ] || mkdir -p "$S/backups" 2>/dev/null || { drain; say "ERR state-dir"; exit 1; }
if ! mkdir "$S/lock" 2>/dev/null; then drain; say "LOCKED $(lockholder)"; exit 1; fi
take_lock
# Until the backup is renamed into place nothing in the target has changed;
# only the target's own folders may have been made, and $I records those.
abort() {
  [ -d "$I" ] && rm_tdirs "$I"
  rm -rf ${G:+"$G"} "$I" "$S/lock"
  drain
  say "ERR $*"
  exit 1
}
say "STEP preflight"
[ -L "$T" ] && abort target-link
[ -e "$T" ] && [ ! -d "$T" ] && abort target-not-dir
nearest "$T"
[ -w "$_p" ] || abort target-perm
place_staging || abort stage-place
# free space where the files go (staging is on that filesystem too) and where
# the backup goes: one df for both (a long device name may wrap a line; then
# ask for each alone)
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
# The backup folder and one entry folder per release file, and the staging
# folder when the release follows: one mkdir.
[ -e "$I" ] && rm -rf "$I"
[ -e "$B" ] && abort state-dir
_dir=$I/e
eval "set -- \"\$I\" \"\$I/e\" $ALL_SLOTS"
if [ "${STAGE_IN:-0}" = 1 ]; then
  G="$_gpre$RUN"
  if [ -e "$G" ] || [ -L "$G" ]; then rm -rf "$G"; fi
  set -- "$@" "$G"
fi
mkdir -- "$@" || abort state-dir
printf '2\n' > "$I/format" || abort state-dir
printf '%s\n' "$RELEASE" > "$I/release" || abort state-dir
printf '%s/' "$_gpre" > "$I/gpre" || abort state-dir
if [ -f "$S/current" ]; then
  printf '%s\n%s\n%s\n' "$crel" "$crun" "$ctime" > "$I/prev" || abort state-dir
fi
# Record what does not exist yet, so rollback removes exactly what we make.
k=0
_p=$T
while [ ! -e "$_p" ]; do
  printf '%s/' "$_p" > "$I/tdir.$k" || abort state-dir
  k=$((k + 1))
  parent "$_p"
  _p=$_pa
done
TP=
if [ -d "$T" ]; then
  cd -P "$T" 2>/dev/null || abort target-perm
  TP=$PWD
fi
j=0
while [ "$j" -lt "$ND" ]; do
  eval "d=\$D_$j"
  if [ -L "$T/$d" ]; then abort dir-link "$j"
  elif [ ! -e "$T/$d" ]; then printf '%s/' "$d" > "$I/d.$(printf '%06d' "$j")"
  elif [ ! -d "$T/$d" ]; then abort dir-not-dir "$j"; fi
  j=$((j + 1))
done
say "STEP backup"
set --
existing=
i=0
while [ "$i" -lt "$N" ]; do
  getf "$i"
  e="$I/e/$i"
  printf '%s/' "$f" > "$e/name"
  printf '%s\n' "$h" > "$e/new"
  splitname "$f"
  if [ -z "$TP" ] || ! into "$_dir"; then
    # the folder does not exist (it was checked above): the file is created
    [ -z "$TP" ] || [ ! -e "$T/$_dir" ] || abort target-moved
    : > "$e/created"
    say "FILE $i create"
  elif [ -L "./$_base" ]; then abort file-link "$i"
  elif [ -e "./$_base" ]; then
    [ -f "./$_base" ] || abort not-a-file "$i"
    [ -r "./$_base" ] || abort file-perm "$i"
    cp -p "./$_base" "$e/old" 2>/dev/null || abort backup "$i"
    set -- "$@" "$TP/$f"
    existing="$existing $i"
  else
    : > "$e/created"
    say "FILE $i create"
  fi
  i=$((i + 1))
done
cd / || abort state-dir
if [ -n "$existing" ]; then
  # Verify every copy against its original: one sha256 process for both sides.
  perms=$(modes "$@")
  k=$#
  for i in $existing; do set -- "$@" "$I/e/$i/old"; done
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
      [ "$(fsha "$TP/$f")" = "$(fsha "$I/e/$i/old")" ] || abort backup-verify "$i"
    done
  fi
  for i in $existing; do
    sum=${copies%%"$NL"*}
    copies=${copies#*"$NL"}
    perm=${perms%%"$NL"*}
    perms=${perms#*"$NL"}
    [ -n "$sum" ] && [ -n "$perm" ] || abort backup-verify "$i"
    printf '%s %s\n' "$perm" "$sum" > "$I/e/$i/meta" || abort backup "$i"
    getf "$i"
    if [ "$sum" = "$h" ]; then say "FILE $i same"; else say "FILE $i replace"; fi
  done
fi
[ -d "$T" ] || mkdir -p "$T" 2>/dev/null || abort target-mkdir
if [ -z "$TP" ]; then
  cd -P "$T" 2>/dev/null || abort target-mkdir
  TP=$PWD
  cd / || abort state-dir
fi
printf '%s/' "$TP" > "$I/tphys" || abort state-dir
# Complete and verified: the backup exists from this rename on, never before.
mv "$I" "$B" || abort state-dir
say READY
