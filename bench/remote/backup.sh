# Back up the files a release replaces, once per release: the same remote work
# for the Ansible playbook (shell: lookup of this file) and bench/floor.py.
# Env: T target folder, B backup folder, FILES the release's names, one per line.
set -eu
[ -e "$B/.done" ] && exit 0
mkdir -p "$B" "$T"
cd "$T"
: > "$B/.absent"
printf '%s\n' "$FILES" | while IFS= read -r f; do
    if [ -e "$f" ]; then cp -p -- "$f" "$B/$f"; else printf '%s\n' "$f" >> "$B/.absent"; fi
done
cd "$B" && find . -type f ! -name .absent ! -name .sums -exec sha256sum -- {} + > .sums
touch .done
