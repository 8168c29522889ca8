"""Attribute encoding and target transforms."""

import numpy as np
import pandas as pd
import pytest

from houses_tune.data import (
    ATTRIBUTE_INPUTS,
    HOUSES_SCHEMA,
    TARGET_TRANSFORMS,
    Preprocessor,
    Schema,
    TargetTransform,
)
from houses_tune.errors import SpaceError

FRAME = pd.DataFrame(
    {
        "bedrooms": [1.0, 3.0, 5.0],
        "bathrooms": [1.0, 2.0, 2.0],
        "area": [1000.0, 2000.0, 4000.0],
        "zipcode": [222, 111, 222],
        "price": [1e5, 2e5, 4e5],
    }
)


def test_encode_scales_on_the_fit_rows():
    pre = Preprocessor.fit(FRAME, HOUSES_SCHEMA)
    assert pre.vocabularies == {"zipcode": [111, 222]}
    x = pre.encode(FRAME)
    assert set(x) == set(ATTRIBUTE_INPUTS)
    assert all(v.dtype == np.float32 and v.ndim == 2 for v in x.values())
    np.testing.assert_allclose(x["categories"], [[0, 1], [1, 0], [0, 1]])
    np.testing.assert_allclose(x["numbers"], [[0, 0], [0.5, 1], [1, 1]])
    np.testing.assert_allclose(x["skewed"], [[0], [1 / 3], [1]])
    np.testing.assert_allclose(x["log_skewed"], [[0], [0.5], [1]], rtol=1e-6)  # ln 1k, 2k, 4k


def test_unknown_zip_is_all_zeros_and_out_of_range_extrapolates():
    pre = Preprocessor.fit(FRAME, HOUSES_SCHEMA)
    new = pd.DataFrame({"bedrooms": [7.0], "bathrooms": [1.0], "area": [500.0], "zipcode": [999]})
    x = pre.encode(new)
    np.testing.assert_allclose(x["categories"], [[0, 0]])
    np.testing.assert_allclose(x["numbers"], [[1.5, 0]])
    np.testing.assert_allclose(x["log_skewed"], [[-0.5]], rtol=1e-6)


def test_any_columns_encode_in_column_order_and_absent_kinds_are_left_out():
    frame = pd.DataFrame({"colour": ["red", "blue", "red"], "size": ["s", "m", "l"],
                          "age": [1.0, 2.0, 3.0], "price": [1.0, 2.0, 3.0]})  # fmt: skip
    schema = Schema(numeric=("age",), categorical=("colour", "size"))
    pre = Preprocessor.fit(frame.iloc[:2], schema)
    assert pre.widths == {"categories": 4, "numbers": 1}  # no logged column: no skewed input
    x = pre.encode(frame)
    # blue, red | m, s (sorted); the unseen size "l" is all zeros in its part.
    np.testing.assert_allclose(x["categories"], [[0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 0]])
    np.testing.assert_allclose(x["numbers"], [[0], [1], [2]])


def test_constant_column_maps_to_zero():
    pre = Preprocessor.fit(FRAME.iloc[[0, 2]].assign(bathrooms=2.0), HOUSES_SCHEMA)
    x = pre.encode(FRAME)
    assert all(np.isfinite(v).all() for v in x.values())
    np.testing.assert_allclose(x["numbers"][:, 1], [-1, 0, 0])  # scale 1, offset -min
    assert pre.scale_and_offset("bathrooms") == (1.0, -2.0)


@pytest.mark.parametrize("name", TARGET_TRANSFORMS)
def test_target_transform_inverse(name):
    prices = np.array([36_000.0, 527_000.0, 5_858_000.0])
    transform = TargetTransform.fit(name, prices)
    y = transform.forward(prices)
    assert y.dtype == np.float32
    back = transform.inverse(y)
    assert back.dtype == np.float64
    np.testing.assert_allclose(back, prices, rtol=1e-6)


def test_max_scale_is_tutorials():
    transform = TargetTransform.fit("max_scale", np.array([1.0, 5_858_000.0]))
    assert transform.scale == 5_858_000.0
    assert transform.forward([5_858_000.0])[0] == 1.0
    assert TargetTransform.fit("log", [1.0, 2.0]).scale == 1.0


def test_unknown_transform():
    with pytest.raises(SpaceError, match="unknown target transform 'sqrt'"):
        TargetTransform.fit("sqrt", np.ones(3))
