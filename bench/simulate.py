"""The controller alone at 1,000 to 100,000 hosts: the real engine against replayed hosts.

Usage::

    flock /tmp/fleet-bench.lock python3 bench/simulate.py --sizes 1000 10000 100000

Each host answers every round trip with what a real host answered (one host's
real answers are recorded first, through the real remote scripts on a local
host), after ``--latency`` seconds of simulated network and host time. The
controller runs as the CLI runs it: ``fleet.verbs.rollout.rollout`` with the
run log (JSONL) and the big-run progress view (to a null console) listening;
canary 1, batches of 100, forks 100. Two runs per size: a rollout that succeeds,
and one whose last host fails its checks, so the whole fleet is rolled back
in-run (``rollback_all``). Prints one JSON line per run: wall, controller CPU
(this process), CPU and peak-RSS growth per host.

Each size runs in a fresh process (peak RSS is per process).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import yaml  # noqa: E402
from rich.console import Console  # noqa: E402

from fleet.cli.progress import Progress  # noqa: E402
from fleet.config.playbook import load_playbook  # noqa: E402
from fleet.config.release import build_release  # noqa: E402
from fleet.events import Broadcast  # noqa: E402
from fleet.inventory.model import Host  # noqa: E402
from fleet.plan import build_plan  # noqa: E402
from fleet.results import CommandResult  # noqa: E402
from fleet.runlog.journal import Journal  # noqa: E402
from fleet.transport.base import Transport  # noqa: E402
from fleet.transport.fake import FakeTransport  # noqa: E402
from fleet.transport.local import LocalTransport  # noqa: E402
from fleet.verbs.rollout import Target, rollout  # noqa: E402

RUN_ID = "20261202T000000Z-sim000"


def host(name: str) -> Host:
    return Host(name=name, address=name, port=None, user=None, identity_file=None,
                connection="local", known_hosts_file=Path("/dev/null"), groups=("all",),
                vars={})


def playbook(folder: Path) -> Path:
    source = REPO / "playbooks" / "files" / "agents-framework"
    data = yaml.safe_load((REPO / "bench" / "agents-bench.yml").read_text())
    data["source"] = str(source)
    data["checks"].append({"type": "command", "run": 'test ! -e "$HOME/.fail"'})
    data["strategy"] = {"canary": 1, "batch_size": 100, "forks": 100, "max_failures": 0,
                        "on_failure": "rollback_all"}
    path = folder / "playbook.yml"
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass
class Recorded:
    """One real host's answers, in order: a rollout's round trips, then a rollback's."""

    rollout: list[CommandResult]
    failing: list[CommandResult]
    rollback: CommandResult


def record(target: Target, folder: Path) -> Recorded:
    """Run a real rollout on one local host and keep each answer; then one that fails
    its checks (the answers up to the failure) and the in-run rollback's answer."""
    answers: list[CommandResult] = []
    home = folder / "home"
    home.mkdir()

    def connector(h: Host) -> Transport:
        inner = LocalTransport(h.name, env={"HOME": str(home)})

        def keep(command: str, stdin: bytes | None) -> CommandResult:
            got = inner.run(command, stdin=stdin, timeout=60, check=False)
            answers.append(got)
            return got
        return FakeTransport(h.name, keep)

    one = (host("h0"),)
    plan = build_plan(["h0"], target.playbook.strategy)
    quiet = Broadcast([])
    result = rollout(Target(target.playbook, target.release, one), plan, connector, quiet,
                     run_id=RUN_ID)
    assert result.outcome.value == "success", result
    good = list(answers)
    answers.clear()
    # A second run of the same release would be "unchanged": record on a fresh home,
    # where the playbook's last check fails.
    subprocess.run(["rm", "-rf", str(home)], check=True)
    home.mkdir()
    (home / ".fail").touch()
    result = rollout(Target(target.playbook, target.release, one), plan, connector, quiet,
                     run_id=RUN_ID)
    assert result.outcome.value == "rolled_back", result
    return Recorded(good, answers[:-1], answers[-1])


def replayer(recorded: Recorded, latency: float, failing: str | None):  # type: ignore[no-untyped-def]
    """A connector whose hosts answer from ``recorded`` after ``latency`` seconds."""
    def make(h: Host) -> Transport:
        script = recorded.failing if h.name == failing else recorded.rollout
        calls = {"n": 0}

        def answer(command: str, stdin: bytes | None) -> CommandResult:
            time.sleep(latency)
            if stdin is not None and _ROLLBACK in stdin:
                return recorded.rollback
            n = calls["n"]
            calls["n"] += 1
            return script[min(n, len(script) - 1)]
        return FakeTransport(h.name, answer)
    return make


_ROLLBACK = b"# rollback: put back exactly what the backup"   # rollback.sh's first line


def simulate(n: int, latency: float, fail_last: bool, folder: Path) -> dict[str, object]:
    pb = load_playbook(playbook(folder))
    release = build_release(pb)
    target1 = Target(pb, release, (host("h0"),))
    recorded = record(target1, folder)
    hosts = tuple(host(f"h{k:06d}") for k in range(n))
    plan = build_plan([h.name for h in hosts], pb.strategy)
    journal = Journal(folder / "runs", RUN_ID + ("f" if fail_last else ""))
    view = Progress(Console(file=io.StringIO(), width=120))
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu0, wall0 = time.process_time(), time.monotonic()
    result = rollout(Target(pb, release, hosts), plan,
                     replayer(recorded, latency, hosts[-1].name if fail_last else None),
                     Broadcast([journal, view]), run_id=RUN_ID)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    journal.close()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    counts: dict[str, int] = {}
    for h in result.hosts:
        counts[h.status.value] = counts.get(h.status.value, 0) + 1
    return {"n": n, "latency_s": latency, "run": "halt+rollback" if fail_last else "rollout",
            "outcome": result.outcome.value, "statuses": counts, "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2), "cpu_ms_per_host": round(1000 * cpu / n, 3),
            "rollback_s": round(result.rollback_duration or 0, 2),
            "peak_rss_mb": round(rss / 1024, 1),
            "rss_kb_per_host": round((rss - rss0) / n, 2), "threads": threading.active_count()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--latency", type=float, default=0.01)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--fail", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as tmp:
            print(json.dumps(simulate(args.one, args.latency, args.fail, Path(tmp))), flush=True)
        return
    for n in args.sizes:
        for fail in (False, True):
            argv = [sys.executable, __file__, "--one", str(n), "--latency", str(args.latency)]
            subprocess.run([*argv, "--fail"] if fail else argv, check=True,
                           env={**os.environ, "PYTHONPATH": str(REPO)})


if __name__ == "__main__":
    main()
