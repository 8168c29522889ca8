"""The one score every trial, fold, baseline and export is judged by (``--objective``).

- ``mape`` (default): mean absolute percentage error of the target (prices in dollars).
  Needs positive targets.
- ``mae``: mean absolute error, in the target's units: for targets that can be zero or
  negative, or when every unit of error counts alike.

Trials with different losses and target transforms are compared on this score, computed
on the target as the dataset has it (``search_spaces.metrics`` in Keras, ``errors`` here
in NumPy). Lower is better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: ``--objective`` values; the first is the default.
OBJECTIVES = ("mape", "mae")


@dataclass(frozen=True)
class Objective:
    """One of ``OBJECTIVES``.

    Attributes:
        name: ``mape`` or ``mae``.
    """

    name: str = OBJECTIVES[0]

    @property
    def metric(self) -> str:
        """Keras metric name (``price_mape``, ``price_mae``)."""
        return f"price_{self.name}"

    @property
    def monitor(self) -> str:
        """The metric on validation rows: what trials, early stopping and the tuner rank."""
        return f"val_{self.metric}"

    @property
    def label(self) -> str:
        """``MAPE`` or ``MAE``."""
        return self.name.upper()

    @property
    def needs_positive(self) -> bool:
        """Whether the targets must be positive (a percentage of zero is undefined)."""
        return self.name == "mape"

    def errors(self, actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
        """Per-row absolute errors (percent of the actual for ``mape``), float64."""
        actual = np.asarray(actual, dtype=np.float64)
        difference = np.abs(np.asarray(predicted, dtype=np.float64) - actual)
        return 100.0 * difference / actual if self.needs_positive else difference

    def score(self, actual: np.ndarray, predicted: np.ndarray) -> float:
        """The mean of ``errors``."""
        return float(np.mean(self.errors(actual, predicted)))

    def number(self, value: float | None) -> str:
        """A score or a spread of scores without its unit: ``"21.30"`` (mape), ``"12,345"``
        or ``"0.1234"`` (mae); ``"-"`` for None."""
        if value is None:
            return "-"
        if self.needs_positive:
            return f"{value:.2f}"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"

    def format(self, value: float | None) -> str:
        """A score with its unit: ``"21.30%"`` (mape), ``"12,345"`` (mae)."""
        return self.number(value) + ("%" if self.needs_positive and value is not None else "")

    def signed(self, value: float) -> str:
        """A signed difference of two scores: ``"-1.25"`` (mape), ``"+1,234"`` (mae)."""
        return ("+" if value >= 0 else "-") + self.number(abs(value))

    def difference(self, value: float) -> str:
        """``signed`` with its unit: ``"-1.25 points"`` (mape), ``"+1,234"`` (mae)."""
        return self.signed(value) + (" points" if self.needs_positive else "")


def get_objective(name: str | None) -> Objective:
    """The objective of that name (None: the default).

    Raises:
        ValueError: Unknown name.
    """
    name = name or OBJECTIVES[0]
    if name not in OBJECTIVES:
        raise ValueError(f"unknown objective {name!r}; choose from {', '.join(OBJECTIVES)}")
    return Objective(name)


#: The default objective: MAPE of prices.
MAPE = Objective()
