"""Issue 9, the kill loop over SSH on three hosts of the container fleet (dev-01 the
canary, then dev-02 and dev-03): rollouts of 126 files in sub-folders and one large
file, a failing check on some, killed at uniformly random moments by SIGKILL or
SIGTERM of the controller or by cutting one host off the network (until the
controller has ended); after each, the invariant at once, after the orphaned host
scripts end, and after ``fleet recover`` or ``fleet rollback`` (tests/killloop.py).

Environment: FLEET_KILL_SEED, FLEET_KILL_SSH_ITERS (default 4), FLEET_KILL_ONLY,
FLEET_KILL_SSH_BIG_MB (default 8).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.killloop import SshRig, from_env, kill_loop, make_payload, rerun_hint, summary

BIG_MB = int(os.environ.get("FLEET_KILL_SSH_BIG_MB", "8"))
HOSTS = ("dev-01", "dev-02", "dev-03")


def test_kill_loop_over_ssh_loses_nothing(tmp_path: Path) -> None:
    seed, iterations = from_env("FLEET_KILL_SSH_ITERS", 4)
    payload = make_payload(tmp_path / "payload", files=120, big_mb=BIG_MB, seed=seed)
    rig = SshRig(payload, tmp_path / "rig", HOSTS)
    try:
        result = kill_loop(rig, seed, iterations, tmp_path / "runs")
    finally:
        rig.heal()
    print(summary(result))
    if result.failed():
        pytest.fail(result.failure_message(
            rerun_hint(seed, result.outcomes, "tests/integration/test_killloop.py")),
            pytrace=False)
