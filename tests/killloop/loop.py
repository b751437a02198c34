"""The kill loop itself: seeded cases, one iteration and its checks, the loop, the
report (see the package docstring)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from faults import Controller
from invariant import HostSnap, ReleaseShape, at_once_problems, host_problems, release_of

from tests.killloop.payload import KEEP
from tests.killloop.rigs import Rig

REPO = Path(__file__).resolve().parents[2]
Kind = Literal["SIGKILL", "SIGTERM", "cut"]
KINDS: tuple[Kind, ...] = ("SIGKILL", "SIGTERM", "cut")
Recovery = Literal["recover", "rollback"]
RECOVERIES: tuple[Recovery, ...] = ("recover", "rollback")
FAIL_RATE = 0.3
"""Share of iterations whose playbook has a failing ``command`` check."""
CONTROLLER_BOUND = 120.0
"""Seconds a controller may take to end after the fault (a cut waits for timeouts)."""
SCRIPTS_BOUND = 30.0
"""Seconds the orphaned host-side scripts may take to end."""


@dataclass(frozen=True)
class Case:
    """An iteration, drawn from the seed alone (``fraction``: the kill moment over T)."""

    iteration: int
    kind: Kind
    fraction: float
    failing: bool
    recovery: Recovery
    pick: int

    @staticmethod
    def draw(seed: int, iteration: int) -> Case:
        """The iteration's case; the same seed and number give the same case. The kinds
        take turns, and so do recover and rollback (each from a seeded start): every six
        iterations have each pair of them. The moment, the failing check and the host
        to cut are drawn for the iteration."""
        start = random.Random(seed)
        kind = KINDS[(start.randrange(len(KINDS)) + iteration) % len(KINDS)]
        recovery = RECOVERIES[(start.randrange(len(RECOVERIES)) + iteration) % len(RECOVERIES)]
        rng = random.Random(f"{seed}/{iteration}")
        return Case(iteration, kind, rng.random(), rng.random() < FAIL_RATE, recovery,
                    rng.randrange(1 << 16))


@dataclass
class Outcome:
    """What an iteration did and found."""

    case: Case
    at_s: float = 0.0
    phase: str = "start-up"
    phases: dict[str, str] = field(default_factory=dict)
    hit: bool = False
    cut: str | None = None
    controller_exit: int | None = None
    recovery_exit: int | None = None
    where: dict[str, str] = field(default_factory=dict)
    violations: list[tuple[str, str]] = field(default_factory=list)
    """(check class, problem text naming host and files)."""
    left: dict[str, list[str]] = field(default_factory=dict)
    """Host-side processes still running when the controller had ended (commands)."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds from the fault until the controller ended, waiting for the host scripts,
    the recovery command."""
    took_s: float = 0.0

    def flag(self, check: str, problems: Iterable[str]) -> None:
        self.violations += [(check, p) for p in problems]


def _phases(events: Sequence[Mapping[str, Any]]) -> tuple[str, dict[str, str]]:
    """(the run's phase, each host's last step) from the run log so far. Phases:
    "start-up" (nothing logged: Python, reading the inputs, building the release),
    "run started" (no host step yet), a step's name (the last one started), "host
    finished" (the last host to finish has, the next has not started), "finished"."""
    per: dict[str, str] = {}
    overall = "start-up"
    for event in events:
        if event["event"] == "StepStarted":
            per[event["host"]] = overall = event["step"]
        elif event["event"] == "HostFinished":
            per[event["host"]] = "done"
            overall = "host finished"
        elif event["event"] == "RunFinished":
            overall = "finished"
        elif overall == "start-up":
            overall = "run started"
    return overall, per


def _fleet(rig: Rig, cwd: Path, *args: str) -> tuple[int, dict[str, Any] | None, str]:
    env = {**os.environ, **rig.env(), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "fleet", *args, *rig.inventory(), "--json"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, check=False)
    try:
        data = json.loads(done.stdout) if done.stdout.strip() else None
    except json.JSONDecodeError:
        data = None
    return done.returncode, data, done.stderr


def _check(rig: Rig, before: Mapping[str, HostSnap], allowed: Sequence[ReleaseShape],
           now: Mapping[str, HostSnap] | None = None) -> tuple[dict[str, str], list[str]]:
    now = now if now is not None else rig.snapshot()
    where: dict[str, str] = {}
    problems: list[str] = []
    for host in rig.hosts:
        where[host], found = host_problems(host, before[host], now[host], allowed, KEEP)
        problems += [f"{host}: {p}" for p in found]
    return where, problems


def _at_once(rig: Rig, before: Mapping[str, HostSnap], release: ReleaseShape,
             now: Mapping[str, HostSnap] | None = None) -> list[str]:
    now = now if now is not None else rig.snapshot()
    return [f"{h}: {p}" for h in rig.hosts for p in at_once_problems(before[h], now[h], release)]


def _end_controller(ctl: Controller, out: Outcome) -> None:
    try:
        ctl.proc.communicate(timeout=CONTROLLER_BOUND)
    except subprocess.TimeoutExpired:
        out.flag("controller", [f"still running {CONTROLLER_BOUND:.0f} s after {out.case.kind}"])
        ctl.proc.kill()  # our own child, by its pid
        ctl.proc.communicate()
    out.controller_exit = ctl.proc.returncode


def _end_scripts(rig: Rig, out: Outcome) -> None:
    deadline = time.monotonic() + SCRIPTS_BOUND
    left = rig.scripts()
    out.left = {h: [p.split(" ", 1)[-1] for p in procs] for h, procs in left.items()}
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = rig.scripts()
    if left:
        out.flag("scripts", [f"{h}: still running {SCRIPTS_BOUND:.0f} s after the fault: "
                             + ", ".join(p) for h, p in left.items()])
        rig.kill_scripts()


def _self_heal(out: Outcome, where: Mapping[str, str], problems: list[str],
               release: ReleaseShape) -> None:
    """A controller that outlived the fault: exit 1 with every host as before, or exit 0
    with every host on the release. Also fine: a SIGTERM before any host was contacted
    may kill it outright (Python's start-up), and so may one after the run has ended
    (only the exit status is lost); a cut of the in-run rollback's own script is
    exit 3 (the run names the host; ``fleet recover`` finishes it)."""
    code = out.controller_exit
    labels = set(where.values())
    if code == 1 and labels == {"before"} and not problems:
        return
    if code == 0 and labels == {release.id} and not problems:
        return
    if code == -signal.SIGTERM and out.phase in ("start-up", "run started") \
            and labels == {"before"} and not problems:
        return
    if code == 3 and out.case.kind == "cut" and out.phase == "rollback":
        return  # the undo itself was cut: the run says so; recover finishes it
    if out.phase == "finished" and len(labels) == 1 and not problems:
        return  # the run had ended (RunFinished logged): nothing left to halt
    out.flag("self-heal", [f"the controller outlived the {out.case.kind} and exited {code} "
                           f"with hosts at {dict(where)} (want exit 1 with every host "
                           f"before, or exit 0 with every host on {release.id}) — without "
                           "recover", *problems])


def run_case(rig: Rig, case: Case, period: Mapping[bool, float],
             releases: Mapping[bool, ReleaseShape], folder: Path) -> Outcome:
    """One iteration (see the module docstring); never raises on a violation."""
    start = time.monotonic()
    out = Outcome(case)
    rig.fresh(folder)
    before = rig.snapshot()
    release, playbook = releases[case.failing], rig.playbook(case.failing)
    ctl = Controller(folder / "ctl", "rollout", str(playbook), *rig.inventory(), env=rig.env())
    out.at_s = case.fraction * period[case.failing]
    time.sleep(max(0.0, ctl.started + out.at_s - time.monotonic()))
    out.phase, out.phases = _phases(ctl.events())
    out.hit = ctl.proc.poll() is None
    if out.hit and case.kind == "cut":
        host = rig.hosts[case.pick % len(rig.hosts)]
        out.cut = rig.cut(ctl.proc.pid, host)
        out.hit = out.cut is not None
        if out.cut is not None and len(rig.hosts) > 1:
            out.phase = out.phases.get(host, "not started")
    elif out.hit:
        ctl.signal(signal.SIGKILL if case.kind == "SIGKILL" else signal.SIGTERM)
    killed = time.monotonic()
    out.flag("at-once", _at_once(rig, before, release))
    _end_controller(ctl, out)
    out.timings["controller_s"] = time.monotonic() - killed
    rig.uncut()
    waited = time.monotonic()
    _end_scripts(rig, out)
    out.timings["scripts_s"] = time.monotonic() - waited
    now = rig.snapshot()
    out.flag("after-scripts", _at_once(rig, before, release, now))
    if out.hit and (case.kind == "SIGTERM" or (case.kind == "cut" and rig.cut_heals)):
        where, problems = _check(rig, before, [release], now)
        _self_heal(out, where, problems, release)
    recovering = time.monotonic()
    out.recovery_exit, data, err = _fleet(rig, folder / "ctl", case.recovery, str(playbook))
    out.timings["recovery_s"] = time.monotonic() - recovering
    if out.recovery_exit != 0:
        hosts = [f"{h['name']}: {h['status']} {h.get('error') or ''}"
                 for h in (data or {}).get("hosts", [])]
        out.flag("recovery", [f"fleet {case.recovery} exited {out.recovery_exit}: "
                              + ("; ".join(hosts) or err.strip()[-600:])])
    # after fleet rollback every host is as before; after fleet recover it may also
    # be on the release (the run had committed everywhere)
    out.where, problems = _check(rig, before, [release] if case.recovery == "recover" else [])
    out.flag("final", problems)
    out.took_s = time.monotonic() - start
    return out


# --------------------------------------------------------------------------- the loop


@dataclass
class LoopResult:
    """Every iteration of a loop, with what it needs to say how to repeat it."""

    rig: str
    seed: int
    period: dict[bool, float]
    outcomes: list[Outcome]
    took_s: float

    def failed(self) -> list[Outcome]:
        """The iterations with at least one violation."""
        return [o for o in self.outcomes if o.violations]

    def failure_message(self, rerun: str = "") -> str:
        """Every violation: seed, iteration, kill, phase, check, and the files."""
        bad = self.failed()
        lines = [f"kill loop ({self.rig}, seed {self.seed}): {len(bad)} of "
                 f"{len(self.outcomes)} iterations violate the invariant"
                 f" ({violation_counts(self.outcomes)})", ""]
        for o in bad:
            lines.append(f"seed {self.seed} iteration {o.case.iteration}: {describe(o)}")
            lines += [f"  [{check}] " + text.replace("\n", "\n  ") for check, text in o.violations]
            lines.append("")
        if rerun:
            lines.append(f"repeat with: {rerun}")
        return "\n".join(lines)


def describe(o: Outcome) -> str:
    """One line: the kill, when, where it landed, and what came of it."""
    case = o.case
    t = f"{o.at_s:.2f} s ({case.fraction:.0%} of T)"
    where = ", ".join(f"{h}: {p}" for h, p in o.phases.items()) or "no host started"
    left = "".join(f"left running on {h}: {', '.join(p)}; " for h, p in o.left.items())
    return (f"{case.kind}{f' ({o.cut})' if o.cut else ''} at {t} in {o.phase} [{where}]"
            f"{'' if o.hit else ' (missed: nothing running to hit)'}, {left}"
            f"{'failing' if case.failing else 'passing'} checks, controller exit "
            f"{o.controller_exit}, then fleet {case.recovery} exit {o.recovery_exit} -> "
            f"{','.join(sorted(set(o.where.values()))) or '?'}")


def violation_counts(outcomes: Iterable[Outcome]) -> str:
    """"check×iterations" for each violated check class."""
    counts = Counter(check for o in outcomes for check in {c for c, _ in o.violations})
    return ", ".join(f"{c}×{n}" for c, n in sorted(counts.items())) or "none"


def measure(rig: Rig, releases: Mapping[bool, ReleaseShape], folder: Path) -> dict[bool, float]:
    """T of each variant: an unkilled rollout's wall time (start-up included). Asserts
    that it ends as it must: exit 0 on the release (pass), exit 1 as before (fail)."""
    period: dict[bool, float] = {}
    for failing in (False, True):
        sub = folder / f"measure-{'fail' if failing else 'pass'}"
        rig.fresh(sub)
        before = rig.snapshot()
        ctl = Controller(sub / "ctl", "rollout", str(rig.playbook(failing)), *rig.inventory(),
                         env=rig.env())
        code, _, err = ctl.finish(timeout=300)
        period[failing] = ctl.duration
        where, problems = _check(rig, before, [releases[failing]])
        want = (1, "before") if failing else (0, releases[failing].id)
        if (code, set(where.values()), problems) != (want[0], {want[1]}, []):
            raise AssertionError(
                f"unkilled {'failing' if failing else 'passing'} rollout on {rig.label}: exit "
                f"{code}, hosts {where} (want exit {want[0]}, {want[1]})\n"
                + "\n".join(problems) + "\n" + err[-2000:])
        rig.discard(sub)
    return period


def kill_loop(rig: Rig, seed: int, iterations: Iterable[int], folder: Path,
              log: Callable[[str], None] = print) -> LoopResult:
    """Measure T, then run each iteration (numbers: the seed's cases to run)."""
    started = time.monotonic()
    releases = {f: release_of(rig.playbook(f)) for f in (False, True)}
    period = measure(rig, releases, folder)
    log(f"kill loop on {rig.label}, seed {seed}: T = {period[False]:.2f} s (passing), "
        f"{period[True]:.2f} s (failing check)")
    result = LoopResult(rig.label, seed, period, [], 0.0)
    for i in iterations:
        sub = folder / f"it-{i:04d}"
        out = run_case(rig, Case.draw(seed, i), period, releases, sub)
        rig.discard(sub)
        result.outcomes.append(out)
        laps = ", ".join(f"{k.removesuffix('_s')} {v:.1f}" for k, v in out.timings.items())
        log(f"[{i:4d}] {'VIOLATION' if out.violations else 'ok       '} {describe(out)} "
            f"({out.took_s:.1f} s: {laps})")
    result.took_s = time.monotonic() - started
    return result


def summary(result: LoopResult) -> str:
    """A Markdown table: per kind and phase, iterations, hits, violations; then totals."""
    rows: dict[tuple[str, str], list[Outcome]] = {}
    for o in result.outcomes:
        rows.setdefault((o.case.kind, o.phase if o.hit else "missed"), []).append(o)
    lines = [f"Kill loop on {result.rig}: {len(result.outcomes)} iterations, seed "
             f"{result.seed}, {result.took_s / 60:.1f} min; T = {result.period[False]:.2f} s "
             f"(passing checks), {result.period[True]:.2f} s (failing check). "
             f"**Iterations violating the invariant: {len(result.failed())}** "
             f"({violation_counts(result.outcomes)}).", "",
             "| kill | landed in | iterations | controller exits | recovery exits "
             "| ended | violations |", "|---|---|---|---|---|---|---|"]
    for (kind, phase), group in sorted(rows.items()):
        exits = Counter(str(o.controller_exit) for o in group)
        recs = Counter(f"{o.case.recovery} {o.recovery_exit}" for o in group)
        ends = Counter(label for o in group for label in set(o.where.values()))
        lines.append(
            f"| {kind} | {phase} | {len(group)} "
            f"| {', '.join(f'{c}×{n}' for c, n in sorted(exits.items()))} "
            f"| {', '.join(f'{c}×{n}' for c, n in sorted(recs.items()))} "
            f"| {', '.join(f'{c}×{n}' for c, n in sorted(ends.items()))} "
            f"| {sum(1 for o in group if o.violations)} |")
    return "\n".join(lines) + "\n"


DEFAULT_SEED = 20261201


def from_env(iterations_var: str, default_iterations: int) -> tuple[int, list[int]]:
    """(seed, iteration numbers) from FLEET_KILL_SEED, ``iterations_var`` (a count) and
    FLEET_KILL_ONLY (e.g. "7,12": just those iterations of the seed)."""
    seed = int(os.environ.get("FLEET_KILL_SEED", DEFAULT_SEED))
    only = os.environ.get("FLEET_KILL_ONLY", "").strip()
    if only:
        return seed, [int(x) for x in only.split(",") if x.strip()]
    return seed, list(range(1, int(os.environ.get(iterations_var, default_iterations)) + 1))


def rerun_hint(seed: int, outcomes: Iterable[Outcome], test: str) -> str:
    """The command that repeats the violating iterations of a loop."""
    bad = ",".join(str(o.case.iteration) for o in outcomes if o.violations)
    return f"FLEET_KILL_SEED={seed} FLEET_KILL_ONLY={bad} python3 -m pytest {test} -s"
