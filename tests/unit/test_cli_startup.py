"""``fleet --version``, ``--help`` and a command's ``--help`` load only click: no
SSH, no pydantic, no rich, no YAML, no apprise, none of fleet's own work (issue 14)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("paramiko", "fabric", "invoke", "pydantic", "rich", "yaml", "cryptography", "apprise")

PROBE = """
import json, sys
from fleet.cli.main import main
try:
    main(sys.argv[1:], prog_name="fleet")
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


def loaded_by(*args: str) -> tuple[str, set[str]]:
    """What ``fleet ARGS`` printed, and every module it loaded."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True,
                          text=True, check=True)
    printed, _, modules = done.stdout.rpartition("\n[")
    return printed, set(json.loads("[" + modules))


@pytest.mark.parametrize("args", [("--version",), ("--help",), ("rollout", "--help"),
                                  ("status", "--help")])
def test_version_and_help_load_no_ssh_no_pydantic_no_rich(args: tuple[str, ...]) -> None:
    printed, modules = loaded_by(*args)
    assert printed.strip()  # it did answer
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == []
    assert sorted(m for m in modules if m.startswith("fleet.")) == ["fleet.cli", "fleet.cli.main"]


def test_a_command_loads_its_work_when_it_runs(tmp_path: object) -> None:
    _, modules = loaded_by("history", "-n", "1")
    assert "fleet.cli.commands" in modules
    assert "apprise" not in modules  # only a command with receivers loads it (issue 15)
