"""The public names of the package are a contract: adding or dropping one is a decision."""

import fleet


def test_all_is_pinned_and_sorted() -> None:
    assert fleet.__all__ == [
        "CommandFailed", "CommandTimeout", "ConfigError", "ConnectError", "FleetError",
        "HostKeyError", "HostOutcome", "HostStatus", "Outcome", "RollbackFailed", "RunResult",
        "StepFailed", "TransportError",
    ]
    assert fleet.__all__ == sorted(fleet.__all__)
    assert all(hasattr(fleet, name) for name in fleet.__all__)


def test_exit_codes_follow_the_contract() -> None:
    codes = {o.value: o.exit_code for o in fleet.Outcome}
    assert codes == {"success": 0, "canary_only": 0, "checked": 0, "rolled_back": 1,
                     "halted": 1, "partial": 1, "rollback_incomplete": 3}
