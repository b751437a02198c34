"""Issue 3, faults 1-10: fleet survives them on the 6-host SSH test fleet.

Every scenario injects its fault into a real run and ends with the ONE
invariant (``invariant.assert_invariant``): each host's whole target folder
is byte-identical to its state before the run or to the new release, no lock,
staging or temporary file is left, and the kept backups are intact. Where the
issue says so, the invariant is checked after ``fleet rollback`` or ``fleet
recover``. Each scenario notes its timings in ``.fleet/reliability-timings.jsonl``
(docs/reliability.md's table).
"""

from __future__ import annotations

import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from faults import (
    Controller,
    big_source,
    disconnect,
    failed_steps,
    note_timing,
    restored,
    wait_until,
    write_inventory,
)
from invariant import FleetState, ReleaseShape, assert_invariant, release_of, take_snapshot
from rollout_support import (
    INV,
    STATE,
    by_name,
    copy_example_source,
    example_files,
    exists,
    statuses,
    tree_stamps,
    write_playbook,
)
from testfleet_helpers import (
    EXTRA_PORTS,
    HOME,
    HOSTS,
    KNOWN_HOSTS_EXTRA,
    PORTS,
    TARGET,
    container,
    docker_exec,
    read_file,
    restore_host,
    run_fleet_json,
)

from tests.silent_server import SilentServer

TIMEOUTS = {"connect": 3, "command": 8}
LAST_FILE = example_files()[-1]  # the last file activate renames into place


def slow_on(hosts: tuple[str, ...], seconds: float) -> dict[str, Any]:
    """A command check that sleeps on ``hosts`` only (widens their activate+validate)."""
    names = "|".join(hosts)
    return {"type": "command", "run": f'case "$(hostname)" in {names}) sleep {seconds};; esac',
            "timeout": 30}


def _hosts(data: dict[str, Any]) -> str:
    return "\n".join(f"  {h['name']}: {h['status']} {h.get('failed_step') or ''} "
                     f"{h['error'] or ''}" for h in data["hosts"])


def _status(playbook: Path, *inv: str) -> dict[str, dict[str, Any]]:
    proc, data = run_fleet_json("status", str(playbook), *inv)
    assert proc.returncode == 0, proc.stderr
    return by_name(data)


# --------------------------------------------------------------------------- 1. killed mid-upload


def test_container_killed_during_upload_then_recover(tmp_path: Path) -> None:
    source = big_source(tmp_path / "src", 10)
    names = sorted(p.name for p in source.iterdir())
    blob = str(names.index("blob.bin"))  # staged files are named by their index
    playbook = write_playbook(tmp_path, source=str(source), files=None, timeouts=TIMEOUTS)
    before = take_snapshot()
    release = release_of(playbook)

    ctl = Controller(tmp_path / "ctl", "rollout", str(playbook), *INV)
    run_id = ctl.run_id()
    ctl.wait_event(event="StepStarted", host="dev-03", step="stage")
    partial = f"{STATE}/stage-{run_id}/{blob}"
    wait_until(lambda: docker_exec("dev-03", ["test", "-s", partial])[0] == 0, 20,
               interval=0.01, what="the blob half uploaded on dev-03")
    with restored("dev-03"):
        container("dev-03").kill()
        killed = time.monotonic()
        code, data, err = ctl.finish()

        assert code == 3, err
        assert data is not None
        assert data["outcome"] == "rollback_incomplete"
        assert by_name(data)["dev-03"]["status"] == "rollback_failed", _hosts(data)
        assert failed_steps(ctl.events())["dev-03"] == "stage"
        assert "needs a person: dev-03" in err
        for host in ("dev-01", "dev-02"):  # the canary and dev-03's batch mate
            assert by_name(data)[host]["status"] == "rolled_back", _hosts(data)
        assert {statuses(data)[h] for h in HOSTS[3:]} == {"skipped"}
    restart = time.monotonic()

    status = _status(playbook, *INV)
    assert status["dev-03"]["state"] == "interrupted", status["dev-03"]
    assert status["dev-03"]["unfinished_runs"] == [run_id]
    assert {status[h]["state"] for h in HOSTS if h != "dev-03"} == {"not_deployed"}

    proc, rec = run_fleet_json("recover", str(playbook), *INV)
    done = time.monotonic()

    assert proc.returncode == 0, proc.stderr
    assert rec["outcome"] == "success"
    assert rec["recovered_runs"] == [run_id]
    assert statuses(rec)["dev-03"] == "rolled_back"
    where = assert_invariant(before, release)
    assert set(where.values()) == {"before"}, where
    note_timing("1 container killed mid-upload", run_s=ctl.duration,
                fault_to_exit_s=ctl.ended - killed if ctl.ended else None,
                in_run_rollback_s=data.get("rollback_duration_s"),
                recover_s=done - restart)


# --------------------------------------------------------------------------- 2. network cut


@dataclass
class _Cut:
    playbook: Path
    ctl: Controller
    code: int
    data: dict[str, Any]
    err: str
    before: FleetState
    release: ReleaseShape
    cut: float


def _cut_after_activate(tmp_path: Path, back_after: float | None) -> _Cut:
    """Start a rollout whose validate is slow on dev-03; once dev-03's files are renamed
    into place, cut dev-03 off the network (and reconnect it ``back_after`` s later)."""
    playbook = write_playbook(tmp_path, timeouts={"connect": 3, "command": 5},
                              extra_checks=[slow_on(("dev-03",), 4)])
    before = take_snapshot()
    release = release_of(playbook)
    ctl = Controller(tmp_path / "ctl", "rollout", str(playbook), *INV)
    ctl.wait_event(event="StepStarted", host="dev-03", step="activate")
    wait_until(lambda: exists("dev-03", f"{TARGET}/{LAST_FILE}"), 10, interval=0.02,
               what="dev-03 activated")
    with restored("dev-03"):
        disconnect("dev-03")
        cut = time.monotonic()
        # activate has renamed every file: dev-03's target IS the release now
        assert take_snapshot(["dev-03"])["dev-03"].target == release.over(before["dev-03"].target)
        if back_after is not None:
            time.sleep(back_after)
            restore_host("dev-03")
        code, data, err = ctl.finish()
    assert data is not None, err
    return _Cut(playbook, ctl, code, data, err, before, release, cut)


def test_network_cut_between_activate_and_validate_then_fleet_rollback(tmp_path: Path) -> None:
    run = _cut_after_activate(tmp_path, None)
    data = run.data

    assert run.code == 3, run.err
    assert data["outcome"] == "rollback_incomplete"
    dev03 = by_name(data)["dev-03"]
    assert dev03["status"] == "rollback_failed", _hosts(data)
    assert "needs a person: dev-03" in run.err
    assert statuses(data)["dev-01"] == statuses(data)["dev-02"] == "rolled_back"
    assert dev03["duration_s"] < 5 + 4, dev03  # the step timeout (5 s) cut it short

    status = _status(run.playbook, *INV)
    assert status["dev-03"]["state"] == "interrupted", status["dev-03"]
    started = time.monotonic()
    proc, back = run_fleet_json("rollback", str(run.playbook), *INV)
    took = time.monotonic() - started

    assert proc.returncode == 0, proc.stderr
    assert statuses(back)["dev-03"] == "rolled_back", _hosts(back)
    where = assert_invariant(run.before, run.release)
    assert set(where.values()) == {"before"}, where
    note_timing("2 network cut after activate, back later", run_s=run.ctl.duration,
                fault_to_exit_s=(run.ctl.ended or run.cut) - run.cut, rollback_s=took)


def test_network_back_within_the_timeout_run_rolls_the_host_back_itself(tmp_path: Path) -> None:
    run = _cut_after_activate(tmp_path, 1.0)
    data = run.data

    # dev-03 answers SSH again long before the run gives up on the lost step, so the
    # run's own rollback must reach it: exit 1, not "needs a person".
    assert run.code == 1, f"exit {run.code}\n{_hosts(data)}"
    assert data["outcome"] == "rolled_back"
    assert statuses(data)["dev-03"] == "rolled_back", _hosts(data)
    where = assert_invariant(run.before, run.release)
    assert set(where.values()) == {"before"}, where
    note_timing("2 network cut after activate, back within timeout", run_s=run.ctl.duration,
                in_run_rollback_s=data.get("rollback_duration_s"))


# --------------------------------------------------------------------------- 3. disk full


def _tmpfs_inventory(tmp_path: Path) -> Path:
    ports = {"dev-01": PORTS["dev-01"], "tmpfs-01": EXTRA_PORTS["tmpfs-01"],
             "dev-02": PORTS["dev-02"]}
    return write_inventory(tmp_path, ports, canaries=("dev-01",),
                           host_vars={"tmpfs-01": {"known_hosts_file": str(KNOWN_HOSTS_EXTRA)}})


TMPFS_FLEET = ["dev-01", "tmpfs-01", "dev-02"]


def test_release_too_big_for_the_free_space_is_refused_in_preflight(
        tmp_path: Path, tmpfs_host: str) -> None:
    source = big_source(tmp_path / "src", 6)  # needs ~12 MiB (staging + backup); 8 MiB free
    playbook = write_playbook(tmp_path, source=str(source), files=None, timeouts=TIMEOUTS)
    inventory = _tmpfs_inventory(tmp_path)
    before = take_snapshot(TMPFS_FLEET)
    stamps = tree_stamps(tmpfs_host, f"{HOME}/.claude")

    started = time.monotonic()
    proc, data = run_fleet_json("rollout", str(playbook), "-i", str(inventory))
    took = time.monotonic() - started

    assert proc.returncode == 1, proc.stderr
    host = by_name(data)[tmpfs_host]
    assert host["status"] == "failed", _hosts(data)
    assert host["failed_step"] == "preflight", host
    assert re.search(r"not enough free space: \d+ KiB free, \d+ KiB needed", host["error"]), host
    assert statuses(data)["dev-01"] == "rolled_back"
    assert tree_stamps(tmpfs_host, f"{HOME}/.claude") == stamps  # not a byte written there
    where = assert_invariant(before, release_of(playbook))
    assert set(where.values()) == {"before"}, where
    note_timing("3 release bigger than free space (preflight)", run_s=took,
                in_run_rollback_s=data.get("rollback_duration_s"))


# A runaway writer on tmpfs-01: once the run's preflight has passed (its backup
# folder appears), it keeps the target's filesystem full, grabbing any space that
# frees up, until /tmp/filler.stop appears. The stage that follows meets a full disk.
FILLER = r"""
while ! ls -d "$HOME"/.local/state/fleet/*/backups/*/e >/dev/null 2>&1; do sleep 0.01; done
while [ ! -e /tmp/filler.stop ]; do
  cat /dev/zero >> "$HOME/.claude/filler" 2>/dev/null; sleep 0.05
done
"""


def test_target_filesystem_fills_up_during_stage(tmp_path: Path, tmpfs_host: str) -> None:
    source = big_source(tmp_path / "src", 2)  # passes preflight (~4 MiB of 8 needed)
    playbook = write_playbook(tmp_path, source=str(source), files=None, timeouts=TIMEOUTS)
    inventory = _tmpfs_inventory(tmp_path)
    before = take_snapshot(TMPFS_FLEET)
    container(tmpfs_host).exec_run(["env", f"HOME={HOME}", "sh", "-c", FILLER],
                                   user="tester", detach=True)
    try:
        started = time.monotonic()
        proc, data = run_fleet_json("rollout", str(playbook), "-i", str(inventory))
        took = time.monotonic() - started
        code, df = docker_exec(tmpfs_host, ["df", "-k", f"{HOME}/.claude"])
    finally:  # the runaway writer stops and its file goes: the disk has room again
        docker_exec(tmpfs_host, ["sh", "-c", "touch /tmp/filler.stop; sleep 0.3; "
                                 f"rm -f {HOME}/.claude/filler /tmp/filler.stop"])

    assert code == 0, df
    assert b" 100% " in df, df  # the disk was still full when the run ended
    host = by_name(data)[tmpfs_host]
    assert host.get("failed_step") == "stage", _hosts(data)
    assert re.search("disk full|staging folder", host["error"]), host
    assert statuses(data)["dev-01"] == "rolled_back", _hosts(data)
    # Nothing was activated on tmpfs-01, so putting it back needs no free space:
    # the run itself must finish the job (exit 1), not leave it to a person.
    assert proc.returncode == 1, f"exit {proc.returncode}\n{_hosts(data)}"
    assert host["status"] == "rolled_back", host
    where = assert_invariant(before, release_of(playbook))
    assert set(where.values()) == {"before"}, where
    note_timing("3 disk fills during stage", run_s=took,
                in_run_rollback_s=data.get("rollback_duration_s"))


# --------------------------------------------------------------------------- 4. permissions


def _perm_release(tmp_path: Path) -> Path:
    source = copy_example_source(tmp_path / "src")
    (source / "custom").mkdir()
    (source / "custom" / "agent-y.md").write_text("# agent y\n")
    return write_playbook(tmp_path, source=str(source), timeouts=TIMEOUTS,
                          files=[*example_files(), "custom/agent-y.md"])


@pytest.mark.parametrize(("fault", "command", "step", "status", "message"), [
    ("target folder read-only", ["chmod", "0555", TARGET], "preflight", "failed",
     "no write permission on the target folder"),
    ("replaced file unreadable", ["chmod", "0000", f"{TARGET}/COMMON_WORKFLOW.md"], "backup",
     "failed", "cannot read 'COMMON_WORKFLOW.md'"),
    # found only when activate renames into it, after 9 files went in: a half-activated
    # host must be put back
    ("sub-folder owned by root", ["chown", "root:root", f"{TARGET}/custom"], "activate",
     "rolled_back", "cannot move 'custom/agent-y.md'"),
], ids=["target-folder", "one-file", "sub-folder"])
def test_permission_denied_on_one_host(tmp_path: Path, fault: str, command: list[str],
                                       step: str, status: str, message: str) -> None:
    playbook = _perm_release(tmp_path)
    code, out = docker_exec("dev-03", command)
    assert code == 0, out
    before = take_snapshot()

    started = time.monotonic()
    proc, data = run_fleet_json("rollout", str(playbook), *INV)
    took = time.monotonic() - started

    assert proc.returncode == 1, proc.stderr
    assert data["outcome"] == "rolled_back"
    dev03 = by_name(data)["dev-03"]
    assert dev03["status"] == status, _hosts(data)
    assert dev03["failed_step"] == step, dev03
    assert message in dev03["error"], dev03
    assert statuses(data)["dev-01"] == statuses(data)["dev-02"] == "rolled_back"
    where = assert_invariant(before, release_of(playbook))
    assert set(where.values()) == {"before"}, where
    note_timing(f"4 permission denied: {fault}", run_s=took,
                in_run_rollback_s=data.get("rollback_duration_s"))


# --------------------------------------------------------------------------- 5. hangs


def test_host_that_accepts_tcp_but_never_answers_ssh_times_out(tmp_path: Path) -> None:
    connect = 2
    playbook = write_playbook(tmp_path, timeouts={"connect": connect, "command": 5})
    real = ["dev-01", "dev-02", "dev-04"]
    before = take_snapshot(real)
    with SilentServer() as hung:
        ports = {"dev-01": PORTS["dev-01"], "dev-02": PORTS["dev-02"], "hung": hung.port,
                 "dev-04": PORTS["dev-04"]}
        inventory = write_inventory(tmp_path, ports, canaries=("dev-01",))
        started = time.monotonic()
        proc, data = run_fleet_json("rollout", str(playbook), "-i", str(inventory))
        took = time.monotonic() - started
        accepted = hung.accepted

    assert accepted >= 1  # fleet did reach the silent host
    assert proc.returncode == 1, proc.stderr
    assert data["outcome"] == "rolled_back"
    host = by_name(data)["hung"]
    assert host["status"] == "failed", _hosts(data)
    assert host["failed_step"] == "connect", host
    assert connect - 0.2 <= host["duration_s"] <= connect + 3, host  # the configured timeout
    assert statuses(data) == {"dev-01": "rolled_back", "dev-02": "rolled_back",
                              "hung": "failed", "dev-04": "skipped"}
    assert "hung" in data["halt_reason"]
    assert took < connect + 10
    where = assert_invariant(before, release_of(playbook))
    assert set(where.values()) == {"before"}, where
    note_timing("5 host accepts TCP, never speaks SSH", run_s=took,
                in_run_rollback_s=data.get("rollback_duration_s"))
    # a person reading the error must learn that the host timed out (not, say,
    # "No existing session" or "Error reading SSH protocol banner"), in one line,
    # not under a Python traceback from the SSH library
    assert "Traceback (most recent call last)" not in proc.stderr, proc.stderr
    assert re.search(r"timed? ?out", host["error"], re.IGNORECASE), host["error"]


def test_a_step_that_hangs_times_out_on_the_host_and_the_run_rolls_back(tmp_path: Path) -> None:
    step_timeout = 3
    playbook = write_playbook(tmp_path, timeouts={"connect": 3, "command": step_timeout},
                              extra_checks=[slow_on(("dev-02",), 25)])
    before = take_snapshot()

    started = time.monotonic()
    proc, data = run_fleet_json("rollout", str(playbook), *INV)
    took = time.monotonic() - started

    assert proc.returncode == 1, proc.stderr
    dev02 = by_name(data)["dev-02"]
    assert dev02["status"] == "rolled_back", _hosts(data)
    assert f"timed out after {step_timeout}s" in dev02["error"], dev02
    assert step_timeout <= dev02["duration_s"] <= step_timeout + 3, dev02
    assert statuses(data)["dev-01"] == "rolled_back"
    assert took < step_timeout + 10
    where = assert_invariant(before, release_of(playbook))
    assert set(where.values()) == {"before"}, where
    note_timing("5 a step hangs (per-step timeout)", run_s=took,
                in_run_rollback_s=data.get("rollback_duration_s"))


# --------------------------------------------------------------------------- 6./7. signals


def _slow_batch_two(tmp_path: Path) -> tuple[Path, Controller]:
    """A rollout whose second batch (dev-04, dev-05) validates slowly, started in the
    background and caught while dev-04 is in its activate+validate step."""
    playbook = write_playbook(tmp_path, timeouts=TIMEOUTS,
                              extra_checks=[slow_on(("dev-04", "dev-05"), 3)])
    ctl = Controller(tmp_path / "ctl", "rollout", str(playbook), *INV)
    ctl.wait_event(event="StepStarted", host="dev-04", step="activate")
    ctl.wait_event(event="StepStarted", host="dev-05", step="activate")
    return playbook, ctl


def test_sigint_mid_batch_halts_rolls_back_and_exits_1(tmp_path: Path) -> None:
    before = take_snapshot()
    playbook, ctl = _slow_batch_two(tmp_path)
    ctl.signal(signal.SIGINT)
    sent = time.monotonic()
    code, data, err = ctl.finish()

    assert code == 1, err
    assert data is not None
    assert data["outcome"] == "rolled_back"
    assert "Ctrl-C" in data["halt_reason"]
    assert statuses(data) == {**dict.fromkeys(HOSTS[:5], "rolled_back"), "dev-06": "skipped"}
    where = assert_invariant(before, release_of(playbook))
    assert set(where.values()) == {"before"}, where
    note_timing("6 SIGINT mid-batch", run_s=ctl.duration,
                fault_to_exit_s=(ctl.ended or sent) - sent,
                in_run_rollback_s=data.get("rollback_duration_s"))


def test_sigkill_mid_batch_then_status_shows_interrupted_and_recover_rolls_back(
        tmp_path: Path) -> None:
    before = take_snapshot()
    playbook, ctl = _slow_batch_two(tmp_path)
    run_id = ctl.run_id()
    ctl.signal(signal.SIGKILL)
    code, data, _ = ctl.finish()
    assert code == -signal.SIGKILL
    assert data is None

    status = _status(playbook, *INV)
    for host in ("dev-04", "dev-05"):  # in flight: lock and uncommitted backup left
        assert status[host]["state"] == "interrupted", status[host]
        assert status[host]["unfinished_runs"] == [run_id], status[host]
    for host in ("dev-01", "dev-02", "dev-03"):  # finished before the kill
        assert (status[host]["state"], status[host]["run_id"]) == ("ok", run_id), status[host]
    assert status["dev-06"]["state"] == "not_deployed"

    started = time.monotonic()
    proc, rec = run_fleet_json("recover", str(playbook), *INV)
    took = time.monotonic() - started

    assert proc.returncode == 0, proc.stderr
    assert rec["recovered_runs"] == [run_id]
    assert statuses(rec) == {**dict.fromkeys(HOSTS[:5], "rolled_back"), "dev-06": "unchanged"}
    where = assert_invariant(before, release_of(playbook))
    assert set(where.values()) == {"before"}, where
    after = _status(playbook, *INV)
    assert {h["state"] for h in after.values()} == {"not_deployed"}
    note_timing("7 SIGKILL mid-batch, fleet recover", run_s=ctl.duration, recover_s=took)


# --------------------------------------------------------------------------- 8. rollback fails


def test_rollback_fails_on_a_host_that_is_down_exit_3_then_fleet_rollback_finishes(
        tmp_path: Path) -> None:
    failing = {"type": "command", "run": 'sleep 1; test "$(hostname)" != dev-04', "timeout": 10}
    playbook = write_playbook(tmp_path, timeouts=TIMEOUTS, extra_checks=[failing])
    before = take_snapshot()
    release = release_of(playbook)

    ctl = Controller(tmp_path / "ctl", "rollout", str(playbook), *INV)
    ctl.wait_event(event="StepStarted", host="dev-04", step="activate")
    with restored("dev-02"):
        container("dev-02").kill()  # deployed in batch 1; down when the rollback comes
        code, data, err = ctl.finish()

        assert code == 3, err
        assert data is not None
        assert data["outcome"] == "rollback_incomplete"
        assert statuses(data) == {"dev-01": "rolled_back", "dev-02": "rollback_failed",
                                  "dev-03": "rolled_back", "dev-04": "rolled_back",
                                  "dev-05": "rolled_back", "dev-06": "skipped"}
        assert "needs a person: dev-02" in err
        assert "dev-04" in data["halt_reason"]

        # still down: a rollback now names it again and leaves the others alone
        proc, again = run_fleet_json("rollback", str(playbook), *INV)
        assert proc.returncode == 3, proc.stderr
        assert statuses(again)["dev-02"] == "rollback_failed"
        assert {statuses(again)[h] for h in HOSTS if h != "dev-02"} <= {
            "not_deployed", "unchanged"}
    # dev-02 is back (restored): the next rollback finishes the job
    started = time.monotonic()
    proc, back = run_fleet_json("rollback", str(playbook), *INV)
    took = time.monotonic() - started

    assert proc.returncode == 0, proc.stderr
    assert back["release"] == release.id
    assert statuses(back)["dev-02"] == "rolled_back"
    where = assert_invariant(before, release)
    assert set(where.values()) == {"before"}, where
    note_timing("8 rollback fails on a down host", run_s=ctl.duration,
                in_run_rollback_s=data.get("rollback_duration_s"), rollback_s=took)


# --------------------------------------------------------------------------- 9. two controllers


def test_two_controllers_at_once_exactly_one_proceeds_per_host(tmp_path: Path) -> None:
    playbook = write_playbook(tmp_path, timeouts=TIMEOUTS, extra_checks=[slow_on(("dev-01",), 2)])
    before = take_snapshot()
    release = release_of(playbook)

    ctls = [Controller(tmp_path / f"ctl-{i}", "rollout", str(playbook), *INV) for i in (1, 2)]
    results = [c.finish() for c in ctls]

    ids = [data["run_id"] for _, data, _ in results if data]
    assert len(ids) == 2, [err for _, _, err in results]
    refused = 0
    for host in HOSTS:
        entries = [by_name(data)[host] for _, data, _ in results if data]
        assert [e["status"] for e in entries].count("deployed") <= 1, (host, entries)
        for i, entry in enumerate(entries):
            if entry["status"] == "failed":
                refused += 1
                assert f"locked by run {ids[1 - i]}" in entry["error"], entry
    assert refused >= 1, "both controllers ran without ever meeting the other's lock"
    codes = sorted(code for code, _, _ in results)
    winners = [data for code, data, _ in results if code == 0 and data]
    assert codes == [0, 1], [(c, d and _hosts(d)) for c, d, _ in results]
    assert statuses(winners[0]) == dict.fromkeys(HOSTS, "deployed")
    where = assert_invariant(before, release)
    assert set(where.values()) == {release.id}, where


# --------------------------------------------------------------------------- 10. drift


def test_hand_edit_after_rollout_is_shown_as_drift_and_not_silently_rolled_back(
        tmp_path: Path) -> None:
    playbook = write_playbook(tmp_path, timeouts=TIMEOUTS)
    seeded = take_snapshot(label="seeded")
    proc, first = run_fleet_json("rollout", str(playbook), *INV)
    assert proc.returncode == 0, proc.stderr
    edit = b"my own line, added by hand\n"
    code, out = docker_exec("dev-03", ["sh", "-c", 'printf "%s" "$2" >> "$1"', "sh",
                                       f"{TARGET}/COMMON_WORKFLOW.md", edit.decode()],
                            user="tester")
    assert code == 0, out
    code, out = docker_exec("dev-05", ["rm", f"{TARGET}/{LAST_FILE}"], user="tester")
    assert code == 0, out
    edited = read_file("dev-03", f"{TARGET}/COMMON_WORKFLOW.md")
    assert edited.endswith(edit)

    status = _status(playbook, *INV)
    assert status["dev-03"]["state"] == "drift"
    assert status["dev-03"]["drift"] == ["changed: COMMON_WORKFLOW.md"]
    assert status["dev-05"]["state"] == "drift"
    assert status["dev-05"]["drift"] == [f"missing: {LAST_FILE}"]
    assert {status[h]["state"] for h in HOSTS if h not in ("dev-03", "dev-05")} == {"ok"}

    before = take_snapshot()  # the rollback's "before": the release, hand edits included
    proc, back = run_fleet_json("rollback", str(playbook), *INV)

    assert proc.returncode == 3, proc.stderr
    for host, name in (("dev-03", "COMMON_WORKFLOW.md"), ("dev-05", LAST_FILE)):
        entry = by_name(back)[host]
        assert entry["status"] == "rollback_failed", _hosts(back)
        assert name in entry["error"], entry
        assert "--force" in entry["error"], entry
    assert read_file("dev-03", f"{TARGET}/COMMON_WORKFLOW.md") == edited
    where = assert_invariant(before, seeded)
    assert where == {**dict.fromkeys(HOSTS, "seeded"), "dev-03": "before", "dev-05": "before"}

    started = time.monotonic()
    proc, forced = run_fleet_json("rollback", str(playbook), *INV, "--force")
    took = time.monotonic() - started

    assert proc.returncode == 0, proc.stderr
    assert forced["release"] == first["release"]
    assert statuses(forced)["dev-03"] == statuses(forced)["dev-05"] == "rolled_back"
    where = assert_invariant(before, seeded)
    assert set(where.values()) == {"seeded"}, where
    note_timing("10 drift: rollback refused, then --force", rollback_s=took)
