"""Attribute preprocessing and target transforms."""

import numpy as np
import pandas as pd
import pytest

from houses_tune.data import TARGET_TRANSFORMS, Preprocessor, TargetTransform
from houses_tune.errors import SpaceError

FRAME = pd.DataFrame(
    {
        "bedrooms": [1.0, 3.0, 5.0],
        "bathrooms": [1.0, 2.0, 2.0],
        "area": [1000.0, 2000.0, 3000.0],
        "zipcode": [222, 111, 222],
        "price": [1e5, 2e5, 4e5],
    }
)


def test_fit_and_encode_in_tutorial_order():
    pre = Preprocessor.fit(FRAME)
    assert pre.zip_vocabulary == [111, 222] and pre.n_attributes == 5
    x = pre.attributes(FRAME)
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, [[0, 1, 0, 0, 0], [1, 0, 0.5, 1, 0.5], [0, 1, 1, 1, 1]])


def test_unknown_zip_is_all_zeros_and_out_of_range_extrapolates():
    pre = Preprocessor.fit(FRAME)
    new = pd.DataFrame({"bedrooms": [7.0], "bathrooms": [1.0], "area": [500.0], "zipcode": [999]})
    np.testing.assert_allclose(pre.attributes(new), [[0, 0, 1.5, 0, -0.25]])


def test_constant_column_and_roundtrip():
    pre = Preprocessor.fit(FRAME.iloc[[0, 2]].assign(bathrooms=2.0))
    assert np.isfinite(pre.attributes(FRAME)).all()
    assert Preprocessor.from_dict(pre.to_dict()) == pre


@pytest.mark.parametrize("name", TARGET_TRANSFORMS)
def test_target_transform_inverse(name):
    prices = np.array([36_000.0, 527_000.0, 5_858_000.0])
    transform = TargetTransform.fit(name, prices)
    y = transform.forward(prices)
    assert y.dtype == np.float32
    back = transform.inverse(y)
    assert back.dtype == np.float64
    np.testing.assert_allclose(back, prices, rtol=1e-6)
    assert TargetTransform.from_dict(transform.to_dict()) == transform


def test_max_scale_is_tutorials():
    transform = TargetTransform.fit("max_scale", np.array([1.0, 5_858_000.0]))
    assert transform.scale == 5_858_000.0
    assert transform.forward([5_858_000.0])[0] == 1.0
    assert TargetTransform.fit("log", [1.0, 2.0]).scale == 1.0


def test_unknown_transform():
    with pytest.raises(SpaceError, match="unknown target transform 'sqrt'"):
        TargetTransform.fit("sqrt", np.ones(3))
