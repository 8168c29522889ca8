"""Listing a run's trials: a rich table for people, JSON for programs."""

from __future__ import annotations

import json

from rich.markup import escape
from rich.table import Table

from houses_tune.objective import MAPE, Objective
from houses_tune.run import TrialRecord


def _format_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_hyperparameters(values: dict) -> str:
    """``name=value`` pairs, one line, in the space's order."""
    return "  ".join(f"{name}={_format_value(value)}" for name, value in values.items())


def fold_scores(record: TrialRecord, objective: Objective = MAPE) -> str:
    """The fold models' validation scores, e.g. ``"21.3 19.8 - 24.0 20.1"`` (- untrained)."""

    def text(score):
        return f"{score:.1f}" if objective.needs_positive else objective.number(score)

    return " ".join("-" if f.score is None else text(f.score) for f in record.folds)


def score_text(record: TrialRecord, objective: Objective = MAPE) -> str:
    """``"21.23 ± 1.87"``: mean and spread over folds (just the mean with one fold)."""
    if record.score is None:
        return "-"
    if len(record.folds) > 1 and record.score_std is not None:
        return f"{objective.number(record.score)} ± {objective.number(record.score_std)}"
    return objective.number(record.score)


def trials_table(
    records: list[TrialRecord], title: str | None = None, objective: Objective = MAPE
) -> Table:
    """A table of trials (best first, as given): id, status, epochs, objective per fold and
    overall, hyperparameters.

    Args:
        records: Trials, usually ``RunDir.trials()``.
        title: Optional table title.
        objective: The run's objective (``RunDir.objective``).
    """
    table = Table(title=None if title is None else escape(title), title_justify="left")
    table.add_column("trial")
    table.add_column("status")
    table.add_column("epochs", justify="right")
    table.add_column("best epoch", justify="right")
    table.add_column(f"val {objective.label}" + (" %" * objective.needs_positive), justify="right")
    table.add_column("folds", justify="right")
    table.add_column("hyperparameters", overflow="fold")
    for record in records:
        # Values and error messages are text, not rich markup: "[batch, 3]" must show.
        details = escape(format_hyperparameters(record.hyperparameters))
        if record.message:
            message = escape(record.message)
            details = f"{details}\n[red]{message}[/red]" if details else message
        table.add_row(
            record.trial_id,
            record.status,
            "-" if record.epochs is None else str(record.epochs),
            "-" if record.best_epoch is None else str(record.best_epoch),
            score_text(record, objective),
            fold_scores(record, objective),
            details,
        )
    return table


def trials_json(records: list[TrialRecord]) -> str:
    """Trials as a JSON array (``TrialRecord.to_dict`` each), best first."""
    return json.dumps([record.to_dict() for record in records], indent=2)
