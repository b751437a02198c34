"""The kill loop's payload: the release (many small files in sub-folders, a large
one) and the target's parent folder before each run."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

KEEP = 5
"""``backup.keep`` of the loop's playbooks."""


@dataclass(frozen=True)
class Payload:
    """What every iteration deploys and over what: ``source`` (the release: ``files``
    small files in sub-folders, a few scripts, and ``big.bin``) and ``before`` (the
    target's parent folder before the run: the target ``agents/`` holding unrelated
    files and older versions of about half the release, a large one included, and
    files beside the target)."""

    source: Path
    before: Path


def make_payload(folder: Path, *, files: int = 120, big_mb: int = 24, seed: int = 0) -> Payload:
    """Write a ``Payload`` under ``folder`` (content drawn from ``seed``)."""
    rng = random.Random(seed)
    source, before = folder / "source", folder / "before"
    target = before / "agents"
    release: dict[str, tuple[bytes, int]] = {
        "README.md": (b"# the agents framework (kill loop release)\n", 0o644),
        "big.bin": (rng.randbytes(big_mb << 20), 0o644),
    }
    for i in range(4):
        release[f"tools/run-{i}.sh"] = (f"#!/bin/sh\necho tool {i}\n".encode(), 0o755)
    for i in range(files):
        name = f"team-{i % 4}/role-{i // 4 % 3}/doc-{i:03d}.md"  # 12 folders
        release[name] = (f"# doc {i}\n{rng.getrandbits(64):x}\n".encode(), 0o600 if i % 7 == 0
                         else 0o644)
    old: dict[str, tuple[bytes, int]] = {
        "my-notes.md": (b"my own notes, not fleet's\n", 0o644),
        "private/agent-x.md": (b"hand-made, private\n", 0o600),
        "team-0/role-0/mine.md": (b"mine, inside a folder the release writes to\n", 0o644),
        "team-2/.hidden-notes": (b"hidden\n", 0o600),
        "big.bin": (rng.randbytes(big_mb << 20), 0o600),
        "README.md": release["README.md"],  # already the release's: "same"
    }
    for i in range(files):  # half of teams 0-2 there before (team 3 is new)
        name = f"team-{i % 4}/role-{i // 4 % 3}/doc-{i:03d}.md"
        if i // 4 % 2 == 0 and i % 4 != 3:
            old[name] = (f"old doc {i}\n".encode(), 0o640 if i % 5 == 0 else 0o644)
    _write_tree(source, release)
    _write_tree(target, old)
    (target / "team-1").chmod(0o750)  # a folder the release writes into keeps its mode
    _write_tree(before, {"sibling.txt": (b"beside the target\n", 0o644),
                         "other/keep.md": (b"keep me\n", 0o644)})
    return Payload(source, before)


def _write_tree(root: Path, files: Mapping[str, tuple[bytes, int]]) -> None:
    for name, (data, mode) in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)


def write_playbook(folder: Path, payload: Payload, *, name: str, target: str, failing: bool,
                   timeouts: Mapping[str, int]) -> Path:
    """A playbook of ``payload``'s release to ``target``; ``failing`` adds a check that
    fails on every host."""
    checks: list[dict[str, Any]] = [
        {"type": "non_empty"},
        {"type": "contains", "file": "README.md", "pattern": "kill loop release"},
        {"type": "command", "run": "test -s big.bin", "timeout": 5},
    ]
    if failing:
        checks.append({"type": "command", "run": "test -e no-such-file", "timeout": 5})
    data = {"name": name, "source": str(payload.source), "target": target,
            "strategy": {"canary": 1, "batch_size": 2}, "timeouts": dict(timeouts),
            "backup": {"keep": KEEP}, "checks": checks}
    path = folder / f"playbook-{'fail' if failing else 'pass'}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
