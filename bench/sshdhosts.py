"""N real sshd hosts on this machine, no containers: one ``sshd`` per loopback address.

Host K (0-based) is ``h0001``… at ``127.0.(10+K//250).(1+K%250):22``; each sshd
has its own config, pid file and ``SetEnv HOME=<work>/homes/hNNNN``, so each
host has its own home (its own ``~/.claude`` and ``~/.local/state``). All share
one host key (``known_hosts`` still has one line per address, as a real fleet's
would) and log in as the user running the benchmark with one client key.

Needs OpenSSH's ``sshd`` on this machine (the ``openssh-server`` package; its
own service need not run).

Usage (bench/scale.py drives it)::

    python3 bench/sshdhosts.py up 100 [--work DIR]   # idempotent for the same N
    python3 bench/sshdhosts.py down [--work DIR]      # kills the sshds it started

``up`` writes into the work folder: ``inventory.yml`` (fleet's), ``hosts.json``
(the floor's: name, address, home), ``known_hosts``, ``playbook.yml`` (the
example's nine files, canary 1, batches of 100, forks 100) and ``seed/``: what
each home's target holds before a rollout (one file the release replaces),
so a rollback has bytes to put back.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
DEFAULT_WORK = REPO / ".scale"
SOURCE = REPO / "playbooks" / "files" / "agents-framework"
FILES = ("AGENT_COMMON_HEADER.md", "MANDATORY_FUNCTIONS.md", "COMMON_WORKFLOW.md",
         "COMMON_CONTEXT_LIFECYCLE.md", "COMMON_ONEX_STANDARDS.md", "COMMON_AGENT_PATTERNS.md",
         "COMMON_RAG_INTELLIGENCE.md", "COMMON_TEMPLATES.md", "COMMON_CONTEXT_INHERITANCE.md")
TARGET = ".claude/agents"              # under each home
SEEDED = "COMMON_WORKFLOW.md"          # present before the rollout, replaced by it
SEED_TEXT = b"# the host's own copy, from before the rollout\n"
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def address(k: int, base: int = 10) -> str:
    """The loopback address of host ``k`` (0-based); another ``base`` for a second set."""
    return f"127.0.{base + k // 250}.{1 + k % 250}"


def name(k: int) -> str:
    return f"h{k + 1:04d}"


def _keys(work: Path) -> None:
    for key in ("host_ed25519", "client_ed25519"):
        if not (work / key).exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            str(work / key)], check=True)
    Path("/run/sshd").mkdir(exist_ok=True)   # sshd's privilege separation folder


def _sshd_config(work: Path, k: int, base: int) -> str:
    home = work / "homes" / name(k)
    return "\n".join([
        f"ListenAddress {address(k, base)}:22",
        f"HostKey {work / 'host_ed25519'}",
        f"PidFile {work / 'run' / (name(k) + '.pid')}",
        f"AuthorizedKeysFile {work / 'client_ed25519.pub'}",
        "PermitRootLogin prohibit-password", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "UsePAM no", "UseDNS no", "StrictModes no",
        "PrintMotd no", "PrintLastLog no", "LogLevel ERROR",
        "Subsystem sftp internal-sftp",
        f"SetEnv HOME={home}", ""])


def seed(work: Path, k: int) -> None:
    """Put host ``k``'s home in its before-rollout state (nothing of fleet's there)."""
    home = work / "homes" / name(k)
    if home.exists():
        shutil.rmtree(home)
    (home / TARGET).mkdir(parents=True)
    (home / TARGET / SEEDED).write_bytes(SEED_TEXT)


def digest_home(work: Path, k: int) -> str:
    """sha256 over the names, modes and bytes of host ``k``'s target folder."""
    target = work / "homes" / name(k) / TARGET
    h = hashlib.sha256()
    for path in sorted(target.rglob("*")) if target.exists() else ():
        if path.is_file():
            h.update(f"{path.relative_to(target)} {path.stat().st_mode:o}\n".encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def _running(work: Path, k: int) -> int | None:
    pidfile = work / "run" / f"{name(k)}.pid"
    try:
        pid = int(pidfile.read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _start(work: Path, k: int, base: int) -> None:
    config = work / "conf" / f"{name(k)}.conf"
    config.write_text(_sshd_config(work, k, base))
    if _running(work, k) is None:
        subprocess.run([SSHD, "-f", str(config)], check=True)


def _ready(addr: str, deadline: float) -> None:
    while True:
        try:
            with socket.create_connection((addr, 22), timeout=2) as sock:
                if sock.recv(8).startswith(b"SSH-"):
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def up(n: int, work: Path, base: int = 10) -> None:
    """Start (or keep) hosts 0..n-1, stop any beyond, reseed every home, write the files."""
    if not os.access(SSHD, os.X_OK):
        raise SystemExit(f"sshdhosts: no sshd at {SSHD}; install the openssh-server package "
                         "(apt-get install openssh-server; its own service need not run)")
    for folder in ("conf", "run", "homes"):
        (work / folder).mkdir(parents=True, exist_ok=True)
    _keys(work)
    down(work, keep=n)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: (seed(work, k), _start(work, k, base)), range(n)))
        deadline = time.monotonic() + 60
        list(pool.map(lambda k: _ready(address(k, base), deadline), range(n)))
    hostkey = (work / "host_ed25519.pub").read_text().split()[:2]
    (work / "known_hosts").write_text("".join(
        f"{address(k, base)} {hostkey[0]} {hostkey[1]}\n" for k in range(n)))
    user = getpass.getuser()
    hosts = {name(k): {"ansible_host": address(k, base)} for k in range(n)}
    inventory = {"all": {"vars": {
        "ansible_user": user, "ansible_ssh_private_key_file": str(work / "client_ed25519"),
        "known_hosts_file": str(work / "known_hosts")}, "hosts": hosts}}
    (work / "inventory.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    (work / "hosts.json").write_text(json.dumps(
        [{"name": name(k), "address": address(k, base), "home": str(work / "homes" / name(k))}
         for k in range(n)]))
    (work / "playbook.yml").write_text(yaml.safe_dump({
        "name": "agents-framework", "source": str(SOURCE), "target": f"~/{TARGET}",
        "files": list(FILES),
        "strategy": {"canary": 1, "batch_size": 100, "forks": 100, "max_failures": 0,
                     "on_failure": "rollback_all"},
        "backup": {"keep": 5},
        "checks": [{"type": "non_empty"},
                   {"type": "contains", "file": "MANDATORY_FUNCTIONS.md",
                    "pattern": "MANDATORY_FUNCTIONS"}]}, sort_keys=False))


def down(work: Path, keep: int = 0) -> None:
    """Kill the sshds this work folder started (by their pid files), beyond the first ``keep``."""
    run = work / "run"
    if not run.exists():
        return
    for pidfile in sorted(run.glob("h*.pid")):
        k = int(pidfile.stem[1:]) - 1
        if k < keep:
            continue
        pid = _running(work, k)
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
        pidfile.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("count", type=int, nargs="?", default=0)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--base", type=int, default=10,
                        help="third octet of the first address (another set: another base)")
    args = parser.parse_args()
    if args.action == "up":
        up(args.count, args.work, args.base)
    else:
        down(args.work)


if __name__ == "__main__":
    main()
