"""The simple baselines (per-group median price, ridge and gradient boosting on log price),
the tutorial networks' cache key, and their training in worker processes."""

import numpy as np
import pandas as pd
import pytest

from houses_tune.data import HOUSES_SCHEMA
from houses_tune.results.baselines import group_median_prices, ridge_prices


class _Table:
    """What the simple baselines read of a ``Table``: its frame, schema and target sign."""

    def __init__(self, frame, schema=HOUSES_SCHEMA):
        self.frame, self.schema = frame, schema
        self.positive = bool((frame[schema.target] > 0).all())


def _frame():
    return pd.DataFrame({
        "bedrooms": [2, 3, 4, 3, 2, 5, 3],
        "bathrooms": [1, 2, 2, 2, 1, 3, 2],
        "area": [1000, 1500, 2000, 1600, 900, 3000, 1800],
        "zipcode": [1, 1, 1, 2, 2, 2, 3],
        "price": [100.0, 200.0, 300.0, 1000.0, 900.0, 3000.0, 500.0],
    })  # fmt: skip


def test_group_median_uses_training_rows_and_falls_back_to_overall_median():
    frame = _frame()
    got = group_median_prices(_Table(frame), train_rows=[0, 1, 2, 3, 4], test_rows=[5, 6, 1])
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
    predicted = ridge_prices(_Table(frame), np.arange(40), np.arange(40, 60), alpha=1e-6)
    np.testing.assert_allclose(predicted, frame["price"].to_numpy()[40:], rtol=1e-3)


def test_gradient_boosting_on_log_price_learns_the_zip_effect():
    from houses_tune.results.baselines import boosting_prices

    rng = np.random.default_rng(0)
    n = 400
    frame = pd.DataFrame({
        "bedrooms": rng.integers(1, 6, n).astype(float),
        "bathrooms": rng.integers(1, 4, n).astype(float),
        "area": rng.uniform(800, 4000, n),
        "zipcode": rng.choice([10, 20, 30], n),
    })  # fmt: skip
    frame["price"] = np.exp(12 + 0.8 * (frame["zipcode"] == 20) + 0.3 * np.log(frame["area"]))
    predicted = boosting_prices(_Table(frame), np.arange(300), np.arange(300, 400))
    actual = frame["price"].to_numpy()[300:]
    assert np.mean(np.abs(predicted - actual) / actual) < 0.05
    unseen = frame.iloc[[0]].assign(zipcode=99)  # a new zip code counts as missing, no error
    both = pd.concat([frame, unseen], ignore_index=True)
    assert np.isfinite(boosting_prices(_Table(both), np.arange(300), [400])).all()


def test_the_baseline_cache_key_changes_with_what_decides_the_result(embedded_houses):
    from houses_tune.results.baselines import cache_key

    base = dict(houses=embedded_houses, preset="tutorial-mlp", train_rows=[1, 2], test_rows=[3],
                seed=0, epochs=200)  # fmt: skip
    key = cache_key(**base)
    assert key == cache_key(**base)
    for change in ({"preset": "tutorial-cnn"}, {"train_rows": [1, 4]}, {"test_rows": [5]},
                   {"seed": 1}, {"epochs": 199}):  # fmt: skip
        assert cache_key(**{**base, **change}) != key


def test_tutorial_trainings_get_one_worker_per_core_and_never_more_than_there_are():
    from houses_tune.results.baseline_processes import CORES_PER_TRAINING, worker_count

    assert worker_count(9, cores=4 * CORES_PER_TRAINING) == 4
    assert worker_count(2, cores=16 * CORES_PER_TRAINING) == 2
    assert worker_count(9, cores=1) == 1  # one core: train here, one after another
    assert worker_count(0, cores=8) == 1


def test_tutorial_networks_trained_in_worker_processes_equal_those_trained_here(
    embedded_houses, tmp_path, monkeypatch
):
    """Two workers train the same networks as this process would, in the jobs' order;
    the parent caches them, so a second call trains nothing."""
    from houses_tune.results.baselines import TUTORIALS, TutorialJob, train_tutorials

    monkeypatch.setenv("HOUSES_TUNE_CACHE", str(tmp_path / "cache"))
    train, test = np.arange(0, 60), np.arange(60, 70)
    (mlp, mlp_preset), (cnn, cnn_preset) = TUTORIALS[:2]
    jobs = [TutorialJob(mlp, mlp_preset, train, test, 0),
            TutorialJob(mlp, mlp_preset, train, test, 1),
            TutorialJob(cnn, cnn_preset, train, test, 0)]  # fmt: skip
    events = []

    class Listener:
        def model_trained(self, label):
            events.append(("trained", label))

        def model_skipped(self, label):
            events.append(("cached", label))

    apart = train_tutorials(embedded_houses, jobs, 2, Listener(), workers=2)
    assert sorted(events) == sorted(("trained", f"{j.label}, seed {j.seed}") for j in jobs)
    assert [(r.label, r.seed, r.cached) for r in apart] == [(j.label, j.seed, False) for j in jobs]
    monkeypatch.setenv("HOUSES_TUNE_CACHE", str(tmp_path / "another-cache"))
    here = train_tutorials(embedded_houses, jobs, 2, workers=1)
    # The same up to float round-off (a worker has fewer threads); another seed is further.
    # (The tutorial CNN after 2 epochs is too chaotic to compare across thread counts.)
    assert all(run.prices.shape == (10,) for run in apart + here)
    for a, h in zip(apart[:2], here[:2], strict=True):
        assert np.allclose(a.prices, h.prices, rtol=1e-2)
    assert not np.allclose(apart[0].prices, apart[1].prices, rtol=1e-2)
    monkeypatch.setenv("HOUSES_TUNE_CACHE", str(tmp_path / "cache"))
    events.clear()
    again = train_tutorials(embedded_houses, jobs, 2, Listener(), workers=2)
    assert [e[0] for e in events] == ["cached"] * 3 and all(r.cached for r in again)
    assert all(np.array_equal(a.prices, b.prices) for a, b in zip(apart, again, strict=True))


def test_a_failing_worker_stops_the_others_and_raises(embedded_houses, tmp_path, monkeypatch):
    from houses_tune.results.baselines import TutorialJob, train_tutorials

    monkeypatch.setenv("HOUSES_TUNE_CACHE", str(tmp_path / "cache"))
    good = TutorialJob("tutorial MLP (attributes)", "tutorial-mlp", np.arange(60),
                       np.arange(60, 70), 0)  # fmt: skip
    bad = TutorialJob(good.label, "no-such-preset", good.train_rows, good.test_rows, 1)
    with pytest.raises(Exception, match="no-such-preset"):
        train_tutorials(embedded_houses, [bad, good, good], 200, workers=2)
