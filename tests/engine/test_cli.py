"""The command line on one local host (HOME pointed at a temp folder): Ctrl-C, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.engine.world import manifest

REPO = Path(__file__).resolve().parents[2]


def setup(tmp_path: Path, check: str = "true") -> tuple[Path, Path, dict[str, str]]:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.md").write_text("alpha\n")
    (tmp_path / "src" / "b.md").write_text("beta\n")
    target = tmp_path / "home" / "agents"
    target.mkdir(parents=True)
    (target / "a.md").write_text("old alpha\n")
    (target / "mine.md").write_text("unrelated\n")
    playbook = tmp_path / "pb.yml"
    playbook.write_text(
        "name: cli-demo\nsource: src\ntarget: ~/agents\n"
        f"checks:\n  - {{type: command, run: {json.dumps(check)}, timeout: 30}}\n")
    inventory = tmp_path / "inv.yml"
    inventory.write_text("all:\n  hosts:\n    me: {ansible_connection: local}\n")
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    return playbook, inventory, env


def fleet(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "fleet", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize(("signals", "said"), [
    ((signal.SIGINT,), "Ctrl-C"),
    ((signal.SIGTERM,), "SIGTERM"),
    ((signal.SIGHUP,), "SIGHUP"),
    # a second signal while the run halts: the rollback still finishes
    ((signal.SIGTERM, signal.SIGTERM, signal.SIGINT), "SIGTERM"),
])
def test_a_signal_mid_run_halts_and_rolls_back(tmp_path: Path, signals: tuple[signal.Signals,
                                                                               ...],
                                               said: str) -> None:
    playbook, inventory, env = setup(tmp_path, check="sleep 2")
    env["PYTHONPATH"] = str(REPO)
    before = manifest(tmp_path / "home" / "agents")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fleet", "rollout", str(playbook), "-i", str(inventory), "--json"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Ctrl-C as at a terminal: a suite started in the background (`cmd &`)
        # hands its children SIGINT ignored, and Python would keep it so.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Wait until the host is touched (its backup exists) and the 2 s check is
    # running; a fixed sleep raced Python's start-up on a loaded machine.
    state = tmp_path / "home" / ".local" / "state" / "fleet" / "cli-demo"
    deadline = time.monotonic() + 30
    while not any(state.glob("backups/*/tphys")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    for sig in signals:
        proc.send_signal(sig)
        time.sleep(0.3)
    out, err = proc.communicate(timeout=60)
    result = json.loads(out)
    assert proc.returncode == 1, err
    assert result["outcome"] == "rolled_back"
    assert said in result["halt_reason"]
    assert result["hosts"][0]["status"] == "rolled_back"
    assert manifest(tmp_path / "home" / "agents") == before
    assert not (state / "lock").exists()
    assert list(state.glob("stage-*")) == []


def test_json_result_has_the_contract_keys(tmp_path: Path) -> None:
    playbook, inventory, env = setup(tmp_path)
    done = fleet("rollout", str(playbook), "-i", str(inventory), "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"run_id", "command", "playbook", "release", "outcome", "hosts"} <= set(result)
    assert result["outcome"] == "success"
    host = result["hosts"][0]
    assert {"name", "status", "duration_s", "error"} <= set(host)
    assert host["status"] == "deployed"
    log = tmp_path / ".fleet" / "runs" / f"{result['run_id']}.jsonl"
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert events[0] == "RunStarted"
    assert events[-1] == "RunFinished"
    assert events.count("StepFinished") == 5  # connect, prepare, stage, activate, commit


@pytest.mark.parametrize(("edit", "field"), [
    (lambda p: p.write_text("name: [unclosed\n"), "pb.yml"),
    (lambda p: p.write_text(p.read_text() + "colour: red\n"), "colour"),
    (lambda p: p.write_text(p.read_text().replace("target: ~/agents", "target: /")), "target"),
    (lambda p: p.write_text(p.read_text() + "files: [../etc/passwd]\n"), "files"),
    (lambda p: p.write_text(p.read_text() + "files: [nope.md]\n"), "files[0]"),
])
def test_bad_playbook_is_one_line_and_exit_2(tmp_path: Path, edit: object, field: str) -> None:
    playbook, inventory, env = setup(tmp_path)
    assert callable(edit)
    edit(playbook)
    done = fleet("rollout", str(playbook), "-i", str(inventory), env=env, cwd=tmp_path)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "pb.yml" in lines[0]
    assert field in lines[0]
    assert not (tmp_path / "home" / ".local").exists()  # no host was contacted


def test_unknown_limit_is_exit_2_naming_limit(tmp_path: Path) -> None:
    playbook, inventory, env = setup(tmp_path)
    done = fleet("rollout", str(playbook), "-i", str(inventory), "--limit", "ghost",
                 env=env, cwd=tmp_path)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "--limit" in lines[0]
    assert "ghost" in lines[0]


def test_shell_completion_lists_the_commands(tmp_path: Path) -> None:
    env = {**os.environ, "_FLEET_COMPLETE": "bash_complete", "COMP_WORDS": "fleet ro",
           "COMP_CWORD": "1", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "fleet"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.stdout.split() == ["plain,rollback", "plain,rollout"]


def _bomb(indent: str) -> str:
    """A 9-line YAML alias bomb ("billion laughs"), each line indented by ``indent``."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    return "".join(f"{indent}{line}\n" for line in lines)


def _append(text: str) -> object:
    return lambda pb, inv, src: pb.write_text(pb.read_text() + text)


HOSTILE: list[tuple[str, object, str, str]] = [
    ("deep playbook", lambda pb, inv, src: pb.write_text("x: " + "[" * 1000 + "]" * 1000),
     "pb.yml", "nested more than 100 levels deep"),
    ("playbook alias bomb", _append("x:\n" + _bomb("  ")), "pb.yml", "aliases expand"),
    ("timeout inf", _append("timeouts: {command: .inf}\n"), "pb.yml", "timeouts.command"),
    ("timeout nan", _append("timeouts: {connect: .nan}\n"), "pb.yml", "timeouts.connect"),
    ("keep huge", _append("backup: {keep: 1000000000}\n"), "pb.yml", "backup.keep"),
    ("trailing newline", _append('files: ["a.md\\n"]\n'), "pb.yml", "files[0]"),
    ("state folder target",
     lambda pb, inv, src: pb.write_text(pb.read_text().replace(
         "target: ~/agents", "target: ~/.local/state/fleet/cli-demo")),
     "pb.yml", "fleet's own state folder"),
    ("setuid source", lambda pb, inv, src: (src / "a.md").chmod(0o4755), "pb.yml", "setuid"),
    ("non-UTF-8 source name",
     lambda pb, inv, src: os.close(os.open(os.fsencode(src) + b"/bad\xff.md",
                                           os.O_CREAT | os.O_WRONLY)),
     "pb.yml", "not a UTF-8 file name"),
    ("deep inventory",
     lambda pb, inv, src: inv.write_text("all:\n  vars:\n    x: " + "[" * 1000 + "]" * 1000
                                         + "\n  hosts:\n    me: {ansible_connection: local}\n"),
     "inv.yml", "nested more than 100 levels deep"),
    ("inventory alias bomb",
     lambda pb, inv, src: inv.write_text("all:\n  vars:\n" + _bomb("    ")
                                         + "  hosts:\n    me: {ansible_connection: local}\n"),
     "inv.yml", "aliases expand"),
]


@pytest.mark.parametrize(("edit", "file", "said"), [case[1:] for case in HOSTILE],
                         ids=[case[0] for case in HOSTILE])
def test_hostile_input_is_one_line_and_exit_2(tmp_path: Path, edit: object, file: str,
                                              said: str) -> None:
    playbook, inventory, env = setup(tmp_path)
    assert callable(edit)
    edit(playbook, inventory, tmp_path / "src")
    done = fleet("rollout", str(playbook), "-i", str(inventory), env=env, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert file in lines[0]
    assert said in lines[0]
    assert not (tmp_path / "home" / ".local").exists()  # no host was contacted
