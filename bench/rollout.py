"""Time a full rollout, a rerun and a fleet-wide rollback on the SSH test fleet.

Usage (the fleet must be up: scripts/test-fleet.sh up):

    python3 bench/rollout.py [--runs 5] [--write docs/benchmarks.md]

Each run starts from the seeded host state (reset, not timed), then times
``fleet rollout`` (canary 1, batches of 2, the example playbook), a rerun with
nothing to change, and ``fleet rollback``, each as the whole CLI process (wall
time, Python start-up included) and as fleet's own ``duration_s``. SSH round
trips per host are counted from the run log (one remote command per step;
connecting is not counted) and SSH logins from the hosts' sshd logs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "bench"))

from measure import timed  # noqa: E402
from testfleet_helpers import HOSTS, reset_all_hosts, ssh_connection_count  # noqa: E402

PLAYBOOK = "playbooks/agents-framework.yml"
INVENTORY = "inventory/testfleet.yml"
REMOTE_STEPS = {"prepare", "stage", "activate", "commit", "rollback", "probe"}


def run(*args: str) -> tuple[dict[str, object], float, float]:
    """Run the fleet CLI; return its JSON, wall seconds and controller CPU seconds."""
    done = timed([sys.executable, "-m", "fleet", *args, "-i", INVENTORY, "--json"])
    if done.returncode != 0:
        raise SystemExit(f"fleet {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return json.loads(done.stdout), done.wall_s, done.cpu_s


def round_trips(run_id: str) -> Counter[str]:
    """Remote commands per host, from the run log (a commit the host made in the
    activate round trip has a step of its own but no command)."""
    counts: Counter[str] = Counter()
    for line in (REPO / ".fleet" / "runs" / f"{run_id}.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["event"] == "StepStarted" and event["step"] in REMOTE_STEPS:
            counts[event["host"]] += 1
        elif event["event"] == "StepFinished" and "no round trip" in (event["detail"] or ""):
            counts[event["host"]] -= 1
    return counts


def logins() -> int:
    return sum(ssh_connection_count(h) for h in HOSTS)


def measure(runs: int) -> dict[str, dict[str, float]]:
    samples: dict[str, list[tuple[float, float, float]]] = {
        "rollout": [], "rerun": [], "rollback": []}
    trips: dict[str, Counter[str]] = {}
    login_counts: dict[str, int] = {}
    for _ in range(runs):
        reset_all_hosts()
        for name, args in (("rollout", ("rollout", PLAYBOOK)), ("rerun", ("rollout", PLAYBOOK)),
                           ("rollback", ("rollback", PLAYBOOK))):
            before = logins()
            result, wall, cpu = run(*args)
            fleet_s = float(result.get("rollback_duration_s") or result["duration_s"])  # type: ignore[arg-type]
            samples[name].append((wall, fleet_s, cpu))
            trips[name] = round_trips(str(result["run_id"]))
            login_counts[name] = logins() - before
    table: dict[str, dict[str, float]] = {}
    for name, rows in samples.items():
        walls, fleets, cpus = zip(*rows, strict=True)
        per_host = statistics.median(trips[name].values()) if trips[name] else 0
        table[name] = {
            "wall_median": statistics.median(walls), "wall_min": min(walls),
            "fleet_median": statistics.median(fleets), "fleet_min": min(fleets),
            "cpu_median": statistics.median(cpus), "round_trips_per_host": per_host,
            "logins_per_host": login_counts[name] / len(HOSTS),
        }
    return table


def render(table: dict[str, dict[str, float]], runs: int) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} on the 6-host SSH test fleet "
        f"(containers on this machine: {os.cpu_count()} cores shared by controller and hosts), "
        f"{runs} runs each, Python {platform.python_version()}.",
        "",
        "| operation | wall median (s) | wall min (s) | fleet's own time, median (s) "
        "| controller CPU median (s) | SSH round trips per host | SSH logins per host |",
        "|---|---|---|---|---|---|---|",
    ]
    labels = {"rollout": "full rollout (canary 1, batches of 2)",
              "rerun": "rerun, nothing to change", "rollback": "fleet-wide rollback"}
    for name, row in table.items():
        lines.append(
            f"| {labels[name]} | {row['wall_median']:.2f} | {row['wall_min']:.2f} "
            f"| {row['fleet_median']:.2f} | {row['cpu_median']:.2f} "
            f"| {row['round_trips_per_host']:g} | {row['logins_per_host']:g} |")
    per_host = table["rollout"]["fleet_median"] / len(HOSTS)
    lines += ["", f"Per-host cost of a rollout: {per_host:.2f} s of run time per host "
              "(hosts of one batch run in parallel; the canary and each batch wait for "
              "the one before)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", type=Path, default=None,
                        help="replace the section between the rollout bench markers in FILE")
    args = parser.parse_args()
    text = render(measure(args.runs), args.runs)
    print(text)
    if args.write:
        start, end = "<!-- bench/rollout.py start -->", "<!-- bench/rollout.py end -->"
        doc = args.write.read_text() if args.write.exists() else f"{start}\n{end}\n"
        head, rest = doc.split(start, 1)
        _, tail = rest.split(end, 1)
        args.write.write_text(f"{head}{start}\n{text}{end}{tail}")


if __name__ == "__main__":
    main()
