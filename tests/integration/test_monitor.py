"""``fleet monitor`` on the container fleet: health sampled on every host on a schedule,
every sample logged with its level, an alert on each level change, and with
``--rollback-on critical --grace N`` the fleet rolled back when a host stays
critical. The sick host is made memory-heavy on purpose (``health_support``).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from faults import log_records, wait_until
from health_support import (
    CRITICAL_EXTRA_MB,
    HEALTH,
    HOG,
    WARN_MB,
    collapse,
    levels_of,
    memory_hog,
)
from invariant import assert_invariant, release_of, take_snapshot
from rollout_support import INV, statuses, write_playbook
from testfleet_helpers import HOSTS, REPO_ROOT, run_fleet_json

SICK = "dev-03"


def _deploy(tmp_path: Path) -> Path:
    """Write the health playbook, roll it out to the fleet; return its path."""
    playbook = write_playbook(tmp_path, health=HEALTH)
    proc, data = run_fleet_json("rollout", str(playbook), *INV)
    assert proc.returncode == 0, proc.stderr
    assert statuses(data) == dict.fromkeys(HOSTS, "deployed")
    return playbook


def test_a_healthy_fleet_is_sampled_logged_and_left_alone(tmp_path: Path) -> None:
    playbook = _deploy(tmp_path)
    on_release = take_snapshot(label="on release")
    log = tmp_path / "monitor.jsonl"

    proc, data = run_fleet_json("monitor", str(playbook), *INV, "--interval", "0.5s",
                                "--duration", "3s", "--rollback-on", "critical", "--grace",
                                "2", "--log", str(log), timeout=60)

    assert proc.returncode == 0, proc.stderr
    assert data["rollback"] is None
    assert data["alerts"] == []
    assert data["levels"] == dict.fromkeys(HOSTS, "ok")
    assert data["rounds"] >= 2  # a round every 0.5 s at best; fewer on a loaded machine
    records = log_records(log)
    samples = [r for r in records if r["kind"] == "sample"]
    assert len(samples) == data["rounds"] * len(HOSTS)
    for host in HOSTS:
        assert levels_of(records, host) == ["ok"] * data["rounds"], host
    first = next(r for r in samples if r["host"] == SICK)
    memory = next(r for r in first["readings"] if r["label"] == f"memory of {HOG!r}")
    assert (memory["level"], memory["value"]) == ("ok", 0.0)
    assert {r["kind"] for r in records} == {"watch", "sample"}
    # nothing was rolled back: every host still on the release, untouched
    assert set(assert_invariant(on_release).values()) == {"before"}


def test_a_host_turning_critical_is_alerted_and_the_fleet_rolled_back(tmp_path: Path) -> None:
    seeded = take_snapshot(label="seeded")
    playbook = _deploy(tmp_path)
    on_release = take_snapshot(label="on release")
    assert set(assert_invariant(on_release).values()) == {"before"}
    log = tmp_path / "monitor.jsonl"
    monitor = subprocess.Popen(
        [sys.executable, "-m", "fleet", "monitor", str(playbook), *INV, "--interval", "0.5s",
         "--duration", "90s", "--rollback-on", "critical", "--grace", "3", "--log", str(log),
         "--json"], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # ok first, then warn (one hog), then critical (a second one on top)
        wait_until(lambda: levels_of(log_records(log), SICK).count("ok") >= 2, 30,
                   what=f"two ok samples of {SICK}")
        with memory_hog(SICK, WARN_MB):
            wait_until(lambda: levels_of(log_records(log), SICK).count("warn") >= 2, 30,
                       what=f"two warn samples of {SICK}")
            with memory_hog(SICK, CRITICAL_EXTRA_MB):
                out, err = monitor.communicate(timeout=60)
    finally:
        if monitor.poll() is None:
            monitor.send_signal(signal.SIGINT)
            monitor.communicate(timeout=30)

    assert monitor.returncode == 1, err  # rolled back cleanly: exit 1, as a halted rollout
    data: dict[str, Any] = json.loads(out)
    records = log_records(log)
    assert collapse(levels_of(records, SICK)) == ["ok", "warn", "critical"], records
    assert levels_of(records, SICK)[-3:] == ["critical"] * 3  # the grace: 3 samples
    for host in HOSTS:
        if host != SICK:
            assert set(levels_of(records, host)) == {"ok"}, host
    alerts = [(r["host"], r["before"], r["after"]) for r in records if r["kind"] == "alert"]
    assert alerts == [(SICK, "ok", "warn"), (SICK, "warn", "critical")]
    critical = next(r for r in records if r["kind"] == "alert" and r["after"] == "critical")
    assert critical["why"].startswith(f"memory of {HOG!r} "), critical
    assert critical["why"].endswith(" MB > 60"), critical
    assert [(a["host"], a["from"], a["to"]) for a in data["alerts"]] == alerts
    rollback = [r for r in records if r["kind"] == "rollback"]
    assert len(rollback) == 1, rollback
    assert rollback[0]["outcome"] == "success", rollback
    assert f"{SICK} stayed critical for 3 samples" in rollback[0]["reason"]
    assert data["rollback"]["outcome"] == "success"
    assert statuses(data["rollback"]) == dict.fromkeys(HOSTS, "rolled_back")
    assert data["rollback"]["release"] == release_of(playbook).id
    # every host's whole target folder (and fleet's records) back to the seeded state
    assert set(assert_invariant(on_release, seeded).values()) == {"seeded"}
