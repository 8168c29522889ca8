"""Price-space metrics: how far predicted prices are from actual ones, in dollars and percent."""

from __future__ import annotations

import numpy as np

from houses_tune.objective import MAPE, Objective


def percentage_errors(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Signed percentage errors ``100 * (predicted - actual) / actual``.

    Args:
        actual: true prices in dollars (all > 0).
        predicted: predicted prices in dollars, same length.

    Returns:
        float64 array, positive where the model over-estimates.
    """
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    return 100.0 * (predicted - actual) / actual


def mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error in percent (the tutorials' and the search's score)."""
    return MAPE.score(actual, predicted)


def price_metrics(
    actual: np.ndarray,
    predicted: np.ndarray,
    groups: np.ndarray | None = None,
    objective: Objective = MAPE,
    percentages: bool = True,
) -> dict:
    """All test metrics the report shows.

    Args:
        actual: true prices in dollars.
        predicted: predicted prices in dollars.
        groups: optional group per row (the first categorical column's value; Houses: the
            zip code), for the score per group.
        objective: what ``score`` and the score per group are.
        percentages: compute the percentage metrics (False for a dataset whose targets are
            not all positive, even where these rows' are).

    Returns:
        A JSON-ready dict: ``n``, ``score`` (the objective's), ``mape``, ``mape_std``
        (population std of the absolute percentage errors), ``median_ape``, ``mae``,
        ``rmse``, ``r2``, ``within_10``, ``within_20`` (percent of houses) and
        ``per_group`` (group -> {n, score}). The percentage metrics are None unless
        ``percentages`` and every actual value is positive.
    """
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    errors = predicted - actual
    total = np.sum((actual - actual.mean()) ** 2)
    result = {
        "n": int(actual.size),
        "score": objective.score(actual, predicted),
        "mape": None,
        "mape_std": None,
        "median_ape": None,
        "mae": float(np.mean(np.abs(errors))),
        "rmse": float(np.sqrt(np.mean(errors**2))),
        # R² is undefined when every actual price is the same.
        "r2": float(1.0 - np.sum(errors**2) / total) if total > 0 else float("nan"),
        "within_10": None,
        "within_20": None,
    }
    if percentages and np.all(actual > 0):
        ape = np.abs(percentage_errors(actual, predicted))
        result.update(
            mape=float(ape.mean()),
            mape_std=float(ape.std()),
            median_ape=float(np.median(ape)),
            within_10=float(100.0 * np.mean(ape <= 10.0)),
            within_20=float(100.0 * np.mean(ape <= 20.0)),
        )
    if groups is not None:
        groups = np.asarray(groups)
        result["per_group"] = {
            str(g): {
                "n": int(np.sum(groups == g)),
                "score": objective.score(actual[groups == g], predicted[groups == g]),
            }
            for g in np.unique(groups)
        }
    return result
