#!/usr/bin/env bash
# Idempotent set-up of a fresh machine for working on fleet:
#   1. fleet itself, editable, with the test extras (pip);
#   2. the SSH test fleet (scripts/test-fleet.sh up), which installs what it
#      needs from apt only when missing (docker.io, docker-compose,
#      debootstrap, openssh-client) and builds its images locally.
# Needs root (or sudo) for apt and, if no engine runs, for dockerd.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."   # repo root, from any cwd

printf 'setup: %s\n' "pip install -e '.[test]'" >&2
python3 -m pip install -q -e '.[test]'

scripts/test-fleet.sh up
