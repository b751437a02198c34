"""The kill loop of issue 9: rollouts killed at uniformly random moments, then checked.

Each iteration starts a real ``python -m fleet rollout`` (a release of 100+
files in sub-folders and one large file; on some iterations a check that
fails) on freshly seeded hosts and, at a seeded, uniformly random moment in
``[0, T]`` (``T``: an unkilled rollout, measured once), does one of:

* ``SIGKILL`` to the controller;
* ``SIGTERM`` to the controller (DESIGN: the same as Ctrl-C — it must halt and
  roll back by itself);
* ``cut``: the connection to one host is cut. Over SSH the host leaves the
  docker network until the controller has finished. A ``connection: local``
  host has no connection: its host-side processes (the step's ``sh`` and what
  it runs) are killed instead, the controller living on.

Then, in order (each a class of violation in the report):

``at-once``        right after the kill, before anything else: no file of the
                   target lost or half-written, nothing the release does not
                   name touched (``invariant.at_once_problems``);
``controller``     the controller ends (bounded);
``scripts``        the orphaned host-side scripts end (bounded);
``after-scripts``  the at-once invariant again;
``self-heal``      a controller that outlived the fault (SIGTERM; a cut of a
                   local host, which it can still reach) must have put every
                   host back (exit 1) or finished the release (exit 0) by itself;
``recovery``       ``fleet recover`` or ``fleet rollback`` (seeded) exits 0;
``final``          the full invariant (``invariant.host_problems``): the target
                   exactly as before or on the release (after ``fleet
                   rollback``: as before), no lock or staging, backups intact.

``kill_loop`` runs it for any ``Rig``: ``LocalRig`` (one ``connection:
local`` host with a HOME of its own per iteration) or ``SshRig`` (hosts of the
container test fleet). Used by tests/engine/test_killloop.py,
tests/integration/test_killloop.py and ``bench/soak.py --kill-loop``.

Modules: ``payload`` (the release and the state before), ``rigs`` (the hosts),
``loop`` (cases, the checks, the loop, the report).
"""


from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_INTEGRATION = str(REPO / "tests" / "integration")
if _INTEGRATION not in sys.path:  # the invariant and the controller helpers live there
    sys.path.insert(0, _INTEGRATION)

from tests.killloop.loop import (  # noqa: E402
    Case,
    LoopResult,
    Outcome,
    from_env,
    kill_loop,
    rerun_hint,
    summary,
)
from tests.killloop.payload import Payload, make_payload  # noqa: E402
from tests.killloop.rigs import LocalRig, Rig, SshRig  # noqa: E402

__all__ = ["REPO", "Case", "LocalRig", "LoopResult", "Outcome", "Payload", "Rig", "SshRig",
           "from_env", "kill_loop", "make_payload", "rerun_hint", "summary"]
