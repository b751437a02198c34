"""When a run must stop: every halt rule of fleet, in one pure place.

Rules, counted fleet-wide over the whole run (canaries and every batch):

* a failed canary always halts;
* ``max_failures: 0`` (the default): the first failed host halts;
* ``max_failures: N``: N failed hosts are tolerated, the (N+1)th halts;
* ``max_failures: "P%"``: floor(P% of the selected hosts) are tolerated.

The caller decides what a halt means (stop scheduling, roll back).
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet.config.units import parse_percent


@dataclass(frozen=True)
class Continue:
    """Keep going: start the next host or batch."""


@dataclass(frozen=True)
class Halt:
    """Stop the run; ``reason`` is one line for the person at the terminal."""

    reason: str


@dataclass(frozen=True)
class HaltPolicy:
    """The failure budget of one run.

    ``max_failures`` is an int >= 0 (failed hosts tolerated) or ``"P%"``;
    a percentage is taken of ``total_hosts``, the number of hosts selected for
    this run (after ``--limit``, canaries included), rounded down, so
    ``"10%"`` of 15 hosts tolerates 1 failed host and of 9 hosts tolerates none.

    Raises ``ValueError`` on construction for a negative count, a bad
    percentage or a negative ``total_hosts``.
    """

    max_failures: int | str
    total_hosts: int

    def __post_init__(self) -> None:
        if self.total_hosts < 0:
            raise ValueError(f"total_hosts must be >= 0, got {self.total_hosts}")
        if isinstance(self.max_failures, str):
            parse_percent(self.max_failures)
        elif isinstance(self.max_failures, bool) or self.max_failures < 0:
            raise ValueError(f"max_failures must be an int >= 0, got {self.max_failures!r}")

    @property
    def tolerated(self) -> int:
        """Return how many failed hosts the run tolerates before halting."""
        if isinstance(self.max_failures, str):
            return self.total_hosts * parse_percent(self.max_failures) // 100
        return self.max_failures

    def decide(self, failed: int, canary_failed: bool) -> Continue | Halt:
        """Return ``Halt`` if the run must stop, else ``Continue``.

        ``failed`` is the number of failed hosts so far in the whole run
        (canaries included); ``canary_failed`` is True once any canary failed.
        Raises ``ValueError`` if ``failed`` is negative.
        """
        if failed < 0:
            raise ValueError(f"failed must be >= 0, got {failed}")
        if canary_failed:
            return Halt("a canary host failed; no further host starts")
        if failed > self.tolerated:
            return Halt(
                f"{failed} host(s) failed; max_failures {self.max_failures!r} tolerates "
                f"{self.tolerated} of {self.total_hosts} selected host(s)"
            )
        return Continue()
