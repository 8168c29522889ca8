"""The search's progress line and the lines printed above it."""

from rich.console import Console

from houses_tune.tuner.progress import SearchProgress


def test_log_prints_text_not_markup():
    console = Console(width=200, record=True, force_terminal=False)
    progress = SearchProgress(console, planned_trials=2, budget_epochs=4)
    progress.log("trial 0001: failed: ValueError: expected [batch, 3], got [/x]")
    assert "expected [batch, 3], got [/x]" in console.export_text()


def test_line_counts_trials_epochs_and_best():
    console = Console(width=200, record=True, force_terminal=False)
    progress = SearchProgress(console, planned_trials=2, budget_epochs=4, epochs_done=1)
    progress.epoch_end()
    progress.trial_end(31.5)
    progress.trial_end(None)
    line = progress.line()
    assert "trials 2/2" in line and "epochs 2/4" in line and "best val MAPE 31.50%" in line
