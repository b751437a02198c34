# stage: unpack the release (a tar of members 0..N-1 on stdin) next to the
# target and verify every file by sha256. The target is not touched.
have_lock || { cat >/dev/null; say "ERR lost-lock $(lockholder)"; exit 1; }
note_pid
stagedir "$RUN" || { cat >/dev/null; say "ERR stage-dir"; exit 1; }
rm -rf "$G"
mkdir "$G" || { cat >/dev/null; say "ERR stage-dir"; exit 1; }
if ! tar -xpf - -C "$G" 2>"$G.err"; then
  cat >/dev/null
  head -c 300 "$G.err" >&2
  rm -rf "$G" "$G.err"
  say "ERR untar"
  exit 1
fi
rm -f "$G.err"
if ! release_in "$G" index; then
  # Set each mode (tar may not have, e.g. set-id bits) and find the bad file, if any.
  i=0
  while [ "$i" -lt "$N" ]; do
    getf "$i"
    chmod "$m" "$G/$i" 2>/dev/null && [ "$(fsha "$G/$i")" = "$h" ] \
      || { rm -rf "$G"; say "ERR stage-verify $i"; exit 1; }
    i=$((i + 1))
  done
fi
say STAGED
