# stage: unpack the release (a tar of members i/BASENAME on stdin) next to
# the target and verify every file by sha256. The target is not touched.
have_lock || { cat >/dev/null; say "ERR lost-lock $(lockholder)"; exit 1; }
[ -d "$B" ] || { cat >/dev/null; say "ERR no-backup"; exit 1; }
beat
stagedir "$RUN" || { cat >/dev/null; say "ERR stage-dir"; exit 1; }
# prepare made it when the release came with it (STAGE_IN=1)
if [ "${STAGE_IN:-0}" != 1 ] || [ ! -d "$G" ] || [ -L "$G" ]; then
  if [ -e "$G" ] || [ -L "$G" ]; then rm -rf "$G"; fi
  mkdir "$G" || { cat >/dev/null; say "ERR stage-dir"; exit 1; }
fi
if ! _terr=$(tar -xpf - -C "$G" 2>&1); then
  cat >/dev/null
  printf '\nuntar: %.300s\n' "$_terr" >&2
  rm -rf "$G"
  say "ERR untar"
  exit 1
fi
if ! release_in "$G" index; then
  # Set each mode (tar may not have, e.g. set-id bits) and find the bad file, if any.
  i=0
  while [ "$i" -lt "$N" ]; do
    getf "$i"
    chmod "$m" "$G/$i/${f##*/}" 2>/dev/null && [ "$(fsha "$G/$i/${f##*/}")" = "$h" ] \
      || { rm -rf "$G"; say "ERR stage-verify $i"; exit 1; }
    i=$((i + 1))
  done
fi
say STAGED
