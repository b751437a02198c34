"""Is the run that holds a deployment's lock on a host live, or abandoned?

A run's lock on a host records the controller that holds it (machine, boot
id, pid and the process's start) and a lease: until when, by the
controller's clock, the run counts as live without a word from it. Every step
script renews the lease when it starts. A second controller decides:

* on the machine (and boot) of the holder, the holder's process is asked
  directly: alive with the same start is live, anything else is abandoned;
* elsewhere the lease decides: live until it runs out.

``fleet rollback`` and ``fleet recover`` refuse a live run (they name it);
``fleet status`` shows it as ``running``.
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_LEASE_SLACK_S = 60.0


@dataclass(frozen=True)
class Owner:
    """The controller process that holds a lock."""

    machine: str
    boot: str
    pid: int
    start: str

    def line(self) -> str:
        """The one-line record a step script writes to ``lock/owner``."""
        return f"{self.machine} {self.boot} {self.pid} {self.start}"

    @classmethod
    def parse(cls, words: list[str]) -> Owner | None:
        """Read an owner record split into words; None when it is not one."""
        if len(words) != 4 or not words[2].isdigit():
            return None
        return cls(words[0], words[1], int(words[2]), words[3])

    def describe(self) -> str:
        """How a person finds the holder: ``pid 4242 on laptop-7``."""
        return f"pid {self.pid} on {self.machine}"


@dataclass(frozen=True)
class LockView:
    """What a probe saw of a lock: the holding run, its lease, its owner."""

    holder: str
    lease: float | None
    owner: Owner | None


def lease_until(now: float, command_timeout: float) -> int:
    """The lease a step writes: long enough for the step itself and the
    controller's gap before the next one."""
    return int(now + command_timeout + _LEASE_SLACK_S)


def is_live(lock: LockView, now: float, here: Owner) -> bool:
    """Judge whether the lock's run is live (see the module docstring)."""
    owner = lock.owner
    if owner is not None and (owner.machine, owner.boot) == (here.machine, here.boot) \
            and here.boot != "-":
        if owner.pid == here.pid and owner.start == here.start:
            return True
        return process_start(owner.pid) == owner.start
    return lock.lease is not None and now < lock.lease


@cache
def this_controller() -> Owner:
    """This process as a lock's owner."""
    pid = os.getpid()
    return Owner(_word(socket.gethostname()), boot_id(), pid, process_start(pid) or "-")


def _word(text: str) -> str:
    return "".join(c if c.isprintable() and not c.isspace() else "_" for c in text) or "-"


@cache
def boot_id() -> str:
    """This machine's boot (Linux's boot_id, the BSD/macOS boot time); ``-`` if unknown."""
    path = Path("/proc/sys/kernel/random/boot_id")
    try:
        return _word(path.read_text(encoding="ascii").strip())
    except OSError:
        pass
    try:
        out = subprocess.run(["sysctl", "-n", "kern.boottime"], capture_output=True,
                             text=True, timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return "-"
    return _word(out.strip()) if out.strip() else "-"


def process_start(pid: int) -> str | None:
    """When process ``pid`` started, as an opaque token (None: no such process).

    Linux: the start time in clock ticks since boot from ``/proc``; elsewhere
    ``ps -o lstart=``.
    """
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            fields = stat.read_text(encoding="utf-8", errors="replace").rsplit(") ", 1)[1].split()
        except (OSError, IndexError):
            return None
        return fields[19] if len(fields) > 19 else None
    try:
        out = subprocess.run(["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True,
                             text=True, timeout=5, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return _word(out.strip()) if out.strip() else None
