"""What an inventory resolves to: hosts with their connection settings, and groups."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

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
class Inventory:
    """Every host in inventory order, and each group's hosts in that order."""

    hosts: tuple[Host, ...]
    groups: Mapping[str, tuple[str, ...]]
    sources: tuple[Path, ...]

    def host(self, name: str) -> Host:
        """Return the host called ``name``; raises ``KeyError`` if there is none."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)
