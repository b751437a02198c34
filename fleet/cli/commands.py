"""What each command of :mod:`fleet.cli.main` does: builds its inputs (all
validation before any host is contacted), runs it, presents the result, and
maps it to DESIGN.md's exit codes.

The only module that calls ``sys.exit``. Imported only when a command runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TypeVar

import click
from rich.console import Console

from fleet.cli.diffview import show_diffs
from fleet.cli.inventory import host_vars, inventory_graph, inventory_list, shown_hosts
from fleet.cli.notifier import ENV as NOTIFY_ENV
from fleet.cli.notifier import Notifier, Notify, notifier_for
from fleet.cli.notify import (
    Message,
    RunMessages,
    monitor_alerts,
    monitor_done,
    monitor_rollback,
    monitor_started,
)
from fleet.cli.progress import RunView
from fleet.cli.report import MonitorView, status_table, summary
from fleet.config.playbook import Playbook, load_playbook
from fleet.config.release import build_release
from fleet.config.units import parse_duration
from fleet.engine.connections import Connector, connect
from fleet.engine.hostwork import Place
from fleet.engine.interrupts import Interrupt
from fleet.engine.limits import ensure_open_files, open_files_needed
from fleet.engine.watch import Alert, SampleLog
from fleet.errors import ConfigError
from fleet.events import Broadcast, EventSink
from fleet.inventory.limit import select_hosts
from fleet.inventory.load import load_inventory
from fleet.plan import build_plan
from fleet.remote.health import Level, Sample, Schedule
from fleet.results import RunResult
from fleet.runlog.history import (
    expected_release,
    hosts_on_release,
)
from fleet.runlog.journal import Journal
from fleet.transport.jumpgate import JumpGate
from fleet.transport.sshconfig import check_hosts
from fleet.verbs.monitor import MonitorSpec, monitor_fleet
from fleet.verbs.recover import recover_fleet
from fleet.verbs.rollback import rollback_fleet
from fleet.verbs.rollout import Target, check, new_run_id
from fleet.verbs.rollout import rollout as rollout_fleet
from fleet.verbs.status import status_fleet

RUNS_DIR = Path(".fleet") / "runs"
MONITOR_DIR = Path(".fleet") / "monitor"
EXIT_BAD_INPUT = 2
_T = TypeVar("_T")
_A = TypeVar("_A")


def rollout(playbook: Path, inventories: Sequence[Path], limit: str | None, as_json: bool,
            accept_new_hosts: bool, ask_become_pass: bool, canary_only: bool,
            dry_run: bool, *, forks: int | None = None, verbose: bool = False,
            scheduler: str | None = None, diff: bool = False,
            notify: Notify | None = None) -> None:
    """``fleet rollout``: see :func:`fleet.cli.main.rollout_cmd`. ``--check`` is read-only
    and notifies no one."""
    if diff and not dry_run:
        _guard(lambda: _raise(ConfigError("--diff shows what --check would change; add "
                                          "--check", file="--diff")))
    target, pb, every_host = _load(playbook, inventories, limit, forks)
    plan = _guard(lambda: build_plan([h.name for h in target.hosts], pb.strategy,
                                     inventory_hosts=every_host, playbook_file=str(playbook)))
    password = _become_password(ask_become_pass)
    connector = _connector(pb, accept_new_hosts, password)
    run_id = new_run_id()
    notifier = None if dry_run else _notifier(pb, notify)
    held = () if dry_run else hosts_on_release(RUNS_DIR, pb.name, target.release.id)
    close, place = _place(scheduler, target, pb, accept_new_hosts, password)
    try:
        if dry_run:
            _finish(run_id, as_json, lambda sink, _: check(
                target, connector, sink, run_id=run_id, forks=pb.strategy.forks, diff=diff,
                place=place), verbose=verbose)
        else:
            _finish(run_id, as_json, lambda sink, interrupt: rollout_fleet(
                target, plan, connector, sink, run_id=run_id, canary_only=canary_only,
                interrupt=interrupt, on_release=held, place=place), verbose=verbose,
                notifier=notifier)
    finally:
        close()


def rollback(playbook: Path, inventories: Sequence[Path], limit: str | None, as_json: bool,
             accept_new_hosts: bool, ask_become_pass: bool, to: str | None,
             force: bool, *, forks: int | None = None, verbose: bool = False,
             scheduler: str | None = None, notify: Notify | None = None) -> None:
    """``fleet rollback``: see :func:`fleet.cli.main.rollback_cmd`."""
    target, pb, _ = _load(playbook, inventories, limit, forks, keeps_every_host=True)
    password = _become_password(ask_become_pass)
    connector = _connector(pb, accept_new_hosts, password)
    notifier = _notifier(pb, notify)
    run_id = new_run_id()
    close, place = _place(scheduler, target, pb, accept_new_hosts, password)
    try:
        _finish(run_id, as_json, lambda sink, _: rollback_fleet(
            pb.name, pb.target, target.hosts, connector, sink, run_id=run_id, to=to,
            force=force, forks=pb.strategy.forks, timeout=pb.timeouts.command,
            expect=expected_release(RUNS_DIR, pb.name), place=place), verbose=verbose,
            notifier=notifier)
    finally:
        close()


def recover(playbook: Path, inventories: Sequence[Path], limit: str | None, as_json: bool,
            accept_new_hosts: bool, ask_become_pass: bool, only: str | None, *,
            forks: int | None = None, verbose: bool = False,
            scheduler: str | None = None, notify: Notify | None = None) -> None:
    """``fleet recover``: see :func:`fleet.cli.main.recover_cmd`."""
    target, pb, _ = _load(playbook, inventories, limit, forks, keeps_every_host=True)
    password = _become_password(ask_become_pass)
    connector = _connector(pb, accept_new_hosts, password)
    notifier = _notifier(pb, notify)
    run_id = new_run_id()
    close, place = _place(scheduler, target, pb, accept_new_hosts, password)
    try:
        _finish(run_id, as_json, lambda sink, _: recover_fleet(
            pb.name, pb.target, target.hosts, connector, sink, run_id=run_id, only=only,
            forks=pb.strategy.forks, timeout=pb.timeouts.command, place=place),
            verbose=verbose, notifier=notifier)
    finally:
        close()


def status(playbook: Path, inventories: Sequence[Path], limit: str | None, as_json: bool,
           accept_new_hosts: bool, ask_become_pass: bool, *, forks: int | None = None,
           scheduler: str | None = None) -> None:
    """``fleet status``: see :func:`fleet.cli.main.status_cmd`."""
    target, pb, _ = _load(playbook, inventories, limit, forks)
    password = _become_password(ask_become_pass)
    connector = _connector(pb, accept_new_hosts, password)
    close, place = _place(scheduler, target, pb, accept_new_hosts, password)
    try:
        result = status_fleet(pb.name, pb.target, target.hosts, connector,
                              forks=pb.strategy.forks, timeout=pb.timeouts.command,
                              place=place, run_id=new_run_id())
    finally:
        close()
    status_table(result, _console(stderr=True))
    if as_json:
        sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
        sys.stdout.flush()
    sys.exit(result.exit_code)


def monitor(playbook: Path, inventories: Sequence[Path], limit: str | None, as_json: bool,
            accept_new_hosts: bool, ask_become_pass: bool, interval: str, duration: str | None,
            rollback_on: str | None, grace: int, log_path: Path | None, *,
            forks: int | None = None, verbose: bool = False,
            notify: Notify | None = None) -> None:
    """``fleet monitor``: see :func:`fleet.cli.main.monitor_cmd`."""
    target, pb, _ = _load(playbook, inventories, limit, forks, keeps_every_host=True)
    if not pb.health:
        _guard(lambda: _raise(ConfigError(
            "no health checks to watch; add e.g. {type: access_time, warn_ms: 10, "
            "critical_ms: 50}", file=str(playbook), field="health")))
    schedule = _guard(lambda: _parsed(Schedule.parse, interval, "--interval"))
    seconds = _guard(lambda: _parsed(parse_duration, duration, "--duration")) \
        if duration else None
    connector = _connector(pb, accept_new_hosts, _become_password(ask_become_pass))
    notifier = _notifier(pb, notify)
    tell = notifier.send if notifier is not None else _ignore
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    log = SampleLog(log_path or Path(".fleet") / "monitor" / f"{pb.name}-{stamp}.jsonl")
    spec = MonitorSpec(schedule, seconds, Level(rollback_on) if rollback_on else None, grace)
    view = MonitorView(_console(stderr=True), f"monitor {pb.name}")

    def on_round(samples: list[Sample], alerts: list[Alert]) -> None:
        view.round(samples, alerts)
        if alerts:
            tell(monitor_alerts(pb.name, alerts))

    def roll_back(reason: str) -> RunResult:
        view.stop()
        tell(monitor_rollback(pb.name, reason))
        run_id = new_run_id()
        return _finish_work(run_id, lambda sink, _: rollback_fleet(
            pb.name, pb.target, target.hosts, connector, sink, run_id=run_id, to=None,
            force=False, forks=pb.strategy.forks, timeout=pb.timeouts.command,
            expect=expected_release(RUNS_DIR, pb.name)),
            banner=f"rolling the fleet back: {reason}", verbose=verbose, notifier=notifier)

    tell(monitor_started(pb.name, len(target.hosts), spec.rollback_on))
    try:
        try:
            with Interrupt().installed() as interrupt:
                result = monitor_fleet(target, connector, spec, log, stop=interrupt.event,
                                       on_round=on_round, roll_back=roll_back)
        finally:
            view.stop()
        tell(monitor_done(pb.name, result.rounds, result.levels, result.rollback is not None))
        if as_json:
            sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
            sys.stdout.flush()
    finally:
        if notifier is not None:
            notifier.close()
    sys.exit(result.exit_code)


def _raise(exc: Exception) -> None:
    raise exc


def _parsed(parse: Callable[[_A], _T], text: _A, option: str) -> _T:
    """Parse an option value; a bad one is a ConfigError naming the option."""
    try:
        return parse(text)
    except ValueError as exc:
        raise ConfigError(str(exc), file=option) from None


def inventory(inventories: Sequence[Path], limit: str | None, as_list: bool,
              host: str | None, graph: bool, group: str) -> None:
    """``fleet inventory``: print what fleet resolved (:mod:`fleet.cli.inventory`)."""
    if [as_list, host is not None, graph].count(True) != 1:
        _guard(lambda: _raise(ConfigError("give one of --list, --host NAME, --graph",
                                          file="fleet inventory")))
    resolved = _guard(lambda: load_inventory(list(inventories)))
    if host is not None:
        sys.stdout.write(json.dumps(_guard(lambda: host_vars(resolved, host)), indent=4,
                                    ensure_ascii=False, sort_keys=True) + "\n")
    elif graph:
        every = [h.name for h in resolved.hosts]
        sys.stdout.write(_guard(lambda: inventory_graph(resolved, group, every)) + "\n")
    else:
        shown = _guard(lambda: shown_hosts(resolved, limit))
        sys.stdout.write(json.dumps(inventory_list(resolved, shown), indent=4,
                                    ensure_ascii=False) + "\n")


def _place(scheduler: str | None, target: Target, pb: Playbook, accept_new_hosts: bool,
           password: str | None) -> tuple[Callable[[], None], Place | None]:
    """Where the command's per-host work runs: threads here (None) without
    ``--scheduler``, else the Dask cluster's workers; and how to let go of it.
    Exit 2 when the cluster cannot serve the run (see :func:`_cluster`)."""
    if not scheduler:
        return (lambda: None), None
    return _guard(lambda: _cluster(scheduler, target, pb, accept_new_hosts, password))


def _cluster(address: str, target: Target, pb: Playbook, accept_new_hosts: bool,
             password: str | None) -> tuple[Callable[[], None], Place]:
    """How to let go of the Dask cluster of ``--scheduler``, and the place on it.

    Raises:
        ConfigError: Dask is not installed, or see :func:`fleet.distributed.cluster.open_cluster`.
    """
    try:
        from fleet.distributed.cluster import (
            ConnectSettings,
            DaskPlace,
            close_cluster,
            open_cluster,
        )
    except ImportError as exc:
        raise ConfigError(f"--scheduler needs Dask distributed ({exc.name} is missing): "
                          "pip install 'fleet[dask]'", file="--scheduler") from None
    settings = ConnectSettings(pb.timeouts.connect, accept_new_hosts, password)
    client = open_cluster(address, target.hosts, settings)
    return partial(close_cluster, client), DaskPlace(client, settings)


def _become_password(ask: bool) -> str | None:
    """The become password of ``-K`` (a prompt) or FLEET_BECOME_PASSWORD, if any."""
    if ask:
        return str(click.prompt("BECOME password", hide_input=True, err=True))
    return os.environ.get("FLEET_BECOME_PASSWORD")


def _connector(pb: Playbook, accept_new_hosts: bool, password: str | None) -> Connector:
    """How this command connects: timeouts, host keys, the become password."""
    return partial(connect, timeout=pb.timeouts.connect, accept_new_hosts=accept_new_hosts,
                   become_password=password, gate=JumpGate())


def _console(*, stderr: bool) -> Console:
    """A console for people: wide tables when the output is a file or a pipe."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, highlight=False, width=width)


def _load(playbook: Path, inventories: Sequence[Path], limit: str | None, forks: int | None,
          *, keeps_every_host: bool = False) -> tuple[Target, Playbook, tuple[str, ...]]:
    """Load and validate everything; exit 2 with one line on bad input.

    ``forks`` (``--forks``) overrides the playbook's. The open-file limit is
    raised to what the run needs (``keeps_every_host``: a connection per
    selected host may stay open), or the run stops here with exit 2.

    Returns the target, the playbook and the names of every inventory host.
    """
    inventory = _guard(lambda: load_inventory(list(inventories)))
    hosts = _guard(lambda: select_hosts(inventory, limit))
    _guard(lambda: _parsed(check_hosts, hosts, "ssh config"))
    pb = _guard(lambda: load_playbook(playbook))
    if forks is not None:
        pb = dataclasses.replace(pb, strategy=pb.strategy.model_copy(update={"forks": forks}))
    release = _guard(lambda: build_release(pb))
    _guard(lambda: ensure_open_files(open_files_needed(
        min(pb.strategy.forks, len(hosts)), kept=len(hosts) if keeps_every_host else 0)))
    return Target(pb, release, hosts), pb, tuple(h.name for h in inventory.hosts)


def _guard(load: Callable[[], _T]) -> _T:
    try:
        return load()
    except ConfigError as exc:
        _console(stderr=True).print(f"fleet: error: {exc.render()}",
                                                    markup=False, soft_wrap=True)
        sys.exit(EXIT_BAD_INPUT)


Work = Callable[[EventSink, Interrupt], RunResult]


def _finish_work(run_id: str, work: Work, *, banner: str | None = None,
                 verbose: bool = False, notifier: Notifier | None = None) -> RunResult:
    """Run ``work`` with the live view (:class:`RunView`; ``verbose``: every host and
    step even in a big run), the run log and the notifications (``notifier``; the
    caller closes it), Ctrl-C, SIGTERM and SIGHUP handled as a flag (see
    :mod:`fleet.engine.interrupts`); print the summary."""
    console = _console(stderr=True)
    if banner:
        console.print(banner, style="bold red")
    journal = Journal(RUNS_DIR, run_id)
    live = RunView(console, verbose=verbose)
    sinks: list[EventSink] = [journal, live]
    told = RunMessages(notifier.send) if notifier is not None else None
    if told is not None:
        sinks.append(told)
    try:
        with Interrupt().installed() as interrupt:
            result = work(Broadcast(sinks), interrupt)
    finally:
        live.stop()
        journal.close()
    if told is not None:
        told.finished(result)
    show_diffs(result, console)
    summary(result, console, str(journal.path), every_host=live.per_host)
    return result


def _finish(run_id: str, as_json: bool, work: Work, *, verbose: bool = False,
            notifier: Notifier | None = None) -> None:
    """Run ``work`` (see :func:`_finish_work`), print ``--json``, let the last
    notifications go (a bounded wait), exit with its code."""
    try:
        result = _finish_work(run_id, work, verbose=verbose, notifier=notifier)
        if as_json:
            sys.stdout.write(json.dumps(result.to_json(), ensure_ascii=False) + "\n")
            sys.stdout.flush()
    finally:
        if notifier is not None:
            notifier.close()
    sys.exit(result.outcome.exit_code)


def _notifier(pb: Playbook, notify: Notify | None) -> Notifier | None:
    """The notifier of a command (see :func:`fleet.cli.notifier.notifier_for`); exit 2
    when apprise is missing or a URL is not one it can send to."""
    console = _console(stderr=True)

    def warn(line: str) -> None:
        console.print(line, style="yellow", markup=False, highlight=False, soft_wrap=True)

    return _guard(lambda: notifier_for(notify or Notify(), os.environ.get(NOTIFY_ENV),
                                       pb.notify, str(pb.path), warn))


def _ignore(message: Message) -> None:
    """Where messages go without a notifier."""
