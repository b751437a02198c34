"""Issue 9, the kill loop over ``connection: local`` (no Docker): rollouts of 126 files
in sub-folders and one large file, a failing check on some, killed at uniformly
random moments by SIGKILL or SIGTERM of the controller or by killing the host-side
step script (a local host's "connection cut"); after each, the invariant at once,
after the orphaned scripts end, and after ``fleet recover`` or ``fleet rollback``
(tests/killloop.py says what each check demands).

Environment: FLEET_KILL_SEED (default a fixed seed), FLEET_KILL_ITERS (default 20),
FLEET_KILL_ONLY ("7,12": just those iterations), FLEET_KILL_BIG_MB (default 24).
Watch it with ``python3 -m pytest tests/engine/test_killloop.py -s``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.killloop import LocalRig, from_env, kill_loop, make_payload, rerun_hint, summary

BIG_MB = int(os.environ.get("FLEET_KILL_BIG_MB", "24"))


def test_kill_loop_local_hosts_lose_nothing(tmp_path: Path) -> None:
    seed, iterations = from_env("FLEET_KILL_ITERS", 20)
    payload = make_payload(tmp_path / "payload", files=120, big_mb=BIG_MB, seed=seed)
    rig = LocalRig(payload, tmp_path / "rig")
    result = kill_loop(rig, seed, iterations, tmp_path / "runs")
    print(summary(result))
    if result.failed():
        pytest.fail(result.failure_message(
            rerun_hint(seed, result.outcomes, "tests/engine/test_killloop.py")), pytrace=False)
