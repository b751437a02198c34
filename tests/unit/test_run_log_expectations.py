"""What the controller's run log lets it expect of the hosts (issue 14): the
release a rollback should undo in one round trip, and the hosts a rerun need
not upload to."""

from __future__ import annotations

import json
from pathlib import Path

from fleet.runlog.history import expected_release, hosts_on_release


def log(folder: Path, run_id: str, command: str, release: str | None, outcome: str,
        hosts: dict[str, str], playbook: str = "demo") -> None:
    events = [{"ts": 1.0, "event": "RunStarted", "run_id": run_id, "command": command,
               "playbook": playbook, "release": release, "hosts": list(hosts),
               "batches": [list(hosts)]}]
    events += [{"ts": 2.0, "event": "HostFinished", "host": h, "status": s, "duration": 0.1,
                "error": None} for h, s in hosts.items()]
    events.append({"ts": 3.0, "event": "RunFinished", "run_id": run_id, "outcome": outcome,
                   "duration": 2.0, "rollback_duration": None})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{run_id}.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))


def test_after_a_rollout_its_release_and_its_hosts_are_expected(tmp_path: Path) -> None:
    log(tmp_path, "20260101T000000Z-a", "rollout", "r1", "success",
        {"h1": "deployed", "h2": "unchanged", "h3": "failed"})
    log(tmp_path, "20260101T000001Z-b", "rollout", "x9", "success", {"h1": "deployed"},
        playbook="other")
    assert expected_release(tmp_path, "demo") == "r1"
    assert hosts_on_release(tmp_path, "demo", "r1") == {"h1", "h2"}
    assert hosts_on_release(tmp_path, "demo", "r2") == frozenset()


def test_after_a_rollback_or_a_rolled_back_rollout_nothing_is_expected(tmp_path: Path) -> None:
    log(tmp_path, "20260101T000000Z-a", "rollout", "r1", "success", {"h1": "deployed"})
    log(tmp_path, "20260101T000001Z-b", "rollback", "r1", "success", {"h1": "rolled_back"})
    assert expected_release(tmp_path, "demo") is None
    assert hosts_on_release(tmp_path, "demo", "r1") == frozenset()
    log(tmp_path, "20260101T000002Z-c", "rollout", "r2", "rolled_back", {"h1": "rolled_back"})
    assert expected_release(tmp_path, "demo") is None
    assert expected_release(tmp_path / "none", "demo") is None
