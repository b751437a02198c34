"""Real notification receivers on 127.0.0.1 for the ``--notify`` tests (issue 15):
one that records what apprise's ``json://`` posts, one that accepts connections
and never answers, and a port where nothing listens (connections refused).

Import as ``from tests.notify_support import ...`` (unit and integration tests).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.silent_server import SilentServer

TOKEN = "tok-9f2c1e7d5b3a"
"""The secret in every receiver URL of the tests: it must never show anywhere."""


class Receiver:
    """An HTTP server that answers 200 and keeps every JSON body posted to it (with
    the basic-auth password it came with). Use as a context manager."""

    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []
        self.passwords: list[str] = []
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(size) or b"{}")
                auth = self.headers.get("Authorization") or ""
                password = base64.b64decode(auth.removeprefix("Basic ")).decode() \
                    .partition(":")[2] if auth.startswith("Basic ") else ""
                with owner._lock:
                    owner.posts.append({**body, "_at": time.monotonic()})
                    owner.passwords.append(password)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self) -> str:
        """The apprise URL of this receiver, carrying TOKEN as a password."""
        return f"json://fleet:{TOKEN}@127.0.0.1:{self.port}/hook"

    def titles(self) -> list[str]:
        """The title of each message received, in order."""
        with self._lock:
            return [str(p.get("title")) for p in self.posts]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """The posts, once there are at least ``count`` (or when ``timeout`` ends)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.posts) >= count:
                    return list(self.posts)
            time.sleep(0.02)
        with self._lock:
            return list(self.posts)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class Hung(SilentServer):
    """A notification receiver that accepts every connection and never answers
    (nor reads). Use as a context manager."""

    def url(self) -> str:
        return f"json://fleet:{TOKEN}@127.0.0.1:{self.port}/hook"


def refused_url() -> str:
    """An apprise URL to a 127.0.0.1 port where nothing listens."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # bound, never listened: connections to it are refused
    return f"json://fleet:{TOKEN}@127.0.0.1:{port}/hook"
