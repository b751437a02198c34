"""The reliability invariant of issue 3, as ONE assertion every fault scenario ends with.

After fleet has finished (and, where the scenario says so, after ``fleet
rollback`` or ``fleet recover``), on every host:

* the target folder is byte-identical (content AND mode of every file and
  folder, the whole folder, unrelated files included) either to its state
  before the run or to the new release laid over that state — never a mix;
* fleet's ``current`` record agrees with that: unchanged when the host is as
  before, naming the release (and a committed backup of the run) when the
  host is on the release;
* no lock, no staging folder, no temporary file is left behind: fleet's state
  folder holds only ``current`` and ``backups/``, and the target's parent
  folder holds exactly what it held before (no ``.fleet-stage-*``);
* the backups the policy keeps are intact: every backup is committed, holds
  its release id, and each saved copy still matches the sha256 and mode
  recorded for it; no more than ``backup.keep`` are kept; a host back to its
  state before has exactly the backups it had before, byte for byte; a host on
  the release kept every older backup the policy keeps, byte for byte.

Usage::

    before = take_snapshot()
    ... run the fault scenario ...
    where = assert_invariant(before, release_of(playbook))
    assert where["dev-03"] == "before"

``assert_invariant`` returns, per host, the label of the state it matched
("before", the release id, or a ``FleetState``'s label), so a scenario can
then say which hosts must be where.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from testfleet_helpers import (
    HOSTS,
    TARGET,
    container,
    exec_demuxed,
    home_of,
    manifest_of_tar,
)

Manifest = dict[str, tuple[str, int]]

NAME = "agents-framework"
"""Deployment name of the example playbook (and of every variant the tests write)."""


# --------------------------------------------------------------------------- snapshots


@dataclass(frozen=True)
class HostSnap:
    """What the invariant compares on one host.

    ``target``: manifest of the target folder; ``parent``: manifest of the
    target's parent folder without the target's own subtree; ``current``: the
    bytes of fleet's ``current`` record (None: absent); ``state_entries``:
    top-level names in fleet's state folder; ``backups``: manifest of the
    ``backups/`` folder (every byte of every backup); ``records``: the bytes of
    each backup's small record files (``<run>/release``, ``<run>/e/<i>/meta``).
    """

    target: Manifest
    parent: Manifest
    current: bytes | None
    state_entries: tuple[str, ...]
    backups: Manifest
    records: dict[str, bytes] = field(default_factory=dict)

    def backup_runs(self) -> list[str]:
        """Run ids of the backups kept on the host, oldest first."""
        return sorted({k.split("/", 1)[0] for k in self.backups if "/" in k})


@dataclass(frozen=True)
class FleetState:
    """A snapshot of several hosts, labelled (e.g. "before", "seeded", "on A")."""

    label: str
    hosts: dict[str, HostSnap]
    target: str = TARGET
    name: str = NAME

    def __getitem__(self, host: str) -> HostSnap:
        return self.hosts[host]


@dataclass(frozen=True)
class ReleaseShape:
    """A release as the tests compute it, independently of fleet: its id and what
    it puts in the target (files -> (sha256, mode); folders it needs)."""

    id: str
    files: Manifest
    dirs: tuple[str, ...] = field(default=())

    def over(self, base: Manifest) -> Manifest:
        """The target's manifest after this release went on a host whose target was
        ``base``: every release file replaced or created, missing folders made
        (mode 0755 under umask 022), everything else as it was."""
        result = dict(base)
        for folder in self.dirs:
            result.setdefault(folder + "/", ("", 0o755))
        result.update(self.files)
        return result


def _state_dir(name: str, host: str) -> str:
    return f"{home_of(host)}/.local/state/fleet/{name}"


def _expand(target: str, host: str) -> str:
    """``target`` as a path on ``host`` ("~/" is tester's home there)."""
    return home_of(host) + target[1:] if target.startswith("~/") else target


def _tar_view(host: str, path: str, exclude: str | None = None,
              small: frozenset[str] = frozenset()) -> tuple[Manifest, dict[str, bytes]]:
    """``manifest()`` of folder ``path`` on ``host`` (without the top-level entry
    ``exclude``), plus the bytes of every file whose base name is in ``small``.
    Read as root by streaming tar out of the container; ({}, {}) if no folder."""
    ctr = container(host)
    if ctr.exec_run(["test", "-d", path]).exit_code != 0:
        return {}, {}
    argv = ["tar", "-C", path, "--no-wildcards"]
    if exclude is not None:
        argv.append(f"--exclude=./{exclude}")
    for _ in range(3):
        code, out, err = exec_demuxed(ctr, [*argv, "-cf", "-", "."])
        if code != 0:
            raise RuntimeError(f"{host}: tar of {path} failed: {err.decode(errors='replace')}")
        if out:  # a tar of a folder is never empty; docker exec, loaded, once gave nothing
            return manifest_of_tar(out, small)
    raise RuntimeError(f"{host}: tar of {path} gave no output three times")


def host_snap(host: str, target: str = TARGET, name: str = NAME) -> HostSnap:
    """Read one host's ``HostSnap`` (as root, through docker; never over SSH)."""
    target = _expand(target, host)
    state = _state_dir(name, host)
    parent_view, _ = _tar_view(host, os.path.dirname(target), exclude=os.path.basename(target))
    target_view, _ = _tar_view(host, target)
    state_view, records = _tar_view(host, state, small=frozenset({"current", "meta", "release"}))
    return _snap_of_views(parent_view, target_view, state_view, records)


def take_snapshot(hosts: Iterable[str] = HOSTS, *, label: str = "before", target: str = TARGET,
                  name: str = NAME) -> FleetState:
    """``HostSnap`` of every host (in parallel)."""
    names = list(hosts)
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        snaps = list(pool.map(lambda h: host_snap(h, target, name), names))
    return FleetState(label, dict(zip(names, snaps, strict=True)), target, name)


# --------------------------------------------------------------------------- releases


def release_from_files(files: dict[str, tuple[bytes, int]] | dict[str, Path]) -> ReleaseShape:
    """A ``ReleaseShape`` from release-name -> (bytes, mode) or -> source path."""
    manifest_: Manifest = {}
    for rel, spec in files.items():
        if isinstance(spec, Path):
            data, mode = spec.read_bytes(), spec.stat().st_mode & 0o7777
        else:
            data, mode = spec
        manifest_[rel] = (hashlib.sha256(data).hexdigest(), mode)
    lines = sorted(f"{n}\0{sha}\0{mode:o}\n" for n, (sha, mode) in manifest_.items())
    rid = hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()[:8]
    dirs = sorted({str(p) for n in manifest_ for p in Path(n).parents if str(p) != "."})
    return ReleaseShape(rid, manifest_, tuple(dirs))


def release_of(playbook: Path) -> ReleaseShape:
    """The release a playbook file describes (its ``source`` and ``files``, or every
    file under source, sorted), computed from the bytes on the controller."""
    data = yaml.safe_load(Path(playbook).read_text())
    source = Path(data["source"])
    if not source.is_absolute():
        source = Path(playbook).parent / source
    names = data.get("files")
    if names is None:
        names = sorted(p.relative_to(source).as_posix() for p in source.rglob("*")
                       if p.is_file())
    return release_from_files({n: source / n for n in names})


# --------------------------------------------------------------------------- the assertion


def _backup_problems(snap: HostSnap, keep: int) -> list[str]:
    """Every backup committed, holding its release id, its saved copies intact."""
    problems: list[str] = []
    runs = snap.backup_runs()
    if len(runs) > keep:
        problems.append(f"{len(runs)} backups kept, policy keeps {keep}: {runs}")
    for run in runs:
        files = {k[len(run) + 1:]: v for k, v in snap.backups.items() if k.startswith(run + "/")}
        if "committed" not in files:
            problems.append(f"backup {run} is not committed (an unfinished run's backup)")
        if not snap.records.get(f"{run}/release", b"").strip():
            problems.append(f"backup {run} has no release record")
        entries = sorted({k.split("/")[1] for k in files if k.startswith("e/") and k != "e/"})
        for entry in entries:
            if f"e/{entry}/name" not in files or f"e/{entry}/new" not in files:
                problems.append(f"backup {run} entry {entry} is incomplete")
            meta = snap.records.get(f"{run}/e/{entry}/meta")
            if meta is None:
                continue  # the run created this file: nothing saved
            if f"e/{entry}/old" not in files:
                problems.append(f"backup {run} entry {entry}: saved copy missing")
                continue
            mode_s, sha = [*meta.decode(errors="replace").split(), "?", "?"][:2]
            have_sha, have_mode = files[f"e/{entry}/old"]
            if have_sha != sha or format(have_mode, "o") != mode_s:
                problems.append(f"backup {run} entry {entry}: saved copy does not match its "
                                f"record ({have_sha[:12]} {have_mode:o} vs {sha[:12]} {mode_s})")
    return problems


def _diff(want: Manifest, have: Manifest) -> str:
    keys = sorted(set(want) | set(have))
    lines = []
    for k in keys:
        if want.get(k) != have.get(k):
            w = want.get(k)
            h = have.get(k)
            lines.append(f"    {k!r}: want {_short(w)} have {_short(h)}")
    return "\n".join(lines[:12]) + (f"\n    ... {len(lines) - 12} more" if len(lines) > 12
                                    else "")


def _short(entry: tuple[str, int] | None) -> str:
    if entry is None:
        return "absent"
    sha, mode = entry
    return f"{sha[:10] or 'dir'} {mode:o}"


def _current_release(current: bytes | None) -> tuple[str, str] | None:
    if current is None:
        return None
    lines = current.decode(errors="replace").splitlines()
    return (lines[0], lines[1]) if len(lines) >= 2 else ("?", "?")


def _check_host(host: str, before: HostSnap, now: HostSnap,
                allowed: Sequence[ReleaseShape | FleetState], keep: int) -> tuple[str, list[str]]:
    """Classify ``now`` and list what breaks the invariant on this host."""
    problems: list[str] = []
    if now.parent != before.parent:
        problems.append("the target's parent folder changed (staging or temp file left?):\n"
                        + _diff(before.parent, now.parent))
    stray = [e for e in now.state_entries if e not in ("current", "backups")]
    if stray:
        problems.append(f"left in fleet's state folder: {stray} (lock, staging or temp file)")
    problems += _backup_problems(now, keep)

    label = ""
    if now.target == before.target and now.current == before.current \
            and now.backups == before.backups:
        label = "before"
    for option in allowed:
        if label:
            break
        if isinstance(option, FleetState):
            snap = option.hosts.get(host)
            if snap is not None and (now.target, now.current, now.backups) == (
                    snap.target, snap.current, snap.backups):
                label = option.label
            continue
        if now.target != option.over(before.target):
            continue
        label = option.id
        cur = _current_release(now.current)
        if cur is None or cur[0] != option.id:
            problems.append(f"target holds release {option.id} but current says {cur}")
            continue
        run = cur[1]
        if f"{run}/committed" not in now.backups:
            problems.append(f"on release {option.id} but no committed backup of run {run}")
        if now.records.get(f"{run}/release", b"").strip() != option.id.encode():
            problems.append(f"the backup of run {run} does not name release {option.id}")
        # commit keeps the newest ``keep`` committed backups, this run's included
        old = [r for r in before.backup_runs() if f"{r}/committed" in before.backups]
        policy = old[max(0, len(old) - (keep - 1)):] if keep > 1 else []
        kept_old = [r for r in now.backup_runs() if r != run]
        if kept_old != policy:
            problems.append(f"older backups kept {kept_old}, policy (keep {keep}) says {policy}")
        for r in kept_old:
            a = {k: v for k, v in before.backups.items() if k.startswith(r + "/")}
            b = {k: v for k, v in now.backups.items() if k.startswith(r + "/")}
            if a != b:
                problems.append(f"older backup {r} changed:\n" + _diff(a, b))
    if not label:
        if now.target == before.target:
            problems.append("target is as before, but fleet's records changed: current "
                            f"{_current_release(before.current)} -> "
                            f"{_current_release(now.current)}, backups "
                            f"{before.backup_runs()} -> {now.backup_runs()}")
        else:
            nearest = [("before", before.target)]
            for option in allowed:
                if isinstance(option, ReleaseShape):
                    nearest.append((option.id, option.over(before.target)))
                elif host in option.hosts:
                    nearest.append((option.label, option.hosts[host].target))
            text = "\n".join(f"  vs {name}:\n{_diff(want, now.target)}"
                             for name, want in nearest)
            problems.append("target is neither its state before nor the release "
                            f"(a mix):\n{text}")
    return label or "MIXED", problems


def assert_invariant(before: FleetState, *allowed: ReleaseShape | FleetState,
                     keep: int = 5, hosts: Iterable[str] | None = None) -> dict[str, str]:
    """Assert issue 3's invariant on every host of ``before`` (or ``hosts``).

    ``allowed`` are the other states a host may be in: a ``ReleaseShape``
    (the release laid over the host's state before) or a ``FleetState``
    (exactly that snapshot, e.g. the seeded fleet a rollback goes back to).
    Returns host -> label of the state it is in ("before", a release id, or a
    FleetState's label).
    """
    names = list(hosts) if hosts is not None else list(before.hosts)
    now = take_snapshot(names, label="now", target=before.target, name=before.name)
    where: dict[str, str] = {}
    report: list[str] = []
    for host in names:
        label, problems = _check_host(host, before.hosts[host], now.hosts[host], allowed, keep)
        where[host] = label
        report += [f"{host}: {p}" for p in problems]
    assert not report, "invariant violated:\n" + "\n".join(report) + f"\nhosts: {where}"
    return where


# --------------------------------------------------------------------------- kill loop (issue 9)


def host_problems(host: str, before: HostSnap, now: HostSnap,
                  allowed: Sequence[ReleaseShape | FleetState], keep: int = 5
                  ) -> tuple[str, list[str]]:
    """The invariant on one host without raising: (label of the state it is in, or
    "MIXED"; what breaks the invariant). ``assert_invariant`` asserts the same."""
    return _check_host(host, before, now, allowed, keep)


def at_once_problems(before: HostSnap, now: HostSnap, release: ReleaseShape) -> list[str]:
    """What must hold at every instant, even mid-run or right after a kill, before any
    recovery: every file of the target is its content and mode before or the
    release's (none lost, none half-written); files the release does not name, and
    everything beside the target, are exactly as before; a folder the release
    makes may be there (mode 0755) or not. A host may be part-way between the two
    states (activation renames file by file); ``fleet recover`` finishes it.
    Returns the problems, each naming its files (empty: it holds)."""
    found: dict[str, list[str]] = {}
    for key in sorted(set(before.target) | set(now.target)):
        was, have = before.target.get(key), now.target.get(key)
        if have == was or have == release.files.get(key):
            continue
        if was is None and have == ("", 0o755) and key.rstrip("/") in release.dirs:
            continue
        if have is None:
            kind = "lost (was there before, now absent)"
        elif key in release.files:
            kind = "neither its content before nor the release's (half-written?)"
        elif was is None:
            kind = "appeared (the release does not name it)"
        else:
            kind = "changed (the release does not name it)"
        want = f"before {_short(was)}" + (f" or release {_short(release.files[key])}"
                              if key in release.files else "")
        found.setdefault(kind, []).append(f"    {key!r}: want {want}, have {_short(have)}")
    problems = [f"{len(lines)} file(s) {kind}:\n" + "\n".join(lines[:12])
                + (f"\n    ... {len(lines) - 12} more" if len(lines) > 12 else "")
                for kind, lines in found.items()]
    if now.parent != before.parent:
        problems.append("beside the target, its parent folder changed:\n"
                        + _diff(before.parent, now.parent))
    return problems


def _local_tar_view(path: Path, exclude: str | None = None,
                    small: frozenset[str] = frozenset()) -> tuple[Manifest, dict[str, bytes]]:
    """``_tar_view`` of a folder on this machine (a ``connection: local`` host)."""
    if not path.is_dir():
        return {}, {}
    argv = ["tar", "-C", str(path), "--no-wildcards"]
    if exclude is not None:
        argv.append(f"--exclude=./{exclude}")
    done = subprocess.run([*argv, "-cf", "-", "."], capture_output=True, check=False)
    # GNU tar's 1 is "file changed as we read it": a file renamed over while it was
    # read (activation); what it read is still one whole file.
    if done.returncode not in (0, 1):
        raise RuntimeError(f"tar of {path} failed: {done.stderr.decode(errors='replace')}")
    return manifest_of_tar(done.stdout, small)


def local_host_snap(home: Path, target: str, name: str) -> HostSnap:
    """``host_snap`` of a ``connection: local`` host whose HOME is ``home``
    (``target`` as the playbook writes it, e.g. ``~/site/agents``)."""
    where = home / target[2:] if target.startswith("~/") else Path(target)
    state = home / ".local" / "state" / "fleet" / name
    parent_view, _ = _local_tar_view(where.parent, exclude=where.name)
    target_view, _ = _local_tar_view(where)
    state_view, records = _local_tar_view(state, small=_RECORDS)
    return _snap_of_views(parent_view, target_view, state_view, records)


_RECORDS = frozenset({"current", "meta", "release"})

# $1 = the target's parent, $2 = fleet's state folder of the deployment (may be absent).
_ONE_TAR = """
cd / || exit 2
set -- "${1#/}" "${2#/}"
[ -e "$2" ] || set -- "$1"
[ -e "$1" ] || exit 0
exec tar --no-wildcards -cf - "$@"
"""


def quick_host_snap(host: str, target: str = TARGET, name: str = NAME) -> HostSnap:
    """``host_snap`` read with one ``docker exec`` (one tar of the target's parent and
    the state folder) instead of six: for loops that snapshot often. Tolerates tar's
    "file changed as we read it" (a file renamed over mid-read is still read whole)."""
    target = _expand(target, host)
    parent, state = os.path.dirname(target), _state_dir(name, host)
    code, out, err = exec_demuxed(container(host), ["sh", "-c", _ONE_TAR, "sh", parent, state])
    if code not in (0, 1):
        raise RuntimeError(f"{host}: tar of {parent} and {state} failed: "
                           f"{err.decode(errors='replace')}")
    views, records = manifest_of_tar(out, _RECORDS) if out else ({}, {})

    def under(prefix: str, skip: str | None = None) -> Manifest:
        root = prefix.lstrip("/") + "/"
        return {k[len(root):]: v for k, v in views.items() if k.startswith(root)
                and k != root and not (skip and (k + "/").startswith(skip.lstrip("/") + "/"))}

    in_state = state.lstrip("/") + "/"
    notes = {k[len(in_state):]: v for k, v in records.items() if k.startswith(in_state)}
    return _snap_of_views(under(parent, skip=target), under(target), under(state), notes)


def _snap_of_views(parent_view: Manifest, target_view: Manifest, state_view: Manifest,
                   records: dict[str, bytes]) -> HostSnap:
    """A ``HostSnap`` from the manifests of the target's parent (the target left out),
    the target and the state folder, and the state folder's small record files."""
    entries = tuple(sorted({k.split("/", 1)[0] for k in state_view}))
    backups = {k[len("backups/"):]: v for k, v in state_view.items()
               if k.startswith("backups/") and k != "backups/"}
    notes = {k[len("backups/"):]: v for k, v in records.items() if k.startswith("backups/")}
    return HostSnap(target=target_view, parent=parent_view, current=records.get("current"),
                    state_entries=entries, backups=backups, records=notes)
