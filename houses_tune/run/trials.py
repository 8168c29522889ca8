"""Trials of a run as the ``trials`` command and export see them: KerasTuner's trial.json
plus the history.json the search writes beside it (every fold's epochs and scores)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from houses_tune.errors import last_line
from houses_tune.run.layout import HISTORY_JSON


@dataclass(frozen=True)
class FoldRecord:
    """One fold model of a trial.

    Attributes:
        fold: 1-based fold number.
        score: Best validation MAPE (%) of the fold model, None if it was not trained.
        best_epoch: 1-based epoch of that score (promoted trials count inherited epochs).
        epoch: Epoch the fold model reached.
        stopped_early: Early stopping ended its training before the round's last epoch.
    """

    fold: int
    score: float | None
    best_epoch: int | None
    epoch: int | None
    stopped_early: bool = False

    def to_dict(self) -> dict:
        """JSON-able view."""
        return {
            "fold": self.fold,
            "score": self.score,
            "best_epoch": self.best_epoch,
            "epoch": self.epoch,
            "stopped_early": self.stopped_early,
        }


@dataclass(frozen=True)
class TrialRecord:
    """One KerasTuner trial of a run.

    Attributes:
        trial_id: KerasTuner's id (``"0007"``), also the TensorBoard folder name.
        status: ``completed``, ``failed``, ``invalid``, ``running`` (a live search is on it)
            or ``interrupted`` (its search died before it ended; a resume reruns it).
        score: Mean over folds of the best validation MAPE (%), None unless completed.
        score_std: Standard deviation of the fold scores (0 with one fold).
        folds: The fold models.
        epochs: Epochs the trial's models reached (the most of any fold), None if unknown.
        best_epoch: Mean best epoch over the folds (what a fixed-epoch refit trains).
        hyperparameters: Active hyperparameter values (``tuner/*`` bookkeeping left out).
        hp_config: KerasTuner's config, for ``keras_tuner.HyperParameters.from_config``.
        message: Why the trial failed (last line of the error), else None.
    """

    trial_id: str
    status: str
    score: float | None
    best_epoch: int | None
    epochs: int | None
    score_std: float | None = None
    folds: tuple[FoldRecord, ...] = ()
    hyperparameters: dict = field(default_factory=dict)
    hp_config: dict = field(default_factory=dict)
    message: str | None = None

    @property
    def complete(self) -> bool:
        """Completed with a score for every fold (a time budget can cut a trial short)."""
        return (
            self.status == "completed"
            and self.score is not None
            and all(f.score is not None for f in self.folds)
        )

    @property
    def folds_scored(self) -> int:
        """Fold models that were trained and scored."""
        return sum(1 for f in self.folds if f.score is not None)

    def to_dict(self) -> dict:
        """JSON-able view (what ``trials --json`` prints)."""
        return {
            "trial_id": self.trial_id,
            "status": self.status,
            "score": self.score,
            "score_std": self.score_std,
            "best_epoch": self.best_epoch,
            "epochs": self.epochs,
            "folds": [f.to_dict() for f in self.folds],
            "hyperparameters": self.hyperparameters,
            "message": self.message,
        }


def active_values(hp_config: dict) -> dict:
    """Values of the hyperparameters active in a KerasTuner ``HyperParameters`` config.

    Evaluates the ``Parent`` conditions of each hyperparameter the way
    ``HyperParameters.is_active`` does, without importing KerasTuner. ``tuner/*``
    bookkeeping values are left out.
    """
    values = hp_config.get("values", {})
    conditions = {}
    for entry in hp_config.get("space", []):
        config = entry.get("config", {})
        conditions.setdefault(config.get("name"), []).append(config.get("conditions", []))

    def condition_holds(condition: dict) -> bool:
        parent = condition.get("config", {})
        name = parent.get("name")
        return is_active(name) and values.get(name) in parent.get("values", [])

    def is_active(name: str) -> bool:
        if name not in values:
            return False
        variants = conditions.get(name)
        if not variants:  # not in the space (e.g. tuner/*): active when it has a value
            return True
        return any(all(condition_holds(c) for c in variant) for variant in variants)

    return {
        name: value
        for name, value in values.items()
        if not name.startswith("tuner/") and is_active(name)
    }


def read_trial(folder: Path, live: bool) -> TrialRecord | None:
    """Read ``tuner/trial_<id>/``; None while its trial.json is being replaced.

    Args:
        folder: The trial's folder.
        live: Whether a search holds the run's lock (else ``running`` means interrupted).
    """
    try:
        state = json.loads((Path(folder) / "trial.json").read_text())
    except (OSError, ValueError):
        return None  # a trial.json being replaced right now; the next listing shows it
    history = {}
    try:
        history = json.loads((Path(folder) / HISTORY_JSON).read_text())
    except (OSError, ValueError):
        history = {}
    hp_config = state.get("hyperparameters", {})
    status = str(state.get("status", "")).lower()
    if status == "running" and not live:
        status = "interrupted"
    completed = status == "completed"
    folds = tuple(
        FoldRecord(
            fold=int(f["fold"]),
            score=_finite(f.get("score")) if completed else None,
            best_epoch=f.get("best_epoch") if completed else None,
            epoch=f.get("epoch"),
            stopped_early=bool(f.get("stopped_early")),
        )
        for f in history.get("folds", [])
    )
    scored = [f for f in folds if f.score is not None]
    epochs = max((f.epoch for f in folds if f.epoch is not None), default=None)
    best_epochs = [f.best_epoch for f in scored if f.best_epoch is not None]
    return TrialRecord(
        trial_id=str(state.get("trial_id", Path(folder).name.removeprefix("trial_"))),
        status=status,
        score=_finite(state.get("score")) if completed and scored else None,
        score_std=history.get("score_std") if completed and scored else None,
        best_epoch=round(sum(best_epochs) / len(best_epochs)) if best_epochs else None,
        epochs=epochs,
        folds=folds,
        hyperparameters=active_values(hp_config),
        hp_config=hp_config,
        message=last_line(state.get("message")) if status in ("failed", "invalid") else None,
    )


def _finite(value) -> float | None:
    if value is None or not math.isfinite(float(value)):
        return None
    return float(value)
