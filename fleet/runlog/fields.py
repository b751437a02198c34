"""Checked fields of a run or sample log record: each raises on a wrong type, so a
damaged line is skipped by its reader instead of drawn wrong."""

from __future__ import annotations

LATEST = 95_617_584_000.0
"""5000-01-01 in seconds since the epoch: later than any sane time stamp."""


def seconds(value: object) -> float:
    """A finite, non-negative number of seconds or a time stamp (before the year 5000).

    Raises ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not 0 <= value < LATEST:
        raise ValueError("not a time in seconds")
    return float(value)


def number(value: object) -> float | None:
    """A number, or None for null. Raises TypeError for anything else."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    return float(value)


def integer(value: object) -> int:
    """An integer. Raises TypeError for anything else (true and false too)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("not an integer")
    return value


def text(value: object) -> str:
    """A string. Raises TypeError for anything else."""
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def maybe_text(value: object) -> str | None:
    """A string, or None for null. Raises TypeError for anything else."""
    return None if value is None else text(value)


def names(value: object) -> tuple[str, ...]:
    """A list of strings, as a tuple. Raises TypeError for anything else."""
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise TypeError("not a list of names")
    return tuple(value)
