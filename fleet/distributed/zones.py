"""Zones: a host's ``fleet_zone`` var, and the workers that serve it.

A worker serves zone NAME when it declares the Dask resource ``zone-NAME``
(``dask worker SCHEDULER --resources zone-NAME=1000``); a host without a zone
may run on any worker. :func:`check_zones` refuses a run with a zone no worker
serves before any host is contacted.
"""

from __future__ import annotations

from collections.abc import Sequence

from distributed import Client

from fleet.errors import ConfigError
from fleet.inventory.model import Host

ZONE_VAR = "fleet_zone"


def zone_of(host: Host) -> str | None:
    """The host's ``fleet_zone`` (None: any worker may serve it)."""
    zone = host.vars.get(ZONE_VAR)
    return None if zone is None else str(zone)


def resource(zone: str) -> str:
    """The Dask worker resource that serves ``zone``."""
    return f"zone-{zone}"


def served_zones(client: Client) -> tuple[int, set[str]]:
    """How many workers the scheduler has, and every resource any of them declares."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return len(workers), {r for w in workers.values() for r in (w.get("resources") or {})}


def check_zones(client: Client, hosts: Sequence[Host]) -> None:
    """Refuse a run that has a host no worker can serve.

    Raises:
        ConfigError: no worker at all, or a zone that no worker serves (named).
    """
    count, served = served_zones(client)
    if count == 0:
        raise ConfigError("the Dask scheduler has no worker; start one with `dask worker "
                          "SCHEDULER --resources zone-NAME=1000`", file="--scheduler")
    missing: dict[str, list[str]] = {}
    for host in hosts:
        zone = zone_of(host)
        if zone is not None and resource(zone) not in served:
            missing.setdefault(zone, []).append(host.name)
    for zone, names in missing.items():
        raise ConfigError(
            f"no Dask worker serves zone {zone!r} (hosts {', '.join(names[:5])}"
            f"{' …' if len(names) > 5 else ''}); start one with --resources "
            f"{resource(zone)}=1000", file="--scheduler", field=ZONE_VAR)
