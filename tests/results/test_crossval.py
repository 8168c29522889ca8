"""export --cv: the pipeline is trained anew inside each outer fold, never on its test rows."""

import numpy as np
import pytest

from houses_tune.results import crossval
from houses_tune.results.baselines import RIDGE
from houses_tune.run import FoldRecord, TrialRecord


def test_inner_folds_are_made_from_the_outer_training_rows_only():
    train = np.arange(10, 40)
    inner = crossval.inner_folds(train, {"folds": 3, "val_seed": 0})
    assert len(inner) == 3
    for fit, val in inner:
        assert set(fit) | set(val) == set(train) and not set(fit) & set(val)
    assert sorted(np.concatenate([val for _, val in inner]).tolist()) == train.tolist()
    one = crossval.inner_folds(train, {"folds": 1, "val_size": 0.2, "val_seed": 0})
    assert len(one) == 1 and len(one[0][1]) == 6


def test_the_exported_pipeline_never_sees_an_outer_folds_test_houses(tiny_dataset, monkeypatch):
    from houses_tune.data import load_houses
    from houses_tune.results import bag
    from houses_tune.search_spaces import load_space

    houses = load_houses(tiny_dataset, min_zip_count=0)
    seen, stopping = [], []

    def spy(hypermodel, trials, folds, patience, seed, listener=None, epochs=0):
        seen.append((hypermodel.data.fit_rows, [np.concatenate([f, v]) for f, v in folds]))
        stopping.append((patience, epochs))
        return []

    monkeypatch.setattr(bag, "train_members", spy)
    monkeypatch.setattr(bag, "member_prices", lambda hm, members, rows: np.full(len(rows), 5e5))
    trial = TrialRecord("0000", "completed", 20.0, 2, 2, 0.0, (FoldRecord(1, 20.0, 2, 2),))
    result = crossval.cross_validate(
        houses, load_space("mlp"), [trial], 4, search={"folds": 3, "val_seed": 0, "patience": 2},
        seed=0, tutorials=False,
    )  # fmt: skip
    outer = crossval.outer_folds(len(houses), 4, 0)
    assert len(seen) == 4 and result["fold_sizes"] == [len(test) for _, test in outer]
    for (fit_rows, inner), (train, test) in zip(seen, outer, strict=True):
        assert set(fit_rows) == set(train)  # preprocessing fitted on the outer training rows
        assert all(set(rows) == set(train) for rows in inner)
        assert not set(fit_rows) & set(test)
    constant = result["models"][crossval.EXPORTED]["fold_scores"]
    prices = houses.frame["price"].to_numpy()
    assert constant == pytest.approx(
        [100 * np.mean(np.abs(5e5 - prices[test]) / prices[test]) for _, test in outer]
    )
    assert result["difference_to_ridge"] == pytest.approx(
        np.subtract(constant, result["models"][RIDGE]["fold_scores"])
    )
    # Without export's stopping rule: the search's patience, each trial's own epochs.
    assert stopping == [(2, 0)] * 4


def test_the_pipeline_trains_its_bag_with_exports_stopping_rule(tiny_dataset, monkeypatch):
    """The pipeline --cv scores is the one export ships: its fold models stop by export's
    --patience and --max-epochs."""
    from houses_tune.data import load_houses
    from houses_tune.results import bag
    from houses_tune.search_spaces import load_space

    houses, stopping = load_houses(tiny_dataset, min_zip_count=0), []

    def spy(hypermodel, trials, folds, patience, seed, listener=None, epochs=0):
        stopping.append((patience, epochs))
        return []

    monkeypatch.setattr(bag, "train_members", spy)
    monkeypatch.setattr(bag, "member_prices", lambda hm, members, rows: np.full(len(rows), 5e5))
    trial = TrialRecord("0000", "completed", 20.0, 2, 2, 0.0, (FoldRecord(1, 20.0, 2, 2),))
    crossval.cross_validate(
        houses, load_space("mlp"), [trial], 3, search={"folds": 3, "val_seed": 0, "patience": 2},
        stopping=(30, 100), tutorials=False,
    )  # fmt: skip
    assert stopping == [(30, 100)] * 3


def test_the_pipeline_retrains_in_the_searchs_precision(tiny_dataset, monkeypatch):
    """A --mixed-precision search's pipeline is cross-validated in bfloat16, as the search
    trained it; the baselines and whatever comes after keep float32."""
    import keras
    import keras_tuner

    from houses_tune.data import load_houses
    from houses_tune.results import bag
    from houses_tune.search_spaces import load_space

    houses = load_houses(tiny_dataset, min_zip_count=0)
    trained, predicting = [], []
    train_members, member_prices = bag.train_members, bag.member_prices

    def train(*args, **kwargs):
        members = train_members(*args, **kwargs)
        trained.extend(m.network.dtype_policy.name for m in members)
        return members

    def prices(hypermodel, members, rows):
        predicting.append(keras.config.dtype_policy().name)
        return member_prices(hypermodel, members, rows)

    monkeypatch.setattr(bag, "train_members", train)
    monkeypatch.setattr(bag, "member_prices", prices)
    hp = keras_tuner.HyperParameters().get_config()
    trial = TrialRecord("0000", "completed", 20.0, 2, 2, 0.0, (FoldRecord(1, 20.0, 2, 2),),
                        hp_config=hp)  # fmt: skip
    result = crossval.cross_validate(
        houses, load_space("tutorial-mlp"), [trial], 2,
        search={"folds": 2, "val_seed": 0, "patience": 2}, precision="mixed_bfloat16",
        tutorials=False,
    )  # fmt: skip
    assert trained == ["mixed_bfloat16"] * 4 and predicting == ["mixed_bfloat16"] * 2
    assert keras.config.dtype_policy().name == "float32"
    assert np.isfinite(result["models"][crossval.EXPORTED]["fold_scores"]).all()
