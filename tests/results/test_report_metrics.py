"""Price metrics against hand computations."""

import math

import numpy as np

from houses_tune.results.metrics import mape, percentage_errors, price_metrics


def test_price_metrics_by_hand():
    actual = np.array([100.0, 200.0, 400.0, 1000.0])
    predicted = np.array([110.0, 150.0, 400.0, 1300.0])  # +10%, -25%, 0%, +30%
    zips = np.array([1, 1, 2, 2])
    m = price_metrics(actual, predicted, zips)
    np.testing.assert_allclose(percentage_errors(actual, predicted), [10, -25, 0, 30])
    assert m["n"] == 4
    assert math.isclose(m["mape"], 16.25)
    assert math.isclose(m["mape_std"], np.std([10, 25, 0, 30]))
    assert math.isclose(m["median_ape"], 17.5)
    assert math.isclose(m["mae"], (10 + 50 + 0 + 300) / 4)
    assert math.isclose(m["rmse"], math.sqrt((100 + 2500 + 0 + 90000) / 4))
    total = np.sum((actual - actual.mean()) ** 2)
    assert math.isclose(m["r2"], 1 - (100 + 2500 + 90000) / total)
    assert m["within_10"] == 50.0  # 10% counts as within 10%
    assert m["within_20"] == 50.0
    assert m["per_group"] == {"1": {"n": 2, "score": 17.5}, "2": {"n": 2, "score": 15.0}}
    assert mape(actual, predicted) == m["mape"]


def test_r2_of_constant_prices_is_nan():
    assert math.isnan(price_metrics([5.0, 5.0], [4.0, 6.0])["r2"])
