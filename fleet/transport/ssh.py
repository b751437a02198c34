"""SSH transport: a fabric Connection with strict host keys, one per host per run.

This is the only module that sees paramiko or socket exceptions; each is
translated into the most specific :mod:`fleet.errors` class (``from exc``).
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paramiko
from fabric import Connection

from fleet.commands import CommandResult
from fleet.errors import CommandFailed, CommandTimeout, ConnectError, HostKeyError, TransportError

_CHUNK = 1 << 16
log = logging.getLogger(__name__)


_RECORD_LOCK = threading.Lock()


class _RecordNewKey(paramiko.MissingHostKeyPolicy):
    """Accept a host whose key is not known yet and record it in ``known_hosts``.

    Only for hosts with no key at all: a key that differs from the recorded
    one raises ``BadHostKeyException`` before any policy is asked.
    """

    def __init__(self, known_hosts: Path) -> None:
        self._known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str,
                         key: paramiko.PKey) -> None:
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        with _RECORD_LOCK:
            self._known_hosts.parent.mkdir(parents=True, exist_ok=True)
            with self._known_hosts.open("a", encoding="ascii") as file:
                file.write(line)
        log.info("recorded the new host key of %s in %s", hostname, self._known_hosts)


def _host_key_client(known_hosts: Path, accept_new: bool) -> paramiko.SSHClient:
    """Return a client that trusts only ``known_hosts``; unknown keys are rejected,
    or, with ``accept_new``, recorded there and accepted."""
    client = paramiko.SSHClient()
    if known_hosts.exists():
        client.load_system_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(
        _RecordNewKey(known_hosts) if accept_new else paramiko.RejectPolicy())
    return client


class SshTransport:
    """A connected SSH session to one host.

    Use :meth:`connect`; ``run`` opens one exec channel per command on the
    same connection.
    """

    def __init__(self, host: str, connection: Connection) -> None:
        self.host = host
        self._connection = connection

    @classmethod
    def connect(
        cls, name: str, *, address: str, port: int, user: str | None,
        identity_file: Path | None, known_hosts: Path, timeout: float, accept_new: bool = False,
    ) -> SshTransport:
        """Open and authenticate a connection, verifying the host key.

        Raises:
            HostKeyError: the key is not in ``known_hosts`` or differs from it.
            ConnectError: TCP, handshake or authentication failed.
        """
        kwargs: dict[str, object] = {"banner_timeout": timeout, "auth_timeout": timeout}
        if identity_file is not None:
            kwargs.update(key_filename=str(identity_file), look_for_keys=False)
        conn = Connection(address, user=user, port=port, connect_timeout=timeout,
                          connect_kwargs=kwargs)
        conn.client = _host_key_client(known_hosts, accept_new)
        with _translated(name, f"{address}:{port}", known_hosts):
            conn.open()
        transport = conn.client.get_transport()
        if transport is not None:
            transport.set_keepalive(5)
        return cls(name, conn)

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float, check: bool = True
    ) -> CommandResult:
        """Run one command on its own channel; see :class:`fleet.transport.Transport`."""
        start = time.monotonic()
        with _translated(self.host, self.host, None):
            transport = self._connection.client.get_transport()
            if transport is None or not transport.is_active():
                raise TransportError(self.host, "connection lost")
            channel = transport.open_session(timeout=timeout)
            try:
                channel.exec_command(command)
                if stdin:
                    channel.sendall(stdin)
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
        """Close the SSH connection."""
        self._connection.close()


def _collect(
    channel: paramiko.Channel, host: str, deadline: float, timeout: float
) -> tuple[bytes, bytes, int | None]:
    """Read stdout and stderr until the channel's EOF *and* its exit status, or raise.

    OpenSSH may send the exit status before the last output, so the status
    alone does not mean the output is complete: both must have arrived.
    """
    out, err = bytearray(), bytearray()
    while True:
        while channel.recv_ready():
            out += channel.recv(_CHUNK)
        while channel.recv_stderr_ready():
            err += channel.recv_stderr(_CHUNK)
        if channel.eof_received and channel.exit_status_ready() \
                and not channel.recv_ready() and not channel.recv_stderr_ready():
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise CommandTimeout(host, timeout)
        if channel.closed and not channel.exit_status_ready():
            raise TransportError(host, "connection lost during a command")
        if channel.eof_received:  # output complete; the status is on its way
            channel.status_event.wait(min(remaining, 0.05))
        else:
            select.select([channel], [], [], min(remaining, 1.0))
    code = channel.recv_exit_status()
    return bytes(out), bytes(err), (None if code == -1 else code)


@contextmanager
def _translated(host: str, where: str, known_hosts: Path | None) -> Iterator[None]:
    """Re-raise paramiko and socket errors as fleet TransportErrors."""
    try:
        yield
    except paramiko.BadHostKeyException as exc:
        raise HostKeyError(
            host, f"host key for {where} CHANGED (known_hosts has a different "
            f"{exc.expected_key.get_name()} key); refusing to connect — if the host was "
            f"really rebuilt, remove its old line from {known_hosts}",
            expected=exc.expected_key.get_base64(), got=exc.key.get_base64()) from exc
    except paramiko.AuthenticationException as exc:
        raise ConnectError(host, f"authentication failed at {where}: {exc}") from exc
    except paramiko.SSHException as exc:
        if "known_hosts" in str(exc):
            raise HostKeyError(
                host, f"host key of {where} is not in {known_hosts}; add it there after "
                "checking it, or rerun with --accept-new-hosts to record it",
                expected=None, got="") from exc
        raise ConnectError(host, f"SSH error at {where}: {exc}") from exc
    except TimeoutError as exc:
        raise ConnectError(host, f"timed out connecting to {where}") from exc
    except (OSError, EOFError) as exc:
        raise ConnectError(host, f"cannot reach {where}: {exc}") from exc
