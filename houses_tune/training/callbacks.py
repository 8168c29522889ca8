"""Keras callbacks of fold training: early stopping with best weights, faults, listeners."""

from __future__ import annotations

import math
from typing import Any

import keras
import keras_tuner

from houses_tune.objective import MAPE


def check_finite(logs: dict[str, Any] | None, epoch: int) -> None:
    """Fail the trial if the training or validation loss is NaN or infinite.

    Raises:
        keras_tuner.errors.FailedTrialError: The loss is not finite (the search goes on).
    """
    for key in ("loss", "val_loss"):
        value = (logs or {}).get(key)
        if value is not None and not math.isfinite(float(value)):
            raise keras_tuner.errors.FailedTrialError(
                f"{key} became {float(value)} at epoch {epoch + 1}"
            )


class BestWeights(keras.callbacks.Callback):
    """Early stopping on the fold's validation objective; the best weights are restored at
    the end.

    Unlike ``keras.callbacks.EarlyStopping``, a model resumed from a checkpoint starts from
    that checkpoint's score and weights: if training never beats them, they are kept.

    Args:
        patience: Epochs without improvement before training stops (None: never stops).
        best: Score of the starting weights (a resumed fold), or None.
        monitor: The objective's key in the epoch logs (``Objective.monitor``).
    """

    def __init__(
        self, patience: int | None, best: float | None = None, monitor: str = MAPE.monitor
    ) -> None:
        super().__init__()
        self.patience = patience
        self.monitor = monitor
        self.best = math.inf if best is None else best
        self.best_epoch: int | None = None  # 0-based, as Keras counts (initial epochs included)
        self.stopped_early = False
        self._best_weights = None
        self._wait = 0

    def on_train_begin(self, logs=None):
        if math.isfinite(self.best):
            self._best_weights = self.model.get_weights()

    def on_epoch_end(self, epoch, logs=None):
        check_finite(logs, epoch)
        score = float((logs or {}).get(self.monitor, math.nan))
        if math.isfinite(score) and score < self.best:
            self.best, self.best_epoch, self._wait = score, epoch, 0
            self._best_weights = self.model.get_weights()
            return
        self._wait += 1
        if self.patience is not None and self._wait >= self.patience:
            self.stopped_early = True
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._best_weights is not None:
            self.model.set_weights(self._best_weights)


class Forward(keras.callbacks.Callback):
    """Forwards batch and epoch ends of one fold model to a ``Listener``."""

    def __init__(self, listener, fold: int) -> None:
        super().__init__()
        self.listener = listener
        self.fold = fold

    def on_train_batch_end(self, batch, logs=None):
        self.listener.batch_end()

    def on_epoch_end(self, epoch, logs=None):
        if self.listener.epoch_end(self.fold, epoch, dict(logs or {})):
            self.model.stop_training = True
