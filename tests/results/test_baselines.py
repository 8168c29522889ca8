"""The simple baselines: per-zip median price and ridge on log price."""

import numpy as np
import pandas as pd

from houses_tune.results.baselines import ridge_prices, zip_median_prices


def _frame():
    return pd.DataFrame({
        "bedrooms": [2, 3, 4, 3, 2, 5, 3],
        "bathrooms": [1, 2, 2, 2, 1, 3, 2],
        "area": [1000, 1500, 2000, 1600, 900, 3000, 1800],
        "zipcode": [1, 1, 1, 2, 2, 2, 3],
        "price": [100.0, 200.0, 300.0, 1000.0, 900.0, 3000.0, 500.0],
    })  # fmt: skip


def test_zip_median_uses_training_rows_and_falls_back_to_overall_median():
    frame = _frame()
    got = zip_median_prices(frame, train_rows=[0, 1, 2, 3, 4], test_rows=[5, 6, 1])
    # zip 2 -> median(1000, 900); unseen zip 3 -> median of all training prices; zip 1 -> 200
    np.testing.assert_allclose(got, [950.0, 300.0, 200.0])


def test_ridge_on_log_price_recovers_a_log_linear_law():
    rng = np.random.default_rng(0)
    n = 60
    frame = pd.DataFrame({
        "bedrooms": rng.integers(1, 6, n).astype(float),
        "bathrooms": rng.integers(1, 4, n).astype(float),
        "area": rng.uniform(800, 4000, n),
        "zipcode": rng.choice([10, 20], n),
    })  # fmt: skip
    frame["price"] = np.exp(
        5 + np.log(frame["area"]) + 0.1 * frame["bedrooms"] + 0.5 * (frame["zipcode"] == 20)
    )
    predicted = ridge_prices(frame, np.arange(40), np.arange(40, 60), alpha=1e-6)
    np.testing.assert_allclose(predicted, frame["price"].to_numpy()[40:], rtol=1e-3)
