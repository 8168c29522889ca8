"""The chief's hold on KerasTuner's oracle: the gRPC servicer, its lock, a lost worker's trial."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

#: Times a trial may lose its worker before it is marked failed.
MAX_TRIAL_LOSSES = 2


def _servicer_class():
    """KerasTuner's OracleServicer, plus a time limit and a guard against lost workers."""
    from keras_tuner.src.distribute import oracle_chief
    from keras_tuner.src.engine import trial as trial_module

    service = oracle_chief.protos.get_service()

    class GuardedServicer(oracle_chief.OracleServicer):
        def __init__(self, oracle, deadline: float | None = None) -> None:
            super().__init__(oracle)
            self.deadline = deadline  # time.monotonic() after which no trial starts

        def CreateTrial(self, request, context):  # noqa: N802 (gRPC method name)
            if self.deadline is not None and time.monotonic() >= self.deadline:
                # The chief keeps the time budget for every worker, wherever it runs.
                self.stop_triggered = True
                lose_worker(self.oracle, request.tuner_id, "time budget reached", None)
                stopped = trial_module.Trial(self.oracle.get_space(), status="STOPPED")
                return service.CreateTrialResponse(trial=stopped.to_proto())
            return super().CreateTrial(request, context)

        # A worker declared lost may still be alive (a slow shared disk, a network
        # hiccup). Its trial went back to the queue, so its late reports are dropped:
        # each trial is recorded once.
        def _running(self, trial_id: str) -> bool:
            ongoing = _locked(self.oracle, lambda: list(self.oracle.ongoing_trials.values()))
            return any(t.trial_id == trial_id for t in ongoing)

        def UpdateTrial(self, request, context):  # noqa: N802
            if not self._running(request.trial_id):
                trial = self.oracle.get_trial(request.trial_id)
                return service.UpdateTrialResponse(trial=trial.to_proto())
            return super().UpdateTrial(request, context)

        def EndTrial(self, request, context):  # noqa: N802
            if not self._running(request.trial.trial_id):
                return service.EndTrialResponse()
            return super().EndTrial(request, context)

    return GuardedServicer


def _locked(oracle, call: Callable):
    """Run ``call()`` holding the oracle's lock, as ``keras_tuner.synchronized`` does.

    The gRPC thread changes the oracle meanwhile. Unlike ``synchronized``, the lock is
    released when ``call`` raises.
    """
    from keras_tuner.src.engine.oracle import LOCKS, THREADS

    with LOCKS[oracle]:
        # Oracle methods called inside see this thread holds the lock and do not retake it.
        THREADS[oracle] = threading.current_thread().name
        try:
            return call()
        finally:
            THREADS[oracle] = None


def lose_worker(
    oracle, tuner_id: str, reason: str, losses: collections.Counter | None
) -> str | None:
    """Forget a dead worker; requeue its running trial, or fail it after repeated losses.

    Args:
        oracle: The chief's KerasTuner oracle.
        tuner_id: The worker that is gone.
        reason: Why, for the trial's message.
        losses: Trial id -> times it lost its worker (updated); None to requeue the
            trial without counting (the worker stopped for the time budget).

    Returns:
        What happened, for the log (None if the worker held no trial).
    """
    from keras_tuner.src.engine import trial as trial_module

    def _lose():
        oracle.tuner_ids.discard(tuner_id)
        trial = oracle.ongoing_trials.get(tuner_id)
        if trial is None:
            return None
        lost = MAX_TRIAL_LOSSES - 1 if losses is None else losses[trial.trial_id] + 1
        if losses is not None:
            losses[trial.trial_id] = lost
        if lost < MAX_TRIAL_LOSSES:
            # KerasTuner's own retry path: the next worker to ask gets this trial.
            del oracle.ongoing_trials[tuner_id]
            oracle._retry_queue.append(trial.trial_id)
            oracle.save()
            return f"trial {trial.trial_id} goes back to the queue"
        trial.status = trial_module.TrialStatus.FAILED
        trial.message = f"{reason} (the trial lost its worker {lost} times)"
        oracle.end_trial(trial)  # records it once and pops it from ongoing_trials
        return f"trial {trial.trial_id} marked failed"

    return _locked(oracle, _lose)
