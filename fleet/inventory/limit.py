"""Ansible ``--limit`` patterns over an inventory's hosts and groups."""

from __future__ import annotations

import difflib
import fnmatch
import re

from fleet.errors import ConfigError
from fleet.inventory.model import Host, Inventory

_GLOB = re.compile(r"[*?\[]")


def select_hosts(inventory: Inventory, limit: str | None) -> tuple[Host, ...]:
    """Return the hosts an Ansible ``--limit`` pattern selects, in inventory order.

    ``limit`` is None (every host) or terms split on ``,`` (or on ``:`` when
    there is no comma). A term is a host or group name, a glob (``dev-*``) or
    ``~regex`` over host and group names; ``&term`` intersects and ``!term``
    excludes. As in Ansible, the plain terms are united first (``all`` if there
    are none), then the intersections apply, then the exclusions.

    Raises ``ConfigError`` (file ``--limit``) for an empty pattern, a term that
    matches no host or group (field: the term), or a pattern selecting no host.
    """
    if limit is None:
        return inventory.hosts
    terms = [t.strip() for t in re.split("," if "," in limit else ":", limit) if t.strip()]
    if not terms:
        raise ConfigError("empty pattern; give host or group names", file="--limit",
                          field=repr(limit))
    plain = [t for t in terms if t[0] not in "!&"] or ["all"]
    selected: set[str] = set()
    for term in plain:
        selected |= _match(inventory, term, term)
    for term in (t for t in terms if t[0] == "&"):
        selected &= _match(inventory, term[1:], term)
    for term in (t for t in terms if t[0] == "!"):
        selected -= _match(inventory, term[1:], term)
    chosen = tuple(h for h in inventory.hosts if h.name in selected)
    if not chosen:
        raise ConfigError("the pattern selects no host; check the & and ! terms",
                          file="--limit", field=limit)
    return chosen


def _match(inventory: Inventory, pattern: str, term: str) -> set[str]:
    """Return the host names ``pattern`` names; raise ConfigError if there are none."""
    hosts = [h.name for h in inventory.hosts]
    groups = list(inventory.groups)
    if pattern.startswith("~"):
        try:
            regex = re.compile(pattern[1:])
        except re.error as exc:
            raise ConfigError(f"not a valid regular expression: {exc}", file="--limit",
                              field=term) from None
        names = [n for n in (*hosts, *groups) if regex.search(n)]
    elif _GLOB.search(pattern):
        names = [n for n in (*hosts, *groups) if fnmatch.fnmatchcase(n, pattern)]
    else:
        names = [n for n in (*hosts, *groups) if n == pattern]
    host_set = set(hosts)
    matched = {n for n in names if n in host_set}
    for name in names:
        matched.update(inventory.groups.get(name, ()))
    if not names:
        close = difflib.get_close_matches(pattern, [*hosts, *groups], n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        known = ", ".join([*hosts[:5], *[g for g in groups if g != "all"][:5]])
        raise ConfigError(f"matches no host or group; {hint}known: {known}", file="--limit",
                          field=term)
    return matched
