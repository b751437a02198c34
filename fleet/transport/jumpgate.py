"""How many SSH handshakes go to one jump host at once, and what to do when it refuses.

OpenSSH's sshd drops new connections beyond ``MaxStartups`` (default
``10:30:100``: past 10 unauthenticated connections it drops 30 % of new ones,
rising to all of them at 100). A run of a hundred hosts behind one bastion,
each opening its own connection to it at once, would lose most of them. A
:class:`JumpGate` lets ``at_once`` handshakes per jump host be in progress
(fewer than MaxStartups' first number), and a connection the jump host drops
before its banner is tried again after a growing, jittered pause.

One gate serves one run (the CLI makes it and hands it to every connection).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager

AT_ONCE = 8
"""Handshakes in progress per jump host: below sshd's default MaxStartups start (10)."""


class JumpGate:
    """Per jump host: at most ``at_once`` handshakes in progress; ``attempts`` tries
    for one dropped before its banner, ``first_pause`` s apart, doubling, ±50 % jitter."""

    def __init__(self, at_once: int = AT_ONCE, attempts: int = 6,
                 first_pause: float = 0.25) -> None:
        self.at_once = at_once
        self.attempts = attempts
        self.first_pause = first_pause
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()
        self._random = random.Random()  # noqa: S311  # jitter, not secrets

    @contextmanager
    def handshake(self, jump: str) -> Iterator[None]:
        """Hold one of ``jump``'s slots while the block opens a connection to it."""
        with self._lock:
            slot = self._slots.setdefault(jump, threading.BoundedSemaphore(self.at_once))
        with slot:
            yield

    def pauses(self) -> Iterator[float]:
        """The pause before each retry (``attempts - 1`` of them)."""
        pause = self.first_pause
        for _ in range(self.attempts - 1):
            yield pause * self._random.uniform(0.5, 1.5)
            pause *= 2
