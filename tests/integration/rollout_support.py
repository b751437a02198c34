"""Shared helpers for the rollout/rollback scenarios against the SSH test fleet.

Builds playbook variants in a test's tmp_path, computes the manifests a host
must have, and reads the host-side facts the assertions need (state files,
timestamps, SSH logins). Import from here next to ``testfleet_helpers``.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from testfleet_helpers import (
    HOME,
    HOSTS,
    INVENTORY,
    REPO_ROOT,
    STATE_DIR,
    docker_exec,
    manifest,
    seeded_manifest,
    ssh_connection_count,
    state_leftovers,
)

EXAMPLE_FILE: Path = REPO_ROOT / "playbooks" / "agents-framework.yml"
"""The example playbook itself, with the runbook's 50 ms access-time gate."""
EXAMPLE_SOURCE: Path = REPO_ROOT / "playbooks" / "files" / "agents-framework"
NAME = "agents-framework"
STATE = f"{STATE_DIR}/{NAME}"
"""This deployment's state folder on every host."""
INV: tuple[str, str] = ("-i", str(INVENTORY))

Manifest = dict[str, tuple[str, int]]


def example_files() -> list[str]:
    """The example playbook's ``files`` list (deploy order)."""
    data = yaml.safe_load(EXAMPLE_FILE.read_text())
    return list(data["files"])


def source_manifest(source: Path, names: list[str]) -> Manifest:
    """``manifest()``-shaped entries for release files ``names`` read from ``source``
    on the controller (sha256 of the bytes, permission bits of the source file)."""
    result: Manifest = {}
    for name in names:
        path = source / name
        result[name] = (hashlib.sha256(path.read_bytes()).hexdigest(),
                        path.stat().st_mode & 0o7777)
    return result


def expected_after(source: Path, names: list[str], base: Manifest | None = None,
                   dirs: dict[str, int] | None = None) -> Manifest:
    """The target's manifest after the release is on a host that had ``base``
    (default: the seeded target): base + release files, plus ``dirs`` (folders
    the release makes, "rel/" -> mode)."""
    result = dict(seeded_manifest() if base is None else base)
    result.update(source_manifest(source, names))
    result.update({rel: ("", mode) for rel, mode in (dirs or {}).items()})
    return result


def write_playbook(tmp_path: Path, *, filename: str = "playbook.yml",
                   extra_checks: list[dict[str, Any]] | None = None,
                   **overrides: Any) -> Path:
    """Write a variant of the example playbook into ``tmp_path`` and return its path.

    ``source`` defaults to the example's source folder (absolute); keyword
    arguments replace top-level keys; ``extra_checks`` are appended to checks.
    """
    data: dict[str, Any] = yaml.safe_load(EXAMPLE_FILE.read_text())
    data["source"] = str(EXAMPLE_SOURCE)
    # The example's 50 ms access-time gate is the runbook's, for a laptop. The
    # test fleet's files sit on fuse-overlayfs on a 2-core machine running a
    # dozen containers: one `stat` process there has taken 20-440 ms. These
    # tests are about what fleet does, not how fast a host is: give the gate
    # room (tests/integration/test_dev_hosts.py runs the example file itself).
    data["checks"] = [{**c, "max_ms": 2000} if c.get("type") == "access_time" else c
                      for c in data.get("checks", [])]
    data.update(overrides)
    if extra_checks:
        data["checks"] = [*data.get("checks", []), *extra_checks]
    path = tmp_path / filename
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


EXAMPLE_PLAYBOOK: Path = write_playbook(
    Path(tempfile.mkdtemp(prefix="fleet-it-example-")), filename="agents-framework.yml")
"""The example playbook as the integration tests run it: same name, files and
release, with the access-time gate given room (see :func:`write_playbook`)."""


def copy_example_source(dest: Path) -> Path:
    """Copy the example's source folder to ``dest`` (modes kept) and return ``dest``."""
    shutil.copytree(EXAMPLE_SOURCE, dest)
    return dest


def connection_counts(settle: float = 0.4) -> dict[str, int]:
    """``ssh_connection_count`` of every host, read until two reads ``settle`` s
    apart agree (sshd's log lines reach ``docker logs`` asynchronously)."""
    counts = {h: ssh_connection_count(h) for h in HOSTS}
    for _ in range(10):
        time.sleep(settle)
        again = {h: ssh_connection_count(h) for h in HOSTS}
        if again == counts:
            return counts
        counts = again
    return counts


def connection_deltas(before: dict[str, int]) -> dict[str, int]:
    """SSH logins each host accepted since ``before`` (from ``connection_counts``)."""
    after = connection_counts()
    return {h: after[h] - before[h] for h in HOSTS}


def tree_stamps(host: str, path: str) -> dict[str, str]:
    """Relative path -> "type mode mtime ctime" for ``path`` and everything under
    it on ``host`` ({} if it does not exist). Any write, chmod, create or delete
    changes this."""
    code, _ = docker_exec(host, ["test", "-e", path])
    if code != 0:
        return {}
    code, out = docker_exec(host, ["find", path, "-printf", r"%P\0%y %m %T@ %C@\0"])
    assert code == 0, out
    parts = out.split(b"\0")
    return {parts[i].decode(errors="surrogateescape"): parts[i + 1].decode()
            for i in range(0, len(parts) - 1, 2)}


def files_under(host: str, path: str) -> list[str]:
    """Relative paths of every non-directory under ``path`` on ``host`` (sorted)."""
    code, _ = docker_exec(host, ["test", "-e", path])
    if code != 0:
        return []
    code, out = docker_exec(host, ["find", path, "!", "-type", "d", "-printf", r"%P\0"])
    assert code == 0, out
    return sorted(p.decode(errors="surrogateescape") for p in out.split(b"\0") if p)


def exists(host: str, path: str) -> bool:
    """True if ``path`` exists on ``host`` (as root)."""
    code, _ = docker_exec(host, ["test", "-e", path])
    return code == 0


def as_tester(host: str, script: str, *args: str) -> None:
    """Run a shell snippet on ``host`` as tester (HOME set); fail the test if it fails."""
    code, out = docker_exec(host, ["env", f"HOME={HOME}", "sh", "-c", script, "sh", *args],
                            user="tester")
    assert code == 0, out


def assert_no_leftovers(host: str) -> None:
    """No lock or staging on ``host``, and nothing of fleet's next to the target
    (``~/.claude`` holds only the target folder)."""
    assert state_leftovers(host) == [], host
    stray = [p for p in manifest(host, f"{HOME}/.claude") if not p.startswith("agents/")]
    assert stray == [], (host, stray)


def by_name(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The ``--json`` result's host entries keyed by host name."""
    return {h["name"]: h for h in data["hosts"]}


def statuses(data: dict[str, Any]) -> dict[str, str]:
    """Host name -> status from a ``--json`` result."""
    return {h["name"]: h["status"] for h in data["hosts"]}


def manifests() -> dict[str, Manifest]:
    """``manifest()`` of the target on every host."""
    return {h: manifest(h) for h in HOSTS}
