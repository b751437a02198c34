"""One open transport per host per run, reused by every step (and the rollback)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection

from fleet.inventory.model import Host
from fleet.transport.base import Transport
from fleet.transport.become import BecomeTransport
from fleet.transport.jumpgate import JumpGate
from fleet.transport.local import LocalTransport
from fleet.transport.ssh import SshTransport

Connector = Callable[[Host], Transport]
log = logging.getLogger(__name__)


def connect(host: Host, timeout: float, accept_new_hosts: bool = False,
            become_password: str | None = None, gate: JumpGate | None = None) -> Transport:
    """Open the transport the inventory asks for (wrapped in sudo for ``become``).

    ``become_password`` (from the environment or a prompt) is used when the
    host's vars carry none. ``gate`` (one per run) paces handshakes to jump hosts.

    Raises:
        ConnectError, HostKeyError: see :meth:`SshTransport.connect`.
    """
    transport: Transport
    if host.connection == "local":
        transport = LocalTransport(host.name)
    else:
        transport = SshTransport.connect(
            host.name, address=host.address, port=host.port, user=host.user,
            identity_file=host.identity_file, known_hosts=host.known_hosts_file,
            timeout=timeout, accept_new=accept_new_hosts, proxy_jump=host.proxy_jump,
            gate=gate,
        )
    if host.become:
        return BecomeTransport(transport, host.become_user,
                               host.become_password or become_password)
    return transport


class Connections:
    """Lazily opens and caches one transport per host; ``close_all`` at the end of a run."""

    def __init__(self, connector: Connector) -> None:
        self._connector = connector
        self._open: dict[str, Transport] = {}
        self._lock = threading.Lock()

    def get(self, host: Host) -> Transport:
        """Return the host's transport, connecting on first use.

        Raises:
            TransportError: connecting failed (nothing is cached then).
        """
        with self._lock:
            existing = self._open.get(host.name)
        if existing is not None:
            return existing
        transport = self._connector(host)
        with self._lock:
            self._open[host.name] = transport
        return transport

    def fresh(self, host: Host) -> Transport:
        """Close the host's transport (it may be broken) and connect again.

        Raises:
            TransportError: connecting failed.
        """
        self.drop(host)
        return self.get(host)

    def drop(self, host: Host) -> None:
        """Forget (and close) a host's transport, e.g. after the connection broke."""
        with self._lock:
            transport = self._open.pop(host.name, None)
        if transport is not None:
            _close_quietly(transport)

    def keep_only(self, names: Collection[str]) -> None:
        """Close every open transport but those of ``names`` (the hosts still to work on)."""
        with self._lock:
            gone = [n for n in self._open if n not in names]
            transports = [self._open.pop(n) for n in gone]
        for transport in transports:
            _close_quietly(transport)

    def close_all(self) -> None:
        """Close every transport opened so far."""
        with self._lock:
            transports = list(self._open.values())
            self._open.clear()
        for transport in transports:
            _close_quietly(transport)


def _close_quietly(transport: Transport) -> None:
    """Close a transport whose connection may already be broken; it is gone either way."""
    try:
        transport.close()
    except Exception:
        log.debug("closing %s failed", transport.host, exc_info=True)
