"""fleet's SSH transport against the test fleet: a command's whole output comes back.

Every remote step is judged by the protocol lines it prints (``READY``,
``PROBED``, ``COMMITTED``...), so a transport that returns exit code 0 with
part of stdout missing turns a step that succeeded into a "failure" (a
``prepare`` that took the lock, a ``probe`` before a rollback...).
OpenSSH may send a command's exit status before the last of its output, so a
reader must keep reading until the channel's EOF, not stop at the exit status.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from testfleet_helpers import CLIENT_KEY, HOSTS, KNOWN_HOSTS, PORTS, SSH_HOST, SSH_USER

from fleet.transport.ssh import SshTransport

EXPECTED = "".join(f"line {i}\n" for i in range(3)) + "END\n"
COMMAND = "printf 'line 0\\nline 1\\nline 2\\nEND\\n'"
CHANNELS_PER_HOST = 4
RUNS_PER_CHANNEL = 150
BUDGET_S = 25.0


def test_concurrent_commands_never_lose_output() -> None:
    lost: list[str] = []
    stop = threading.Event()
    deadline = time.monotonic() + BUDGET_S

    def hammer(host: str) -> int:
        transport = SshTransport.connect(
            host, address=SSH_HOST, port=PORTS[host], user=SSH_USER,
            identity_file=CLIENT_KEY, known_hosts=KNOWN_HOSTS, timeout=10)
        runs = 0
        try:
            for _ in range(RUNS_PER_CHANNEL):
                if stop.is_set() or time.monotonic() > deadline:
                    break
                result = transport.run(COMMAND, timeout=10, check=False)
                runs += 1
                if result.stdout != EXPECTED:
                    lost.append(f"{host}: exit {result.exit_code}, stdout {result.stdout!r}")
                    stop.set()
        finally:
            transport.close()
        return runs

    workers = [h for h in HOSTS for _ in range(CHANNELS_PER_HOST)]
    with ThreadPoolExecutor(max_workers=len(workers)) as pool:
        runs = sum(pool.map(hammer, workers))

    assert lost == [], f"output lost in {len(lost)} of {runs} runs: {lost[:3]}"
    assert runs >= len(workers) * 20  # enough runs to mean something
