"""The headline comparison: better, worse, or within the noise, on the split or on folds."""

import numpy as np
import pytest

from houses_tune.results.comparison import call, paired, verdict
from houses_tune.results.crossval import EXPORTED


def test_paired_difference_and_its_standard_error():
    mean, error = paired([10.0, 20.0, 30.0], [12.0, 21.0, 30.0])
    assert mean == pytest.approx(-1.0)
    assert error == pytest.approx(np.std([-2.0, -1.0, 0.0], ddof=1) / np.sqrt(3))


def test_a_small_win_on_91_houses_is_not_called_a_win():
    rng = np.random.default_rng(0)
    theirs = rng.gamma(2.0, 10.0, 91)  # APEs of a baseline, mean about 20%
    ours = theirs + rng.normal(-0.2, 8.0, 91)  # 0.2 points better on average, noisy
    result = verdict({"n": 91, "ours": ours, "baselines": {"ridge on log price": theirs}}, None)
    assert result["call"] == "not clearly different" and result["basis"] == "test"
    assert "within the noise of one split" in result["sentence"]
    clear = verdict({"n": 91, "ours": theirs - 3.0, "baselines": {"ridge": theirs}}, None)
    assert clear["call"] == "better"
    assert clear["sentence"].startswith("The exported model is better than the best baseline")


def test_with_cross_validation_the_folds_decide_against_the_best_baseline():
    cv = {
        "k": 5,
        "models": {
            EXPORTED: {"fold_scores": [20.0, 28.0, 19.0, 21.0, 20.5], "score_mean": 21.7},
            "ridge on log price": {"fold_scores": [22.0, 31.0, 21.5, 23.0, 22.0],
                                   "score_mean": 23.9},
            "gradient boosting on log price": {"fold_scores": [21.0, 29.5, 20.0, 22.5, 21.5],
                                               "score_mean": 22.9},
        },
    }  # fmt: skip
    test = {
        "n": 91,
        "ours": np.full(91, 18.0),
        "baselines": {"ridge on log price": np.full(91, 19.0)},
    }
    result = verdict(test, cv)
    assert result["basis"] == "cv" and result["baseline"] == "gradient boosting on log price"
    assert result["folds_won"] == 5 and result["call"] == "better"
    assert "better on 5 of 5 folds" in result["sentence"]
    assert call(-0.5, 0.3) == "not clearly different" and call(1.0, 0.3) == "worse"
