"""Where the kill loop runs: ``LocalRig`` (one ``connection: local`` host with a HOME
of its own per iteration) and ``SshRig`` (hosts of the container test fleet)."""

from __future__ import annotations

import io
import os
import shutil
import signal
import tarfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import yaml
from faults import disconnect, fleet_ports, host_scripts, write_inventory
from invariant import HostSnap, local_host_snap, quick_host_snap
from testfleet_helpers import TARGET, container, reset_host, restore_host

from tests.killloop.payload import Payload, write_playbook


class Rig(Protocol):
    """Where the loop runs: hosts it can reset, read, cut off, and run fleet against."""

    label: str
    hosts: tuple[str, ...]
    cut_heals: bool
    """After a cut the controller can still reach the host, so it must put it back."""

    def playbook(self, failing: bool) -> Path:
        """The playbook of the pass or the fail variant."""
        ...

    def fresh(self, folder: Path) -> None:
        """Put every host in the payload's before state (``folder``: the iteration's)."""
        ...

    def env(self) -> dict[str, str]:
        """Extra environment for fleet commands."""
        ...

    def inventory(self) -> tuple[str, ...]:
        """The ``-i FILE`` arguments."""
        ...

    def snapshot(self) -> dict[str, HostSnap]:
        """Every host's ``HostSnap`` now."""
        ...

    def cut(self, controller_pid: int, host: str) -> str | None:
        """Cut ``host`` off; what was done, or None when there was nothing to cut."""
        ...

    def uncut(self) -> None:
        """Undo ``cut`` (after the controller has ended)."""
        ...

    def scripts(self) -> dict[str, list[str]]:
        """Host-side processes still running, per host (only non-empty entries)."""
        ...

    def kill_scripts(self) -> None:
        """End host-side processes that outlived ``SCRIPTS_BOUND``."""
        ...

    def discard(self, folder: Path) -> None:
        """Free what ``fresh(folder)`` took on this machine (the iteration is over)."""
        ...



# --------------------------------------------------------------------------- local rig


def processes_of_home(home: Path) -> list[int]:
    """Pids of this user's processes whose environment has ``HOME=home`` (Linux /proc):
    everything running "on" a ``connection: local`` host."""
    marker = b"\0HOME=" + os.fsencode(home) + b"\0"
    found: list[int] = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            env = Path(entry.path, "environ").read_bytes()
        except OSError:
            continue
        if marker in b"\0" + env:
            found.append(int(entry.name))
    return found


def _kill(pids: Iterable[int]) -> list[int]:
    killed = []
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        killed.append(pid)
    return killed


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


class LocalRig:
    """One ``connection: local`` host, ``local-1``, with a fresh HOME per iteration (the
    controller's HOME: the CLI gives local hosts no HOME of their own). The target is
    ``~/site/agents``; fleet's state is under the same HOME, on the same filesystem."""

    label: str = "connection: local"
    hosts: tuple[str, ...] = ("local-1",)
    cut_heals: bool = True
    TARGET = "~/site/agents"
    NAME = "killloop"

    def __init__(self, payload: Payload, folder: Path) -> None:
        self.payload = payload
        folder.mkdir(parents=True, exist_ok=True)
        self._inventory = folder / "inventory.yml"
        self._inventory.write_text(yaml.safe_dump(
            {"all": {"hosts": {"local-1": {"ansible_connection": "local"}}}}))
        timeouts = {"connect": 5, "command": 120}
        self._playbooks = {f: write_playbook(folder, payload, name=self.NAME, target=self.TARGET,
                                             failing=f, timeouts=timeouts) for f in (False, True)}
        self.home = folder / "no-home-yet"

    def playbook(self, failing: bool) -> Path:
        return self._playbooks[failing]

    def fresh(self, folder: Path) -> None:
        self.home = folder / "home"
        shutil.copytree(self.payload.before, self.home / "site", symlinks=True)
        (self.home / ".local" / "state").mkdir(parents=True)

    def env(self) -> dict[str, str]:
        return {"HOME": str(self.home)}

    def inventory(self) -> tuple[str, ...]:
        return ("-i", str(self._inventory))

    def snapshot(self) -> dict[str, HostSnap]:
        return {"local-1": local_host_snap(self.home, self.TARGET, self.NAME)}

    def cut(self, controller_pid: int, host: str) -> str | None:
        pids = [p for p in processes_of_home(self.home) if p != controller_pid]
        names = [_comm(p) for p in pids]
        killed = _kill(pids)
        return f"killed {', '.join(names)}" if killed else None

    def uncut(self) -> None:
        """Nothing to undo: the next step starts new processes."""

    def scripts(self) -> dict[str, list[str]]:
        left = [f"{p} {_comm(p)}" for p in processes_of_home(self.home)]
        return {"local-1": left} if left else {}

    def kill_scripts(self) -> None:
        _kill(processes_of_home(self.home))

    def discard(self, folder: Path) -> None:
        shutil.rmtree(folder / "home", ignore_errors=True)


# --------------------------------------------------------------------------- SSH rig


class SshRig:
    """Hosts of the container test fleet (the first is the canary, then batches of 2),
    target ``~/.claude/agents``; a cut takes the host off the docker network until the
    controller has ended. Needs the fleet up and the integration lock held."""

    cut_heals: bool = False  # the host is unreachable until the run has ended
    NAME = "killloop"

    def __init__(self, payload: Payload, folder: Path, hosts: Sequence[str]) -> None:
        self.hosts = tuple(hosts)
        self.label = f"SSH ({', '.join(self.hosts)})"
        self.payload = payload
        self.target = TARGET
        folder.mkdir(parents=True, exist_ok=True)
        self._inventory = write_inventory(folder, fleet_ports(*self.hosts),
                                          canaries=self.hosts[:1])
        timeouts = {"connect": 3, "command": 10}
        self._playbooks = {f: write_playbook(folder, payload, name=self.NAME,
                                             target="~/.claude/agents", failing=f,
                                             timeouts=timeouts) for f in (False, True)}
        self._archive = _tar_of(payload.before, uid=1000, gid=1000, owner="tester")
        self._cut: str | None = None

    def playbook(self, failing: bool) -> Path:
        return self._playbooks[failing]

    def fresh(self, folder: Path) -> None:
        def one(host: str) -> None:
            reset_host(host)
            if not container(host).put_archive(os.path.dirname(self.target), self._archive):
                raise RuntimeError(f"{host}: seeding the target failed")

        with ThreadPoolExecutor(max_workers=len(self.hosts)) as pool:
            list(pool.map(one, self.hosts))

    def env(self) -> dict[str, str]:
        return {}

    def inventory(self) -> tuple[str, ...]:
        return ("-i", str(self._inventory))

    def snapshot(self) -> dict[str, HostSnap]:
        with ThreadPoolExecutor(max_workers=len(self.hosts)) as pool:
            snaps = pool.map(lambda h: quick_host_snap(h, self.target, self.NAME), self.hosts)
            return dict(zip(self.hosts, snaps, strict=True))

    def cut(self, controller_pid: int, host: str) -> str | None:
        disconnect(host)
        self._cut = host
        return f"{host} off the network"

    def uncut(self) -> None:
        if self._cut is not None:
            restore_host(self._cut)
            self._cut = None

    def scripts(self) -> dict[str, list[str]]:
        found = {h: host_scripts(h) for h in self.hosts}
        return {h: p for h, p in found.items() if p}

    def kill_scripts(self) -> None:
        """``reset_host`` at the next iteration ends them (they are the remote user's)."""

    def discard(self, folder: Path) -> None:
        """Nothing kept on this machine (the next ``fresh`` resets the hosts)."""

    def heal(self) -> None:
        """Every host back on the network (after an error mid-iteration)."""
        self.uncut()


def _tar_of(folder: Path, *, uid: int, gid: int, owner: str) -> bytes:
    """A tar of ``folder``'s content (modes kept), owned by ``owner``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(folder)))
            info.uid, info.gid, info.uname, info.gname = uid, gid, owner, owner
            if info.isfile():
                with path.open("rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    return buffer.getvalue()
