"""What KerasTuner's oracle lacks to serve workers that may die: losing a worker's trial.

KerasTuner's chief waits forever for the trial of a worker that died (KerasTuner issue
915). ``lose_worker`` gives that trial back to the retry queue (KerasTuner's own path for
trials to run again), and ``LostWorkerGuards`` drops the late reports of a worker declared
lost and keeps the time budget for every worker. The guards take the oracle's lock as
``keras_tuner.synchronized`` does, but release it when a call raises (a full disk while
saving), so a failed gRPC call never leaves the chief waiting for the lock.
"""

from __future__ import annotations

import collections
import time

from houses_tune.tuner.internals import oracle_lock, retry_queue

#: Times a trial may lose its worker before it is marked failed.
MAX_TRIAL_LOSSES = 2


class LostWorkerGuards:
    """Oracle mixin for the chief of a distributed search (harmless in a single process).

    Attributes:
        deadline: ``time.monotonic()`` after which no trial starts, or None. Past it, a
            worker asking for a trial is told STOPPED (and forgotten).
    """

    deadline: float | None = None

    def create_trial(self, tuner_id):
        with oracle_lock(self):
            if self.deadline is None or time.monotonic() < self.deadline:
                return super().create_trial(tuner_id)
            import keras_tuner

            lose_worker(self, tuner_id, "time budget reached", None)
            return keras_tuner.engine.trial.Trial(self.get_space(), status="STOPPED")

    # A worker declared lost may still be alive (a slow shared disk, a network hiccup).
    # Its trial went back to the queue, so its late reports are dropped: each trial is
    # recorded once.
    def update_trial(self, trial_id, metrics, step=0):
        with oracle_lock(self):
            if not self._is_running(trial_id):
                return self.trials[trial_id]
            return super().update_trial(trial_id, metrics, step=step)

    def end_trial(self, trial) -> None:
        with oracle_lock(self):
            if self._is_running(trial.trial_id):
                super().end_trial(trial)

    def _is_running(self, trial_id: str) -> bool:
        return any(t.trial_id == trial_id for t in self.ongoing_trials.values())


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
    with oracle_lock(oracle):
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
            retry_queue(oracle).append(trial.trial_id)
            oracle.save()
            return f"trial {trial.trial_id} goes back to the queue"
        trial.status = "FAILED"
        trial.message = f"{reason} (the trial lost its worker {lost} times)"
        oracle.end_trial(trial)  # records it once and pops it from ongoing_trials
        return f"trial {trial.trial_id} marked failed"
