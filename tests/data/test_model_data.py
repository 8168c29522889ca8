"""ModelData: inputs named like the models' inputs, fitted on the search rows; photos
decoded only when a model takes them."""

import numpy as np

from houses_tune.data import (
    ATTRIBUTE_INPUTS,
    ROOMS,
    ModelData,
    load_houses,
    make_splits,
    photo_input,
)


def test_inputs_and_targets(tiny_dataset):
    houses = load_houses(tiny_dataset, min_zip_count=0)
    splits = make_splits(len(houses), folds=3)
    data = ModelData(houses, splits.search)
    _, val = splits.fold(0)
    x = data.inputs(val, [*ATTRIBUTE_INPUTS, "montage", *map(photo_input, ROOMS)], tile=8)
    n = len(val)
    zips = x["categories"]
    assert zips.shape == (n, data.widths["categories"]) == (n, 2) and zips.dtype == np.float32
    assert x["numbers"].shape == (n, 2) and x["skewed"].shape == x["log_skewed"].shape == (n, 1)
    assert x["montage"].shape == (n, 16, 16, 3) and x["montage"].dtype == np.uint8
    assert x["photo_kitchen"].shape == (n, 8, 8, 3)
    np.testing.assert_array_equal(x["montage"][:, 8:, :8], x["photo_kitchen"])
    area = data.inputs(splits.search, ["skewed"])["skewed"]
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
    x = data.inputs(np.arange(40), ["categories", "numbers", "log_skewed"])
    assert set(x) == {"categories", "numbers", "log_skewed"}
