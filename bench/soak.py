"""Soak: many rollouts and rollbacks in a row on the SSH test fleet, with random faults.

Usage (the fleet must be up: scripts/test-fleet.sh up; not part of CI):

    python3 bench/soak.py [--iterations 50] [--seed N] [--write docs/reliability.md]

Each iteration rolls out a new release (the example's nine files, a version file
and a 2 MiB blob) and then rolls it back. Each of the two runs gets a fault
drawn at random (or none): a host killed mid-upload, a network cut after
activate (back soon or late), a host paused mid-stage (a hang), a failing check,
SIGINT or SIGKILL to the controller mid-batch, a host down when the run rolls
back, two controllers at once; for rollbacks a host down or a killed
controller. Afterwards the fleet is healed the way an operator would: every
container back up, ``fleet recover`` if ``fleet status`` shows a host
``interrupted``, ``fleet rollback`` again if a rollback was left incomplete.
Then the invariant of issue 3 is checked on every host (tests/integration/
invariant.py): the target is exactly its state before the run or the new
release (for a rollback: before, or a state the fleet was in earlier), no
lock/staging/temp file, backups intact. Every violation is counted and
printed; the goal is 0.

The playbook keeps 1000 backups so a rollback returns a host byte for byte
(backups included) to a state seen before.

The kill loop of issue 9 (tests/killloop.py; 20 iterations of it run in the
test suite, tests/engine/test_killloop.py, and a few over SSH):

    python3 bench/soak.py --kill-loop [--iterations 200] [--seed N] [--big-mb 24]
        [--write docs/reliability.md]            # connection: local, no Docker
    flock /tmp/fleet-integration.lock python3 bench/soak.py --kill-loop --ssh ...

Rollouts of 126 files in sub-folders and a large file (a failing check on some)
killed at uniformly random moments (SIGKILL, SIGTERM, a cut connection), each
followed by the at-once invariant, the invariant after the orphaned host
scripts end, and the full invariant after ``fleet recover`` or ``fleet
rollback``. Prints one line per iteration and a summary table; exit 1 on any
violation.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO))  # tests.killloop

from faults import Controller, disconnect  # noqa: E402
from invariant import FleetState, ReleaseShape, assert_invariant, release_of, take_snapshot  # noqa: E402
from testfleet_helpers import (  # noqa: E402
    HOME,
    HOSTS,
    INVENTORY,
    container,
    docker_exec,
    reset_all_hosts,
    restore_host,
    run_fleet_json,
)

from tests.killloop import (  # noqa: E402
    LocalRig,
    Rig,
    SshRig,
    kill_loop,
    make_payload,
    summary,
)

EXAMPLE = REPO / "playbooks" / "agents-framework.yml"
INV = ("-i", str(INVENTORY))
FAIL_MARK = f"{HOME}/.soak-fail"
SLOW_MARK = f"{HOME}/.soak-slow"
TIMEOUTS = {"connect": 3, "command": 5}


@dataclass
class Step:
    """One run of the soak (a rollout or a rollback) and what came of it."""

    iteration: int
    phase: str
    fault: str
    injected: bool = False
    exit_code: int | None = None
    outcome: str | None = None
    run_s: float = 0.0
    heal: list[str] = field(default_factory=list)
    recovery_s: float = 0.0
    violation: str | None = None
    where: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- set-up


def make_playbook(folder: Path, iteration: int) -> Path:
    """A playbook whose release is new for every iteration."""
    source = folder / f"src-{iteration}"
    shutil.copytree(REPO / "playbooks" / "files" / "agents-framework", source)
    (source / "VERSION.md").write_text(f"soak iteration {iteration}\n")
    blob = folder / "blob.bin"
    if not blob.exists():
        blob.write_bytes(os.urandom(2 << 20))
    shutil.copy(blob, source / "blob.bin")
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    data.update(source=str(source), files=None, timeouts=TIMEOUTS, backup={"keep": 1000})
    data["checks"] = [*data["checks"],
                      {"type": "command", "run": f'test ! -e "{FAIL_MARK}"', "timeout": 10},
                      {"type": "command", "run": f'if [ -e "{SLOW_MARK}" ]; then sleep 3; fi',
                       "timeout": 10}]
    path = folder / f"soak-{iteration}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def mark(host: str, path: str) -> None:
    docker_exec(host, ["touch", path], user="tester")


def clear_marks() -> None:
    for host in HOSTS:
        docker_exec(host, ["rm", "-f", FAIL_MARK, SLOW_MARK])


# --------------------------------------------------------------------------- faults


Fault = Callable[[Controller, random.Random, Step], None]


def _event(ctl: Controller, timeout: float = 20, **match: Any) -> bool:
    """Wait for an event; False if the run never gets there (it halted first)."""
    try:
        ctl.wait_event(timeout=timeout, **match)
    except (TimeoutError, AssertionError):
        return False
    return True


def kill_mid_stage(ctl: Controller, rng: random.Random, step: Step) -> None:
    host = rng.choice(HOSTS)
    if _event(ctl, event="StepStarted", host=host, step="stage"):
        time.sleep(rng.uniform(0, 0.15))
        container(host).kill()
        step.injected = True
        step.fault += f" ({host})"


def net_cut_after_activate(ctl: Controller, rng: random.Random, step: Step,
                           host: str, soon: bool) -> None:
    if _event(ctl, event="StepStarted", host=host, step="activate"):
        time.sleep(0.5)
        disconnect(host)
        step.injected = True
        if soon:
            time.sleep(1)
            restore_host(host)


def pause_mid_stage(ctl: Controller, rng: random.Random, step: Step) -> None:
    host = rng.choice(HOSTS)
    if _event(ctl, event="StepStarted", host=host, step="stage"):
        container(host).pause()
        step.injected = True
        step.fault += f" ({host})"


def signal_mid_batch(ctl: Controller, rng: random.Random, step: Step, host: str,
                     sig: signal.Signals) -> None:
    if _event(ctl, event="StepStarted", host=host, step="activate"):
        time.sleep(rng.uniform(0, 1.5))
        step.injected = ctl.proc.poll() is None  # still running: the signal lands mid-run
        ctl.signal(sig)


def down_when_rolling_back(ctl: Controller, rng: random.Random, step: Step,
                           early: str, late: str) -> None:
    if _event(ctl, event="StepStarted", host=late, step="activate"):
        container(early).kill()
        step.injected = True


def kill_during_rollback(ctl: Controller, rng: random.Random, step: Step) -> None:
    if _event(ctl, event="StepStarted", step="rollback"):
        time.sleep(rng.uniform(0, 0.3))
        step.injected = ctl.proc.poll() is None
        ctl.signal(signal.SIGKILL)


def plan_rollout_fault(rng: random.Random, step: Step) -> Fault | None:
    """Pick a fault for a rollout; set host marks it needs; return the injector."""
    later = HOSTS[1:]
    kind = rng.choice(["none", "failing check", "kill mid-upload", "network cut, back soon",
                       "network cut, back late", "pause mid-stage", "SIGINT", "SIGKILL",
                       "host down at rollback", "two controllers"])
    step.fault = kind
    if kind == "failing check":
        host = rng.choice(HOSTS)
        mark(host, FAIL_MARK)
        step.fault += f" ({host})"
        step.injected = True
        return None
    if kind == "kill mid-upload":
        return kill_mid_stage
    if kind.startswith("network cut"):
        host = rng.choice(HOSTS)
        mark(host, SLOW_MARK)
        step.fault += f" ({host})"
        return lambda c, r, s: net_cut_after_activate(c, r, s, host, "soon" in kind)
    if kind == "pause mid-stage":
        return pause_mid_stage
    if kind in ("SIGINT", "SIGKILL"):
        host = rng.choice(later)
        mark(host, SLOW_MARK)
        sig = signal.SIGINT if kind == "SIGINT" else signal.SIGKILL
        return lambda c, r, s: signal_mid_batch(c, r, s, host, sig)
    if kind == "host down at rollback":
        late = rng.choice(HOSTS[3:])
        early = rng.choice([h for h in HOSTS if HOSTS.index(h) < HOSTS.index(late) - 1])
        mark(late, FAIL_MARK)
        mark(late, SLOW_MARK)
        step.fault += f" ({early} down, {late} fails)"
        return lambda c, r, s: down_when_rolling_back(c, r, s, early, late)
    return None


def plan_rollback_fault(rng: random.Random, step: Step) -> Fault | None:
    kind = rng.choice(["none", "none", "host down", "SIGKILL during rollback"])
    step.fault = kind
    if kind == "host down":
        host = rng.choice(HOSTS)
        container(host).stop(timeout=1)
        step.fault += f" ({host})"
        step.injected = True
        return None
    if kind == "SIGKILL during rollback":
        return kill_during_rollback
    return None


# --------------------------------------------------------------------------- runs


def run_with_fault(folder: Path, args: tuple[str, ...], fault: Fault | None,
                   rng: random.Random, step: Step, *, twice: bool = False) -> None:
    started = time.monotonic()
    ctls = [Controller(folder / f"ctl-{step.iteration}-{step.phase}-{i}", *args)
            for i in range(2 if twice else 1)]
    if twice:
        step.injected = True
    if fault is not None:
        fault(ctls[0], rng, step)
    results = [c.finish(timeout=180) for c in ctls]
    step.run_s = time.monotonic() - started
    step.exit_code = results[0][0]
    step.outcome = results[0][1]["outcome"] if results[0][1] else None
    if twice:
        step.exit_code = max(code for code, _, _ in results)


def heal(playbook: Path, step: Step, rerun_rollback: bool) -> None:
    """What an operator does after the run: hosts back up, recover, finish rollbacks."""
    started = time.monotonic()
    for host in HOSTS:
        ctr = container(host)
        networks = ctr.attrs["NetworkSettings"]["Networks"] or {}
        if ctr.status != "running" or "fleet-testnet" not in networks:
            step.heal.append(f"bring {host} back ({ctr.status})")
            restore_host(host)
    clear_marks()
    proc, status = run_fleet_json("status", str(playbook), *INV)
    if any(h["state"] == "interrupted" for h in status["hosts"]):
        proc, _ = run_fleet_json("recover", str(playbook), *INV)
        step.heal.append(f"recover={proc.returncode}")
    if rerun_rollback:
        proc, _ = run_fleet_json("rollback", str(playbook), *INV)
        step.heal.append(f"rollback={proc.returncode}")
    step.recovery_s = time.monotonic() - started if step.heal else 0.0


def check(step: Step, before: FleetState, *allowed: ReleaseShape | FleetState) -> None:
    try:
        step.where = assert_invariant(before, *allowed, keep=1000)
    except AssertionError as exc:
        step.violation = str(exc)


# --------------------------------------------------------------------------- soak


def soak(iterations: int, seed: int, log: Path) -> list[Step]:
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="fleet-soak-"))
    reset_all_hosts()
    history: list[FleetState] = [take_snapshot(label="seeded")]
    steps: list[Step] = []
    with log.open("w", encoding="utf-8") as out:
        for i in range(1, iterations + 1):
            playbook = make_playbook(folder, i)
            release = release_of(playbook)

            step = Step(i, "rollout", "none")
            before = take_snapshot()
            fault = plan_rollout_fault(rng, step)
            run_with_fault(folder, ("rollout", str(playbook), *INV), fault, rng, step,
                           twice=step.fault == "two controllers")
            heal(playbook, step, rerun_rollback=False)
            check(step, before, release)
            history.append(take_snapshot(label=f"after rollout {i}"))
            steps.append(step)
            report(step, out)

            step = Step(i, "rollback", "none")
            before = history[-1]
            fault = plan_rollback_fault(rng, step)
            run_with_fault(folder, ("rollback", str(playbook), *INV), fault, rng, step)
            incomplete = step.exit_code != 0
            heal(playbook, step, rerun_rollback=incomplete)
            check(step, before, *history)
            history.append(take_snapshot(label=f"after rollback {i}"))
            steps.append(step)
            report(step, out)
    shutil.rmtree(folder, ignore_errors=True)
    return steps


def report(step: Step, out: Any) -> None:
    line = (f"[{step.iteration:3d}] {step.phase:8s} {step.fault:42s} "
            f"{'hit ' if step.injected else 'miss' if step.fault != 'none' else '    '} "
            f"exit={step.exit_code} {step.outcome or '-':20s} run={step.run_s:5.1f}s "
            f"heal={','.join(step.heal) or '-'} ({step.recovery_s:.1f}s) "
            f"{'VIOLATION' if step.violation else 'ok'}")
    print(line, flush=True)
    if step.violation:
        print(step.violation, flush=True)
    out.write(json.dumps(step.__dict__) + "\n")
    out.flush()


def render(steps: list[Step], iterations: int, seed: int, took: float) -> str:
    violations = [s for s in steps if s.violation]
    by_fault: dict[str, list[Step]] = defaultdict(list)
    for s in steps:
        by_fault[f"{s.phase}: {s.fault.split(' (')[0]}"].append(s)
    lines = [
        f"Soak of {time.strftime('%Y-%m-%d', time.gmtime())}: {iterations} iterations "
        f"(a rollout and a rollback each, {len(steps)} runs), seed {seed}, "
        f"{took / 60:.1f} min on the 6-host test fleet. "
        f"**Invariant violations: {len(violations)}.**",
        "",
        "| phase: fault | runs | injected | exit codes | healed with | median recovery (s) "
        "| violations |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in sorted(by_fault):
        group = by_fault[name]
        codes = Counter(str(s.exit_code) for s in group)
        heals = Counter("host back" if h.startswith("bring") else h.split("=")[0]
                        for s in group for h in s.heal)
        recovery = [s.recovery_s for s in group if s.heal]
        lines.append(
            f"| {name} | {len(group)} | {sum(s.injected for s in group)} "
            f"| {', '.join(f'{c}×{n}' for c, n in sorted(codes.items()))} "
            f"| {', '.join(f'{h}×{n}' for h, n in sorted(heals.items())) or '-'} "
            f"| {f'{statistics.median(recovery):.1f}' if recovery else '-'} "
            f"| {sum(1 for s in group if s.violation)} |")
    if violations:
        lines += ["", "Violations:", ""]
        for s in violations:
            first = (s.violation or "").splitlines()[1:3]
            lines.append(f"- iteration {s.iteration} {s.phase} ({s.fault}): "
                         + " / ".join(x.strip() for x in first))
    return "\n".join(lines) + "\n"


KILL_LOOP_MARKS = ("<!-- bench/soak.py kill-loop start -->",
                   "<!-- bench/soak.py kill-loop end -->")
SOAK_MARKS = ("<!-- bench/soak.py start -->", "<!-- bench/soak.py end -->")


def write_section(path: Path, text: str, marks: tuple[str, str]) -> None:
    """Replace what lies between ``marks`` in ``path`` with ``text`` (the marks are
    appended at the end of the file first if it has none)."""
    start, end = marks
    doc = path.read_text() if path.exists() else ""
    if start not in doc:
        doc = f"{doc.rstrip()}\n\n{start}\n{end}\n"
    head, rest = doc.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{text}{end}{tail}")


def run_kill_loop(args: argparse.Namespace, seed: int) -> int:
    """``--kill-loop``: the loop of tests/killloop.py for ``--iterations``; exit code."""
    folder = Path(tempfile.mkdtemp(prefix="fleet-killloop-"))
    payload = make_payload(folder / "payload", files=120, big_mb=args.big_mb, seed=seed)
    ssh = SshRig(payload, folder / "rig", ("dev-01", "dev-02", "dev-03")) if args.ssh else None
    rig: Rig = ssh if ssh is not None else LocalRig(payload, folder / "rig")
    with args.log.open("w", encoding="utf-8") as out:
        def log(line: str) -> None:
            print(line, flush=True)
            out.write(json.dumps({"line": line}) + "\n")
            out.flush()

        try:
            result = kill_loop(rig, seed, range(1, args.iterations + 1), folder / "runs", log)
        finally:
            if ssh is not None:
                ssh.heal()
        for o in result.outcomes:
            out.write(json.dumps({"outcome": dataclasses.asdict(o)}) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    text = summary(result)
    print(text)
    if result.failed():
        print(result.failure_message())
    if args.write:
        write_section(args.write, text, KILL_LOOP_MARKS)
    return 1 if result.failed() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=None,
                        help="default 50 (soak), 200 (--kill-loop)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--log", type=Path, default=None,
                        help="one JSON line per run (default .fleet/soak.jsonl; kill "
                             "loop: .fleet/killloop.jsonl, its lines then each outcome)")
    parser.add_argument("--write", type=Path, default=None,
                        help="replace the section between the soak markers in FILE")
    parser.add_argument("--kill-loop", action="store_true",
                        help="the kill loop of issue 9 instead of the soak")
    parser.add_argument("--ssh", action="store_true",
                        help="kill loop over SSH on dev-01..03 (default: connection: local)")
    parser.add_argument("--big-mb", type=int, default=None,
                        help="size of the release's large file (default 24 local, 8 SSH)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 30)
    if args.kill_loop:
        args.iterations = args.iterations or 200
        args.big_mb = args.big_mb or (8 if args.ssh else 24)
        args.log = args.log or REPO / ".fleet" / "killloop.jsonl"
        args.log.parent.mkdir(parents=True, exist_ok=True)
        sys.exit(run_kill_loop(args, seed))
    args.iterations = args.iterations or 50
    args.log = args.log or REPO / ".fleet" / "soak.jsonl"
    args.log.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        steps = soak(args.iterations, seed, args.log)
    finally:
        for host in HOSTS:
            with contextlib.suppress(Exception):
                restore_host(host)
    text = render(steps, args.iterations, seed, time.monotonic() - started)
    print(text)
    if args.write:
        write_section(args.write, text, SOAK_MARKS)
    sys.exit(1 if any(s.violation for s in steps) else 0)


if __name__ == "__main__":
    main()
