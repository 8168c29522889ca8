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


def test_a_stopped_search_has_no_time_left_though_epochs_of_the_plan_are_unspent():
    console = Console(width=200, record=True, force_terminal=False)
    progress = SearchProgress(console, planned_trials=1, budget_epochs=100)
    progress.epoch_end(10)  # early stopping: 10 of the plan's 100 epochs, then done
    progress.trial_end(25.0)
    assert progress.eta() > 0
    progress.stop()
    assert progress.eta() == 0
    assert console.export_text().rstrip().endswith("ETA 0:00:00")
