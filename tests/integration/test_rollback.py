"""``fleet rollback`` against the SSH test fleet: walking back release by release,
and awkward file names (spaces, quotes, command substitutions, sub-folders)
that must deploy and roll back intact without ever being run by a shell.
"""

from __future__ import annotations

import os
from pathlib import Path

from rollout_support import (
    EXAMPLE_PLAYBOOK,
    EXAMPLE_SOURCE,
    INV,
    STATE,
    assert_no_leftovers,
    copy_example_source,
    example_files,
    exists,
    expected_after,
    manifests,
    statuses,
    write_playbook,
)
from testfleet_helpers import HOSTS, docker_exec, manifest, run_fleet_json, seeded_manifest

PWNED = "/tmp/pwned"


def test_rollback_goes_back_one_release_at_a_time(tmp_path: Path) -> None:
    names = example_files()
    source_b = copy_example_source(tmp_path / "files-b")
    changed = source_b / "COMMON_TEMPLATES.md"
    changed.write_bytes(changed.read_bytes() + b"\n<!-- release B -->\n")
    playbook_b = write_playbook(tmp_path, source=str(source_b))
    after_a = expected_after(EXAMPLE_SOURCE, names)
    after_b = expected_after(source_b, names)
    assert after_a != after_b

    proc, a = run_fleet_json("rollout", str(EXAMPLE_PLAYBOOK), *INV)
    assert proc.returncode == 0, proc.stderr
    assert a["outcome"] == "success"
    assert manifests() == dict.fromkeys(HOSTS, after_a)
    proc, b = run_fleet_json("rollout", str(playbook_b), *INV)
    assert proc.returncode == 0, proc.stderr
    assert b["outcome"] == "success"
    assert statuses(b) == dict.fromkeys(HOSTS, "deployed")
    assert b["release"] != a["release"]
    assert manifests() == dict.fromkeys(HOSTS, after_b)

    proc, back = run_fleet_json("rollback", str(playbook_b), *INV)

    assert proc.returncode == 0, proc.stderr
    assert back["command"] == "rollback"
    assert back["outcome"] == "success"
    assert back["exit_code"] == 0
    assert back["release"] == b["release"]  # the release undone
    assert statuses(back) == dict.fromkeys(HOSTS, "rolled_back")
    assert all(h["release"] == a["release"] for h in back["hosts"]), back["hosts"]
    assert back["rollback_duration_s"] > 0
    assert manifests() == dict.fromkeys(HOSTS, after_a)
    for host in HOSTS:
        assert_no_leftovers(host)

    proc, back = run_fleet_json("rollback", str(playbook_b), *INV)

    assert proc.returncode == 0, proc.stderr
    assert back["outcome"] == "success"
    assert back["release"] == a["release"]
    assert statuses(back) == dict.fromkeys(HOSTS, "rolled_back")
    assert all(h["release"] is None for h in back["hosts"]), back["hosts"]
    assert back["rollback_duration_s"] > 0
    assert manifests() == dict.fromkeys(HOSTS, seeded_manifest())
    for host in HOSTS:
        assert_no_leftovers(host)
        assert not exists(host, f"{STATE}/current"), host


# Names a careless shell would split, unquote or execute. None holds "/" except
# the last two: one really in a sub-folder, one whose "/" makes it a path
# "$(touch " / "tmp" / "pwned).md" (folders with awkward names).
AWKWARD: dict[str, tuple[bytes, int]] = {
    "with space.md": (b"spaces\n", 0o644),
    "it's \"quoted\".md": (b"quotes\n", 0o600),
    "$(touch \"$(printf '\\057tmp\\057pwned')\").md": (b"dollar paren\n", 0o644),
    "`touch \"$(printf '\\057tmp\\057pwned')\"`.md": (b"backticks\n", 0o755),
    "-n; touch pwned *.md": (b"dash, semicolon, glob\n", 0o644),
    "sub dir/nested file.md": (b"nested\n", 0o640),
    "$(touch /tmp/pwned).md": (b"slashes in a substitution\n", 0o644),
    "COMMON_WORKFLOW.md": (b"# Workflow, awkward edition\n", 0o644),
}
AWKWARD_DIRS = {"sub dir/": 0o755, "$(touch /": 0o755, "$(touch /tmp/": 0o755}


def _pwned_anywhere() -> list[str]:
    found = [f"controller:{PWNED}"] if os.path.lexists(PWNED) else []
    for host in HOSTS:
        _, out = docker_exec(host, ["sh", "-c", 'ls -d /tmp/pwned "$1"/pwned 2>/dev/null',
                                    "sh", "/home/tester"])
        if out.strip():
            found.append(f"{host}:{out.decode(errors='replace').strip()}")
    return found


def test_awkward_file_names_deploy_and_roll_back_intact(tmp_path: Path) -> None:
    assert _pwned_anywhere() == [], "a /tmp/pwned exists before the test"
    source = tmp_path / "awkward"
    for name, (content, mode) in AWKWARD.items():
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)
    names = list(AWKWARD)
    playbook = write_playbook(
        tmp_path, source=str(source), files=names,
        checks=[{"type": "non_empty"},
                {"type": "contains", "file": "COMMON_WORKFLOW.md", "pattern": "Workflow"}],
    )
    wanted = expected_after(source, names, dirs=AWKWARD_DIRS)

    proc, data = run_fleet_json("rollout", str(playbook), *INV)

    assert proc.returncode == 0, proc.stderr
    assert data["outcome"] == "success"
    assert statuses(data) == dict.fromkeys(HOSTS, "deployed")
    for host in HOSTS:
        assert manifest(host) == wanted, host
        assert_no_leftovers(host)
    assert _pwned_anywhere() == []

    proc, back = run_fleet_json("rollback", str(playbook), *INV)

    assert proc.returncode == 0, proc.stderr
    assert back["outcome"] == "success"
    assert statuses(back) == dict.fromkeys(HOSTS, "rolled_back")
    for host in HOSTS:
        assert manifest(host) == seeded_manifest(), host
        assert_no_leftovers(host)
    assert _pwned_anywhere() == []
