"""Rendering step scripts and parsing their answers: pure, no host."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet.config.playbook import AccessTimeCheck, CommandCheck, MemoryCheck, NonEmptyCheck
from fleet.config.release import Release, ReleaseFile
from fleet.errors import RollbackFailed, RunIsLive, StepFailed
from fleet.remote import activate, commit, prepare, probe, rollback, stage
from fleet.remote.checks import host_limit, judge
from fleet.remote.context import DeployContext
from fleet.remote.script import assign
from fleet.results import CommandResult


def make_ctx(tmp_path: Path, names: tuple[str, ...] = ("a.md", "sub/b c.md")) -> DeployContext:
    files = []
    for name in names:
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
        files.append(ReleaseFile(name, path, "0" * 64, 0o644, len(name)))
    release = Release("abcd1234", tuple(files))
    return DeployContext("demo", "~/agents", "run-1", release,
                         checks=(NonEmptyCheck(type="non_empty"),
                                 CommandCheck(type="command", run="echo '$(x)'")))


def out(text: str, code: int = 0, stderr: str = "") -> CommandResult:
    return CommandResult("sh", code, text, stderr, 0.01)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\0"),
               max_size=40))
def test_assign_round_trips_any_value_through_sh(value: str) -> None:
    script = assign("X", value) + '\nprintf %s "$X"'
    done = subprocess.run(["sh", "-c", script], capture_output=True, check=True)
    assert done.stdout.decode("utf-8", "surrogateescape") == value


@pytest.mark.parametrize("name", ["", "x", "1A", "A-B", "A B"])
def test_assign_refuses_bad_variable_names(name: str) -> None:
    with pytest.raises(ValueError, match="bad shell variable name"):
        assign(name, "v")


def test_every_rendered_script_is_valid_sh(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    scripts = [prepare.script(ctx), stage.script(ctx, b""), activate.script(ctx),
               commit.script(ctx), probe.script("demo", "~/x", ctx.release),
               rollback.script("demo", "~/x", "r2", "r1", force=False)]
    for script in scripts:
        done = subprocess.run(["sh", "-n", "-c", script.text], capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, (script.name, done.stderr)
        assert "sub/b c.md" not in script.text or "'sub/b c.md'" in script.text


def test_stage_tar_puts_each_file_in_its_index_folder_under_its_basename(
        tmp_path: Path) -> None:
    import io
    import tarfile
    ctx = make_ctx(tmp_path)
    with tarfile.open(fileobj=io.BytesIO(stage.pack(ctx.release, mtime=0))) as tar:
        assert tar.getnames() == ["0/a.md", "1/b c.md"]
        assert [m.mode for m in tar.getmembers()] == [0o644, 0o644]


def test_prepare_answers(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    assert prepare.parse(out("UNCHANGED run-0\n"), ctx, "h") == prepare.Unchanged("run-0")
    assert prepare.parse(out("LOCKED run-9\n", 1), ctx, "h") == prepare.Locked("run-9")
    ready = prepare.parse(out("STEP preflight\nSTEP backup\nFILE 0 replace\nFILE 1 create\n"
                              "READY\n"), ctx, "h")
    assert ready == prepare.Ready(created=("sub/b c.md",), replaced=("a.md",))
    with pytest.raises(StepFailed, match=r"not enough free space: 10 KiB free, 99 KiB") as info:
        prepare.parse(out("STEP preflight\nERR space 10 99\n", 1), ctx, "h")
    assert info.value.step == "preflight"
    with pytest.raises(StepFailed, match=r"backup copy of 'sub/b c.md'") as info:
        prepare.parse(out("STEP preflight\nSTEP backup\nERR backup-verify 1\n", 1), ctx, "h")
    assert info.value.step == "backup"


def test_activate_names_each_failed_check(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    ok = "STEP activate\nSTEP validate\nCHECK 0 OK\nCHECK 1 EXIT 0\nVALIDATED\n"
    assert [o.ok for o in activate.parse(out(ok), ctx, "h").outcomes] == [True, True]
    bad = ("STEP activate\nSTEP validate\nCHECK sha FAIL 1\nCHECK 0 FAIL 1\nCHECK 1 EXIT 3\n"
           "VALIDATED\n")
    with pytest.raises(StepFailed) as info:
        activate.parse(out(bad, stderr="rc-file noise\noutput: boom\nlate noise"), ctx, "h")
    assert info.value.step == "validate"
    assert "'sub/b c.md' on the host does not match" in info.value.message
    assert "non_empty failed: sub/b c.md is empty" in info.value.message
    assert "exited 3" in info.value.message
    assert "(output: boom)" in info.value.message
    assert "noise" not in info.value.message
    with pytest.raises(StepFailed) as info:
        activate.parse(out("STEP activate\nERR activate 0\n", 1), ctx, "h")
    assert info.value.step == "activate"
    assert "'a.md'" in info.value.message


def test_activate_says_whether_the_host_committed_in_the_same_round_trip(
        tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    checks = "STEP activate\nSTEP validate\nCHECK 0 OK\nCHECK 1 EXIT 0\nVALIDATED\n"
    assert activate.parse(out(checks), ctx, "h").committed is False
    done = activate.parse(out(checks + "STEP commit\nCOMMITTED\n"), ctx, "h")
    assert done.committed is True
    # the commit part failed: the checks still passed, the commit step is sent alone
    lost = activate.parse(out(checks + "STEP commit\nERR lost-lock other\n", 1), ctx, "h")
    assert lost.committed is False
    assert [o.ok for o in lost.outcomes] == [True, True]


@pytest.mark.parametrize(("max_ms", "raw", "ok"), [
    (0.29, 290, True), (0.29, 291, False), (50, 50_000, True), (50, 50_001, False),
    (0.001, 1, True), (0.001, 2, False)])
def test_host_limit_agrees_with_the_judge(max_ms: float, raw: int, ok: bool) -> None:
    check = AccessTimeCheck(type="access_time", max_ms=max_ms)
    limit = host_limit(check)
    assert limit is not None
    assert (raw <= limit) is ok
    assert judge(check, ["VALUE", str(raw)]).ok is ok


def test_a_check_that_gives_no_answer_fails(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    with pytest.raises(StepFailed, match="no answer"):
        activate.parse(out("STEP validate\nCHECK 0 OK\nVALIDATED\n"), ctx, "h")


@pytest.mark.parametrize(("check", "words", "ok", "text"), [
    (AccessTimeCheck(type="access_time", max_ms=5), ["VALUE", "4000"], True, ""),
    (AccessTimeCheck(type="access_time", max_ms=5), ["VALUE", "6000"], False, "6.0 ms > 5 ms"),
    (AccessTimeCheck(type="access_time", max_ms=5), ["UNSUPPORTED", "clock"], False,
     "no sub-millisecond clock"),
    (MemoryCheck(type="memory", process="claude", max_mb=5), ["UNSUPPORTED", "ps"], False,
     "ps cannot list"),
    (AccessTimeCheck(type="access_time", max_ms=5), ["UNSUPPORTED"], False,
     "cannot measure"),
    (MemoryCheck(type="memory", process="claude", max_mb=1), ["VALUE", "1024"], True, ""),
    (MemoryCheck(type="memory", process="claude", max_mb=1), ["VALUE", "2048"], False, "2.0 MB"),
    (CommandCheck(type="command", run="x", timeout=3), ["EXIT", "124"], False, "timed out"),
    (CommandCheck(type="command", run="x"), ["EXIT", "0"], True, ""),
    (NonEmptyCheck(type="non_empty"), [], False, "no answer"),
])
def test_judge(check: object, words: list[str], ok: bool, text: str) -> None:
    outcome = judge(check, words)  # type: ignore[arg-type]
    assert outcome.ok is ok
    assert text in outcome.message


def test_commit_and_stage_failures_say_why(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    commit.parse(out("COMMITTED\n"), ctx, "h")
    with pytest.raises(StepFailed, match="no longer ours"):
        commit.parse(out("ERR lost-lock other\n", 1), ctx, "h")
    with pytest.raises(StepFailed, match="disk full"):
        stage.parse(out("ERR untar\n", 1, "tar: write error\n"), ctx, "h")


def test_probe_and_rollback_answers() -> None:
    state = probe.parse(out("CURRENT r2 run-2 2026-01-01T00:00:00Z\nLOCK run-3\n"
                            "BACKUP run-1 r1 1 -\nBACKUP run-2 r2 1 r1\n"
                            "FILE 0 absent\nFILE 1 " + "a" * 64 + " 644\nPROBED\n"), "h")
    assert state.current == probe.Current("r2", "run-2", "2026-01-01T00:00:00Z")
    assert state.lock == "run-3"
    assert state.backup_of("run-2") == probe.Backup("run-2", "r2", True, "r1")
    assert state.files[1].mode == 0o644
    assert rollback.parse(out("ROLLED_BACK r1 run-1\n"), "h") == rollback.RolledBack("r1", "run-1")
    assert rollback.parse(out("ROLLED_BACK - -\n"), "h") == rollback.RolledBack(None, None)
    with pytest.raises(RunIsLive, match=r"held by live run run-7.*nothing was touched"):
        rollback.parse(out("LOCKED run-7\n", 1), "h")
    with pytest.raises(RunIsLive, match="run-8"):
        rollback.parse(out("LIVE run-8\n", 1), "h")
    with pytest.raises(RollbackFailed, match=r"use --force .*'x y\.md'"):
        rollback.parse(out("ERR drift 1\n", 1, "changed since deployed: x y.md\n"), "h")
