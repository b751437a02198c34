"""SSH transport: a paramiko client with strict host keys, one per host per run.

Where to connect (ssh config, jump hosts) is decided by
:func:`fleet.transport.sshconfig.connection_params`; this module opens it.

This is the only module that sees paramiko or socket exceptions; each is
translated into the most specific :mod:`fleet.errors` class (``from exc``).
"""

from __future__ import annotations

import logging
import selectors
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paramiko

from fleet.errors import CommandFailed, CommandTimeout, ConnectError, HostKeyError, TransportError
from fleet.results import CommandResult
from fleet.transport.jumpgate import JumpGate
from fleet.transport.knownhosts import KnownHosts, load_known_hosts, record_key, revoked_error
from fleet.transport.sshconfig import (
    DEFAULT_PORT,
    ConnectionParams,
    config_paths,
    connection_params,
    read_ssh_config,
)

_CHUNK = 1 << 16
_IDLE_WAKE_S = 1.0
log = logging.getLogger(__name__)
# paramiko's transport threads log a traceback for every failed handshake; the
# ConnectError fleet raises says it once, plainly. Keep them out of stderr.
logging.getLogger("paramiko").addHandler(logging.NullHandler())


class _HostKeyPolicy(paramiko.MissingHostKeyPolicy):
    """What to do with a key paramiko did not find among the host's known keys.

    A key an ``@revoked`` line names is refused. Otherwise, without
    ``accept_new``, the host is refused as unknown (paramiko's ``RejectPolicy``);
    with it, the key is recorded in ``known_hosts`` under ``name`` (the host's
    known_hosts name, see ``ConnectionParams``) unless a key was recorded for
    ``name`` meanwhile, which it must then be (see
    :func:`fleet.transport.knownhosts.record_key`). A key that differs from a
    recorded key of its type raises ``BadHostKeyException`` before any policy
    is asked.
    """

    def __init__(self, known_hosts: Path, name: str, known: KnownHosts | None,
                 accept_new: bool) -> None:
        self._known_hosts = known_hosts
        self._name = name
        self._known = known
        self._accept_new = accept_new

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        if self._known is not None and self._known.is_revoked(self._name, key):
            raise revoked_error(self._name, self._name, key, self._known_hosts)
        if not self._accept_new:  # as paramiko's RejectPolicy, which _translated names
            raise paramiko.SSHException(f"Server {hostname!r} not found in known_hosts")
        try:
            recorded = record_key(self._known_hosts, self._name, key)
        except OSError as exc:
            raise HostKeyError(self._name, f"cannot record the new host key of {self._name!r} "
                               f"in {self._known_hosts}: {exc.strerror or exc}",
                               expected=None, got=key.get_base64()) from exc
        if recorded == "recorded":
            log.info("recorded the new host key of %s in %s", self._name, self._known_hosts)


def _host_key_client(
    params: ConnectionParams, known_hosts: Path, accept_new: bool
) -> paramiko.SSHClient:
    """Return a client that trusts only ``known_hosts``; unknown keys are rejected,
    or, with ``accept_new``, recorded there and accepted; revoked keys never are.

    paramiko looks a key up under the name it derives from the host name and
    port it connects to; a ``HostKeyAlias`` names another entry, so that
    entry's keys are handed to paramiko under paramiko's name (and no other
    entry counts, as in OpenSSH). ``@cert-authority`` lines are ignored.
    """
    client = paramiko.SSHClient()
    derived = params.hostname if params.port == DEFAULT_PORT \
        else f"[{params.hostname}]:{params.port}"
    try:
        known = load_known_hosts(known_hosts) if known_hosts.exists() else None
    except OSError as exc:
        raise HostKeyError(params.host_key_name, f"cannot read {known_hosts}: "
                           f"{exc.strerror or exc}", expected=None, got="") from exc
    if known is not None:
        for key_type, key in known.keys_for(params.host_key_name).items():
            client.get_host_keys().add(derived, key_type, key)
    client.set_missing_host_key_policy(
        _HostKeyPolicy(known_hosts, params.host_key_name, known, accept_new))
    return client


def _socket(
    params: ConnectionParams, gateway: paramiko.SSHClient | None, timeout: float,
) -> paramiko.Channel | paramiko.ProxyCommand | None:
    """What the connection runs over: a ``direct-tcpip`` channel through the jump
    host, the ``ProxyCommand`` (its tokens already expanded), or None for TCP."""
    if gateway is not None:
        transport = gateway.get_transport()
        if transport is None or not transport.is_active():
            raise paramiko.SSHException("the jump host's connection is closed")
        return transport.open_channel("direct-tcpip", dest_addr=(params.hostname, params.port),
                                      src_addr=("", 0), timeout=timeout)
    if params.proxy_command:
        return paramiko.ProxyCommand(params.proxy_command)
    return None


@dataclass(frozen=True)
class _Hop:
    """One connection of a host's chain (a jump host, or the host itself) to open."""

    name: str
    params: ConnectionParams
    where: str
    gateway: paramiko.SSHClient | None
    known_hosts: Path
    timeout: float
    accept_new: bool

    def open(self) -> paramiko.SSHClient:
        """Open and authenticate it (closed again if that fails), with ``params``
        and nothing else: ``connection_params`` already applied ssh config.

        Raises:
            ConnectError, HostKeyError: see :meth:`SshTransport.connect`.
        """
        started = time.monotonic()
        params = self.params
        conn = _host_key_client(params, self.known_hosts, self.accept_new)
        try:
            with _translated(self.name, self.where, self.known_hosts, params):
                conn.connect(
                    params.hostname, port=params.port, username=params.user,
                    sock=_socket(params, self.gateway, self.timeout), timeout=self.timeout,
                    banner_timeout=self.timeout, auth_timeout=self.timeout,
                    allow_agent=params.allow_agent, look_for_keys=params.look_for_keys,
                    # paramiko takes a list of files too; its stubs say only str
                    key_filename=[str(p) for p in params.key_filenames]  # type: ignore[arg-type]
                    or None)
        except ConnectError as exc:
            conn.close()
            if time.monotonic() - started >= self.timeout * 0.9 and isinstance(
                    exc.__cause__, paramiko.SSHException):
                # No banner, or a handshake that never finished: a hung host.
                raise ConnectError(self.name, f"timed out after {self.timeout:g}s waiting "
                                   f"for the SSH server at {self.where} to answer") from exc
            raise
        except BaseException:
            conn.close()
            raise
        return conn

    def through(self, gate: JumpGate) -> paramiko.SSHClient:
        """:meth:`open` a jump host through its gate, again after a pause while the
        jump host drops the connection before its banner, as sshd does past
        ``MaxStartups``.

        Raises:
            ConnectError, HostKeyError: see :meth:`SshTransport.connect`.
        """
        pauses = gate.pauses()
        while True:
            try:
                with gate.handshake(self.params.where):
                    return self.open()
            except ConnectError as exc:
                pause = next(pauses, None)
                if pause is None or not _dropped(exc):
                    raise
                log.info("%s dropped a connection (MaxStartups?); again in %.2fs",
                         self.where, pause)
                time.sleep(pause)


def _dropped(exc: ConnectError) -> bool:
    """True if the server closed the connection before its banner (sshd's MaxStartups)."""
    cause = exc.__cause__
    if isinstance(cause, EOFError | ConnectionResetError):
        return True
    return isinstance(cause, paramiko.SSHException) and "banner" in str(cause).lower()


class SshTransport:
    """A connected SSH session to one host.

    Use :meth:`connect`; ``run`` opens one exec channel per command on the
    same connection.
    """

    def __init__(self, host: str, connection: paramiko.SSHClient,
                 jumps: tuple[paramiko.SSHClient, ...] = ()) -> None:
        self.host = host
        self._connection = connection
        self._jumps = jumps

    @classmethod
    def connect(
        cls, name: str, *, address: str, port: int | None, user: str | None,
        identity_file: Path | None, known_hosts: Path, timeout: float, accept_new: bool = False,
        proxy_jump: str | None = None, ssh_config: Path | None = None,
        gate: JumpGate | None = None,
    ) -> SshTransport:
        """Open and authenticate a connection, through its jump hosts, verifying every host key.

        ``port``, ``user`` and ``proxy_jump`` left None are taken from ssh
        config (``ssh_config``, else as :func:`config_paths` finds it), then
        ssh's defaults; see :mod:`fleet.transport.sshconfig`. Every jump host's
        key is checked against the same ``known_hosts``. With a ``gate``, handshakes
        to each jump host are rate-limited and one the jump host drops before its
        banner (``MaxStartups``) is tried again; see :mod:`fleet.transport.jumpgate`.

        Raises:
            HostKeyError: a key is not in ``known_hosts`` or differs from it.
            ConnectError: bad ssh config, a missing identity file, or TCP,
                handshake or authentication failed (naming the jump host if
                it was one).
        """
        if identity_file is not None and not identity_file.is_file():
            raise ConnectError(name, f"identity file {identity_file} does not exist; fix "
                               "ansible_ssh_private_key_file in the inventory")
        try:
            params = connection_params(
                address, port=port, user=user, identity_file=identity_file,
                proxy_jump=proxy_jump, ssh_config=read_ssh_config(config_paths(ssh_config)))
        except ValueError as exc:
            raise ConnectError(name, str(exc)) from exc
        via = f" via {params.gateway.where}" if params.gateway is not None else ""
        steps = [(hop, f"jump host {hop.where}", True) for hop in params.hops()]
        steps.append((params, f"{params.where}{via}", False))
        opened: list[paramiko.SSHClient] = []
        try:
            for step, where, is_jump in steps:
                hop = _Hop(name, step, where, opened[-1] if opened else None, known_hosts,
                           timeout, accept_new)
                opened.append(hop.through(gate) if is_jump and gate is not None
                              else hop.open())
        except BaseException:
            for conn in reversed(opened):  # a failed handshake may leave a live transport
                conn.close()
            raise
        for conn in opened:
            transport = conn.get_transport()
            if transport is not None:
                transport.set_keepalive(5)
                # paramiko's reader thread wakes every 0.1 s to look for a close; a
                # thousand idle connections (a rollback holds them from its probe to
                # its undo) then cost a core. Data still wakes it at once; closing
                # never waits for it (Transport.close closes the packetizer first).
                transport.sock.settimeout(_IDLE_WAKE_S)
        return cls(name, opened[-1], tuple(opened[:-1]))

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float, check: bool = True
    ) -> CommandResult:
        """Run one command on its own channel; see :class:`fleet.transport.Transport`."""
        start = time.monotonic()
        with _translated(self.host, self.host, None, None):
            transport = self._connection.get_transport()
            if transport is None or not transport.is_active():
                raise TransportError(self.host, "connection lost")
            channel = transport.open_session(timeout=timeout)
            try:
                channel.exec_command(command)
                # In chunks: paramiko's sendall slices what is left after each
                # packet, which copies a large payload quadratically (64 MiB
                # took a minute to send).
                payload = stdin or b""
                for offset in range(0, len(payload), _CHUNK):
                    channel.sendall(payload[offset:offset + _CHUNK])
                channel.shutdown_write()
                out, err, code = _collect(channel, self.host, start + timeout, timeout)
            finally:
                channel.close()
        if code is None:
            raise TransportError(self.host, "connection closed before the command finished")
        result = CommandResult(command=command, exit_code=code,
                               stdout=out.decode("utf-8", "replace"),
                               stderr=err.decode("utf-8", "replace"),
                               duration=time.monotonic() - start)
        if check and not result.ok:
            raise CommandFailed(self.host, result)
        return result

    def close(self) -> None:
        """Close the SSH connection, then its jump hosts' (innermost first)."""
        try:
            self._connection.close()
        finally:
            for jump in reversed(self._jumps):
                jump.close()


def _collect(
    channel: paramiko.Channel, host: str, deadline: float, timeout: float
) -> tuple[bytes, bytes, int | None]:
    """Read stdout and stderr until the channel's EOF *and* its exit status, or raise.

    OpenSSH may send the exit status before the last output, so the status
    alone does not mean the output is complete: both must have arrived.
    """
    out, err = bytearray(), bytearray()
    # A selector, not select(): select() cannot watch a descriptor above 1023,
    # which a controller with a thousand connections open soon hands out.
    with selectors.DefaultSelector() as waiter:
        waiter.register(channel, selectors.EVENT_READ)
        while True:
            if _drained(channel, out, err):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CommandTimeout(host, timeout)
            if channel.closed and not channel.exit_status_ready():
                raise TransportError(host, "connection lost during a command")
            if channel.eof_received:  # output complete; the status is on its way
                channel.status_event.wait(min(remaining, 0.05))
            else:
                waiter.select(min(remaining, 1.0))
    code = channel.recv_exit_status()
    return bytes(out), bytes(err), (None if code == -1 else code)


def _drained(channel: paramiko.Channel, out: bytearray, err: bytearray) -> bool:
    """Read what has arrived; True once the output is complete and the status is in."""
    while channel.recv_ready():
        out += channel.recv(_CHUNK)
    while channel.recv_stderr_ready():
        err += channel.recv_stderr(_CHUNK)
    return bool(channel.eof_received and channel.exit_status_ready()
                and not channel.recv_ready() and not channel.recv_stderr_ready())


@contextmanager
def _translated(
    host: str, where: str, known_hosts: Path | None, params: ConnectionParams | None,
) -> Iterator[None]:
    """Re-raise paramiko and socket errors as fleet TransportErrors."""
    name = params.host_key_name if params is not None else None
    entry = f" (looked up as {name!r})" if name else ""
    try:
        yield
    except paramiko.BadHostKeyException as exc:
        raise HostKeyError(
            host, f"host key for {where} CHANGED (known_hosts has a different "
            f"{exc.expected_key.get_name()} key{f' for {name!r}' if name else ''}); refusing "
            f"to connect — if the host was really rebuilt, remove its old line from "
            f"{known_hosts}",
            expected=exc.expected_key.get_base64(), got=exc.key.get_base64()) from exc
    except paramiko.AuthenticationException as exc:
        raise ConnectError(host, f"authentication failed at {where}: {exc}") from exc
    except paramiko.SSHException as exc:
        if "known_hosts" in str(exc):
            raise HostKeyError(
                host, f"host key of {where} is not in {known_hosts}{entry}; add it there "
                "after checking it, or rerun with --accept-new-hosts to record it",
                expected=None, got="") from exc
        raise ConnectError(host, f"SSH error at {where}: {exc}") from exc
    except TimeoutError as exc:
        raise ConnectError(host, f"timed out connecting to {where}") from exc
    except ValueError as exc:  # e.g. a port paramiko cannot use
        raise ConnectError(host, f"cannot connect to {where}: {exc}") from exc
    except (OSError, EOFError) as exc:
        raise ConnectError(host, f"cannot reach {where}: {exc}") from exc
