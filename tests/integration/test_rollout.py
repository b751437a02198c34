"""``fleet rollout`` against the 6-host SSH test fleet: success, rerun, halt and
rollback on a failed check or an unreachable host, canary-only, the host lock.

Every host starts seeded (``reset_hosts``); targets are compared by a sha256
manifest of the WHOLE folder (unrelated files and modes included).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from rollout_support import (
    EXAMPLE_PLAYBOOK,
    EXAMPLE_SOURCE,
    INV,
    STATE,
    assert_no_leftovers,
    by_name,
    connection_counts,
    connection_deltas,
    example_files,
    exists,
    expected_after,
    files_under,
    manifests,
    statuses,
    tree_stamps,
    write_playbook,
)
from testfleet_helpers import (
    HOME,
    HOSTS,
    REPO_ROOT,
    TARGET,
    container,
    docker_exec,
    manifest,
    read_file,
    restore_host,
    run_fleet_json,
    seeded_manifest,
)

PLAYBOOK = str(EXAMPLE_PLAYBOOK)
FAIL_MARKER = f"{HOME}/.fail-check"
FAIL_CHECK = {"type": "command", "run": 'test ! -e "$HOME/.fail-check"', "timeout": 10}


def _mark_failing(host: str) -> None:
    code, out = docker_exec(host, ["touch", FAIL_MARKER], user="tester")
    assert code == 0, out


def test_rollout_deploys_release_to_every_host_and_keeps_unrelated_files() -> None:
    names = example_files()
    wanted = expected_after(EXAMPLE_SOURCE, names)
    assert wanted["COMMON_WORKFLOW.md"] != seeded_manifest()["COMMON_WORKFLOW.md"]
    before = connection_counts()

    proc, data = run_fleet_json("rollout", PLAYBOOK, *INV)

    assert proc.returncode == 0, proc.stderr
    assert data["outcome"] == "success"
    assert data["exit_code"] == 0
    assert data["command"] == "rollout"
    assert data["playbook"] == "agents-framework"
    assert data["halt_reason"] is None
    assert [h["name"] for h in data["hosts"]] == HOSTS
    assert statuses(data) == dict.fromkeys(HOSTS, "deployed")
    for entry in data["hosts"]:
        assert entry["release"] == data["release"]
        assert entry["error"] is None
    for host in HOSTS:
        assert manifest(host) == wanted, host
        assert read_file(host, f"{TARGET}/my-notes.md") == b"my own notes, not fleet's\n"
        assert_no_leftovers(host)
    assert connection_deltas(before) == dict.fromkeys(HOSTS, 1)


def test_rerun_is_unchanged_everywhere_and_writes_nothing() -> None:
    proc, first = run_fleet_json("rollout", PLAYBOOK, *INV)
    assert proc.returncode == 0, proc.stderr
    stamps = {h: (tree_stamps(h, TARGET), tree_stamps(h, STATE)) for h in HOSTS}
    assert all(stamps[h][1] for h in HOSTS)  # the state folder exists after a rollout
    before = connection_counts()

    proc, data = run_fleet_json("rollout", PLAYBOOK, *INV)

    assert proc.returncode == 0, proc.stderr
    assert data["outcome"] == "success"
    assert data["release"] == first["release"]
    assert statuses(data) == dict.fromkeys(HOSTS, "unchanged")
    assert all(h["release"] == first["release"] for h in data["hosts"])
    for host in HOSTS:
        assert (tree_stamps(host, TARGET), tree_stamps(host, STATE)) == stamps[host], host
        assert_no_leftovers(host)
    assert connection_deltas(before) == dict.fromkeys(HOSTS, 1)


def test_failed_check_in_second_batch_rolls_back_every_touched_host(tmp_path: Path) -> None:
    playbook = write_playbook(tmp_path, extra_checks=[FAIL_CHECK])
    _mark_failing("dev-04")  # first host of the second batch after the canary
    seeded = manifests()
    before = connection_counts()

    proc, data = run_fleet_json("rollout", str(playbook), *INV)

    assert proc.returncode == 1, proc.stderr
    assert data["exit_code"] == 1
    assert data["outcome"] == "rolled_back"
    status = statuses(data)
    assert status["dev-01"] == status["dev-02"] == status["dev-03"] == "rolled_back"
    assert status["dev-04"] == "rolled_back"
    assert status["dev-05"] in ("rolled_back", "skipped")  # in flight with dev-04
    assert status["dev-06"] == "skipped"
    dev04 = by_name(data)["dev-04"]
    assert dev04.get("failed_step") == "validate"
    assert ".fail-check" in (dev04["error"] or ""), dev04
    assert "dev-04" in (data["halt_reason"] or "")
    assert data["rollback_duration_s"] > 0
    assert manifests() == seeded
    for host in HOSTS:
        assert_no_leftovers(host)
        assert not exists(host, f"{STATE}/current"), host
        assert files_under(host, STATE) == [], host  # no backup/stage/partial file kept
    assert not exists("dev-06", STATE)
    deltas = connection_deltas(before)
    assert deltas["dev-06"] == 0
    assert all(deltas[h] >= 1 for h in ("dev-01", "dev-02", "dev-03", "dev-04")), deltas


def test_stopped_host_halts_the_run_when_reached_and_rolls_back(tmp_path: Path) -> None:
    seeded = manifests()
    container("fleet-dev-05").stop(timeout=1)
    try:
        proc, data = run_fleet_json("rollout", PLAYBOOK, *INV)
    finally:
        restore_host("dev-05")

    assert proc.returncode == 1, proc.stderr
    assert data["outcome"] == "rolled_back"
    status = statuses(data)
    assert status["dev-05"] == "failed"
    assert status["dev-01"] == status["dev-02"] == status["dev-03"] == "rolled_back"
    assert status["dev-04"] in ("rolled_back", "skipped")
    assert status["dev-06"] == "skipped"
    assert by_name(data)["dev-05"].get("failed_step") == "connect"
    assert data["rollback_duration_s"] > 0
    error = by_name(data)["dev-05"]["error"] or ""
    assert "dev-05" in error or "127.0.0.1:2205" in error, error
    assert "dev-05" in (data["halt_reason"] or ""), data["halt_reason"]
    assert manifests() == seeded
    for host in HOSTS:
        assert_no_leftovers(host)
        assert not exists(host, f"{STATE}/current"), host
    assert not exists("dev-05", STATE)
    assert not exists("dev-06", STATE)


def test_canary_only_then_full_rollout() -> None:
    wanted = expected_after(EXAMPLE_SOURCE, example_files())
    before = connection_counts()

    proc, data = run_fleet_json("rollout", PLAYBOOK, *INV, "--canary-only")

    assert proc.returncode == 0, proc.stderr
    assert data["outcome"] == "canary_only"
    assert statuses(data) == {"dev-01": "deployed", **dict.fromkeys(HOSTS[1:], "skipped")}
    assert manifest("dev-01") == wanted
    for host in HOSTS[1:]:
        assert manifest(host) == seeded_manifest(), host
        assert not exists(host, STATE), host
    deltas = connection_deltas(before)
    assert deltas == {"dev-01": 1, **dict.fromkeys(HOSTS[1:], 0)}

    proc, data = run_fleet_json("rollout", PLAYBOOK, *INV)

    assert proc.returncode == 0, proc.stderr
    assert data["outcome"] == "success"
    assert statuses(data) == {"dev-01": "unchanged", **dict.fromkeys(HOSTS[1:], "deployed")}
    for host in HOSTS:
        assert manifest(host) == wanted, host
        assert_no_leftovers(host)


def test_lock_held_by_another_run_is_refused_with_its_run_id() -> None:
    lock = f"{STATE}/lock"
    code, out = docker_exec("dev-01", [
        "sh", "-c", 'mkdir -p "$1" && echo RUN-ID-X > "$1/run"', "sh", lock], user="tester")
    assert code == 0, out
    seeded = manifests()
    before = connection_counts()

    proc, data = run_fleet_json("rollout", PLAYBOOK, *INV)

    assert proc.returncode == 1, proc.stderr
    assert data["exit_code"] == 1
    dev01 = by_name(data)["dev-01"]
    assert dev01["status"] == "failed"
    assert "RUN-ID-X" in (dev01["error"] or ""), dev01
    assert all(statuses(data)[h] == "skipped" for h in HOSTS[1:]), statuses(data)
    assert manifests() == seeded
    assert read_file("dev-01", f"{lock}/run") == b"RUN-ID-X\n"
    assert files_under("dev-01", STATE) == ["lock/run"]
    for host in HOSTS[1:]:
        assert not exists(host, STATE), host
    assert connection_deltas(before) == {"dev-01": 1, **dict.fromkeys(HOSTS[1:], 0)}


def _popen_rollout() -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "fleet", "rollout", PLAYBOOK, *INV, "--limit", "dev-02",
         "--json"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def test_two_concurrent_rollouts_on_one_host_exactly_one_deploys() -> None:
    wanted = expected_after(EXAMPLE_SOURCE, example_files())
    procs = [_popen_rollout(), _popen_rollout()]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert out.strip(), err
        results.append((proc.returncode, json.loads(out), err))

    entries = [by_name(data)["dev-02"] for _, data, _ in results]
    deployed = [i for i, e in enumerate(entries) if e["status"] == "deployed"]
    assert len(deployed) == 1, [e["status"] for e in entries]
    winner = deployed[0]
    loser = 1 - winner
    code, data, err = results[winner]
    assert code == 0, err
    assert data["outcome"] == "success"
    code, data, err = results[loser]
    other = entries[loser]
    if other["status"] == "unchanged":  # came after the first had finished
        assert code == 0, err
        assert data["outcome"] == "success"
    else:
        assert other["status"] == "failed", other
        assert results[winner][1]["run_id"] in (other["error"] or ""), other
        assert code == 1, err
    assert manifest("dev-02") == wanted
    assert_no_leftovers("dev-02")
    for host in HOSTS:
        if host != "dev-02":
            assert manifest(host) == seeded_manifest(), host
