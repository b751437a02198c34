"""``--notify`` on the container fleet (issue 15): real rollouts, rollbacks and a
monitor telling real HTTP receivers on 127.0.0.1 (apprise's ``json://``), one
of them hung and one refusing, with a host that fails. The run keeps its exit
code and its pace, and the token in the URLs shows nowhere: not on stderr, not
in ``--json``, not in the run log.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from faults import note_timing
from health_support import HEALTH, WARN_MB, memory_hog
from rollout_support import INV, statuses, write_playbook
from testfleet_helpers import HOSTS, REPO_ROOT, run_fleet_json

from tests.notify_support import TOKEN, Hung, Receiver, refused_url

FAILING = "dev-03"
FAIL_ON_DEV03 = {"type": "command", "run": f'test "$(uname -n)" != {FAILING}', "timeout": 10}
"""A check that fails on FAILING only (its hostname), leaving nothing behind."""



def assert_seconds(message: str, pattern: str, json_seconds: float) -> None:
    """The message says the same duration as ``--json``: to 2 places there, to 3
    in ``--json``, each rounded from the same seconds."""
    said = re.search(pattern, message)
    assert said is not None, message
    assert abs(float(said[1]) - json_seconds) <= 0.0051, (message, json_seconds)

def _timed(*args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], float]:
    started = time.monotonic()
    proc, data = run_fleet_json(*args)
    return proc, data, time.monotonic() - started


def _assert_no_token(proc: subprocess.CompletedProcess[str], run_id: str) -> None:
    assert TOKEN not in proc.stdout
    assert TOKEN not in proc.stderr
    log = REPO_ROOT / ".fleet" / "runs" / f"{run_id}.jsonl"
    assert log.is_file()
    assert TOKEN not in log.read_text(encoding="utf-8")


def test_a_failing_rollout_tells_each_moment_despite_a_hung_and_a_refusing_receiver(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Receiver() as receiver, Hung() as hung:
        playbook = write_playbook(tmp_path, extra_checks=[FAIL_ON_DEV03],
                                  notify=[receiver.url()])
        baseline, base_data, base_wall = _timed("rollout", str(playbook), *INV, "--no-notify")
        assert baseline.returncode == 1, baseline.stderr
        assert receiver.posts == []  # --no-notify: the playbook's receiver is not told

        monkeypatch.setenv("FLEET_NOTIFY", refused_url())
        proc, data, wall = _timed("rollout", str(playbook), *INV, "--notify", hung.url())

        posts = receiver.wait_for(5, timeout=2)
        assert hung.accepted >= 1
    assert proc.returncode == 1, proc.stderr
    assert data["outcome"] == "rolled_back"
    assert statuses(data)[FAILING] == "rolled_back"
    titles = [p["title"] for p in posts]
    assert titles == ["fleet rollout agents-framework: started",
                      "fleet rollout agents-framework: canary passed",
                      "fleet rollout agents-framework: HALTED",
                      "fleet rollout agents-framework: rollback finished",
                      "fleet rollout agents-framework: rolled_back (exit 1)"], titles
    start, canary, halt, rollback, done = (p["message"] for p in posts)
    assert f"run {data['run_id']}, release {data['release']}: 6 host(s)" in start
    assert "dev-01 deployed and validated" in canary
    assert f"Failing host(s): {FAILING}." in halt
    assert data["halt_reason"] in halt
    assert_seconds(rollback, r"rolled back in (\d+\.\d\d) s\.", data["rollback_duration_s"])
    assert_seconds(done, r"finished in (\d+\.\d\d) s", data["duration_s"])
    assert [p["type"] for p in posts] == ["info", "success", "failure", "warning", "warning"]
    assert receiver.passwords == [TOKEN] * 5
    # the hung one (receiver 1, --notify) and the refusing one (2, FLEET_NOTIFY) are warnings
    warned = [line for line in proc.stderr.splitlines() if "fleet: warning:" in line]
    assert any("receiver 1 (json)" in line for line in warned), proc.stderr
    assert any("receiver 2 (json)" in line for line in warned), proc.stderr
    assert not any("receiver 3" in line for line in warned), proc.stderr
    _assert_no_token(proc, data["run_id"])
    assert data["outcome"] == base_data["outcome"]
    # the engine's own time is not lengthened; the command waits for a hung receiver's
    # first failure at most (apprise: 4 s to connect, 4 s per read)
    note_timing("notify with a hung and a refusing receiver", run_s=data["duration_s"],
                run_baseline_s=base_data["duration_s"], wall_s=wall, wall_baseline_s=base_wall)
    assert data["duration_s"] < base_data["duration_s"] * 1.5 + 2.0, (data, base_data)
    assert wall < base_wall + 8.0, (wall, base_wall)


def test_rollback_tells_its_duration_and_fleet_notify_alone_is_enough(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    playbook = write_playbook(tmp_path)
    proc, _ = run_fleet_json("rollout", str(playbook), *INV)
    assert proc.returncode == 0, proc.stderr
    with Receiver() as receiver, Receiver() as second:
        monkeypatch.setenv("FLEET_NOTIFY", f"{receiver.url()}, {second.url()}")
        proc, data = run_fleet_json("rollback", str(playbook), *INV)
        posts = receiver.wait_for(2, timeout=2)
        seconds = second.wait_for(2, timeout=2)

    assert proc.returncode == 0, proc.stderr
    assert statuses(data) == dict.fromkeys(HOSTS, "rolled_back")
    assert [p["title"] for p in posts] == [
        "fleet rollback agents-framework: started",
        "fleet rollback agents-framework: rollback finished, success (exit 0)"]
    assert_seconds(posts[1]["message"], r"The rollback took (\d+\.\d\d) s\.",
                   data["rollback_duration_s"])
    assert "6 rolled_back" in posts[1]["message"]
    assert [p["title"] for p in seconds] == [p["title"] for p in posts]
    assert "fleet: warning" not in proc.stderr
    _assert_no_token(proc, data["run_id"])


def test_monitor_tells_the_alert_and_the_automatic_rollback(
        tmp_path: Path) -> None:
    playbook = write_playbook(tmp_path, health=HEALTH)
    proc, _ = run_fleet_json("rollout", str(playbook), *INV)
    assert proc.returncode == 0, proc.stderr
    with Receiver() as receiver, memory_hog("dev-02", WARN_MB):
        monitor = subprocess.run(
            [sys.executable, "-m", "fleet", "monitor", str(playbook), *INV, "--interval",
             "0.5s", "--duration", "60s", "--rollback-on", "warn", "--grace", "1", "--log",
             str(tmp_path / "monitor.jsonl"), "--json", "--notify", receiver.url()],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
        posts = receiver.wait_for(6, timeout=2)

    assert monitor.returncode == 1, monitor.stderr
    titles = [p["title"] for p in posts]
    assert titles == ["fleet monitor agents-framework: started",
                      "fleet monitor agents-framework: dev-02 ok -> warn",
                      "fleet monitor agents-framework: rolling the fleet back",
                      "fleet rollback agents-framework: started",
                      "fleet rollback agents-framework: rollback finished, success (exit 0)",
                      "fleet monitor agents-framework: stopped"], titles
    assert "memory" in posts[1]["message"]
    assert "dev-02 stayed warn for 1 samples" in posts[2]["message"]
    assert posts[1]["type"] == "warning"
    assert TOKEN not in monitor.stdout + monitor.stderr
    assert TOKEN not in (tmp_path / "monitor.jsonl").read_text(encoding="utf-8")
