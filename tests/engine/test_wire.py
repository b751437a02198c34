"""The wire format of a step on real shells: the script is read exactly, never a
byte of the input behind it, however the pipe delivers it."""

from __future__ import annotations

import subprocess
import time

import pytest

from fleet.transport.base import BOOTSTRAP, STARTED, Script

SHELLS = ("/bin/dash", "/bin/bash")
PAYLOAD = bytes(range(256)) * 40 + b"\n\n"  # every byte value, newlines at the end


def _run(shell: str, wire: bytes, pieces: int) -> bytes:
    """Feed ``wire`` to BOOTSTRAP under ``shell`` in ``pieces`` writes, a pause between
    each, so the reader meets short pipe reads; return its stdout after the mark."""
    with subprocess.Popen([shell, "-c", BOOTSTRAP], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as proc:
        assert proc.stdin is not None
        size = -(-len(wire) // pieces)
        chunks = [wire[start:start + size] for start in range(0, len(wire), size)]
        for chunk in chunks[:-1]:
            proc.stdin.write(chunk)
            proc.stdin.flush()
            time.sleep(0.002)
        out, _ = proc.communicate(chunks[-1], timeout=60)
    return out.split(f"\n{STARTED}\n".encode(), 1)[1]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("pieces", [1, 7, 301])
@pytest.mark.parametrize("value", ["plain", "caf\u00e9 \u2603", "tab\there\nnew line"])
def test_the_script_is_read_exactly_and_the_input_behind_it_is_untouched(
        shell: str, pieces: int, value: str) -> None:
    # a script of ~20 KB, like a step's, that echoes a value and then its input
    filler = "\n".join(f": line {i} of filler" for i in range(1000))
    text = f"v='{value}'\n{filler}\nprintf '%s|' \"$v\"\ncat\n"
    wire = Script("t", text, stdin=PAYLOAD).wire()
    assert len(text) > 16_000
    out = _run(shell, wire, pieces)
    assert out == value.encode() + b"|" + PAYLOAD


def test_an_ascii_script_is_read_in_pipe_sized_reads_and_any_other_one_by_byte() -> None:
    assert b"dd bs=1 " not in Script("t", "echo hi\n").wire()
    assert b"dd bs=1 " in Script("t", "echo caf\u00e9\n").wire()
    assert b"dd bs=1 " in Script("t", "echo \x00\n").wire()  # a NUL: the shell drops it


def test_an_input_that_ends_inside_the_script_runs_nothing() -> None:
    wire = Script("t", "echo ran\n" + ": pad\n" * 100).wire()
    out = _run("/bin/dash", wire[:-50], 1)
    assert b"ran" not in out
