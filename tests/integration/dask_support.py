"""A real Dask cluster for the ``--scheduler`` tests: a ``dask scheduler`` and ``dask
worker`` processes (no nanny, so a SIGKILL is final) on 127.0.0.1, each a process
of ours, killed by pid at the end; and what the tests read from it: where each
host's tasks ran (the scheduler's task stream) and what the scheduler still holds.

The ``cluster`` fixture (``conftest.py``) starts one per test module with the
workers of zones ``a`` and ``b``.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import distributed
from faults import fleet_ports, wait_until, write_inventory
from testfleet_helpers import HOSTS, REPO_ROOT

ZONES = {"dev-01": "a", "dev-02": "a", "dev-03": "a", "dev-04": "b", "dev-05": "b",
         "dev-06": "b"}
"""Each test host's ``fleet_zone``."""
WORKER_OF = {"a": "wa", "b": "wb", "c": "wc"}
"""The name of the worker that serves each zone."""

_TASK_KEY = re.compile(r"^fleet-(?P<run>\d{8}T\d{6}Z-[0-9a-f]{6})(?P<bake>-bake)?-[0-9a-f]{8}-"
                       r"(?P<phase>[a-z]+\d*)-(?P<host>.+)$")
"""A fleet task's Dask key: ``fleet-RUN-TOKEN-PHASE-HOST`` (``RUN-bake`` for the bake)."""


class Cluster:
    """A scheduler and workers, each a process of ours (killed by pid at the end)."""

    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.tmp = tmp
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._start("scheduler", ["scheduler", "--host", "127.0.0.1", "--port", str(self.port),
                                  "--dashboard-address", ":0", "--no-show"])

    def _start(self, name: str, args: list[str]) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}  # this checkout's fleet
        with (self.tmp / f"{name}.log").open("wb") as log:
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "dask", *args], env=env, stdout=log,
                stderr=subprocess.STDOUT, cwd=self.tmp)

    def worker(self, zone: str, name: str | None = None) -> str:
        """Start a worker of ``zone`` (resource ``zone-ZONE``; named as WORKER_OF says
        unless ``name``) and wait until it is up; return its name."""
        name = name or WORKER_OF[zone]
        self._start(name, ["worker", self.address, "--nthreads", "10", "--no-nanny",
                           "--name", name, "--resources", f"zone-{zone}=1000",
                           "--no-dashboard"])
        with self.client() as client:
            wait_until(lambda: name in {w["name"] for w in
                                        client.scheduler_info()["workers"].values()},
                       60, interval=0.2, what=f"Dask worker {name}")
        return name

    def client(self) -> distributed.Client:
        """A client of the scheduler (close it: use ``with``)."""
        return distributed.Client(self.address, timeout=30, set_as_default=False)

    def kill(self, name: str) -> None:
        """SIGKILL one of our processes."""
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)  # reaped: no process of ours outlives the module


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def zoned_inventory(folder: Path, zones: Mapping[str, str]) -> Path:
    """The six test hosts (canary dev-01) with each host's ``fleet_zone`` from ``zones``."""
    return write_inventory(folder, fleet_ports(*HOSTS), canaries=("dev-01",),
                           host_vars={h: {"fleet_zone": z} for h, z in zones.items()})


def connected_from(events: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """host -> the worker its connect step names (a rollout's run log)."""
    found = {}
    for event in events:
        if event.get("event") == "StepFinished" and event.get("step") == "connect":
            found[event["host"]] = str(event.get("detail", "")).rsplit(" ", 1)[-1]
    return found


class TaskLog:
    """Where fleet's Dask tasks ran while the block ran (the scheduler's task stream):
    ``ran`` is a list of (run id, phase, host, worker name) per task."""

    def __init__(self, cluster: Cluster) -> None:
        self._cluster = cluster
        self.ran: list[tuple[str, str, str, str]] = []

    def __enter__(self) -> TaskLog:
        self._client = self._cluster.client()
        self._names = _worker_names(self._client)
        self._stream = distributed.get_task_stream(self._client)
        self._stream.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._stream.__exit__(*exc)
            self._names.update(_worker_names(self._client))
            for record in self._stream.data:
                found = _TASK_KEY.match(str(record["key"]))
                if found:
                    run = found["run"] + (found["bake"] or "")
                    self.ran.append((run, found["phase"], found["host"],
                                     self._names.get(record["worker"], record["worker"])))
        finally:
            self._client.close()

    def workers(self, run_id: str | None = None) -> dict[str, set[str]]:
        """host -> the workers its tasks ran on (of run ``run_id``, or of every run)."""
        found: dict[str, set[str]] = {}
        for run, _, host, worker in self.ran:
            if run_id is None or run == run_id:
                found.setdefault(host, set()).add(worker)
        return found


def _worker_names(client: distributed.Client) -> dict[str, str]:
    return {addr: str(w["name"]) for addr, w in client.scheduler_info()["workers"].items()}


def scheduler_holdings(cluster: Cluster) -> dict[str, list[str]]:
    """What the scheduler holds that fleet could have left there: Dask Events (and
    their waiter counts), event-log topics, variables and tasks, by name."""

    def read(dask_scheduler: Any) -> dict[str, list[str]]:  # runs on the scheduler
        events = dask_scheduler.extensions["events"]
        variables = dask_scheduler.extensions.get("variables")
        return {"events": sorted(map(str, events._events)),
                "event waiters": sorted(map(str, events._waiter_count)),
                "topics": sorted(map(str, dask_scheduler._broker._topics)),
                "variables": sorted(map(str, variables.variables)) if variables else [],
                "tasks": sorted(map(str, dask_scheduler.tasks))}

    with cluster.client() as client:
        held: dict[str, list[str]] = client.run_on_scheduler(read)
    return held
