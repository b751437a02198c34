"""Read, with the probe and in the same round trip, the host's copy of each release
file that differs from the release (for ``fleet rollout --check --diff``); writes nothing.

Only files the controller asks for (their release copy is text) and at most
:data:`MAX_BYTES` each travel; the bytes come as ``od`` hex, so any byte and any
name is safe on the wire (``sh/texts.sh``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fleet.config.release import Release
from fleet.remote import probe
from fleet.remote.script import assign, indexed
from fleet.results import CommandResult
from fleet.transport.base import Script

MAX_BYTES = 256 * 1024
"""The largest file whose text is fetched and diffed (either side)."""


@dataclass(frozen=True)
class TooLarge:
    """The host's copy is bigger than :data:`MAX_BYTES` (it was not sent)."""

    size: int


@dataclass(frozen=True)
class Unread:
    """The host's copy could not be read (permissions, or it vanished)."""


HostCopy = bytes | TooLarge | Unread
"""What the host holds of one release file: its bytes, or why they did not come."""


def script(name: str, target: str, release: Release, wanted: Sequence[bool]) -> Script:
    """The probe of ``release`` followed by the texts of the files marked in ``wanted``
    (one flag per release file) that differ on the host."""
    if len(wanted) != len(release.files):
        raise ValueError("one flag per release file")
    extra = [assign("MAXB", MAX_BYTES), *indexed("D", ["1" if w else "0" for w in wanted])]
    return probe.script(name, target, release, then=("texts",), extra=extra)


def parse(result: CommandResult) -> dict[int, HostCopy]:
    """The host's copies by release file index (only files that differ and were asked
    for). A copy whose bytes came short or garbled counts as :class:`Unread`.

    Raises nothing: a host that did not answer the texts gives an empty mapping
    (:func:`fleet.remote.probe.parse` judges the probe itself).
    """
    copies: dict[int, HostCopy] = {}
    body: list[str] | None = None
    index, size = -1, 0
    for line in result.stdout.splitlines():
        words = line.split()
        if body is not None:
            if words == ["TEXTEND", str(index)]:
                copies[index] = _decode(body, size)
                body = None
            elif words[:2] == ["TEXT", str(index)]:  # od failed midway: "TEXT i unread"
                copies[index] = Unread()
                body = None
            else:
                body.append(line)
            continue
        match words:
            case ["TEXT", i, "large", n] if i.isdigit() and n.isdigit():
                copies[int(i)] = TooLarge(int(n))
            case ["TEXT", i, "unread"] if i.isdigit():
                copies[int(i)] = Unread()
            case ["TEXT", i, n] if i.isdigit() and n.isdigit():
                index, size, body = int(i), int(n), []
    return copies


def _decode(lines: list[str], size: int) -> HostCopy:
    """The bytes of ``od -An -tx1`` lines; :class:`Unread` if they are not ``size`` bytes."""
    try:
        data = bytes.fromhex("".join(lines))
    except ValueError:
        return Unread()
    return data if len(data) == size else Unread()
