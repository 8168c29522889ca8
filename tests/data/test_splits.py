"""Splits: the tutorials' test split, the folds of the search rows, files."""

import json

import numpy as np
import pytest

from houses_tune.data import Splits, make_splits, splits_from_file
from houses_tune.errors import DatasetError


def test_five_folds_partition_the_search_rows():
    splits = make_splits(362)
    assert (len(splits.search), len(splits.test)) == (271, 91)
    assert sorted(np.concatenate([splits.search, splits.test]).tolist()) == list(range(362))
    assert [len(f) for f in splits.folds] == [55, 54, 54, 54, 54]
    assert sorted(np.concatenate(splits.folds).tolist()) == sorted(splits.search.tolist())
    for k in range(5):
        fit, val = splits.fold(k)
        assert len(fit) + len(val) == 271 and not set(fit) & set(val)
        assert not set(fit) & set(splits.test)
    assert splits.search.dtype == np.int64


def test_one_fold_is_a_validation_split():
    splits = make_splits(362, folds=1)
    assert len(splits.folds) == 1 and len(splits.folds[0]) == 55
    fit, val = splits.fold(0)
    assert (len(fit), len(val)) == (216, 55)


def test_seeds():
    assert make_splits(100) == make_splits(100)
    assert make_splits(100, val_seed=1) != make_splits(100)
    assert np.array_equal(make_splits(100, val_seed=1).test, make_splits(100).test)
    assert not np.array_equal(make_splits(100, seed=1).test, make_splits(100).test)


def test_save_load_roundtrip(tmp_path):
    splits = make_splits(50, folds=3)
    splits.save(tmp_path / "splits.json")
    assert Splits.load(tmp_path / "splits.json") == splits
    assert Splits.from_dict(splits.to_dict()) == splits


@pytest.mark.parametrize(
    "text",
    [
        "{",
        '{"x": 1}',
        '{"search": [1, 2, 3], "test": [3], "folds": [[1]]}',  # a row in search and test
        '{"search": [1, 2, 3], "test": [4], "folds": [[5]]}',  # a fold row not searched
        '{"search": [1, 2, 3], "test": [4], "folds": [[1], [1]]}',  # folds overlap
        '{"search": [1, 2], "test": [4], "folds": [[1, 2]]}',  # nothing left to train on
    ],
)
def test_load_bad_file(tmp_path, text):
    (tmp_path / "splits.json").write_text(text)
    with pytest.raises(DatasetError, match="splits.json: not a splits file"):
        Splits.load(tmp_path / "splits.json")
    with pytest.raises(DatasetError, match="no such splits file"):
        Splits.load(tmp_path / "missing.json")


def test_a_users_file_needs_only_test_rows(tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"test": list(range(10))}))
    splits = splits_from_file(path, 50, folds=4, val_size=0.2, val_seed=0)
    assert splits.test.tolist() == list(range(10))
    assert sorted(splits.search.tolist()) == list(range(10, 50))
    assert len(splits.folds) == 4
    path.write_text(json.dumps({"test": [0, 60]}))
    with pytest.raises(DatasetError, match="mine.json: row 60 is out of range"):
        splits_from_file(path, 50, folds=4, val_size=0.2, val_seed=0)


@pytest.mark.parametrize(
    "n, kwargs",
    [(3, {}), (0, {}), (100, {"test_size": 1.0}), (100, {"folds": 1, "val_size": 0}),
     (12, {"folds": 10})],
)  # fmt: skip
def test_too_few_or_bad_fractions(n, kwargs):
    with pytest.raises(DatasetError):
        make_splits(n, **kwargs)
