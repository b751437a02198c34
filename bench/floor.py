"""The floor: the least any tool can do for the benchmark's rollout, with paramiko.

Usage (bench/compare.py runs it; .bench/ comes from bench/benchfleet.py up):

    python3 bench/floor.py rollout|rerun|rollback [--forks 10]

Per host, one SSH connection (host key checked against .bench/known_hosts) and:

- rollout: one command for the backup (bench/remote/backup.sh), one SFTP
  session writing the nine files straight into the target (pipelined writes,
  no staging, no atomic rename), one command for the read-back
  (bench/remote/readback.sh) compared here;
- rerun: the read-back only, which shows nothing to change;
- rollback: one command (bench/remote/restore.sh).

Hosts go as fleet's and Ansible's do: the first alone, then 10 at a time, the
next batch only after the whole batch before it is done; any error stops the
run (exit 1). No locks, no staging, no rollback on failure: it is a floor, not
a tool. Prints one JSON line: hosts, commands and SFTP requests per host.
"""

from __future__ import annotations

import argparse
import json
import shlex
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paramiko
from batches import in_batches

BENCH = Path(__file__).resolve().parent
WORK = BENCH.parent / ".bench"
KEY = BENCH.parent / ".testfleet" / "id_ed25519"

_lock = threading.Lock()
_sftp_requests = 0
_commands = 0
_original_async_request = paramiko.SFTPClient._async_request  # type: ignore[attr-defined]


def _counting_async_request(self: paramiko.SFTPClient, *args: Any) -> Any:
    global _sftp_requests
    with _lock:
        _sftp_requests += 1
    return _original_async_request(self, *args)


paramiko.SFTPClient._async_request = _counting_async_request  # type: ignore[attr-defined]


def remote(script: str, **env: str) -> str:
    """``NAME=value ... sh -c SCRIPT`` with every value quoted."""
    assigns = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
    text = (BENCH / "remote" / script).read_text()
    return f"{assigns} sh -c {shlex.quote(text)}"


def run(client: paramiko.SSHClient, command: str) -> str:
    global _commands
    with _lock:
        _commands += 1
    _, stdout, stderr = client.exec_command(command)
    out = stdout.read().decode()
    if stdout.channel.recv_exit_status() != 0:
        raise RuntimeError(f"{command[:60]!r} failed: {stderr.read().decode().strip()}")
    return out


def connect(port: int, known_hosts: Path) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect("127.0.0.1", port=port, username="tester", key_filename=str(KEY),
                   allow_agent=False, look_for_keys=False, timeout=10)
    return client


def readback_ok(client: paramiko.SSHClient, release: dict[str, Any]) -> bool:
    names = "\n".join(f["name"] for f in release["release_files"])
    lines = run(client, remote("readback.sh", T=release["target"], FILES=names,
                               M=release["marker"], MF=release["marker_file"])).splitlines()
    return set(release["expected_readback"]) <= set(lines) and lines[-1] != "marker 0"


def rollout(client: paramiko.SSHClient, release: dict[str, Any]) -> None:
    names = "\n".join(f["name"] for f in release["release_files"])
    run(client, remote("backup.sh", T=release["target"], B=release["backup_dir"], FILES=names))
    source = Path(release["source_dir"])
    with client.open_sftp() as sftp:
        for entry in release["release_files"]:
            path = f"{release['target']}/{entry['name']}"
            with sftp.open(path, "wb") as remote_file:
                remote_file.set_pipelined(True)
                remote_file.write((source / entry["name"]).read_bytes())
            if entry["mode"] != 0o644:   # files the SFTP server makes are 0644 (umask 022)
                sftp.chmod(path, entry["mode"])
    if not readback_ok(client, release):
        raise RuntimeError("read-back does not match the release")


def rerun(client: paramiko.SSHClient, release: dict[str, Any]) -> None:
    if not readback_ok(client, release):
        raise RuntimeError("rerun found something to change")


def rollback(client: paramiko.SSHClient, release: dict[str, Any]) -> None:
    run(client, remote("restore.sh", T=release["target"], B=release["backup_dir"]))


OPERATIONS: dict[str, Callable[[paramiko.SSHClient, dict[str, Any]], None]] = {
    "rollout": rollout, "rerun": rerun, "rollback": rollback}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("operation", choices=sorted(OPERATIONS))
    parser.add_argument("--forks", type=int, default=10)
    args = parser.parse_args()
    hosts = json.loads((WORK / "hosts.json").read_text())
    release = json.loads((WORK / "release.json").read_text())
    operation = OPERATIONS[args.operation]

    def one(host: dict[str, Any]) -> None:
        client = connect(host["port"], WORK / "known_hosts")
        try:
            operation(client, release)
        finally:
            client.close()

    in_batches(args.operation, hosts, one, args.forks)
    print(json.dumps({"hosts": len(hosts), "commands_per_host": _commands / len(hosts),
                      "sftp_requests_per_host": _sftp_requests / len(hosts)}))


if __name__ == "__main__":
    main()
