"""fleet: roll files out to many machines over SSH — canary, batches, validate, roll back.

The public names below are loaded on first use, so that ``fleet --version``
and ``fleet --help`` pay for none of them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fleet.errors import (
        CommandFailed,
        CommandTimeout,
        ConfigError,
        ConnectError,
        FleetError,
        HostKeyError,
        RollbackFailed,
        StepFailed,
        TransportError,
    )
    from fleet.results import HostOutcome, HostStatus, Outcome, RunResult

_HOME = {
    "CommandFailed": "fleet.errors",
    "CommandTimeout": "fleet.errors",
    "ConfigError": "fleet.errors",
    "ConnectError": "fleet.errors",
    "FleetError": "fleet.errors",
    "HostKeyError": "fleet.errors",
    "RollbackFailed": "fleet.errors",
    "StepFailed": "fleet.errors",
    "TransportError": "fleet.errors",
    "HostOutcome": "fleet.results",
    "HostStatus": "fleet.results",
    "Outcome": "fleet.results",
    "RunResult": "fleet.results",
}

__all__ = [
    "CommandFailed",
    "CommandTimeout",
    "ConfigError",
    "ConnectError",
    "FleetError",
    "HostKeyError",
    "HostOutcome",
    "HostStatus",
    "Outcome",
    "RollbackFailed",
    "RunResult",
    "StepFailed",
    "TransportError",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'fleet' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value
    return value
