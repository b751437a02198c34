"""Past one controller: each host's steps on a Dask distributed worker of its zone.

The controller keeps every fleet-wide decision (:mod:`fleet.engine.orchestrator`);
:class:`fleet.distributed.work.DaskWork` is the :class:`~fleet.engine.hostwork.HostWork`
that sends a host's pipeline to a worker (:mod:`fleet.distributed.task`) and streams
its events back (:mod:`fleet.distributed.codec`). Needs ``pip install 'fleet[dask]'``;
nothing else in fleet imports Dask.
"""
