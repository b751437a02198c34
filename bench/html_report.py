"""Size and render time of the HTML reports at 1,000 hosts.

    python3 bench/html_report.py [--hosts 1000] [--runs 3] [--write docs/benchmarks.md]

Writes synthetic logs in the run log's own format (the events of
``fleet.events``, one JSON line each, as ``fleet.runlog.journal`` writes them)
to a temporary folder:

* a rollout of N hosts, canary 1 with a 30 s bake, then batches of 10 % and
  forks of 100, whose one host of the last batch fails its checks: every other
  host was deployed and is rolled back (the biggest page a run of N hosts
  makes: about 6 bars per host);
* the same rollout where every host succeeds;
* a monitor of N hosts, 2 checks, 60 rounds, one host going warn then critical.

For each it measures the page's size (and gzipped), the time ``fleet report
ID --html`` takes as a whole process (Python start-up included) and in process
(read the log, draw the page), and the time Chromium (headless, Debian's
package) takes to load it and run its script (``--dump-dom``) and to lay it
out and paint it (``--screenshot`` of a 1400x1000 window), each minus the same
for an empty page, with ``data-ready`` (ms from navigation start to the end of
the page's script, as the page itself measures).
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fleet.cli.pages.site import page_of, read_logs  # noqa: E402
from fleet.events import (  # noqa: E402
    BatchStarted,
    Event,
    Halted,
    HostFinished,
    RollbackStarted,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from fleet.results import HostStatus, Outcome  # noqa: E402
from tests.browser import load, screenshot  # noqa: E402

T0 = 1_800_000_000.0
STEPS = (("connect", 0.05, 0.3), ("prepare", 0.1, 0.4), ("stage", 0.0, 0.0),
         ("activate", 0.1, 0.35), ("commit", 0.0, 0.0))


class Log:
    """Lines of a run log, each event stamped as the journal stamps it."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []

    def emit(self, ts: float, event: Event) -> None:
        record = {"ts": round(ts, 3), "event": type(event).__name__,
                  **dataclasses.asdict(event)}
        self.lines.append((ts, json.dumps(record, ensure_ascii=False)))

    def write(self, path: Path) -> None:
        path.write_text("".join(line + "\n" for _, line in sorted(self.lines,
                                                                   key=lambda x: x[0])))


def host_steps(log: Log, host: str, start: float, rng: random.Random, *, fail: bool) -> float:
    """Log one host's steps from ``start``; return when it finished."""
    now = start
    for step, low, high in STEPS:
        took = rng.uniform(low, high)
        failed = fail and step == "activate"
        log.emit(now, StepStarted(host, step))
        now += took
        log.emit(now, StepFinished(host, step, not failed, took,
                                   error="validate: command 'test -s COMMON_WORKFLOW.md' "
                                         "exited 1" if failed else None))
        if failed:
            return now
    return now


def rollout_log(path: Path, hosts: int, *, failing: bool) -> None:
    """A rollout of ``hosts`` hosts (see the module's docstring)."""
    rng = random.Random(7)
    names = [f"dev-{k:04d}.eu-west.example.com" for k in range(1, hosts + 1)]
    size = max(1, hosts // 10)
    batches = [names[:1]] + [names[i:i + size] for i in range(1, hosts, size)]
    log, now = Log(), T0
    log.emit(now, RunStarted(path.stem, "rollout", "agents-framework", "3f9c1a2b",
                             tuple(names), tuple(tuple(b) for b in batches)))
    bad = batches[-1][len(batches[-1]) // 2] if failing else None
    halted = None
    for index, batch in enumerate(batches):
        log.emit(now, BatchStarted(index, tuple(batch), index == 0))
        ends = []
        for k, host in enumerate(batch):
            begin = now + (k // 100) * 0.9 + rng.uniform(0, 0.05)  # forks 100 at once
            end = host_steps(log, host, begin, rng, fail=host == bad)
            log.emit(end, HostFinished(host, HostStatus.FAILED if host == bad
                                       else HostStatus.DEPLOYED, end - begin))
            ends.append(end)
            if host == bad:
                halted = end + 0.01
        now = max(ends) + 0.01
        if index == 0:
            log.emit(now, StepStarted(batch[0], "bake"))
            log.emit(now + 30, StepFinished(batch[0], "bake", True, 30.0, "health ok"))
            now += 30.01
    outcome = Outcome.SUCCESS
    if halted is not None and bad is not None:
        reason = (f"{bad} failed: validate: command 'test -s COMMON_WORKFLOW.md' exited 1 — "
                  f"1 host(s) failed; max_failures 0 tolerates 0 of {hosts} selected host(s)")
        log.emit(halted, Halted(reason))
        touched = [n for n in names if n != bad]
        log.emit(now, RollbackStarted(tuple(touched)))
        for k, host in enumerate(touched):
            begin = now + (k // 100) * 0.3
            took = rng.uniform(0.1, 0.3)
            log.emit(begin, StepStarted(host, "rollback"))
            log.emit(begin + took, StepFinished(host, "rollback", True, took))
            log.emit(begin + took, HostFinished(host, HostStatus.ROLLED_BACK, took,
                                                f"rolled back: {reason}"))
        now += (len(touched) // 100 + 1) * 0.3
        outcome = Outcome.ROLLED_BACK
    log.emit(now, RunFinished(path.stem, outcome, now - T0))
    log.write(path)


def monitor_log(path: Path, hosts: int, rounds: int = 60) -> None:
    """A monitor of ``hosts`` hosts: 2 checks, ``rounds`` rounds every 5 s, one host
    going warn then critical, then the fleet rolled back."""
    rng = random.Random(7)
    names = [f"dev-{k:04d}.eu-west.example.com" for k in range(1, hosts + 1)]
    checks = [{"label": "access_time", "unit": "ms", "warn": 5.0, "critical": 50.0},
              {"label": "memory of 'claude'", "unit": "MB", "warn": 20.0, "critical": 50.0}]
    records: list[dict[str, object]] = [
        {"kind": "watch", "ts": T0, "purpose": "monitor", "playbook": "agents-framework",
         "release": "3f9c1a2b", "hosts": names, "checks": checks, "rollback_on": "critical",
         "grace": 3}]
    level_of = {n: "ok" for n in names}
    for r in range(rounds):
        ts = T0 + 5 * r
        for n in names:
            sick = n == names[3] and r > rounds // 3
            memory = 12 + rng.uniform(-1, 1) + (r - rounds // 3) * 2.5 * sick
            level = "critical" if memory > 50 else "warn" if memory > 20 else "ok"
            ms = rng.uniform(1, 3)
            records.append({"kind": "sample", "host": n, "ts": ts, "level": level, "error": None,
                            "readings": [
                                {"label": "access_time", "level": "ok", "value": round(ms, 3),
                                 "message": f"{ms:.1f} ms"},
                                {"label": "memory of 'claude'", "level": level,
                                 "value": round(memory, 1), "message": f"{memory:.1f} MB"}]})
            if level != level_of[n]:
                records.append({"kind": "alert", "host": n, "before": level_of[n],
                                "after": level, "ts": ts,
                                "why": f"memory of 'claude' {memory:.1f} MB"})
                level_of[n] = level
    end = T0 + 5 * rounds
    records.append({"kind": "rollback", "reason": f"{names[3]} stayed critical for 3 samples",
                    "run_id": "20261201T000000Z-000000", "outcome": "success",
                    "started": end, "ts": end + 20})
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def median_of(runs: int, fn: object) -> float:
    assert callable(fn)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(log: Path, folder: Path, runs: int, blank: dict[str, float]) -> dict[str, float]:
    page = folder / f"{log.stem}.html"
    cli = median_of(runs, lambda: subprocess.run(
        [sys.executable, "-m", "fleet", "report", str(log), "--html", str(page)],
        cwd=folder, check=True, capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)}))
    in_process = median_of(runs, lambda: page_of(read_logs(log), folder))
    data = page.read_bytes()
    loads = [load(page) for _ in range(runs)]
    for loaded in loads:
        assert loaded.console == [], loaded.console
    shots = median_of(runs, lambda: screenshot(page, folder / "shot.png"))
    return {"size_kb": len(data) / 1024, "gzip_kb": len(gzip.compress(data)) / 1024,
            "cli_s": cli, "render_s": in_process,
            "load_s": statistics.median(x.seconds for x in loads) - blank["load_s"],
            "ready_ms": statistics.median(float(x.dom.find("html").attrs["data-ready"])
                                          for x in loads),
            "paint_s": shots - blank["paint_s"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--write", type=Path, default=None,
                        help="replace the section between this bench's markers in FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fleet-html-bench-") as tmp:
        folder = Path(tmp)
        empty = folder / "empty.html"
        empty.write_text("<!DOCTYPE html><html><body></body></html>")
        blank = {"load_s": statistics.median(load(empty).seconds for _ in range(args.runs)),
                 "paint_s": median_of(args.runs, lambda: screenshot(empty, folder / "e.png"))}
        cases = {}
        for name, write in (("rollout, one host fails, the rest rolled back",
                             lambda p: rollout_log(p, args.hosts, failing=True)),
                            ("rollout, every host deployed",
                             lambda p: rollout_log(p, args.hosts, failing=False)),
                            ("monitor, 2 checks, 60 rounds", lambda p: monitor_log(p, args.hosts))):
            log = folder / f"{len(cases)}.jsonl"
            write(log)
            cases[name] = measure(log, folder, args.runs, blank)
            print(name, {k: round(v, 3) for k, v in cases[name].items()}, flush=True)
    text = table(args.hosts, args.runs, cases, blank)
    print(text)
    if args.write:
        start, end = "<!-- bench/html_report.py start -->", "<!-- bench/html_report.py end -->"
        doc = args.write.read_text()
        head, _, rest = doc.partition(start)
        _, _, tail = rest.partition(end)
        args.write.write_text(f"{head}{start}\n{text}{end}{tail}")


def table(hosts: int, runs: int, cases: dict[str, dict[str, float]],
          blank: dict[str, float]) -> str:
    chromium = subprocess.run(["chromium", "--version"], capture_output=True, text=True,
                              check=False).stdout.strip()
    lines = [f"Measured {time.strftime('%Y-%m-%d')} with {hosts:,} hosts, median of {runs} runs, "
             f"Python {platform.python_version()}, {chromium} (headless); an empty page takes "
             f"Chromium {blank['load_s']:.2f} s to load and {blank['paint_s']:.2f} s to "
             f"screenshot, subtracted below. Load average {os.getloadavg()[0]:.1f} at the end "
             "(2 cores, shared).", "",
             "| page | size | gzipped | `fleet report --html` (process) | read + draw (in "
             "process) | Chromium load + script | script done (`data-ready`) | Chromium "
             "layout + paint |", "|---|---|---|---|---|---|---|---|"]
    for name, m in cases.items():
        lines.append(f"| {name} | {m['size_kb']:.0f} KB | {m['gzip_kb']:.0f} KB | "
                     f"{m['cli_s']:.2f} s | {m['render_s']:.2f} s | {m['load_s']:.2f} s | "
                     f"{m['ready_ms']:.0f} ms | {m['paint_s']:.2f} s |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
