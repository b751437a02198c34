"""The commands as functions: rollout, check and rollback, each returning a RunResult.

The CLI builds the inputs (all validation done, no host contacted yet) and
presents the result; these functions do the work through a ``Connector``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from fleet.config.playbook import Playbook
from fleet.config.release import Release
from fleet.engine.connections import Connections, Connector
from fleet.engine.fanout import Unread
from fleet.engine.hostwork import Here, Place
from fleet.engine.interrupts import Interrupt
from fleet.engine.orchestrator import run_fleet
from fleet.engine.pipeline import HostJob
from fleet.engine.watch import SampleLog, Tracker, Watch, watch
from fleet.events import (
    EventSink,
    HostFinished,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from fleet.inventory.model import Host
from fleet.plan import Plan
from fleet.remote import probe, stage
from fleet.remote.context import DeployContext
from fleet.remote.health import Level, Schedule, health_script
from fleet.remote.liveness import this_controller
from fleet.remote.texts import HostCopy
from fleet.remote.texts import parse as parse_texts
from fleet.remote.texts import script as texts_script
from fleet.results import HostOutcome, HostStatus, Outcome, RunResult, in_order
from fleet.transport.base import Script, Transport, send
from fleet.verbs.diff import Side, host_diffs, release_texts, wanted


def new_run_id() -> str:
    """Return a time-sortable, unique run id like ``20261128T045224Z-3f9c1a``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


@dataclass(frozen=True)
class Target:
    """What a command acts on: the playbook, its release, the selected hosts."""

    playbook: Playbook
    release: Release
    hosts: tuple[Host, ...]

    def context(self, run_id: str) -> DeployContext:
        """The per-run context every step renders from. The run's locks name this
        process as their owner, wherever the steps run (a Dask worker's own process
        would keep an abandoned run looking live to ``fleet recover``)."""
        pb = self.playbook
        return DeployContext(name=pb.name, target=pb.target, run_id=run_id,
                             release=self.release, checks=pb.checks, keep=pb.backup.keep,
                             command_timeout=pb.timeouts.command, owner=this_controller())


def rollout(target: Target, plan: Plan, connector: Connector, sink: EventSink, *,
            run_id: str, canary_only: bool = False, interrupt: Interrupt | None = None,
            on_release: Collection[str] = (), place: Place | None = None) -> RunResult:
    """Run the fleet sequence (canary, batches, halt, rollback) and return its result.

    ``interrupt`` (set by Ctrl-C, SIGTERM or SIGHUP) halts the run and rolls back
    every touched host, as a failure does. ``on_release``: hosts expected to hold
    the release already (see :attr:`fleet.engine.pipeline.HostJob.on_release`).
    ``place`` is where the hosts' steps and the canary bake's samples run (e.g.
    Dask workers, :mod:`fleet.distributed`); default: threads here, connecting
    with ``connector``."""
    start = time.monotonic()
    pb = target.playbook
    sink.emit(RunStarted(run_id, "rollout", pb.name, target.release.id,
                         tuple(h.name for h in target.hosts),
                         tuple(b.hosts for b in plan.batches)))
    connections = Connections(connector)
    job = HostJob(ctx=target.context(run_id), payload=stage.pack(target.release),
                  get_transport=connections.get, reconnect=connections.fresh, sink=sink,
                  stop=threading.Event(),
                  timeout=pb.timeouts.command,
                  roll_back_failed=plan.on_failure != "halt", on_release=frozenset(on_release),
                  done_with=connections.drop)
    where = place or Here(connector)
    bake = None
    if plan.bake_s and pb.health:
        bake = partial(bake_canaries, target, where, sink, run_id=run_id, seconds=plan.bake_s)
    work = where.work(job, plan.forks)
    try:
        run = run_fleet(plan, target.hosts, job, plan.halt_policy, on_failure=plan.on_failure,
                        canary_only=canary_only, bake=bake, interrupt=interrupt, work=work)
    finally:
        work.close()
        connections.close_all()
    duration = time.monotonic() - start
    sink.emit(RunFinished(run_id, run.outcome, duration, run.rollback_duration))
    return RunResult(run_id, "rollout", pb.name, target.release.id, run.outcome,
                     in_order(run.hosts, (h.name for h in target.hosts)), duration,
                     run.halt_reason, rollback_duration=run.rollback_duration)


def bake_canaries(target: Target, place: Place, sink: EventSink,
                  canaries: Sequence[Host], stop: threading.Event, *, run_id: str,
                  seconds: float) -> str | None:
    """Watch the canaries' health for ``seconds``; the first critical sample fails them,
    and so does the first one that cannot be read (unreachable). The samples are
    taken where ``place`` runs the hosts' steps (on Dask workers of the canaries'
    zones under ``--scheduler``); every verdict is taken here. The samples go to
    ``.fleet/monitor/<name>-bake-<run_id>.jsonl``, next to the run's own log.

    Returns why the run must halt, or None when the canaries stayed healthy.
    """
    pb = target.playbook
    spec = Watch(tuple(canaries), health_script(pb.name, pb.target, target.release, pb.health),
                 pb.health, Schedule((), max(0.5, min(5.0, seconds / 6))), seconds,
                 pb.strategy.forks, pb.timeouts.command,
                 about={"purpose": "bake", "playbook": pb.name, "release": target.release.id,
                        "run_id": run_id})
    tracker = Tracker(rollback_on=Level.CRITICAL, grace=1, unreachable_triggers=True)
    log = SampleLog(Path(".fleet") / "monitor" / f"{pb.name}-bake-{run_id}.jsonl")
    for host in canaries:
        sink.emit(StepStarted(host.name, "bake"))
    started = time.monotonic()
    fanout = place.fanout(f"{run_id}-bake")
    try:
        watch(spec, fanout, tracker, log, stop=stop, on_round=lambda samples, alerts: None)
    finally:
        fanout.close()
        log.close()
    for host in canaries:
        level = tracker.levels.get(host.name, Level.OK)
        bad = level is Level.CRITICAL or level.unread
        sink.emit(StepFinished(host.name, "bake", not bad,
                               time.monotonic() - started, detail=f"health {level.value}",
                               error=tracker.triggered if bad else None))
    return f"canary health during the bake: {tracker.triggered}" if tracker.triggered else None


def check(target: Target, connector: Connector, sink: EventSink, *, run_id: str,
          forks: int, diff: bool = False, place: Place | None = None) -> RunResult:
    """Report per host which files a rollout would create or replace; writes nothing.

    With ``diff`` each host's outcome also has a unified diff (or a note) per such
    file (:mod:`fleet.verbs.diff`), read in the same round trip as the probe. The
    probes run where ``place`` says (default: threads here); the diffs are made here."""
    start = time.monotonic()
    pb, release = target.playbook, target.release
    sink.emit(RunStarted(run_id, "check", pb.name, release.id,
                         tuple(h.name for h in target.hosts), ()))
    texts = release_texts(release) if diff else ()
    script = texts_script(pb.name, pb.target, release, wanted(texts)) if diff \
        else probe.script(pb.name, pb.target, release)
    call = partial(_read_host, script=script, diff=diff, timeout=pb.timeouts.command)
    outcomes: dict[str, HostOutcome] = {}

    def judged(host: Host, got: _Read | Unread) -> None:
        outcome = HostOutcome(host.name, HostStatus.FAILED, got.duration, error=got.error) \
            if isinstance(got, Unread) else _would_change(host, got, release, texts, pb.target,
                                                          diff=diff)
        outcomes[host.name] = outcome
        sink.emit(HostFinished(host.name, outcome.status, outcome.duration, outcome.error))

    fanout = (place or Here(connector)).fanout(run_id)
    try:
        fanout.each([(h, call) for h in target.hosts], sink, forks=forks, on_result=judged)
    finally:
        fanout.close()
    failed = any(o.status is HostStatus.FAILED for o in outcomes.values())
    outcome = Outcome.HALTED if failed else Outcome.CHECKED
    duration = time.monotonic() - start
    sink.emit(RunFinished(run_id, outcome, duration))
    return RunResult(run_id, "check", pb.name, release.id, outcome,
                     in_order(outcomes, (h.name for h in target.hosts)), duration)


@dataclass(frozen=True)
class _Read:
    """What ``--check`` read on one host: its state and (``--diff``) its copies of
    the release's text files, and how long it took."""

    state: probe.DeploymentState
    copies: Mapping[int, HostCopy]
    duration: float


def _read_host(host: Host, transport: Transport, sink: EventSink, started: float, *,
               script: Script, diff: bool, timeout: float) -> _Read:
    """Read what ``--check`` needs from one host (a :data:`~fleet.engine.fanout.HostCall`).

    Raises:
        FleetError: the probe failed or its answer could not be read.
    """
    answer = send(transport, script, timeout=timeout)
    return _Read(probe.parse(answer, host.name), parse_texts(answer) if diff else {},
                 time.monotonic() - started)


def _would_change(host: Host, read: _Read, release: Release, texts: tuple[Side, ...],
                  where: str, *, diff: bool) -> HostOutcome:
    """What a rollout would change on the host, from what ``--check`` read there."""
    state = read.state
    created = tuple(f.name for f, s in zip(release.files, state.files, strict=True)
                    if s.state == "absent")
    replaced = tuple(f.name for f, s in zip(release.files, state.files, strict=True)
                     if s.state != "absent" and (s.sha256, s.mode) != (f.sha256, f.mode))
    on_release = state.current is not None and state.current.release == release.id
    status = HostStatus.UNCHANGED if on_release and not created and not replaced \
        else HostStatus.WOULD_CHANGE
    return HostOutcome(host.name, status, read.duration,
                       release=state.current.release if state.current else None,
                       created=created, replaced=replaced,
                       diffs=host_diffs(release, texts, state, read.copies, where)
                       if diff else None,
                       error=f"locked by run {state.lock}" if state.lock else None)
