"""Headless Chromium, run as the tests and the benchmark need it: one fresh profile
per run (several can run at once), logging on stderr to catch console messages."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.dom import Element, parse

CHROMIUM_HINT = ("headless Chromium is needed and is part of the set-up: scripts/setup.sh "
                 "(or: apt-get install chromium)")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--mute-audio",
         "--disable-extensions", "--disable-background-networking", "--disable-sync",
         "--enable-logging=stderr", "--v=0")
"""``--no-sandbox``: the tests may run as root (in CI, in a container), where
Chromium's sandbox refuses to start."""
_CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]?\s*(.*)")


def chromium() -> str:
    """The Chromium binary; FAILS the test (never skips it) when there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(CHROMIUM_HINT, pytrace=False)


@dataclass(frozen=True)
class Loaded:
    """A page after Chromium loaded it and ran its scripts."""

    dom: Element
    html: str
    console: list[str]
    """Every console message: errors, uncaught exceptions, CSP refusals, logs."""
    seconds: float
    """Wall time of the whole Chromium run (start, load, scripts, dump)."""


def _run(args: list[str], timeout: float) -> tuple[subprocess.CompletedProcess[str], float]:
    with tempfile.TemporaryDirectory(prefix="fleet-chromium-") as profile:
        start = time.monotonic()
        done = subprocess.run([chromium(), *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout, check=False)
        return done, time.monotonic() - start


def load(page: Path, *, fragment: str = "", timeout: float = 120) -> Loaded:
    """Load ``page`` (``#fragment`` appended) and return its DOM and console messages."""
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    done, seconds = _run(["--dump-dom", url], timeout)
    assert done.returncode == 0, f"chromium failed ({done.returncode}):\n{done.stderr[-3000:]}"
    assert "<html" in done.stdout, f"chromium printed no DOM:\n{done.stderr[-3000:]}"
    console = [m.group(1) for line in done.stderr.splitlines() if (m := _CONSOLE.search(line))]
    return Loaded(parse(done.stdout), done.stdout, console, seconds)


def screenshot(page: Path, png: Path, *, width: int = 1400, height: int = 1000,
               timeout: float = 120) -> None:
    """Write a PNG of ``page`` as a ``width`` x ``height`` window shows it."""
    done, _ = _run([f"--screenshot={png.resolve()}", f"--window-size={width},{height}",
                    "--hide-scrollbars", page.resolve().as_uri()], timeout)
    assert done.returncode == 0, f"chromium failed ({done.returncode}):\n{done.stderr[-3000:]}"
    assert png.is_file(), f"chromium wrote no screenshot:\n{done.stderr[-3000:]}"
