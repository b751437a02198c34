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
