"""A fleet of pretend hosts on this machine: each host is a LocalTransport with
its own HOME, so the real remote scripts run for real, in milliseconds."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fleet.config.playbook import load_playbook
from fleet.config.release import build_release
from fleet.errors import ConnectError
from fleet.events import Recorder
from fleet.inventory.model import Host
from fleet.plan import build_plan
from fleet.results import RunResult
from fleet.transport.base import Transport
from fleet.transport.fake import FakeTransport
from fleet.transport.local import LocalTransport
from fleet.verbs.rollout import Target, rollout

FILES = {
    "AGENT_COMMON_HEADER.md": "# Header\ncommon header\n",
    "MANDATORY_FUNCTIONS.md": "# MANDATORY_FUNCTIONS\nfunctions\n",
    "COMMON_WORKFLOW.md": "# Workflow\nsteps\n",
    "sub dir/it's $(touch pwned) `x`.md": "odd name\n",
    "new\nline ünïcødé ✓.md": "newline and non-ASCII in the name\n",
    "-n; rm -rf ~ *.md": "looks like options and a glob\n",
}

Manifest = dict[str, tuple[str, int]]


def manifest(folder: Path) -> Manifest:
    """Relative path -> (sha256, mode) of every file and folder under ``folder``."""
    result: Manifest = {}
    if not folder.exists():
        return result
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            path = Path(root, name)
            result[str(path.relative_to(folder)) + "/"] = ("", path.stat().st_mode & 0o7777)
        for name in files:
            path = Path(root, name)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            result[str(path.relative_to(folder))] = (digest, path.stat().st_mode & 0o7777)
    return result


@dataclass
class World:
    """Hosts h1..hN under ``root``; ``faults`` maps host -> handler for FakeTransport."""

    root: Path
    hosts: tuple[Host, ...]
    faults: dict[str, Callable[[str, bytes | None], object]] = field(default_factory=dict)
    connects: dict[str, int] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    shells: dict[str, Callable[[Transport], Transport]] = field(default_factory=dict)
    """host -> a wrapper standing for its login shell (e.g. one whose rc file prints)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def home(self, host: str) -> Path:
        return self.root / "homes" / host

    def target(self, host: str) -> Path:
        return self.home(host) / "agents"

    def state(self, host: str) -> Path:
        return self.home(host) / ".local" / "state" / "fleet" / "demo"

    def connector(self, host: Host) -> Transport:
        with self.lock:
            self.connects[host.name] = self.connects.get(host.name, 0) + 1
        if host.name in self.down:
            raise ConnectError(host.name, "cannot reach it: no route to host")
        inner: Transport = LocalTransport(host.name, env={"HOME": str(self.home(host.name))})
        if host.name in self.shells:
            inner = self.shells[host.name](inner)
        fault = self.faults.get(host.name)
        if fault is None:
            return inner
        return FakeTransport(host.name, fault, inner)  # type: ignore[arg-type]

    def snapshot(self) -> dict[str, Manifest]:
        return {h.name: manifest(self.target(h.name)) for h in self.hosts}

    def leftovers(self, host: str) -> list[str]:
        """Locks and staging folders left behind (there must be none after a run)."""
        state = self.state(host)
        found = [str(p) for p in state.glob("lock")] + [str(p) for p in state.glob("stage-*")]
        found += [str(p) for p in self.home(host).glob(".fleet-stage*")]
        return found

    def playbook(self, files: dict[str, str] | None = None, **strategy: object) -> Path:
        src = self.root / "src"
        if src.exists():
            for path in sorted(src.rglob("*"), reverse=True):
                path.unlink() if path.is_file() else path.rmdir()
        for name, text in (files or FILES).items():
            path = src / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        strat = {"canary": 1, "batch_size": 2, **strategy}
        lines = [
            "name: demo", "source: src", "target: ~/agents",
            "strategy:", *[f"  {k}: {v}" for k, v in strat.items()],
            "checks:", "  - {type: non_empty}",
            "  - {type: command, run: 'test ! -e \"$HOME/.fail-check\"'}",
        ]
        path = self.root / "playbook.yml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def run(self, playbook: Path, *, canary_only: bool = False, run_id: str = "run-1",
            on_release: frozenset[str] = frozenset()) -> tuple[RunResult, Recorder]:
        pb = load_playbook(playbook)
        target = Target(pb, build_release(pb), self.hosts)
        plan = build_plan([h.name for h in self.hosts], pb.strategy)
        sink = Recorder()
        return rollout(target, plan, self.connector, sink, run_id=run_id,
                       canary_only=canary_only, on_release=on_release), sink
