"""Playbooks: what to roll out, where, in which order, and how to check it.

The YAML is validated by the pydantic models below (frozen, unknown keys
refused), then ``load_playbook`` checks the file system: the source folder
exists, every listed file is a regular file inside it, and every
``contains`` check names a release file. The result is a frozen ``Playbook``.

Example::

    playbook = load_playbook(Path("playbooks/agents-framework.yml"))
    playbook.file_list  # ("AGENT_COMMON_HEADER.md", "MANDATORY_FUNCTIONS.md", ...)
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)

from fleet.config.units import parse_duration, parse_percent
from fleet.config.validation import config_error_from_validation, describe
from fleet.config.yamlfile import YamlDoc, load_yaml
from fleet.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOME = re.compile(r"^(/root|/home/[^/]+|/Users/[^/]+)$")
_IN_HOME = re.compile(r"^(?:~|/root|/home/[^/]+|/Users/[^/]+)/(.*)$")
_STATE = (".local", "state", "fleet")  # fleet's own folder on every host: ~/.local/state/fleet
_NAME_MAX = 255  # bytes in one path component (NAME_MAX)
_PATH_MAX = 4095  # bytes in a whole relative name (PATH_MAX less the NUL)
MAX_SECONDS = 86_400.0  # a timeout longer than a day is a typo, or .inf
OnFailure = Literal["rollback_all", "rollback_failed", "halt"]
"""What a halt does to the touched hosts (``strategy.on_failure``)."""
MAX_BAKE = 7 * 86_400.0

Seconds = Annotated[float, Strict(), Field(gt=0, le=MAX_SECONDS, allow_inf_nan=False)]
Positive = Annotated[float, Strict(), Field(gt=0, le=1e9, allow_inf_nan=False)]
Text = Annotated[str, Field(min_length=1)]


def check_file_name(value: str) -> str:
    """Return ``value`` if it is a clean relative posix path; raise ``ValueError`` if not."""
    if not value:
        raise ValueError("empty file name; give a path relative to source, like sub/b.md")
    if value.startswith("/"):
        raise ValueError(f"{value!r} is absolute; give it relative to source")
    if "\x00" in value:  # any other character, newlines included, deploys intact
        raise ValueError(f"{value!r} contains a NUL character; rename the file")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:  # os.fsdecode keeps undecodable bytes as lone surrogates
        raise ValueError(f"{value!r} is not a UTF-8 file name; rename the file") from None
    parts = value.split("/")
    if ".." in parts:
        raise ValueError(f"{value!r} climbs out of source with '..'; name a file inside source")
    if "" in parts or "." in parts:
        raise ValueError(f"{value!r} has an empty or '.' component; write it like sub/b.md")
    if any(part.endswith("\n") for part in parts):
        raise ValueError(f"{value!r} ends a name with a newline, which the shell drops; "
                         "rename the file")
    longest = max(parts, key=lambda part: len(part.encode("utf-8")))
    if len(longest.encode("utf-8")) > _NAME_MAX or size > _PATH_MAX:
        raise ValueError(f"{value[:40]!r}… is too long for a host's file system (at most "
                         f"{_NAME_MAX} bytes a name, {_PATH_MAX} in all); rename it")
    return value


def check_target(value: str) -> str:
    """Return the normalised remote target folder; raise ``ValueError`` if it is unsafe.

    Accepts absolute paths and ``~/...`` (the remote user's home); refuses the
    root, a home folder itself, fleet's own state folder ``~/.local/state/fleet``
    (a folder inside it or holding it too), ``..``, shell variables and
    relative paths.
    """
    if not value.strip():
        raise ValueError("empty target; give a folder like ~/.claude/agents")
    if _CONTROL.search(value):
        raise ValueError(f"{value!r} contains a control character")
    if "$" in value:
        raise ValueError(f"{value!r} uses a shell variable; write ~/... for the remote home")
    if not (value.startswith("/") or value == "~" or value.startswith("~/")):
        raise ValueError(f"{value!r} is relative; make it absolute or start it with ~/")
    if ".." in value.split("/"):
        raise ValueError(f"{value!r} contains '..'; write the folder without it")
    normal = posixpath.normpath(re.sub("/+", "/", value))
    if normal in ("/", "~") or _HOME.match(normal):
        raise ValueError(
            f"{value!r} is the root or a home folder itself; give a folder inside it,"
            " like ~/.claude/agents"
        )
    inside = _IN_HOME.match(normal)
    below = inside[1].casefold().split("/") if inside else []
    if below and below[:len(_STATE)] == list(_STATE[:len(below)]):
        raise ValueError(f"{value!r} is, holds or is inside fleet's own state folder "
                         "~/.local/state/fleet; deploy to another folder")
    return normal


def _parse_duration(value: object) -> float | None:
    """Return seconds for a duration of :mod:`fleet.config.units` or a plain number of seconds;
    zero means no bake."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        seconds = float(value)
    else:
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            seconds = parse_duration(value, zero_ok=True)  # 0 / 0s: explicitly no bake
        except ValueError:
            raise ValueError(
                f"expected a duration like 30s, 5m, 1h30m, got {describe(value)}") from None
    if not seconds <= MAX_BAKE:  # also .inf
        raise ValueError(f"expected at most {MAX_BAKE / 86_400:g} days, got {describe(value)}")
    return seconds


def _size_entry(value: object, *, minimum: int, what: str) -> int | str:
    """Return an int >= ``minimum`` or a valid ``"P%"``; raise ``ValueError`` otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= minimum:
        return value
    if isinstance(value, str):
        try:
            if parse_percent(value) >= minimum:
                return value
        except ValueError:
            pass
    raise ValueError(f"expected {what}, got {describe(value)}")


class Strategy(BaseModel, frozen=True, extra="forbid"):
    """How hosts are scheduled and when the run halts."""

    canary: int | tuple[str, ...] = Field(
        default=1, description="First N selected hosts, or a list of host names, go first.")
    batch_size: int | str | tuple[int | str, ...] = Field(
        default="100%", description='Ansible serial: int, "25%", or a list like [2, "50%"].')
    forks: Annotated[int, Strict(), Field(ge=1)] = Field(
        default=20, description="Most hosts in flight at once.")
    max_failures: int | str = Field(
        default=0, description='Failed hosts tolerated before halting: int or "10%".')
    on_failure: OnFailure = Field(
        default="rollback_all", description="What a halt does to the touched hosts.")
    bake: float | None = Field(
        default=None, description="Seconds (from 30s/5m/1h30m) of canary health before batches.")

    @field_validator("canary", mode="before")
    @classmethod
    def _canary(cls, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        if isinstance(value, list | tuple) and all(isinstance(v, str) and v for v in value):
            if len(set(value)) != len(value):
                raise ValueError(f"a host is named twice in {value!r}")
            return tuple(value)
        raise ValueError(f"expected an int >= 0 or a list of host names, got {describe(value)}")

    @field_validator("batch_size", mode="before")
    @classmethod
    def _batch_size(cls, value: object) -> object:
        what = 'an int >= 1 or "P%" (1..100)'
        if isinstance(value, list | tuple):
            if not value:
                raise ValueError(f"empty list; give {what} or a list of them")
            return tuple(_size_entry(v, minimum=1, what=what) for v in value)
        return _size_entry(value, minimum=1, what=f"{what} or a list of them")

    @field_validator("max_failures", mode="before")
    @classmethod
    def _max_failures(cls, value: object) -> object:
        return _size_entry(value, minimum=0, what='an int >= 0 or "P%" (0..100)')

    @field_validator("bake", mode="before")
    @classmethod
    def _bake(cls, value: object) -> object:
        return _parse_duration(value)


class Timeouts(BaseModel, frozen=True, extra="forbid"):
    """Time limits in seconds."""

    connect: Seconds = Field(default=10.0, description="SSH connect timeout, seconds.")
    command: Seconds = Field(default=120.0, description="Limit per remote step, seconds.")


class Backup(BaseModel, frozen=True, extra="forbid"):
    """Backups kept on each host."""

    keep: Annotated[int, Strict(), Field(ge=1, le=1000)] = Field(
        default=5, description="Backups kept per host (1..1000); older ones are pruned.")


class NonEmptyCheck(BaseModel, frozen=True, extra="forbid"):
    """Every deployed file exists on the host and is non-empty."""

    type: Literal["non_empty"] = Field(description="Check kind.")


class ContainsCheck(BaseModel, frozen=True, extra="forbid"):
    """A deployed file matches a Python regular expression."""

    type: Literal["contains"] = Field(description="Check kind.")
    file: Annotated[str, AfterValidator(check_file_name)] = Field(
        description="One of the release files.")
    pattern: Text = Field(description="Extended regular expression (grep -E) searched in the file.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        # The host runs grep -E (POSIX ERE): refuse Perl-only syntax that would
        # silently mean something else there.
        for perl, ere in (("\\d", "[0-9]"), ("\\D", "[^0-9]"), ("(?", "a plain group")):
            if perl in value:
                raise ValueError(f"{perl!r} is not POSIX extended regex syntax (hosts run "
                                 f"grep -E); use {ere}")
        return value


class CommandCheck(BaseModel, frozen=True, extra="forbid"):
    """A shell command run in the target folder must exit 0."""

    type: Literal["command"] = Field(description="Check kind.")
    run: Text = Field(description="Shell text, run with the target folder as cwd.")
    timeout: Seconds = Field(default=30.0, description="Seconds before the check fails.")


class AccessTimeCheck(BaseModel, frozen=True, extra="forbid"):
    """Stat of the deployed files takes at most ``max_ms``."""

    type: Literal["access_time"] = Field(description="Check kind.")
    max_ms: Positive = Field(description="Most milliseconds allowed.")


class MemoryCheck(BaseModel, frozen=True, extra="forbid"):
    """Summed RSS of processes matching ``process`` is at most ``max_mb``."""

    type: Literal["memory"] = Field(description="Check kind.")
    process: Text = Field(description="Process name to match.")
    max_mb: Positive = Field(description="Most megabytes allowed.")


class AccessTimeHealth(BaseModel, frozen=True, extra="forbid"):
    """Health: access time with a warning and a critical level."""

    type: Literal["access_time"] = Field(description="Check kind.")
    warn_ms: Positive = Field(description="Warn above this many milliseconds.")
    critical_ms: Positive = Field(description="Critical above this many milliseconds.")

    @model_validator(mode="after")
    def _ordered(self) -> AccessTimeHealth:
        if self.warn_ms > self.critical_ms:
            raise ValueError(f"warn_ms ({self.warn_ms:g}) must be <= critical_ms "
                             f"({self.critical_ms:g})")
        return self


class MemoryHealth(BaseModel, frozen=True, extra="forbid"):
    """Health: memory of matching processes with a warning and a critical level."""

    type: Literal["memory"] = Field(description="Check kind.")
    process: Text = Field(description="Process name to match.")
    warn_mb: Positive = Field(description="Warn above this many megabytes.")
    critical_mb: Positive = Field(description="Critical above this many megabytes.")

    @model_validator(mode="after")
    def _ordered(self) -> MemoryHealth:
        if self.warn_mb > self.critical_mb:
            raise ValueError(f"warn_mb ({self.warn_mb:g}) must be <= critical_mb "
                             f"({self.critical_mb:g})")
        return self


Check = Annotated[
    NonEmptyCheck | ContainsCheck | CommandCheck | AccessTimeCheck | MemoryCheck,
    Field(discriminator="type"),
]
HealthCheck = Annotated[
    NonEmptyCheck | ContainsCheck | CommandCheck | AccessTimeHealth | MemoryHealth,
    Field(discriminator="type"),
]


class PlaybookSpec(BaseModel, frozen=True, extra="forbid"):
    """A playbook file exactly as written (no file-system checks yet)."""

    name: str = Field(description="Deployment name; keys all state on the hosts.")
    source: Text = Field(description="Local folder of the files, relative to the playbook.")
    target: Annotated[str, AfterValidator(check_target)] = Field(
        description="Folder on each host: absolute, or ~/... for the remote user's home.")
    files: tuple[Annotated[str, AfterValidator(check_file_name)], ...] | None = Field(
        default=None, description="Deploy order; omitted: every file under source, sorted.")
    strategy: Strategy = Field(default_factory=Strategy, description="Scheduling and halting.")
    timeouts: Timeouts = Field(default_factory=Timeouts, description="Time limits.")
    backup: Backup = Field(default_factory=Backup, description="Backups kept per host.")
    checks: tuple[Check, ...] = Field(default=(), description="Run after activation.")
    health: tuple[HealthCheck, ...] = Field(default=(), description="For monitor and bake.")
    allow_special_modes: Annotated[bool, Strict()] = Field(
        default=False, description="Deploy source files with setuid, setgid or sticky bits.")
    notify: tuple[str, ...] = Field(
        default=(), description="apprise URLs told of start, canary, halt, rollback, done.")

    @field_validator("notify", mode="before")
    @classmethod
    def _notify(cls, value: object) -> tuple[str, ...]:
        # Every message here leaves the value out: a URL may hold a token.
        urls = [value] if isinstance(value, str) else value
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ValueError("expected a list of apprise URLs (strings) like "
                             "[\"slack://…\"]; the value is not shown: it may hold a token")
        for i, url in enumerate(urls):
            if "://" not in url:
                raise ValueError(f"entry {i} is not a URL (scheme://…), as apprise takes; "
                                 "the value is not shown: it may hold a token")
        return tuple(urls)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} must start with a letter or digit and use only "
                             "letters, digits, '.', '_' and '-'")
        return value

    @field_validator("files")
    @classmethod
    def _files(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and not value:
            raise ValueError("empty list; list the files to deploy, or omit files for all")
        return value


@dataclass(frozen=True)
class Playbook:
    """A validated playbook with its source resolved and its deploy order fixed.

    ``target`` is normalised (no trailing slash); ``source_dir`` is absolute;
    ``file_list`` is the deploy order (relative posix paths inside source).
    """

    name: str
    source: str
    target: str
    path: Path
    source_dir: Path
    file_list: tuple[str, ...]
    files: tuple[str, ...] | None = None
    strategy: Strategy = field(default_factory=Strategy)
    timeouts: Timeouts = field(default_factory=Timeouts)
    backup: Backup = field(default_factory=Backup)
    checks: tuple[Check, ...] = ()
    health: tuple[HealthCheck, ...] = ()
    allow_special_modes: bool = False
    notify: tuple[str, ...] = ()
    """apprise URLs (they may hold tokens: never shown)."""


def load_playbook(path: Path) -> Playbook:
    """Load, validate and resolve the playbook at ``path``.

    Raises ``ConfigError`` naming the file, the dotted field and the line for
    invalid YAML, unknown keys, wrong types or values, a missing source
    folder, listed files that are missing, repeated, directories or outside
    source, and ``contains`` checks on a file that is not deployed.
    """
    doc = load_yaml(path)
    try:
        spec = PlaybookSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise config_error_from_validation(exc, str(path), doc, model=PlaybookSpec) from None
    source_dir = _source_dir(spec.source, path, doc)
    if spec.files is None:
        file_list = _discover(source_dir, str(path), doc)
    else:
        file_list = _check_listed(spec.files, source_dir, str(path), doc)
    for key, checks in (("checks", spec.checks), ("health", spec.health)):
        for i, check in enumerate(checks):
            if isinstance(check, ContainsCheck) and check.file not in file_list:
                raise ConfigError(
                    f"{check.file!r} is not a deployed file; name one of the release files",
                    file=str(path), field=f"{key}[{i}].file",
                    line=doc.nearest_line((key, i, "file")),
                )
    return Playbook(
        name=spec.name, source=spec.source, target=spec.target, path=path,
        source_dir=source_dir, file_list=file_list, files=spec.files, strategy=spec.strategy,
        timeouts=spec.timeouts, backup=spec.backup, checks=spec.checks, health=spec.health,
        allow_special_modes=spec.allow_special_modes, notify=spec.notify,
    )


def _source_dir(source: str, path: Path, doc: YamlDoc) -> Path:
    """Return the absolute source folder; raise ConfigError if it is not a folder."""
    given = Path(source).expanduser()
    folder = (given if given.is_absolute() else path.parent / given).resolve()
    line = doc.line_of(("source",))
    if not folder.exists():
        raise ConfigError(f"folder {folder} not found; source is relative to the playbook's "
                          "folder", file=str(path), field="source", line=line)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder; give the folder holding the files",
                          file=str(path), field="source", line=line)
    return folder


def _check_listed(
    files: tuple[str, ...], source_dir: Path, file: str, doc: YamlDoc,
) -> tuple[str, ...]:
    """Return ``files`` if each is a regular file inside source; raise ConfigError if not."""
    seen: dict[str, int] = {}
    for i, name in enumerate(files):
        problem = _file_problem(source_dir, name)
        if name in seen:
            problem = f"{name!r} is listed twice (also files[{seen[name]}]); keep one"
        if problem:
            raise ConfigError(problem, file=file, field=f"files[{i}]",
                              line=doc.nearest_line(("files", i)))
        seen[name] = i
    return files


def _file_problem(source_dir: Path, name: str) -> str | None:
    """Return why ``source_dir/name`` cannot be deployed, or None if it can."""
    full = source_dir / name
    try:
        check_file_name(name)
        resolved = full.resolve()
        if not resolved.is_relative_to(source_dir):
            return f"{name!r} resolves to {resolved}, outside source {source_dir}"
        if not resolved.exists():
            return f"{full} not found; list files that exist under source"
        if resolved.is_dir():
            return f"{name!r} is a directory; list the files inside it instead"
        if not resolved.is_file():
            return f"{name!r} is not a regular file"
    except ValueError as exc:
        return str(exc)
    except (OSError, RuntimeError) as exc:  # a name too long, a symlink loop, no permission
        return f"cannot read {name!r} under source: {getattr(exc, 'strerror', None) or exc}"
    return None


def _discover(source_dir: Path, file: str, doc: YamlDoc) -> tuple[str, ...]:
    """Return every regular file under ``source_dir``, sorted by relative posix path.

    Symlinked folders are not followed. Raises ConfigError for a symlink that
    leads outside source, or an empty source.
    """
    names: list[str] = []
    for folder, _dirs, filenames in os.walk(source_dir):
        for filename in filenames:
            name = (Path(folder) / filename).relative_to(source_dir).as_posix()
            full = source_dir / name
            if not full.is_file() and not full.is_symlink():
                continue  # sockets, fifos: not deployable, not an error
            problem = _file_problem(source_dir, name)
            if problem:
                raise ConfigError(problem, file=file, field="source",
                                  line=doc.line_of(("source",)))
            names.append(name)
    if not names:
        raise ConfigError(f"no files under {source_dir}; put the files to deploy there",
                          file=file, field="source", line=doc.line_of(("source",)))
    return tuple(sorted(names))
