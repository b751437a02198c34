#!/usr/bin/env bash
# Idempotent set-up of a fresh machine for working on fleet:
#   1. fleet itself, editable, with the test extras (pip);
#   2. headless Chromium from Debian's packages, for the tests that load the
#      HTML reports in a browser (tests/browser), only when missing;
#   3. the SSH test fleet (scripts/test-fleet.sh up), which installs what it
#      needs from apt only when missing (docker.io, docker-compose,
#      debootstrap, openssh-client) and builds its images locally.
# Needs root (or sudo) for apt and, if no engine runs, for dockerd.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."   # repo root, from any cwd

log() { printf 'setup: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
. scripts/apt.sh   # as_root, apt_install

log "pip install -e '.[test]'"
python3 -m pip install -q -e '.[test]'

command -v chromium >/dev/null || apt_install chromium

scripts/test-fleet.sh up
