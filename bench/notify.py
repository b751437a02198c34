"""What ``--notify`` and ``--check --diff`` cost, on the SSH test fleet (issue 15).

Usage (the fleet must be up: scripts/test-fleet.sh up; apprise installed):

    python3 bench/notify.py [--runs 4]

After one rollout of the example playbook (as the integration tests run it),
times reruns (nothing to change, one round trip a host) three ways in turn:
without notifications, telling a receiver on 127.0.0.1 that answers, and
telling one that accepts connections and never answers. Then, from the seeded
state, ``--check`` against ``--check --diff``. Each as the whole CLI process
(wall) and fleet's own ``duration_s`` (the run itself); medians. The hosts are
reset at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

from measure import timed  # noqa: E402
from rollout_support import EXAMPLE_PLAYBOOK  # noqa: E402
from testfleet_helpers import reset_all_hosts  # noqa: E402

from tests.notify_support import Hung, Receiver  # noqa: E402

PLAYBOOK = str(EXAMPLE_PLAYBOOK)  # the example, its 50 ms access-time gate given room
INVENTORY = "inventory/testfleet.yml"


def run(*args: str) -> tuple[float, float, int]:
    """Wall seconds, fleet's ``duration_s`` and the size of the --json output."""
    done = timed([sys.executable, "-m", "fleet", *args, "-i", INVENTORY, "--json"])
    if done.returncode != 0:
        raise SystemExit(f"fleet {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.wall_s, float(json.loads(done.stdout)["duration_s"]), len(done.stdout)


def report(label: str, runs: list[tuple[float, float, int]]) -> None:
    wall = statistics.median(r[0] for r in runs)
    own = statistics.median(r[1] for r in runs)
    print(f"| {label} | {wall:.2f} s | {own:.2f} s | {runs[0][2]:,} B |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=4)
    runs = parser.parse_args().runs
    reset_all_hosts()
    run("rollout", PLAYBOOK)
    kinds: dict[str, list[tuple[float, float, int]]] = {"none": [], "answers": [], "hung": []}
    with Receiver() as receiver, Hung() as hung:
        for _ in range(runs):
            kinds["none"].append(run("rollout", PLAYBOOK))
            kinds["answers"].append(run("rollout", PLAYBOOK, "--notify", receiver.url()))
            kinds["hung"].append(run("rollout", PLAYBOOK, "--notify", hung.url()))
    reset_all_hosts()
    checks: dict[str, list[tuple[float, float, int]]] = {"check": [], "diff": []}
    for _ in range(runs):
        checks["check"].append(run("rollout", PLAYBOOK, "--check"))
        checks["diff"].append(run("rollout", PLAYBOOK, "--check", "--diff"))
    reset_all_hosts()
    print("| command (6 hosts) | wall (median) | fleet's duration_s | --json |")
    print("|---|---|---|---|")
    report("rerun, no notification", kinds["none"])
    report("rerun, --notify a receiver that answers", kinds["answers"])
    report("rerun, --notify a receiver that hangs", kinds["hung"])
    report("rollout --check", checks["check"])
    report("rollout --check --diff", checks["diff"])


if __name__ == "__main__":
    main()
