"""What an inventory resolves to: hosts with their connection settings, and groups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from fleet.errors import ConfigError
from fleet.inventory.settings import BECOME_PASSWORD_KEYS


@dataclass(frozen=True)
class Host:
    """One machine, with its connection settings resolved from the merged vars.

    ``port`` and ``user`` are None when no var sets them: ssh config, then
    ssh's defaults (22, the local user), decide. ``address`` is what ssh is
    asked to reach (``ansible_host``, else the name), so a ``Host`` alias in
    ``~/.ssh/config`` applies. ``proxy_jump`` is an OpenSSH ProxyJump value
    (loaded as a :class:`~fleet.inventory.sshargs.ProxyJump`: parsed once, at load).
    With ``become`` every step runs as ``become_user`` (root when None) via sudo.

    ``refusal`` is set when the host's vars hold a connection setting fleet
    cannot use (a template, a connection other than ssh/local, a bad port):
    Ansible would only fail when it connects, so the inventory still loads,
    and selecting the host for a command is refused with this error.
    """

    name: str
    address: str
    port: int | None
    user: str | None
    identity_file: Path | None
    connection: Literal["ssh", "local"]
    known_hosts_file: Path
    groups: tuple[str, ...]
    vars: Mapping[str, object]
    proxy_jump: str | None = None
    become: bool = False
    become_user: str | None = None
    refusal: ConfigError | None = field(default=None, compare=False)

    @property
    def become_password(self) -> str | None:
        """``ansible_become_password`` (or ``_pass``) from the vars; never printed.

        A password written as a number (``123456``) is kept as the text written.
        """
        for key in BECOME_PASSWORD_KEYS:
            value = self.vars.get(key)
            if isinstance(value, str):
                return value
        return None


@dataclass(frozen=True)
class Group:
    """One group as the inventory declares it (what ``ansible-inventory --list`` shows).

    ``hosts`` are the hosts listed in the group itself and ``children`` its
    child groups, both in the order first written; ``vars`` the group's own
    vars from the inventory files (not group_vars/ files).
    """

    name: str
    hosts: tuple[str, ...]
    children: tuple[str, ...]
    vars: Mapping[str, object]
    depth: int
    priority: int = 1


@dataclass(frozen=True)
class Inventory:
    """Every host in inventory order, and each group's hosts in that order.

    ``groups`` maps a group to every host in it or in its descendants;
    ``tree`` holds each group as declared (direct hosts, children), in the
    order groups were first written.
    """

    hosts: tuple[Host, ...]
    groups: Mapping[str, tuple[str, ...]]
    sources: tuple[Path, ...]
    tree: Mapping[str, Group] = field(default_factory=dict)

    def host(self, name: str) -> Host:
        """Return the host called ``name``; raises ``KeyError`` if there is none."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)

    def group_hosts(self, name: str) -> tuple[str, ...]:
        """Return a group's hosts in Ansible's order: its own, then each descendant's.

        Descendants are visited as Ansible does (children first written
        first, level by level), so a subscript ``web[0]`` picks the host
        Ansible picks. Raises ``KeyError`` for an unknown group.
        """
        order: list[str] = []
        seen_groups = {name}
        level = [name]
        while level:
            order.extend(level)
            following: list[str] = []
            for group in level:
                for child in self.tree[group].children:
                    if child not in seen_groups:
                        seen_groups.add(child)
                        following.append(child)
            level = following
        return tuple(dict.fromkeys(h for g in order for h in self.tree[g].hosts))
