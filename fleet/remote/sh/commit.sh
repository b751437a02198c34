# commit: record the release as current, mark the backup committed, prune old
# backups, release the lock.
have_lock || { say "ERR lost-lock $(lockholder)"; exit 1; }
[ -d "$B" ] || { say "ERR no-backup"; exit 1; }
printf '%s\n%s\n%s\n' "$RELEASE" "$RUN" "$(now)" > "$S/current.tmp" \
  && mv -f "$S/current.tmp" "$S/current" || { say "ERR state-dir"; exit 1; }
: > "$B/committed"
set -- "$S"/backups/*/
total=0
for b in "$@"; do [ -f "$b/committed" ] && total=$((total + 1)); done
drop=$((total - KEEP))
for b in "$@"; do
  [ "$drop" -gt 0 ] || break
  [ -f "$b/committed" ] || continue
  [ "${b%/}" = "$B" ] && continue
  rm -rf "$b"
  drop=$((drop - 1))
done
# the staging folder (when activate ran in this script), the checks' output, the
# lock last
rm -rf ${G:+"$G"} "$B/check.out" "$S/lock"
say COMMITTED
