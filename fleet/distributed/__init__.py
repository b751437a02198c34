"""Past one controller: each host's work on a Dask distributed worker of its zone.

The controller keeps every fleet-wide decision; :class:`fleet.distributed.cluster.DaskPlace`
is the :class:`~fleet.engine.hostwork.Place` that sends a rollout's hosts
(:class:`~fleet.distributed.work.DaskWork`) and every other command's per-host reads
and undos (:class:`~fleet.distributed.fanout.DaskFanout`) to workers through one
run's :class:`~fleet.distributed.pool.TaskPool`; what runs on a worker is
:mod:`fleet.distributed.task`, its events travel as :mod:`fleet.distributed.codec`
dicts. Needs ``pip install 'fleet[dask]'``; nothing else in fleet imports Dask.
"""
