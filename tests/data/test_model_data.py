"""ModelData: inputs named like the models' inputs, fitted on the search rows; photos
decoded only when a model takes them."""

import numpy as np

from houses_tune.data import ATTRIBUTE_INPUTS, ROOMS, ModelData, load_houses, make_splits


def test_inputs_and_targets(tiny_dataset):
    houses = load_houses(tiny_dataset, min_zip_count=0)
    splits = make_splits(len(houses), folds=3)
    data = ModelData(houses, splits.search)
    _, val = splits.fold(0)
    x = data.inputs(val, [*ATTRIBUTE_INPUTS, "montage", *ROOMS], tile=8)
    n = len(val)
    assert x["zip"].shape == (n, data.n_zips) == (n, 2) and x["zip"].dtype == np.float32
    assert x["rooms"].shape == (n, 2) and x["area"].shape == x["log_area"].shape == (n, 1)
    assert x["montage"].shape == (n, 16, 16, 3) and x["montage"].dtype == np.uint8
    assert x["kitchen"].shape == (n, 8, 8, 3)
    np.testing.assert_array_equal(x["montage"][:, 8:, :8], x["kitchen"])
    area = data.inputs(splits.search, ["area"])["area"]
    assert area.min() == 0 and area.max() == 1  # scaled on the fit (search) rows

    prices = data.prices(val)
    assert prices.dtype == np.float64
    np.testing.assert_array_equal(prices, houses.frame["price"].to_numpy()[val])
    transform = data.transform("max_scale")
    assert transform.scale == houses.frame["price"].iloc[splits.search].max()
    assert data.transform("max_scale") is transform
    np.testing.assert_allclose(transform.inverse(transform.forward(prices)), prices, rtol=1e-6)


def test_attribute_inputs_decode_no_photos(tiny_dataset, monkeypatch):
    houses = load_houses(tiny_dataset, min_zip_count=0)
    data = ModelData(houses, np.arange(20))

    def no_photos(*args, **kwargs):
        raise AssertionError("photos decoded for an attributes-only model")

    monkeypatch.setattr(type(houses), "photos", no_photos)
    x = data.inputs(np.arange(40), ["zip", "rooms", "log_area"])
    assert set(x) == {"zip", "rooms", "log_area"}
