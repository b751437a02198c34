"""ssh -G answers kept across runs: used only while nothing ssh read has changed.

Real ``ssh -G`` behind a wrapper that counts its calls; each "run" is a new
lookup with a new cache object over the same cache file, as in two fleet runs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fleet.transport.sshcache import AnswerCache, default_files, depends_on
from fleet.transport.sshlookup import OpenSshLookup

SSH = shutil.which("ssh")


@pytest.fixture
def counted_ssh(tmp_path: Path) -> tuple[str, Path]:
    assert SSH is not None, "openssh-client must be installed (scripts/test-fleet.sh does)"
    calls = tmp_path / "calls"
    wrapper = tmp_path / "ssh"
    wrapper.write_text(f'#!/bin/sh\necho x >> "{calls}"\nexec {SSH} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper), calls


def _run(ssh: str, config: Path, cache: Path, host: str = "web1") -> tuple[int, str]:
    """One run's lookup of ``host``: (its port, its hostname)."""
    lookup = OpenSshLookup(ssh, config, kept=AnswerCache(cache))
    lookup.prefetch([(host, None, "u")])
    found = lookup.lookup(host, None, "u")
    return found.port, found.hostname


def _calls(calls: Path) -> int:
    return len(calls.read_text().splitlines()) if calls.exists() else 0


def test_a_second_run_asks_ssh_nothing_until_the_config_changes(
        tmp_path: Path, counted_ssh: tuple[str, Path]) -> None:
    ssh, calls = counted_ssh
    config = tmp_path / "conf" / "ssh_config"
    config.parent.mkdir()
    config.write_text("Host web1\n  Port 2201\n  HostName 10.0.0.1\n")
    cache = tmp_path / "cache.json"
    assert _run(ssh, config, cache) == (2201, "10.0.0.1")
    assert _calls(calls) == 1
    assert _run(ssh, config, cache) == (2201, "10.0.0.1")
    assert _calls(calls) == 1  # kept
    # the same size, in the same clock tick: the content decides, not the mtime
    config.write_text("Host web1\n  Port 2202\n  HostName 10.0.0.1\n")
    assert _run(ssh, config, cache) == (2202, "10.0.0.1")
    assert _calls(calls) == 2


def test_a_file_added_where_an_include_matched_nothing_is_seen(
        tmp_path: Path, counted_ssh: tuple[str, Path]) -> None:
    ssh, calls = counted_ssh
    (tmp_path / "etc").mkdir()
    config = tmp_path / "etc" / "ssh_config"
    inc = tmp_path / "etc" / "conf.d"
    config.write_text(f"Include {inc}/*.conf\nHost *\n  Port 22\n")
    cache = tmp_path / "cache.json"
    assert _run(ssh, config, cache) == (22, "web1")
    assert _run(ssh, config, cache) == (22, "web1")
    assert _calls(calls) == 1
    inc.mkdir()  # the folder did not exist: its parent's names change
    (inc / "web.conf").write_text("Host web1\n  Port 2299\n")
    assert _run(ssh, config, cache) == (2299, "web1")
    # and a file added beside an included one
    (inc / "a.conf").write_text("Host web1\n  Port 2300\n")
    assert _run(ssh, config, cache) == (2300, "web1")
    assert _calls(calls) == 3


def test_an_included_file_changed_is_seen(tmp_path: Path,
                                          counted_ssh: tuple[str, Path]) -> None:
    ssh, calls = counted_ssh
    inc = tmp_path / "etc" / "conf.d"
    inc.mkdir(parents=True)
    (inc / "web.conf").write_text("Host web1\n  User alice\n  Port 2201\n")
    config = tmp_path / "etc" / "ssh_config"
    config.write_text(f"Host web*\n  Include {inc}/*.conf\n")
    cache = tmp_path / "cache.json"
    assert _run(ssh, config, cache) == (2201, "web1")
    assert _run(ssh, config, cache) == (2201, "web1")
    assert _calls(calls) == 1
    (inc / "web.conf").write_text("Host web1\n  User alice\n  Port 2209\n")
    assert _run(ssh, config, cache) == (2209, "web1")
    assert _calls(calls) == 2


@pytest.mark.parametrize("text", [
    "Match exec \"true\"\n  Port 2201\n",
    "Host web1\n  Port 2201\nMatch !exec \"false\"\n  User bob\n",
    "Host web1\n  IdentityFile ${HOME}/.ssh/k\n",
    "Host web1\n  CanonicalizeHostname yes\n",
])
def test_an_answer_that_may_depend_on_more_than_files_is_never_kept(
        tmp_path: Path, counted_ssh: tuple[str, Path], text: str) -> None:
    ssh, calls = counted_ssh
    config = tmp_path / "ssh_config"
    config.write_text(text)
    cache = tmp_path / "cache.json"
    _run(ssh, config, cache)
    _run(ssh, config, cache)
    assert _calls(calls) == 2


def test_a_damaged_cache_file_is_ignored_and_replaced(
        tmp_path: Path, counted_ssh: tuple[str, Path]) -> None:
    ssh, calls = counted_ssh
    config = tmp_path / "ssh_config"
    config.write_text("Host web1\n  Port 2201\n")
    cache = tmp_path / "cache.json"
    cache.write_bytes(b"\x00{not json")
    assert _run(ssh, config, cache) == (2201, "web1")
    assert _run(ssh, config, cache) == (2201, "web1")
    assert _calls(calls) == 1


def test_depends_on_reads_ssh_v() -> None:
    stderr = ("OpenSSH_9.2p1 Debian\n"
              "debug1: Reading configuration data /nonexistent/fleet/cfg\n")
    assert depends_on(stderr, "port 22\n") is None  # a file ssh read that cannot be read
    assert depends_on("debug1: x\n", "canonicalizehostname yes\n") is None
    assert depends_on("", "canonicalizehostname false\n") == []


def test_without_a_config_file_the_answer_depends_on_the_default_files_even_absent(
        tmp_path: Path, counted_ssh: tuple[str, Path]) -> None:
    """ssh -v names only the files it read: a ~/.ssh/config made later must count."""
    ssh, _ = counted_ssh
    cache = tmp_path / "cache.json"
    lookup = OpenSshLookup(ssh, None, kept=AnswerCache(cache))
    lookup.prefetch([("web1", 2201, "u")])
    entries = json.loads(cache.read_text())["entries"]
    (entry,) = entries.values()
    assert set(default_files()) <= set(entry["deps"])


def test_answers_whose_files_changed_are_dropped_when_the_cache_is_written(
        tmp_path: Path, counted_ssh: tuple[str, Path]) -> None:
    ssh, _ = counted_ssh
    cache = tmp_path / "cache.json"
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "ssh_config").write_text("Host web1\n  Port 2201\n")
        _run(ssh, tmp_path / name / "ssh_config", cache)
    assert len(json.loads(cache.read_text())["entries"]) == 2
    shutil.rmtree(tmp_path / "a")  # a test's temporary config, gone
    _run(ssh, tmp_path / "b" / "ssh_config", cache, host="web2")
    kept = json.loads(cache.read_text())["entries"]
    assert len(kept) == 2
    assert not any("/a/ssh_config" in key for key in kept)
