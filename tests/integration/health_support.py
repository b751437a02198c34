"""Making a test host unhealthy on purpose, for ``fleet monitor`` and the canary bake.

A *memory hog* is a python process inside a container, run as tester, that
renames itself (``/proc/self/comm``) to ``HOG`` and holds a given number of
MiB of touched (so resident) memory. The ``memory`` health check sums the RSS
of the processes whose name contains its ``process``: with ``HEALTH`` below a
host is ok with no hog, warn with ``WARN_MB`` of hog, critical with
``WARN_MB + CRITICAL_EXTRA_MB``. RSS is exact and does not depend on load, so
the levels are deterministic (unlike a slowed disk or CPU).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from faults import wait_until
from testfleet_helpers import docker_exec

HOG = "fleethog"
"""The process name every hog takes (and the memory health check watches)."""

HEALTH: list[dict[str, Any]] = [
    {"type": "memory", "process": HOG, "warn_mb": 20, "critical_mb": 60},
    # generous: a loaded machine must not make a healthy host warn
    {"type": "access_time", "warn_ms": 2000, "critical_ms": 5000},
]
"""Health checks for the playbooks of these tests."""

WARN_MB = 30
"""A hog of this size (plus python's own ~10 MiB) makes its host warn (> 20 MB, < 60)."""
CRITICAL_EXTRA_MB = 50
"""A second hog of this size on top of a WARN_MB one makes its host critical (> 60 MB)."""

_HOG_PY = """
import sys, time
with open("/proc/self/comm", "w") as comm:
    comm.write(sys.argv[1])
ballast = b"x" * (int(sys.argv[2]) << 20)
time.sleep(int(sys.argv[3]))
"""

# $1 = python source, $2 = name, $3 = MiB, $4 = lifetime (s); prints the pid. The
# name is both argv[0] (what macOS's ps shows as comm, and mac-01's ps shim) and
# the kernel's comm (what GNU and busybox ps show). Run by bash (for exec -a),
# which every test host has for docker exec whatever its users' PATH.
_START = ('{ exec -a "$2" python3 -c "$1" "$2" "$3" "$4"; } </dev/null >/dev/null 2>&1 & '
          'echo $!')


def _rss_kb(host: str, pid: int) -> int | None:
    """Resident memory (KiB) of ``pid`` on ``host`` once it is named HOG, else None."""
    code, out = docker_exec(host, ["sh", "-c", '[ "$(cat /proc/$1/comm)" = "$2" ] && '
                                   'awk \'/^VmRSS:/ {print $2}\' "/proc/$1/status"',
                                   "sh", str(pid), HOG])
    text = out.decode(errors="replace").strip()
    return int(text) if code == 0 and text.isdigit() else None


@contextmanager
def memory_hog(host: str, mib: int, lifetime: int = 600) -> Iterator[int]:
    """Run a hog of ``mib`` MiB on ``host`` (as tester) until the block ends; yield its pid.

    Returns only once the hog is named HOG and holds its memory. It is killed
    (by its pid) when the block ends, and dies by itself after ``lifetime`` s.
    """
    code, out = docker_exec(host, ["bash", "-c", _START, "sh", _HOG_PY, HOG, str(mib),
                                   str(lifetime)], user="tester")
    text = out.decode(errors="replace").strip()
    assert code == 0, out
    assert text.isdigit(), out
    pid = int(text)
    try:
        wait_until(lambda: (_rss_kb(host, pid) or 0) >= mib << 10, 20,
                   what=f"{HOG} of {mib} MiB on {host}")
        yield pid
    finally:
        docker_exec(host, ["kill", "-9", str(pid)])


def levels_of(records: list[dict[str, Any]], host: str) -> list[str]:
    """The levels of ``host``'s samples, in log order."""
    return [r["level"] for r in records if r["kind"] == "sample" and r["host"] == host]


def collapse(levels: list[str]) -> list[str]:
    """``levels`` with runs of the same level folded: ok ok warn ok -> ok warn ok."""
    return [lv for i, lv in enumerate(levels) if i == 0 or levels[i - 1] != lv]
