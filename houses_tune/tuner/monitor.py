"""What our tuners do around each trial: logs, progress, time budget, Ctrl-C.

The tuner's hooks (``on_trial_begin``, ``on_trial_end``, ``pre_create_trial``) and the
fold training (as its ``Listener``) report to a ``SearchMonitor``. The hooks live on the
tuner, not in Keras callbacks, because KerasTuner deep-copies the callbacks of every
trial and writers or consoles cannot be copied.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

from houses_tune.errors import last_line
from houses_tune.run import HISTORY_JSON
from houses_tune.training import Listener
from houses_tune.tuner.progress import SearchProgress
from houses_tune.tuner.tensorboard import TensorBoardLogger


class TimeBudgetReached(Exception):
    """Raised before a new trial would start once a duration budget is spent."""


def trial_values(trial: Any) -> dict[str, Any]:
    """The values of a KerasTuner trial's hyperparameters (active ones and ``tuner/*``)."""
    return dict(trial.hyperparameters.values)


def trial_history(tuner_dir: Path, trial_id: str) -> dict:
    """The history.json fold training wrote for a trial ({} if there is none yet)."""
    try:
        return json.loads((Path(tuner_dir) / f"trial_{trial_id}" / HISTORY_JSON).read_text())
    except (OSError, ValueError):
        return {}


class SearchMonitor(Listener):
    """Per-trial and per-epoch bookkeeping of one search session.

    Args:
        tuner_dir: KerasTuner's project folder (``results/<run>/tuner``).
        tensorboard: Where to log, or None.
        progress: The progress line, or None.
        deadline: ``time.monotonic()`` value after which no epoch or trial starts, or None.
        verbose: Print one line per ended trial.

    Time budget: at every epoch end past the deadline, the fold being trained stops (its
    best weights are kept) and the trial's remaining folds are skipped, so the trial ends
    normally with what it trained; then no new trial starts.

    Ctrl-C and SIGTERM: ``request_interrupt`` (their handler during a search) only sets a
    flag; ``KeyboardInterrupt`` is raised at the next batch end or before the next trial,
    never in the middle of writing state. A second signal raises at once.
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
        self._initial_epoch = 0
        self.interrupt_requested = False
        #: What asked to stop: ``Ctrl-C`` or ``SIGTERM``.
        self.interrupted_by = "Ctrl-C"

    def request_interrupt(self, signum: int | None = None, frame: Any = None) -> None:
        """SIGINT and SIGTERM handler: stop at the next safe point (twice: stop now)."""
        if self.interrupt_requested:
            raise KeyboardInterrupt
        self.interrupt_requested = True
        if signum == signal.SIGTERM:
            self.interrupted_by = "SIGTERM"
            sys.stderr.write("\nSIGTERM: stopping after this batch...\n")
        else:
            sys.stderr.write("\nStopping after this batch (Ctrl-C again to stop at once)...\n")

    def check_interrupt(self) -> None:
        """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed (called at safe points)."""
        if self.interrupt_requested:
            raise KeyboardInterrupt

    def time_is_up(self) -> bool:
        """Whether the duration budget is spent."""
        return self.deadline is not None and time.monotonic() >= self.deadline

    # Tuner hooks.

    def trial_begin(self, trial: Any) -> None:
        """A trial starts (fresh, promoted, or re-run after its search was killed)."""
        values = trial_values(trial)
        self._initial_epoch = int(values.get("tuner/initial_epoch", 0))
        if self.tensorboard:
            self.tensorboard.trial_begin(trial.trial_id, values)

    def trial_end(self, trial: Any) -> None:
        """A trial ended in this process: log it, count it."""
        history = trial_history(self.tuner_dir, trial.trial_id)
        self.trial_ended(trial.trial_id, str(trial.status), trial.message, history)

    def trial_ended(
        self,
        trial_id: str,
        status: str,
        message: str | None,
        history: dict,
        count_epochs: bool = False,
    ) -> None:
        """Record a trial that ended (here, or in a worker of a distributed search).

        Args:
            trial_id: Its id.
            status: KerasTuner's status (``COMPLETED``, ``FAILED``, ...).
            message: KerasTuner's message (a traceback for a failed trial).
            history: Its history.json.
            count_epochs: Add its epochs to the progress (a worker trained them).
        """
        status = status.upper()
        score = history.get("score") if status == "COMPLETED" else None
        self.trials[trial_id] = status
        if count_epochs:
            trained = int(history.get("epochs_trained", 0))
            self.epochs += trained
            if self.progress:
                self.progress.epoch_end(trained)
        reached = max((f.get("epoch") or 0 for f in history.get("folds", [])), default=0)
        if self.tensorboard:
            self.tensorboard.trial_end(trial_id, score, history.get("score_std"), reached)
        if self.progress:
            self.progress.trial_end(score)
            if self.verbose:
                line = _trial_line(trial_id, status, score, message, history, self.progress)
                self.progress.log(line)

    # Listener of the fold training.

    def batch_end(self) -> None:
        """Ctrl-C is honoured at batch ends."""
        self.check_interrupt()

    def epoch_end(self, fold: int, epoch: int, logs: dict) -> bool:
        """Log one epoch of a fold model; say whether time is up (the fold then stops)."""
        self.epochs += 1
        if self.tensorboard:
            self.tensorboard.epoch_end(fold, epoch, logs)
        if self.progress:
            self.progress.epoch_end()
        return self.time_is_up()

    def close(self) -> None:
        """Close the logs (safe after Ctrl-C in the middle of a trial)."""
        if self.tensorboard:
            self.tensorboard.close()


def _trial_line(trial_id: str, status: str, score, message, history: dict, progress) -> str:
    folds = history.get("folds", [])
    if score is not None:
        objective = progress.objective
        what = f"val {objective.label} {objective.format(score)}"
        if len(folds) > 1:
            spread = objective.number(history.get("score_std") or 0)
            what += f" ± {spread} over {len(folds)} folds"
    else:
        what = status.lower()
        if message:
            what += f": {last_line(message)}"
    return f"trial {trial_id}: {what} ({history.get('epochs_trained', 0)} epochs)"
