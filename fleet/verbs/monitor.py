"""``fleet monitor``: watch the playbook's health on every host, alert on every
level change, and roll the fleet back when a host stays at the chosen level.

One typed input (the target and how to watch) and one typed result; how the
rounds are shown and how the rollback is presented are the caller's
(``on_round``, ``roll_back``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fleet.engine.connections import Connector
from fleet.engine.fanout import ThreadFanout
from fleet.engine.watch import Alert, SampleLog, Tracker, Watch, watch
from fleet.remote.health import Level, Sample, Schedule, health_script
from fleet.results import RunResult
from fleet.verbs.rollout import Target


@dataclass(frozen=True)
class MonitorSpec:
    """How to watch: the schedule, for how long (None: until stopped), and when to
    roll back (``rollback_on`` held for ``grace`` samples; None: never)."""

    schedule: Schedule
    duration: float | None
    rollback_on: Level | None
    grace: int


@dataclass(frozen=True)
class MonitorResult:
    """What a monitor run saw and did; ``rollback`` is the fleet-wide rollback it
    started (None: none was needed)."""

    playbook: str
    rounds: int
    alerts: tuple[Alert, ...]
    levels: Mapping[str, Level]
    log: str
    trigger: str | None = None
    rollback: RunResult | None = field(default=None)

    @property
    def exit_code(self) -> int:
        """0 when nothing was rolled back, 1 when the fleet was rolled back cleanly,
        3 when that rollback was incomplete."""
        if self.rollback is None:
            return 0
        return 3 if self.rollback.outcome.exit_code == 3 else 1

    def to_json(self) -> dict[str, object]:
        """The ``fleet monitor --json`` object."""
        return {
            "command": "monitor", "playbook": self.playbook, "rounds": self.rounds,
            "alerts": [{"host": a.host, "from": a.before.value, "to": a.after.value,
                        "why": a.why} for a in self.alerts],
            "levels": {h: lv.value for h, lv in self.levels.items()}, "log": self.log,
            "rollback": {"reason": self.trigger, **self.rollback.to_json()}
            if self.rollback else None,
        }


def monitor_fleet(target: Target, connector: Connector, spec: MonitorSpec, log: SampleLog, *,
                  stop: threading.Event,
                  on_round: Callable[[list[Sample], list[Alert]], None],
                  roll_back: Callable[[str], RunResult]) -> MonitorResult:
    """Sample every host until the duration ends, ``stop`` is set, or a host stays at
    ``rollback_on``; then ``roll_back(reason)`` the fleet. The sample log gets every
    sample, alert and the rollback; it is closed on return."""
    pb = target.playbook
    tracker = Tracker(spec.rollback_on, spec.grace)
    watching = Watch(target.hosts, health_script(pb.name, pb.target, target.release, pb.health),
                     pb.health, spec.schedule, spec.duration, pb.strategy.forks,
                     pb.timeouts.command,
                     about={"purpose": "monitor", "playbook": pb.name,
                            "release": target.release.id})
    alerts: list[Alert] = []

    def each_round(samples: list[Sample], new: list[Alert]) -> None:
        alerts.extend(new)
        on_round(samples, new)

    fanout = ThreadFanout(connector)
    try:
        try:
            rounds = watch(watching, fanout, tracker, log, stop=stop, on_round=each_round)
        finally:
            fanout.close()
        result = None
        if tracker.triggered:
            started = time.time()
            result = roll_back(tracker.triggered)
            log.write("rollback", {"reason": tracker.triggered, "run_id": result.run_id,
                                   "outcome": result.outcome.value, "started": started,
                                   "ts": time.time()})
    finally:
        log.close()
    return MonitorResult(pb.name, rounds, tuple(alerts), dict(tracker.levels), str(log.path),
                         tracker.triggered, result)
