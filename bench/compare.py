"""fleet against ansible-core and a paramiko floor, on the same hosts, in one run.

Usage (not part of CI; needs the bench extra: pip install -e '.[bench]'):

    python3 bench/compare.py [--hosts 20 50] [--runs 5] [--write docs/benchmarks.md]

For each fleet size it brings up that many SSH hosts (bench/benchfleet.py),
then, ``--runs`` times, for each of the three programs in turn: resets every
host to the seeded state (not timed), and times (a) a full rollout, (b) a rerun
with nothing to change, (c) a fleet-wide rollback, each as the whole program
(process start-up included):

- fleet:   ``fleet rollout|rollback bench/agents-bench.yml``
- Ansible: ``ansible-playbook bench/ansible/rollout.yml|rollback.yml``
- floor:   ``bench/floor.py rollout|rerun|rollback``

All three: canary 1 then batches of 10, forks 10, host keys checked against
.bench/known_hosts, the same key. In the first run it also counts, per host:
SSH round trips (the sessions each host's sshd started: one per command, file
transfer or SFTP session; the floor also reports its SFTP requests) and bytes
sent to the hosts (their eth0 receive counters); every run measures the
controller's CPU seconds (the program and every process it started, Ansible's
SSH control masters included). Then, at the largest size, fleet's peak memory
with every host in flight at once (one batch, forks = hosts).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = REPO / ".bench"
sys.path.insert(0, str(BENCH))

import benchfleet  # noqa: E402
from measure import Timed, timed  # noqa: E402

PLAYBOOK = BENCH / "agents-bench.yml"
HOME = "/home/tester"
TARGET = f"{HOME}/.claude/agents"
BACKUP_DIR = f"{HOME}/.local/state/bench-backup"
CONTROL_DIR = Path("/tmp/fleet-bench-cp")   # short: ssh limits ControlPath length
OPERATIONS = ("rollout", "rerun", "rollback")
PROGRAMS = ("fleet", "ansible", "floor")
programs: tuple[str, ...] = PROGRAMS  # the ones this invocation runs (--programs)

# The tests' seeded state (tests/integration/testfleet_helpers.py): two unrelated
# files and the old version of one file the release replaces; no state of any tool.
# The three folders are tmpfs mounts (bench/benchfleet.py): emptied, not removed.
RESET = """
set -eu
for pid in $(pgrep -u tester || true); do
    [ "$(cat /proc/$pid/comm 2>/dev/null)" = sshd ] || kill -9 "$pid" 2>/dev/null || true
done
for d in /home/tester/.claude /home/tester/.local /home/tester/.ansible; do
    find "$d" -mindepth 1 -delete   # each is a tmpfs mount point (benchfleet.py)
done
umask 022
T=/home/tester/.claude/agents
mkdir -p "$T/custom"
printf 'my own notes, not fleet'"'"'s\\n' > "$T/my-notes.md"
printf '# agent x\\nhand-made, private\\n' > "$T/custom/agent-x.md"
chmod 0600 "$T/custom/agent-x.md"
printf 'old workflow\\n' > "$T/COMMON_WORKFLOW.md"
chown -R tester:tester /home/tester/.claude
"""


def docker_sh(name: str, script: str) -> str:
    return subprocess.run(["docker", "exec", f"fleet-{name}", "sh", "-c", script],
                          check=True, capture_output=True, text=True).stdout


def on_all(names: list[str], script: str) -> list[str]:
    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(lambda n: docker_sh(n, script), names))


def sessions(names: list[str]) -> int:
    """SSH sessions the hosts' sshd started so far (one per command, file transfer
    or SFTP session; sshd logs each at LogLevel VERBOSE)."""
    def one(name: str) -> int:
        logs = subprocess.run(["docker", "logs", f"fleet-{name}"], capture_output=True,
                              check=True).stderr
        return logs.count(b"Starting session: ")
    with ThreadPoolExecutor(max_workers=16) as pool:
        return sum(pool.map(one, names))


def container_ids(names: list[str]) -> list[str]:
    return subprocess.run(["docker", "inspect", "-f", "{{.Id}}",
                           *[f"fleet-{n}" for n in names]],
                          capture_output=True, text=True, check=True).stdout.split()


def hosts_cpu(ids: list[str]) -> tuple[float, dict[int, float]]:
    """CPU seconds the host containers used so far (cgroup v1 cpuacct, or v2
    cpu.stat), and each fuse-overlayfs daemon's (they serve the containers'
    filesystems on this machine, outside the containers' cgroups)."""
    total = 0.0
    for cid in ids:
        v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage")
        v2 = Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat")
        if v1.exists():
            total += int(v1.read_text()) / 1e9
        elif v2.exists():
            total += int(v2.read_text().split()[1]) / 1e6
    clock = os.sysconf("SC_CLK_TCK")
    daemons: dict[int, float] = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "comm").read_text().strip() == "fuse-overlayfs":
                    fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                    daemons[int(proc.name)] = (int(fields[11]) + int(fields[12])) / clock
            except OSError:
                continue
    return total, daemons


def hosts_cpu_since(ids: list[str], before: tuple[float, dict[int, float]]) -> float:
    """CPU seconds the hosts used since ``before`` (a daemon gone since is left out)."""
    total, daemons = hosts_cpu(ids)
    return (total - before[0]) + sum(cpu - before[1].get(pid, 0.0)
                                     for pid, cpu in daemons.items())


def rx_bytes(names: list[str]) -> int:
    return sum(int(x) for x in on_all(names, "cat /sys/class/net/eth0/statistics/rx_bytes"))


def write_release() -> dict[str, object]:
    """.bench/release.json: what the Ansible playbook and the floor deploy and expect."""
    book = yaml.safe_load(PLAYBOOK.read_text())
    source = (PLAYBOOK.parent / book["source"]).resolve()
    files = []
    readback = []
    for name in book["files"]:
        data = (source / name).read_bytes()
        files.append({"name": name, "mode": (source / name).stat().st_mode & 0o7777})
        readback += [f"size {len(data)} {name}", f"{hashlib.sha256(data).hexdigest()}  {name}"]
    contains = next(c for c in book["checks"] if c["type"] == "contains")
    release: dict[str, object] = {
        "target": TARGET, "backup_dir": BACKUP_DIR, "source_dir": str(source),
        "release_files": files, "marker_file": contains["file"], "marker": contains["pattern"],
        "expected_readback": readback}
    (WORK / "release.json").write_text(json.dumps(release, indent=1))
    return release


# --------------------------------------------------------------------------- programs


def fleet_argv(operation: str) -> list[str]:
    command = "rollback" if operation == "rollback" else "rollout"
    return [sys.executable, "-m", "fleet", command, str(PLAYBOOK),
            "-i", str(WORK / "inventory.yml"), "--json"]


def ansible_env() -> dict[str, str]:
    return {
        "ANSIBLE_CONFIG": str(BENCH / "ansible" / "ansible.cfg"),
        "ANSIBLE_FORKS": "10",
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(CONTROL_DIR),
        "ANSIBLE_SSH_ARGS": ("-C -o ControlMaster=auto -o ControlPersist=60s "
                             f"-o UserKnownHostsFile={WORK / 'known_hosts'} "
                             "-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"),
        "ANSIBLE_LOCAL_TEMP": "/tmp/fleet-bench-ansible-tmp",
    }


def ansible_argv(operation: str, verbose: bool = False) -> list[str]:
    book = "rollback.yml" if operation == "rollback" else "rollout.yml"
    argv = [shutil.which("ansible-playbook") or "ansible-playbook",
            str(BENCH / "ansible" / book), "-i", str(WORK / "ansible-hosts.yml"),
            "-e", f"@{WORK / 'release.json'}"]
    return [*argv, "-vvv"] if verbose else argv


def floor_argv(operation: str) -> list[str]:
    return [sys.executable, str(BENCH / "floor.py"), operation, "--forks", "10"]


def control_masters_cpu_and_stop() -> float:
    """CPU seconds of Ansible's SSH control masters (not its children: they
    detach), read from /proc before they are stopped."""
    clock = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if str(CONTROL_DIR).encode() not in cmdline:
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / clock
            os.kill(int(proc.name), signal.SIGTERM)
        except (OSError, ProcessLookupError, IndexError):
            continue
    time.sleep(0.2)
    shutil.rmtree(CONTROL_DIR, ignore_errors=True)
    return total


@dataclass
class Sample:
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    hosts_cpu_s: float


@dataclass
class Cell:
    """One program × operation at one fleet size."""

    samples: list[Sample] = field(default_factory=list)
    round_trips: float = 0.0
    round_trips_note: str = ""
    bytes_per_host: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)

    def wall_median(self) -> float:
        return statistics.median(s.wall_s for s in self.samples)

    def wall_min(self) -> float:
        return min(s.wall_s for s in self.samples)

    def cpu_median(self) -> float:
        return statistics.median(s.cpu_s for s in self.samples)

    def hosts_cpu_median(self) -> float:
        return statistics.median(s.hosts_cpu_s for s in self.samples)


def run_program(program: str, operation: str) -> tuple[Timed, float]:
    """Run one program's operation; return its measure and extra CPU (control masters)."""
    if program == "fleet":
        done = timed(fleet_argv(operation))
    elif program == "ansible":
        done = timed(ansible_argv(operation), env=ansible_env())
    else:
        done = timed(floor_argv(operation))
    extra = control_masters_cpu_and_stop() if program == "ansible" else 0.0
    if done.returncode != 0:
        sys.exit(f"{program} {operation} exited {done.returncode}:\n"
                 f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done, extra


def fleet_steps(done: Timed) -> dict[str, float]:
    """Each step's median seconds per host, from the run log of one fleet run."""
    result = json.loads(done.stdout)
    log = REPO / ".fleet" / "runs" / f"{result['run_id']}.jsonl"
    started: dict[tuple[str, str], float] = {}
    took: dict[str, list[float]] = {}
    for line in log.read_text().splitlines():
        event = json.loads(line)
        if event["event"] == "StepStarted":
            started[(event["host"], event["step"])] = event["ts"]
        elif event["event"] == "StepFinished":
            begun = started.get((event["host"], event["step"]))
            if begun is not None:
                took.setdefault(event["step"], []).append(event["ts"] - begun)
    return {step: statistics.median(values) for step, values in took.items()}


def measure_size(count: int, runs: int, ansible_runs: int) -> dict[str, dict[str, Cell]]:
    benchfleet.up(count)
    names = [benchfleet.host_name(i) for i in range(1, count + 1)]
    ids = container_ids(names)
    write_release()
    cells = {p: {o: Cell() for o in OPERATIONS} for p in programs}
    for run in range(runs):
        for program in programs:
            if program == "ansible" and run >= ansible_runs:
                continue
            on_all(names, RESET)
            for operation in OPERATIONS:
                before = (rx_bytes(names), sessions(names)) if run == 0 else (0, 0)
                host_before = hosts_cpu(ids)
                done, extra = run_program(program, operation)
                host_cpu = hosts_cpu_since(ids, host_before)
                cell = cells[program][operation]
                cell.samples.append(Sample(done.wall_s, done.cpu_s + extra, done.max_rss_mb,
                                           host_cpu))
                if run == 0:
                    cell.bytes_per_host = (rx_bytes(names) - before[0]) / count
                    cell.round_trips = (sessions(names) - before[1]) / count
                    if program == "fleet":
                        cell.steps = fleet_steps(done)
                    elif program == "floor":
                        counts = json.loads(done.stdout.strip().splitlines()[-1])
                        if counts["sftp_requests_per_host"]:
                            cell.round_trips_note = (
                                f"{counts['commands_per_host']:g} commands + 1 SFTP session "
                                f"of {counts['sftp_requests_per_host']:g} requests")
            print(f"{count} hosts, run {run + 1}/{runs}, {program}: " + ", ".join(
                f"{o} {cells[program][o].samples[-1].wall_s:.2f} s" for o in OPERATIONS),
                flush=True)
    on_all(names, RESET)
    return cells


def memory_all_in_flight(count: int) -> float:
    """fleet's peak RSS (MB) rolling out to every host at once."""
    book = yaml.safe_load(PLAYBOOK.read_text())
    book["source"] = str((PLAYBOOK.parent / book["source"]).resolve())
    book["strategy"].update({"canary": 0, "batch_size": count, "forks": count})
    wide = WORK / "agents-wide.yml"
    wide.write_text(yaml.safe_dump(book, sort_keys=False))
    names = [benchfleet.host_name(i) for i in range(1, count + 1)]
    on_all(names, RESET)
    done = timed([sys.executable, "-m", "fleet", "rollout", str(wide),
                  "-i", str(WORK / "inventory.yml"), "--json"])
    if done.returncode != 0:
        sys.exit(f"fleet rollout, all in flight, exited {done.returncode}:\n{done.stderr}")
    return done.max_rss_mb


# --------------------------------------------------------------------------- report


LABELS = {"rollout": "full rollout", "rerun": "rerun, nothing to change",
          "rollback": "fleet-wide rollback"}


def render(results: dict[int, dict[str, dict[str, Cell]]], runs: int,
           memory: tuple[int, float]) -> str:
    ansible_version = subprocess.run(["ansible-playbook", "--version"], capture_output=True,
                                     text=True, check=False).stdout.splitlines()[0] \
        if "ansible" in programs else "Ansible not run"
    import paramiko
    lines = [
        f"Measured {time.strftime('%Y-%m-%d', time.gmtime())}: up to {runs} runs of each, "
        f"{os.cpu_count()} cores shared by the controller and every host container; "
        f"Python {platform.python_version()}, {ansible_version.strip()}, "
        f"paramiko {paramiko.__version__}, OpenSSH client "
        f"{subprocess.run(['ssh', '-V'], capture_output=True, text=True).stderr.strip()}.",
        "Times are whole programs (start-up included), wall seconds. Controller CPU: user + "
        "system seconds of the program and every process it started. Hosts' CPU: what the "
        "host containers used (their cgroups, plus the fuse-overlayfs daemons serving "
        "their filesystems), per host.",
        "",
    ]
    for count, cells in results.items():
        runs_note = ", ".join(f"{p} {len(cells[p]['rollout'].samples)}" for p in programs)
        lines += [f"### {count} hosts ({runs_note} runs)", "",
                  "| operation | program | median (s) | min (s) | controller CPU median (s) "
                  "| hosts' CPU per host, median (ms) | SSH round trips per host "
                  "| KB sent per host |",
                  "|---|---|---|---|---|---|---|---|"]
        for operation in OPERATIONS:
            for program in programs:
                cell = cells[program][operation]
                trips = f"{cell.round_trips:g}" + (
                    f" ({cell.round_trips_note})" if cell.round_trips_note else "")
                lines.append(
                    f"| {LABELS[operation]} | {program} | {cell.wall_median():.2f} "
                    f"| {cell.wall_min():.2f} | {cell.cpu_median():.2f} "
                    f"| {cell.hosts_cpu_median() / count * 1000:.0f} | {trips} "
                    f"| {cell.bytes_per_host / 1024:.0f} |")
        lines += ["", "| operation | fleet / Ansible (median) | fleet / floor (median) "
                  "| fleet / floor (min) |", "|---|---|---|---|"]
        for operation in OPERATIONS:
            fleet, floor = cells["fleet"][operation], cells["floor"][operation]
            ansible = cells["ansible"][operation] if "ansible" in cells else None
            versus = "not run" if ansible is None else (
                f"{fleet.wall_median() / ansible.wall_median():.2f} "
                f"({ansible.wall_median() / fleet.wall_median():.1f}× faster)")
            lines.append(
                f"| {LABELS[operation]} | {versus} "
                f"| {fleet.wall_median() / floor.wall_median():.2f} "
                f"| {fleet.wall_min() / floor.wall_min():.2f} |")
        lines.append("")
        lines.append(f"fleet's steps at {count} hosts, median per host (s): " + "; ".join(
            f"{operation}: " + ", ".join(f"{step} {secs:.3f}" for step, secs in
                                         cells["fleet"][operation].steps.items())
            for operation in OPERATIONS))
        lines.append("")
    lines.append(f"fleet's peak controller memory with all {memory[0]} hosts in flight at once "
                 f"(one batch, forks {memory[0]}): {memory[1]:.0f} MB RSS.")
    lines += ["", *start_up_table()]
    return "\n".join(lines) + "\n"


def start_up_table(runs: int = 21) -> list[str]:
    """Start-up: ``fleet --version``/``--help`` against a bare interpreter, medians of
    ``runs`` interleaved runs (wall seconds, whole processes)."""
    argvs = {
        "python3 -c pass": [sys.executable, "-c", "pass"],
        "python3 -c 'import paramiko'": [sys.executable, "-c", "import paramiko"],
        "fleet --version": [sys.executable, "-m", "fleet", "--version"],
        "fleet --help": [sys.executable, "-m", "fleet", "--help"],
    }
    walls: dict[str, list[float]] = {name: [] for name in argvs}
    for _ in range(runs):
        for name, argv in argvs.items():
            walls[name].append(timed(argv).wall_s)
    bare = statistics.median(walls["python3 -c pass"])
    rows = ["| command | median (s) | above `python3 -c pass` (s) |", "|---|---|---|"]
    rows += [f"| `{name}` | {statistics.median(w):.3f} | {statistics.median(w) - bare:+.3f} |"
             for name, w in walls.items()]
    return [f"Start-up, medians of {runs} interleaved runs:", "", *rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ansible-runs", type=int, nargs="+", default=None,
                        help="runs of Ansible per fleet size (default: --runs); one Ansible "
                        "run at 50 hosts takes about 15 minutes here")
    parser.add_argument("--programs", nargs="+", choices=PROGRAMS, default=list(PROGRAMS),
                        help="which programs to run (fleet and floor are always needed)")
    parser.add_argument("--write", type=Path, default=None,
                        help="replace the section between the compare markers in FILE")
    args = parser.parse_args()
    global programs
    programs = tuple(p for p in PROGRAMS if p in {*args.programs, "fleet", "floor"})
    # Byte-code compiled once, as an installed package has it (this machine sets
    # PYTHONDONTWRITEBYTECODE, which would make every run compile fleet again).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "fleet"),
                    str(BENCH)], check=True, stdout=subprocess.DEVNULL)
    ansible_runs = args.ansible_runs or [args.runs] * len(args.hosts)
    results = {count: measure_size(count, args.runs, n)
               for count, n in zip(args.hosts, ansible_runs, strict=True)}
    memory = (max(args.hosts), memory_all_in_flight(max(args.hosts)))
    text = render(results, args.runs, memory)
    print(text)
    if args.write:
        start, end = "<!-- bench/compare.py start -->", "<!-- bench/compare.py end -->"
        doc = args.write.read_text()
        if start not in doc:
            doc += f"\n{start}\n{end}\n"
        head, rest = doc.split(start, 1)
        _, tail = rest.split(end, 1)
        args.write.write_text(f"{head}{start}\n{text}{end}{tail}")


if __name__ == "__main__":
    main()
