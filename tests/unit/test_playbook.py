"""fleet.config.playbook: the models, the defaults, and every bad input as one clear line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from fleet.config.playbook import (
    AccessTimeCheck,
    AccessTimeHealth,
    CommandCheck,
    ContainsCheck,
    MemoryCheck,
    MemoryHealth,
    NonEmptyCheck,
    Playbook,
    Strategy,
    check_target,
    load_playbook,
)
from fleet.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

BASE = """\
name: demo
source: files
target: ~/.claude/agents
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A playbook folder with files/ holding a.md, b.md and sub/deep/c.md."""
    files = tmp_path / "files"
    (files / "sub" / "deep").mkdir(parents=True)
    (files / "b.md").write_text("bee\n")
    (files / "a.md").write_text("MANDATORY\n")
    (files / "sub" / "deep" / "c.md").write_text("sea\n")
    (files / "sub" / "x.md").write_text("ex\n")
    return tmp_path


def load(tree: Path, text: str) -> Playbook:
    path = tree / "pb.yml"
    path.write_text(text)
    return load_playbook(path)


def test_minimal_playbook_gets_the_defaults(tree: Path) -> None:
    pb = load(tree, BASE)
    assert pb.name == "demo"
    assert pb.target == "~/.claude/agents"
    assert pb.path == tree / "pb.yml"
    assert pb.source_dir == (tree / "files").resolve()
    assert pb.source_dir.is_absolute()
    assert pb.files is None
    s = pb.strategy
    assert (s.canary, s.batch_size, s.forks, s.max_failures, s.on_failure, s.bake) == (
        1, "100%", 20, 0, "rollback_all", None)
    assert (pb.timeouts.connect, pb.timeouts.command) == (10.0, 120.0)
    assert pb.backup.keep == 5
    assert pb.checks == ()
    assert pb.health == ()


def test_default_file_list_is_every_file_sorted(tree: Path) -> None:
    assert load(tree, BASE).file_list == ("a.md", "b.md", "sub/deep/c.md", "sub/x.md")


def test_files_order_is_kept(tree: Path) -> None:
    pb = load(tree, BASE + "files: [sub/x.md, b.md, a.md]\n")
    assert pb.file_list == ("sub/x.md", "b.md", "a.md")
    assert pb.files == ("sub/x.md", "b.md", "a.md")


def test_symlink_inside_source_is_deployed(tree: Path) -> None:
    (tree / "files" / "link.md").symlink_to("a.md")
    assert "link.md" in load(tree, BASE).file_list
    assert load(tree, BASE + "files: [link.md]\n").file_list == ("link.md",)


def test_absolute_source_and_source_with_tilde(tree: Path, monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    other.mkdir()
    pb = load(tree, BASE.replace("source: files", f"source: {tree / 'files'}"))
    assert pb.source_dir == (tree / "files").resolve()
    monkeypatch.setenv("HOME", str(tree))
    assert load(tree, BASE.replace("source: files", "source: ~/files")).source_dir == \
        (tree / "files").resolve()


FULL = BASE + """\
files: [a.md, b.md]
strategy:
  canary: [dev-01, dev-02]
  batch_size: [2, "50%"]
  forks: 5
  max_failures: "10%"
  on_failure: rollback_failed
  bake: 1h30m
timeouts: {connect: 2.5, command: 60}
backup: {keep: 3}
checks:
  - {type: non_empty}
  - {type: contains, file: a.md, pattern: "MAND.*"}
  - {type: command, run: "test -s a.md"}
  - {type: access_time, max_ms: 50}
  - {type: memory, process: claude, max_mb: 50}
health:
  - {type: access_time, warn_ms: 10, critical_ms: 50}
  - {type: memory, process: claude, warn_mb: 15, critical_mb: 50}
  - {type: contains, file: b.md, pattern: bee}
"""


def test_full_playbook(tree: Path) -> None:
    pb = load(tree, FULL)
    s = pb.strategy
    assert s.canary == ("dev-01", "dev-02")
    assert s.batch_size == (2, "50%")
    assert (s.forks, s.max_failures, s.on_failure, s.bake) == (5, "10%", "rollback_failed",
                                                               5400.0)
    assert (pb.timeouts.connect, pb.timeouts.command, pb.backup.keep) == (2.5, 60.0, 3)
    assert [type(c).__name__ for c in pb.checks] == [
        "NonEmptyCheck", "ContainsCheck", "CommandCheck", "AccessTimeCheck", "MemoryCheck"]
    command = pb.checks[2]
    assert isinstance(command, CommandCheck)
    assert command.timeout == 30.0
    assert [type(c).__name__ for c in pb.health] == [
        "AccessTimeHealth", "MemoryHealth", "ContainsCheck"]


@pytest.mark.parametrize(("bake", "seconds"), [
    ("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("1h30m", 5400.0), ("2m30s", 150.0),
    ("0s", 0.0), (90, 90.0), (1.5, 1.5),
    # one grammar with the command line (fleet.config.units): these were refused before
    ("1.5h", 5400.0), ("90", 90.0), ("0", 0.0), (0, 0.0),
])
def test_bake_durations(bake: object, seconds: float) -> None:
    assert Strategy.model_validate({"bake": bake}).bake == seconds


@pytest.mark.parametrize(("target", "normal"), [
    ("~/.claude/agents/", "~/.claude/agents"),
    ("~/.claude/agents", "~/.claude/agents"),
    ("/opt//fleet/./agents//", "/opt/fleet/agents"),
    ("/home/bob/agents", "/home/bob/agents"),
    ("/srv", "/srv"),
    ("~/.local/share/agents", "~/.local/share/agents"),  # beside fleet's state: fine
    ("~/.local/state/fleet-demo", "~/.local/state/fleet-demo"),
    ("/opt/.local/state/fleet", "/opt/.local/state/fleet"),  # not in a home folder
])
def test_target_is_normalised(target: str, normal: str) -> None:
    assert check_target(target) == normal


def test_models_are_frozen(tree: Path) -> None:
    pb = load(tree, FULL)
    with pytest.raises(ValidationError, match="frozen"):
        pb.strategy.forks = 1  # type: ignore[misc]
    with pytest.raises(AttributeError):
        pb.name = "other"  # type: ignore[misc]


def test_example_playbook_loads() -> None:
    pb = load_playbook(REPO / "playbooks" / "agents-framework.yml")
    assert pb.name == "agents-framework"
    assert pb.target == "~/.claude/agents"
    assert pb.file_list[:3] == ("AGENT_COMMON_HEADER.md", "MANDATORY_FUNCTIONS.md",
                                "COMMON_WORKFLOW.md")
    assert len(pb.file_list) == 9
    assert sorted(pb.file_list) == sorted(p.name for p in pb.source_dir.iterdir())
    assert (pb.strategy.canary, pb.strategy.batch_size, pb.strategy.forks) == (1, 2, 20)
    assert [type(c) for c in pb.checks] == [NonEmptyCheck, ContainsCheck, CommandCheck,
                                            AccessTimeCheck, MemoryCheck]
    # the seed runbook's gates: above 50 ms or 50 MB rolls back
    assert pb.checks[3] == AccessTimeCheck(type="access_time", max_ms=50)
    assert pb.checks[4] == MemoryCheck(type="memory", process="claude", max_mb=50)
    assert pb.health == (AccessTimeHealth(type="access_time", warn_ms=5, critical_ms=50),
                         MemoryHealth(type="memory", process="claude", warn_mb=20,
                                      critical_mb=50))
    contains = pb.checks[1]
    assert isinstance(contains, ContainsCheck)
    assert contains.pattern in (pb.source_dir / contains.file).read_text()
    assert "Workflow" in (pb.source_dir / "COMMON_WORKFLOW.md").read_text()
    total = sum((pb.source_dir / name).stat().st_size for name in pb.file_list)
    assert 150_000 < total < 300_000


# Each case: the playbook text, the dotted field, its line, a piece of the message.
BAD: list[tuple[str, str, str | None, int | None, str]] = [
    ("yaml", BASE + "files: [a.md\n", None, 5, "invalid YAML"),
    ("dup key", BASE + "name: again\n", "name", 4, "duplicate key 'name'"),
    ("not a mapping", "- a\n", None, 1, "expected a mapping"),
    ("unknown top key", BASE + "targt: /x\n", "targt", 4,
     "unknown key 'targt'; did you mean 'target'? allowed keys: allow_special_modes, backup, "
     "checks, files"),
    ("unknown strategy key", BASE + "strategy:\n  batchsize: 2\n", "strategy.batchsize", 5,
     "allowed keys: bake, batch_size, canary, forks, max_failures, on_failure"),
    ("unknown check key", BASE + "checks:\n  - {type: non_empty}\n"
     "  - {type: access_time, max_ms: 5, warn: 1}\n", "checks[1].warn", 6,
     "unknown key 'warn'; allowed keys: max_ms, type"),
    ("health key in checks", BASE + "checks:\n  - {type: access_time, warn_ms: 5, "
     "critical_ms: 9}\n", "checks[0].warn_ms", 5, "unknown key 'warn_ms'"),
    ("max_ms in health", BASE + "health:\n  - {type: access_time, max_ms: 5}\n",
     "health[0].max_ms", 5, "allowed keys: critical_ms, type, warn_ms"),
    ("missing target", BASE.replace("target: ~/.claude/agents\n", ""), "target", 1,
     "required key missing; add 'target:'"),
    ("missing source", BASE.replace("source: files\n", ""), "source", 1, "add 'source:'"),
    ("forks text", BASE + "strategy: {forks: many}\n", "strategy.forks", 4,
     "expected an integer, got 'many' (a string)"),
    ("forks quoted", BASE + "strategy: {forks: '5'}\n", "strategy.forks", 4,
     "expected an integer, got '5'"),
    ("forks zero", BASE + "strategy: {forks: 0}\n", "strategy.forks", 4, ">= 1, got 0"),
    ("forks bool", BASE + "strategy: {forks: true}\n", "strategy.forks", 4, "got True"),
    ("canary negative", BASE + "strategy: {canary: -1}\n", "strategy.canary", 4,
     "expected an int >= 0 or a list of host names, got -1"),
    ("canary string", BASE + "strategy: {canary: dev-01}\n", "strategy.canary", 4,
     "list of host names, got 'dev-01'"),
    ("canary empty name", BASE + "strategy: {canary: ['']}\n", "strategy.canary", 4,
     "list of host names"),
    ("canary twice", BASE + "strategy: {canary: [a, a]}\n", "strategy.canary", 4,
     "named twice"),
    ("batch 0", BASE + "strategy: {batch_size: 0}\n", "strategy.batch_size", 4, "got 0"),
    ("batch 0%", BASE + "strategy: {batch_size: '0%'}\n", "strategy.batch_size", 4, "'0%'"),
    ("batch 150%", BASE + "strategy: {batch_size: '150%'}\n", "strategy.batch_size", 4,
     "(1..100)"),
    ("batch words", BASE + "strategy: {batch_size: half}\n", "strategy.batch_size", 4,
     "'half'"),
    ("batch empty list", BASE + "strategy: {batch_size: []}\n", "strategy.batch_size", 4,
     "empty list"),
    ("batch bad entry", BASE + "strategy: {batch_size: [1, x]}\n", "strategy.batch_size", 4,
     "got 'x'"),
    ("max_failures -1", BASE + "strategy: {max_failures: -1}\n", "strategy.max_failures", 4,
     "int >= 0"),
    ("max_failures 10", BASE + "strategy: {max_failures: '10'}\n", "strategy.max_failures", 4,
     "got '10'"),
    ("on_failure", BASE + "strategy: {on_failure: retry}\n", "strategy.on_failure", 4,
     "expected one of 'rollback_all', 'rollback_failed' or 'halt', got 'retry'"),
    ("bake words", BASE + "strategy:\n  bake: 5 minutes\n", "strategy.bake", 5,
     "expected a duration like 30s, 5m, 1h30m"),
    ("bake negative", BASE + "strategy:\n  bake: -5\n", "strategy.bake", 5, "duration"),
    ("connect zero", BASE + "timeouts:\n  connect: 0\n", "timeouts.connect", 5,
     "expected a number > 0, got 0 (an integer)"),
    ("command text", BASE + "timeouts:\n  command: 10s\n", "timeouts.command", 5,
     "expected a number, got '10s'"),
    ("keep zero", BASE + "backup:\n  keep: 0\n", "backup.keep", 5,
     "expected a number >= 1, got 0 (an integer)"),
    ("checks not a list", BASE + "checks: non_empty\n", "checks", 4, "expected a list"),
    ("check unknown type", BASE + "checks:\n  - {type: ping}\n", "checks[0]", 5,
     "unknown type 'ping'; allowed types: 'non_empty', 'contains'"),
    ("check without type", BASE + "checks:\n  - {file: a.md}\n", "checks[0]", 5,
     "missing 'type:'"),
    ("bad regex", BASE + "checks:\n  - {type: contains, file: a.md, pattern: '(x'}\n",
     "checks[0].pattern", 5, "not a valid regular expression"),
    ("contains missing pattern", BASE + "checks:\n  - type: contains\n    file: a.md\n",
     "checks[0].pattern", 5, "add 'pattern:'"),
    ("contains other file", BASE + "files: [a.md]\nchecks:\n  - type: contains\n"
     "    file: b.md\n    pattern: x\n", "checks[0].file", 7, "'b.md' is not a deployed file"),
    ("health contains other file", BASE + "health:\n  - {type: contains, file: zz.md, "
     "pattern: x}\n", "health[0].file", 5, "'zz.md' is not a deployed file"),
    ("command empty", BASE + "checks:\n  - {type: command, run: ''}\n", "checks[0].run", 5,
     "expected a non-empty string, got ''"),
    ("access_time zero", BASE + "checks:\n  - {type: access_time, max_ms: 0}\n",
     "checks[0].max_ms", 5, "> 0, got 0"),
    ("memory no process", BASE + "checks:\n  - {type: memory, max_mb: 5}\n",
     "checks[0].process", 5, "add 'process:'"),
    ("warn above critical", BASE + "health:\n  - {type: access_time, warn_ms: 60, "
     "critical_ms: 50}\n", "health[0]", 5, "warn_ms (60) must be <= critical_ms (50)"),
    ("mem warn above critical", BASE + "health:\n  - {type: memory, process: c, warn_mb: 9, "
     "critical_mb: 5}\n", "health[0]", 5, "warn_mb (9) must be <= critical_mb (5)"),
    ("name bad", BASE.replace("name: demo", "name: -demo"), "name", 1, "must start with"),
    ("name slash", BASE.replace("name: demo", "name: a/b"), "name", 1, "letters, digits"),
    ("name number", BASE.replace("name: demo", "name: 7"), "name", 1, "expected a string"),
    ("source missing", BASE.replace("source: files", "source: nope"), "source", 2,
     "not found; source is relative to the playbook's folder"),
    ("source is a file", BASE.replace("source: files", "source: files/a.md"), "source", 2,
     "is not a folder"),
    ("files empty", BASE + "files: []\n", "files", 4, "empty list"),
    ("files absolute", BASE + "files:\n  - a.md\n  - /etc/passwd\n", "files[1]", 6,
     "is absolute"),
    ("files dotdot", BASE + "files:\n  - ../pb.yml\n", "files[0]", 5, "climbs out"),
    ("files inner dotdot", BASE + "files:\n  - sub/../a.md\n", "files[0]", 5, "climbs out"),
    ("files empty name", BASE + "files:\n  - ''\n", "files[0]", 5, "empty file name"),
    ("files dot", BASE + "files:\n  - ./a.md\n", "files[0]", 5, "'.' component"),
    ("files double slash", BASE + "files:\n  - sub//x.md\n", "files[0]", 5, "empty or '.'"),
    ("files not text", BASE + "files:\n  - 3\n", "files[0]", 5, "expected a string"),
    ("files twice", BASE + "files:\n  - a.md\n  - b.md\n  - a.md\n", "files[2]", 7,
     "listed twice (also files[0])"),
    ("files missing", BASE + "files:\n  - a.md\n  - nope.md\n", "files[1]", 6, "not found"),
    ("files directory", BASE + "files:\n  - sub\n", "files[0]", 5, "is a directory"),
    ("target twice", BASE + "target: /x\n", "target", 4, "duplicate key"),
    # Hostile or absurd numbers: one line, never a traceback later.
    ("command inf", BASE + "timeouts:\n  command: .inf\n", "timeouts.command", 5,
     "expected a finite number, got inf"),
    ("command nan", BASE + "timeouts:\n  command: .nan\n", "timeouts.command", 5,
     "expected a finite number, got nan"),
    ("command negative", BASE + "timeouts:\n  command: -5\n", "timeouts.command", 5,
     "expected a number > 0, got -5"),
    ("command huge", BASE + "timeouts:\n  command: 1.0e+300\n", "timeouts.command", 5,
     "expected a number <= 86400, got 1e+300"),
    ("connect inf", BASE + "timeouts:\n  connect: .inf\n", "timeouts.connect", 5,
     "finite number"),
    ("check timeout inf", BASE + "checks:\n  - {type: command, run: 'true', timeout: .inf}\n",
     "checks[0].timeout", 5, "finite number"),
    ("max_ms inf", BASE + "checks:\n  - {type: access_time, max_ms: .inf}\n",
     "checks[0].max_ms", 5, "finite number"),
    ("critical_mb huge", BASE + "health:\n  - {type: memory, process: c, warn_mb: 1, "
     "critical_mb: 1.0e+300}\n", "health[0].critical_mb", 5, "expected a number <= "),
    ("bake inf", BASE + "strategy:\n  bake: .inf\n", "strategy.bake", 5,
     "expected at most 7 days, got inf"),
    ("bake hours", BASE + "strategy:\n  bake: 99999999h\n", "strategy.bake", 5,
     "expected at most 7 days"),
    ("keep huge", BASE + "backup:\n  keep: 1000000000000\n", "backup.keep", 5,
     "expected a number <= 1000, got 1000000000000"),
    ("files trailing newline", BASE + 'files:\n  - "a.md\\n"\n', "files[0]", 5,
     "ends a name with a newline"),
    ("files folder trailing newline", BASE + 'files:\n  - "sub\\n/x.md"\n', "files[0]", 5,
     "ends a name with a newline"),
    ("files long name", BASE + f"files:\n  - {'a' * 256}.md\n", "files[0]", 5,
     "too long for a host's file system"),
    ("files long path", BASE + f"files:\n  - {'a/' * 2048}x.md\n", "files[0]", 5,
     "too long for a host's file system"),
]

TARGETS = [
    ("", "empty target"), ("   ", "empty target"), ("/", "root or a home folder"),
    ("//", "root or a home folder"), ("~", "root or a home folder"),
    ("~/", "root or a home folder"), ("~/.", "root or a home folder"),
    ("$HOME", "shell variable"), ("$HOME/agents", "shell variable"),
    ("/root", "home folder"), ("/root/", "home folder"), ("/home/bob", "home folder"),
    ("/home/bob/", "home folder"), ("/Users/alice", "home folder"),
    ("relative/path", "is relative"), ("~bob/agents", "is relative"),
    ("~/a/../b", "contains '..'"), ("/opt/..", "contains '..'"),
    ("/opt/a\nb", "control character"),
    ("~/.local/state/fleet", "fleet's own state folder"),
    ("~/.local/state/fleet/demo", "fleet's own state folder"),
    ("~/.local/state/fleet/demo/backups", "fleet's own state folder"),
    ("~/.local/state", "fleet's own state folder"), ("~/.local", "fleet's own state folder"),
    ("~/.local/state/", "fleet's own state folder"),
    ("~//.local/./state/fleet", "fleet's own state folder"),
    ("/home/bob/.local/state/fleet/x", "fleet's own state folder"),
    ("/root/.local", "fleet's own state folder"),
    ("/Users/alice/.local/state", "fleet's own state folder"),
    ("~/.Local/State/Fleet", "fleet's own state folder"),  # one folder on macOS
]
BAD += [
    (f"target {t!r}", BASE.replace("target: ~/.claude/agents", f"target: {json.dumps(t)}"),
     "target", 3, message)
    for t, message in TARGETS
]


@pytest.mark.parametrize(("text", "field", "line", "message"),
                         [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_input_is_one_clear_line(tree: Path, text: str, field: str | None,
                                     line: int | None, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tree, text)
    error = info.value
    path = str(tree / "pb.yml")
    assert error.file == path
    assert error.field == field
    assert error.line == line
    assert message in error.message
    rendered = error.render()
    assert rendered.startswith(f"{path}:{line}: " + (f"{field}: " if field else ""))
    assert "\n" not in rendered


def test_file_symlinked_outside_source_is_refused(tree: Path) -> None:
    (tree / "secret.md").write_text("s")
    (tree / "files" / "escape.md").symlink_to(tree / "secret.md")
    with pytest.raises(ConfigError) as info:
        load(tree, BASE + "files:\n  - a.md\n  - escape.md\n")
    assert (info.value.field, info.value.line) == ("files[1]", 6)
    assert "outside source" in info.value.message
    with pytest.raises(ConfigError) as info:
        load(tree, BASE)  # the default list refuses it too
    assert info.value.field == "source"
    assert "escape.md" in info.value.message


def test_symlinked_folder_escaping_is_refused(tree: Path) -> None:
    (tree / "outside").mkdir()
    (tree / "outside" / "o.md").write_text("o")
    (tree / "files" / "lnk").symlink_to(tree / "outside")
    with pytest.raises(ConfigError, match="outside source"):
        load(tree, BASE + "files: [lnk/o.md]\n")
    assert "lnk/o.md" not in load(tree, BASE).file_list  # symlinked folders are not walked


def test_broken_symlink_in_source_is_refused(tree: Path) -> None:
    (tree / "files" / "dangling.md").symlink_to(tree / "files" / "gone.md")
    with pytest.raises(ConfigError, match="not found") as info:
        load(tree, BASE)
    assert info.value.field == "source"


def test_empty_source_is_refused(tree: Path) -> None:
    (tree / "empty").mkdir()
    with pytest.raises(ConfigError, match="no files under") as info:
        load(tree, BASE.replace("source: files", "source: empty"))
    assert (info.value.field, info.value.line) == ("source", 2)


def test_missing_playbook(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found") as info:
        load_playbook(tmp_path / "nope.yml")
    assert info.value.file == str(tmp_path / "nope.yml")


def test_discovered_name_with_a_newline_is_deployable(tree: Path) -> None:
    (tree / "files" / "odd\nname ü.md").write_text("x")
    assert "odd\nname ü.md" in load(tree, BASE).file_list


def test_fifo_in_source_is_skipped(tree: Path) -> None:
    os.mkfifo(tree / "files" / "pipe")
    assert "pipe" not in load(tree, BASE).file_list


def test_a_discovered_file_name_that_is_not_utf8_is_refused(tree: Path) -> None:
    os.close(os.open(os.fsencode(tree / "files") + b"/bad\xff.md", os.O_CREAT | os.O_WRONLY))
    with pytest.raises(ConfigError) as info:
        load(tree, BASE)
    assert (info.value.field, info.value.line) == ("source", 2)
    assert "is not a UTF-8 file name; rename the file" in info.value.message


def test_a_discovered_name_ending_in_a_newline_is_refused(tree: Path) -> None:
    (tree / "files" / "sub" / "trailing\n").write_text("x")
    with pytest.raises(ConfigError, match="ends a name with a newline") as info:
        load(tree, BASE)
    assert info.value.field == "source"


def test_a_symlink_loop_in_source_is_one_line(tree: Path) -> None:
    (tree / "files" / "loop.md").symlink_to(tree / "files" / "loop.md")
    with pytest.raises(ConfigError) as info:
        load(tree, BASE)
    assert info.value.field == "source"
    assert "loop.md" in info.value.message
