"""Issue 11, point 5: fleet on hosts like the ones developers have.

Every scenario runs on each of DEV_LIKE_HOSTS (scripts/test-fleet.sh; images in
tests/docker/devhosts): tester's login shell zsh, fish or tcsh with an rc file
that prints (zsh-01, fish-01, tcsh-01); bash whose ~/.bashrc prints banners,
escapes, a NUL and text without a newline on stdout and stderr (rc-01); only
busybox applets on PATH, /bin/sh busybox ash (busybox-01); a macOS-like BSD
userland with no /proc and HOME /Users/tester (mac-01). Where a scenario needs a
fleet, the host is mixed with dev-01. Each ends with the issue-3 invariant
(``invariant.assert_invariant``): the whole target folder of every host byte for
byte its state before or the release over it, fleet's records agreeing, nothing
left behind.
"""

from __future__ import annotations

import shlex
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from devhosts_support import (
    CHECKS,
    FAIL_CHECK,
    HEALTH,
    HOG,
    HOG_MIB,
    TILDE_TARGET,
    devhost_inventory,
    mark_failing,
    named_hog,
    steps_of,
)
from faults import Controller, log_records
from invariant import assert_invariant, release_from_files, release_of, take_snapshot
from rollout_support import (
    EXAMPLE_FILE,
    by_name,
    copy_example_source,
    example_files,
    statuses,
    write_playbook,
)
from testfleet_helpers import (
    DEV_LIKE_HOSTS,
    home_of,
    read_file,
    reset_host,
    run_fleet_json,
    ssh_connection_count,
)

DEV = "dev-01"
"""The ordinary dev host the fleet-wide scenarios mix in (the canary)."""


@pytest.fixture(params=DEV_LIKE_HOSTS)
def host(request: pytest.FixtureRequest, testfleet: list[str]) -> str:
    """One of DEV_LIKE_HOSTS, running, answering SSH and seeded like the six."""
    name: str = request.param
    reset_host(name)
    return name


def _snapshot(hosts: list[str], label: str = "before") -> Any:
    return take_snapshot(hosts, label=label, target=TILDE_TARGET)


def _hosts(data: dict[str, Any]) -> str:
    return "\n".join(f"  {h['name']}: {h['status']} {h.get('failed_step') or ''} "
                     f"{h['error'] or ''}" for h in data["hosts"])


def _logins(host: str) -> int:
    """SSH logins ``host`` accepted so far, read until two reads agree (docker logs
    lag behind sshd)."""
    count = ssh_connection_count(host)
    for _ in range(10):
        time.sleep(0.4)
        again = ssh_connection_count(host)
        if again == count:
            break
        count = again
    return count


def _rollout(playbook: Path, inventory: Path) -> dict[str, Any]:
    """``fleet rollout`` that must succeed (exit 0); returns its --json result."""
    proc, data = run_fleet_json("rollout", str(playbook), "-i", str(inventory))
    assert proc.returncode == 0, f"{_hosts(data)}\n{proc.stderr}"
    return data


def _status(playbook: Path, inventory: Path) -> dict[str, dict[str, Any]]:
    proc, data = run_fleet_json("status", str(playbook), "-i", str(inventory))
    assert proc.returncode == 0, proc.stderr
    return by_name(data)


# --------------------------------------------------------------------------- rollout, rerun


def test_rollout_with_every_check_then_rerun_is_unchanged_in_one_round_trip(
        host: str, tmp_path: Path) -> None:
    inventory = devhost_inventory(tmp_path, [host])
    playbook = write_playbook(tmp_path, checks=CHECKS)
    release = release_of(playbook)
    before = _snapshot([host])

    data = _rollout(playbook, inventory)

    assert statuses(data) == {host: "deployed"}, _hosts(data)
    assert data["outcome"] == "success"
    assert assert_invariant(before, release) == {host: release.id}
    on_release = _snapshot([host], "on release")
    logins = _logins(host)

    again = _rollout(playbook, inventory)

    assert statuses(again) == {host: "unchanged"}, _hosts(again)
    # one round trip: the prepare script answered UNCHANGED, nothing followed
    assert steps_of(again["run_id"], host) == ["connect", "prepare"]
    assert _logins(host) - logins == 1
    assert assert_invariant(on_release) == {host: "before"}


# --------------------------------------------------------------------------- a failing host


def test_a_check_failing_only_there_rolls_the_whole_fleet_back(host: str, tmp_path: Path) -> None:
    inventory = devhost_inventory(tmp_path, [DEV, host], canaries=(DEV,))
    playbook = write_playbook(tmp_path, checks=[*CHECKS, FAIL_CHECK])
    mark_failing(host)
    before = _snapshot([DEV, host])

    proc, data = run_fleet_json("rollout", str(playbook), "-i", str(inventory))

    assert proc.returncode == 1, f"{_hosts(data)}\n{proc.stderr}"
    assert data["outcome"] == "rolled_back"
    assert statuses(data) == {DEV: "rolled_back", host: "rolled_back"}, _hosts(data)
    failed = by_name(data)[host]
    assert failed.get("failed_step") == "validate", _hosts(data)
    assert ".fail-check" in (failed["error"] or ""), failed
    assert host in (data["halt_reason"] or "")
    assert set(assert_invariant(before, release_of(playbook)).values()) == {"before"}


# --------------------------------------------------------------------------- rollback, status


def test_fleet_rollback_and_status(host: str, tmp_path: Path) -> None:
    inventory = devhost_inventory(tmp_path, [host])
    playbook = write_playbook(tmp_path, checks=CHECKS)
    release = release_of(playbook)
    seeded = _snapshot([host], "seeded")
    assert _status(playbook, inventory)[host]["state"] == "not_deployed"
    _rollout(playbook, inventory)

    on = _status(playbook, inventory)[host]
    assert (on["state"], on["release"]) == ("ok", release.id), on

    proc, back = run_fleet_json("rollback", str(playbook), "-i", str(inventory))

    assert proc.returncode == 0, f"{_hosts(back)}\n{proc.stderr}"
    assert statuses(back) == {host: "rolled_back"}, _hosts(back)
    assert _status(playbook, inventory)[host]["state"] == "not_deployed"
    assert assert_invariant(seeded) == {host: "before"}


# --------------------------------------------------------------------------- monitor


def test_monitor_samples_access_time_and_memory(host: str, tmp_path: Path) -> None:
    inventory = devhost_inventory(tmp_path, [host])
    playbook = write_playbook(tmp_path, checks=CHECKS, health=HEALTH)
    _rollout(playbook, inventory)
    on_release = _snapshot([host], "on release")
    log = tmp_path / "monitor.jsonl"

    with named_hog(host, HOG_MIB):
        proc, data = run_fleet_json("monitor", str(playbook), "-i", str(inventory),
                                    "--interval", "0.5s", "--duration", "2s",
                                    "--log", str(log), timeout=60)

    assert proc.returncode == 0, proc.stderr
    samples = [r for r in log_records(log) if r["kind"] == "sample" and r["host"] == host]
    assert samples, log_records(log)
    for sample in samples:
        assert sample["error"] is None, sample
        readings = {r["label"]: r for r in sample["readings"]}
        access = readings["access_time"]
        assert access["value"] is not None, sample
        assert access["value"] >= 0, sample
        memory = readings[f"memory of {HOG!r}"]
        # the hog holds HOG_MIB MiB resident: a host that cannot read its processes
        # would say 0
        assert memory["value"] is not None, sample
        assert memory["value"] >= HOG_MIB, sample
        assert sample["level"] == "warn", sample  # > warn_mb, < critical_mb
    assert data["levels"] == {host: "warn"}
    assert assert_invariant(on_release) == {host: "before"}


# --------------------------------------------------------------------------- recover


def test_recover_after_the_controller_is_killed_mid_validate(host: str, tmp_path: Path) -> None:
    inventory = devhost_inventory(tmp_path, [host])
    slow = {"type": "command", "run": "sleep 4", "timeout": 30}
    playbook = write_playbook(tmp_path, checks=[*CHECKS, slow])
    before = _snapshot([host])

    ctl = Controller(tmp_path / "ctl", "rollout", str(playbook), "-i", str(inventory))
    try:
        run_id = ctl.run_id()
        ctl.wait_event(event="StepStarted", host=host, step="activate")
        time.sleep(1)  # inside the slow check
    finally:  # (also when the run failed before it got there: no controller left behind)
        ctl.signal(signal.SIGKILL)
        code, data, _ = ctl.finish()
    assert code == -signal.SIGKILL
    assert data is None

    status = _status(playbook, inventory)[host]
    assert status["state"] == "interrupted", status
    assert status["unfinished_runs"] == [run_id], status

    proc, rec = run_fleet_json("recover", str(playbook), "-i", str(inventory))

    assert proc.returncode == 0, f"{_hosts(rec)}\n{proc.stderr}"
    assert rec["recovered_runs"] == [run_id]
    assert statuses(rec) == {host: "rolled_back"}, _hosts(rec)
    assert _status(playbook, inventory)[host]["state"] == "not_deployed"
    assert assert_invariant(before, release_of(playbook)) == {host: "before"}


# --------------------------------------------------------------------------- odd bytes

ODD_NAME = "my agent's \"notes\" $HOME.md"
"""A release file name with spaces, both quotes and a dollar."""
ODD_BODY = b"cost: $5 \\ 'quoted' !bang\n"
ODD_PATTERN = r"\$5 \\ 'quoted' !bang"
"""An ERE with ``\\$``, ``\\\\``, ``'`` and ``!``: matches ODD_BODY only if it reaches
grep byte for byte."""
ODD_VALUE = "a b 'c' \"d\" $HOME ${X} `id` \\ \\\\ \\' ! !! ~ * ? ; & | < > # % \u00e9 \t end"
"""Bytes a command check writes to a file, to be read back exactly."""
ODD_OUT = ".fleet-odd-bytes"


def test_odd_user_values_reach_sh_byte_for_byte(host: str, tmp_path: Path) -> None:
    source = copy_example_source(tmp_path / "src")
    (source / ODD_NAME).write_bytes(ODD_BODY)
    (source / ODD_NAME).chmod(0o644)
    names = [*example_files(), ODD_NAME]
    write_odd = f"printf '%s' {shlex.quote(ODD_VALUE)} > \"$HOME/{ODD_OUT}\""
    checks = [*CHECKS,
              {"type": "contains", "file": ODD_NAME, "pattern": ODD_PATTERN},
              {"type": "command", "run": f"test -s {shlex.quote(ODD_NAME)} && {write_odd}",
               "timeout": 10}]
    inventory = devhost_inventory(tmp_path, [host])
    playbook = write_playbook(tmp_path, source=str(source), files=names, checks=checks)
    release = release_from_files({n: source / n for n in names})
    before = _snapshot([host])

    data = _rollout(playbook, inventory)

    assert statuses(data) == {host: "deployed"}, _hosts(data)
    assert read_file(host, f"{home_of(host)}/{ODD_OUT}") == ODD_VALUE.encode()
    assert assert_invariant(before, release) == {host: release.id}


# --------------------------------------------------------------------------- the example playbook


def test_example_playbook_to_every_kind_of_host(testfleet: list[str], tmp_path: Path) -> None:
    hosts = [DEV, *DEV_LIKE_HOSTS]
    for name in DEV_LIKE_HOSTS:
        reset_host(name)
    inventory = devhost_inventory(tmp_path, hosts, canaries=(DEV,))
    release = release_of(EXAMPLE_FILE)
    before = _snapshot(hosts)

    # the file itself, with the runbook's own gates (50 ms, 50 MB)
    data = _rollout(EXAMPLE_FILE, inventory)

    assert data["outcome"] == "success"
    assert statuses(data) == dict.fromkeys(hosts, "deployed"), _hosts(data)
    assert assert_invariant(before, release) == dict.fromkeys(hosts, release.id)
