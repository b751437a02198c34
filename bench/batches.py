"""How the floor programs walk the hosts: the same batches fleet uses."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

H = TypeVar("H")


def in_batches(operation: str, hosts: Sequence[H], one: Callable[[H], None], forks: int) -> None:
    """Run ``one`` on every host: a rollback on all at once (``forks`` in flight),
    a rollout or rerun on the first host alone, then ``forks`` at a time. Exits
    the program, naming the operation, on the first error."""
    if operation == "rollback":
        batches = [list(hosts)]
    else:
        batches = [list(hosts[:1])] + [list(hosts[i:i + forks])
                                       for i in range(1, len(hosts), forks)]
    try:
        with ThreadPoolExecutor(max_workers=forks) as pool:
            for batch in batches:
                list(pool.map(one, batch))
    except Exception as error:
        sys.exit(f"floor {operation}: {error}")
