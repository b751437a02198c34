"""The plan of a run: which hosts go in which batch, under which failure budget.

Pure functions of their arguments, no I/O. Batching follows Ansible's
``serial``: a schedule ``[1, "10%", "50%"]`` gives batches of 1, then 10%,
then 50% of the non-canary hosts, the last entry repeating until every host
is placed. The canary batch comes first, alone.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fleet.config.units import parse_percent
from fleet.errors import ConfigError
from fleet.halt import HaltPolicy

if TYPE_CHECKING:
    from fleet.config.playbook import OnFailure, Strategy

def parse_size(value: int | str, total: int) -> int:
    """Return a batch size: an int as is, ``"P%"`` as floor(P% of ``total``).

    A percentage gives at least 1 when ``total`` > 0 (and 0 when it is 0).
    Raises ``ValueError`` for a negative int or a malformed percentage.
    """
    if isinstance(value, bool) or (isinstance(value, int) and value < 0):
        raise ValueError(f"expected an int >= 0 or 'P%', got {value!r}")
    if isinstance(value, int):
        return value
    size = total * parse_percent(value) // 100
    return max(size, 1) if total > 0 else 0


@dataclass(frozen=True)
class Batch:
    """One batch of hosts started together; ``index`` counts from 0, canary first."""

    index: int
    hosts: tuple[str, ...]
    canary: bool


def _canaries(hosts: Sequence[str], canary: int | Sequence[str]) -> tuple[str, ...]:
    """Return the canary hosts among ``hosts``, in host order."""
    if isinstance(canary, int):
        if isinstance(canary, bool) or canary < 0:
            raise ValueError(f"canary must be an int >= 0 or a list of names, got {canary!r}")
        return tuple(hosts[:canary])
    if isinstance(canary, str):
        raise ValueError(f"canary must be an int or a list of names, got {canary!r}")
    named = set(canary)
    return tuple(h for h in hosts if h in named)


def make_batches(
    hosts: Sequence[str],
    canary: int | Sequence[str],
    schedule: int | str | Sequence[int | str],
) -> tuple[Batch, ...]:
    """Split ``hosts`` into the canary batch and then batches following ``schedule``.

    ``canary`` is a count (the first N hosts; more than there are takes all)
    or names (those among ``hosts`` are canaries, others are ignored).
    ``schedule`` is Ansible's ``serial``: an int, ``"P%"`` of the non-canary
    hosts (rounded down, at least 1), or a list of those used in turn with the
    last one repeating. Every host lands in exactly one batch, no batch is
    empty, and host order is kept.

    Raises ``ValueError`` for duplicate hosts, an empty schedule list or a
    schedule entry that is not an int >= 1 or a valid percentage.
    """
    if len(set(hosts)) != len(hosts):
        raise ValueError("hosts must not repeat")
    entries = [schedule] if isinstance(schedule, int | str) else list(schedule)
    if not entries:
        raise ValueError("schedule must not be an empty list")
    first = _canaries(hosts, canary)
    chosen = set(first)
    rest = [h for h in hosts if h not in chosen]
    if any(isinstance(e, int) and e < 1 for e in entries):  # bool is an int too
        raise ValueError(f"every batch size must be >= 1, got {schedule!r}")
    sizes = [parse_size(entry, len(rest)) for entry in entries]
    batches: list[Batch] = []
    if first:
        batches.append(Batch(index=0, hosts=first, canary=True))
    start, turn = 0, 0
    while start < len(rest):
        size = sizes[min(turn, len(sizes) - 1)]
        batches.append(Batch(index=len(batches), hosts=tuple(rest[start:start + size]),
                             canary=False))
        start, turn = start + size, turn + 1
    return tuple(batches)


@dataclass(frozen=True)
class Plan:
    """Everything the orchestrator needs to schedule a run, decided up front.

    ``hosts`` are the selected hosts in inventory order; ``bake_s`` is how long
    to watch the canaries' health before the batches (None: no bake).
    """

    hosts: tuple[str, ...]
    batches: tuple[Batch, ...]
    forks: int
    halt_policy: HaltPolicy
    on_failure: OnFailure
    bake_s: float | None

    @property
    def canaries(self) -> tuple[str, ...]:
        """Return the canary hosts (empty when there is no canary batch)."""
        return tuple(h for b in self.batches if b.canary for h in b.hosts)


def build_plan(
    hosts: Sequence[str],
    strategy: Strategy,
    *,
    inventory_hosts: Collection[str] | None = None,
    playbook_file: str | None = None,
) -> Plan:
    """Return the ``Plan`` for running ``strategy`` over the selected ``hosts``.

    ``inventory_hosts`` are all host names of the inventory (default: ``hosts``):
    a canary named there but excluded by ``--limit`` is simply not a canary.
    Raises ``ConfigError`` (field ``strategy.canary``, file ``playbook_file``)
    for a canary name that is not in the inventory at all.
    """
    known = set(hosts if inventory_hosts is None else inventory_hosts)
    if not isinstance(strategy.canary, int):
        unknown = [name for name in strategy.canary if name not in known]
        if unknown:
            raise ConfigError(
                f"canary host {unknown[0]!r} is not in the inventory; "
                f"name inventory hosts, e.g. {', '.join(sorted(known)[:5]) or '(none)'}",
                file=playbook_file, field="strategy.canary",
            )
    return Plan(
        hosts=tuple(hosts),
        batches=make_batches(hosts, strategy.canary, strategy.batch_size),
        forks=strategy.forks,
        halt_policy=HaltPolicy(strategy.max_failures, total_hosts=len(hosts)),
        on_failure=strategy.on_failure,
        bake_s=strategy.bake,
    )
