"""fleet against a raw paramiko floor on N real sshd hosts (bench/sshdhosts.py).

Usage (take the shared lock: the machine has two cores)::

    flock /tmp/fleet-bench.lock python3 bench/scale.py --sizes 100 300 --rounds 2
    flock /tmp/fleet-bench.lock python3 bench/scale.py --sizes 1000 --rounds 1

For each N: start N sshd hosts; then per round, fleet and the floor in turn
(the order alternates each round), each doing a rollout (canary 1, batches of
100, forks 100) then a fleet-wide rollback. Before every rollout every home is
reseeded (one file the release replaces); after it every host must hold the
release, after the rollback every host must be back byte for byte, checked
from the homes themselves. Per program and phase: wall, controller CPU (the
process and every child it waited for), peak RSS. One JSON line per
measurement on stdout, a Markdown table at the end; the sshds are killed at the
end (``--keep`` leaves them up).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sshdhosts  # bench/ is not a package
from measure import Timed, timed

REPO = Path(__file__).resolve().parent.parent


def _expected_release() -> str:
    h = hashlib.sha256()
    for name in sorted(sshdhosts.FILES):
        path = sshdhosts.SOURCE / name
        h.update(f"{name} {path.stat().st_mode:o}\n".encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def _expected_seed(work: Path) -> str:
    sshdhosts.seed(work, 0)
    return sshdhosts.digest_home(work, 0)


def _check_homes(work: Path, n: int, want: str) -> int:
    """How many of the n homes do not hold ``want``."""
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda k: sshdhosts.digest_home(work, k), range(n)))
    return sum(1 for g in got if g != want)


def hosts_cpu(work: Path) -> float:
    """CPU seconds the sshds' sessions used so far (children each listener reaped:
    the session processes and every command they ran)."""
    total = 0.0
    clock = os.sysconf("SC_CLK_TCK")
    for pidfile in (work / "run").glob("h*.pid"):
        try:
            fields = Path(f"/proc/{int(pidfile.read_text())}/stat").read_text() \
                .rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            continue
        total += (int(fields[13]) + int(fields[14])) / clock   # cutime, cstime
    return total


def _argv(program: str, phase: str, work: Path, extra: list[str]) -> list[str]:
    if program == "floor":
        return [sys.executable, str(REPO / "bench" / "scalefloor.py"), phase,
                "--work", str(work), "--forks", "100"]
    return [sys.executable, "-m", "fleet", phase, str(work / "playbook.yml"),
            "-i", str(work / "inventory.yml"), "--json", *(extra if phase == "rollout" else [])]


def _measure(program: str, phase: str, work: Path, n: int, want: str,
             extra: list[str]) -> dict[str, object]:
    env = {"PYTHONPATH": str(REPO), "FLEET_SSH_CONFIG": "none"}
    before = hosts_cpu(work)
    result: Timed = timed(_argv(program, phase, work, extra), env=env, cwd=work)
    on_hosts = hosts_cpu(work) - before
    wrong = _check_homes(work, n, want)
    row: dict[str, object] = {
        "n": n, "program": program, "phase": phase, "exit": result.returncode,
        "wall_s": round(result.wall_s, 2), "cpu_s": round(result.cpu_s, 2),
        "cpu_ms_per_host": round(1000 * result.cpu_s / n, 2),
        "rss_mb": round(result.max_rss_mb, 1), "hosts_cpu_s": round(on_hosts, 2),
        "hosts_wrong": wrong}
    if result.returncode != 0 or wrong:
        row["stderr_tail"] = result.stderr[-600:]
    if program == "fleet" and result.stdout.strip():
        outcome = json.loads(result.stdout)
        statuses: dict[str, int] = {}
        for host in outcome["hosts"]:
            statuses[host["status"]] = statuses.get(host["status"], 0) + 1
        row["outcome"], row["statuses"] = outcome["outcome"], statuses
    print(json.dumps(row), flush=True)
    return row


def run_size(n: int, rounds: int, work: Path, extra: list[str]) -> list[dict[str, object]]:
    """Every round of both programs at one N; the sshds stay up between rounds."""
    sshdhosts.up(n, work)
    release, seeded = _expected_release(), _expected_seed(work)
    rows = []
    for r in range(rounds):
        order = ("fleet", "floor") if r % 2 == 0 else ("floor", "fleet")
        for program in order:
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda k: sshdhosts.seed(work, k), range(n)))
            rows.append(_measure(program, "rollout", work, n, release, extra))
            rows.append(_measure(program, "rollback", work, n, seeded, extra))
    return rows


def table(rows: list[dict[str, object]]) -> str:
    """Median per (n, program, phase) as a Markdown table, fleet/floor ratios."""
    cells: dict[tuple[object, object, object], list[dict[str, object]]] = {}
    for row in rows:
        cells.setdefault((row["n"], row["phase"], row["program"]), []).append(row)

    def med(key: tuple[object, object, object], field: str) -> float:
        values = sorted(float(str(r[field])) for r in cells[key])
        return values[len(values) // 2]

    lines = ["| N | phase | fleet wall s | floor wall s | ratio | fleet CPU s (ms/host) "
             "| floor CPU s | fleet RSS MB | floor RSS MB | hosts' CPU s fleet / floor "
             "| runs | all exit 0, hosts right |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for n, phase in sorted({(k[0], k[1]) for k in cells}, key=lambda t: (str(t[0]), str(t[1]))):
        f, p = (n, phase, "fleet"), (n, phase, "floor")
        if f not in cells or p not in cells:
            continue
        ok = all(r["exit"] == 0 and r["hosts_wrong"] == 0 for r in cells[f] + cells[p])
        lines.append(
            f"| {n} | {phase} | {med(f, 'wall_s'):.1f} | {med(p, 'wall_s'):.1f} | "
            f"{med(f, 'wall_s') / med(p, 'wall_s'):.2f}× | {med(f, 'cpu_s'):.1f} "
            f"({med(f, 'cpu_ms_per_host'):.1f}) | {med(p, 'cpu_s'):.1f} | "
            f"{med(f, 'rss_mb'):.0f} | {med(p, 'rss_mb'):.0f} | "
            f"{med(f, 'hosts_cpu_s'):.1f} / {med(p, 'hosts_cpu_s'):.1f} | {len(cells[f])} | "
            f"{'yes' if ok else 'NO'} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--work", type=Path, default=sshdhosts.DEFAULT_WORK)
    parser.add_argument("--keep", action="store_true", help="leave the sshds running")
    parser.add_argument("--fleet-arg", action="append", default=[],
                        help="extra argument for fleet's rollout (repeatable), e.g. "
                             "--scheduler=tcp://127.0.0.1:8786")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    rows: list[dict[str, object]] = []
    try:
        for n in args.sizes:
            rows += run_size(n, args.rounds, args.work, args.fleet_arg)
    finally:
        if not args.keep:
            sshdhosts.down(args.work)
    print(table(rows))


if __name__ == "__main__":
    main()
