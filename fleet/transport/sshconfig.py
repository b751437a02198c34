"""What an SSH connection to a host uses: the inventory's settings, then ssh config, then defaults.

``connection_params`` is pure given a parsed config: it decides, as OpenSSH
would, where the TCP connection goes, as whom, with which keys, through which
jump hosts, and under which name ``known_hosts`` must hold the host's key.
``SshTransport.connect`` opens exactly what it returns, so tests can check the
decision without a network.

Precedence per setting: what the inventory sets (ssh's command line), then the
first value ssh config gives for the host's address (``Host`` blocks in file
order, ``~/.ssh/config`` before ``/etc/ssh/ssh_config``), then ssh's default.

* ``HostName`` replaces the address; tokens (``%h %p %r %n %u %%`` ...) are expanded
  in ``IdentityFile``, with the inventory's port and user (given to ssh as ``-p``
  and ``-l``, so ``Match user`` sees them too).
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

Who reads it (:mod:`fleet.transport.sshlookup`): OpenSSH itself (``ssh -G``)
where an ``ssh`` binary is on the PATH, so ssh config means what it means to
ssh; paramiko's parser otherwise (or with ``FLEET_SSH_LOOKUP=paramiko``).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from fleet.inventory.model import Host
from fleet.inventory.sshargs import NO_JUMP, JumpHop, ProxyJump, parse_proxy_jump
from fleet.transport.sshcache import AnswerCache
from fleet.transport.sshlookup import OpenSshLookup, ParamikoLookup, SshLookup

ENV_SSH_CONFIG = "FLEET_SSH_CONFIG"
ENV_SSH_LOOKUP = "FLEET_SSH_LOOKUP"
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
    return _default_paths()


def _default_paths() -> tuple[Path, ...]:
    return tuple(p for p in (d.expanduser() for d in _DEFAULT_FILES) if p.is_file())


# One lookup per set of config files for the life of the process (one fleet run), so
# that each distinct host costs one ``ssh -G`` however many connections (jump hosts,
# reconnects) ask. Module state, against the house rule, because the transport opens
# each connection on its own (SshTransport.connect) and has no run object to carry it;
# keyed by the files' size and mtime, so an edited file is read afresh.
_LOOKUPS: dict[tuple[object, ...], SshLookup] = {}
_LOOKUPS_LOCK = threading.Lock()


def read_ssh_config(paths: tuple[Path, ...]) -> SshLookup:
    """Return the lookup for ``paths`` (most important first): ``ssh -G`` where ssh exists,
    paramiko's parser otherwise or with ``FLEET_SSH_LOOKUP=paramiko``. Cached per process.

    Raises ``ValueError`` naming the file if one cannot be read (or, for the
    paramiko lookup, parsed).
    """
    ssh = None if os.environ.get(ENV_SSH_LOOKUP, "").lower() == "paramiko" \
        else shutil.which("ssh")
    stamps: list[object] = [ssh]
    for path in paths:
        try:
            stat = path.stat()
        except OSError as exc:
            raise ValueError(f"cannot read ssh config {path}: {exc.strerror or exc}") from None
        stamps += [str(path), stat.st_size, stat.st_mtime_ns]
    key = tuple(stamps)
    with _LOOKUPS_LOCK:
        found = _LOOKUPS.get(key)
        if found is None:
            found = _LOOKUPS[key] = _new_lookup(ssh, paths)
    return found


def _new_lookup(ssh: str | None, paths: tuple[Path, ...]) -> SshLookup:
    if ssh is None:
        return ParamikoLookup(paths)
    kept = None if os.environ.get("FLEET_SSH_CACHE") == "0" else AnswerCache()
    if not paths:
        return OpenSshLookup(ssh, None, no_config=True, kept=kept)
    if set(paths) <= set(_default_paths()):
        return OpenSshLookup(ssh, None, kept=kept)  # ssh reads its own files, in its order
    if len(paths) == 1:
        return OpenSshLookup(ssh, paths[0], kept=kept)
    return ParamikoLookup(paths)  # several explicit files: ssh -F takes one


def prefetch(lookup: SshLookup, queries: list[tuple[str, int | None, str | None]]) -> None:
    """Resolve many hosts at once where the lookup can (``ssh -G`` calls in parallel)."""
    if isinstance(lookup, OpenSshLookup):
        lookup.prefetch(queries)


def check_hosts(hosts: Sequence[Host], ssh_config: Path | None = None) -> None:
    """Resolve every ssh host's connection now, before any host is contacted.

    One ``ssh -G`` per distinct host, in parallel; the answers stay cached for
    the run, so connecting later asks ssh nothing again.

    Raises ``ValueError`` naming the host for bad ssh config (a line ssh
    refuses, a bad port, a jump loop) or a malformed jump.
    """
    wanted = [h for h in hosts if h.connection == "ssh"]
    if not wanted:
        return
    lookup = read_ssh_config(config_paths(ssh_config))
    prefetch(lookup, [(h.address, h.port, h.user) for h in wanted])
    for host in wanted:
        try:
            connection_params(host.address, port=host.port, user=host.user,
                              identity_file=host.identity_file, proxy_jump=host.proxy_jump,
                              ssh_config=lookup)
        except ValueError as exc:
            raise ValueError(f"host {host.name}: {exc}") from None


def connection_params(
    address: str, *, port: int | None, user: str | None, identity_file: Path | None,
    proxy_jump: str | None, ssh_config: SshLookup,
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
    target: JumpHop, config: SshLookup, keys: _Keys, jump: str | None, depth: int,
) -> ConnectionParams:
    """Return the params of ``target``; ``jump`` (if not None) overrides ssh config's."""
    if depth > _MAX_JUMP_DEPTH:
        raise ValueError(f"jump hosts nest deeper than {_MAX_JUMP_DEPTH} (a ProxyJump loop?)")
    found = config.lookup(target.host, target.port, target.user)
    named = found.identity_files
    existing = [Path(f) for f in named if Path(f).is_file()]
    key_files = tuple(dict.fromkeys([*keys.own, *existing])) or keys.fallback
    if isinstance(jump, ProxyJump):  # parsed once, when the inventory was loaded
        spec, hops = str(jump), jump.hops
    else:
        spec = str(jump if jump is not None else found.proxy_jump or "")
        hops = parse_proxy_jump(spec) if spec else ()
    gateway = None
    for index, hop in enumerate(hops):
        if hop.host in (target.host, found.hostname) and hop.port in (None, found.port):
            break  # a jump to the host itself (Host * blocks): connect directly, as ssh does
        # The first hop follows its own ProxyJump; later hops go through the previous one.
        hop_params = _resolve(hop, config, _Keys((), keys.own or keys.fallback),
                              None if index == 0 else NO_JUMP, depth + 1)
        gateway = hop_params if gateway is None else replace(hop_params, gateway=gateway)
    command = found.proxy_command if not spec else None
    return ConnectionParams(
        hostname=found.hostname,
        port=found.port,
        user=found.user,
        key_filenames=key_files,
        allow_agent=not found.identities_only,
        look_for_keys=not keys.own and not named,
        host_key_name=found.host_key_alias or _known_hosts_name(found.hostname, found.port),
        gateway=gateway,
        proxy_command=command,
    )


def _known_hosts_name(hostname: str, port: int) -> str:
    """Return the name known_hosts files this host's key under, as OpenSSH does."""
    return hostname if port == DEFAULT_PORT else f"[{hostname}]:{port}"
