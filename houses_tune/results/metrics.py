"""Price-space metrics: how far predicted prices are from actual ones, in dollars and percent."""

from __future__ import annotations

import numpy as np


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
    return float(np.mean(np.abs(percentage_errors(actual, predicted))))


def price_metrics(
    actual: np.ndarray, predicted: np.ndarray, groups: np.ndarray | None = None
) -> dict:
    """All test metrics the report shows.

    Args:
        actual: true prices in dollars.
        predicted: predicted prices in dollars.
        groups: optional group per row (the first categorical column's value; Houses: the
            zip code), for the MAPE per group.

    Returns:
        A JSON-ready dict: ``n``, ``mape``, ``mape_std`` (population std of the absolute
        percentage errors), ``median_ape``, ``mae``, ``rmse``, ``r2``, ``within_10``,
        ``within_20`` (percent of houses) and ``mape_per_group`` (group -> {n, mape}).
    """
    actual = np.asarray(actual, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    ape = np.abs(percentage_errors(actual, predicted))
    errors = predicted - actual
    total = np.sum((actual - actual.mean()) ** 2)
    result = {
        "n": int(actual.size),
        "mape": float(ape.mean()),
        "mape_std": float(ape.std()),
        "median_ape": float(np.median(ape)),
        "mae": float(np.mean(np.abs(errors))),
        "rmse": float(np.sqrt(np.mean(errors**2))),
        # R² is undefined when every actual price is the same.
        "r2": float(1.0 - np.sum(errors**2) / total) if total > 0 else float("nan"),
        "within_10": float(100.0 * np.mean(ape <= 10.0)),
        "within_20": float(100.0 * np.mean(ape <= 20.0)),
    }
    if groups is not None:
        groups = np.asarray(groups)
        result["mape_per_group"] = {
            str(g): {"n": int(np.sum(groups == g)), "mape": float(ape[groups == g].mean())}
            for g in np.unique(groups)
        }
    return result
