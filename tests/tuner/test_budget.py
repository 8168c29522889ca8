"""The budget planner replays KerasTuner's Hyperband arithmetic and never exceeds the budget."""

import keras_tuner
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from houses_tune.tuner.budget import (
    Budget,
    hyperband_epochs,
    hyperband_num_brackets,
    hyperband_rounds,
    hyperband_size,
    parse_budget,
    plan_search,
)


@pytest.mark.parametrize(
    ("text", "epochs", "seconds"),
    [("600", 600, None), ("1", 1, None), ("90s", None, 90), ("45m", None, 2700),
     ("2h", None, 7200), ("1h30m", None, 5400), ("1H5M10S", None, 3910)],
)  # fmt: skip
def test_parse_budget(text, epochs, seconds):
    budget = parse_budget(text)
    assert (budget.epochs, budget.seconds) == (epochs, seconds)


@pytest.mark.parametrize("text", ["0", "-5", "", "abc", "10x", "0m", "1.5h", "m", "h30"])
def test_parse_budget_rejects(text):
    with pytest.raises(ValueError):
        parse_budget(text)


@pytest.mark.parametrize("max_epochs", [1, 2, 3, 8, 9, 10, 26, 27, 28, 81, 100, 243])
@pytest.mark.parametrize("factor", [2, 3, 4, 5])
def test_bracket_math_matches_keras_tuner(max_epochs, factor):
    oracle = keras_tuner.oracles.HyperbandOracle(
        objective=keras_tuner.Objective("score", "min"), max_epochs=max_epochs, factor=factor
    )
    brackets = oracle._get_num_brackets()
    assert hyperband_num_brackets(max_epochs, factor) == brackets
    for bracket in range(brackets):
        for round_num in range(bracket + 1):
            args = (max_epochs, factor, bracket, round_num)
            assert hyperband_size(*args) == oracle._get_size(bracket, round_num)
            assert hyperband_epochs(*args) == oracle._get_epochs(bracket, round_num)


def _run_fake_hyperband(tmp_path, max_epochs, factor, iterations):
    """Drive KerasTuner's HyperbandOracle to the end without training; count what it asks."""
    hp = keras_tuner.HyperParameters()
    hp.Float("x", 0.0, 1.0)  # continuous: no duplicate configurations
    oracle = keras_tuner.oracles.HyperbandOracle(
        objective=keras_tuner.Objective("score", "min"), max_epochs=max_epochs, factor=factor,
        hyperband_iterations=iterations, hyperparameters=hp, seed=1,
    )  # fmt: skip
    oracle._set_project_dir(str(tmp_path), f"fake_{max_epochs}_{factor}_{iterations}")
    trials = epochs = 0
    while True:
        trial = oracle.create_trial("tuner0")
        if trial.status == "STOPPED":
            return trials, epochs
        values = trial.hyperparameters.values
        epochs += values["tuner/epochs"] - values["tuner/initial_epoch"]
        trials += 1
        oracle.update_trial(trial.trial_id, {"score": values["x"]})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)


@pytest.mark.parametrize(
    ("max_epochs", "factor", "iterations"),
    [(1, 3, 1), (2, 3, 2), (9, 3, 1), (10, 2, 1), (18, 3, 1), (27, 3, 1), (31, 3, 1), (5, 4, 2)],
)
def test_plan_is_what_the_oracle_runs(tmp_path, max_epochs, factor, iterations):
    rounds = hyperband_rounds(max_epochs, factor)
    planned_trials = iterations * sum(r.trials for r in rounds)
    planned_epochs = iterations * sum(r.epochs_trained for r in rounds)
    assert _run_fake_hyperband(tmp_path, max_epochs, factor, iterations) == (
        planned_trials,
        planned_epochs,
    )


@settings(max_examples=300, deadline=None)
@given(
    budget=st.integers(min_value=1, max_value=20000),
    factor=st.integers(min_value=2, max_value=6),
    cap=st.one_of(st.none(), st.integers(min_value=1, max_value=300)),
    folds=st.integers(min_value=1, max_value=10),
)
def test_hyperband_plan_never_exceeds_budget(budget, factor, cap, folds):
    if budget < folds:
        with pytest.raises(ValueError, match="less than one epoch for each"):
            plan_search(Budget(str(budget), epochs=budget), "hyperband", cap, factor, folds)
        return
    plan = plan_search(Budget(str(budget), epochs=budget), "hyperband", cap, factor, folds)
    assert 1 <= plan.total_epochs <= budget
    assert plan.total_epochs == plan.model_epochs * folds
    assert plan.iterations >= 1
    assert 1 <= plan.max_epochs <= (cap or 100)
    assert plan.trials >= 1


@settings(max_examples=200, deadline=None)
@given(
    budget=st.integers(min_value=1, max_value=5000),
    tuner=st.sampled_from(["random", "bayesian"]),
    max_epochs=st.one_of(st.none(), st.integers(min_value=1, max_value=300)),
)
def test_random_and_bayesian_plans_never_exceed_budget(budget, tuner, max_epochs):
    plan = plan_search(Budget(str(budget), epochs=budget), tuner, max_epochs)
    assert plan.max_trials >= 1
    assert plan.total_epochs == plan.max_trials * plan.max_epochs <= budget
    assert plan.max_trials == budget // plan.max_epochs


def test_plan_for_200_epochs():
    plan = plan_search(parse_budget("200"))
    assert (plan.max_epochs, plan.iterations, plan.trials, plan.total_epochs) == (18, 1, 30, 196)
    text = "\n".join(plan.describe())
    assert "max_epochs=18" in text and "Total: 30 trials, at most 196 epochs" in text


def test_min_epochs_drops_the_brackets_that_would_start_below_it():
    plan = plan_search(parse_budget("1470"), max_epochs=81, min_epochs=3)
    assert plan.min_epochs == 3 and plan.max_epochs == 81 and plan.total_epochs == 1470
    assert min(r.epochs for r in plan.rounds if r.round == 0) == 3
    assert {r.bracket for r in plan.rounds} == {0, 1, 2, 3}  # bracket 4 would start at 1
    assert "min_epochs=3" in plan.describe()[0] and plan.to_dict()["min_epochs"] == 3
    # A schedule shorter than min_epochs trains its one bracket in full.
    small = plan_search(parse_budget("4"), min_epochs=3)
    assert small.max_epochs == 2 and small.min_epochs == 2


def test_an_epoch_budget_is_shared_by_the_fold_models():
    plan = plan_search(parse_budget("1000"), folds=5)  # 200 epochs for each fold's schedule
    assert (plan.max_epochs, plan.trials, plan.model_epochs, plan.total_epochs) == (
        18,
        30,
        196,
        980,
    )
    text = "\n".join(plan.describe())
    assert "trained per fold" in text and "(196 per fold x 5 folds)" in text
    assert plan.to_dict()["folds"] == 5


def test_max_epochs_caps_hyperband_and_adds_iterations():
    plan = plan_search(parse_budget("1000"), max_epochs=9)
    assert plan.max_epochs == 9
    assert plan.iterations == 1000 // 75 and plan.total_epochs <= 1000


def test_duration_plans_are_bounded_by_time_only():
    plan = plan_search(parse_budget("45m"))
    assert plan.iterations is None and plan.trials is None and plan.total_epochs is None
    assert plan.max_epochs == 27
    assert "as many trials as fit" in "\n".join(plan.describe())
    assert plan_search(parse_budget("10m"), "random").max_trials is None


def test_plan_rejects_bad_arguments():
    with pytest.raises(ValueError):
        plan_search(parse_budget("10"), "grid")
    with pytest.raises(ValueError):
        plan_search(parse_budget("10"), factor=1)
