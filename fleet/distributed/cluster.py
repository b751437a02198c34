"""Opening the Dask cluster a run uses (``--scheduler``), and what a run's tasks get.

A become password is the one secret a worker may need from the controller: it
goes only over a TLS-secured scheduler connection (``tls://``, certificates
from Dask's ``distributed.comm.tls`` configuration), else the run is refused
before any host is contacted.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from distributed import Client

from fleet.distributed.task import TaskSpec
from fleet.distributed.work import DaskWork, check_zones
from fleet.engine.hostwork import HostWork
from fleet.engine.pipeline import HostJob
from fleet.errors import ConfigError
from fleet.inventory.model import Host

ENV_SCHEDULER = "FLEET_SCHEDULER"


@dataclass(frozen=True)
class ConnectSettings:
    """How workers connect to hosts (the same settings as the controller's connector)."""

    connect_timeout: float
    accept_new_hosts: bool
    become_password: str | None


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


def work_factory(client: Client, settings: ConnectSettings, forks: int
                 ) -> Callable[[HostJob], HostWork]:
    """What the rollout calls to send its hosts' steps to ``client``'s workers."""

    def make(job: HostJob) -> HostWork:
        token = secrets.token_hex(4)
        spec = TaskSpec(run_id=job.ctx.run_id, ctx=job.ctx, command_timeout=job.timeout,
                        connect_timeout=settings.connect_timeout,
                        accept_new_hosts=settings.accept_new_hosts,
                        become_password=settings.become_password,
                        roll_back_failed=job.roll_back_failed,
                        topic=f"fleet-events-{job.ctx.run_id}-{token}",
                        stop_name=f"fleet-stop-{job.ctx.run_id}-{token}")
        return DaskWork(client, job, spec, forks)

    return make
