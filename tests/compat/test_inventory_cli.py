"""``fleet inventory --list/--host/--graph`` against ``ansible-inventory`` itself, as commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INVENTORY = {
    "inv/hosts.yml": "web:\n  hosts:\n    web[1:2]:\n      ansible_user: deploy\n"
                     "  children:\n    edge:\n      hosts:\n        edge1:2222:\n",
    "inv/more.ini": "lonely\n[db]\ndb1 ansible_host=10.0.0.9\n[web:vars]\ntier=front\n",
    "inv/group_vars/all.yml": "site: lab\n",
    "inv/host_vars/db1.yml": "ansible_ssh_user: postgres\n",
}


def run(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "ANSIBLE_HOME": str(cwd / ".ansible")}
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, env=env, timeout=120,
                          check=False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name, text in INVENTORY.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def fleet(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "fleet", "inventory", *args], cwd)


def ansible(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run(["ansible-inventory", *args], cwd)


def test_list_is_ansible_inventorys(folder: Path) -> None:
    mine = fleet("-i", "inv", "--list", cwd=folder)
    theirs = ansible("-i", "inv", "--list", cwd=folder)
    assert mine.returncode == theirs.returncode == 0, mine.stderr + theirs.stderr
    ours, reference = json.loads(mine.stdout), json.loads(theirs.stdout)
    connections = ours["_meta"].pop("fleet")
    reference["_meta"].pop("profile")
    assert ours == reference
    assert connections["db1"]["user"] == "postgres"
    assert connections["edge1"]["port"] == 2222
    assert connections["web1"]["address"] == "web1"


@pytest.mark.parametrize("host", ["web1", "db1", "edge1", "lonely"])
def test_host_is_ansible_inventorys(folder: Path, host: str) -> None:
    mine = fleet("-i", "inv", "--host", host, cwd=folder)
    theirs = ansible("-i", "inv", "--host", host, cwd=folder)
    assert json.loads(mine.stdout) == json.loads(theirs.stdout)


@pytest.mark.parametrize("group", ["all", "web"])
def test_graph_is_ansible_inventorys(folder: Path, group: str) -> None:
    mine = fleet("-i", "inv", "--graph", group, cwd=folder)
    theirs = ansible("-i", "inv", "--graph", group, cwd=folder)
    assert mine.stdout == theirs.stdout
    assert "@web:" in mine.stdout


def test_limit_restricts_the_list(folder: Path) -> None:
    mine = fleet("-i", "inv", "--list", "--limit", "web[0]", cwd=folder)
    theirs = ansible("-i", "inv", "--list", "--limit", "web[0]", cwd=folder)
    ours, reference = json.loads(mine.stdout), json.loads(theirs.stdout)
    assert set(ours["_meta"]["fleet"]) == {"web1"}
    assert ours["web"] == reference["web"]


@pytest.mark.parametrize(("args", "message"), [
    (["-i", "inv", "--host", "nope"], "--host: nope: no such host"),
    (["-i", "inv", "--graph", "nope"], "--graph: nope: no such group"),
    (["-i", "missing.yml", "--list"], "missing.yml: no such inventory file or folder"),
    (["-i", "inv", "--list", "--graph"], "give one of --list, --host NAME, --graph"),
    (["-i", "inv", "--list", "--limit", "~web(1"], "not a valid regular expression"),
])
def test_bad_input_is_one_line_and_exit_2(folder: Path, args: list[str], message: str) -> None:
    done = fleet(*args, cwd=folder)
    assert done.returncode == 2
    assert message in done.stderr
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_ssh_config_ssh_refuses_is_exit_2_before_any_host(folder: Path) -> None:
    config = folder / "ssh_config"
    config.write_text("Host web1\n  ProxyJump bad:port\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "FLEET_SSH_CONFIG": str(config)}
    done = subprocess.run([sys.executable, "-m", "fleet", "status", "pb.yml", "-i", "inv",
                           "--limit", "web1"], cwd=folder, capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 2
    assert "ssh config: host web1:" in done.stderr
    assert "Invalid ProxyJump" in done.stderr
    assert done.stderr.count("\n") == 1
