"""Tuner construction in one place, so the search and distributed workers build the same tuner.

The tuner is KerasTuner's ``Tuner`` with the oracle of the plan (``HyperbandOracle``,
``RandomSearchOracle`` or ``BayesianOptimizationOracle``: all that ``keras_tuner.Hyperband``
and the others add to ``Tuner``) and a few hooks: ``run_trial`` trains the trial's
configuration on every fold (KerasTuner's documented way to change how a trial is
evaluated) and returns the mean validation objective, and the hooks report to a
``SearchMonitor`` (TensorBoard, progress, time budget, deferred Ctrl-C). The search loop,
the oracles' algorithms and trial state are KerasTuner's.

Surviving kill -9 and a full disk: KerasTuner saves oracle.json when a trial starts and
ends, and on reload puts the trial that was running back in the retry queue, so it is
re-run. Gaps closed here (``tests/tuner/test_search_faults.py`` shows each one):

1. its JSON files are written in place, so a kill or a full disk during a write left them
   torn: our oracles write them atomically (``internals.AtomicStateFiles``);
2. a kill after a trial's trial.json recorded its end but before oracle.json did re-ran a
   finished trial, and a kill after a new trial's trial.json but before oracle.json left
   a trial that never ends: reload repairs both;
3. a kill before ``tuner0.json`` existed (the first trial) made KerasTuner start the
   project over, losing a first trial that had ended: the tuner is saved when built;
4. a write that fails inside a trial (a full disk) would mark the trial failed for good:
   it stops the search instead (``TrialWriteError``), and the resume re-runs the trial.

Too many failed trials in a row stop the search with ``TooManyFailedTrials``, counted by
the oracle after the trial that ended was saved (KerasTuner counts before it saves).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras_tuner

from houses_tune.errors import TooManyFailedTrials, WriteError, last_line
from houses_tune.training.folds import TrialFolds
from houses_tune.tuner.budget import SearchPlan
from houses_tune.tuner.distributed.oracle import LostWorkerGuards
from houses_tune.tuner.internals import AtomicStateFiles, retry_queue, set_min_epochs
from houses_tune.tuner.monitor import SearchMonitor, TimeBudgetReached

#: KerasTuner project name: the project lives in ``results/<run>/tuner/``.
PROJECT_NAME = "tuner"
#: Stop the search after this many failed trials in a row (KerasTuner's default).
MAX_CONSECUTIVE_FAILED_TRIALS = 3

_ENDED = (
    keras_tuner.engine.trial.TrialStatus.COMPLETED,
    keras_tuner.engine.trial.TrialStatus.FAILED,
)


class TrialWriteError(WriteError, keras_tuner.errors.FatalError):
    """A write into the run folder failed during a trial: KerasTuner stops the search
    (a ``FatalError``) instead of recording the trial as failed, so a resume re-runs it."""


class _RunOracle(AtomicStateFiles):
    """Oracle mixin: atomic state files, repairs after a kill, the count of failed trials.

    Attributes:
        failure_limit: Failed trials in a row that stop the search (None: never).
    """

    failure_limit: int | None = None

    def update_trial(self, trial_id, metrics, step=0):
        try:
            return super().update_trial(trial_id, metrics, step=step)
        except WriteError as error:  # KerasTuner calls it inside the trial: stop, not fail
            raise TrialWriteError(error.path, error.reason) from None

    def end_trial(self, trial) -> None:
        super().end_trial(trial)
        if self.failure_limit:
            self.check_failures(self.failure_limit)

    def check_failures(self, limit: int) -> None:
        """Raise ``TooManyFailedTrials`` when the last ``limit`` trials to end all failed."""
        last = [self.trials[trial_id] for trial_id in self.end_order[-limit:]]
        if len(last) == limit and all(t.status == "FAILED" for t in last):
            raise TooManyFailedTrials(limit, last_line(last[-1].message))

    def reload(self) -> None:
        super().reload()  # also moves the trials that were running to the retry queue
        queue = retry_queue(self)
        for trial_id in list(queue):
            trial = self.trials.get(trial_id)
            if trial is not None and trial.status in _ENDED:
                # It ended (trial.json says so) but oracle.json was not rewritten in time.
                queue.remove(trial_id)
                if trial_id not in self.end_order:
                    self.end_order.append(trial_id)
        for trial_id, trial in list(self.trials.items()):
            if trial.status == "RUNNING" and trial_id not in self.start_order:
                # trial.json was written but oracle.json never learned of the trial: its id
                # is free again and will be reused.
                del self.trials[trial_id]


class _HyperbandOracle(_RunOracle, LostWorkerGuards, keras_tuner.oracles.HyperbandOracle):
    pass


class _RandomSearchOracle(_RunOracle, LostWorkerGuards, keras_tuner.oracles.RandomSearchOracle):
    pass


class _BayesianOracle(_RunOracle, LostWorkerGuards, keras_tuner.oracles.BayesianOptimizationOracle):
    pass


class HousesTuner(keras_tuner.Tuner):
    """KerasTuner's ``Tuner``: trials train on every fold (``self.folds``) and report to
    ``self.monitor``."""

    monitor: SearchMonitor | None = None
    folds: TrialFolds | None = None

    def pre_create_trial(self) -> None:
        super().pre_create_trial()
        # Checked before the oracle creates a trial, so no trial is left half-started.
        if self.monitor is not None:
            self.monitor.check_interrupt()
            if self.monitor.time_is_up():
                raise TimeBudgetReached

    def run_trial(self, trial, *args, **kwargs) -> dict:
        # Hyperband's documented trial values: the round's epochs, where it resumes, and
        # the trial it resumes from. Random and Bayesian search pass ``epochs`` to search().
        values = trial.hyperparameters.values
        try:
            return self.folds.run(
                trial.trial_id,
                trial.hyperparameters,
                epochs=int(values.get("tuner/epochs", kwargs.get("epochs", 1))),
                initial_epoch=int(values.get("tuner/initial_epoch", 0)),
                parent_id=values.get("tuner/trial_id"),
            )
        except WriteError as error:
            raise TrialWriteError(error.path, error.reason) from None

    def on_trial_begin(self, trial) -> None:
        super().on_trial_begin(trial)
        if self.monitor is not None:
            self.monitor.trial_begin(trial)

    def on_trial_end(self, trial) -> None:
        # Ends the trial in the oracle and saves the oracle and tuner state, then reports
        # it, also when the oracle stops the search after too many failures in a row. (A
        # failed save is not reported: the trial did not end, a resume re-runs it.)
        try:
            super().on_trial_end(trial)
        except TooManyFailedTrials:
            self._report_end(trial)
            raise
        self._report_end(trial)

    def _report_end(self, trial) -> None:
        if self.monitor is not None:
            self.monitor.trial_end(trial)


def build_tuner(
    plan: SearchPlan,
    hypermodel: keras_tuner.HyperModel,
    directory: Path,
    seed: int,
    folds: TrialFolds,
    *,
    monitor: SearchMonitor | None = None,
    max_consecutive_failed_trials: int = MAX_CONSECUTIVE_FAILED_TRIALS,
    **tuner_kwargs: Any,
) -> keras_tuner.Tuner:
    """Build the tuner of a plan, reloading the project in ``directory/tuner`` if it exists.

    Args:
        plan: The search plan (tuner kind, max_epochs, factor, iterations, max_trials).
        hypermodel: The ``HousesHyperModel``.
        directory: The run folder; KerasTuner's project is ``directory/tuner``.
        seed: Seed of the oracle.
        folds: Trains a trial's configuration on every fold.
        monitor: Hooks target (TensorBoard, progress, time budget), or None.
        max_consecutive_failed_trials: Failed trials in a row that stop the search.
        **tuner_kwargs: Passed to the KerasTuner class (e.g. ``distribution_strategy``).

    Returns:
        A KerasTuner tuner with the dataset's objective (``val_price_mape``, min).
    """
    common = dict(
        objective=keras_tuner.Objective(hypermodel.objective.monitor, direction="min"),
        seed=seed,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=None,  # counted by _RunOracle, after the save
    )
    if plan.tuner == "hyperband":
        # iterations None -> KerasTuner iterates forever; the duration budget stops it.
        oracle = _HyperbandOracle(
            max_epochs=plan.max_epochs,
            factor=plan.factor,
            hyperband_iterations=plan.iterations,
            **common,
        )
        set_min_epochs(oracle, plan.min_epochs)
    elif plan.tuner == "random":
        oracle = _RandomSearchOracle(max_trials=plan.max_trials, **common)
    else:
        oracle = _BayesianOracle(max_trials=plan.max_trials, **common)
    oracle.failure_limit = max_consecutive_failed_trials
    tuner = HousesTuner(
        oracle, hypermodel, directory=str(directory), project_name=PROJECT_NAME, **tuner_kwargs
    )
    tuner.monitor = monitor
    tuner.folds = folds
    tuner.save()  # tuner0.json must exist before the first trial, or a kill -9 restarts the project
    return tuner


def space_hparams(tuner: keras_tuner.Tuner, plan: SearchPlan) -> dict[str, Any]:
    """Every hyperparameter of the tuner's space with its default (the HParams columns)."""
    values = {hp.name: hp.default for hp in tuner.oracle.get_space().space}
    if plan.tuner == "hyperband":
        values.update(
            {
                "tuner/epochs": 0,
                "tuner/initial_epoch": 0,
                "tuner/bracket": 0,
                "tuner/round": 0,
                "tuner/trial_id": "",
            }
        )
    return values
