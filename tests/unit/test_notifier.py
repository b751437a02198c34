"""Sending through apprise to real HTTP receivers on 127.0.0.1 (issue 15): what
arrives, and that a receiver which refuses or hangs costs the caller nothing
but one warning line that never shows the URL."""

from __future__ import annotations

import threading
import time

import pytest

from fleet.cli.notifier import LATE_S, QUEUE_MAX, Notifier, Notify, notifier_for
from fleet.cli.notify import Kind, Message, Tone
from tests.notify_support import TOKEN, Hung, Receiver, refused_url


class Warnings:
    """Collects the warning lines a Notifier prints (from any thread)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)


def message(n: int, tone: Tone = Tone.INFO) -> Message:
    return Message(Kind.START, tone, f"title {n}", f"body {n}\nsecond line")


def open_notifier(*urls: str) -> tuple[Notifier, Warnings]:
    warnings = Warnings()
    notifier = notifier_for(Notify(urls), None, [], "pb.yml", warnings)
    assert notifier is not None
    return notifier, warnings


def test_messages_arrive_in_order_with_their_title_body_type_and_the_urls_password() -> None:
    with Receiver() as receiver:
        notifier, warnings = open_notifier(receiver.url())
        notifier.send(message(1))
        notifier.send(message(2, Tone.FAILURE))
        notifier.close()

    posts = receiver.posts
    assert [(p["title"], p["message"], p["type"]) for p in posts] == [
        ("title 1", "body 1\nsecond line", "info"), ("title 2", "body 2\nsecond line", "failure")]
    assert receiver.passwords == [TOKEN, TOKEN]
    assert warnings.lines == []


def test_a_refusing_receiver_is_one_warning_without_its_url_and_no_wait() -> None:
    url = refused_url()
    notifier, warnings = open_notifier(url)
    notifier.send(message(1))
    notifier.send(message(2))
    started = time.monotonic()
    notifier.close(wait=10)
    closing = time.monotonic() - started

    assert closing < 3.0
    assert len(warnings.lines) == 2, warnings.lines  # the first failure, then the tally
    assert warnings.lines[0].startswith("fleet: warning: notification 'start' not sent to "
                                        "receiver 1 (json)")
    assert "failed" in warnings.lines[1]
    port = url.rsplit(":", 1)[1].split("/")[0]
    for line in warnings.lines:
        assert TOKEN not in line
        assert port not in line
        assert "127.0.0.1" not in line


def test_a_hung_receiver_never_blocks_the_sender_nor_the_other_receivers() -> None:
    with Hung() as hung, Receiver() as good:
        notifier, warnings = open_notifier(hung.url(), good.url())
        started = time.monotonic()
        for n in range(5):
            notifier.send(message(n))
        sending = time.monotonic() - started
        arrived = good.wait_for(5, timeout=5)
        delivered = time.monotonic() - started
        notifier.close(wait=1.0)
        closing = time.monotonic() - started - delivered

        assert hung.accepted >= 1  # it was tried, and it held the connection
    assert sending < 0.05
    assert len(arrived) == 5
    assert delivered < 2.0
    assert closing < 1.5
    tally = [line for line in warnings.lines if "receiver 1 (json)" in line]
    assert tally
    assert "not sent" in tally[-1]
    assert all(TOKEN not in line for line in warnings.lines)


def test_a_full_queue_drops_messages_and_counts_them() -> None:
    with Hung() as hung:
        notifier, warnings = open_notifier(hung.url())
        started = time.monotonic()
        for n in range(QUEUE_MAX + 20):
            notifier.send(message(n))
        sending = time.monotonic() - started
        notifier.close(wait=0.2)

    assert sending < 0.5
    unsent = int(warnings.lines[-1].split(" not sent")[0].rsplit(" ", 1)[1])
    assert unsent == QUEUE_MAX + 20


@pytest.mark.parametrize("wait", [0.5, 2.0])
def test_close_waits_no_longer_than_it_is_told(wait: float) -> None:
    with Hung() as hung:
        notifier, _ = open_notifier(hung.url())
        notifier.send(message(1))
        started = time.monotonic()
        notifier.close(wait=wait)
        took = time.monotonic() - started

    assert wait - 0.1 <= took < wait + 0.5


def test_close_gives_up_on_a_receiver_whose_message_is_in_flight_too_long() -> None:
    with Hung() as hung:
        notifier, warnings = open_notifier(hung.url())
        sent = time.monotonic()
        notifier.send(message(1))
        notifier.close(wait=10)
        took = time.monotonic() - sent

    assert LATE_S - 0.1 <= took < LATE_S + 0.5  # not FLUSH_S, not apprise's 4 s read timeout
    assert "1 not sent" in warnings.lines[-1]
