"""``fleet rollout --check --diff`` on pretend hosts (the real remote scripts through
LocalTransport): a unified diff per file a rollout would replace or create, notes
for binary, large, linked and mode-only files, in one round trip per host,
writing nothing (issue 15)."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fleet.config.playbook import load_playbook
from fleet.config.release import build_release
from fleet.events import Recorder
from fleet.remote.texts import MAX_BYTES
from fleet.results import CommandResult, FileDiff, HostStatus, RunResult
from fleet.transport.local import LocalTransport
from fleet.verbs.rollout import Target, check
from tests.engine.world import FILES, World


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Round trips per host, and (key ``HOST bytes``) the bytes each host sent back."""
    count: Counter[str] = Counter()
    real_run = LocalTransport.run

    def counting_run(self: LocalTransport, command: str, **kwargs: Any) -> CommandResult:
        result = real_run(self, command, **kwargs)
        count[self.host] += 1
        count[f"{self.host} bytes"] += len(result.stdout.encode())
        return result

    monkeypatch.setattr(LocalTransport, "run", counting_run)
    return count


def run_check(world: World, playbook: Path, *, diff: bool = True) -> RunResult:
    pb = load_playbook(playbook)
    target = Target(pb, build_release(pb), world.hosts)
    return check(target, world.connector, Recorder(), run_id="check-1", forks=4, diff=diff)


def diffs_of(result: RunResult, host: str) -> dict[str, FileDiff]:
    outcome = next(h for h in result.hosts if h.name == host)
    assert outcome.diffs is not None
    return {d.path: d for d in outcome.diffs}


def test_replaced_and_created_files_diff_against_the_release_in_one_round_trip(
        world: World, answers: Counter[str]) -> None:
    playbook = world.playbook()
    before = world.snapshot()

    result = run_check(world, playbook)

    assert [h.status for h in result.hosts] == [HostStatus.WOULD_CHANGE] * 6
    assert world.snapshot() == before
    assert not any(world.state(h.name).parent.exists() for h in world.hosts)  # no state made
    assert {h.name: answers[h.name] for h in world.hosts} == {h.name: 1 for h in world.hosts}
    release = result.release
    diffs = diffs_of(result, "h3")
    assert set(diffs) == set(FILES)
    assert diffs["COMMON_WORKFLOW.md"] == FileDiff(
        "COMMON_WORKFLOW.md",
        diff=("--- ~/agents/COMMON_WORKFLOW.md\n"
              f"+++ release {release}: COMMON_WORKFLOW.md\n"
              "@@ -1 +1,2 @@\n"
              "-old workflow\n"
              "+# Workflow\n"
              "+steps\n"),
        mode="0640 -> 0644")
    # a new file is a diff from nothing; a name's newline is written as an escape
    odd = "new\nline ünïcødé ✓.md"
    assert diffs[odd].diff == (
        "--- /dev/null\n"
        f"+++ release {release}: new\\nline ünïcødé ✓.md\n"
        "@@ -0,0 +1 @@\n"
        "+newline and non-ASCII in the name\n")
    assert diffs[odd].note is None
    quoted = "sub dir/it's $(touch pwned) `x`.md"
    assert (diffs[quoted].diff or "").endswith("+odd name\n")
    entry = json.loads(json.dumps(next(h for h in result.hosts if h.name == "h3").to_json()))
    assert [d["path"] for d in entry["diff"]] == list(load_playbook(playbook).file_list)
    assert entry["changes"]["replace"] == ["COMMON_WORKFLOW.md"]  # --check's keys stay


def test_odd_bytes_binary_large_links_and_modes_each_get_what_they_need(
        world: World, answers: Counter[str]) -> None:
    files = {
        "odd.md": "keep\r\nplain\nno newline at end\n",
        "host-binary.md": "text in the release\n",
        "host-large.md": "small in the release\n",
        "linked.md": "a file in the release\n",
        "same.md": "same bytes\n",
    }
    playbook = world.playbook(files)
    src = playbook.parent / "src"
    (src / "release.bin").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    (src / "release-large.md").write_text("x" * (MAX_BYTES + 1))
    (src / "same.md").chmod(0o755)
    target = world.target("h1")
    (target / "odd.md").write_bytes(b"keep\r\n\x1b[31mred\x1b[0m\x0cpage\nno newline at end")
    (target / "host-binary.md").write_bytes(b"text\x00with a NUL\n")
    (target / "host-large.md").write_bytes(b"y\n" * (MAX_BYTES // 2 + 1))
    (target / "release.bin").write_bytes(b"old binary\x00")
    (target / "release-large.md").write_text("old\n")
    os.symlink("/etc/hostname", target / "linked.md")
    (target / "same.md").write_text("same bytes\n")
    (target / "same.md").chmod(0o644)
    before = world.snapshot()

    result = run_check(world, playbook)

    assert world.snapshot() == before
    assert answers["h1"] == 1
    # the host's 256 KiB+ copy and the release's binary and large files never travel
    assert answers["h1 bytes"] < 20_000, answers["h1 bytes"]
    diffs = diffs_of(result, "h1")
    assert diffs["odd.md"].diff == (
        "--- ~/agents/odd.md\n"
        f"+++ release {result.release}: odd.md\n"
        "@@ -1,3 +1,3 @@\n"
        " keep\r\n"
        "-\x1b[31mred\x1b[0m\x0cpage\n"
        "-no newline at end\n"
        "\\ No newline at end of file\n"
        "+plain\n"
        "+no newline at end\n")
    assert (diffs["host-binary.md"].note, diffs["host-binary.md"].detail) == (
        "binary", "the host's copy is not text")
    assert diffs["host-large.md"].note == "large"
    assert str(2 * (MAX_BYTES // 2 + 1)) in (diffs["host-large.md"].detail or "")
    assert (diffs["release.bin"].note, diffs["release.bin"].diff) == ("binary", None)
    assert diffs["release-large.md"].note == "large"
    assert diffs["linked.md"].note == "link"
    assert diffs["same.md"] == FileDiff("same.md", note="mode",
                                        detail="same content, the mode changes",
                                        mode="0644 -> 0755")
    # a host without those files: binary and large new files are one note each
    fresh = diffs_of(result, "h2")
    assert fresh["release.bin"].note == "binary"
    assert (fresh["release.bin"].detail or "").startswith("new file")
    assert fresh["release-large.md"].note == "large"
    assert (fresh["odd.md"].diff or "").startswith("--- /dev/null\n")


def test_a_host_on_the_release_has_no_diffs_and_check_without_diff_has_no_key(
        world: World) -> None:
    playbook = world.playbook()
    world.run(playbook)

    result = run_check(world, playbook)
    plain = run_check(world, playbook, diff=False)

    assert [h.status for h in result.hosts] == [HostStatus.UNCHANGED] * 6
    assert all(h.diffs == () for h in result.hosts)
    assert all(h.to_json().get("diff") == [] for h in result.hosts)
    assert all("diff" not in h.to_json() for h in plain.hosts)
