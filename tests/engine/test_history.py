"""Run logs become history, Markdown/JSON reports and JUnit XML."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from fleet.app import Target, rollout
from fleet.history import list_runs, read_run, to_markdown
from fleet.journal import Journal
from fleet.junit import to_junit
from fleet.plan import build_plan
from fleet.playbook import load_playbook
from fleet.release import build_release
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
