"""The open-file limit a run needs: raised to it, or a clear refusal before any host.

Each host in flight holds a socket, and while a command runs two more
descriptors (paramiko's channel pipe) and a selector; hosts whose connection a
rollback keeps hold their socket. A run that hit the limit half-way would fail
hosts it had already touched, so the limit is settled before the first.
"""

from __future__ import annotations

import resource

from fleet.errors import ConfigError

PER_HOST_IN_FLIGHT = 4
"""Descriptors a host in flight may hold: its socket, a channel's pipe (2), a selector."""
SPARE = 64
"""For the controller itself: logs, the run log, Python's own files."""


def open_files_needed(in_flight: int, kept: int = 0) -> int:
    """Descriptors for ``in_flight`` hosts at work and ``kept`` idle connections."""
    return in_flight * PER_HOST_IN_FLIGHT + kept + SPARE


def ensure_open_files(needed: int) -> int:
    """Raise the soft RLIMIT_NOFILE to ``needed`` if it is lower; return the limit now.

    Raises:
        ConfigError: the hard limit is below ``needed`` (the fix is named).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise ConfigError(
            f"this run needs up to {needed} open files and the hard limit is {hard}: raise it "
            "(ulimit -Hn, or LimitNOFILE= for a service) or lower --forks",
            file="--forks", field="open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed
