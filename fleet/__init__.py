"""fleet: roll files out to many machines over SSH — canary, batches, validate, roll back."""

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
