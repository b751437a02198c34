"""The one grammar of durations and percentages, for the playbook and the command line.

A duration is ``[Nh][Nm][N[s]]``: hours, minutes and seconds, each a decimal
number, in that order, at least one present; a bare number is seconds. So
``90``, ``30s``, ``5m``, ``1.5h``, ``1h30m`` and ``2m30s`` mean the same
wherever fleet reads a duration (``strategy.bake``, ``--duration``,
``--interval``). Zero is refused unless the caller says zero means something:
``strategy.bake: 0`` (or ``0s``) explicitly means *no bake*; ``fleet monitor
--duration 0`` is refused.

A percentage is ``"P%"`` with P an integer 0..100.
"""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*"
                       r"(?:(\d+(?:\.\d+)?)s?)?\s*$")
_PERCENT = re.compile(r"^(\d{1,3})%$")


def parse_duration(text: str, *, zero_ok: bool = False) -> float:
    """Return the seconds in a duration such as ``"90"``, ``"30s"``, ``"1.5h"``, ``"1h30m"``.

    Raises:
        ValueError: not a duration; or zero, unless ``zero_ok``.
    """
    match = _DURATION.match(text)
    if not match or not any(match.groups()):
        raise ValueError(f"{text!r} is not a duration; write e.g. 30s, 5m, 1h30m")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0 and not zero_ok:
        raise ValueError(f"{text!r} must be more than zero")
    return total


def parse_percent(value: str) -> int:
    """Return P for a percentage written ``"P%"`` (an integer 0..100).

    Raises ``ValueError`` for anything else (``"10"``, ``"10.5%"``, ``"101%"``).
    """
    match = _PERCENT.match(value)
    if match is None or int(match.group(1)) > 100:
        raise ValueError(f"expected a percentage like '25%' (0..100), got {value!r}")
    return int(match.group(1))
