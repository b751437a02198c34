"""Run logs become history, Markdown/JSON reports and JUnit XML."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fleet.cli.export import to_junit
from fleet.config.playbook import load_playbook
from fleet.config.release import build_release
from fleet.engine.watch import SampleLog
from fleet.plan import build_plan
from fleet.runlog.history import list_runs, read_run, to_markdown
from fleet.runlog.journal import Journal
from fleet.verbs.rollout import Target, rollout
from tests.engine.world import World


def logged_run(world: World, run_id: str) -> list[str]:
    journal = Journal(world.root / "runs", run_id)
    pb = world.playbook()
    loaded = load_playbook(pb)
    rollout(Target(loaded, build_release(loaded), world.hosts),
            build_plan([h.name for h in world.hosts], loaded.strategy), world.connector,
            journal, run_id=run_id)
    journal.close()
    return journal.path.read_text().splitlines()


def test_a_failed_run_reads_back_with_every_host_and_step(world: World) -> None:
    (world.home("h4") / ".fail-check").write_text("")
    record = read_run(logged_run(world, "20260101T000000Z-aaaaaa"), "20260101T000000Z-aaaaaa")
    assert record.outcome == "rolled_back"
    assert record.command == "rollout"
    statuses = {h.name: h.status for h in record.hosts.values()}
    assert statuses == {"h1": "rolled_back", "h2": "rolled_back", "h3": "rolled_back",
                        "h4": "rolled_back", "h5": "rolled_back", "h6": "skipped"}
    h4_steps = [(s.step, s.ok) for s in record.hosts["h4"].steps]
    assert h4_steps == [("connect", True), ("prepare", True), ("stage", True),
                        ("activate", False), ("rollback", True)]
    assert "h4" in (record.halt_reason or "")
    text = to_markdown(record)
    assert "outcome: **rolled_back**" in text
    assert "| h4 | rolled_back |" in text
    assert "activate FAILED" in text


def test_junit_has_one_case_per_host_and_step(world: World) -> None:
    (world.home("h2") / ".fail-check").write_text("")
    record = read_run(logged_run(world, "20260101T000000Z-bbbbbb"), "x")
    suite = ET.fromstring(to_junit(record))  # noqa: S314 - our own output
    cases = suite.findall("testcase")
    assert int(suite.get("tests", "0")) == len(cases)
    failed = [(c.get("classname"), c.get("name")) for c in cases if c.find("failure") is not None]
    assert ("h2", "activate") in failed
    assert int(suite.get("failures", "0")) == len(failed)
    skipped = {c.get("classname") for c in cases if c.find("skipped") is not None}
    assert skipped == {"h4", "h5", "h6"}
    assert suite.get("timestamp", "").endswith("+00:00")


def test_history_and_report_commands(world: World, tmp_path: Path) -> None:
    runs = tmp_path / ".fleet" / "runs"
    runs.mkdir(parents=True)
    lines = logged_run(world, "20260101T000000Z-cccccc")
    (runs / "20260101T000000Z-cccccc.jsonl").write_text("\n".join(lines) + "\n")
    (runs / "20260101T000001Z-dddddd.jsonl").write_text(lines[0] + "\n")  # a run cut short
    assert [r.outcome for r in list_runs(runs)] == ["success", "unfinished"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def fleet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "fleet", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60, check=False)

    listed = json.loads(fleet("history", "--json").stdout)
    assert [r["run_id"] for r in listed] == ["20260101T000000Z-cccccc",
                                             "20260101T000001Z-dddddd"]
    assert listed[0]["hosts"] == "6 deployed"
    done = fleet("report", "20260101T000000Z-c", "--format", "json", "--junit", "out.xml")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "success"
    assert ET.parse(tmp_path / "out.xml").getroot().get("failures") == "0"  # noqa: S314
    missing = fleet("report", "nope")
    assert missing.returncode == 2
    assert "no run matches 'nope'" in missing.stderr


def _fleet_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.run([sys.executable, "-m", "fleet", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def test_a_half_written_line_is_skipped_and_flagged(world: World, tmp_path: Path) -> None:
    lines = logged_run(world, "20260101T000000Z-eeeeee")
    cut = len(lines) // 2
    damaged = [*lines[:cut], lines[cut][: len(lines[cut]) // 2], *lines[cut + 1:]]
    record = read_run(damaged, "20260101T000000Z-eeeeee")
    assert record.skipped_lines == [cut + 1]
    assert record.outcome == "success"
    assert "- run log: skipped line " in to_markdown(record)
    assert record.to_json()["skipped_lines"] == [cut + 1]
    # The controller died while writing its last line: the run reads as unfinished.
    record = read_run([*lines[:-1], lines[-1][:10]], "x")
    assert (record.outcome, record.skipped_lines) == ("unfinished", [len(lines)])


@pytest.mark.parametrize("line", [
    '{"ts": 1, "event": "StepFinished", "host": "h1"}',  # a field missing
    '{"ts": 1, "event": "HostFinished", "host": "h1", "status": 3, "duration": 1}',
    '{"ts": "soon", "event": "RunStarted", "command": "rollout", "playbook": "p"}',
    '{"ts": 1, "event": "RunFinished", "outcome": "success", "duration": NaN}',
    '{"ts": 1e300, "event": "RunStarted", "command": "rollout", "playbook": "p"}',
    '{"ts": 1, "event": "RunStarted", "command": "rollout", "playbook": "p", "hosts": "h1"}',
    "[1, 2]", "42", "null", "\udcff garbage",
])
def test_a_damaged_event_is_skipped_not_a_crash(line: str) -> None:
    record = read_run([line], "x")
    assert record.skipped_lines == [1]
    assert record.hosts == {}
    to_markdown(record)
    to_junit(record)


def test_history_and_report_read_a_log_with_a_truncated_line(world: World,
                                                             tmp_path: Path) -> None:
    runs = tmp_path / ".fleet" / "runs"
    runs.mkdir(parents=True)
    lines = logged_run(world, "20260101T000000Z-ffffff")
    log = runs / "20260101T000000Z-ffffff.jsonl"
    log.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:25])  # killed mid-line
    (runs / "20260101T000001Z-gggggg.jsonl").write_bytes(b'{"ts": 1, "ev\xff\n')
    listed = _fleet_in(tmp_path, "history", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["outcome"] for r in rows] == ["unfinished", "unfinished"]
    assert rows[0]["skipped_lines"] == [len(lines)]
    assert "Traceback" not in listed.stderr
    assert f"{log.name}: skipped line {len(lines)} (not a complete event)" in listed.stderr
    table = _fleet_in(tmp_path, "history")
    assert table.returncode == 0, table.stderr
    report = _fleet_in(tmp_path, "report", "20260101T000000Z-f", "--junit", "out.xml")
    assert report.returncode == 0, report.stderr
    assert f"- run log: skipped line {len(lines)} (not a complete event)" in report.stdout


def test_report_takes_a_prefix_not_a_pattern(tmp_path: Path) -> None:
    runs = tmp_path / ".fleet" / "runs"
    runs.mkdir(parents=True)
    (runs / "20260101T000000Z-aaaaaa.jsonl").write_text("")
    (tmp_path / ".fleet" / "secret.jsonl").write_text("")
    for pattern in ("*", "../secret", "2026*"):
        done = _fleet_in(tmp_path, "report", pattern)
        assert done.returncode == 2, pattern
        assert "no run matches" in done.stderr


def test_run_logs_are_private_whatever_the_umask(world: World, tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        journal = Journal(tmp_path / ".fleet" / "runs", "20260101T000000Z-hhhhhh")
        journal.close()
        legacy = tmp_path / "old" / "runs"
        legacy.mkdir(parents=True, mode=0o755)
        Journal(legacy, "x").close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / ".fleet" / "runs").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / ".fleet").stat().st_mode) == 0o700
    assert stat.S_IMODE(legacy.stat().st_mode) == 0o700  # an older, open runs folder is closed


def test_monitor_sample_logs_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        log = SampleLog(tmp_path / ".fleet" / "monitor" / "demo.jsonl")
        log.write("sample", {"host": "h1"})
        log.close()
    finally:
        os.umask(old)
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.path.parent.stat().st_mode) == 0o700
    assert json.loads(log.path.read_text()) == {"kind": "sample", "host": "h1"}
