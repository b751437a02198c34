"""Fixtures for tests against the containerized SSH test fleet.

Every test under ``tests/integration`` gets the ``integration`` marker, needs
the fleet (a missing fleet FAILS the run; it is never skipped) and starts from
freshly seeded hosts (``reset_hosts``). The helpers live in
``testfleet_helpers.py``; import them from there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from testfleet_helpers import (
    CLIENT_KEY,
    HOSTS,
    JUMP_HOST,
    KNOWN_HOSTS_EXTRA,
    KNOWN_HOSTS_JUMP,
    LINKS_HOST,
    SUDO_HOST,
    TMPFS_HOST,
    fleet_problems,
    reset_all_hosts,
    reset_host,
    reset_local_users_host,
)

if TYPE_CHECKING:
    from dask_support import Cluster

FLEET_UP_HINT = "bring the test fleet up with: scripts/test-fleet.sh up"
HERE: Path = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test collected from this folder with ``integration``."""
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def testfleet() -> list[str]:
    """The running test fleet; returns HOSTS. Fails (never skips) if it is not up."""
    problems = fleet_problems()
    if problems:
        pytest.fail(
            "SSH test fleet is not ready:\n  " + "\n  ".join(problems) + f"\n{FLEET_UP_HINT}",
            pytrace=False,
        )
    return HOSTS


@pytest.fixture(autouse=True)
def reset_hosts(request: pytest.FixtureRequest) -> Iterator[None]:
    """Before each integration test: every host running, answering SSH, on its
    network, with fleet state wiped and TARGET seeded with SEED_FILES.

    Runs (autouse) only for tests marked ``integration``; pulls in ``testfleet``.
    """
    if request.node.get_closest_marker("integration") is None:
        yield
        return
    request.getfixturevalue("testfleet")
    reset_all_hosts()
    yield


@pytest.fixture
def tmpfs_host(testfleet: list[str]) -> str:
    """The extra host ``tmpfs-01`` (its ``~/.claude`` is an 8 MiB tmpfs), running,
    answering SSH and seeded like the six (``reset_host``); returns its name.
    Fails (never skips) if it is not up."""
    problems = fleet_problems([TMPFS_HOST], files=(KNOWN_HOSTS_EXTRA,))
    if problems:
        pytest.fail("tmpfs-01 is not ready:\n  " + "\n  ".join(problems)
                    + f"\n{FLEET_UP_HINT}", pytrace=False)
    reset_host(TMPFS_HOST)
    return TMPFS_HOST


@pytest.fixture
def jump_host(testfleet: list[str]) -> str:
    """The extra host ``jump-01`` (a jump host on 127.0.0.1:2210 that reaches the six
    by name), running and answering SSH, with ``.testfleet/known_hosts_jump`` written;
    returns its name. Fails (never skips) if it is not up."""
    problems = fleet_problems([JUMP_HOST], files=(KNOWN_HOSTS_JUMP,))
    if problems:
        pytest.fail("jump-01 is not ready:\n  " + "\n  ".join(problems)
                    + f"\n{FLEET_UP_HINT}", pytrace=False)
    return JUMP_HOST


def _local_users_host(host: str) -> str:
    problems = fleet_problems([host], files=(CLIENT_KEY, KNOWN_HOSTS_EXTRA))
    if problems:
        pytest.fail(f"{host} is not ready:\n  " + "\n  ".join(problems)
                    + f"\n{FLEET_UP_HINT}", pytrace=False)
    reset_local_users_host(host)
    return host


@pytest.fixture
def sudo_host(testfleet: list[str]) -> str:
    """The extra host ``sudo-01`` (127.0.0.1:2211; tester's sudo asks for
    ``SUDO_PASSWORD``, sudo's stock defaults), running, answering SSH, with no fleet
    state and sudo as on a fresh host (``reset_local_users_host``); returns its name.
    Fails (never skips) if it is not up."""
    return _local_users_host(SUDO_HOST)


@pytest.fixture
def links_host(testfleet: list[str]) -> str:
    """The extra host ``links-01`` (127.0.0.1:2212; tester's sudo needs no password;
    the unprivileged local user ``mallory``), reset like ``sudo_host``; returns its
    name. Fails (never skips) if it is not up."""
    return _local_users_host(LINKS_HOST)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A Dask scheduler and its workers of zones ``a`` and ``b`` on 127.0.0.1, for one
    test module (``dask_support.Cluster``); every process of it ends with the module."""
    from dask_support import Cluster

    made = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        made.worker("a")
        made.worker("b")
        yield made
    finally:
        made.stop()
