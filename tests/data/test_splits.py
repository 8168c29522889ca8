"""Splits: the tutorials' test split, a seeded validation split, save and load."""

import numpy as np
import pytest

from houses_tune.data import Splits, make_splits
from houses_tune.errors import DatasetError


def test_sizes_disjoint_and_complete():
    splits = make_splits(362)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (216, 55, 91)
    rows = np.concatenate([splits.train, splits.val, splits.test])
    assert sorted(rows.tolist()) == list(range(362))
    assert splits.train.dtype == np.int64


def test_seeds():
    assert make_splits(100) == make_splits(100)
    assert make_splits(100, val_seed=1) != make_splits(100)
    assert np.array_equal(make_splits(100, val_seed=1).test, make_splits(100).test)
    assert not np.array_equal(make_splits(100, seed=1).test, make_splits(100).test)


def test_no_validation():
    splits = make_splits(362, val_size=0)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (271, 0, 91)


def test_save_load_roundtrip(tmp_path):
    splits = make_splits(50)
    splits.save(tmp_path / "splits.json")
    assert Splits.load(tmp_path / "splits.json") == splits
    assert Splits.from_dict(splits.to_dict()) == splits


@pytest.mark.parametrize("text", ["{", '{"train": [1], "val": [1], "test": []}', '{"x": 1}'])
def test_load_bad_file(tmp_path, text):
    (tmp_path / "splits.json").write_text(text)
    with pytest.raises(DatasetError, match="splits.json: not a splits file"):
        Splits.load(tmp_path / "splits.json")
    with pytest.raises(DatasetError, match="no such splits file"):
        Splits.load(tmp_path / "missing.json")


@pytest.mark.parametrize(
    "n, kwargs", [(3, {}), (0, {}), (100, {"test_size": 1.0}), (100, {"val_size": -0.1})]
)
def test_too_few_or_bad_fractions(n, kwargs):
    with pytest.raises(DatasetError):
        make_splits(n, **kwargs)
