# texts: after the probe, for `fleet rollout --check --diff`: the host's bytes
# of each release file whose text is wanted (D_i=1) and whose content differs
# from the release's (sha256 H_i), when it is a regular file of at most $MAXB
# bytes. The bytes travel as `od` hex (POSIX: GNU, busybox and BSD alike), so
# stdout stays lines of hex digits whatever the file holds; files are named by
# index only. Writes nothing.
#   TEXT i SIZE, hex lines, TEXTEND i   the file's bytes
#   TEXT i large SIZE                   bigger than $MAXB: not sent
#   TEXT i unread                       could not be read
set --
_want=
i=0
while [ "$i" -lt "$N" ]; do
  eval "_d=\$D_$i"
  if [ "$_d" = 1 ]; then
    getf "$i"
    if [ ! -L "$T/$f" ] && [ -f "$T/$f" ]; then
      set -- "$@" "$T/$f"
      _want="$_want $i"
    fi
  fi
  i=$((i + 1))
done
if [ $# -gt 0 ]; then
  # one sha256 process for all; file by file when a name broke the lines
  _sums=$(shas "$@")$NL
  nlines "$_sums"
  [ "$_c" -eq $# ] || _sums=
  for i in $_want; do
    getf "$i"
    if [ -n "$_sums" ]; then
      _s=${_sums%%"$NL"*}
      _sums=${_sums#*"$NL"}
    else
      _s=$(fsha "$T/$f")
    fi
    [ "$_s" = "$h" ] && continue
    _z=$(wc -c 2>/dev/null < "$T/$f") || _z=
    case $_z in *[0-9]*) _z=$((_z)) ;; *) say "TEXT $i unread"; continue ;; esac
    if [ "$_z" -gt "$MAXB" ]; then say "TEXT $i large $_z"; continue; fi
    say "TEXT $i $_z"
    # at most MAXB bytes even if the file grew since wc read its size
    od -An -v -tx1 -N "$MAXB" < "$T/$f" 2>/dev/null || say "TEXT $i unread"
    say "TEXTEND $i"
  done
fi
say TEXTS
