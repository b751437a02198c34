"""``fleet rollout --check --diff`` on real hosts (issue 15): a GNU one (dev-01),
busybox-01 and the macOS-like mac-01, each holding odd bytes under odd names.
The host's text travels with the probe in one connection, the diffs are the
same on every userland, binary and large files are one line, and nothing on
a host changes.
"""

from __future__ import annotations

from pathlib import Path

from devhosts_support import devhost_inventory
from rollout_support import by_name, exists, write_playbook
from testfleet_helpers import (
    docker_exec,
    home_of,
    manifest,
    reset_host,
    run_fleet_json,
    ssh_connection_count,
)

HOSTS = ["dev-01", "busybox-01", "mac-01"]
ODD = "line\nbreak $(x) 'q' ✓.md"
"""A release file name with a newline, a command substitution, quotes and non-ASCII."""
RELEASE_TEXT = {
    "COMMON_WORKFLOW.md": "# Workflow\nsteps\n",
    ODD: "keep\r\nplain ünïcødé\nno newline at end\n",
    "binary-on-host.md": "text in the release\n",
    "large-on-host.md": "small in the release\n",
    "same-but-mode.md": "same bytes\n",
    "new.md": "brand new\n",
}
HOST_BYTES = {
    ODD: b"keep\r\n\x1b[31mred\x1b[0m\x0cpage \xc3\xa9\nno newline at end",
    "binary-on-host.md": b"text\x00with a NUL\n",
    "same-but-mode.md": b"same bytes\n",
}
LARGE = 300_000


def _put(host: str, name: str, data: bytes, mode: str = "644") -> None:
    """Write ``data`` (any bytes) as ``name`` in tester's target on ``host``."""
    escaped = "".join(f"\\0{b:03o}" for b in data)
    code, out = docker_exec(host, ["sh", "-c", 'printf "%b" "$1" > "$2" && chmod "$3" "$2"',
                                   "sh", escaped, f"{home_of(host)}/.claude/agents/{name}", mode],
                            user="tester")
    assert code == 0, out


def _seed(host: str) -> None:
    reset_host(host)
    for name, data in HOST_BYTES.items():
        _put(host, name, data)
    _put(host, "COMMON_WORKFLOW.md", b"old workflow\n")
    code, out = docker_exec(host, ["sh", "-c", f'yes y | head -c {LARGE} > "$1"', "sh",
                                   f"{home_of(host)}/.claude/agents/large-on-host.md"],
                            user="tester")
    assert code == 0, out


def test_check_diff_shows_the_same_diffs_on_gnu_busybox_and_mac(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    for name, text in RELEASE_TEXT.items():
        (source / name).write_text(text, encoding="utf-8")
    (source / "same-but-mode.md").chmod(0o755)
    (source / "release.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    playbook = write_playbook(tmp_path, source=str(source), files=None, checks=[],
                              target="~/.claude/agents")
    inventory = devhost_inventory(tmp_path, HOSTS)
    for host in HOSTS:
        _seed(host)
    before = {h: manifest(h, f"{home_of(h)}/.claude/agents") for h in HOSTS}
    logins = {h: ssh_connection_count(h) for h in HOSTS}

    proc, data = run_fleet_json("rollout", str(playbook), "-i", str(inventory), "--check",
                                "--diff")

    assert proc.returncode == 0, proc.stderr
    assert data["outcome"] == "checked"
    release = data["release"]
    hosts = by_name(data)
    expected_odd = (
        "--- ~/.claude/agents/line\\nbreak $(x) 'q' ✓.md\n"
        f"+++ release {release}: line\\nbreak $(x) 'q' ✓.md\n"
        "@@ -1,3 +1,3 @@\n"
        " keep\r\n"
        "-\x1b[31mred\x1b[0m\x0cpage é\n"
        "-no newline at end\n"
        "\\ No newline at end of file\n"
        "+plain ünïcødé\n"
        "+no newline at end\n")
    for host in HOSTS:
        entry = hosts[host]
        assert entry["status"] == "would_change", entry
        diffs = {d["path"]: d for d in entry["diff"]}
        assert set(diffs) == {*RELEASE_TEXT, "release.bin"}, (host, sorted(diffs))
        assert diffs[ODD] == {"path": ODD, "diff": expected_odd}, host
        assert diffs["COMMON_WORKFLOW.md"]["diff"].endswith(
            "@@ -1 +1,2 @@\n-old workflow\n+# Workflow\n+steps\n"), host
        assert diffs["binary-on-host.md"]["note"] == "binary", host
        assert diffs["large-on-host.md"]["note"] == "large", host
        assert str(LARGE) in diffs["large-on-host.md"]["detail"], host
        assert diffs["same-but-mode.md"] == {
            "path": "same-but-mode.md", "note": "mode", "mode": "0644 -> 0755",
            "detail": "same content, the mode changes"}, host
        assert diffs["release.bin"]["note"] == "binary", host
        assert diffs["new.md"]["diff"] == (f"--- /dev/null\n+++ release {release}: new.md\n"
                                           "@@ -0,0 +1 @@\n+brand new\n"), host
        assert entry["changes"]["replace"] == sorted(
            ["COMMON_WORKFLOW.md", ODD, "binary-on-host.md", "large-on-host.md",
             "same-but-mode.md"]), host
    # touched nothing, made no state, one login per host
    for host in HOSTS:
        assert manifest(host, f"{home_of(host)}/.claude/agents") == before[host], host
        assert not exists(host, f"{home_of(host)}/.local/state/fleet"), host
        assert ssh_connection_count(host) - logins[host] <= 1, host
    # people see each distinct diff once, and a host's escape codes only as text
    assert "\x1b[31m" not in proc.stderr
    assert "\\x1b[31mred\\x1b[0m\\x0cpage é" in proc.stderr
    assert f"── line\\nbreak $(x) 'q' ✓.md on {', '.join(HOSTS)}" in proc.stderr
    assert proc.stderr.count("+plain ünïcødé") == 1
