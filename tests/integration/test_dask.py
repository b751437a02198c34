"""``fleet rollout --scheduler``: each host's steps on a real Dask worker of its zone.

A ``dask scheduler`` and two ``dask worker`` processes (zones ``a`` and ``b``,
no nanny, so a SIGKILL is final) run on 127.0.0.1 for this module, against the
container test fleet. The controller keeps every decision; the run log must
show where each host's steps ran (its connect step names the worker).

Run under the shared bench lock: ``flock /tmp/fleet-bench.lock python3 -m pytest
tests/integration/test_dask.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import distributed
import pytest
from faults import Controller, fleet_ports, log_records, wait_until, write_inventory
from invariant import assert_invariant, release_of, take_snapshot
from rollout_support import EXAMPLE_PLAYBOOK, statuses, write_playbook
from testfleet_helpers import HOSTS, REPO_ROOT, run_fleet_json

ZONES = {"dev-01": "a", "dev-02": "a", "dev-03": "a", "dev-04": "b", "dev-05": "b",
         "dev-06": "b"}
WORKER_OF = {"a": "wa", "b": "wb", "c": "wc"}


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

    def worker(self, zone: str) -> str:
        """Start the worker of ``zone`` (resource ``zone-ZONE``) and wait until it is up."""
        name = WORKER_OF[zone]
        self._start(name, ["worker", self.address, "--nthreads", "10", "--no-nanny",
                           "--name", name, "--resources", f"zone-{zone}=1000",
                           "--no-dashboard"])
        with distributed.Client(self.address, timeout=30) as client:
            wait_until(lambda: name in {w["name"] for w in
                                        client.scheduler_info()["workers"].values()},
                       60, interval=0.2, what=f"Dask worker {name}")
        return name

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


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """The module's scheduler and its workers of zones ``a`` and ``b``."""
    made = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        made.worker("a")
        made.worker("b")
        yield made
    finally:
        made.stop()


def _inventory(folder: Path, zones: dict[str, str]) -> Path:
    return write_inventory(folder, fleet_ports(*HOSTS), canaries=("dev-01",),
                           host_vars={h: {"fleet_zone": z} for h, z in zones.items()})


def _where(events: list[dict[str, Any]]) -> dict[str, str]:
    """host -> the worker its connect step names."""
    found = {}
    for event in events:
        if event.get("event") == "StepFinished" and event.get("step") == "connect":
            found[event["host"]] = str(event.get("detail", "")).rsplit(" ", 1)[-1]
    return found


def _run_log(cwd: Path, run_id: str) -> list[dict[str, Any]]:
    return log_records(cwd / ".fleet" / "runs" / f"{run_id}.jsonl")


def test_a_rollout_across_two_zones_runs_each_host_on_its_zones_worker(
        cluster: Cluster, tmp_path: Path) -> None:
    inventory = _inventory(tmp_path, ZONES)
    proc = Controller(tmp_path, "rollout", str(EXAMPLE_PLAYBOOK), "-i", str(inventory),
                      "--scheduler", cluster.address)
    code, data, err = proc.finish()
    assert code == 0, err
    assert data is not None
    assert data["outcome"] == "success"
    assert set(statuses(data).values()) == {"deployed"}
    assert_invariant(take_snapshot(), release_of(EXAMPLE_PLAYBOOK))  # hosts on the release
    events = _run_log(tmp_path, data["run_id"])
    assert _where(events) == {h: WORKER_OF[z] for h, z in ZONES.items()}
    steps = [e["step"] for e in events if e.get("event") == "StepStarted" and
             e.get("host") == "dev-05"]
    assert steps[:4] == ["connect", "prepare", "stage", "activate"]  # step events streamed


def test_a_failing_host_in_zone_b_puts_every_touched_host_back(cluster: Cluster,
                                                                 tmp_path: Path) -> None:
    before = take_snapshot()
    playbook = write_playbook(tmp_path, extra_checks=[
        {"type": "command", "run": 'test "$(hostname)" != dev-04', "timeout": 10}],
        strategy={"canary": 1, "batch_size": 5, "forks": 5, "max_failures": 0,
                  "on_failure": "rollback_all"})
    inventory = _inventory(tmp_path, ZONES)
    proc = Controller(tmp_path, "rollout", str(playbook), "-i", str(inventory),
                      "--scheduler", cluster.address)
    code, data, err = proc.finish()
    assert code == 1, err
    assert data is not None
    assert data["outcome"] == "rolled_back"
    got = statuses(data)
    assert got["dev-04"] == "rolled_back"
    assert got["dev-01"] == "rolled_back"  # the canary, in zone a, came back too
    assert assert_invariant(before) == {h: "before" for h in HOSTS}


def test_a_worker_killed_mid_host_leaves_it_for_recover(cluster: Cluster,
                                                         tmp_path: Path) -> None:
    """dev-06 is the only host of zone ``c``; its worker dies while dev-06 validates:
    dev-06 is unknown, the run halts and rolls back the others on their workers;
    dev-06 has no worker left (``rollback_failed``, exit 3) until ``fleet recover``."""
    cluster.worker("c")
    before = take_snapshot()
    playbook = write_playbook(tmp_path, extra_checks=[
        {"type": "command", "run": 'case "$(hostname)" in dev-06) sleep 6;; esac',
         "timeout": 20}],
        strategy={"canary": 1, "batch_size": 5, "forks": 5, "max_failures": 0,
                  "on_failure": "rollback_all"})
    inventory = _inventory(tmp_path, {**ZONES, "dev-06": "c"})
    proc = Controller(tmp_path, "rollout", str(playbook), "-i", str(inventory),
                      "--scheduler", cluster.address)
    proc.wait_event(timeout=60, event="StepStarted", host="dev-06", step="activate")
    cluster.kill("wc")
    code, data, err = proc.finish()
    assert code == 3, err
    assert data is not None
    assert data["outcome"] == "rollback_incomplete"
    got = statuses(data)
    assert got["dev-06"] == "rollback_failed"
    assert "unknown" in str(next(h for h in data["hosts"] if h["name"] == "dev-06")["error"])
    assert {got[h] for h in HOSTS if h != "dev-06"} <= {"rolled_back", "skipped"}
    recovered, result = run_fleet_json("recover", str(playbook), "-i", str(inventory))
    assert recovered.returncode == 0, recovered.stderr
    assert statuses(result)["dev-06"] == "rolled_back"
    assert assert_invariant(before) == {h: "before" for h in HOSTS}


def test_a_zone_without_a_worker_is_refused_before_any_host(cluster: Cluster,
                                                            tmp_path: Path) -> None:
    before = take_snapshot()
    inventory = _inventory(tmp_path, {**ZONES, "dev-03": "mars"})
    proc = Controller(tmp_path, "rollout", str(EXAMPLE_PLAYBOOK), "-i", str(inventory),
                      "--scheduler", cluster.address)
    code, data, err = proc.finish()
    assert code == 2
    assert data is None
    assert "zone 'mars'" in err
    assert "dev-03" in err
    assert assert_invariant(before) == {h: "before" for h in HOSTS}
    assert not (tmp_path / ".fleet" / "runs").exists()  # no run started


def test_a_become_password_never_crosses_a_plain_scheduler_connection(
        cluster: Cluster, tmp_path: Path) -> None:
    inventory = _inventory(tmp_path, ZONES)
    proc = Controller(tmp_path, "rollout", str(EXAMPLE_PLAYBOOK), "-i", str(inventory),
                      "--scheduler", cluster.address, env={"FLEET_BECOME_PASSWORD": "s3cret"})
    code, _, err = proc.finish()
    assert code == 2
    assert "only over TLS" in err
