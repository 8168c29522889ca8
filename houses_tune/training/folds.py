"""Fold models: one configuration trained once per fold, each early-stopped on its own rows.

A trial of the search trains its configuration on every fold of the search rows (fold k
learns from the other folds and stops on its own validation rows, best weights restored)
and is scored by the mean of the folds' best validation objective (MAPE or MAE). The
folds are trained one after another in this process: ``benchmarks/trial_cost.py`` measures
why (the README has the figures).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from houses_tune.run import (
    HISTORY_JSON,
    atomic_path,
    fold_weights,
    write_bytes_atomic,
    write_json_atomic,
)


def fold_seed(seed: int, fold: int) -> int:
    """Seed of fold ``fold`` (1-based): the folds' models start from different weights."""
    return seed + 1000 * (fold - 1)


class Listener:
    """What fold training tells its caller (progress, logs, time budget); does nothing."""

    def next_models(self, label: str, epochs: int) -> None:
        """The next models to train are ``label``, up to ``epochs`` epochs each."""

    def fold_begin(self, fold: int) -> None:
        """Fold ``fold`` (1-based) starts training."""

    def batch_end(self) -> None:
        """A batch ended (may raise ``KeyboardInterrupt`` at this safe point)."""

    def epoch_end(self, fold: int, epoch: int, logs: dict) -> bool:
        """An epoch (0-based) of fold ``fold`` ended; return True to stop that fold now."""
        return False

    def fold_end(self, result: FoldResult) -> None:
        """A fold ended."""

    def model_skipped(self, label: str) -> None:
        """A model was not trained: its results came from a cache."""

    def model_trained(self, label: str) -> None:
        """A model was trained elsewhere (a worker process) and its results are back."""

    def time_is_up(self) -> bool:
        """Whether to skip the folds not started yet."""
        return False


@dataclass
class FoldResult:
    """What training one fold model gave.

    Attributes:
        fold: 1-based fold number.
        score: Best validation objective, None without validation rows or a finite score.
        best_epoch: 1-based epoch of ``score`` (counting epochs inherited on promotion).
        epoch: Epoch the model reached.
        trained: Epochs trained by this call (0 for a fold carried over unchanged).
        stopped_early: Early stopping ended the training before ``epochs``.
        carried: A promoted trial kept this fold as it was (it had stopped early before).
        history: Per-epoch Keras logs of this call.
    """

    fold: int
    score: float | None
    best_epoch: int | None
    epoch: int
    trained: int
    stopped_early: bool = False
    carried: bool = False
    history: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-able view (history.json)."""
        return {
            "fold": self.fold,
            "score": self.score,
            "best_epoch": self.best_epoch,
            "epoch": self.epoch,
            "trained": self.trained,
            "stopped_early": self.stopped_early,
            "carried": self.carried,
            "history": self.history,
        }

    @classmethod
    def from_dict(cls, data: dict) -> FoldResult:
        """Inverse of ``to_dict``."""
        keys = (
            "fold",
            "score",
            "best_epoch",
            "epoch",
            "trained",
            "stopped_early",
            "carried",
            "history",
        )
        return cls(**{key: data[key] for key in keys if key in data})


@dataclass(frozen=True)
class Start:
    """Where a resumed fold model starts: its checkpoint and that checkpoint's result."""

    weights: Path
    result: FoldResult


def load_checkpoint(model, path: Path) -> None:
    """Load a fold model's checkpoint: its weights and its optimizer's state (so a promoted
    trial resumes training where it stopped, not with a fresh optimizer)."""
    model.optimizer.build(model.trainable_variables)
    model.load_weights(path)


class Reusable:
    """One compiled model of a configuration, trained fold after fold.

    Each fold starts it from that fold's fresh weights and a fresh optimizer state, so it
    trains exactly as a new model would; but Keras compiles (and JAX traces) its training
    step once per configuration instead of once per fold, which is most of what a small
    model's fold costs.
    """

    def __init__(self, hypermodel, hp) -> None:
        self.hypermodel = hypermodel
        self.hp = hp
        self.model = None
        self._optimizer_start: list = []

    def start(self, fit_rows: np.ndarray, fold: int, seed: int):
        """The model, with fold ``fold``'s initial weights and a fresh optimizer."""
        import keras

        if self.model is None:
            # A fresh graph per configuration, as KerasTuner does; clear_session also resets
            # the dtype policy, which --mixed-precision set for every model.
            policy = keras.config.dtype_policy()
            keras.backend.clear_session()
            keras.config.set_dtype_policy(policy)
        fresh = self.hypermodel.build(self.hp, fit_rows=fit_rows, seed=fold_seed(seed, fold))
        if self.model is None:
            fresh.optimizer.build(fresh.trainable_variables)
            self._optimizer_start = [v.numpy() for v in fresh.optimizer.variables]
            self.model = fresh
            return fresh
        self.model.set_weights(fresh.get_weights())
        for variable, value in zip(
            self.model.optimizer.variables, self._optimizer_start, strict=True
        ):
            variable.assign(value)
        return self.model


def train_fold(
    hypermodel,
    hp,
    fold: int,
    fit_rows: np.ndarray,
    val_rows: np.ndarray,
    epochs: int,
    *,
    initial_epoch: int = 0,
    patience: int | None = None,
    seed: int = 0,
    start: Start | None = None,
    listener: Listener | None = None,
    verbose: int = 0,
    reusable: Reusable | None = None,
):
    """Train one fold model (on ``reusable``'s model if given, else on a new one).

    With validation rows it is early-stopped on them (``patience`` epochs without a better
    validation objective) and ends with its best weights; without, it trains ``epochs`` epochs.

    Args:
        hypermodel: The ``HousesHyperModel``.
        hp: The configuration.
        fold: 1-based fold number (seeds the model).
        fit_rows: Rows it learns from.
        val_rows: Rows it is scored and stopped on (may be empty).
        epochs: Epoch to train up to (``initial_epoch`` counts as done).
        initial_epoch: Epochs already trained (a promoted trial's).
        patience: Early-stopping patience; None never stops early.
        seed: The run's seed.
        start: Checkpoint to resume from, or None to start from fresh weights.
        listener: Progress, logs and time budget.
        verbose: Keras verbosity.
        reusable: The configuration's compiled model, reused from fold to fold.

    Returns:
        ``(model, FoldResult)``; the model is ``reusable``'s, which the next fold retrains.
    """
    from houses_tune.training.callbacks import BestWeights, Forward
    from houses_tune.training.feed import fit_arguments

    listener = listener or Listener()
    model = (reusable or Reusable(hypermodel, hp)).start(fit_rows, fold, seed)
    if start is not None:
        load_checkpoint(model, start.weights)
    x, y = hypermodel.arrays(hp, fit_rows, model)
    validation = hypermodel.arrays(hp, val_rows, model) if len(val_rows) else None
    stopping = BestWeights(
        patience if validation else None,
        start.result.score if start is not None else None,
        monitor=hypermodel.objective.monitor,
    )
    listener.fold_begin(fold)
    history = model.fit(
        **fit_arguments(x, y, hp.get("batch_size"), validation, fold_seed(seed, fold)),
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=[Forward(listener, fold), stopping],
        verbose=verbose,
    )
    logs = {k: [float(v) for v in values] for k, values in history.history.items()}
    trained = len(logs.get("loss", []))
    best_epoch = start.result.best_epoch if start is not None else None
    if stopping.best_epoch is not None:  # Keras counts epochs from 0, initial ones included
        best_epoch = stopping.best_epoch + 1
    score = stopping.best if validation and math.isfinite(stopping.best) else None
    result = FoldResult(
        fold=fold,
        score=score,
        best_epoch=best_epoch,
        epoch=initial_epoch + trained,
        trained=trained,
        stopped_early=stopping.stopped_early,
        history=logs,
    )
    listener.fold_end(result)
    return model, result


def train_configuration(
    hypermodel,
    hp,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    epochs: int,
    *,
    patience: int | None = None,
    seed: int = 0,
    listener: Listener | None = None,
):
    """Train ``hp`` once per fold from fresh weights (export's cross-validation, refit).

    Returns:
        ``[(model, FoldResult), ...]`` in fold order, a model per fold.
    """
    reusable, trained = Reusable(hypermodel, hp), []
    for index, (fit, val) in enumerate(folds, start=1):
        model, result = train_fold(
            hypermodel, hp, index, fit, val, epochs, patience=patience, seed=seed,
            listener=listener, reusable=reusable,
        )  # fmt: skip
        copy = hypermodel.build(hp, fit_rows=fit)
        copy.set_weights(model.get_weights())
        trained.append((copy, result))
    return trained


class TrialFolds:
    """Runs one trial of the search: its configuration on every fold, with checkpoints.

    Each fold model's best weights go to ``trial_<id>/fold_<k>.weights.h5`` and every
    fold's epochs and scores to ``history.json``. A Hyperband-promoted trial resumes each
    fold model from its parent trial's checkpoint; a fold that had stopped early is done
    and is carried over as it was.

    Args:
        hypermodel: The ``HousesHyperModel``.
        splits: The run's ``Splits`` (``folds`` says which rows validate each fold).
        tuner_dir: KerasTuner's project folder (``results/<run>/tuner``).
        patience: Early-stopping patience of every fold model.
        seed: The run's seed.
        listener: The search's monitor (progress, TensorBoard, time budget, Ctrl-C).
        verbose: Keras verbosity.
    """

    def __init__(
        self,
        hypermodel,
        splits,
        tuner_dir: Path,
        patience: int,
        seed: int = 0,
        listener: Listener | None = None,
        verbose: int = 0,
    ) -> None:
        self.hypermodel = hypermodel
        self.splits = splits
        self.tuner_dir = Path(tuner_dir)
        self.patience = patience
        self.seed = seed
        self.listener = listener or Listener()
        self.verbose = verbose

    def run(
        self, trial_id: str, hp, epochs: int, initial_epoch: int = 0, parent_id: str | None = None
    ) -> dict:
        """Train every fold of a trial; return its metrics for KerasTuner (the objective).

        Raises:
            keras_tuner.errors.FailedTrialError: A fold's loss became NaN or infinite.
            WriteError: A checkpoint or history.json cannot be written (a full disk).
        """
        folder = self.tuner_dir / f"trial_{trial_id}"
        folder.mkdir(parents=True, exist_ok=True)
        parent = self._parent(parent_id)
        started, results = time.monotonic(), []
        stopped_by_time = False
        listener = _Counting(self.listener)  # also counts the epochs of a fold that fails
        reusable = Reusable(self.hypermodel, hp)
        try:
            for index in range(len(self.splits.folds)):
                fold = index + 1
                if listener.time_is_up():
                    stopped_by_time = True
                    break
                start = parent.get(fold)
                if start is not None and start.result.stopped_early:
                    results.append(self._carry(start, folder))
                    continue
                fit, val = self.splits.fold(index)
                model, result = train_fold(
                    self.hypermodel,
                    hp,
                    fold,
                    fit,
                    val,
                    epochs,
                    initial_epoch=initial_epoch,
                    patience=self.patience,
                    seed=self.seed,
                    start=start,
                    listener=listener,
                    verbose=self.verbose,
                    reusable=reusable,
                )
                # The seam for private parts (Keras' in-memory .h5 here); imported late
                # because the tuner package imports this one.
                from houses_tune.tuner.internals import weights_file_bytes

                write_bytes_atomic(fold_weights(folder, fold), weights_file_bytes(model))
                results.append(result)
            scores = [r.score for r in results if r.score is not None]
            if not scores:
                raise _failed("no fold model has a finite validation score")
            return {self.hypermodel.objective.monitor: float(np.mean(scores))}
        finally:
            self._write_history(
                folder, results, listener.epochs, initial_epoch, epochs, started, stopped_by_time
            )

    def _parent(self, parent_id: str | None) -> dict[int, Start]:
        """The parent trial's fold checkpoints, by fold (a promoted trial resumes them)."""
        if parent_id is None:
            return {}
        folder = self.tuner_dir / f"trial_{parent_id}"
        history = json.loads((folder / HISTORY_JSON).read_text())
        starts = {}
        for data in history.get("folds", []):
            result = FoldResult.from_dict(data)
            weights = fold_weights(folder, result.fold)
            if result.score is not None and weights.is_file():
                starts[result.fold] = Start(weights, result)
        return starts

    def _carry(self, start: Start, folder: Path) -> FoldResult:
        with atomic_path(fold_weights(folder, start.result.fold)) as path:
            shutil.copyfile(start.weights, path)
        result = start.result
        return FoldResult(
            result.fold,
            result.score,
            result.best_epoch,
            result.epoch,
            0,
            stopped_early=True,
            carried=True,
        )

    def _write_history(
        self, folder, results, trained, initial_epoch, epochs, started, by_time
    ) -> None:
        scores = [r.score for r in results if r.score is not None]
        write_json_atomic(
            folder / HISTORY_JSON,
            {
                "initial_epoch": initial_epoch,
                "epochs": epochs,
                "epochs_trained": trained,
                "score": float(np.mean(scores)) if scores else None,
                "score_std": float(np.std(scores)) if scores else None,
                "folds_planned": len(self.splits.folds),
                "seconds": round(time.monotonic() - started, 3),
                "stopped_by_time_budget": by_time,
                "folds": [r.to_dict() for r in results],
            },
        )


class _Counting(Listener):
    """Forwards to another listener, counting epochs."""

    def __init__(self, inner: Listener) -> None:
        self.inner = inner
        self.epochs = 0

    def next_models(self, label, epochs):
        self.inner.next_models(label, epochs)

    def fold_begin(self, fold):
        self.inner.fold_begin(fold)

    def batch_end(self):
        self.inner.batch_end()

    def epoch_end(self, fold, epoch, logs):
        self.epochs += 1
        return self.inner.epoch_end(fold, epoch, logs)

    def fold_end(self, result):
        self.inner.fold_end(result)

    def model_skipped(self, label):
        self.inner.model_skipped(label)

    def model_trained(self, label):
        self.inner.model_trained(label)

    def time_is_up(self):
        return self.inner.time_is_up()


def _failed(message: str):
    import keras_tuner

    return keras_tuner.errors.FailedTrialError(message)
