"""Sending notifications through apprise (``--notify``, ``FLEET_NOTIFY``, ``notify:``),
off the run's critical path.

Each receiver (one URL) has its own thread and bounded queue: :meth:`Notifier.send`
never blocks, a receiver that hangs delays only its own messages (apprise's
own timeouts, 4 s to connect and 4 s per read unless the URL says ``?cto=``
``?rto=``, end each attempt), and :meth:`Notifier.close` waits a bounded time
for what is queued: at most :data:`FLUSH_S` in all, not at all for a receiver
that failed already, and no more for one whose message has been in flight
:data:`LATE_S`. A message that cannot be sent is a warning line, never a
failed run.

URLs carry tokens: nothing here prints, logs or returns one. A receiver is
named by its place in the list and its scheme (``receiver 2 (slack)``), and
apprise's own log, which may quote a URL or a server's answer, is silenced.

Example::

    notifier = notifier_for(Notify(("json://127.0.0.1:8080/hook",)), None, (), "pb.yml",
                            warn=print)
    notifier.send(Message(Kind.START, Tone.INFO, "fleet rollout demo: started", "..."))
    notifier.close(wait=10)
"""

from __future__ import annotations

import contextlib
import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fleet.cli.notify import Message
from fleet.errors import ConfigError

QUEUE_MAX = 100
"""Messages waiting per receiver; more are dropped (and counted in a warning)."""
FLUSH_S = 10.0
"""How long the end of a command waits, at most, for the messages still queued
(a receiver that already failed in this run is not waited for)."""
LATE_S = 3.0
"""At the end of a command, a receiver whose message has been in flight this long is
given up on (a healthy webhook or mail server answers well within it)."""
ENV = "FLEET_NOTIFY"
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]{0,31})://")
_SPLIT_COMMA = re.compile(r",(?=\s*[A-Za-z][A-Za-z0-9+.-]{0,31}://)")

Warn = Callable[[str], None]


@dataclass(frozen=True)
class Source:
    """Where a URL came from, to name it in an error without showing it."""

    where: str
    """``--notify``, ``FLEET_NOTIFY`` or the playbook's path."""
    field: str
    """``URL 2`` (the second ``--notify`` or the second in ``FLEET_NOTIFY``), or the
    playbook's ``notify[1]``."""


def split_env(text: str) -> list[str]:
    """The URLs of ``FLEET_NOTIFY``: separated by spaces, newlines or commas; a comma
    that is not followed by another ``scheme://`` stays in its URL (apprise's
    ``mailto://…?to=a@x,b@y``)."""
    urls: list[str] = []
    for word in text.split():
        urls.extend(part.strip(",") for part in _SPLIT_COMMA.split(word))
    return [u for u in urls if u]


def gather(cli: Sequence[str], env: str | None, playbook: Sequence[str], playbook_file: str
           ) -> list[tuple[str, Source]]:
    """Every receiver of a command, in order, each once: ``--notify`` URLs, then
    ``FLEET_NOTIFY``'s, then the playbook's ``notify:`` (all of them: each adds
    receivers; ``--no-notify`` is the caller's way to send none)."""
    found: list[tuple[str, Source]] = []
    seen: set[str] = set()
    groups = (("--notify", list(cli), False), (ENV, split_env(env or ""), False),
              (playbook_file, list(playbook), True))
    for where, urls, in_yaml in groups:
        for i, url in enumerate(urls):
            if url not in seen:
                seen.add(url)
                found.append((url, Source(where, f"notify[{i}]" if in_yaml else f"URL {i + 1}")))
    return found


@dataclass(frozen=True)
class Notify:
    """``--notify URL`` (repeatable) and ``--no-notify`` of one command."""

    urls: Sequence[str] = ()
    off: bool = False


def notifier_for(notify: Notify, env: str | None, playbook: Sequence[str], playbook_file: str,
                 warn: Warn) -> Notifier | None:
    """The notifier of a command: the receivers of :func:`gather` (None: there are
    none, or ``--no-notify``).

    Raises:
        ConfigError: see :meth:`Notifier.open`.
    """
    if notify.off:
        return None
    urls = gather(notify.urls, env, playbook, playbook_file)
    return Notifier.open(urls, warn) if urls else None


def scheme(url: str) -> str:
    """The URL's scheme, the only part of it ever shown (``?`` if there is none)."""
    match = _SCHEME.match(url)
    return match.group(1).lower() if match else "?"


@dataclass
class _Receiver:
    """One URL's plugin, queue and thread, and how its sending went."""

    label: str
    plugin: Any
    queue: queue.Queue[Message | None] = field(default_factory=lambda: queue.Queue(QUEUE_MAX))
    lock: threading.Lock = field(default_factory=threading.Lock)
    pending: int = 0
    """Messages queued or in flight."""
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    down: bool = False
    """The last attempt failed: the end of the command does not wait for it."""
    busy_since: float | None = None
    """When the message in flight left (None: none is)."""
    thread: threading.Thread | None = None


class Notifier:
    """Sends messages to every receiver from background threads; see the module doc."""

    def __init__(self, receivers: list[_Receiver], warn: Warn) -> None:
        self._receivers = receivers
        self._warn = warn
        self._closed = threading.Event()
        self._said_lock = threading.Lock()
        self._tallied = False  # after the tally at close, the threads say nothing more
        for receiver in receivers:
            receiver.thread = threading.Thread(target=self._serve, args=(receiver,),
                                               name=f"fleet-notify-{receiver.label}",
                                               daemon=True)
            receiver.thread.start()

    @classmethod
    def open(cls, urls: Sequence[tuple[str, Source]], warn: Warn) -> Notifier:
        """Check every URL with apprise and start a thread per receiver.

        Raises:
            ConfigError: apprise is not installed (``pip install 'fleet[notify]'``),
                or a URL is not one apprise can send to (named by where it came
                from and its scheme, never shown).
        """
        try:
            import apprise
        except ImportError as exc:
            raise ConfigError(f"notifications need apprise ({exc.name} is missing): pip "
                              "install 'fleet[notify]'", file=urls[0][1].where,
                              field=urls[0][1].field) from None
        _quiet(apprise.__name__)
        asset = apprise.AppriseAsset(storage_mode="memory")  # nothing written to disk
        receivers = []
        for number, (url, source) in enumerate(urls, start=1):
            plugin = apprise.Apprise.instantiate(url, asset=asset)
            if plugin is None:
                raise ConfigError(f"not a URL apprise can send to (scheme {scheme(url)!r}; "
                                  "the URL is not shown, it may hold a token); see "
                                  "https://github.com/caronc/apprise/wiki",
                                  file=source.where, field=source.field)
            receivers.append(_Receiver(f"{number} ({scheme(url)})", plugin))
        return cls(receivers, warn)

    def send(self, message: Message) -> None:
        """Queue ``message`` for every receiver; never blocks (a full queue drops it)."""
        if self._closed.is_set():
            return
        for receiver in self._receivers:
            with receiver.lock:
                try:
                    receiver.queue.put_nowait(message)
                    receiver.pending += 1
                except queue.Full:
                    receiver.dropped += 1

    def close(self, wait: float = FLUSH_S) -> None:
        """Let the queued messages go, waiting at most ``wait`` seconds in all (not at
        all for a receiver whose last attempt failed); warn about any not sent."""
        if self._closed.is_set():
            return
        self._closed.set()
        for receiver in self._receivers:
            with contextlib.suppress(queue.Full):  # full: the thread ends at the next get
                receiver.queue.put_nowait(None)
        deadline = time.monotonic() + wait
        for receiver in self._receivers:
            assert receiver.thread is not None
            while receiver.thread.is_alive() and not _given_up(receiver):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                receiver.thread.join(min(left, 0.05))
        with self._said_lock:
            self._tallied = True
        for receiver in self._receivers:
            with receiver.lock:
                unsent, failed, sent = receiver.pending + receiver.dropped, receiver.failed, \
                    receiver.sent
            if unsent or failed:
                self._warn(f"fleet: warning: receiver {receiver.label}: {failed} "
                           f"notification(s) failed, {unsent} not sent, {sent} sent; the "
                           "run's result is not affected")

    def _serve(self, receiver: _Receiver) -> None:
        """A receiver's thread: send its messages one at a time until the end marker
        (or, once the command closed, until the queue is empty)."""
        while True:
            try:
                message = receiver.queue.get(timeout=0.5 if self._closed.is_set() else None)
            except queue.Empty:
                return
            if message is None:
                return
            receiver.busy_since = time.monotonic()
            ok = _deliver(receiver.plugin, message)
            with receiver.lock:
                receiver.busy_since = None
                receiver.pending -= 1
                first_failure = not ok and not receiver.down
                receiver.down = not ok
                if ok:
                    receiver.sent += 1
                else:
                    receiver.failed += 1
            if first_failure:
                self._say(f"fleet: warning: notification '{message.kind.value}' not sent "
                          f"to receiver {receiver.label}: it refused, failed or did not "
                          "answer in time; the run goes on")

    def _say(self, line: str) -> None:
        """Warn from a receiver's thread, unless the command has tallied already."""
        with self._said_lock:
            if not self._tallied:
                self._warn(line)


def _given_up(receiver: _Receiver) -> bool:
    """Whether the end of the command stops waiting for ``receiver``: its last attempt
    failed, or the one in flight has had :data:`LATE_S`."""
    busy = receiver.busy_since
    return receiver.down or (busy is not None and time.monotonic() - busy >= LATE_S)


def _deliver(plugin: Any, message: Message) -> bool:
    """Send one message with apprise; True when the receiver took it."""
    try:
        return bool(plugin.notify(body=message.body, title=message.title,
                                  notify_type=message.tone.value))
    except Exception:  # a plugin's bug must not end the thread, nor the run
        return False


def _quiet(name: str) -> None:
    """Silence apprise's log: its lines may quote a URL or a server's answer."""
    log = logging.getLogger(name)
    log.addHandler(logging.NullHandler())
    log.propagate = False
    log.setLevel(logging.CRITICAL + 1)
