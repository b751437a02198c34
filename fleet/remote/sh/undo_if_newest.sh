# undo_if_newest: the one-round-trip rollback. After the probe above, go on
# into the rollback body that follows only when this host's current release is
# $EXPECT (its newest, the one the controller means to undo) and nothing is
# unfinished here: no lock, no incomplete backup, no uncommitted one. Else
# stop: the probe's answer is the host's state, and the controller decides.
[ -n "${crun:-}" ] && [ "${crel:-}" = "$EXPECT" ] || exit 0
[ -d "$S/lock" ] && exit 0
for b in "$S"/backups/.inc-*/; do [ -d "$b" ] && exit 0; done
for b in "$S"/backups/*/; do
  if [ -d "$b" ] && [ ! -f "$b/committed" ]; then exit 0; fi
done
[ -d "$S/backups/$crun" ] || exit 0
UNDO=$crun
# the probe above just found no drift in this very backup's files: the
# rollback body need not read them all again
[ "${probed_drift:-}" = 0 ] && DRIFT_CHECKED=1
say "UNDOING $UNDO"
