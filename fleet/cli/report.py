"""What a person sees: live progress while a run goes, then a summary table.

Built only from events and the final RunResult. Writes to stderr, so
``--json`` keeps stdout for the machine.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from fleet.engine.watch import Alert
from fleet.events import (
    BatchStarted,
    Event,
    Halted,
    HostFinished,
    RollbackStarted,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from fleet.remote.health import Sample
from fleet.results import RunResult
from fleet.runlog.history import RunRecord
from fleet.verbs.status import StatusResult

_STYLE = {
    "deployed": "green", "unchanged": "cyan", "rolled_back": "yellow", "skipped": "dim",
    "failed": "bold red", "rollback_failed": "bold red", "would_change": "magenta",
    "not_deployed": "dim", "success": "bold green", "checked": "bold cyan",
    "canary_only": "bold green", "halted": "bold red", "rolled_back_run": "bold yellow",
    "rollback_incomplete": "bold red", "partial": "bold yellow",
}


@dataclass
class _Row:
    batch: str
    state: str = "waiting"
    style: str = "dim"
    duration: float | None = None
    error: str = ""


class LiveReport:
    """An EventSink that shows each host's current step (a live table on a terminal,
    one line per finished step otherwise)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._rows: dict[str, _Row] = {}
        self._banner: list[Text] = []
        self._lock = threading.Lock()
        self._live: Live | None = None

    def emit(self, event: Event) -> None:
        """Update the view with one event."""
        with self._lock:
            self._apply(event)
            if self._live is not None:
                self._live.update(self._render())

    def _apply(self, event: Event) -> None:
        match event:
            case RunStarted():
                self._start(event)
            case BatchStarted():
                label = "canary" if event.canary else f"batch {event.index}"
                self._say(f"── {label}: {', '.join(event.hosts)}", "bold")
                for name in event.hosts:
                    self._rows.setdefault(name, _Row("")).batch = label
                    self._set(name, "queued", "white")
            case StepStarted():
                self._set(event.host, f"{event.step}…", "blue")
            case StepFinished() if not event.ok:
                self._set(event.host, f"{event.step} failed", "red", error=event.error or "")
                self._line(f"   {event.host}: {event.step} failed: {event.error}", "red")
            case StepFinished():
                if self._live is None and event.step in ("commit", "rollback", "probe"):
                    self._line(f"   {event.host}: {event.step} ok ({event.duration:.2f}s)"
                               + (f" {event.detail}" if event.detail else ""), "dim")
            case HostFinished():
                self._set(event.host, event.status, _STYLE.get(event.status, ""),
                          duration=event.duration, error=event.error or "")
                self._line(f"   {event.host}: {event.status} ({event.duration:.2f}s)"
                           + (f" — {event.error}" if event.error else ""),
                           _STYLE.get(event.status, ""))
            case Halted():
                self._say(f"!! halted: {event.reason}", "bold red")
            case RollbackStarted():
                if event.hosts:
                    self._say(f"<< rolling back {len(event.hosts)} host(s) in parallel: "
                              f"{', '.join(event.hosts)}", "bold yellow")
            case RunFinished():
                self.stop()

    def _start(self, event: RunStarted) -> None:
        self._rows = {h: _Row("") for h in event.hosts}
        if self.console.is_terminal and self._live is None:
            self._live = Live(self._render(), console=self.console, refresh_per_second=8,
                              transient=True)
            self._live.start()
        release = f" release {event.release}" if event.release else ""
        self._say(f"fleet {event.command} {event.playbook}{release} — run {event.run_id}, "
                  f"{len(event.hosts)} host(s)", "bold")

    def _set(self, host: str, state: str, style: str, *, duration: float | None = None,
             error: str = "") -> None:
        row = self._rows.setdefault(host, _Row("-"))
        row.state, row.style = state, style
        if duration is not None:
            row.duration = duration
        if error:
            row.error = error

    def _say(self, text: str, style: str) -> None:
        self._banner.append(Text(text, style=style))
        self._line(text, style)

    def _line(self, text: str, style: str) -> None:
        if self._live is None:
            self.console.print(Text(text, style=style))

    def _render(self) -> Group:
        table = Table(show_edge=False, pad_edge=False, box=None)
        for column in ("host", "batch", "step / status", "time", "error"):
            table.add_column(column)
        for name, row in self._rows.items():
            table.add_row(name, row.batch, Text(row.state, style=row.style),
                          "" if row.duration is None else f"{row.duration:.2f}s",
                          Text(row.error[:80], style="red"))
        return Group(*self._banner[-4:], table)

    def stop(self) -> None:
        """Stop the live display (idempotent)."""
        if self._live is not None:
            self._live.stop()
            self._live = None


_FINE = frozenset({"deployed", "unchanged", "rolled_back", "skipped", "not_deployed",
                   "would_change"})


def summary(result: RunResult, console: Console, journal: str | None, *,
            every_host: bool = True) -> None:
    """Print the final per-host table and the outcome lines (without ``every_host``:
    the count per status and only the hosts that went wrong; the run log and
    ``fleet report`` keep every host)."""
    table = Table(title=f"{result.command} {result.playbook} — run {result.run_id}")
    for column in ("host", "status", "release", "duration", "error"):
        table.add_column(column, overflow="fold")
    shown = result.hosts if every_host else tuple(
        h for h in result.hosts if h.status.value not in _FINE or h.error)
    if not every_host:
        counts: dict[str, int] = {}
        for host in result.hosts:
            counts[host.status.value] = counts.get(host.status.value, 0) + 1
        console.print(f"{len(result.hosts)} host(s): " + ", ".join(
            f"{n} {status}" for status, n in sorted(counts.items())))
    for host in shown[:200] if not every_host else shown:
        table.add_row(host.name, Text(host.status.value, style=_STYLE.get(host.status.value, "")),
                      host.release or "-", f"{host.duration:.2f}s", host.error or "")
    if shown:
        console.print(table)
    style = _STYLE.get(result.outcome.value, "")
    line = f"outcome: {result.outcome.value} (exit {result.outcome.exit_code}) in " \
           f"{result.duration:.2f}s"
    console.print(Text(line, style=style))
    if result.halt_reason:
        console.print(Text(f"halt reason: {result.halt_reason}", style="red"))
    if result.rollback_duration is not None:
        console.print(f"fleet-wide rollback took {round(result.rollback_duration, 3):.2f}s")
    if result.outcome.value == "rollback_incomplete":
        need = [h.name for h in result.hosts if h.status.value == "rollback_failed"]
        console.print(Text(f"needs a person: {', '.join(need)} — fix the host, then run "
                           "`fleet rollback` again", style="bold red"))
    if journal:
        console.print(f"run log: {journal}", style="dim")


def status_table(result: StatusResult, console: Console) -> None:
    """Print ``fleet status`` as a table."""
    styles = {"ok": "green", "drift": "bold yellow", "interrupted": "bold red",
              "not_deployed": "dim", "unreachable": "bold red", "running": "bold cyan",
              "error": "bold red"}
    table = Table(title=f"status of {result.playbook}")
    for column in ("host", "state", "release", "deployed at", "run", "details"):
        table.add_column(column, overflow="fold")
    for host in result.hosts:
        details = list(host.drift)
        if host.unfinished:
            details.append("unfinished run(s): " + ", ".join(host.unfinished)
                           + " — `fleet recover` puts the host back")
        if host.error:
            details.append(host.error)
        table.add_row(host.name, Text(host.state.value, style=styles.get(host.state.value, "")),
                      host.release or "-", host.when or "-", host.run_id or "-",
                      "\n".join(details))
    console.print(table)


def history_table(runs: list[RunRecord], console: Console) -> None:
    """Print ``fleet history`` as a table, oldest first."""
    table = Table(title="fleet runs (.fleet/runs)")
    for column in ("run", "command", "playbook", "release", "outcome", "hosts", "duration"):
        table.add_column(column, overflow="fold")
    for run in runs:
        took = f"{run.duration:.2f}s" if run.duration is not None else "-"
        outcome = Text(run.outcome, style=_STYLE.get(run.outcome, ""))
        if run.skipped_lines:
            damaged = len(run.skipped_lines)
            outcome.append(f" ({damaged} damaged line{'s' if damaged > 1 else ''})", style="dim")
        table.add_row(run.run_id, run.command, run.playbook, run.release or "-", outcome,
                      run.tally(), took)
    console.print(table)


_LEVEL_STYLE = {"ok": "green", "warn": "bold yellow", "critical": "bold red",
                "error": "bold red", "unreachable": "bold magenta"}


class MonitorView:
    """The monitor's screen: a live table of each host's checks on a terminal; alerts and
    one line per sampling round otherwise."""

    def __init__(self, console: Console, title: str) -> None:
        self.console = console
        self.title = title
        self._latest: dict[str, Sample] = {}
        self._alerts: list[Text] = []
        self._rounds = 0
        self._live: Live | None = None
        if console.is_terminal:
            self._live = Live(self._render(), console=console, refresh_per_second=4)
            self._live.start()

    def round(self, samples: list[Sample], alerts: list[Alert]) -> None:
        """Show one sampling round and its alerts."""
        self._rounds += 1
        for sample in samples:
            self._latest[sample.host] = sample
        for alert in alerts:
            stamp = time.strftime("%H:%M:%S", time.localtime(alert.ts))
            text = Text(f"{stamp} ALERT {alert.host}: {alert.before.value} -> "
                        f"{alert.after.value} {alert.why}", style=_LEVEL_STYLE[alert.after.value])
            self._alerts.append(text)
            if self._live is None:
                self.console.print(text)
        if self._live is not None:
            self._live.update(self._render())
        else:
            counts: dict[str, int] = {}
            for sample in samples:
                counts[sample.level.value] = counts.get(sample.level.value, 0) + 1
            self.console.print(f"round {self._rounds}: " + ", ".join(
                f"{n} {level}" for level, n in sorted(counts.items())), style="dim")

    def _render(self) -> Group:
        table = Table(title=f"{self.title} — round {self._rounds}", box=None)
        table.add_column("host")
        table.add_column("level")
        table.add_column("checks")
        for host, sample in self._latest.items():
            checks = sample.error or "; ".join(
                f"{r.label}: {r.message or r.level.value}" for r in sample.readings)
            table.add_row(host, Text(sample.level.value,
                                     style=_LEVEL_STYLE[sample.level.value]), checks)
        return Group(table, *self._alerts[-5:])

    def stop(self) -> None:
        """Stop the live display (idempotent)."""
        if self._live is not None:
            self._live.stop()
            self._live = None
