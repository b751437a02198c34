# probe: read the deployment's state on the host; writes nothing.
if [ -f "$S/current" ]; then
  { read -r crel; read -r crun; read -r ctime; } < "$S/current"
  say "CURRENT $crel $crun $ctime"
fi
[ -d "$S/lock" ] && say "LOCK $(lockholder)"
for b in "$S"/backups/*/; do
  [ -d "$b" ] || continue
  r=$(basename "$b")
  rel=$(cat "$b/release" 2>/dev/null || echo -)
  prev=-
  [ -f "$b/prev" ] && { read -r prev < "$b/prev"; }
  c=0
  [ -f "$b/committed" ] && c=1
  say "BACKUP $r $rel $c $prev"
done
# Drift: files of the current release changed or removed since it was deployed.
# Names go to stderr (they may hold anything); stdout only counts.
if [ -n "${crun:-}" ] && [ -d "$S/backups/$crun/e" ]; then
  for e in "$S/backups/$crun"/e/*/; do
    [ -f "$e/new" ] || continue
    readname "$e/name"
    read -r want < "$e/new"
    if [ -L "$T/$n" ] || [ ! -f "$T/$n" ]; then
      say "DRIFT missing"; printf 'missing: %s\n' "$n" >&2
    elif [ "$(fsha "$T/$n")" != "$want" ]; then
      say "DRIFT changed"; printf 'changed: %s\n' "$n" >&2
    fi
  done
fi
for g in "$S"/stage-*; do
  [ -d "$g" ] && say "STAGING ${g##*/stage-}"
done
for g in "$(dirname "$T")/.fleet-stage-$NAME-"*; do
  [ -d "$g" ] && say "STAGING ${g##*/.fleet-stage-"$NAME"-}"
done
i=0
while [ "$i" -lt "$N" ]; do
  getf "$i"
  if [ -L "$T/$f" ]; then say "FILE $i link"
  elif [ -f "$T/$f" ]; then say "FILE $i $(fsha "$T/$f") $(fmode "$T/$f")"
  elif [ -e "$T/$f" ]; then say "FILE $i other"
  else say "FILE $i absent"; fi
  i=$((i + 1))
done
say PROBED
