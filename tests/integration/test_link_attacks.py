"""Issue 9 (High): writes and deletes through links planted inside the target by a
second, unprivileged local user.

On ``links-01`` a rollout with become to root (``ansible_become: true``; tester's sudo
needs no password there) deploys to SHARED, a folder of root's that the group
``agents-share`` may write to. ``mallory``, an unprivileged local user in that group,
plants links in it (``docker exec -u mallory``): a deployed file's path becomes a
link to CANARY, a folder of root's that stands in for a run-parts folder such as
``/etc/cron.d`` (a file root writes there is code root runs), or the sub-folder
``sub`` is swapped for such a link. Then fleet undoes the release — ``fleet
rollback --force``, ``fleet recover`` after a halt, the in-run rollback after a
failed check — or the swap comes while the release uploads, between preflight and
activation.

Whatever fleet does, nothing outside the target is written or deleted: CANARY's
manifest (sha256 and mode of every file) and time stamps stay as they were, so no
file of root's appears there and none goes. And the verdict is honest: a host fleet
reports ``rolled_back`` is byte for byte as it was before the rollout; a host it
cannot put back without going through a link is ``rollback_failed``, exit 3, named
as needing a person — never a silent success.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from faults import Controller, token, wait_until, write_inventory
from rollout_support import (
    EXAMPLE_PLAYBOOK,
    NAME,
    by_name,
    copy_example_source,
    exists,
    tree_stamps,
    write_playbook,
)
from testfleet_helpers import (
    EXTRA_PORTS,
    KNOWN_HOSTS_EXTRA,
    LINKS_HOST,
    MALLORY,
    SHARE_GROUP,
    docker_exec,
    manifest,
)

SHARED = "/srv/shared-agents"
"""The target: root's, group SHARE_GROUP may write to it (2775), and so may mallory."""
CANARY = "/root/canary"
"""A folder of root's outside the target (mallory cannot even read it); her links
point here. Holds ``b.md`` (the name of a file the release creates in ``sub``) and
``keep.md``; never ``a.md`` (a file the release replaces in ``sub``)."""
ROOT_STATE = "/root/.local/state/fleet"
"""fleet's state folder when the steps run as root (sudo -H: root's home)."""
TIMEOUTS = {"connect": 5, "command": 30}
FILE = "COMMON_WORKFLOW.md"
"""A file the release replaces at the top of the target."""

Manifest = dict[str, tuple[str, int]]
View = tuple[Manifest, dict[str, str]]

# $1 = SHARED, $2 = CANARY, $3 = SHARE_GROUP. As root.
_SEED_ROOT = """set -eu
umask 022
mkdir "$1" "$1/sub" "$2"
chown "root:$3" "$1" "$1/sub"
chmod 2775 "$1" "$1/sub"
printf "root's own b\\n" > "$2/b.md"
printf "root's own file\\n" > "$2/keep.md"
"""
# $1 = SHARED. As mallory: the files the release replaces are hers (executable
# scripts, in a shared folder), so a restore written through a link would put her
# content, with her mode, where root runs it.
_SEED_MALLORY = """set -eu
umask 002
printf '#!/bin/sh\\n# Workflow, as mallory left it\\n' > "$1/COMMON_WORKFLOW.md"
printf '#!/bin/sh\\n# a, as mallory left it\\n' > "$1/sub/a.md"
chmod 0775 "$1/COMMON_WORKFLOW.md" "$1/sub/a.md"
printf 'team notes\\n' > "$1/notes.md"
"""
# $1 = SHARED, $2 = CANARY, $3 = ROOT_STATE. As root.
_CLEAN = """rm -rf "$1" "$1".* "$2" "$3"
for g in "$(dirname "$1")"/.fleet-stage-*; do
    if [ -e "$g" ]; then rm -rf "$g"; fi
done
rm -f /tmp/fleet-links-*
rmdir /root/.local/state /root/.local 2>/dev/null || true
"""
# Mallory's moves ($1 = SHARED, $2 = CANARY).
PLANT_FILE_LINK = f'rm "$1/{FILE}" && ln -s "$2" "$1/{FILE}"'
"""A deployed file's path becomes a link to CANARY (a folder)."""
SWAP_SUB = 'mv "$1/sub" "$1/sub.mallory" && ln -s "$2" "$1/sub"'
"""The sub-folder ``sub`` moves aside and a link to CANARY takes its place."""


def _root(script: str, *args: str) -> None:
    code, out = docker_exec(LINKS_HOST, ["sh", "-c", script, "sh", *args])
    assert code == 0, out


def as_mallory(script: str, *args: str) -> None:
    """Run a shell snippet on links-01 as mallory; fail the test if it fails."""
    code, out = docker_exec(LINKS_HOST, ["sh", "-c", script, "sh", *args], user=MALLORY)
    assert code == 0, out


def canary_view() -> View:
    """CANARY's manifest and time stamps (any write, create or delete changes them)."""
    return manifest(LINKS_HOST, CANARY), tree_stamps(LINKS_HOST, CANARY)


def assert_canary_untouched(before: View, data: dict[str, Any] | None = None) -> None:
    """Nothing written, created or deleted in CANARY since ``before``."""
    files, stamps = canary_view()
    changed = sorted(k for k in set(files) | set(before[0])
                     if files.get(k) != before[0].get(k))
    assert changed == [], (f"fleet wrote or deleted through the link in {CANARY}: "
                           f"{changed}\n{_hosts(data)}")
    assert stamps == before[1], f"{CANARY} was changed through the link\n{_hosts(data)}"


def assert_honest(code: int, data: dict[str, Any], err: str, *, back_to: Manifest,
                  clean_exit: int) -> None:
    """The verdict on links-01 matches the host: ``rolled_back`` (exit ``clean_exit``)
    only if the target is ``back_to`` byte for byte; otherwise ``rollback_failed``,
    exit 3, and the host named as needing a person."""
    host = by_name(data)[LINKS_HOST]
    if host["status"] == "rolled_back":
        assert code == clean_exit, err
        assert manifest(LINKS_HOST, SHARED) == back_to, \
            f"reported rolled_back, but the target is not as it was\n{_hosts(data)}"
    else:
        assert host["status"] == "rollback_failed", f"{err}\n{_hosts(data)}"
        assert code == 3, err
        assert f"needs a person: {LINKS_HOST}" in err, err


def _hosts(data: dict[str, Any] | None) -> str:
    if data is None:
        return ""
    return "\n".join(f"  {h['name']}: {h['status']} {h.get('failed_step') or ''} "
                     f"{h['error'] or ''}" for h in data["hosts"])


def _committed() -> bool:
    """Whether links-01's root state names a release as current."""
    return exists(LINKS_HOST, f"{ROOT_STATE}/{NAME}/current")


@pytest.fixture
def shared_target(links_host: str) -> Iterator[Manifest]:
    """SHARED on links-01 (root:agents-share 2775, with ``sub/`` likewise) holding
    mallory's ``COMMON_WORKFLOW.md`` and ``sub/a.md`` (0775) and ``notes.md``, and
    CANARY (root's, ``b.md`` and ``keep.md``); yields SHARED's ``manifest()``.
    Removes both, mallory's leftovers, root's fleet state and staging afterwards."""
    _root(_CLEAN, SHARED, CANARY, ROOT_STATE)
    _root(_SEED_ROOT, SHARED, CANARY, SHARE_GROUP)
    as_mallory(_SEED_MALLORY, SHARED)
    seeded = manifest(links_host, SHARED)
    assert {FILE, "notes.md", "sub/", "sub/a.md"} == set(seeded)
    try:
        yield seeded
    finally:
        _root(_CLEAN, SHARED, CANARY, ROOT_STATE)


def _source(folder: Path, blob_mb: int = 0) -> Path:
    """The example's files plus ``sub/a.md`` (replaces mallory's) and ``sub/b.md``
    (created), and a random ``blob.bin`` of ``blob_mb`` MiB if asked (a slow stage)."""
    source = copy_example_source(folder)
    (source / "sub").mkdir()
    (source / "sub" / "a.md").write_text("# a, from the release\n")
    (source / "sub" / "b.md").write_text("# b, from the release\n")
    if blob_mb:
        (source / "blob.bin").write_bytes(os.urandom(blob_mb << 20))
    return source


def _playbook(tmp_path: Path, *, blob_mb: int = 0, **overrides: Any) -> Path:
    source = _source(tmp_path / "src", blob_mb)
    return write_playbook(tmp_path, source=str(source), files=None, target=SHARED,
                          timeouts=TIMEOUTS, **overrides)


def _inv(tmp_path: Path) -> tuple[str, str]:
    path = write_inventory(tmp_path, {LINKS_HOST: EXTRA_PORTS[LINKS_HOST]},
                           canaries=(LINKS_HOST,), all_vars={"ansible_become": True},
                           known_hosts=KNOWN_HOSTS_EXTRA, filename="links.yml")
    return "-i", str(path)


def _fleet(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    """``fleet ARGS --json`` with its run log under ``tmp_path/ctl``: (exit code,
    --json result, stderr)."""
    code, data, err = Controller(tmp_path / "ctl", *args).finish()
    assert data is not None, f"fleet {' '.join(args)}: no --json result (exit {code}):\n{err}"
    return code, data, err


def _roll_out(tmp_path: Path, playbook: Path, inv: tuple[str, str]) -> None:
    code, data, err = _fleet(tmp_path, "rollout", str(playbook), *inv)
    assert code == 0, f"{err}\n{_hosts(data)}"
    assert by_name(data)[LINKS_HOST]["status"] == "deployed"
    assert manifest(LINKS_HOST, SHARED)["sub/b.md"][0] != ""  # the release is on


# ----------------------------------------------------------------- fleet rollback --force


def test_with_no_link_planted_rollback_puts_the_shared_folder_back_exactly(
        tmp_path: Path, shared_target: Manifest) -> None:
    """The baseline of the attacks below: the same rollout and undo, nobody meddling."""
    playbook = _playbook(tmp_path)
    inv = _inv(tmp_path)
    canary = canary_view()
    _roll_out(tmp_path, playbook, inv)

    code, data, err = _fleet(tmp_path, "rollback", str(playbook), *inv, "--force")

    assert code == 0, f"{err}\n{_hosts(data)}"
    assert by_name(data)[LINKS_HOST]["status"] == "rolled_back"
    assert manifest(LINKS_HOST, SHARED) == shared_target  # sub/a.md included
    assert not _committed()
    assert_canary_untouched(canary, data)


def test_rollback_force_does_not_write_through_a_link_planted_at_a_deployed_file(
        tmp_path: Path, shared_target: Manifest) -> None:
    playbook = _playbook(tmp_path)
    inv = _inv(tmp_path)
    _roll_out(tmp_path, playbook, inv)
    as_mallory(PLANT_FILE_LINK, SHARED, CANARY)
    canary = canary_view()

    code, data, err = _fleet(tmp_path, "rollback", str(playbook), *inv)

    assert code == 3, f"{err}\n{_hosts(data)}"  # drift: refused without --force
    assert "--force" in by_name(data)[LINKS_HOST]["error"]
    assert_canary_untouched(canary, data)

    code, data, err = _fleet(tmp_path, "rollback", str(playbook), *inv, "--force")

    assert_canary_untouched(canary, data)
    assert_honest(code, data, err, back_to=shared_target, clean_exit=0)


def test_rollback_force_does_not_write_or_delete_through_a_swapped_sub_folder(
        tmp_path: Path, shared_target: Manifest) -> None:
    playbook = _playbook(tmp_path)
    inv = _inv(tmp_path)
    _roll_out(tmp_path, playbook, inv)
    # sub/a.md was replaced and sub/b.md created by the release: the undo would write
    # the one and delete the other, in CANARY if it followed the link
    as_mallory(SWAP_SUB, SHARED, CANARY)
    canary = canary_view()

    code, data, err = _fleet(tmp_path, "rollback", str(playbook), *inv, "--force")

    assert_canary_untouched(canary, data)
    assert_honest(code, data, err, back_to=shared_target, clean_exit=0)
    assert by_name(data)[LINKS_HOST]["status"] == "rollback_failed"  # sub cannot come back
    # a person puts the folder back; fleet then finishes the job
    _root('rm "$1/sub" && mv "$1/sub.mallory" "$1/sub"', SHARED)

    code, data, err = _fleet(tmp_path, "rollback", str(playbook), *inv, "--force")

    assert code == 0, f"{err}\n{_hosts(data)}"
    assert by_name(data)[LINKS_HOST]["status"] == "rolled_back"
    assert manifest(LINKS_HOST, SHARED) == shared_target
    assert not _committed()
    assert_canary_untouched(canary, data)


# ------------------------------------------------------------- fleet recover after a halt


def test_recover_after_a_halt_does_not_write_through_links_planted_meanwhile(
        tmp_path: Path, shared_target: Manifest) -> None:
    strategy = {**yaml.safe_load(EXAMPLE_PLAYBOOK.read_text())["strategy"],
                "on_failure": "halt"}
    failing = {"type": "command", "run": "exit 1", "timeout": 10}
    playbook = _playbook(tmp_path, strategy=strategy, extra_checks=[failing])
    inv = _inv(tmp_path)

    code, data, err = _fleet(tmp_path, "rollout", str(playbook), *inv)

    assert data["outcome"] == "halted", f"{err}\n{_hosts(data)}"
    assert by_name(data)[LINKS_HOST]["status"] == "failed"
    assert manifest(LINKS_HOST, SHARED) != shared_target  # left on the release for a person
    # while it waits for that person, mallory plants both kinds of link
    as_mallory(PLANT_FILE_LINK, SHARED, CANARY)
    as_mallory(SWAP_SUB, SHARED, CANARY)
    canary = canary_view()

    code, data, err = _fleet(tmp_path, "recover", str(playbook), *inv)

    assert_canary_untouched(canary, data)
    assert_honest(code, data, err, back_to=shared_target, clean_exit=0)


# ----------------------------------------------------------------------- in-run rollback


def test_in_run_rollback_after_a_failed_check_does_not_write_through_links_planted_during_it(
        tmp_path: Path, shared_target: Manifest) -> None:
    mark = token()
    ready, go = f"/tmp/fleet-links-ready-{mark}", f"/tmp/fleet-links-go-{mark}"
    # a check that fails after a while: long enough for mallory to plant her links
    # once the release is active
    slow_fail = {"type": "command", "timeout": 25,
                 "run": f"touch {ready}; while [ ! -e {go} ]; do sleep 0.1; done; exit 1"}
    playbook = _playbook(tmp_path, extra_checks=[slow_fail])
    inv = _inv(tmp_path)
    canary = canary_view()

    ctl = Controller(tmp_path / "ctl", "rollout", str(playbook), *inv)
    try:
        wait_until(lambda: exists(LINKS_HOST, ready) or ctl.proc.poll() is not None, 60,
                   what="the failing check running on links-01")
        assert ctl.proc.poll() is None, "the rollout ended before its check ran"
        as_mallory(PLANT_FILE_LINK, SHARED, CANARY)
        as_mallory(SWAP_SUB, SHARED, CANARY)
    finally:
        _root('touch "$1"', go)  # the check fails now, whatever happened above
        code, data, err = ctl.finish()

    assert data is not None, err
    assert_canary_untouched(canary, data)
    assert by_name(data)[LINKS_HOST]["status"] != "deployed", _hosts(data)
    assert_honest(code, data, err, back_to=shared_target, clean_exit=1)
    assert not _committed()


# ------------------------------------------------------- between preflight and activation


def test_sub_folder_swapped_for_a_link_during_stage_is_not_written_through_nor_committed(
        tmp_path: Path, shared_target: Manifest) -> None:
    playbook = _playbook(tmp_path, blob_mb=16)  # a stage of a few seconds
    inv = _inv(tmp_path)
    canary = canary_view()

    ctl = Controller(tmp_path / "ctl", "rollout", str(playbook), *inv)
    ctl.wait_event(event="StepStarted", host=LINKS_HOST, step="stage", timeout=60)
    # preflight saw a real folder "sub"; while the release uploads it becomes a link.
    # The controller is held still meanwhile (our own child, by its pid), so the
    # upload waits and activation cannot begin before the swap is done.
    ctl.signal(signal.SIGSTOP)
    try:
        early = [e for e in ctl.events()
                 if e["event"] == "StepStarted" and e.get("step") == "activate"]
        assert early == [], "activation began before the controller was held"
        as_mallory(SWAP_SUB, SHARED, CANARY)
    finally:
        ctl.signal(signal.SIGCONT)
    code, data, err = ctl.finish()

    assert data is not None, err
    assert_canary_untouched(canary, data)
    status = by_name(data)[LINKS_HOST]["status"]
    assert status in ("failed", "rolled_back", "rollback_failed"), f"{err}\n{_hosts(data)}"
    assert data["outcome"] != "success"
    assert code in (1, 3), err
    if code == 3:  # fleet would not roll back through the link either: a person is needed
        assert f"needs a person: {LINKS_HOST}" in err, err
    assert not _committed(), "validation followed the link and committed the release"
    if status == "rolled_back":  # everything but mallory's swap is as it was
        outside_sub = {k: v for k, v in manifest(LINKS_HOST, SHARED).items()
                       if not k.startswith("sub")}
        assert outside_sub == {k: v for k, v in shared_target.items()
                               if not k.startswith("sub")}
