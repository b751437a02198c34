"""Helpers for the tests on the hosts that behave like developers' machines (issue 11):
``DEV_LIKE_HOSTS`` (zsh-01, fish-01, tcsh-01, rc-01, busybox-01, mac-01), alone or
mixed with a dev host. Import next to ``testfleet_helpers`` and ``rollout_support``.

Their targets are ``~/.claude/agents`` (tester's home is /Users/tester on mac-01),
so snapshots are taken with ``TILDE_TARGET``; ``reset_host`` seeds them like the six.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import health_support
from faults import run_log, write_inventory
from health_support import memory_hog
from testfleet_helpers import (
    DEV_LIKE_HOSTS,
    KNOWN_HOSTS,
    KNOWN_HOSTS_EXTRA,
    PORTS,
    docker_exec,
    home_of,
    port_of,
)

TILDE_TARGET = "~/.claude/agents"
"""The example playbook's target as written there: tester's home differs on mac-01."""

HOG: str = health_support.HOG
"""The name of the memory-heavy process the memory checks watch (see ``named_hog``)."""

CHECKS: list[dict[str, Any]] = [
    {"type": "non_empty"},
    {"type": "contains", "file": "MANDATORY_FUNCTIONS.md", "pattern": "MANDATORY_FUNCTIONS"},
    {"type": "access_time", "max_ms": 500},
    {"type": "memory", "process": HOG, "max_mb": 500},
]
"""The checks every rollout here carries: generous limits, so a pass is the
host's measurement working, not a fast machine."""

HEALTH: list[dict[str, Any]] = [
    {"type": "memory", "process": HOG, "warn_mb": 20, "critical_mb": 500},
    {"type": "access_time", "warn_ms": 2000, "critical_ms": 5000},
]
"""Health checks for ``fleet monitor``: a HOG of HOG_MIB makes its host warn."""
HOG_MIB = 30

FAIL_MARKER = ".fail-check"
FAIL_CHECK: dict[str, Any] = {"type": "command", "run": f'test ! -e "$HOME/{FAIL_MARKER}"',
                              "timeout": 10}
"""A check that fails only on a host whose home holds FAIL_MARKER (``mark_failing``)."""


def devhost_inventory(folder: Path, hosts: list[str], *, canaries: tuple[str, ...] = ()) -> Path:
    """An inventory of ``hosts`` (dev hosts and DEV_LIKE_HOSTS, in that order of
    batches: ``canaries`` first), with a known_hosts file that has them all."""
    known = folder / "known_hosts"
    known.write_bytes(KNOWN_HOSTS.read_bytes() + KNOWN_HOSTS_EXTRA.read_bytes())
    ports: Mapping[str, int] = {h: PORTS[h] if h in PORTS else port_of(h) for h in hosts}
    return write_inventory(folder, ports, canaries=canaries, known_hosts=known)


def mark_failing(host: str) -> None:
    """Make FAIL_CHECK fail on ``host`` (a marker file in tester's home)."""
    code, out = docker_exec(host, ["touch", f"{home_of(host)}/{FAIL_MARKER}"], user="tester")
    assert code == 0, out


def steps_of(run_id: str, host: str) -> list[str]:
    """The steps ``host`` started in run ``run_id`` (from its run log), in order."""
    return [e["step"] for e in run_log(run_id) if e["event"] == "StepStarted"
            and e.get("host") == host]


@contextmanager
def named_hog(host: str, mib: int = HOG_MIB, lifetime: int = 300) -> Iterator[int]:
    """Run a process named HOG holding ``mib`` MiB on ``host`` (as tester) until the
    block ends; yield its pid (``health_support.memory_hog``, whose name is HOG)."""
    with memory_hog(host, mib, lifetime) as pid:
        yield pid


__all__ = ["CHECKS", "DEV_LIKE_HOSTS", "FAIL_CHECK", "HEALTH", "HOG", "HOG_MIB", "TILDE_TARGET",
           "devhost_inventory", "mark_failing", "named_hog", "steps_of"]
