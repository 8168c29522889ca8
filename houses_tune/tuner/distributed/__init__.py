"""Distributed search through KerasTuner's own chief/worker protocol.

KerasTuner distributes a search like this: one *chief* process holds the Oracle
and serves it over gRPC; *workers* are ordinary tuners whose oracle is an
``OracleClient``. Each process learns its role from three environment variables:
``KERASTUNER_TUNER_ID`` ("chief", or a worker id such as "tuner0"),
``KERASTUNER_ORACLE_IP`` and ``KERASTUNER_ORACLE_PORT``. All of them must share
the run folder: workers save checkpoints there and Hyperband's promoted trials
load them.

What this module adds around it:

* the chief serves KerasTuner's ``OracleServicer`` itself (instead of
  ``tuner.search``'s loop, which polls every 20 s and waits forever for a
  worker that died) and supervises its workers;
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
``oracle`` (the gRPC servicer and losing a worker's trial), ``local`` (local worker
processes), ``chief``, ``serve`` (``search`` as the chief) and ``worker``.
"""

from houses_tune.tuner.distributed.chief import MAX_RESTARTS, Chief, ChiefReport
from houses_tune.tuner.distributed.environment import (
    CHIEF_ID,
    CHIEF_PID_ENV,
    advertised_host,
    check_tuner_id,
    clear_distributed_environment,
    default_tuner_id,
    dial_address,
    free_port,
    parse_address,
    set_worker_environment,
    silence_condition_print,
)
from houses_tune.tuner.distributed.heartbeat import (
    CHIEF_GRACE_S,
    HEARTBEAT_S,
    STALE_AFTER_S,
    WORKERS_DIR,
    Heartbeat,
    _Liveness,
    read_heartbeat,
    workers_dir,
)
from houses_tune.tuner.distributed.local import LocalWorker, local_worker_command, local_workers
from houses_tune.tuner.distributed.oracle import MAX_TRIAL_LOSSES, lose_worker
from houses_tune.tuner.distributed.serve import serve_search
from houses_tune.tuner.distributed.worker import IDLE_WAIT_S, find_run, run_worker, throttle_idle

__all__ = [
    "CHIEF_GRACE_S",
    "CHIEF_ID",
    "CHIEF_PID_ENV",
    "HEARTBEAT_S",
    "IDLE_WAIT_S",
    "MAX_RESTARTS",
    "MAX_TRIAL_LOSSES",
    "STALE_AFTER_S",
    "WORKERS_DIR",
    "Chief",
    "ChiefReport",
    "Heartbeat",
    "LocalWorker",
    "_Liveness",
    "advertised_host",
    "check_tuner_id",
    "clear_distributed_environment",
    "default_tuner_id",
    "dial_address",
    "find_run",
    "free_port",
    "local_worker_command",
    "local_workers",
    "lose_worker",
    "parse_address",
    "read_heartbeat",
    "run_worker",
    "serve_search",
    "set_worker_environment",
    "silence_condition_print",
    "throttle_idle",
    "workers_dir",
]
