"""Distributed search through KerasTuner's own chief/worker protocol.

KerasTuner distributes a search like this: one *chief* process holds the Oracle
and serves it over gRPC; *workers* are ordinary tuners whose oracle is an
``OracleClient``. Each process learns its role from three environment variables:
``KERASTUNER_TUNER_ID`` ("chief", or a worker id such as "tuner0"),
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``. All of them must share
the run folder: workers save checkpoints there and Hyperband's promoted trials
load them.

What KerasTuner lacks, and this package adds around it:

* the chief serves KerasTuner's own ``OracleServicer`` and supervises its
  workers (instead of ``tuner.search``'s ``start_server``, which polls every 20 s
  and waits forever for a worker that died, KerasTuner issue 915);
* ``search --workers N`` spawns N local worker processes, one GPU each;
* every worker writes a heartbeat file, ``<run>/workers/<tuner_id>.json``;
* a worker that dies (its process exits, or its heartbeat stops) loses its
  trial: the trial goes back to the oracle's retry queue once, and is marked
  failed if it takes a worker down a second time. Local workers are restarted
  under the same tuner id. The chief finishes when the oracle has no more
  trials to hand out and no trial is running;
* workers leave when the chief's heartbeat stops, instead of blocking on
  gRPC for KerasTuner's hour-long timeout.

Modules: ``environment`` (addresses, tuner ids, KerasTuner's variables), ``heartbeat``,
``oracle`` (losing a worker's trial), ``local`` (local worker processes), ``chief``,
``serve`` (``search`` as the chief) and ``worker``. KerasTuner's private parts they need
(the server, the oracle's lock and retry queue) are in ``houses_tune.tuner.internals``.
"""

from houses_tune.tuner.distributed.serve import serve_search
from houses_tune.tuner.distributed.worker import find_run, run_worker

__all__ = ["find_run", "run_worker", "serve_search"]
