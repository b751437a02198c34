"""Host keys are verified against the inventory's known_hosts file: strict, always."""

from __future__ import annotations

from pathlib import Path

from rollout_support import EXAMPLE_PLAYBOOK, INV, connection_counts, connection_deltas, manifests
from testfleet_helpers import CLIENT_KEY, KNOWN_HOSTS, run_fleet_json

PLAYBOOK = str(EXAMPLE_PLAYBOOK)
# A real ed25519 public key that belongs to no test container.
OTHER_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def inventory_with(tmp_path: Path, known_hosts: str) -> tuple[str, str]:
    hosts_file = tmp_path / "known_hosts"
    hosts_file.write_text(known_hosts)
    inventory = tmp_path / "inv.yml"
    inventory.write_text(
        "all:\n  vars:\n    ansible_user: tester\n    ansible_host: 127.0.0.1\n"
        f"    ansible_ssh_private_key_file: {CLIENT_KEY}\n"
        f"    known_hosts_file: {hosts_file}\n"
        "  hosts:\n    dev-01: {ansible_port: 2201}\n    dev-02: {ansible_port: 2202}\n")
    return "-i", str(inventory)


def test_unknown_host_key_is_refused_and_nothing_changes(tmp_path: Path) -> None:
    before = manifests()
    logins = connection_counts()
    # dev-02's line is there, dev-01's is not: the canary dev-01 must be refused.
    dev02 = [line for line in Path(KNOWN_HOSTS).read_text().splitlines() if ":2202]" in line]
    done, data = run_fleet_json("rollout", PLAYBOOK, *inventory_with(tmp_path, "\n".join(dev02)))
    assert done.returncode == 1, done.stderr
    host = data["hosts"][0]
    assert host["name"] == "dev-01"
    assert host["status"] == "failed"
    assert "not in" in host["error"]
    assert "known_hosts" in host["error"]
    assert data["hosts"][1]["status"] == "skipped"
    assert manifests() == before
    assert connection_deltas(logins) == dict.fromkeys(logins, 0)


def test_changed_host_key_is_refused(tmp_path: Path) -> None:
    before = manifests()
    lines = [f"[127.0.0.1]:2201 ssh-ed25519 {OTHER_KEY}"]
    done, data = run_fleet_json("rollout", PLAYBOOK, *inventory_with(tmp_path, "\n".join(lines)))
    assert done.returncode == 1, done.stderr
    assert data["hosts"][0]["status"] == "failed"
    assert "CHANGED" in data["hosts"][0]["error"]
    assert manifests() == before


def test_the_test_fleets_own_known_hosts_is_accepted() -> None:
    done, data = run_fleet_json("rollout", PLAYBOOK, *INV, "--check")
    assert done.returncode == 0, done.stderr
    assert {h["status"] for h in data["hosts"]} == {"would_change"}
