"""What an SSH connection to a host uses: the inventory's settings, then ssh config, then defaults.

``connection_params`` is pure given a parsed config: it decides, as OpenSSH
would, where the TCP connection goes, as whom, with which keys, through which
jump hosts, and under which name ``known_hosts`` must hold the host's key.
``SshTransport.connect`` opens exactly what it returns, so tests can check the
decision without a network.

Precedence per setting: what the inventory sets (ssh's command line), then the
first value ssh config gives for the host's address (``Host`` blocks in file
order, ``~/.ssh/config`` before ``/etc/ssh/ssh_config``), then ssh's default.

* ``HostName`` replaces the address; ``%h`` and other tokens are expanded.
* ``Port`` (22), ``User`` (the local user).
* ``IdentityFile``: the inventory's key first, then ssh config's (files that
  do not exist are skipped, as ssh does). With any key named, ssh's default
  keys (``~/.ssh/id_*``) are not tried; the agent is, unless
  ``IdentitiesOnly yes``.
* ``ProxyJump``: the inventory's jump wins (as ``-J`` does); ``none`` turns a
  configured one off. Each jump host is itself looked up in ssh config (its
  HostName, Port, User, IdentityFile); the first hop's own ProxyJump applies,
  later hops are reached through the one before. A jump host with no key of
  its own uses the inventory's key (unlike ssh, which would not).
* ``ProxyCommand`` (without a jump) runs as the connection's socket.
* ``HostKeyAlias``: the name looked up in known_hosts instead of the host.

The known_hosts name is what OpenSSH uses: ``HostKeyAlias`` if set, else the
resolved host name, as ``[name]:port`` when the port is not 22. For a host
reached through a jump host it is still the target's own name and port as the
jump host reaches it (e.g. ``[10.0.0.5]:2222``), and each jump host needs its
own line (``bastion`` or ``[bastion]:2222``) in the same known_hosts file.

Which ssh config: the ``ssh_config`` argument, else the file in
``$FLEET_SSH_CONFIG`` (``none`` or empty: no ssh config at all), else
``~/.ssh/config`` and ``/etc/ssh/ssh_config`` where they exist.
"""

from __future__ import annotations

import getpass
import io
import os
from dataclasses import dataclass, replace
from pathlib import Path

import paramiko

from fleet.inventory.sshargs import NO_JUMP, JumpHop, ProxyJump, parse_proxy_jump

ENV_SSH_CONFIG = "FLEET_SSH_CONFIG"
DEFAULT_PORT = 22
_MAX_JUMP_DEPTH = 8
_DEFAULT_FILES = (Path("~/.ssh/config"), Path("/etc/ssh/ssh_config"))


@dataclass(frozen=True)
class ConnectionParams:
    """Everything one SSH connection (one hop of a chain) is opened with."""

    hostname: str
    port: int
    user: str
    key_filenames: tuple[Path, ...]
    allow_agent: bool
    look_for_keys: bool
    host_key_name: str
    gateway: ConnectionParams | None = None
    proxy_command: str | None = None

    @property
    def where(self) -> str:
        """``host:port`` for messages (IPv6 in brackets)."""
        host = f"[{self.hostname}]" if ":" in self.hostname else self.hostname
        return f"{host}:{self.port}"

    def hops(self) -> tuple[ConnectionParams, ...]:
        """Return the jump hosts to open first, outermost first (``()`` if direct)."""
        chain: list[ConnectionParams] = []
        gateway = self.gateway
        while gateway is not None:
            chain.append(gateway)
            gateway = gateway.gateway
        return tuple(reversed(chain))


def config_paths(explicit: Path | None = None) -> tuple[Path, ...]:
    """Return the ssh config files to read, most important first (see the module doc)."""
    if explicit is not None:
        return (explicit,)
    env = os.environ.get(ENV_SSH_CONFIG)
    if env is not None:
        return () if env.strip().lower() in ("", "none") else (Path(env).expanduser(),)
    return tuple(p for p in (d.expanduser() for d in _DEFAULT_FILES) if p.is_file())


def read_ssh_config(paths: tuple[Path, ...]) -> paramiko.SSHConfig:
    """Parse ``paths`` as one ssh config; the first value found for a key wins.

    Raises ``ValueError`` naming the file if one cannot be read or parsed.
    """
    text = io.StringIO()
    for path in paths:
        try:
            text.write(path.read_text(encoding="utf-8") + "\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read ssh config {path}: {exc}") from None
    text.seek(0)
    config = paramiko.SSHConfig()
    try:
        config.parse(text)
    except Exception as exc:  # paramiko's parse errors are bare SSHException subclasses
        raise ValueError(f"ssh config {', '.join(map(str, paths))}: {exc}") from None
    return config


def connection_params(
    address: str, *, port: int | None, user: str | None, identity_file: Path | None,
    proxy_jump: str | None, ssh_config: paramiko.SSHConfig,
) -> ConnectionParams:
    """Return how to connect to ``address``: the inventory's values over ssh config's.

    Example::

        params = connection_params("web1", port=None, user=None, identity_file=None,
                                   proxy_jump=None, ssh_config=read_ssh_config(config_paths()))
        params.hostname, params.port, params.host_key_name

    Raises ``ValueError`` for a bad Port or ProxyJump in ssh config, a jump
    chain deeper than 8 (a loop), or an ssh config lookup that fails.
    """
    keys = (identity_file,) if identity_file is not None else ()
    return _resolve(JumpHop(address, user, port), ssh_config, _Keys(keys, ()), proxy_jump, 0)


@dataclass(frozen=True)
class _Keys:
    """Keys named outside ssh config: ``own`` always, ``fallback`` if ssh config names none."""

    own: tuple[Path, ...]
    fallback: tuple[Path, ...]


def _resolve(
    target: JumpHop, config: paramiko.SSHConfig, keys: _Keys, jump: str | None, depth: int,
) -> ConnectionParams:
    """Return the params of ``target``; ``jump`` (if not None) overrides ssh config's."""
    if depth > _MAX_JUMP_DEPTH:
        raise ValueError(f"jump hosts nest deeper than {_MAX_JUMP_DEPTH} (a ProxyJump loop?)")
    found = _lookup(config, target.host)
    hostname = str(found.get("hostname") or target.host)
    port = target.port or _port(found.get("port"), target.host)
    named = _strings(found, "identityfile")
    existing = [Path(f) for f in named if Path(f).is_file()]
    key_files = tuple(dict.fromkeys([*keys.own, *existing])) or keys.fallback
    if isinstance(jump, ProxyJump):  # parsed once, when the inventory was loaded
        spec, hops = str(jump), jump.hops
    else:
        spec = str(jump if jump is not None else found.get("proxyjump") or "")
        hops = parse_proxy_jump(spec) if spec else ()
    gateway = None
    for index, hop in enumerate(hops):
        if hop.host in (target.host, hostname) and hop.port in (None, port):
            break  # a jump to the host itself (Host * blocks): connect directly, as ssh does
        # The first hop follows its own ProxyJump; later hops go through the previous one.
        hop_params = _resolve(hop, config, _Keys((), keys.own or keys.fallback),
                              None if index == 0 else NO_JUMP, depth + 1)
        gateway = hop_params if gateway is None else replace(hop_params, gateway=gateway)
    command = found.get("proxycommand") if not spec else None
    return ConnectionParams(
        hostname=hostname,
        port=port,
        user=target.user or str(found.get("user") or getpass.getuser()),
        key_filenames=key_files,
        allow_agent=str(found.get("identitiesonly", "no")).lower() != "yes",
        look_for_keys=not keys.own and not named,
        host_key_name=str(found.get("hostkeyalias") or _known_hosts_name(hostname, port)),
        gateway=gateway,
        proxy_command=str(command) if command else None,
    )


def _lookup(config: paramiko.SSHConfig, host: str) -> dict[str, object]:
    """Return ssh config's options for ``host``; raise ValueError if the lookup fails."""
    try:
        return dict(config.lookup(host))
    except Exception as exc:  # canonicalisation and Match errors are bare SSHExceptions
        raise ValueError(f"ssh config lookup of {host!r} failed: {exc}") from None


def _strings(found: dict[str, object], key: str) -> list[str]:
    value = found.get(key)
    return [str(v) for v in value] if isinstance(value, list) else []


def _port(value: object, host: str) -> int:
    if value is None:
        return DEFAULT_PORT
    text = str(value)
    if not text.isdecimal() or not 0 < int(text) < 65536:
        raise ValueError(f"ssh config gives {host!r} the port {text!r}; expected 1..65535")
    return int(text)


def _known_hosts_name(hostname: str, port: int) -> str:
    """Return the name known_hosts files this host's key under, as OpenSSH does."""
    return hostname if port == DEFAULT_PORT else f"[{hostname}]:{port}"
