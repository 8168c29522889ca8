"""What our tuners do around each KerasTuner trial: logs, progress, time budget, history.

The tuner subclasses in ``build.py`` forward their hooks (``on_trial_begin``,
``on_epoch_end``, ``on_trial_end``, ``pre_create_trial``) to a ``SearchMonitor``. The
hooks live on the tuner, not in Keras callbacks, because KerasTuner deep-copies the
callbacks of every trial and writers or consoles cannot be copied.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

from houses_tune.results.run_dir import HISTORY_JSON, write_json_atomic
from houses_tune.tuner.progress import SearchProgress
from houses_tune.tuner.tensorboard import TensorBoardLogger

OBJECTIVE = "val_price_mape"


class TimeBudgetReached(Exception):
    """Raised before a new trial would start once a duration budget is spent."""


def trial_values(trial: Any) -> dict[str, Any]:
    """The values of a KerasTuner trial's hyperparameters (active ones and ``tuner/*``)."""
    return dict(trial.hyperparameters.values)


class SearchMonitor:
    """Per-trial and per-epoch bookkeeping of one search session.

    Args:
        tuner_dir: KerasTuner's project folder (``results/<run>/tuner``).
        tensorboard: Where to log, or None.
        progress: The progress line, or None.
        deadline: ``time.monotonic()`` value after which no epoch or trial starts, or None.
        verbose: Print one line per ended trial.

    Time budget: at every epoch end past the deadline, the running trial stops training
    (``model.stop_training``) and ends normally with the epochs it trained, so it is kept;
    then no new trial starts.

    Ctrl-C: ``request_interrupt`` (the SIGINT handler during a search) only sets a flag;
    ``KeyboardInterrupt`` is raised at the next batch end or before the next trial, never
    in the middle of writing state. A second Ctrl-C raises at once.
    """

    def __init__(
        self,
        tuner_dir: Path,
        tensorboard: TensorBoardLogger | None = None,
        progress: SearchProgress | None = None,
        deadline: float | None = None,
        verbose: bool = False,
    ) -> None:
        self.tuner_dir = Path(tuner_dir)
        self.tensorboard = tensorboard
        self.progress = progress
        self.deadline = deadline
        self.verbose = verbose
        self.epochs = 0  # trained in this session
        self.trials: dict[str, str] = {}  # trial id -> status, ended in this session
        self._history: dict[str, list[float]] = {}
        self._initial_epoch = 0
        self._started = 0.0
        self._stopped_by_time = False
        self.interrupt_requested = False

    def request_interrupt(self, signum: int | None = None, frame: Any = None) -> None:
        """SIGINT handler: stop at the next safe point (twice: stop now)."""
        if self.interrupt_requested:
            raise KeyboardInterrupt
        self.interrupt_requested = True
        sys.stderr.write("\nStopping after this batch (Ctrl-C again to stop at once)...\n")

    def check_interrupt(self) -> None:
        """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed (called at safe points)."""
        if self.interrupt_requested:
            raise KeyboardInterrupt

    def time_is_up(self) -> bool:
        """Whether the duration budget is spent."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    def trial_begin(self, trial: Any) -> None:
        """A trial starts (fresh, promoted, or re-run after its search was killed)."""
        values = trial_values(trial)
        self._initial_epoch = int(values.get("tuner/initial_epoch", 0))
        self._history = {}
        self._started = time.monotonic()
        self._stopped_by_time = False
        if self.tensorboard:
            self.tensorboard.trial_begin(trial.trial_id, values)

    def epoch_end(self, trial: Any, model: Any, epoch: int, logs: dict[str, Any]) -> None:
        """Record and log one epoch; stop the trial's training when time is up."""
        for key, value in logs.items():
            try:
                self._history.setdefault(key, []).append(float(value))
            except (TypeError, ValueError):
                pass
        self.epochs += 1
        if self.tensorboard:
            self.tensorboard.epoch_end(epoch, logs)
        if self.progress:
            self.progress.epoch_end()
        if self.time_is_up():
            model.stop_training = True
            self._stopped_by_time = True

    def best(self) -> tuple[float | None, int | None]:
        """Best objective of the current trial and its 1-based epoch (first minimum)."""
        scores = self._history.get(OBJECTIVE, [])
        finite = [(s, i) for i, s in enumerate(scores) if math.isfinite(s)]
        if not finite:
            return None, None
        score, index = min(finite, key=lambda pair: (pair[0], pair[1]))
        return score, self._initial_epoch + index + 1

    def trial_end(self, trial: Any) -> None:
        """Write the trial's history.json, close its logs, count it."""
        status = str(trial.status).upper()
        completed = status == "COMPLETED"
        score, best_epoch = self.best() if completed else (None, None)
        trained = len(self._history.get("loss", self._history.get(OBJECTIVE, [])))
        folder = self.tuner_dir / f"trial_{trial.trial_id}"
        folder.mkdir(parents=True, exist_ok=True)
        write_json_atomic(
            folder / HISTORY_JSON,
            {
                "initial_epoch": self._initial_epoch,
                "epochs_trained": trained,
                "best_epoch": best_epoch,
                "score": score,
                "seconds": round(time.monotonic() - self._started, 3),
                "stopped_by_time_budget": self._stopped_by_time,
                "history": self._history,
            },
        )
        self.trials[trial.trial_id] = status
        if self.tensorboard:
            step = self._initial_epoch + trained
            self.tensorboard.trial_end(trial.trial_id, completed, score, step)
        if self.progress:
            self.progress.trial_end(score)
            if self.verbose:
                what = f"val MAPE {score:.2f}%" if score is not None else status.lower()
                if trial.message:
                    what += f": {trial.message.strip().splitlines()[-1]}"
                self.progress.log(f"trial {trial.trial_id}: {what} ({trained} epochs)")

    def close(self) -> None:
        """Close the logs (safe after Ctrl-C in the middle of a trial)."""
        if self.tensorboard:
            self.tensorboard.close()
