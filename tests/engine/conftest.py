"""Fixtures for the engine tests (pretend hosts; see world.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.inventory.model import Host
from tests.engine.world import World


@pytest.fixture
def world(tmp_path: Path) -> World:
    """Six pretend hosts, each with unrelated files and one file the release replaces."""
    hosts = []
    for i in range(1, 7):
        name = f"h{i}"
        hosts.append(Host(name=name, address="localhost", port=22, user=None,
                          identity_file=None, connection="local",
                          known_hosts_file=tmp_path / "known_hosts", groups=("all",), vars={}))
        target = tmp_path / "homes" / name / "agents"
        (target / "custom").mkdir(parents=True)
        (target / "my-notes.md").write_text(f"notes of {name}\n")
        (target / "custom" / "agent-x.md").write_text("mine\n")
        (target / "custom" / "agent-x.md").chmod(0o600)
        (target / "COMMON_WORKFLOW.md").write_text("old workflow\n")
        (target / "COMMON_WORKFLOW.md").chmod(0o640)
    return World(tmp_path, tuple(hosts))
