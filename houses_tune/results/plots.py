"""The report's plots, rendered off-screen (matplotlib Agg) to PNG bytes."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.ticker import MaxNLocator


def _figure(width: float = 6.0, height: float = 4.0):
    import matplotlib

    matplotlib.use("Agg")  # no display: reports are written from terminals and CI
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def predicted_vs_actual(actual: np.ndarray, predicted: np.ndarray) -> bytes:
    """Scatter of predicted against actual test prices, with the perfect-prediction line."""
    figure = _figure(5.5, 5.0)
    axes = figure.subplots()
    axes.scatter(actual, predicted, s=14, alpha=0.7)
    low = float(min(np.min(actual), np.min(predicted)))
    high = float(max(np.max(actual), np.max(predicted)))
    axes.plot([low, high], [low, high], color="gray", linestyle="--", label="predicted = actual")
    if low > 0:  # log axes spread the usual 50k-5M range; a poor model may predict <= 0
        axes.set_xscale("log")
        axes.set_yscale("log")
        low, high = low / 1.1, high * 1.1
    else:
        margin = 0.05 * (high - low)
        low, high = low - margin, high + margin
    axes.set_xlim(low, high)
    axes.set_ylim(low, high)
    axes.set_xlabel("actual price ($)")
    axes.set_ylabel("predicted price ($)")
    axes.set_title("Test houses: predicted vs actual")
    axes.legend()
    return _png(figure)


def error_distribution(errors: np.ndarray, percent: bool = True) -> bytes:
    """Histogram of signed errors on the test houses: percentages of the actual price, or
    (``percent`` False: targets that can be zero or negative) in the target's units."""
    figure = _figure()
    axes = figure.subplots()
    axes.hist(errors, bins=min(30, max(5, len(errors) // 3)), color="tab:blue")
    axes.axvline(0, color="gray", linestyle="--")
    what = "% of actual price" if percent else "predicted - actual"
    axes.set_xlabel(f"error ({what}; > 0 over-estimates)")
    axes.set_ylabel("houses")
    axes.set_title("Distribution of percentage errors" if percent else "Distribution of errors")
    return _png(figure)


def learning_curves(panels: dict[str, dict[str, list[float]]]) -> bytes:
    """One panel per metric, one line per model (e.g. each fold model's validation MAPE).

    Args:
        panels: Panel title -> line label -> value per epoch.
    """
    panels = {title: lines for title, lines in panels.items() if lines} or {"no curves": {}}
    figure = _figure(4.5 * len(panels), 3.5)
    for index, (title, lines) in enumerate(panels.items(), start=1):
        axes = figure.add_subplot(1, len(panels), index)
        for label, values in lines.items():
            axes.plot(range(1, len(values) + 1), values, label=label,
                      marker="." if len(values) < 50 else None)  # fmt: skip
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_title(title)
        if len(lines) > 1:
            axes.legend(fontsize="small")
    return _png(figure)


def trials_scatter(
    epochs: list[int], scores: list[float], best: int | None = None, label: str = "MAPE"
) -> bytes:
    """Every finished trial's validation score against the epochs it trained.

    Args:
        epochs: epochs per trial.
        scores: validation score (the objective) per trial.
        best: index of the exported trial, highlighted.
        label: the objective's name (``MAPE``, ``MAE``).
    """
    figure = _figure()
    axes = figure.subplots()
    axes.scatter(epochs, scores, s=16, alpha=0.7, label="trial")
    if best is not None:
        axes.scatter(
            [epochs[best]],
            [scores[best]],
            s=80,
            marker="*",
            color="tab:red",
            label="exported trial",
        )
    axes.set_xlabel("epochs trained")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylabel(f"validation {label}" + (" (%)" if label == "MAPE" else ""))
    axes.set_title(f"Search: validation {label} of every trial")
    axes.legend()
    return _png(figure)
