# activate + validate: move staged files into the target by atomic rename in
# the playbook's order, then check every file's sha256 and mode and run the
# playbook's checks. Check output goes to stderr; stdout says CHECK lines.
have_lock || { say "ERR lost-lock $(lockholder)"; exit 1; }
note_pid
stagedir "$RUN" || { say "ERR stage-dir"; exit 1; }
say "STEP activate"
enter_target "$S/backups/$RUN/tphys" || { say "ERR target-moved"; exit 1; }
j=0
while [ "$j" -lt "$ND" ]; do
  eval "d=\$D_$j"
  mkdir -p "$T/$d" 2>/dev/null || { say "ERR mkdir $j"; exit 1; }
  j=$((j + 1))
done
i=0
while [ "$i" -lt "$N" ]; do
  getf "$i"
  mv -f "$G/$i" "$T/$f" 2>/dev/null || { say "ERR activate $i"; exit 1; }
  i=$((i + 1))
done
rmdir "$G" 2>/dev/null
say "STEP validate"
if ! release_in "$T" names; then  # name the files that differ
  i=0
  while [ "$i" -lt "$N" ]; do
    getf "$i"
    if [ -L "$T/$f" ] || [ ! -f "$T/$f" ] || [ "$(fsha "$T/$f")" != "$h" ] \
        || [ "$(fmode "$T/$f")" != "$m" ]; then say "CHECK sha FAIL $i"; fi
    i=$((i + 1))
  done
fi
run_snippets
say VALIDATED
