#!/usr/bin/env bash
# The whole test suite on a fresh machine: set-up (apt, pip, SSH test fleet),
# lint and types, then every test — unit, engine and integration against the
# containerized SSH fleet.  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/setup.sh
echo "== ruff"; ruff check fleet tests bench
echo "== mypy"; mypy
echo "== pytest"
set +e
python3 -m pytest -p no:cacheprovider "$@"
rc=$?
set -e
# pytest's 5 ("no tests collected") must not pass for green.
[ "$rc" -eq 5 ] && { echo "pytest collected no tests" >&2; exit 1; }
exit "$rc"
