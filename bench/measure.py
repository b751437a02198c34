"""Run one command and measure it: wall time, controller CPU, peak memory."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Timed:
    """What one command did and cost on the controller."""

    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    cpu_s: float
    """User + system CPU of the command and of every child it waited for."""
    max_rss_mb: float
    """Peak resident memory of the largest of those processes."""


def _drain(stream: IO[bytes], into: list[bytes]) -> None:
    into.append(stream.read())


def timed(argv: list[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> Timed:
    """Run ``argv`` (no shell) to its end; its own rusage comes from ``wait4``."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stderr is not None
    out: list[bytes] = []
    err: list[bytes] = []
    readers = [threading.Thread(target=_drain, args=(proc.stdout, out)),
               threading.Thread(target=_drain, args=(proc.stderr, err))]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    for reader in readers:
        reader.join()
    proc.returncode = os.waitstatus_to_exitcode(status)   # reaped here, not by Popen
    return Timed(proc.returncode, out[0].decode(errors="replace"),
                 err[0].decode(errors="replace"), wall,
                 usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)
