"""Issue 3, security: host keys, quoting, symlinks out of the target, secrets.

Every scenario ends with the same invariant as the fault scenarios
(``invariant.assert_invariant``).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from faults import Controller, run_log, write_inventory
from invariant import assert_invariant, release_from_files, release_of, take_snapshot
from rollout_support import (
    INV,
    by_name,
    copy_example_source,
    exists,
    statuses,
    tree_stamps,
    write_playbook,
)
from testfleet_helpers import (
    HOME,
    HOSTS,
    KNOWN_HOSTS,
    PORTS,
    REPO_ROOT,
    TARGET,
    docker_exec,
    manifest,
    read_file,
    run_fleet_json,
)

TIMEOUTS = {"connect": 3, "command": 8}
# A real ed25519 public key that belongs to no test container.
OTHER_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
OUTSIDE = f"{HOME}/outside"
"""A folder next to ~/.claude that no release may ever write into (made afresh by
``_make_outside``; ``reset_hosts`` does not know it)."""


def _hosts(data: dict[str, Any]) -> str:
    return "\n".join(f"  {h['name']}: {h['status']} {h['error'] or ''}" for h in data["hosts"])


def _key_line(port: int) -> str:
    lines = [ln for ln in KNOWN_HOSTS.read_text().splitlines() if f"]:{port} " in ln]
    assert len(lines) == 1, lines
    return lines[0]


# --------------------------------------------------------------------------- host keys


def test_unknown_host_key_is_refused_naming_accept_new_hosts_which_records_it(
        tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(_key_line(PORTS["dev-02"]) + "\n")  # dev-02 known, dev-01 not
    inventory = write_inventory(tmp_path, {"dev-01": PORTS["dev-01"], "dev-02": PORTS["dev-02"]},
                                canaries=("dev-01",), known_hosts=known)
    playbook = write_playbook(tmp_path, timeouts=TIMEOUTS)
    release = release_of(playbook)
    before = take_snapshot(["dev-01", "dev-02"])

    proc, data = run_fleet_json("rollout", str(playbook), "-i", str(inventory))

    assert proc.returncode == 1, proc.stderr
    dev01 = by_name(data)["dev-01"]
    assert dev01["status"] == "failed", _hosts(data)
    assert "--accept-new-hosts" in dev01["error"], dev01
    assert statuses(data)["dev-02"] == "skipped"
    assert known.read_text() == _key_line(PORTS["dev-02"]) + "\n"  # nothing recorded
    assert set(assert_invariant(before, release).values()) == {"before"}

    proc, data = run_fleet_json("rollout", str(playbook), "-i", str(inventory),
                                "--accept-new-hosts")

    assert proc.returncode == 0, proc.stderr
    assert statuses(data) == {"dev-01": "deployed", "dev-02": "deployed"}
    recorded = known.read_text().splitlines()
    assert sorted(recorded) == sorted([_key_line(PORTS["dev-01"]), _key_line(PORTS["dev-02"])])
    assert set(assert_invariant(before, release).values()) == {release.id}

    proc, data = run_fleet_json("rollout", str(playbook), "-i", str(inventory))  # no flag now
    assert proc.returncode == 0, proc.stderr
    assert statuses(data) == {"dev-01": "unchanged", "dev-02": "unchanged"}
    assert known.read_text().splitlines() == recorded


def test_changed_host_key_is_refused_even_with_accept_new_hosts(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    wrong = f"[127.0.0.1]:{PORTS['dev-01']} ssh-ed25519 {OTHER_KEY}\n"
    known.write_text(wrong + _key_line(PORTS["dev-02"]) + "\n")
    inventory = write_inventory(tmp_path, {"dev-01": PORTS["dev-01"], "dev-02": PORTS["dev-02"]},
                                canaries=("dev-01",), known_hosts=known)
    playbook = write_playbook(tmp_path, timeouts=TIMEOUTS)
    before = take_snapshot(["dev-01", "dev-02"])
    content = known.read_text()

    for flags in ((), ("--accept-new-hosts",)):
        proc, data = run_fleet_json("rollout", str(playbook), "-i", str(inventory), *flags)
        assert proc.returncode == 1, proc.stderr
        dev01 = by_name(data)["dev-01"]
        assert dev01["status"] == "failed", _hosts(data)
        assert "CHANGED" in dev01["error"], dev01
        assert known.read_text() == content  # the old line is neither replaced nor added to
    assert set(assert_invariant(before, release_of(playbook)).values()) == {"before"}


def test_hashed_known_hosts_entries_are_honoured(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(_key_line(PORTS["dev-01"]) + "\n")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True,
                   capture_output=True)
    assert known.read_text().startswith("|1|")  # OpenSSH's HashKnownHosts format
    inventory = write_inventory(tmp_path, {"dev-01": PORTS["dev-01"]}, known_hosts=known)
    playbook = write_playbook(tmp_path, timeouts=TIMEOUTS)
    before = take_snapshot(["dev-01"])

    proc, data = run_fleet_json("rollout", str(playbook), "-i", str(inventory))

    assert proc.returncode == 0, proc.stderr
    assert statuses(data) == {"dev-01": "deployed"}
    assert set(assert_invariant(before, release_of(playbook)).values()) != {"before"}


# --------------------------------------------------------------------------- quoting

# File names a careless shell would split, unquote, glob or execute, plus newlines,
# tabs and non-ASCII. Each would leave a file called "pwned" somewhere if run.
AWKWARD: dict[str, tuple[bytes, int]] = {
    "with space.md": (b"spaces\n", 0o644),
    "it's \"quoted\".md": (b"quotes\n", 0o600),
    "$(touch pwned).md": (b"dollar paren\n", 0o644),
    "$(touch /tmp/pwned).md": (b"dollar paren, absolute\n", 0o644),
    "`touch pwned`.md": (b"backticks\n", 0o755),
    "new\nline; touch pwned.md": (b"newline\n", 0o644),
    "tab\there & touch pwned |.md": (b"tab, ampersand, pipe\n", 0o640),
    "-rf *; touch pwned.md": (b"dash, glob, semicolon\n", 0o644),
    "ünïcödé ☃ 日本.md": (b"non-ASCII\n", 0o644),
    "sub dir $(touch pwned)/nested `x`.md": (b"nested\n", 0o640),
    "replaced \"$HOME\" 'x'\n.md": (b"new content of an awkward old file\n", 0o644),
}
PRESENT = "replaced \"$HOME\" 'x'\n.md"
"""An awkward name that already exists in the target (the release replaces it)."""


def _pwned() -> list[str]:
    found = [p for p in ("/tmp/pwned", str(REPO_ROOT / "pwned")) if os.path.lexists(p)]
    for host in HOSTS:
        _, out = docker_exec(host, ["find", "/", "-xdev", "-name", "pwned"])
        found += [f"{host}:{line}" for line in out.decode(errors="replace").splitlines()]
    return found


def test_awkward_names_deploy_and_roll_back_and_nothing_runs(tmp_path: Path) -> None:
    assert _pwned() == []
    source = tmp_path / "awkward"
    for name, (content, mode) in AWKWARD.items():
        path = source / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)
    for host in HOSTS:  # an old file with an awkward name, to be replaced and restored
        code, out = docker_exec(host, ["sh", "-c", 'printf "old\\n" > "$1/$2"', "sh", TARGET,
                                       PRESENT], user="tester")
        assert code == 0, out
    playbook = write_playbook(
        tmp_path, source=str(source), files=list(AWKWARD), timeouts=TIMEOUTS,
        checks=[{"type": "non_empty"},
                {"type": "contains", "file": "with space.md",
                 "pattern": "spaces|$(touch /tmp/pwned)|`touch pwned`"}])
    release = release_from_files({n: source / n for n in AWKWARD})
    assert release == release_of(playbook)
    before = take_snapshot()

    proc, data = run_fleet_json("rollout", str(playbook), *INV)

    assert proc.returncode == 0, proc.stderr
    assert data["release"] == release.id  # fleet and the test name the release alike
    assert statuses(data) == dict.fromkeys(HOSTS, "deployed")
    assert by_name(data)["dev-01"]["changes"]["replace"] == [PRESENT]
    assert set(assert_invariant(before, release).values()) == {release.id}
    assert read_file("dev-01", f"{TARGET}/{PRESENT}") == AWKWARD[PRESENT][0]
    assert _pwned() == []

    proc, back = run_fleet_json("rollback", str(playbook), *INV)

    assert proc.returncode == 0, proc.stderr
    assert statuses(back) == dict.fromkeys(HOSTS, "rolled_back")
    assert set(assert_invariant(before, release).values()) == {"before"}
    assert read_file("dev-01", f"{TARGET}/{PRESENT}") == b"old\n"
    assert _pwned() == []


def test_awkward_target_folder_and_deployment_values_never_reach_a_shell(
        tmp_path: Path) -> None:
    target = "~/.claude/agents `touch pwned` 'q' \"ü\" ; touch pwned"
    full = f"{HOME}/.claude/agents `touch pwned` 'q' \"ü\" ; touch pwned"
    source = copy_example_source(tmp_path / "src")
    playbook = write_playbook(tmp_path, source=str(source), target=target, timeouts=TIMEOUTS,
                              checks=[{"type": "command", "run": "test -s 'COMMON_WORKFLOW.md'",
                                       "timeout": 5}])
    hosts = ["dev-01", "dev-02"]
    before = take_snapshot(hosts, target=target)
    assert before["dev-01"].target == {}  # the folder does not exist yet

    proc, data = run_fleet_json("rollout", str(playbook), *INV, "--limit", ",".join(hosts))

    assert proc.returncode == 0, proc.stderr
    assert set(assert_invariant(before, release_of(playbook)).values()) == {data["release"]}
    assert exists("dev-01", full)
    assert _pwned() == []

    proc, back = run_fleet_json("rollback", str(playbook), *INV, "--limit", ",".join(hosts))

    assert proc.returncode == 0, proc.stderr
    assert statuses(back) == dict.fromkeys(hosts, "rolled_back")
    assert set(assert_invariant(before, release_of(playbook)).values()) == {"before"}
    assert not exists("dev-01", full)  # the folder fleet made is gone again
    assert _pwned() == []


# --------------------------------------------------------------------------- symlinks


def _make_outside(host: str) -> dict[str, tuple[str, int]]:
    code, out = docker_exec(host, ["sh", "-c", 'rm -rf "$1" && mkdir "$1" && printf "victim\\n" > '
                                   '"$1/COMMON_WORKFLOW.md" && printf "keep\\n" > "$1/keep.md"',
                                   "sh", OUTSIDE], user="tester")
    assert code == 0, out
    return manifest(host, OUTSIDE)


def _as_tester(host: str, script: str, *args: str) -> None:
    code, out = docker_exec(host, ["sh", "-c", script, "sh", *args], user="tester")
    assert code == 0, out


def test_target_that_is_a_symlink_out_of_place_is_refused(tmp_path: Path) -> None:
    outside = _make_outside("dev-01")
    _as_tester("dev-01", 'rm -rf "$1" && ln -s "$2" "$1"', TARGET, OUTSIDE)
    playbook = write_playbook(tmp_path, timeouts=TIMEOUTS)
    before = take_snapshot()
    stamps = tree_stamps("dev-01", OUTSIDE)

    proc, data = run_fleet_json("rollout", str(playbook), *INV)

    assert proc.returncode == 1, proc.stderr
    dev01 = by_name(data)["dev-01"]
    assert dev01["status"] == "failed", _hosts(data)
    assert "symbolic link" in dev01["error"], dev01
    assert {statuses(data)[h] for h in HOSTS[1:]} == {"skipped"}
    assert manifest("dev-01", OUTSIDE) == outside
    assert tree_stamps("dev-01", OUTSIDE) == stamps  # not even a touch through the link
    assert set(assert_invariant(before, release_of(playbook)).values()) == {"before"}


def test_symlinked_file_or_folder_inside_the_target_is_refused(tmp_path: Path) -> None:
    source = copy_example_source(tmp_path / "src")
    (source / "sub").mkdir()
    (source / "sub" / "deep.md").write_text("# deep\n")
    playbook = write_playbook(tmp_path, source=str(source), timeouts=TIMEOUTS,
                              files=["COMMON_WORKFLOW.md", "sub/deep.md"],
                              checks=[{"type": "non_empty"}],
                              strategy={"canary": 1, "batch_size": 3})
    outside = {h: _make_outside(h) for h in ("dev-02", "dev-03")}
    # dev-01: an unrelated link the release never names (fine, left alone);
    # dev-02: a release FILE is a link out; dev-03: a release FOLDER is a link out
    _as_tester("dev-01", 'ln -s /etc "$1/etc-link"', TARGET)
    _as_tester("dev-02", 'rm "$1/COMMON_WORKFLOW.md" && ln -s "$2/COMMON_WORKFLOW.md" '
               '"$1/COMMON_WORKFLOW.md"', TARGET, OUTSIDE)
    _as_tester("dev-03", 'ln -s "$2" "$1/sub"', TARGET, OUTSIDE)
    before = take_snapshot()
    stamps = {h: tree_stamps(h, OUTSIDE) for h in outside}

    proc, data = run_fleet_json("rollout", str(playbook), *INV, "--limit",
                                "dev-01,dev-02,dev-03")

    assert proc.returncode == 1, proc.stderr
    assert statuses(data)["dev-01"] == "rolled_back", _hosts(data)
    assert "'COMMON_WORKFLOW.md' in the target is a symbolic link" in \
        by_name(data)["dev-02"]["error"], _hosts(data)
    assert "folder 'sub' in the target is a symbolic link" in \
        by_name(data)["dev-03"]["error"], _hosts(data)
    for host, files in outside.items():
        assert manifest(host, OUTSIDE) == files, host
        assert tree_stamps(host, OUTSIDE) == stamps[host], host
    assert manifest("dev-01")["etc-link"] == ("symlink:/etc", 0o777)
    assert set(assert_invariant(before, release_of(playbook)).values()) == {"before"}


def test_target_swapped_for_a_symlink_during_stage_is_not_written_through(
        tmp_path: Path) -> None:
    source = copy_example_source(tmp_path / "src")
    (source / "blob.bin").write_bytes(os.urandom(8 << 20))  # a slow stage
    playbook = write_playbook(tmp_path, source=str(source), files=None, timeouts=TIMEOUTS)
    outside = _make_outside("dev-01")
    before = take_snapshot(["dev-01"])
    stamps = tree_stamps("dev-01", OUTSIDE)
    ctl = Controller(tmp_path / "ctl", "rollout", str(playbook), *INV, "--limit", "dev-01")
    ctl.wait_event(event="StepStarted", host="dev-01", step="stage")
    # preflight found a real folder; now, while the release uploads, the folder moves
    # aside and a link to OUTSIDE takes its place
    _as_tester("dev-01", 'mv "$1" "$1.real" && ln -s "$2" "$1"', TARGET, OUTSIDE)
    code, data, err = ctl.finish()
    after_outside = manifest("dev-01", OUTSIDE)
    after_stamps = tree_stamps("dev-01", OUTSIDE)
    _as_tester("dev-01", 'rm "$1" && mv "$1.real" "$1"', TARGET)  # the swap undone

    assert data is not None, err
    written = sorted(k for k in after_outside if after_outside[k] != outside.get(k))
    assert written == [], f"fleet wrote through the symlink: {written}\n{_hosts(data)}"
    assert after_stamps == stamps
    assert statuses(data)["dev-01"] in ("failed", "rolled_back", "rollback_failed"), err
    assert code in (1, 3), err
    if code == 3:  # fleet would not roll back through the link either: a person is needed
        assert "needs a person: dev-01" in err
    # the person puts the real folder back (above) and finishes with fleet rollback
    proc, back = run_fleet_json("rollback", str(playbook), *INV, "--limit", "dev-01")
    assert proc.returncode == 0, proc.stderr
    assert statuses(back)["dev-01"] == ("rolled_back" if code == 3 else "not_deployed")
    assert manifest("dev-01", OUTSIDE) == outside
    assert set(assert_invariant(before, release_of(playbook)).values()) == {"before"}


def test_rollback_does_not_write_through_a_symlink_planted_after_the_rollout(
        tmp_path: Path) -> None:
    playbook = write_playbook(tmp_path, timeouts=TIMEOUTS)
    seeded = take_snapshot(["dev-01"], label="seeded")
    proc, _ = run_fleet_json("rollout", str(playbook), *INV, "--limit", "dev-01")
    assert proc.returncode == 0, proc.stderr
    outside = _make_outside("dev-01")
    # a replaced file and a created file each swapped for a link out of the target
    _as_tester("dev-01", 'for f in COMMON_WORKFLOW.md MANDATORY_FUNCTIONS.md; do '
               'rm "$1/$f" && ln -s "$2/COMMON_WORKFLOW.md" "$1/$f"; done', TARGET, OUTSIDE)
    before = take_snapshot(["dev-01"])

    proc, data = run_fleet_json("rollback", str(playbook), *INV, "--limit", "dev-01")

    assert proc.returncode == 3, proc.stderr  # drift: refused without --force
    assert "--force" in by_name(data)["dev-01"]["error"]
    assert manifest("dev-01", OUTSIDE) == outside
    assert assert_invariant(before, seeded) == {"dev-01": "before"}

    proc, data = run_fleet_json("rollback", str(playbook), *INV, "--limit", "dev-01",
                                "--force")

    assert proc.returncode == 0, proc.stderr
    assert manifest("dev-01", OUTSIDE) == outside  # the links were replaced, not followed
    assert assert_invariant(before, seeded) == {"dev-01": "seeded"}


# --------------------------------------------------------------------------- secrets

SECRETS = {
    "ansible_password": "pw-9f1c2e7a-Sesame",
    "ansible_become_password": "become-4d2b8c1e-Opensesame",
    "ansible_ssh_pass": "sshpass-77aa31c0",
    "ansible_become_pass": "becomepass-5e6f7a8b",
    "ansible_ssh_private_key_passphrase": "keyphrase-0b1c2d3e",
}
HOST_SECRET = {"ansible_password": "hostpw-c0ffee-11",
               "ansible_become_password": "hostbecome-decaf-22"}


def test_inventory_secrets_never_appear_in_output_json_or_run_logs(tmp_path: Path) -> None:
    # dev-02 really uses its become password: every step goes through sudo (to tester,
    # so the files stay tester's)
    ports = {h: PORTS[h] for h in ("dev-01", "dev-02", "dev-03")}
    inventory = write_inventory(tmp_path, ports, canaries=("dev-01",), all_vars=SECRETS,
                                host_vars={"dev-02": {**HOST_SECRET, **BECOME}})
    failing = {"type": "command", "run": 'test "$(hostname)" != dev-03', "timeout": 5}
    good = write_playbook(tmp_path, filename="good.yml", timeouts=TIMEOUTS)
    bad = write_playbook(tmp_path, filename="bad.yml", timeouts=TIMEOUTS, extra_checks=[failing])
    inv = ("-i", str(inventory))
    before = take_snapshot(["dev-01", "dev-02", "dev-03"])
    runs = [
        ("rollout", str(good), *inv, "--check"),
        ("rollout", str(bad), *inv),                # fails on dev-03, rolls back
        ("rollout", str(good), *inv, "--canary-only"),
        ("rollout", str(good), *inv),
        ("status", str(good), *inv),
        ("rollback", str(good), *inv),
        ("recover", str(good), *inv),
        ("rollout", str(good), *inv, "--limit", "nosuchhost"),  # bad input, exit 2
    ]
    codes, text = _run_all(tmp_path / "ctl", runs)
    assert codes == [0, 1, 0, 0, 0, 0, 0, 2], codes
    _assert_no_secret(text)
    assert set(assert_invariant(before, release_of(good)).values()) == {"before"}


def test_sudo_refused_on_one_host_fails_it_untouched_and_leaks_no_password(
        tmp_path: Path) -> None:
    ports = {h: PORTS[h] for h in ("dev-01", "dev-02", "dev-03")}
    inventory = write_inventory(
        tmp_path, ports, canaries=("dev-01",), all_vars={**SECRETS, **BECOME},
        host_vars={"dev-03": {**HOST_SECRET, "ansible_become_user": "no-such-user"}})
    playbook = write_playbook(tmp_path, timeouts=TIMEOUTS)
    before = take_snapshot(list(ports))

    codes, text = _run_all(tmp_path / "ctl", [("rollout", str(playbook), "-i", str(inventory))])

    _assert_no_secret(text)
    assert "no-such-user" in text  # the reason is shown
    assert set(assert_invariant(before, release_of(playbook)).values()) == {"before"}
    # sudo never ran a step on dev-03: nothing there to roll back, nobody to call
    assert codes == [1], text[-1500:]


BECOME = {"ansible_become": True, "ansible_become_user": "tester"}


def _run_all(cwd: Path, runs: list[tuple[str, ...]]) -> tuple[list[int], str]:
    """Run each fleet command (with --json) in ``cwd``; return the exit codes and all
    they wrote: stdout, stderr, and every file under ``cwd/.fleet`` (the run logs)."""
    seen: list[str] = []
    codes = []
    for args in runs:
        code, data, err = Controller(cwd, *args).finish()
        codes.append(code)
        seen += [f"--- {args} stdout", json.dumps(data, ensure_ascii=False),
                 f"--- {args} stderr", err]
    files = [p for p in sorted((cwd / ".fleet").rglob("*")) if p.is_file()]
    run_logs = [p for p in files if p.suffix == ".jsonl" and p.parent.name == "runs"]
    assert run_logs, files
    assert any(e["event"] == "HostFinished" for e in run_log(run_logs[0].stem, cwd))
    for path in files:
        seen += [f"--- {path}", path.read_text(encoding="utf-8", errors="replace")]
    return codes, "\n".join(seen)


def _assert_no_secret(text: str) -> None:
    for value in [*SECRETS.values(), *HOST_SECRET.values()]:
        assert value not in text, f"secret {value!r} leaked"
