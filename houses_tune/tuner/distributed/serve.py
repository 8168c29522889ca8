"""``search --workers N`` / ``--listen``: this process becomes the chief of the search."""

from __future__ import annotations

import os
import time
from pathlib import Path

from houses_tune.tuner.distributed.chief import Chief, ChiefReport
from houses_tune.tuner.distributed.environment import (
    dial_address,
    free_port,
    parse_address,
)
from houses_tune.tuner.distributed.local import local_workers
from houses_tune.tuner.internals import silence_condition_print
from houses_tune.tuner.monitor import trial_history


class _ChiefProgress:
    """Feeds the search's progress line and run-level TensorBoard series from the chief.

    In a distributed search the tuner hooks run in the workers; the chief sees trials
    end in its oracle and reads the history.json the worker writes just before it reports
    the end (a trial whose history is not readable yet waits in ``pending``, up to 60 s).
    """

    def __init__(self, run_dir: Path, monitor) -> None:
        self.tuner_dir = Path(run_dir) / "tuner"
        self.monitor = monitor
        self.pending: dict[str, tuple[object, float]] = {}

    def __call__(self, ended: list) -> None:
        if self.monitor is not None:
            self.monitor.check_interrupt()  # Ctrl-C only sets a flag during a search
        now = time.monotonic()
        for trial in ended:
            self.pending[trial.trial_id] = (trial, now)
        for trial_id, (trial, since) in list(self.pending.items()):
            history = trial_history(self.tuner_dir, trial_id)
            if history or now - since > 60:
                del self.pending[trial_id]
                if self.monitor is not None:
                    self.monitor.trial_ended(trial_id, str(trial.status), trial.message,
                                             history, count_epochs=True)  # fmt: skip


def serve_search(
    tuner,
    run,
    *,
    workers: int,
    listen: str | None = None,
    device: str = "auto",
    gpu_count: int = 0,
    monitor=None,
    deadline: float | None = None,
    verbose: bool = False,
) -> ChiefReport:
    """Be the chief of a distributed search: serve ``tuner``'s oracle until the search ends.

    Called by ``run_search`` in place of ``tuner.search`` when ``--workers`` or
    ``--listen`` is given. Records ``distributed`` in run.json (the address workers
    dial, then the workers and the faults seen).

    Args:
        tuner: The chief's tuner, built as for a single-process search.
        run: The ``RunDir``.
        workers: Local worker processes to start (0: only workers from elsewhere).
        listen: ``HOST:PORT`` to listen on (``0.0.0.0:PORT`` for other machines);
            default 127.0.0.1 on a free port.
        device: ``--device`` for the local workers.
        gpu_count: GPUs on this machine; local workers get one card each, in turn.
        monitor: The search's ``SearchMonitor`` (progress line, TensorBoard), or None.
        deadline: ``time.monotonic()`` at which a duration budget ends, or None.
        verbose: One line per trial, per-epoch output in the workers' logs.

    Returns:
        The chief's report; ``time_up`` says the duration budget ended the search.
    """
    from houses_tune.tuner.devices import worker_gpus

    bind = parse_address(listen) if listen else ("127.0.0.1", free_port())
    gpus = worker_gpus(workers, gpu_count, os.environ.get("CUDA_VISIBLE_DEVICES"))
    local = local_workers(run.path, dial_address(bind), workers, device, gpus, verbose)
    tuner.oracle.verbose = 0  # the chief prints its own lines, not KerasTuner's tables
    silence_condition_print()
    tuner.oracle.save()
    progress = monitor.progress if monitor is not None else None
    chief = Chief(
        tuner.oracle,
        run.path,
        bind,
        local,
        deadline=deadline,
        on_poll=_ChiefProgress(run.path, monitor),
        log=progress.log if progress is not None else None,
    )
    info = {"chief": chief.report.address, "local_workers": workers}
    if deadline is not None:
        # Workers stop training at the same moment (wall clock: they may be elsewhere).
        info["deadline_unix"] = time.time() + deadline - time.monotonic()
    run.update(distributed=info)
    try:
        report = chief.serve()
    finally:
        run.update(distributed={**info, **chief.report.to_dict()})
    return report
