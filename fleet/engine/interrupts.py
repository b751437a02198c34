"""Ctrl-C, SIGTERM and SIGHUP as a flag the run looks at, never an exception.

DESIGN.md: each of the three is a failure of the run, with the same halt and
rollback. A signal that raised wherever the main thread happened to be
(between two submits, inside a pool's shutdown) could skip the rollback; so
the handlers only record the signal, and the orchestrator's wait loop turns
it into a halt at a point where every host's outcome is collected. A second
signal changes nothing: the rollback finishes what it started (SIGKILL
remains the way to stop the controller at once, and `fleet recover` then
finishes the job).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupt:
    """Which signal asked the run to stop, if any; ``event`` is set when one did."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signal: signal.Signals | None = None

    def is_set(self) -> bool:
        """True once a signal arrived."""
        return self.event.is_set()

    def why(self) -> str:
        """The halt reason, naming the signal."""
        if self.signal is signal.SIGINT:
            return "interrupted by the operator (Ctrl-C)"
        name = self.signal.name if self.signal is not None else "a signal"
        return f"interrupted by {name}"

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signal.Signals(signum)
        self.event.set()

    @contextmanager
    def installed(self) -> Iterator[Interrupt]:
        """Handle SIGINT, SIGTERM and SIGHUP with this flag while the block runs
        (main thread only; elsewhere the block runs without handlers)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
        for sig in SIGNALS:
            signal.signal(sig, self._handle)
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
