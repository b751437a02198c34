"""The live view of a big run: one progress line per batch and for the run, and each
failure as it happens, instead of a line per host and step.

:class:`RunView` picks the view when the run starts: the per-host view
(:class:`fleet.cli.report.LiveReport`) for a run that fits on a screen or with
``-v``, :class:`Progress` above that. Work per event is constant: nothing
here walks the host list after the run started.
"""

from __future__ import annotations

import threading
import time
from collections import Counter

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from fleet.cli.report import LiveReport
from fleet.events import (
    BatchStarted,
    Event,
    Halted,
    HostFinished,
    RollbackStarted,
    RunFinished,
    RunStarted,
    StepFinished,
)
from fleet.results import HostStatus

SCREENFUL = 40
"""Hosts a per-host view shows well; a run with more gets :class:`Progress`."""
_BAD = frozenset({HostStatus.FAILED, HostStatus.ROLLBACK_FAILED})
_PRINT_EVERY_S = 5.0  # without a terminal: a run line this often, and at each batch's end


class _Tally:
    """Hosts finished out of ``total``, by status, since ``started``."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def line(self, label: str) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed
        left = self.total - self.done
        eta = f", ETA {left / rate:.0f}s" if rate > 0 and left > 0 else ""
        counts = ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))
        return (f"{label}: {self.done}/{self.total} done"
                + (f" ({counts})" if counts else "") + f" — {rate:.1f} hosts/s{eta}")


class Progress:
    """An EventSink for a big run: run and batch progress lines, failures as they happen."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()
        self._run: _Tally | None = None
        self._batch: _Tally | None = None
        self._label = ""
        self._status_of: dict[str, str] = {}
        self._title = ""
        self._notes: list[Text] = []
        self._printed = time.monotonic()
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
                self._title = (f"fleet {event.command} {event.playbook}"
                               + (f" release {event.release}" if event.release else "")
                               + f" — run {event.run_id}, {len(event.hosts)} host(s)")
                self._run = _Tally(len(event.hosts))
                self.console.print(Text(self._title, style="bold"))
                if self.console.is_terminal:
                    self._live = Live(self._render(), console=self.console,
                                      refresh_per_second=4, transient=True)
                    self._live.start()
            case BatchStarted():
                self._end_batch()
                self._label = "canary" if event.canary else f"batch {event.index}"
                self._batch = _Tally(len(event.hosts))
            case StepFinished() if not event.ok:
                self._note(f"   {event.host}: {event.step} failed: {event.error}", "red")
            case HostFinished():
                self._count(event)
            case Halted():
                self._note(f"!! halted: {event.reason}", "bold red")
            case RollbackStarted() if event.hosts:
                self._end_batch()
                self._label = "rollback"
                self._batch = _Tally(len(event.hosts))
                self._note(f"<< rolling back {len(event.hosts)} host(s) in parallel",
                           "bold yellow")
            case RunFinished():
                self._end_batch()
                if self._run is not None:
                    self._print(self._run.line("run"), "bold")
                self.stop()

    def _count(self, event: HostFinished) -> None:
        if self._batch is not None and self._batch.done < self._batch.total:
            self._batch.counts[event.status.value] += 1  # (later batches' skips are the run's)
        if self._run is not None:  # a host rolled back after the halt moves to its new status
            before = self._status_of.get(event.host)
            if before is not None:
                self._run.counts[before] -= 1
                if not self._run.counts[before]:
                    del self._run.counts[before]
            self._status_of[event.host] = event.status.value
            self._run.counts[event.status.value] += 1
        if event.status in _BAD:
            self._note(f"   {event.host}: {event.status.value} — {event.error}", "bold red")
        if self._live is None and time.monotonic() - self._printed >= _PRINT_EVERY_S:
            if self._batch is not None:
                self._print(self._batch.line(self._label), "dim")
            if self._run is not None:
                self._print(self._run.line("run"), "dim")

    def _end_batch(self) -> None:
        if self._batch is not None and self._batch.done:
            self._print(self._batch.line(self._label), "")
        self._batch = None

    def _note(self, text: str, style: str) -> None:
        self._notes.append(Text(text, style=style))
        self._print(text, style)

    def _print(self, text: str, style: str) -> None:
        self._printed = time.monotonic()
        if self._live is not None:
            self._live.console.print(Text(text, style=style))
        else:
            self.console.print(Text(text, style=style))

    def _render(self) -> Group:
        lines = [Text(self._title, style="bold")]
        if self._run is not None:
            lines.append(Text(self._run.line("run")))
        if self._batch is not None:
            lines.append(Text(self._batch.line(self._label)))
        return Group(*lines)

    def stop(self) -> None:
        """Stop the live display (idempotent)."""
        if self._live is not None:
            self._live.stop()
            self._live = None


class RunView:
    """The view of one run: per host and step when it fits on a screen (or with
    ``verbose``), else :class:`Progress`; chosen when the run starts."""

    def __init__(self, console: Console, *, verbose: bool = False,
                 screenful: int = SCREENFUL) -> None:
        self.console = console
        self.verbose = verbose
        self.screenful = screenful
        self._view: LiveReport | Progress | None = None

    def emit(self, event: Event) -> None:
        """Pass ``event`` to the view (choosing it at the run's start)."""
        if self._view is None:
            big = isinstance(event, RunStarted) and len(event.hosts) > self.screenful
            self._view = Progress(self.console) if big and not self.verbose \
                else LiveReport(self.console)
        self._view.emit(event)

    @property
    def per_host(self) -> bool:
        """True when the run is shown host by host (the summary lists every host)."""
        return not isinstance(self._view, Progress)

    def stop(self) -> None:
        """Stop the live display (idempotent)."""
        if self._view is not None:
            self._view.stop()
