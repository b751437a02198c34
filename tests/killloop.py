"""The kill loop of issue 9: rollouts killed at uniformly random moments, then checked.

Each iteration starts a real ``python -m fleet rollout`` (a release of 100+
files in sub-folders and one large file; on some iterations a check that
fails) on freshly seeded hosts and, at a seeded, uniformly random moment in
``[0, T]`` (``T``: an unkilled rollout, measured once), does one of:

* ``SIGKILL`` to the controller;
* ``SIGTERM`` to the controller (DESIGN: the same as Ctrl-C — it must halt and
  roll back by itself);
* ``cut``: the connection to one host is cut. Over SSH the host leaves the
  docker network until the controller has finished. A ``connection: local``
  host has no connection: its host-side processes (the step's ``sh`` and what
  it runs) are killed instead, the controller living on.

Then, in order (each a class of violation in the report):

``at-once``        right after the kill, before anything else: no file of the
                   target lost or half-written, nothing the release does not
                   name touched (``invariant.at_once_problems``);
``controller``     the controller ends (bounded);
``scripts``        the orphaned host-side scripts end (bounded);
``after-scripts``  the at-once invariant again;
``self-heal``      a controller that outlived the fault (SIGTERM; a cut of a
                   local host, which it can still reach) must have put every
                   host back (exit 1) or finished the release (exit 0) by itself;
``recovery``       ``fleet recover`` or ``fleet rollback`` (seeded) exits 0;
``final``          the full invariant (``invariant.host_problems``): the target
                   exactly as before or on the release (after ``fleet
                   rollback``: as before), no lock or staging, backups intact.

``kill_loop`` runs it for any ``Rig``: ``LocalRig`` (one ``connection:
local`` host with a HOME of its own per iteration) or ``SshRig`` (hosts of the
container test fleet). Used by tests/engine/test_killloop.py,
tests/integration/test_killloop.py and ``bench/soak.py --kill-loop``.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml

REPO = Path(__file__).resolve().parent.parent
_INTEGRATION = str(REPO / "tests" / "integration")
if _INTEGRATION not in sys.path:  # the invariant and the controller helpers live there
    sys.path.insert(0, _INTEGRATION)

from faults import Controller, disconnect, fleet_ports, host_scripts, write_inventory  # noqa: E402
from invariant import (  # noqa: E402
    HostSnap,
    ReleaseShape,
    at_once_problems,
    host_problems,
    local_host_snap,
    quick_host_snap,
    release_of,
)
from testfleet_helpers import TARGET, container, reset_host, restore_host  # noqa: E402

Kind = Literal["SIGKILL", "SIGTERM", "cut"]
KINDS: tuple[Kind, ...] = ("SIGKILL", "SIGTERM", "cut")
Recovery = Literal["recover", "rollback"]
FAIL_RATE = 0.3
"""Share of iterations whose playbook has a failing ``command`` check."""
KEEP = 5
"""``backup.keep`` of the loop's playbooks."""
CONTROLLER_BOUND = 120.0
"""Seconds a controller may take to end after the fault (a cut waits for timeouts)."""
SCRIPTS_BOUND = 30.0
"""Seconds the orphaned host-side scripts may take to end."""


# --------------------------------------------------------------------------- the payload


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
        {"type": "command", "run": "test -s big.bin", "timeout": 30},
    ]
    if failing:
        checks.append({"type": "command", "run": "test -e no-such-file", "timeout": 30})
    data = {"name": name, "source": str(payload.source), "target": target,
            "strategy": {"canary": 1, "batch_size": 2}, "timeouts": dict(timeouts),
            "backup": {"keep": KEEP}, "checks": checks}
    path = folder / f"playbook-{'fail' if failing else 'pass'}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --------------------------------------------------------------------------- rigs


class Rig(Protocol):
    """Where the loop runs: hosts it can reset, read, cut off, and run fleet against."""

    label: str
    hosts: tuple[str, ...]
    cut_heals: bool
    """After a cut the controller can still reach the host, so it must put it back."""

    def playbook(self, failing: bool) -> Path:
        """The playbook of the pass or the fail variant."""
        ...

    def fresh(self, folder: Path) -> None:
        """Put every host in the payload's before state (``folder``: the iteration's)."""
        ...

    def env(self) -> dict[str, str]:
        """Extra environment for fleet commands."""
        ...

    def inventory(self) -> tuple[str, ...]:
        """The ``-i FILE`` arguments."""
        ...

    def snapshot(self) -> dict[str, HostSnap]:
        """Every host's ``HostSnap`` now."""
        ...

    def cut(self, controller_pid: int, host: str) -> str | None:
        """Cut ``host`` off; what was done, or None when there was nothing to cut."""
        ...

    def uncut(self) -> None:
        """Undo ``cut`` (after the controller has ended)."""
        ...

    def scripts(self) -> dict[str, list[str]]:
        """Host-side processes still running, per host (only non-empty entries)."""
        ...

    def kill_scripts(self) -> None:
        """End host-side processes that outlived ``SCRIPTS_BOUND``."""
        ...

    def discard(self, folder: Path) -> None:
        """Free what ``fresh(folder)`` took on this machine (the iteration is over)."""
        ...


# --------------------------------------------------------------------------- one iteration


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
        """The iteration's case; the same seed and number give the same case."""
        rng = random.Random(f"{seed}/{iteration}")
        return Case(iteration, rng.choice(KINDS), rng.random(), rng.random() < FAIL_RATE,
                    rng.choice(("recover", "rollback")), rng.randrange(1 << 16))


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
    while (left := rig.scripts()) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        out.flag("scripts", [f"{h}: still running {SCRIPTS_BOUND:.0f} s after the fault: "
                             + ", ".join(p) for h, p in left.items()])
        rig.kill_scripts()


def _self_heal(out: Outcome, where: Mapping[str, str], problems: list[str],
               release: ReleaseShape) -> None:
    """A controller that outlived the fault: exit 1 with every host as before, or exit 0
    with every host on the release. Also fine: a SIGTERM before any host was contacted
    may kill it outright (Python's start-up); a cut of the in-run rollback's own
    script is exit 3 (the run names the host; ``fleet recover`` finishes it)."""
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
    return (f"{case.kind}{f' ({o.cut})' if o.cut else ''} at {t} in {o.phase} [{where}]"
            f"{'' if o.hit else ' (missed: nothing running to hit)'}, "
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


# --------------------------------------------------------------------------- local rig


def processes_of_home(home: Path) -> list[int]:
    """Pids of this user's processes whose environment has ``HOME=home`` (Linux /proc):
    everything running "on" a ``connection: local`` host."""
    marker = b"\0HOME=" + os.fsencode(home) + b"\0"
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            env = Path(entry.path, "environ").read_bytes()
        except OSError:
            continue
        if marker in b"\0" + env:
            found.append(int(entry.name))
    return found


def _kill(pids: Iterable[int]) -> list[int]:
    killed = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        killed.append(pid)
    return killed


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


class LocalRig:
    """One ``connection: local`` host, ``local-1``, with a fresh HOME per iteration (the
    controller's HOME: the CLI gives local hosts no HOME of their own). The target is
    ``~/site/agents``; fleet's state is under the same HOME, on the same filesystem."""

    label: str = "connection: local"
    hosts: tuple[str, ...] = ("local-1",)
    cut_heals: bool = True
    TARGET = "~/site/agents"
    NAME = "killloop"

    def __init__(self, payload: Payload, folder: Path) -> None:
        self.payload = payload
        folder.mkdir(parents=True, exist_ok=True)
        self._inventory = folder / "inventory.yml"
        self._inventory.write_text(yaml.safe_dump(
            {"all": {"hosts": {"local-1": {"ansible_connection": "local"}}}}))
        timeouts = {"connect": 5, "command": 120}
        self._playbooks = {f: write_playbook(folder, payload, name=self.NAME, target=self.TARGET,
                                             failing=f, timeouts=timeouts) for f in (False, True)}
        self.home = folder / "no-home-yet"

    def playbook(self, failing: bool) -> Path:
        return self._playbooks[failing]

    def fresh(self, folder: Path) -> None:
        self.home = folder / "home"
        shutil.copytree(self.payload.before, self.home / "site", symlinks=True)
        (self.home / ".local" / "state").mkdir(parents=True)

    def env(self) -> dict[str, str]:
        return {"HOME": str(self.home)}

    def inventory(self) -> tuple[str, ...]:
        return ("-i", str(self._inventory))

    def snapshot(self) -> dict[str, HostSnap]:
        return {"local-1": local_host_snap(self.home, self.TARGET, self.NAME)}

    def cut(self, controller_pid: int, host: str) -> str | None:
        pids = [p for p in processes_of_home(self.home) if p != controller_pid]
        names = [_comm(p) for p in pids]
        killed = _kill(pids)
        return f"killed {', '.join(names)}" if killed else None

    def uncut(self) -> None:
        """Nothing to undo: the next step starts new processes."""

    def scripts(self) -> dict[str, list[str]]:
        left = [f"{p} {_comm(p)}" for p in processes_of_home(self.home)]
        return {"local-1": left} if left else {}

    def kill_scripts(self) -> None:
        _kill(processes_of_home(self.home))

    def discard(self, folder: Path) -> None:
        shutil.rmtree(folder / "home", ignore_errors=True)


# --------------------------------------------------------------------------- SSH rig


class SshRig:
    """Hosts of the container test fleet (the first is the canary, then batches of 2),
    target ``~/.claude/agents``; a cut takes the host off the docker network until the
    controller has ended. Needs the fleet up and the integration lock held."""

    cut_heals: bool = False  # the host is unreachable until the run has ended
    NAME = "killloop"

    def __init__(self, payload: Payload, folder: Path, hosts: Sequence[str]) -> None:
        self.hosts = tuple(hosts)
        self.label = f"SSH ({', '.join(self.hosts)})"
        self.payload = payload
        self.target = TARGET
        folder.mkdir(parents=True, exist_ok=True)
        self._inventory = write_inventory(folder, fleet_ports(*self.hosts),
                                          canaries=self.hosts[:1])
        timeouts = {"connect": 3, "command": 10}
        self._playbooks = {f: write_playbook(folder, payload, name=self.NAME,
                                             target="~/.claude/agents", failing=f,
                                             timeouts=timeouts) for f in (False, True)}
        self._archive = _tar_of(payload.before, uid=1000, gid=1000, owner="tester")
        self._cut: str | None = None

    def playbook(self, failing: bool) -> Path:
        return self._playbooks[failing]

    def fresh(self, folder: Path) -> None:
        def one(host: str) -> None:
            reset_host(host)
            if not container(host).put_archive(os.path.dirname(self.target), self._archive):
                raise RuntimeError(f"{host}: seeding the target failed")

        with ThreadPoolExecutor(max_workers=len(self.hosts)) as pool:
            list(pool.map(one, self.hosts))

    def env(self) -> dict[str, str]:
        return {}

    def inventory(self) -> tuple[str, ...]:
        return ("-i", str(self._inventory))

    def snapshot(self) -> dict[str, HostSnap]:
        with ThreadPoolExecutor(max_workers=len(self.hosts)) as pool:
            snaps = pool.map(lambda h: quick_host_snap(h, self.target, self.NAME), self.hosts)
            return dict(zip(self.hosts, snaps, strict=True))

    def cut(self, controller_pid: int, host: str) -> str | None:
        disconnect(host)
        self._cut = host
        return f"{host} off the network"

    def uncut(self) -> None:
        if self._cut is not None:
            restore_host(self._cut)
            self._cut = None

    def scripts(self) -> dict[str, list[str]]:
        found = {h: host_scripts(h) for h in self.hosts}
        return {h: p for h, p in found.items() if p}

    def kill_scripts(self) -> None:
        """``reset_host`` at the next iteration ends them (they are the remote user's)."""

    def discard(self, folder: Path) -> None:
        """Nothing kept on this machine (the next ``fresh`` resets the hosts)."""

    def heal(self) -> None:
        """Every host back on the network (after an error mid-iteration)."""
        self.uncut()


def _tar_of(folder: Path, *, uid: int, gid: int, owner: str) -> bytes:
    """A tar of ``folder``'s content (modes kept), owned by ``owner``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(folder)))
            info.uid, info.gid, info.uname, info.gname = uid, gid, owner, owner
            if info.isfile():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    return buffer.getvalue()
