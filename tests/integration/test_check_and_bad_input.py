"""``fleet rollout --check`` (reports, touches nothing) and bad input (exit 2,
one line naming the file or option, no host contacted) against the SSH test fleet.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from rollout_support import (
    EXAMPLE_PLAYBOOK,
    EXAMPLE_SOURCE,
    INV,
    STATE,
    connection_counts,
    connection_deltas,
    copy_example_source,
    example_files,
    expected_after,
    manifests,
    statuses,
    tree_stamps,
    write_playbook,
)
from testfleet_helpers import (
    HOSTS,
    STATE_DIR,
    TARGET,
    run_fleet,
    run_fleet_json,
    seeded_manifest,
    state_leftovers,
)


def test_check_reports_would_change_and_touches_nothing() -> None:
    names = example_files()
    seeded = manifests()
    stamps = {h: tree_stamps(h, TARGET) for h in HOSTS}

    proc, data = run_fleet_json("rollout", str(EXAMPLE_PLAYBOOK), *INV, "--check")

    assert proc.returncode == 0, proc.stderr
    assert data["outcome"] == "checked"
    assert statuses(data) == dict.fromkeys(HOSTS, "would_change")
    for entry in data["hosts"]:
        changes = entry.get("changes")
        assert changes is not None, entry
        assert changes["replace"] == ["COMMON_WORKFLOW.md"], entry
        assert changes["create"] == [n for n in names if n != "COMMON_WORKFLOW.md"], entry
    assert manifests() == seeded
    for host in HOSTS:
        assert tree_stamps(host, TARGET) == stamps[host], host
        assert tree_stamps(host, STATE_DIR) == {}, host  # no state folder made
        assert state_leftovers(host) == [], host


def test_check_after_a_rollout_names_only_the_changed_file(tmp_path: Path) -> None:
    names = example_files()
    proc, _ = run_fleet_json("rollout", str(EXAMPLE_PLAYBOOK), *INV)
    assert proc.returncode == 0, proc.stderr
    source_b = copy_example_source(tmp_path / "files-b")
    (source_b / "COMMON_TEMPLATES.md").write_bytes(b"# templates, release B\n")
    playbook_b = write_playbook(tmp_path, source=str(source_b))
    stamps = {h: (tree_stamps(h, TARGET), tree_stamps(h, STATE)) for h in HOSTS}

    proc, same = run_fleet_json("rollout", str(EXAMPLE_PLAYBOOK), *INV, "--check")
    assert proc.returncode == 0, proc.stderr
    assert statuses(same) == dict.fromkeys(HOSTS, "unchanged")

    proc, data = run_fleet_json("rollout", str(playbook_b), *INV, "--check")

    assert proc.returncode == 0, proc.stderr
    assert data["outcome"] == "checked"
    assert statuses(data) == dict.fromkeys(HOSTS, "would_change")
    for entry in data["hosts"]:
        assert entry["changes"] == {"create": [], "replace": ["COMMON_TEMPLATES.md"]}, entry
    assert manifests() == dict.fromkeys(HOSTS, expected_after(EXAMPLE_SOURCE, names))
    for host in HOSTS:
        assert (tree_stamps(host, TARGET), tree_stamps(host, STATE)) == stamps[host], host


# --------------------------------------------------------------------------- bad input


def _invalid_yaml(tmp: Path) -> Path:
    path = tmp / "broken.yml"
    path.write_text(EXAMPLE_PLAYBOOK.read_text() + "\nstrategy: [canary: 1\n")
    return path


def _unknown_key(tmp: Path) -> Path:
    return write_playbook(tmp, filename="unknown-key.yml", rollout_speed="fast")


def _missing_source_file(tmp: Path) -> Path:
    return write_playbook(tmp, filename="missing-file.yml",
                          files=[*example_files(), "NOT_THERE.md"])


def _dot_dot_name(tmp: Path) -> Path:
    source = copy_example_source(tmp / "src")
    return write_playbook(tmp, filename="dotdot.yml", source=str(source),
                          files=["AGENT_COMMON_HEADER.md", "../src/COMMON_WORKFLOW.md"])


def _root_target(tmp: Path) -> Path:
    return write_playbook(tmp, filename="root-target.yml", target="/")


BAD_PLAYBOOKS: dict[str, Callable[[Path], Path]] = {
    "invalid-yaml": _invalid_yaml,
    "unknown-key": _unknown_key,
    "missing-source-file": _missing_source_file,
    "dot-dot-in-file-name": _dot_dot_name,
    "target-is-root": _root_target,
}


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, f"stderr is not one line:\n{stderr}"
    return lines[0]


@pytest.mark.parametrize("case", list(BAD_PLAYBOOKS))
def test_bad_playbook_exits_2_with_one_line_and_contacts_no_host(
        case: str, tmp_path: Path) -> None:
    playbook = BAD_PLAYBOOKS[case](tmp_path)
    before = connection_counts(settle=0.2)

    proc = run_fleet("rollout", str(playbook), *INV)

    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    line = _one_line(proc.stderr)
    assert playbook.name in line, line
    assert proc.stdout == ""
    assert connection_deltas(before) == dict.fromkeys(HOSTS, 0)
    assert manifests() == dict.fromkeys(HOSTS, seeded_manifest())


def test_unknown_limit_host_exits_2_with_one_line_and_contacts_no_host() -> None:
    before = connection_counts(settle=0.2)

    proc = run_fleet("rollout", str(EXAMPLE_PLAYBOOK), *INV, "--limit", "dev-99")

    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    line = _one_line(proc.stderr)
    assert "--limit" in line, line
    assert "dev-99" in line, line
    assert connection_deltas(before) == dict.fromkeys(HOSTS, 0)
    assert manifests() == dict.fromkeys(HOSTS, seeded_manifest())
