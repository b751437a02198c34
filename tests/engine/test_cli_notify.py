"""``--notify`` and ``--check --diff`` through the command line, on one local host
(HOME pointed at a temp folder) with a real HTTP receiver on 127.0.0.1 (issue 15)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.engine.test_cli import REPO, fleet, setup
from tests.engine.world import manifest
from tests.notify_support import TOKEN, Receiver


def _env(env: dict[str, str], *extra_path: Path) -> dict[str, str]:
    paths = [*map(str, extra_path), str(REPO)]
    return {**env, "PYTHONPATH": os.pathsep.join(paths)}


def test_diff_without_check_is_exit_2_before_any_host(tmp_path: Path) -> None:
    playbook, inventory, env = setup(tmp_path)
    done = fleet("rollout", str(playbook), "-i", str(inventory), "--diff", env=_env(env),
                 cwd=tmp_path)

    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "--diff" in lines[0]
    assert "--check" in lines[0]
    assert not (tmp_path / "home" / ".local").exists()


def test_check_diff_prints_the_diff_and_puts_it_in_json(tmp_path: Path) -> None:
    playbook, inventory, env = setup(tmp_path)
    before = manifest(tmp_path / "home" / "agents")

    done = fleet("rollout", str(playbook), "-i", str(inventory), "--check", "--diff", "--json",
                 env=_env(env), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    host = result["hosts"][0]
    assert host["status"] == "would_change"
    assert host["diff"] == [
        {"path": "a.md", "diff": f"--- ~/agents/a.md\n+++ release {result['release']}: a.md\n"
                                 "@@ -1 +1 @@\n-old alpha\n+alpha\n"},
        {"path": "b.md", "diff": f"--- /dev/null\n+++ release {result['release']}: b.md\n"
                                 "@@ -0,0 +1 @@\n+beta\n"}]
    assert "── a.md on me\n" in done.stderr
    assert "-old alpha\n+alpha\n" in done.stderr
    assert manifest(tmp_path / "home" / "agents") == before


def test_recover_after_a_killed_controller_tells_its_rollback(tmp_path: Path) -> None:
    playbook, inventory, env = setup(tmp_path, check="sleep 8")
    before = manifest(tmp_path / "home" / "agents")
    killed = subprocess.Popen([sys.executable, "-m", "fleet", "rollout", str(playbook), "-i",
                               str(inventory)], env=_env(env), cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = tmp_path / "home" / ".local" / "state" / "fleet" / "cli-demo"
    deadline = time.monotonic() + 30
    while not any(state.glob("backups/*/tphys")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)  # its step script stays; recover stops it (its lock records it)

    with Receiver() as receiver:
        done = fleet("recover", str(playbook), "-i", str(inventory), "--json", "--notify",
                     receiver.url(), env=_env(env), cwd=tmp_path)
        posts = receiver.wait_for(2, timeout=5)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["hosts"][0]["status"] == "rolled_back"
    assert manifest(tmp_path / "home" / "agents") == before
    assert [p["title"] for p in posts] == [
        "fleet recover cli-demo: started",
        "fleet recover cli-demo: rollback finished, success (exit 0)"]
    assert "The rollback took" in posts[1]["message"]
    assert "1 rolled_back" in posts[1]["message"]
    log = tmp_path / ".fleet" / "runs" / f"{result['run_id']}.jsonl"
    for text in (done.stdout, done.stderr, log.read_text()):
        assert TOKEN not in text


def test_a_url_apprise_cannot_use_is_exit_2_naming_where_it_came_from(tmp_path: Path) -> None:
    playbook, inventory, env = setup(tmp_path)
    env = {**_env(env), "FLEET_NOTIFY": f"json://127.0.0.1/ok nosuch://{TOKEN}@host/x"}

    done = fleet("rollout", str(playbook), "-i", str(inventory), env=env, cwd=tmp_path)

    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "FLEET_NOTIFY" in lines[0]
    assert "URL 2" in lines[0]
    assert "'nosuch'" in lines[0]
    assert TOKEN not in done.stderr
    assert not (tmp_path / "home" / ".local").exists()


def test_notify_without_apprise_says_how_to_install_it(tmp_path: Path) -> None:
    playbook, inventory, env = setup(tmp_path)
    shadow = tmp_path / "no-apprise"
    shadow.mkdir()
    (shadow / "apprise.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'apprise'\", name='apprise')\n")

    done = fleet("rollback", str(playbook), "-i", str(inventory), "--notify",
                 f"json://u:{TOKEN}@127.0.0.1/x", env=_env(env, shadow), cwd=tmp_path)

    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "pip install 'fleet[notify]'" in lines[0]
    assert "--notify" in lines[0]
    assert TOKEN not in done.stderr
