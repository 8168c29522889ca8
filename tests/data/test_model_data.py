"""ModelData: inputs named like the models' inputs, transforms fitted on the fit rows."""

import numpy as np

from houses_tune.data import ROOMS, ModelData, load_houses, make_splits


def test_inputs_and_targets(tiny_dataset):
    houses = load_houses(tiny_dataset, min_zip_count=0)
    splits = make_splits(len(houses))
    data = ModelData(houses, splits.train)
    x = data.inputs(splits.val, tile=8)
    assert set(x) == {"attributes", "montage", *ROOMS}
    n = len(splits.val)
    assert x["attributes"].shape == (n, data.n_attributes) == (n, 5)
    assert x["attributes"].dtype == np.float32
    assert x["montage"].shape == (n, 16, 16, 3) and x["montage"].dtype == np.uint8
    assert x["kitchen"].shape == (n, 8, 8, 3)
    np.testing.assert_array_equal(x["montage"][:, 8:, :8], x["kitchen"])
    train_x = data.inputs(splits.train, tile=8)["attributes"][:, -3:]
    assert train_x.min() == 0 and train_x.max() == 1  # scaled on the fit rows

    prices = data.prices(splits.val)
    assert prices.dtype == np.float64
    np.testing.assert_array_equal(prices, houses.frame["price"].to_numpy()[splits.val])
    transform = data.transform("max_scale")
    assert transform.scale == houses.frame["price"].iloc[splits.train].max()
    assert data.transform("max_scale") is transform
    np.testing.assert_allclose(transform.inverse(transform.forward(prices)), prices, rtol=1e-6)
    assert data.inputs(splits.test, tile=4)["montage"].shape == (len(splits.test), 8, 8, 3)
