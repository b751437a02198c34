# Read back what is deployed: "size N NAME" and "SHA256  NAME" per file, then
# "marker COUNT" (lines of MF matching the ERE M). The caller compares.
# Env: T target folder, FILES names one per line, M pattern, MF file.
set -euf
cd "$T"
IFS='
'
# shellcheck disable=SC2086  # split on newlines only, no globbing (set -f)
stat -c 'size %s %n' -- $FILES
# shellcheck disable=SC2086
sha256sum -- $FILES
printf 'marker %s\n' "$(grep -c -E -- "$M" "$MF" || true)"
