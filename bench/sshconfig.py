"""The cost of resolving ssh config for N hosts: ``ssh -G`` (one call per host, in
parallel) against paramiko's parser (the fallback without ssh).

    python3 bench/sshconfig.py [--hosts 1000] [--workers 16] [--runs 3]

A realistic config (50 ``Host`` blocks, an ``Include``, a ``Match``, wildcards)
is written to a temporary folder; each run resolves N distinct hosts with a
fresh lookup (no cache), as ``fleet.transport.sshconfig.check_hosts`` does before a
rollout. Prints one line per run and the median. Nothing is contacted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fleet.transport.sshlookup import OpenSshLookup, ParamikoLookup


def write_config(folder: Path) -> Path:
    included = folder / "conf.d"
    included.mkdir()
    (included / "team.conf").write_text("Host team-*\n  User team\n  Port 2200\n")
    blocks = [f"Host web{i:02d}-*\n  User web{i}\n  Port {2000 + i}\n"
              f"  IdentityFile ~/.ssh/web{i}_%r\n" for i in range(50)]
    text = (f"Include {included}/*.conf\n" + "".join(blocks)
            + "Match user deploy\n  IdentitiesOnly yes\n"
            + "Host *.lab\n  ProxyJump ops@gw:2222\nHost *\n  ServerAliveInterval 30\n")
    config = folder / "config"
    config.write_text(text)
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hosts", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ssh = shutil.which("ssh")
    if ssh is None:
        raise SystemExit("no ssh binary on the PATH")
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp))
        queries = [(f"web{i % 50:02d}-{i}", None, "deploy" if i % 3 else None)
                   for i in range(args.hosts)]
        for name in ("ssh -G", "paramiko"):
            times = []
            for _ in range(args.runs):
                start = time.perf_counter()
                if name == "ssh -G":
                    lookup = OpenSshLookup(ssh, config)
                    lookup.prefetch(queries, workers=args.workers)
                    for query in queries:
                        lookup.lookup(*query)
                else:
                    fallback = ParamikoLookup((config,))
                    for query in queries:
                        fallback.lookup(*query)
                times.append(time.perf_counter() - start)
                print(f"{name}: {args.hosts} hosts in {times[-1]:.2f} s", flush=True)
            median = statistics.median(times)
            print(f"{name}: median {median:.2f} s, {median / args.hosts * 1000:.1f} ms per host")


if __name__ == "__main__":
    main()
