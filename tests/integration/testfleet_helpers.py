"""Helpers for tests against the containerized SSH test fleet.

The fleet is 6 sshd containers, ``dev-01`` .. ``dev-06`` (containers
``fleet-dev-01`` ..), on ``127.0.0.1:2201`` .. ``2206``, user ``tester`` with
key-only login and passwordless sudo. Bring it up with
``scripts/test-fleet.sh up``; ``inventory/testfleet.yml`` describes it.
The fixtures (``testfleet``, ``reset_hosts``) are in this folder's conftest.py.

Import the helpers from this module, not from ``conftest`` (with a conftest.py
in tests/unit too, ``import conftest`` gets whichever was loaded last)::

    from testfleet_helpers import HOSTS, manifest, run_fleet_json
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any, cast

import docker
import docker.errors
import pytest
from docker.models.containers import Container

REPO_ROOT: Path = Path(__file__).resolve().parents[2]
"""The repository root (fleet commands run there)."""


HOSTS: list[str] = ["dev-01", "dev-02", "dev-03", "dev-04", "dev-05", "dev-06"]
"""Inventory names of the test hosts, in inventory order (dev-01 is the canary)."""

PORTS: dict[str, int] = {host: 2200 + int(host.removeprefix("dev-")) for host in HOSTS}
"""Published SSH port on 127.0.0.1 of each host: dev-01 -> 2201 ..."""

SSH_HOST = "127.0.0.1"
SSH_USER = "tester"
NETWORK = "fleet-testnet"
"""The compose network all test hosts are on (docker-compose.test.yml)."""

INVENTORY: Path = REPO_ROOT / "inventory" / "testfleet.yml"
CLIENT_KEY: Path = REPO_ROOT / ".testfleet" / "id_ed25519"
KNOWN_HOSTS: Path = REPO_ROOT / ".testfleet" / "known_hosts"

TMPFS_HOST = "tmpfs-01"
"""An extra test host (container ``fleet-tmpfs-01``, not in inventory/testfleet.yml)
whose ``~/.claude`` is an 8 MiB tmpfs: the target's filesystem can fill up."""
JUMP_HOST = "jump-01"
"""An extra test host (container ``fleet-jump-01``, not in inventory/testfleet.yml):
a jump host that reaches the six by name on the docker network (``dev-01:22`` ...)."""
SUDO_HOST = "sudo-01"
"""An extra test host (container ``fleet-sudo-01``, not in inventory/testfleet.yml)
whose sudo asks tester for a password (SUDO_PASSWORD) with sudo's stock defaults:
``tester ALL=(ALL) ALL``, no NOPASSWD, the default time stamp settings, no tty.
Also has the local user MALLORY (tests/docker/sudo/Dockerfile)."""
LINKS_HOST = "links-01"
"""An extra test host (container ``fleet-links-01``, not in inventory/testfleet.yml)
like SUDO_HOST but tester's sudo needs no password; for the link attacks of MALLORY."""
DEV_LIKE_HOSTS: list[str] = ["zsh-01", "fish-01", "tcsh-01", "rc-01", "busybox-01", "mac-01"]
"""Extra hosts that behave like developers' machines (issue 11; containers
``fleet-zsh-01`` .., images from tests/docker/devhosts/Dockerfile, not in
inventory/testfleet.yml): tester's login shell zsh, fish, tcsh (each with an rc
file that prints); bash whose rc files print noise (rc-01); a busybox userland
(busybox-01); a macOS-like BSD userland with no /proc, HOME /Users/tester (mac-01)."""
EXTRA_PORTS: dict[str, int] = {TMPFS_HOST: 2207, JUMP_HOST: 2210, SUDO_HOST: 2211,
                               LINKS_HOST: 2212, "zsh-01": 2213, "fish-01": 2214,
                               "tcsh-01": 2215, "rc-01": 2216, "busybox-01": 2217,
                               "mac-01": 2218}
"""Published SSH ports of the extra hosts."""
SUDO_PASSWORD = "fleet-sudo-pw"
"""tester's password on SUDO_HOST and LINKS_HOST, which sudo asks for on SUDO_HOST
(set in tests/docker/sudo/Dockerfile; never an SSH login: key only)."""
MALLORY = "mallory"
"""A second, unprivileged local user on SUDO_HOST and LINKS_HOST (uid 1001, no SSH
login), in group SHARE_GROUP; tests act as mallory with ``docker exec -u mallory``."""
SHARE_GROUP = "agents-share"
"""MALLORY's group (gid 1500): a folder of root's that this group may write to is
one a less-privileged user can plant links in."""
KNOWN_HOSTS_EXTRA: Path = REPO_ROOT / ".testfleet" / "known_hosts_extra"
"""Host keys of the extra hosts (kept out of KNOWN_HOSTS, which lists the six)."""
KNOWN_HOSTS_JUMP: Path = REPO_ROOT / ".testfleet" / "known_hosts_jump"
"""Host keys for rollouts through JUMP_HOST: ``[127.0.0.1]:2210 ssh-ed25519 ...`` for the
jump host, then each of the six under the name the jump host reaches it by
(``dev-01 ssh-ed25519 ...``)."""

HOME = "/home/tester"
HOMES: dict[str, str] = {"mac-01": "/Users/tester"}
"""tester's home on the hosts where it is not HOME (see ``home_of``)."""
TARGET = f"{HOME}/.claude/agents"
"""The example playbook's target folder on every host."""
STATE_DIR = f"{HOME}/.local/state/fleet"
"""Where fleet keeps per-deployment state, backups and staging on a host."""

SEED_FILES: dict[str, tuple[bytes, int]] = {
    "my-notes.md": (b"my own notes, not fleet's\n", 0o644),
    "custom/agent-x.md": (b"# agent x\nhand-made, private\n", 0o600),
    "COMMON_WORKFLOW.md": (b"old workflow\n", 0o644),
}
"""Files ``reset_hosts`` puts in TARGET (relative path -> (content, mode)).

``COMMON_WORKFLOW.md`` is the one the example release replaces; the others are
unrelated and must never be touched by fleet.
"""
SEED_DIRS: dict[str, int] = {"custom/": 0o755}
"""Sub-folders ``reset_hosts`` makes in TARGET (key with trailing "/" -> mode)."""


# One root shell per host: kill what a test may have left running as tester
# (e.g. a fake "claude" process for memory checks) but not sshd's own session
# processes; give the home folder back its image owner and mode; wipe ~/.claude
# and fleet's state; seed TARGET owned by tester.
# $1 = TARGET, $2 = ~/.claude, $3 = STATE_DIR, $4 = HOME.
_RESET_SCRIPT = """
set -eu
for pid in $(pgrep -u tester || true); do
    [ "$(cat /proc/$pid/comm 2>/dev/null)" = sshd ] || kill -9 "$pid" 2>/dev/null || true
done
chown tester:tester "$4" && chmod 0755 "$4"
for d in "$4/.local" "$4/.local/state"; do
    if [ -d "$d" ]; then chown tester:tester "$d"; fi
done
rm -rf "$3"
# ~/.claude may be a mount point (tmpfs-01): empty it instead of removing it.
if mountpoint -q "$2" 2>/dev/null; then find "$2" -mindepth 1 -delete; else rm -rf "$2"; fi
umask 022
mkdir -p "$1/custom"
chmod 0755 "$2"
printf 'my own notes, not fleet'"'"'s\\n' > "$1/my-notes.md"
printf '# agent x\\nhand-made, private\\n' > "$1/custom/agent-x.md"
chmod 0600 "$1/custom/agent-x.md"
printf 'old workflow\\n' > "$1/COMMON_WORKFLOW.md"
chown -R tester:tester "$2"
"""

_LEFTOVERS_SCRIPT = """
for p in "$1"/*/lock "$1"/*/stage* "$2"/.fleet-stage*; do
    if [ -e "$p" ] || [ -L "$p" ]; then printf '%s\\0' "$p"; fi
done
"""


def home_of(host: str) -> str:
    """tester's home folder on test host ``host`` (HOME but on mac-01)."""
    return HOMES.get(host, HOME)


# --------------------------------------------------------------------------- docker


@cache
def _client() -> docker.DockerClient:
    """One docker SDK client for the whole session."""
    return docker.from_env()


def container(name: str) -> Container:
    """The docker container of test host ``name`` ("dev-03" or "fleet-dev-03")."""
    cname = name if name.startswith("fleet-") else f"fleet-{name}"
    return _client().containers.get(cname)


def exec_demuxed(ctr: Container, cmd: list[str], user: str = "") -> tuple[int, bytes, bytes]:
    """Run ``cmd`` (argv, no shell) in ``ctr`` and wait: (exit code, stdout, stderr)."""
    result = ctr.exec_run(cmd, user=user, demux=True)
    # docker's stubs give every exec_run one output type; with demux=True (and no
    # stream) it is the (stdout, stderr) pair, each None when nothing was written.
    stdout, stderr = cast("tuple[bytes | None, bytes | None]", result.output)
    assert result.exit_code is not None, "exec_run without detach or stream has an exit code"
    return result.exit_code, stdout or b"", stderr or b""


def _exec(host: str, cmd: list[str], user: str = "root") -> tuple[int, bytes, bytes]:
    """Run ``cmd`` (argv, no shell) in the container of ``host``: (exit code, stdout, stderr)."""
    return exec_demuxed(container(host), cmd, user=user)


def docker_exec(host: str, cmd: list[str], user: str = "root") -> tuple[int, bytes]:
    """Run ``cmd`` (argv, no shell) in the container of ``host`` as ``user``.

    Returns (exit code, stdout followed by stderr). For a shell snippet pass
    ``["sh", "-c", script, "sh", arg1, ...]``.
    """
    code, out, err = _exec(host, cmd, user=user)
    return code, out + err


def _sh(host: str, script: str, *args: str, user: str = "root") -> bytes:
    """Run a shell snippet in ``host``; return stdout, raise if it fails."""
    code, out, err = _exec(host, ["sh", "-c", script, "sh", *args], user=user)
    if code != 0:
        raise RuntimeError(
            f"{host}: shell snippet failed ({code}): {err.decode(errors='replace')}\n{script}"
        )
    return out


# --------------------------------------------------------------------------- readiness


def ssh_banner_ok(port: int, host: str = SSH_HOST, timeout: float = 2.0) -> bool:
    """True if ``host:port`` sends an SSH banner (a TCP connect alone is not enough:
    docker-proxy accepts connections before sshd listens)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def wait_for_ssh(port: int, host: str = SSH_HOST, timeout: float = 30.0) -> None:
    """Poll ``host:port`` until it sends an SSH banner; TimeoutError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not ssh_banner_ok(port, host):
        if time.monotonic() > deadline:
            raise TimeoutError(f"sshd on {host}:{port} sent no banner in {timeout}s")
        time.sleep(0.1)


def port_of(host: str) -> int:
    """Published SSH port on 127.0.0.1 of a test host (the six, or an extra one)."""
    return PORTS.get(host) or EXTRA_PORTS[host]


def fleet_problems(hosts: list[str] | None = None,
                   files: tuple[Path, ...] = (CLIENT_KEY, KNOWN_HOSTS)) -> list[str]:
    """What is wrong with the test fleet (empty list: all ``hosts``, default the 6,
    run and answer SSH, and ``files`` exist)."""
    problems: list[str] = []
    try:
        _client().ping()
    except Exception as exc:
        return [f"docker engine not reachable: {exc}"]
    for host in HOSTS if hosts is None else hosts:
        try:
            state = container(host).status
        except docker.errors.NotFound:
            problems.append(f"container fleet-{host} does not exist")
            continue
        if state != "running":
            problems.append(f"container fleet-{host} is {state}")
        elif not ssh_banner_ok(port_of(host)):
            problems.append(f"{host}: no SSH banner on {SSH_HOST}:{port_of(host)}")
    for path in files:
        if not path.is_file():
            problems.append(f"missing {path.relative_to(REPO_ROOT)}")
    return problems


def restore_host(host: str) -> None:
    """Undo what a test did to a container itself: reconnect it to the fleet
    network, unpause or start it, and wait until it answers SSH again."""
    ctr = container(host)
    ctr.reload()
    networks = ctr.attrs["NetworkSettings"]["Networks"] or {}
    if NETWORK not in networks:
        _client().networks.get(NETWORK).connect(ctr, aliases=[host])
    if ctr.status == "paused":
        ctr.unpause()
    elif ctr.status != "running":
        ctr.start()
    wait_for_ssh(port_of(host))


def reset_host(host: str) -> None:
    """Put one host back in the known starting state.

    The container runs and answers SSH; the home folder is tester's, mode 0755;
    no fleet state (``~/.local/state/fleet``); ``~/.claude`` holds only TARGET,
    owned by tester, with exactly SEED_FILES in it; no stray tester processes.
    """
    restore_host(host)
    home = home_of(host)
    _sh(host, _RESET_SCRIPT, f"{home}/.claude/agents", f"{home}/.claude",
        f"{home}/.local/state/fleet", home)


# $1 = tester's fleet state, $2 = root's. Runs as root on SUDO_HOST / LINKS_HOST.
_RESET_LOCAL_USERS_SCRIPT = """
set -eu
for u in tester mallory; do
    for pid in $(pgrep -u "$u" || true); do
        [ "$(cat /proc/$pid/comm 2>/dev/null)" = sshd ] || kill -9 "$pid" 2>/dev/null || true
    done
done
rm -rf "$1" "$2"
rm -rf /run/sudo/ts/* /var/lib/sudo/lectured/*
"""


def reset_local_users_host(host: str) -> None:
    """Put SUDO_HOST or LINKS_HOST back in its starting state (the test folders are
    the tests' own): running and answering SSH, no stray tester or mallory
    processes, no fleet state of tester's or root's, and sudo as on a fresh host:
    no cached credentials (time stamps), nobody lectured yet."""
    restore_host(host)
    _sh(host, _RESET_LOCAL_USERS_SCRIPT, STATE_DIR, "/root/.local/state/fleet")


def reset_all_hosts() -> None:
    """``reset_host`` on all hosts, in parallel."""
    with ThreadPoolExecutor(max_workers=len(HOSTS)) as pool:
        list(pool.map(reset_host, HOSTS))


# --------------------------------------------------------------------------- host state


def seeded_manifest() -> dict[str, tuple[str, int]]:
    """The ``manifest()`` of TARGET right after ``reset_hosts``."""
    result: dict[str, tuple[str, int]] = {
        rel: (hashlib.sha256(data).hexdigest(), mode) for rel, (data, mode) in SEED_FILES.items()
    }
    result.update({rel: ("", mode) for rel, mode in SEED_DIRS.items()})
    return result


def manifest(host: str, path: str = TARGET) -> dict[str, tuple[str, int]]:
    """Exact content of folder ``path`` on ``host``.

    Maps each relative path to ``(sha256 hex, mode & 0o7777)`` for regular
    files, ``("", mode)`` for sub-folders (key with a trailing "/"), and
    ``("symlink:" + link target, mode)`` for symlinks. The folder itself is not
    listed. Read as root by streaming ``tar -C path -cf - .`` out of the
    container, so any file name (spaces, quotes, newlines) comes through exactly.
    Returns ``{}`` if the folder does not exist.
    """
    code, _, _ = _exec(host, ["test", "-d", path])
    if code != 0:
        return {}
    code, out, err = _exec(host, ["tar", "-C", path, "-cf", "-", "."])
    if code != 0:
        raise RuntimeError(f"{host}: tar of {path} failed: {err.decode(errors='replace')}")
    return manifest_of_tar(out)[0]


def manifest_of_tar(data: bytes, small: frozenset[str] = frozenset()
                    ) -> tuple[dict[str, tuple[str, int]], dict[str, bytes]]:
    """``manifest()`` of a tar stream of a folder, plus the bytes of every file
    whose base name is in ``small``."""
    result: dict[str, tuple[str, int]] = {}
    contents: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        for member in tar.getmembers():
            name = member.name.removeprefix("./")
            if name in ("", "."):
                continue
            mode = member.mode & 0o7777
            if member.isdir():
                result[name.rstrip("/") + "/"] = ("", mode)
            elif member.issym():
                result[name] = ("symlink:" + member.linkname, mode)
            elif member.isfile():
                fobj = tar.extractfile(member)
                assert fobj is not None
                body = fobj.read()
                result[name] = (hashlib.sha256(body).hexdigest(), mode)
                if os.path.basename(name) in small:
                    contents[name] = body
            else:
                result[name] = (f"type:{member.type.decode()}", mode)
    return result, contents


def read_file(host: str, path: str) -> bytes:
    """Content of ``path`` on ``host`` (read as root)."""
    code, out, err = _exec(host, ["cat", path])
    if code != 0:
        raise FileNotFoundError(f"{host}:{path}: {err.decode(errors='replace').strip()}")
    return out


def state_leftovers(host: str) -> list[str]:
    """Paths on ``host`` of any fleet lock (``~/.local/state/fleet/*/lock``) and
    staging (``~/.local/state/fleet/*/stage*``, ``~/.claude/.fleet-stage*``).

    After any finished run (success, failure, rollback) this must be ``[]``.
    """
    out = _sh(host, _LEFTOVERS_SCRIPT, STATE_DIR, f"{HOME}/.claude")
    return sorted(p.decode(errors="surrogateescape") for p in out.split(b"\0") if p)


def ssh_connection_count(host: str) -> int:
    """Number of SSH logins ``host`` has accepted since its container was created.

    Counts sshd's ``Accepted publickey for`` lines in ``docker logs`` (LogLevel
    VERBOSE). Banner probes and refused logins do not count. The count survives
    stop/start of the container. Use differences: ``after - before``.
    """
    logs: bytes = container(host).logs(stdout=True, stderr=True)
    return logs.count(b"Accepted publickey for ")


# --------------------------------------------------------------------------- running fleet


def run_fleet(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``python -m fleet ARGS`` in the repo root; capture stdout and stderr as text."""
    return subprocess.run(
        [sys.executable, "-m", "fleet", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_fleet_json(
    *args: str, timeout: float = 300
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """``run_fleet(*args, "--json")``; returns (completed process, parsed stdout).

    Fails the test, showing stdout and stderr, if stdout is not one JSON object.
    """
    proc = run_fleet(*args, "--json", timeout=timeout)
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        pytest.fail(
            f"fleet {' '.join(args)} --json: stdout is not JSON ({exc}); rc={proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    if not isinstance(data, dict):
        pytest.fail(f"fleet {' '.join(args)} --json: stdout is not a JSON object: {data!r}")
    return proc, data
