"""``fleet inventory``: what fleet resolved, in the shapes ``ansible-inventory`` prints.

* ``--list``: ``{"_meta": {"hostvars": {...}}, "all": {"children": [...]},
  "web": {"hosts": [...], "children": [...]}}``, as ``ansible-inventory --list``
  (empty keys and groups left out, host vars only for hosts that have some).
  ``_meta.fleet`` adds, per host, the connection fleet will open: address,
  port, user, key file, connection, jump (None: ssh config or ssh decides),
  and the refusal if fleet cannot use the host's settings.
* ``--host NAME``: that host's merged vars.
* ``--graph [GROUP]``: the group tree, ``@all:`` then ``  |--@web:`` and
  ``  |  |--web1``.

``--limit`` restricts the hosts shown, as it does for ``ansible-inventory``.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from fleet.errors import ConfigError
from fleet.inventory.limit import match_pattern
from fleet.inventory.model import Host, Inventory


def shown_hosts(inventory: Inventory, limit: str | None) -> frozenset[str]:
    """Return the names of the hosts to show; raises ``ConfigError`` for a bad pattern."""
    if limit is None:
        return frozenset(h.name for h in inventory.hosts)
    return frozenset(match_pattern(inventory, limit))


def inventory_list(inventory: Inventory, shown: Collection[str]) -> dict[str, Any]:
    """Return ``ansible-inventory --list``'s object for the hosts ``shown``."""
    result: dict[str, Any] = {}
    seen: set[str] = set()

    def add(name: str) -> None:
        group = inventory.tree[name]
        entry: dict[str, Any] = {}
        if name != "all":
            hosts = [h for h in group.hosts if h in shown]
            if hosts:
                entry["hosts"] = hosts
        if group.children:
            entry["children"] = list(group.children)
        if entry:
            result[name] = entry
        for child in group.children:
            if child not in seen:
                seen.add(child)
                add(child)

    add("all")
    hostvars = {h.name: _plain(dict(h.vars)) for h in inventory.hosts
                if h.name in shown and h.vars}
    fleet = {h.name: connection_of(h) for h in inventory.hosts if h.name in shown}
    return {**result, "_meta": {"hostvars": hostvars, "fleet": fleet}}


def connection_of(host: Host) -> dict[str, object]:
    """Return the connection fleet resolved for ``host`` (before ssh config)."""
    return {
        "address": host.address, "port": host.port, "user": host.user,
        "identity_file": None if host.identity_file is None else str(host.identity_file),
        "connection": host.connection,
        "proxy_jump": None if host.proxy_jump is None else str(host.proxy_jump),
        "known_hosts_file": str(host.known_hosts_file),
        "refusal": None if host.refusal is None else host.refusal.render(),
    }


def host_vars(inventory: Inventory, name: str) -> dict[str, Any]:
    """Return ``ansible-inventory --host NAME``'s object: the host's merged vars.

    Raises ``ConfigError`` (field ``--host``) for an unknown host.
    """
    try:
        host = inventory.host(name)
    except KeyError:
        raise ConfigError("no such host in the inventory; see fleet inventory --graph",
                          file="--host", field=name) from None
    result = _plain(dict(host.vars))
    return result if isinstance(result, dict) else {}


def inventory_graph(inventory: Inventory, group: str, shown: Collection[str]) -> str:
    """Return ``ansible-inventory --graph GROUP``'s text.

    Raises ``ConfigError`` (field ``--graph``) for an unknown group.
    """
    if group not in inventory.tree:
        raise ConfigError("no such group; --graph takes a group name (default all)",
                          file="--graph", field=group)
    lines: list[str] = []

    def name(text: str, depth: int) -> str:
        return "  |" * depth + "--" + text if depth else text

    def walk(current: str, depth: int) -> None:
        node = inventory.tree[current]
        lines.append(name(f"@{current}:", depth))
        for child in node.children:
            walk(child, depth + 1)
        if current != "all":
            lines.extend(name(h, depth + 1) for h in node.hosts if h in shown)

    walk(group, 0)
    return "\n".join(lines)


def _plain(value: object) -> Any:
    """Return ``value`` as JSON data (what ``ansible-inventory`` prints)."""
    return json.loads(json.dumps(value, default=str))
