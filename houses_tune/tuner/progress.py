"""The live progress line of a search, drawn with rich on stderr.

One line: a bar over the budget (epochs, or seconds for a duration budget), then
trials done of planned, epochs spent of budget, best validation score so far, elapsed time
and the estimated time left. When stderr is not a terminal rich draws it once, at the end.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from houses_tune.objective import MAPE, Objective


def _clock(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class SearchProgress:
    """Tracks and draws the search's progress.

    Args:
        console: Where to draw (a stderr console).
        planned_trials: Trials in the plan, None when only time bounds the search.
        budget_epochs: Epoch budget, None for a duration budget.
        budget_seconds: Seconds left to this session for a duration budget, else None.
        trials_done: Trials ended in earlier sessions of the run.
        epochs_done: Epochs trained in earlier sessions of the run.
        best: Best validation objective of earlier sessions.
        objective: The run's objective (how scores are named and shown).
    """

    def __init__(
        self,
        console: Console,
        planned_trials: int | None,
        budget_epochs: int | None,
        budget_seconds: float | None = None,
        trials_done: int = 0,
        epochs_done: int = 0,
        best: float | None = None,
        objective: Objective = MAPE,
    ) -> None:
        self.objective = objective
        self.planned_trials = planned_trials
        self.budget_epochs = budget_epochs
        self.budget_seconds = budget_seconds
        self.trials_done = trials_done
        self.epochs_done = epochs_done
        self.best = best
        self._session_epochs = 0
        self._started = time.monotonic()
        self._stopped = False
        # Redraw in place only on a terminal; logs and pipes get the final line, whole.
        self._live = console.is_terminal
        self._console = console
        self._progress = Progress(
            TextColumn("search"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[info]}"),
            console=console,
            transient=False,
        )
        total = budget_epochs if budget_epochs is not None else budget_seconds
        self._task = self._progress.add_task("search", total=total, info="")
        self._refresh()

    @property
    def elapsed(self) -> float:
        """Seconds since this session's search started."""
        return time.monotonic() - self._started

    def eta(self) -> float | None:
        """Estimated seconds left, from this session's speed (epochs per second); 0 once
        the search has stopped (early stopping leaves epochs of the plan unspent)."""
        if self._stopped:
            return 0.0
        if self.budget_seconds is not None:
            return self.budget_seconds - self.elapsed
        if self.budget_epochs is None or self._session_epochs == 0:
            return None
        rate = self._session_epochs / self.elapsed
        return max(self.budget_epochs - self.epochs_done, 0) / rate

    def line(self) -> str:
        """The text part of the progress line."""
        planned = "" if self.planned_trials is None else f"/{self.planned_trials}"
        budget = "" if self.budget_epochs is None else f"/{self.budget_epochs}"
        best = self.objective.format(self.best)
        return (
            f"trials {self.trials_done}{planned} · epochs {self.epochs_done}{budget} · "
            f"best val {self.objective.label} {best} · {_clock(self.elapsed)} elapsed · "
            f"ETA {_clock(self.eta())}"
        )

    def _refresh(self) -> None:
        done = self.epochs_done if self.budget_epochs is not None else self.elapsed
        self._progress.update(self._task, completed=done, info=self.line())

    def start(self) -> None:
        """Show the line."""
        if self._live:
            self._progress.start()

    def stop(self) -> None:
        """Draw the final state and stop redrawing."""
        self._stopped = True
        self._refresh()
        if self._live:
            self._progress.stop()
        else:
            self._console.print(f"search: {self.line()}", highlight=False, soft_wrap=True)

    def epoch_end(self, count: int = 1) -> None:
        """Count ``count`` trained epochs (of fold models)."""
        self.epochs_done += count
        self._session_epochs += count
        self._refresh()

    def trial_end(self, score: float | None) -> None:
        """Count one ended trial and its score (None if it failed)."""
        self.trials_done += 1
        if score is not None and (self.best is None or score < self.best):
            self.best = score
        self._refresh()

    def log(self, message: str) -> None:
        """Print a line above the progress line (used with ``-v``)."""
        self._console.print(message, markup=False, highlight=False, soft_wrap=True)


class StepProgress:
    """The progress line of one step before the trials, e.g. computing backbone features.

    Called as ``progress(done, total)``; draws ``<label> [bar] done/total <unit> · elapsed ·
    ETA`` on a terminal, and one line when the step ends elsewhere.
    """

    def __init__(self, console: Console, label: str, unit: str = "photos") -> None:
        self._console = console
        self._label = label
        self._unit = unit
        self._started = time.monotonic()
        self._progress = None
        self._task = None

    def _text(self, done: int, total: int) -> str:
        elapsed = time.monotonic() - self._started
        left = elapsed / done * (total - done) if done else None
        return f"{done}/{total} {self._unit} · {_clock(elapsed)} elapsed · ETA {_clock(left)}"

    def __call__(self, done: int, total: int) -> None:
        if self._progress is None and self._console.is_terminal:
            self._progress = Progress(
                TextColumn(self._label),
                BarColumn(bar_width=24),
                TextColumn("{task.fields[info]}"),
                console=self._console,
            )
            self._task = self._progress.add_task(self._label, total=total, info="")
            self._progress.start()
        if self._progress is not None:
            self._progress.update(self._task, completed=done, info=self._text(done, total))
        if done >= total:
            if self._progress is None:
                self._console.print(f"{self._label}: {self._text(done, total)}", highlight=False)
            self.close()

    def close(self) -> None:
        """Stop redrawing (the step ended, or was interrupted)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
