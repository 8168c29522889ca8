"""Export's progress line on stderr: which model of how many, its epochs, time left.

Export trains many models (tutorial baselines on the split, then the pipeline and the
baselines once per cross-validation fold). On a terminal one line is redrawn in place;
elsewhere (logs, pipes) a line is printed when each model starts.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import Progress, TextColumn

from houses_tune.training import Listener


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(max(seconds, 0))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ExportProgress(Listener):
    """Counts the models an export trains and draws where it is.

    Args:
        console: A stderr console.
        models: Models the export will train at most (cached baselines count as done).
    """

    def __init__(self, console: Console, models: int) -> None:
        self.console = console
        self.models = models
        self.done = 0
        self.label = ""
        self.epochs = 0
        self._epoch = 0
        self._started = time.monotonic()
        self._model_started = self._started
        self._live = console.is_terminal
        self._progress = Progress(
            TextColumn("{task.fields[info]}"), console=console, transient=True
        )
        self._task = self._progress.add_task("export", info="")

    def next_models(self, label: str, epochs: int) -> None:
        """The next models are ``label``, trained up to ``epochs`` epochs each."""
        self.label, self.epochs = label, epochs

    def model_skipped(self, label: str) -> None:
        """A model read from the baseline cache instead of trained."""
        self.done += 1
        self.log(f"{label}: from the baseline cache")

    def model_trained(self, label: str) -> None:
        """A model trained in a worker process ended."""
        self.done += 1
        self.log(f"model {self.done}/{self.models}: {label}: trained in a worker process")
        self._refresh()

    def fold_begin(self, fold: int) -> None:
        self.done += 1
        self._epoch, self._model_started = 0, time.monotonic()
        if not self._live:
            self.log(f"model {self.done}/{self.models}: {self.label}")
        self._refresh()

    def epoch_end(self, fold: int, epoch: int, logs: dict) -> bool:
        self._epoch = epoch + 1
        self._refresh()
        return False

    def line(self) -> str:
        """The text of the progress line."""
        spent = time.monotonic() - self._model_started
        left = None
        if self._epoch and self.epochs:
            left = spent / self._epoch * (self.epochs - self._epoch)
        return (
            f"export · model {self.done}/{self.models}: {self.label} · epoch {self._epoch}/"
            f"{self.epochs or '?'} · {_clock(time.monotonic() - self._started)} elapsed · "
            f"this model {_clock(left)} left"
        )

    def _refresh(self) -> None:
        if self._live:
            self._progress.update(self._task, info=self.line())

    def log(self, message: str) -> None:
        """A line above the progress line."""
        self.console.print(message, markup=False, highlight=False, soft_wrap=True)

    def start(self) -> None:
        """Show the line (on a terminal)."""
        if self._live:
            self._progress.start()

    def stop(self) -> None:
        """Remove the line."""
        if self._live:
            self._progress.stop()
