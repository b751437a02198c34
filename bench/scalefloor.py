"""The floor for bench/scale.py: the least any tool can do, with raw paramiko.

Usage (bench/scale.py runs it)::

    python3 bench/scalefloor.py rollout|rollback --work DIR [--forks 100]

Per host (``DIR/hosts.json`` from bench/sshdhosts.py), one SSH connection,
host key checked against ``DIR/known_hosts`` (parsed once per run), and:

- rollout: one command for the backup (bench/remote/backup.sh), one SFTP
  session writing the nine files into the target, one command for the
  read-back (bench/remote/readback.sh), compared here;
- rollback: one command (bench/remote/restore.sh).

Rollout: the first host alone, then batches of ``forks`` (100), the next batch
only after the batch before it is done, as fleet's canary and batches go.
Rollback: every host, ``forks`` at once. The connection is closed when its host
is done. Any error stops the run (exit 1). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko
from batches import in_batches

BENCH = Path(__file__).resolve().parent
SOURCE = BENCH.parent / "playbooks" / "files" / "agents-framework"
FILES = ("AGENT_COMMON_HEADER.md", "MANDATORY_FUNCTIONS.md", "COMMON_WORKFLOW.md",
         "COMMON_CONTEXT_LIFECYCLE.md", "COMMON_ONEX_STANDARDS.md", "COMMON_AGENT_PATTERNS.md",
         "COMMON_RAG_INTELLIGENCE.md", "COMMON_TEMPLATES.md", "COMMON_CONTEXT_INHERITANCE.md")
SCRIPTS = {name: (BENCH / "remote" / f"{name}.sh").read_text()
           for name in ("backup", "readback", "restore")}
DATA = {name: (SOURCE / name).read_bytes() for name in FILES}
EXPECTED = {line for name, data in DATA.items() for line in (
    f"size {len(data)} {name}", f"{hashlib.sha256(data).hexdigest()}  {name}")}


def remote(script: str, **env: str) -> str:
    """``NAME=value ... sh -c SCRIPT`` with every value quoted."""
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    return f"{assigns} sh -c {shlex.quote(SCRIPTS[script])}"


def run(client: paramiko.SSHClient, command: str) -> str:
    _, stdout, stderr = client.exec_command(command)
    out = stdout.read().decode()
    if stdout.channel.recv_exit_status() != 0:
        raise RuntimeError(f"{command[:60]!r} failed: {stderr.read().decode().strip()}")
    return out


def rollout(client: paramiko.SSHClient, host: dict[str, str]) -> None:
    target, backup = f"{host['home']}/.claude/agents", f"{host['home']}/.local/state/floor"
    run(client, remote("backup", T=target, B=backup, FILES="\n".join(FILES)))
    with client.open_sftp() as sftp:
        for name, data in DATA.items():
            with sftp.open(f"{target}/{name}", "wb") as remote_file:
                remote_file.set_pipelined(True)
                remote_file.write(data)
    lines = run(client, remote("readback", T=target, FILES="\n".join(FILES),
                               M="MANDATORY_FUNCTIONS", MF="MANDATORY_FUNCTIONS.md")).splitlines()
    if not set(lines) >= EXPECTED or lines[-1] == "marker 0":
        raise RuntimeError(f"{host['name']}: read-back does not match the release")


def rollback(client: paramiko.SSHClient, host: dict[str, str]) -> None:
    run(client, remote("restore", T=f"{host['home']}/.claude/agents",
                       B=f"{host['home']}/.local/state/floor"))


OPERATIONS: dict[str, Callable[[paramiko.SSHClient, dict[str, str]], None]] = {
    "rollout": rollout, "rollback": rollback}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("operation", choices=sorted(OPERATIONS))
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--forks", type=int, default=100)
    args = parser.parse_args()
    hosts: list[dict[str, Any]] = json.loads((args.work / "hosts.json").read_text())
    known = paramiko.HostKeys(str(args.work / "known_hosts"))   # parsed once per run
    key = paramiko.Ed25519Key.from_private_key_file(str(args.work / "client_ed25519"))
    operation = OPERATIONS[args.operation]

    def one(host: dict[str, str]) -> None:
        client = paramiko.SSHClient()
        client._host_keys = known   # type: ignore[attr-defined]  # shared, read-only
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(host["address"], port=22, username=getpass.getuser(), pkey=key,
                       allow_agent=False, look_for_keys=False, timeout=30, banner_timeout=30)
        try:
            operation(client, host)
        finally:
            client.close()

    in_batches(args.operation, hosts, one, args.forks)
    print(json.dumps({"hosts": len(hosts), "operation": args.operation}))


if __name__ == "__main__":
    main()
