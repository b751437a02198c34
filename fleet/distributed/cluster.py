"""Opening the Dask cluster a run uses (``--scheduler``), and what a run's tasks get.

A become password is the one secret a worker may need from the controller: it
goes only over a TLS-secured scheduler connection (``tls://``, certificates
from Dask's ``distributed.comm.tls`` configuration), else the run is refused
before any host is contacted.
"""

from __future__ import annotations

from collections.abc import Sequence

from distributed import Client

from fleet.distributed.fanout import DaskFanout
from fleet.distributed.task import ConnectSettings
from fleet.distributed.work import DaskWork
from fleet.distributed.zones import check_zones
from fleet.engine.fanout import Fanout
from fleet.engine.hostwork import HostWork
from fleet.engine.pipeline import HostJob
from fleet.errors import ConfigError
from fleet.inventory.model import Host

ENV_SCHEDULER = "FLEET_SCHEDULER"
__all__ = ["ConnectSettings", "DaskPlace", "close_cluster", "open_cluster"]


def open_cluster(address: str, hosts: Sequence[Host], settings: ConnectSettings) -> Client:
    """Connect to the scheduler at ``address`` and check it can serve every host.

    Raises:
        ConfigError: the scheduler cannot be reached, a zone has no worker, or a
            become password would cross a connection without TLS.
    """
    needs_password = settings.become_password is not None or any(
        h.become and h.become_password is not None for h in hosts)
    if needs_password and not address.startswith("tls://"):
        raise ConfigError(
            "a become password is sent to Dask workers only over TLS: use a tls:// "
            "scheduler (Dask's distributed.comm.tls settings), or give the workers "
            "sudo without a password", file="--scheduler")
    try:
        client = Client(address, timeout=10, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}",
                          file="--scheduler") from None
    try:
        check_zones(client, hosts)
    except ConfigError:
        client.close()
        raise
    return client


def close_cluster(client: Client) -> None:
    """Let go of the scheduler (the cluster keeps running)."""
    client.close()


class DaskPlace:
    """A :class:`~fleet.engine.hostwork.Place` on the Dask cluster of ``client``: a
    rollout's hosts and every command's per-host reads and undos run on workers
    of the hosts' zones, connecting with ``settings``."""

    def __init__(self, client: Client, settings: ConnectSettings) -> None:
        self._client = client
        self._settings = settings

    def work(self, job: HostJob, forks: int) -> HostWork:
        """See :meth:`fleet.engine.hostwork.Place.work`."""
        return DaskWork(self._client, job, self._settings, forks)

    def fanout(self, run_id: str) -> Fanout:
        """See :meth:`fleet.engine.hostwork.Place.fanout`."""
        return DaskFanout(self._client, self._settings, run_id)
