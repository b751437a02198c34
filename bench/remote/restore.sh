# Put back what backup.sh saved, remove what the release added, verify the
# restored files against the backup's sha256 record, drop the backup.
# Env: T target folder, B backup folder.
set -eu
cd "$B"
find . -type f ! -name .absent ! -name .sums ! -name .done -exec cp -p -- {} "$T/" \;
while IFS= read -r f; do rm -f -- "$T/$f"; done < .absent
cd "$T" && sha256sum --quiet -c "$B/.sums"
rm -rf "$B"
