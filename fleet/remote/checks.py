"""The playbook's checks: the shell that measures each, and the pure judge of its answer.

Each check ``k`` gets variables ``C<k>_*`` (quoted values) and a snippet that
prints exactly one line: ``CHECK k OK``, ``CHECK k FAIL [i]``, ``CHECK k EXIT
code`` or ``CHECK k VALUE number``. Thresholds are judged here, on the
controller, so the same snippet serves ``checks`` and ``health``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from fleet.config.playbook import (
    AccessTimeCheck,
    AccessTimeHealth,
    Check,
    CommandCheck,
    ContainsCheck,
    HealthCheck,
    MemoryCheck,
    MemoryHealth,
    NonEmptyCheck,
)
from fleet.remote.script import assign


@dataclass(frozen=True)
class CheckOutcome:
    """One check's verdict on one host: ``value`` is the measurement, if any."""

    label: str
    ok: bool
    value: float | None = None
    message: str = ""


_NON_EMPTY = """_bad=
i=0
while [ "$i" -lt "$N" ]; do getf "$i"; [ -s "$T/$f" ] || { _bad=$i; break; }; i=$((i + 1)); done
if [ -n "$_bad" ]; then say "CHECK {k} FAIL $_bad"; else say "CHECK {k} OK"; fi"""

_CONTAINS = """if grep -E -q -e "$C{k}_PAT" "$T/$C{k}_FILE" 2>/dev/null; then say "CHECK {k} OK"
else say "CHECK {k} FAIL"; fi"""

_COMMAND = """runcheck "$C{k}_TO" "$C{k}_RUN"
say "CHECK {k} EXIT $_rc\""""

# The time one `stat` process takes to reach every release file, in µs (see
# access_usec in the prelude). A time above C{k}_AGAIN (the check's limit, or
# the health check's warn level) is measured again, twice at most, and the
# best time counts: a passing load spike on the host (or on a shared CI
# machine) is not a slow disk. A host below the limit pays one measurement.
_ACCESS_TIME = """set --
i=0
while [ "$i" -lt "$N" ]; do getf "$i"; set -- "$@" "$T/$f"; i=$((i + 1)); done
access_usec "$@"
_try=1
while [ "$_try" -lt 3 ] && [ -n "$_us" ] && [ "$_us" -gt "$C{k}_AGAIN" ]; do
  _best=$_us
  access_usec "$@"
  case $_us in ''|*[!0-9]*) _us=$_best ;; *) [ "$_us" -le "$_best" ] || _us=$_best ;; esac
  _try=$((_try + 1))
done
case $_us in
  *[!0-9]*|'') say "CHECK {k} UNSUPPORTED clock" ;;
  *) say "CHECK {k} VALUE $_us" ;;
esac"""

# The resident memory (KB) of every process whose name holds the text: `ps -A`
# (GNU, BSD, macOS), else busybox's `ps` (it lists every process unasked). A
# ps that lists nothing failed (it lists at least itself when it works).
_MEMORY = """_kb=$(ps -A -o rss= -o comm= 2>/dev/null | P="$C{k}_PROC" awk "$RSS_AWK")
[ "$_kb" != none ] || _kb=$(ps -o rss= -o comm= 2>/dev/null | P="$C{k}_PROC" awk "$RSS_AWK")
case $_kb in none|'') say "CHECK {k} UNSUPPORTED ps" ;; *) say "CHECK {k} VALUE $_kb" ;; esac"""

_UNSUPPORTED = {
    "clock": "the host has no sub-millisecond clock (GNU or busybox date +%N, perl's "
             "Time::HiRes, or busybox adjtimex)",
    "ps": "the host's ps cannot list every process with its memory "
          "(ps -A -o rss= -o comm=)",
}


def label(check: Check | HealthCheck) -> str:
    """A short human name for a check, used in reports."""
    match check:
        case AccessTimeHealth():
            return "access_time"
        case MemoryHealth():
            return f"memory of {check.process!r}"
        case NonEmptyCheck():
            return "non_empty"
        case ContainsCheck():
            return f"contains {check.pattern!r} in {check.file}"
        case CommandCheck():
            return f"command {check.run!r}"
        case AccessTimeCheck():
            return f"access_time ≤ {check.max_ms:g} ms"
        case MemoryCheck():
            return f"memory of {check.process!r} ≤ {check.max_mb:g} MB"
    raise AssertionError(check)  # pragma: no cover - the union is closed


def host_limit(check: Check) -> int | None:
    """The largest ``VALUE`` the host may report for ``check`` to pass, in the
    snippet's own unit (µs, KB), so the host can judge it as :func:`judge`
    does: ``raw / 1000 <= max_ms`` holds for an integer ``raw`` exactly when
    ``raw <= floor(max_ms * 1000)``. None: the check reports no value."""
    match check:
        case AccessTimeCheck():
            return math.floor(round(check.max_ms * 1000, 6))
        case MemoryCheck():
            return math.floor(round(check.max_mb * 1024, 6))
    return None


def snippet(k: int, check: Check | HealthCheck) -> tuple[list[str], str]:
    """Return the quoted variable assignments and the shell for check ``k``
    (a health check measures exactly as the check of the same type)."""
    match check:
        case AccessTimeHealth():
            again = math.floor(round(check.warn_ms * 1000, 6))
            return [assign(f"C{k}_AGAIN", again)], _ACCESS_TIME.replace("{k}", str(k))
        case MemoryHealth():
            return [assign(f"C{k}_PROC", check.process)], _MEMORY.replace("{k}", str(k))
        case NonEmptyCheck():
            return [], _NON_EMPTY.replace("{k}", str(k))
        case ContainsCheck():
            return [assign(f"C{k}_PAT", check.pattern), assign(f"C{k}_FILE", check.file)], \
                _CONTAINS.replace("{k}", str(k))
        case CommandCheck():
            return [assign(f"C{k}_RUN", check.run),
                    assign(f"C{k}_TO", f"{check.timeout:g}")], _COMMAND.replace("{k}", str(k))
        case AccessTimeCheck():
            return [assign(f"C{k}_AGAIN", host_limit(check) or 0)], \
                _ACCESS_TIME.replace("{k}", str(k))
        case MemoryCheck():
            return [assign(f"C{k}_PROC", check.process)], _MEMORY.replace("{k}", str(k))
    raise AssertionError(check)  # pragma: no cover


def judge(check: Check, words: Sequence[str], file_name: str = "") -> CheckOutcome:
    """Judge one ``CHECK k …`` line (``words`` after ``k``) against the check's limit.

    ``file_name`` names the file a ``FAIL i`` line points at.
    """
    name = label(check)
    verb, args = (words[0], list(words[1:])) if words else ("MISSING", [])
    if verb == "OK":
        return CheckOutcome(name, True)
    if verb == "FAIL":
        where = f": {file_name} is empty or missing" if file_name else ""
        return CheckOutcome(name, False, message=f"{name} failed{where}")
    if verb == "EXIT" and args:
        code = int(args[0])
        timeout = isinstance(check, CommandCheck) and code == 124
        why = f"timed out after {check.timeout:g}s" if timeout and isinstance(
            check, CommandCheck) else f"exited {code}"
        return CheckOutcome(name, code == 0, float(code), "" if code == 0 else f"{name} {why}")
    if verb == "VALUE" and args:
        return _judge_value(check, name, float(args[0]))
    if verb == "UNSUPPORTED":
        why = _UNSUPPORTED.get(args[0] if args else "", "the host cannot measure it")
        return CheckOutcome(name, False, message=f"{name}: {why}")
    return CheckOutcome(name, False, message=f"{name}: no answer from the host")


def _judge_value(check: Check, name: str, raw: float) -> CheckOutcome:
    if isinstance(check, AccessTimeCheck):
        ms = raw / 1000.0
        ok = ms <= check.max_ms
        return CheckOutcome(name, ok, ms, "" if ok else f"access time {ms:.1f} ms > "
                            f"{check.max_ms:g} ms")
    if isinstance(check, MemoryCheck):
        mb = raw / 1024.0
        ok = mb <= check.max_mb
        return CheckOutcome(name, ok, mb, "" if ok else f"memory of {check.process!r} "
                            f"{mb:.1f} MB > {check.max_mb:g} MB")
    return CheckOutcome(name, False, raw, f"{name}: unexpected value")
