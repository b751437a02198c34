#!/usr/bin/env bash
# Idempotent set-up of a fresh machine for working on fleet:
#   1. apt packages the test fleet needs (docker-compose, debootstrap,
#      openssh-client), installed only if missing; apt-get update only if
#      apt does not know them yet;
#   2. fleet itself, editable, with the test extras;
#   3. the SSH test fleet (scripts/test-fleet.sh up).
# Needs root (or sudo) for apt and, if no engine runs, for dockerd.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."   # repo root, from any cwd

log() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null; then sudo "$@"
    else log "error: need root for: $*"; exit 1
    fi
}

# package -> a command it provides (installed = command present)
declare -A PROVIDES=([docker-compose]=docker-compose [debootstrap]=debootstrap [openssh-client]=ssh)
if ! command -v dockerd >/dev/null && ! docker info >/dev/null 2>&1; then
    PROVIDES[docker.io]=dockerd
fi

missing=()
for pkg in "${!PROVIDES[@]}"; do
    command -v "${PROVIDES[$pkg]}" >/dev/null || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    need_update=0
    for pkg in "${missing[@]}"; do
        apt-cache show "$pkg" >/dev/null 2>&1 || need_update=1
    done
    if [ "$need_update" -eq 1 ]; then as_root apt-get update; fi
    log "apt-get install ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
    log "apt packages present"
fi

log "pip install -e '.[test]'"
python3 -m pip install -e '.[test]'

scripts/test-fleet.sh up
