#!/usr/bin/env bash
# The main job on a fresh machine: set up, bring up the 6-host SSH test fleet,
# and roll the example playbook out to it (canary, then batches of two).
# Extra arguments go to `fleet rollout` (e.g. --check, --canary-only, --json).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
exec python3 -m fleet rollout playbooks/agents-framework.yml -i inventory/testfleet.yml "$@"
