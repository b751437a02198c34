"""Golden tests: the exact text of every remote script fleet renders.

Each case renders one script from a small release with awkward names (a space,
a quote, ``$(…)``, a newline) and compares it with
``tests/golden/<script>/<case>.txt``. The controller's identity, the lease and
the clock are frozen (``DeployContext(owner=..., now=...)``), so the text is
the same on every machine. The stage payload (the tar) is not part of it.

After a deliberate change to a script, rewrite the files and review the diff::

    FLEET_GOLDEN_UPDATE=1 python3 -m pytest tests/unit/test_golden.py
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from fleet.config.playbook import (
    AccessTimeHealth,
    CommandCheck,
    ContainsCheck,
    MemoryHealth,
    NonEmptyCheck,
)
from fleet.config.release import Release, ReleaseFile
from fleet.remote import activate, commit, prepare, probe, rollback, stage, texts
from fleet.remote.context import DeployContext
from fleet.remote.health import health_script
from fleet.remote.liveness import Owner
from fleet.transport.base import Script

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
UPDATE = os.environ.get("FLEET_GOLDEN_UPDATE") == "1"

OWNER = Owner("controller-1", "boot-0000", 4242, "12345")
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z

RELEASE = Release("abcd1234ef", (
    ReleaseFile("AGENTS.md", Path("/src/AGENTS.md"), "a" * 64, 0o644, 10),
    ReleaseFile("docs/it's here.md", Path("/src/q.md"), "b" * 64, 0o600, 20),
    ReleaseFile("bin/$(touch pwned)", Path("/src/p"), "c" * 64, 0o755, 30),
    ReleaseFile("notes/line\nbreak.md", Path("/src/n.md"), "d" * 64, 0o644, 40),
))

CTX = DeployContext(
    "demo", "~/agents dir", "20260101T000000Z-abc123", RELEASE,
    checks=(NonEmptyCheck(type="non_empty"),
            ContainsCheck(type="contains", file="AGENTS.md", pattern="^# '$(x)'"),
            CommandCheck(type="command", run="test -s \"AGENTS.md\" && echo '$(ok)'")),
    keep=3, command_timeout=60.0, owner=OWNER, now=NOW)

CASES: dict[str, Callable[[], Script]] = {
    "prepare/basic": lambda: prepare.script(CTX),
    "prepare/with_stage": lambda: prepare.script(CTX, b"payload not part of the golden"),
    "stage/basic": lambda: stage.script(CTX, b"payload not part of the golden"),
    "activate/checks": lambda: activate.script(CTX),
    "activate/commit": lambda: activate.script(CTX, commit=True),
    "commit/basic": lambda: commit.script(CTX),
    "rollback/standalone": lambda: rollback.script(
        "demo", "~/agents dir", "20260102T000000Z-def456", "20260101T000000Z-abc123",
        force=False, abandoned="1767225700", owner=OWNER, now=NOW),
    "rollback/in_run": lambda: rollback.in_run_script(CTX),
    "rollback/newest": lambda: rollback.newest_script(
        "demo", "~/agents dir", "20260102T000000Z-def456", "abcd1234", force=False,
        owner=OWNER, now=NOW),
    "probe/no_release": lambda: probe.script("demo", "~/agents dir"),
    "probe/release": lambda: probe.script("demo", "~/agents dir", RELEASE),
    "probe/texts": lambda: texts.script("demo", "~/agents dir", RELEASE,
                                        (True, False, True, True)),
    "health/basic": lambda: health_script("demo", "~/agents dir", RELEASE, (
        NonEmptyCheck(type="non_empty"),
        AccessTimeHealth(type="access_time", warn_ms=50, critical_ms=200),
        MemoryHealth(type="memory", process="agent 'x'", warn_mb=100, critical_mb=500))),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendered_script_matches_golden(case: str) -> None:
    text = CASES[case]().text
    path = GOLDEN / f"{case}.txt"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden for {case}: run with FLEET_GOLDEN_UPDATE=1"
    assert text == path.read_text(encoding="utf-8"), (
        f"{case} changed; if deliberate, run FLEET_GOLDEN_UPDATE=1 and review the diff")


def test_every_golden_file_has_a_case() -> None:
    files = {str(p.relative_to(GOLDEN).with_suffix("")) for p in GOLDEN.rglob("*.txt")}
    assert files == set(CASES)


def test_scripts_do_not_depend_on_this_process() -> None:
    """The frozen owner and clock reach every script that takes or holds a lock."""
    makers: tuple[Callable[[], Script], ...] = (
        lambda: prepare.script(CTX), lambda: commit.script(CTX),
        lambda: rollback.in_run_script(CTX))
    for make in makers:
        text = make().text
        assert "OWNER='controller-1 boot-0000 4242 12345'" in text
        assert "LEASE=1767225720" in text
