"""Tuner construction in one place, so the search and distributed workers build the same tuner.

The tuners are KerasTuner's own (Hyperband, RandomSearch, BayesianOptimization) with a
small mixin: ``run_trial`` trains the trial's configuration on every fold (KerasTuner's
documented way to change how a trial is evaluated) and returns the mean validation MAPE,
and hooks report to a ``SearchMonitor`` (TensorBoard, progress, time budget, deferred
Ctrl-C). The search loop, the oracles' algorithms and trial state are KerasTuner's.

Surviving kill -9: KerasTuner saves oracle.json when a trial starts and ends, and on reload
puts the trial that was running back in the retry queue, so it is re-run. Three gaps are
closed here: (1) its JSON files are written in place, so a kill during a write left them
truncated: our oracles write them atomically; (2) a kill just after a trial ended but
before oracle.json recorded it re-ran a finished trial: reload now keeps it as ended;
(3) a kill during the first trial, before ``tuner0.json`` existed, made KerasTuner start
the project over: the tuner is saved right after it is built. Also, KerasTuner stops on
too many consecutive failures before saving the last failed trial: ours saves it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras_tuner

from houses_tune.objective import OBJECTIVE
from houses_tune.run import write_json_atomic
from houses_tune.training.folds import TrialFolds
from houses_tune.tuner.budget import SearchPlan
from houses_tune.tuner.internals import set_min_epochs
from houses_tune.tuner.monitor import SearchMonitor, TimeBudgetReached

#: KerasTuner project name: the project lives in ``results/<run>/tuner/``.
PROJECT_NAME = "tuner"
#: Stop the search after this many failed trials in a row (KerasTuner's default).
MAX_CONSECUTIVE_FAILED_TRIALS = 3


class _AtomicOracle:
    """Oracle mixin: state files written atomically; reload repairs what a kill -9 leaves."""

    def save(self) -> None:
        write_json_atomic(Path(self._get_oracle_fname()), self.get_state())

    def _save_trial(self, trial) -> None:
        path = Path(self._get_trial_dir(trial.trial_id)) / "trial.json"
        write_json_atomic(path, trial.get_state())

    def end_trial(self, trial) -> None:
        try:
            super().end_trial(trial)
        except RuntimeError:
            # KerasTuner raises "consecutive failures" before saving the failed trial;
            # save it so the run folder shows it as failed, not as still running.
            self._save_trial(self.trials[trial.trial_id])
            self.ongoing_trials = {
                tuner_id: ongoing
                for tuner_id, ongoing in self.ongoing_trials.items()
                if ongoing.trial_id != trial.trial_id
            }
            self.save()
            raise

    def reload(self) -> None:
        super().reload()  # also moves the trials that were running to the retry queue
        ended = (
            keras_tuner.engine.trial.TrialStatus.COMPLETED,
            keras_tuner.engine.trial.TrialStatus.FAILED,
        )
        for trial_id in list(self._retry_queue):
            trial = self.trials.get(trial_id)
            if trial is not None and trial.status in ended:
                # It ended (trial.json says so) but oracle.json was not rewritten in time.
                self._retry_queue.remove(trial_id)
                if trial_id not in self.end_order:
                    self.end_order.append(trial_id)
        for trial_id, trial in list(self.trials.items()):
            if trial.status == "RUNNING" and trial_id not in self.start_order:
                # trial.json was written but oracle.json never learned of the trial: its id
                # is free again and will be reused.
                del self.trials[trial_id]


class _HyperbandOracle(_AtomicOracle, keras_tuner.oracles.HyperbandOracle):
    pass


class _RandomSearchOracle(_AtomicOracle, keras_tuner.oracles.RandomSearchOracle):
    pass


class _BayesianOptimizationOracle(_AtomicOracle, keras_tuner.oracles.BayesianOptimizationOracle):
    pass


class _Hooks:
    """Mixin: trials train on every fold (``self.folds``) and report to ``self.monitor``."""

    monitor: SearchMonitor | None = None
    folds: TrialFolds | None = None

    def __init__(self, oracle, hypermodel=None, **kwargs) -> None:
        # The KerasTuner subclass would build its own oracle; ours saves atomically.
        keras_tuner.Tuner.__init__(self, oracle=oracle, hypermodel=hypermodel, **kwargs)

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
        return self.folds.run(
            trial.trial_id,
            trial.hyperparameters,
            epochs=int(values.get("tuner/epochs", kwargs.get("epochs", 1))),
            initial_epoch=int(values.get("tuner/initial_epoch", 0)),
            parent_id=values.get("tuner/trial_id"),
        )

    def on_trial_begin(self, trial) -> None:
        super().on_trial_begin(trial)
        if self.monitor is not None:
            self.monitor.trial_begin(trial)

    def on_trial_end(self, trial) -> None:
        try:
            # Ends the trial in the oracle (which raises RuntimeError after too many
            # consecutive failures) and saves the oracle and tuner state.
            super().on_trial_end(trial)
        finally:
            if self.monitor is not None:
                self.monitor.trial_end(trial)


class HousesHyperband(_Hooks, keras_tuner.Hyperband):
    """``keras_tuner.Hyperband`` with houses-tune's hooks."""


class HousesRandomSearch(_Hooks, keras_tuner.RandomSearch):
    """``keras_tuner.RandomSearch`` with houses-tune's hooks."""


class HousesBayesianOptimization(_Hooks, keras_tuner.BayesianOptimization):
    """``keras_tuner.BayesianOptimization`` with houses-tune's hooks."""


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
        A KerasTuner tuner with the objective ``val_price_mape`` (min).
    """
    common = dict(
        objective=keras_tuner.Objective(OBJECTIVE, direction="min"),
        seed=seed,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=max_consecutive_failed_trials,
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
        tuner_class = HousesHyperband
    elif plan.tuner == "random":
        oracle = _RandomSearchOracle(max_trials=plan.max_trials, **common)
        tuner_class = HousesRandomSearch
    else:
        oracle = _BayesianOptimizationOracle(max_trials=plan.max_trials, **common)
        tuner_class = HousesBayesianOptimization
    tuner = tuner_class(
        oracle, hypermodel, directory=str(directory), project_name=PROJECT_NAME, **tuner_kwargs
    )
    tuner.monitor = monitor
    tuner.folds = folds
    tuner.save()  # tuner0.json must exist before the first trial, or a kill -9 restarts the project
    return tuner


def space_hparams(tuner: keras_tuner.Tuner) -> dict[str, Any]:
    """Every hyperparameter of the tuner's space with its default (the HParams columns)."""
    values = {hp.name: hp.default for hp in tuner.oracle.get_space().space}
    if isinstance(tuner, keras_tuner.Hyperband):
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
