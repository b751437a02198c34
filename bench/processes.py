"""Processes a host starts per operation, counted with ``strace -f`` on
``connection: local`` (so every process is the host's, plus the controller's
own ``python3``, which is not counted).

Usage (not part of CI; needs strace):

    python3 bench/processes.py            # the example playbook, one local host

Prints, for a rollout, a rerun with nothing to change, a rollback and a
status, the programs exec'd on the host (``/bin/sh`` for each round trip
included) and how many of each.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
PLAYBOOK = REPO / "playbooks" / "agents-framework.yml"
EXEC = re.compile(r'^\d+\s+execve\("([^"]+)"')


def count(home: Path, *args: str) -> collections.Counter[str]:
    """The programs exec'd while ``fleet ARGS`` runs (the controller excluded)."""
    trace = home / "trace.txt"
    inventory = home / "inventory.yml"
    subprocess.run(["strace", "-f", "-qq", "-e", "trace=execve", "-o", str(trace),
                    sys.executable, "-m", "fleet", *args, str(home / "playbook.yml"),
                    "-i", str(inventory)],
                   cwd=home, env={**os.environ, "HOME": str(home)}, capture_output=True,
                   check=False)
    programs: collections.Counter[str] = collections.Counter()
    for line in trace.read_text().splitlines():
        found = EXEC.match(line)
        if found and "resumed" not in line and not found.group(1).endswith(
                ("python3", "python3.11")) and "= -1" not in line:
            programs[Path(found.group(1)).name] += 1
    return programs


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="fleet-procs-") as tmp:
        home = Path(tmp)
        # the example, with room in its access-time gate: strace slows every
        # process it follows tenfold, and a retried measurement would count twice
        data = yaml.safe_load(PLAYBOOK.read_text())
        data["source"] = str(PLAYBOOK.parent / data["source"])
        data["checks"] = [{**c, "max_ms": 60000} if c["type"] == "access_time" else c
                          for c in data["checks"]]
        (home / "playbook.yml").write_text(yaml.safe_dump(data, sort_keys=False))
        (home / "inventory.yml").write_text(
            "all:\n  hosts:\n    laptop: {ansible_connection: local}\n")
        for op, args in (("rollout", ("rollout",)), ("rerun", ("rollout",)),
                         ("status", ("status",)), ("rollback", ("rollback",))):
            programs = count(home, *args)
            detail = ", ".join(f"{name} {n}" for name, n in programs.most_common())
            print(f"{op}: {sum(programs.values())} processes ({detail})")


if __name__ == "__main__":
    main()
