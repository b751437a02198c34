"""Ansible ``--limit`` patterns over an inventory's hosts and groups, with Ansible's meaning.

A term is a host or group name, a glob (``web*``, ``db-?``, ``[ab]*``), or
``~regex`` (matched at the start of the name, as Python's ``re.match``); each
may carry a subscript (``web[0]``, ``web[-1]``, ``web[0:2]``, ``web[1:]``).
``&term`` intersects and ``!term`` excludes; ``@file`` reads one term per line
(a retry file). The plain terms are united first (``all`` if there are none),
then the intersections apply, then the exclusions (see
:mod:`fleet.inventory.patterns` for how a pattern splits into terms).

A term that is exactly a host's name selects that host, even where a group
has the same name. Otherwise a term selects every group it matches (with the
hosts of their descendants) and, if it matched no group or is a glob or
regex, the hosts it matches. ``all`` and ``ungrouped`` are groups like others.

Unlike Ansible, which warns and carries on, a term that matches nothing is
refused (a typo in a deploy's ``--limit`` should not deploy elsewhere).
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from pathlib import Path

from fleet.errors import ConfigError
from fleet.inventory.model import Host, Inventory
from fleet.inventory.patterns import apply_subscript, split_pattern, split_subscript

_FILE = "--limit"


def select_hosts(inventory: Inventory, limit: str | None) -> tuple[Host, ...]:
    """Return the hosts an Ansible ``--limit`` pattern selects, in inventory order.

    ``limit`` None selects every host.

    Raises ``ConfigError`` (file ``--limit``) for an empty pattern, an
    ``@file`` that cannot be read, a bad regex, a term that matches no host or
    group (field: the term), a subscript past the end, a pattern selecting no
    host, or a selected host whose settings fleet cannot use (its refusal).
    """
    if limit is None:
        chosen = inventory.hosts
    else:
        names = set(match_pattern(inventory, limit))
        chosen = tuple(h for h in inventory.hosts if h.name in names)
        if not chosen:
            raise ConfigError("the pattern selects no host; check the & and ! terms",
                              file=_FILE, field=limit)
    for host in chosen:
        if host.refusal is not None:
            raise host.refusal
    return chosen


def match_pattern(inventory: Inventory, limit: str) -> list[str]:
    """Return the names of the hosts ``limit`` selects, in Ansible's order.

    Raises ``ConfigError`` as :func:`select_hosts` does (but not for no host).
    """
    terms: list[str] = []
    for term in split_pattern(limit):
        terms.extend(_read_file(term[1:]) if term.startswith("@") else [term])
    terms = [t for t in terms if t]
    if not terms:
        raise ConfigError("empty pattern; give host or group names", file=_FILE,
                          field=repr(limit))
    plain = [t for t in terms if t[0] not in "!&"] or ["all"]
    ordered = plain + [t for t in terms if t[0] == "&"] + [t for t in terms if t[0] == "!"]
    hosts = {h.name for h in inventory.hosts}
    selected: list[str] = []
    for term in ordered:
        if term in hosts:
            if term not in selected:
                selected.append(term)
            continue
        that = _match_term(inventory, term)
        if term[0] == "!":
            selected = [h for h in selected if h not in set(that)]
        elif term[0] == "&":
            selected = [h for h in selected if h in set(that)]
        else:
            selected.extend(h for h in dict.fromkeys(that) if h not in selected)
    return selected


def _read_file(name: str) -> list[str]:
    """Return the lines of an ``@file`` (a retry file), stripped."""
    path = Path(name)
    if path.is_dir():
        raise ConfigError("a limit starting with @ must name a file, not a folder",
                          file=_FILE, field=f"@{name}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the limit file: {exc}", file=_FILE,
                          field=f"@{name}") from None
    return [line.strip() for line in text.split("\n")]


def _match_term(inventory: Inventory, term: str) -> list[str]:
    """Return the hosts one term (without its ``&``/``!``) names, subscript applied."""
    pattern = term[1:] if term[0] in "&!" else term
    if not pattern:
        raise ConfigError("a & or ! needs a host or group after it", file=_FILE, field=term)
    expr, subscript = split_subscript(pattern)
    regex = _compile(expr, term)
    groups = [g for g in inventory.tree if regex.match(g)]
    found: list[str] = []
    for group in groups:
        found.extend(inventory.group_hosts(group))
    if not groups or expr[0] == "~" or any(c in expr for c in ".?*["):
        found.extend(h.name for h in inventory.hosts if regex.match(h.name))
    found = list(dict.fromkeys(found))
    if not found and not groups and expr != "all":
        _no_match(inventory, expr, term)
    try:
        return apply_subscript(found, subscript)
    except IndexError:
        raise ConfigError(f"the subscript is past the end: {expr} has {len(found)} host(s), "
                          f"counted from 0", file=_FILE, field=term) from None


def _compile(expr: str, term: str) -> re.Pattern[str]:
    try:
        return re.compile(expr[1:] if expr[0] == "~" else fnmatch.translate(expr))
    except re.error as exc:
        raise ConfigError(f"not a valid regular expression: {exc}", file=_FILE,
                          field=term) from None


def _no_match(inventory: Inventory, expr: str, term: str) -> None:
    hosts = [h.name for h in inventory.hosts]
    groups = [g for g in inventory.tree if g not in ("all", "ungrouped")]
    close = difflib.get_close_matches(expr, [*hosts, *groups], n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    known = ", ".join([*hosts[:5], *groups[:5]])
    raise ConfigError(f"matches no host or group; {hint}known: {known}", file=_FILE,
                      field=term)
