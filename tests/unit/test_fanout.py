"""ThreadFanout: one call per host here, a failure as the host's Unread, and which
connections it keeps for the next call (at most what ``keep_open`` asks for)."""

from __future__ import annotations

from pathlib import Path

from fleet.engine.fanout import ThreadFanout, Unread
from fleet.errors import ConnectError, StepFailed
from fleet.events import EventSink, Recorder, StepStarted
from fleet.inventory.model import Host
from fleet.transport.base import Transport
from fleet.transport.fake import FakeTransport


def host(name: str) -> Host:
    return Host(name=name, address=name, port=None, user=None, identity_file=None,
                connection="ssh", known_hosts_file=Path("kh"), groups=(), vars={})


HOSTS = [host(n) for n in ("h1", "h2", "away", "h4")]


class Connector:
    """Opens a FakeTransport per connect (``away`` refuses); keeps every one opened."""

    def __init__(self) -> None:
        self.opened: list[FakeTransport] = []

    def __call__(self, target: Host) -> Transport:
        if target.name == "away":
            raise ConnectError(target.name, "connection refused")
        made = FakeTransport(target.name, lambda cmd, stdin: None)  # the calls run nothing
        self.opened.append(made)
        return made

    def open(self) -> set[str]:
        return {t.host for t in self.opened if not t.closed}


def name_of(target: Host, transport: Transport, sink: EventSink, started: float) -> str:
    sink.emit(StepStarted(target.name, "probe"))
    if target.name == "h4":
        raise StepFailed(target.name, "probe", "no answer")
    return f"{target.name} via {transport.host}"


def test_every_host_gets_its_value_or_why_not() -> None:
    connector, events = Connector(), Recorder()
    arrived: list[str] = []
    fanout = ThreadFanout(connector)
    got = fanout.each([(h, name_of) for h in HOSTS], events, forks=2,
                      on_result=lambda h, r: arrived.append(h.name))
    assert got["h1"] == "h1 via h1"
    assert got["h2"] == "h2 via h2"
    away, failed = got["away"], got["h4"]
    assert isinstance(away, Unread)
    assert not away.connected  # never connected: unreachable
    assert "connection refused" in away.error
    assert isinstance(failed, Unread)
    assert failed.connected  # connected, then the call failed: an error
    assert failed.error == "probe: no answer"
    assert sorted(arrived) == ["away", "h1", "h2", "h4"]
    assert sorted(e.host for e in events.events if isinstance(e, StepStarted)) \
        == ["h1", "h2", "h4"]
    assert connector.open() == set()  # keep_open False: every connection closed
    fanout.close()


def test_kept_connections_serve_the_next_call_and_close_at_the_end() -> None:
    connector = Connector()
    fanout = ThreadFanout(connector)
    fanout.each([(h, name_of) for h in HOSTS], Recorder(), forks=4,
                keep_open=lambda value: value.startswith("h1"))
    assert connector.open() == {"h1"}  # only what keep_open asked for; h4's failed one closed
    fanout.each([(HOSTS[0], name_of)], Recorder(), forks=4)
    assert [t.host for t in connector.opened].count("h1") == 1  # reused, not reopened
    fanout.each([(h, name_of) for h in HOSTS[:2]], Recorder(), forks=4, keep_open=True)
    fanout.keep_only({"h2"})
    assert connector.open() == {"h2"}
    fanout.close()
    assert connector.open() == set()
