"""Fault injection for the reliability scenarios (issue 3): controllers started in the
background and watched through their run log, slow or big releases to widen a
step's window, a TCP server that never speaks SSH, network cuts, inventories
written per test. Import next to ``testfleet_helpers`` and ``rollout_support``.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from rollout_support import copy_example_source
from testfleet_helpers import (
    CLIENT_KEY,
    KNOWN_HOSTS,
    NETWORK,
    PORTS,
    REPO_ROOT,
    _client,
    container,
    docker_exec,
)

FAST_TIMEOUTS = {"connect": 3, "command": 8}
"""Timeouts that keep fault scenarios quick (seconds)."""

TIMINGS: Path = REPO_ROOT / ".fleet" / "reliability-timings.jsonl"
"""Where scenarios note how long the run and the recovery took (git-ignored);
docs/reliability.md is written from it."""


def note_timing(scenario: str, **seconds: float | None) -> None:
    """Append one scenario's timings (seconds) to TIMINGS."""
    TIMINGS.parent.mkdir(parents=True, exist_ok=True)
    record = {"scenario": scenario, "at": time.time(),
              **{k: (round(v, 2) if v is not None else None) for k, v in seconds.items()}}
    with TIMINGS.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.05,
               what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; return that. TimeoutError after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout}s")
        time.sleep(interval)


# --------------------------------------------------------------------------- inventories


def write_inventory(folder: Path, hosts: Mapping[str, int], *, canaries: tuple[str, ...] = (),
                    all_vars: Mapping[str, Any] | None = None,
                    host_vars: Mapping[str, Mapping[str, Any]] | None = None,
                    known_hosts: Path = KNOWN_HOSTS, filename: str = "inventory.yml") -> Path:
    """Write an inventory of test hosts (name -> port on 127.0.0.1) and return its path.

    Hosts in ``canaries`` go in a ``canaries`` group first, the rest in
    ``developers``, each in the order given.
    """
    variables: dict[str, Any] = {
        "ansible_user": "tester", "ansible_host": "127.0.0.1",
        "ansible_ssh_private_key_file": str(CLIENT_KEY), "known_hosts_file": str(known_hosts),
        **(all_vars or {}),
    }

    def entry(name: str) -> dict[str, Any]:
        return {"ansible_port": hosts[name], **(host_vars or {}).get(name, {})}

    children: dict[str, Any] = {}
    if canaries:
        children["canaries"] = {"hosts": {n: entry(n) for n in hosts if n in canaries}}
    children["developers"] = {"hosts": {n: entry(n) for n in hosts if n not in canaries}}
    path = folder / filename
    path.write_text(yaml.safe_dump({"all": {"vars": variables, "children": children}},
                                   sort_keys=False, allow_unicode=True))
    return path


def fleet_ports(*names: str) -> dict[str, int]:
    """name -> published port for test hosts ``names``."""
    return {n: PORTS[n] for n in names}


# --------------------------------------------------------------------------- sources


def big_source(folder: Path, megabytes: int, blob: str = "blob.bin") -> Path:
    """The example source plus ``blob`` of random bytes (so stage takes a while)."""
    source = copy_example_source(folder)
    (source / blob).write_bytes(os.urandom(megabytes << 20))
    return source


# --------------------------------------------------------------------------- run logs


def run_log(run_id: str, cwd: Path = REPO_ROOT) -> list[dict[str, Any]]:
    """The events of run ``run_id`` from ``<cwd>/.fleet/runs/<run_id>.jsonl``."""
    path = cwd / ".fleet" / "runs" / f"{run_id}.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def failed_steps(events: list[dict[str, Any]]) -> dict[str, str]:
    """host -> the first step that failed on it (rollbacks aside), from a run's events."""
    found: dict[str, str] = {}
    for event in events:
        if event["event"] == "StepFinished" and not event["ok"] \
                and event["step"] != "rollback":
            found.setdefault(event["host"], event["step"])
    return found


# --------------------------------------------------------------------------- background controllers


def log_records(path: Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines log that may still be written to (a run log, a
    monitor sample log): none if it is not there yet, a partial last line ignored."""
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return records


def foreground_signals() -> None:
    """In the child: Ctrl-C as at a terminal. A test suite started in the
    background (``cmd &`` in a script) hands its children SIGINT ignored, and
    Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Controller:
    """``python -m fleet ARGS --json`` started in the background in its own folder,
    so its run log (``<cwd>/.fleet/runs/<run_id>.jsonl``) is the only one there."""

    def __init__(self, cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
        """``env``: extra environment variables (e.g. the HOME of a ``connection:
        local`` host)."""
        self.cwd = cwd
        cwd.mkdir(parents=True, exist_ok=True)
        self.args = args
        self.started = time.monotonic()
        env = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO_ROOT)}  # this checkout's fleet
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fleet", *args, "--json"], cwd=cwd, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=foreground_signals,
        )
        self.ended: float | None = None

    def log_path(self) -> Path | None:
        """The run log, once the controller has made it."""
        runs = self.cwd / ".fleet" / "runs"
        found = sorted(runs.glob("*.jsonl")) if runs.is_dir() else []
        return found[-1] if found else None

    def events(self) -> list[dict[str, Any]]:
        """Events logged so far (a partial last line is ignored)."""
        path = self.log_path()
        return log_records(path) if path is not None else []

    def run_id(self) -> str:
        """The run id (from the run log's name)."""
        path = wait_until(self.log_path, 20, what="run log")
        return str(path.stem)

    def wait_event(self, timeout: float = 30, **match: Any) -> dict[str, Any]:
        """Wait until an event whose fields include ``match`` is logged; return it.

        Example: ``wait_event(event="StepStarted", host="dev-04", step="activate")``.
        """
        def found() -> dict[str, Any] | None:
            event = self._matching(match)
            if event is None and self.proc.poll() is not None:
                err = self.proc.stderr.read() if self.proc.stderr else ""
                raise AssertionError(f"controller exited {self.proc.returncode} before "
                                     f"{match}:\n{err}")
            return event

        event: dict[str, Any] = wait_until(found, timeout, interval=0.02, what=f"event {match}")
        return event

    def _matching(self, match: Mapping[str, Any]) -> dict[str, Any] | None:
        for event in self.events():
            if all(event.get(k) == v for k, v in match.items()):
                return event
        return None

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the controller process (only ours, by its pid)."""
        self.proc.send_signal(sig)

    def finish(self, timeout: float = 120) -> tuple[int, dict[str, Any] | None, str]:
        """Wait for the controller; return (exit code, parsed --json result or None, stderr)."""
        out, err = self.proc.communicate(timeout=timeout)
        self.ended = time.monotonic()
        data = None
        if out.strip():
            data = json.loads(out)
        return self.proc.returncode, data, err

    @property
    def duration(self) -> float:
        """Seconds from start to ``finish``."""
        assert self.ended is not None
        return self.ended - self.started


# --------------------------------------------------------------------------- network faults


def disconnect(host: str) -> None:
    """Cut ``host`` off the fleet network (its published SSH port stops answering;
    ``restore_host`` reconnects it)."""
    _client().networks.get(NETWORK).disconnect(container(host), force=True)


@contextmanager
def restored(*hosts: str) -> Iterator[None]:
    """Run the body; afterwards bring ``hosts`` back whatever happened (restore_host)."""
    from testfleet_helpers import restore_host

    try:
        yield
    finally:
        for host in hosts:
            restore_host(host)


def token() -> str:
    """A random marker string."""
    return secrets.token_hex(8)


# --------------------------------------------------------------------------- host-side scripts

_SCRIPTS = """
for pid in $(pgrep -u tester || true); do
    comm=$(cat /proc/$pid/comm 2>/dev/null) || continue
    [ "$comm" = sshd ] || printf '%s %s\\n' "$pid" "$comm"
done
"""


def host_scripts(host: str) -> list[str]:
    """The processes of the remote user on ``host`` other than sshd's own (fleet's
    step scripts and what they run), as "PID COMMAND" lines; [] when none is left."""
    code, out = docker_exec(host, ["sh", "-c", _SCRIPTS])
    if code != 0:
        raise RuntimeError(f"{host}: listing processes failed: {out.decode(errors='replace')}")
    return [line for line in out.decode(errors="replace").splitlines() if line.strip()]
