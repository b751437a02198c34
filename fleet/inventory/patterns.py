"""How Ansible splits a host pattern into terms and reads a term's subscript.

``a,b`` splits on commas; without a comma, a pattern that is one host
address (``fe80::1``, ``[::1]:22``, ``web[1:3]``, ``host:22``) is one term, and
anything else splits on ``:`` outside brackets (``web:&prod:!db``). A term
may end in a subscript: ``[0]``, ``[-1]``, ``[0:2]`` (both ends included),
``[1:]``; a ``~regex`` term has none.
"""

from __future__ import annotations

import ipaddress
import re

_RANGE_HEX = r"\[[0-9a-f]+:[0-9a-f]+(?::[0-9]+)?\]"
_RANGE_ALNUM = r"\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]"
_LABEL = rf"(?:\w|{_RANGE_ALNUM})(?:[\w-]|{_RANGE_ALNUM})*(?<![_-])"
_HOSTNAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$", re.I | re.U)
_BRACKETED_PORT = re.compile(r"^\[(.+)\]:([0-9]+)$")
_HOST_PORT = re.compile(r"^((?:[^:\[\]]|\[[^\]]*\])*):([0-9]+)$")
_TERMS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")

Subscript = tuple[int, int | None]


def is_address(text: str) -> bool:
    """True if ``text`` is one host name or address (ranges allowed), with or without a port."""
    for pattern in (_BRACKETED_PORT, _HOST_PORT):
        match = pattern.match(text)
        if match:
            text = match[1]
            break
    if _HOSTNAME.match(text):
        return True
    try:
        ipaddress.IPv6Address(re.sub(_RANGE_HEX, "0", text, flags=re.I))
    except ValueError:
        return False
    return True


def split_pattern(pattern: str) -> list[str]:
    """Return the terms of a host pattern, stripped, empty ones dropped."""
    if "," in pattern:
        terms = pattern.split(",")
    elif is_address(pattern.strip()):
        terms = [pattern]
    else:
        terms = _TERMS.findall(pattern)
    return [term.strip() for term in terms if term.strip()]


def split_subscript(term: str) -> tuple[str, Subscript | None]:
    """Return a term without its subscript, and the subscript as (start, end).

    ``web[0]`` -> ``("web", (0, None))``; ``web[1:3]`` -> ``("web", (1, 3))``;
    ``web[1:]`` -> ``("web", (1, -1))`` (to the end); a regex has no subscript.
    """
    if term.startswith("~"):
        return term, None
    match = _SUBSCRIPT.match(term)
    if match is None:
        return term, None
    base, index, start, _, end = match.groups()
    if index:
        return base, (int(index), None)
    return base, (int(start), int(end) if end else -1)


def apply_subscript(names: list[str], subscript: Subscript | None) -> list[str]:
    """Return the names a subscript picks, as Ansible does (``[x:y]`` includes y).

    Raises ``IndexError`` for a single index past the end.
    """
    if not names or subscript is None:
        return names
    start, end = subscript
    if end:  # 0 as the end counts as no end, as in Ansible
        if end == -1:
            end = len(names) - 1
        return names[start:end + 1]
    return [names[start]]
