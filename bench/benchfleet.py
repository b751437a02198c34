"""A bigger SSH fleet for the benchmarks: N sshd containers on 127.0.0.1:2301..23NN.

Usage:

    python3 bench/benchfleet.py up 50     # idempotent; also writes .bench/ (see below)
    python3 bench/benchfleet.py down

Hosts are ``bench-01`` .. ``bench-NN`` (containers ``fleet-bench-NN``), made from
the test fleet's image (``fleet-sshd-test:local``; ``scripts/test-fleet.sh up``
builds it) in their own compose project and network, so the 6-host test fleet is
left alone. Every container makes its own host key; ``up`` writes them to
``.bench/known_hosts`` and writes the inventories the three programs read:

- ``.bench/inventory.yml``   fleet's (YAML, strict host keys against known_hosts)
- ``.bench/ansible-hosts.yml`` Ansible's (same hosts, same key, same known_hosts)
- ``.bench/hosts.json``       the floor script's (name, port)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / ".bench"
PROJECT = "fleet-bench"
IMAGE = "fleet-sshd-test:local"
KEY = REPO / ".testfleet" / "id_ed25519"
BASE_PORT = 2300
WRITABLE = (".claude", ".local", ".ansible")


def host_name(i: int) -> str:
    return f"bench-{i:02d}"


def compose_file(count: int, pubkey: str) -> dict[str, object]:
    services: dict[str, object] = {}
    for i in range(1, count + 1):
        name = host_name(i)
        services[name] = {
            "image": IMAGE,
            "container_name": f"fleet-{name}",
            "hostname": name,
            "environment": {"AUTHORIZED_KEYS": pubkey},
            "ports": [f"127.0.0.1:{BASE_PORT + i}:22"],
            "networks": ["bench"],
            # Where the three programs write (target, state and backups,
            # Ansible's temp files) is a tmpfs, as fast as a real disk's
            # page cache; the image's own filesystem here is fuse-overlayfs
            # (see docs/benchmarks.md), where one mkdir costs ~15 ms.
            "tmpfs": [f"/home/tester/{folder}:uid=1000,gid=1000,mode=0755"
                      for folder in WRITABLE],
        }
    return {"services": services, "networks": {"bench": {"name": "fleet-benchnet"}}}


def compose(*args: str) -> None:
    subprocess.run(["docker-compose", "-p", PROJECT, "-f", str(WORK / "compose.yml"), *args],
                   check=True, cwd=WORK)


def banner(port: int) -> bool:
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def host_key(name: str) -> str:
    out = subprocess.run(["docker", "exec", f"fleet-{name}", "cat",
                          "/etc/ssh/ssh_host_ed25519_key.pub"],
                         check=True, capture_output=True, text=True).stdout.split()
    return f"{out[0]} {out[1]}"


def write_inventories(count: int) -> None:
    names = [host_name(i) for i in range(1, count + 1)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        keys = list(pool.map(host_key, names))
    (WORK / "known_hosts").write_text("".join(
        f"[127.0.0.1]:{BASE_PORT + i} {key}\n" for i, key in enumerate(keys, start=1)))
    hosts = {name: {"ansible_port": BASE_PORT + i} for i, name in enumerate(names, start=1)}
    fleet_inventory = {"all": {
        "vars": {"ansible_user": "tester", "ansible_host": "127.0.0.1",
                 "ansible_ssh_private_key_file": str(KEY),
                 "known_hosts_file": str(WORK / "known_hosts")},
        "hosts": hosts}}
    (WORK / "inventory.yml").write_text(yaml.safe_dump(fleet_inventory, sort_keys=False))
    ansible_inventory = {"bench": {
        "vars": {"ansible_user": "tester", "ansible_host": "127.0.0.1",
                 "ansible_ssh_private_key_file": str(KEY),
                 "ansible_python_interpreter": "/usr/bin/python3"},
        "hosts": hosts}}
    (WORK / "ansible-hosts.yml").write_text(yaml.safe_dump(ansible_inventory, sort_keys=False))
    (WORK / "hosts.json").write_text(json.dumps(
        [{"name": name, "port": BASE_PORT + i} for i, name in enumerate(names, start=1)]))


def up(count: int) -> None:
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True,
                      check=False).returncode != 0:
        subprocess.run([str(REPO / "scripts" / "test-fleet.sh"), "up"], check=True)
    WORK.mkdir(exist_ok=True)
    pubkey = (KEY.with_suffix(".pub")).read_text().strip()
    (WORK / "compose.yml").write_text(yaml.safe_dump(compose_file(count, pubkey)))
    compose("up", "-d", "--remove-orphans")
    deadline = time.monotonic() + 120
    for i in range(1, count + 1):
        while not banner(BASE_PORT + i):
            if time.monotonic() > deadline:
                sys.exit(f"{host_name(i)} sent no SSH banner in 120 s")
            time.sleep(0.2)
    write_inventories(count)
    print(f"bench fleet up: {count} hosts on 127.0.0.1:{BASE_PORT + 1}-{BASE_PORT + count}")


def down() -> None:
    if (WORK / "compose.yml").exists():
        compose("down", "-v", "--remove-orphans")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up").add_argument("count", type=int)
    sub.add_parser("down")
    args = parser.parse_args()
    if args.command == "up":
        up(args.count)
    else:
        down()


if __name__ == "__main__":
    main()
