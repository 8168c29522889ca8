"""``--objective mae``: targets that can be zero or negative, scored by mean absolute error.

The score itself (NumPy and Keras agree), what the space gives up for such targets, the
one-line errors, and a small CSV searched, exported (cross-validated) and predicted in
process on JAX, every number named MAE and checked by hand from predictions.csv.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from houses_tune.cli import main
from houses_tune.data import DatasetOptions, load_dataset
from houses_tune.data.preprocess import TargetTransform
from houses_tune.errors import DatasetError, SpaceError
from houses_tune.objective import MAPE, get_objective
from houses_tune.results import serving
from houses_tune.run import RunDir
from houses_tune.search_spaces import load_space
from houses_tune.search_spaces.metrics import PriceMAE, objective_metric
from houses_tune.search_spaces.space import CATALOGUE

MAE = get_objective("mae")


def write_signed_table(folder: Path, rows: int = 30) -> Path:
    """A CSV whose target (a profit) is negative for a third of the rows: it grows with
    ``size`` and differs per ``district``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["size,rooms,district,profit"]
    for i in range(rows):
        size, district = 10 + 2 * i, 1 + i % 3
        profit = 40.0 * size - 900.0 + 150.0 * district + (7.0 if i % 2 else -7.0)
        lines.append(f"{size},{1 + i % 4},{district},{profit:.1f}")
    path = folder / "profits.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_two_objectives_score_and_name_errors_as_users_read_them():
    actual, predicted = np.array([100.0, 200.0]), np.array([110.0, 150.0])
    np.testing.assert_allclose(MAPE.errors(actual, predicted), [10.0, 25.0])
    assert MAPE.score(actual, predicted) == pytest.approx(17.5)
    assert MAE.score(np.array([-10.0, 0.0]), np.array([-4.0, 2.0])) == pytest.approx(4.0)
    assert (MAPE.monitor, MAE.monitor) == ("val_price_mape", "val_price_mae")
    assert (MAPE.format(21.304), MAE.format(12345.6), MAE.format(0.012345)) == (
        "21.30%", "12,346", "0.01235"
    )  # fmt: skip
    assert (MAPE.difference(-1.254), MAE.difference(-1234.0)) == ("-1.25 points", "-1,234")
    with pytest.raises(ValueError, match="unknown objective 'rmse'"):
        get_objective("rmse")


@pytest.mark.parametrize("transform", ["max_scale", "log"])
def test_the_keras_mae_metric_is_the_mean_absolute_error_of_the_target(transform):
    actual = np.array([120.0, 80.0, 300.0]) if transform == "log" else np.array([-50.0, 0, 80])
    predicted = actual + np.array([6.0, -2.0, 30.0])
    fitted = TargetTransform.fit(transform, actual)
    metric = objective_metric(MAE, fitted)
    assert isinstance(metric, PriceMAE) and metric.name == "price_mae"
    metric.update_state(fitted.forward(actual), fitted.forward(predicted))
    assert float(metric.result()) == pytest.approx(MAE.score(actual, predicted), rel=1e-4)


def test_targets_of_any_sign_get_a_space_without_log_target_and_percentage_losses():
    space = load_space("mixed").for_target(positive=False)
    assert space["target_transform"].values == ("max_scale",)  # the preset fixes log
    assert set(space["loss"].values) == {"huber", "mae"}
    every_loss = dataclasses.replace(space, params={**space.params, "loss": CATALOGUE["loss"]})
    assert set(every_loss.for_target(False)["loss"].values) == {"mae", "huber", "mse"}
    assert load_space("mixed").for_target(positive=True) is load_space("mixed")
    with pytest.raises(SpaceError, match="'tutorial-mlp': loss .fixed: mape. needs positive"):
        load_space("tutorial-mlp").for_target(False)
    # price / max |price| keeps the sign; the log of a negative target is refused.
    assert TargetTransform.fit("max_scale", np.array([-500.0, 200.0])).scale == 500.0
    with pytest.raises(SpaceError, match="'log' needs positive targets"):
        TargetTransform.fit("log", np.array([-500.0, 200.0]))


def test_non_positive_targets_need_the_mae_objective(tmp_path, capsys):
    csv = write_signed_table(tmp_path)
    with pytest.raises(DatasetError) as error:
        load_dataset(csv, DatasetOptions(target="profit"))
    assert str(error.value).startswith(f"{csv} line 2, column profit: must be positive for the "
                                       "MAPE objective, found -357.0 (--objective mae")  # fmt: skip
    table = load_dataset(csv, DatasetOptions(target="profit", objective="mae"))
    assert table.objective == MAE and not table.positive
    dataset = tmp_path / "profits.yaml"
    dataset.write_text("csv: profits.csv\ntarget: profit\nobjective: mae\n")
    assert load_dataset(dataset).objective == MAE  # the YAML file's own
    main(["data", "info", "--dataset", str(dataset)])
    assert "target       profit (objective MAE)" in capsys.readouterr().out
    dataset.write_text("csv: profits.csv\nobjective: rmse\n")
    for argv, message in (
        (["data", "info", "--dataset", str(dataset)],
         f"{dataset}: key 'objective' must be one of mape, mae, found 'rmse'"),
        (["data", "info", "--dataset", str(csv), "--objective", "rmse"],
         "Invalid value for '--objective'"),
    ):  # fmt: skip
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 2 and message in capsys.readouterr().err


def test_a_bag_of_targets_of_any_sign_is_the_arithmetic_mean(tmp_path):
    from houses_tune.data import ModelData

    options = DatasetOptions(target="profit", categorical=("district",), objective="mae")
    table = load_dataset(write_signed_table(tmp_path), options)
    data = ModelData(table, np.arange(20))
    transform = data.transform("max_scale")
    members = []
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        inputs = {name: keras.Input((w,), name=name) for name, w in data.widths.items()}
        joined = keras.layers.Concatenate()(list(inputs.values()))
        members.append((keras.Model(inputs, keras.layers.Dense(1)(joined)), transform))
    bag = serving.build_serving_model(members, data.preprocessor, geometric=False)
    frame = table.frame.iloc[:30]
    got = bag.predict(serving.raw_inputs(bag, frame), verbose=0).reshape(-1)
    encoded = data.preprocessor.encode(frame)
    each = [
        transform.inverse(net.predict({n: encoded[n] for n in data.widths}, verbose=0).ravel())
        for net, _ in members
    ]
    assert (np.array(each) < 0).any()  # the geometric mean would be undefined
    np.testing.assert_allclose(got, np.mean(each, axis=0), rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(serving.bag_prices(each, geometric=False), np.mean(each, axis=0))


def run(argv: list[str]) -> None:
    """``houses-tune ARGV`` in this process; it must succeed."""
    try:
        main(argv)
    except SystemExit as done:
        assert not done.code, (argv, done.code)


def test_a_mae_search_export_and_predict_on_targets_of_any_sign(tmp_path, capsys):
    csv = write_signed_table(tmp_path, rows=40)
    results, folder = tmp_path / "results", tmp_path / "results" / "signed"
    run(["search", "--dataset", str(csv), "--target", "profit", "--categorical", "district",
         "--objective", "mae", "--space", "mlp", "--folds", "2", "--tuner", "random",
         "--max-epochs", "2", "--budget", "12", "--results-dir", str(results), "--run",
         "signed"])  # fmt: skip
    err = capsys.readouterr().err
    assert "best val MAE" in err and "%" not in err.split("best val")[-1]
    info = json.loads((folder / "run.json").read_text())
    assert info["dataset"]["objective"] == "mae"
    assert RunDir(folder).space()["target_transform"].values == ("max_scale",)
    trial = json.loads(next((folder / "tuner").glob("trial_*/history.json")).read_text())
    assert "val_price_mae" in trial["folds"][0]["history"]
    run(["trials", str(folder)])
    assert "val MAE" in capsys.readouterr().out

    run(["export", str(folder), "--no-baselines", "--no-saved-model", "--cv", "2",
         "--max-epochs", "0"])  # fmt: skip
    out = capsys.readouterr().out
    best = folder / "best"
    metrics = json.loads((best / "metrics.json").read_text())
    frame = pd.read_csv(best / "predictions.csv")
    assert "error_pct" not in frame and "error" in frame
    mae = np.abs(frame["predicted"] - frame["profit"]).mean()
    assert metrics["objective"] == "mae" and metrics["test"]["mape"] is None
    assert metrics["test"]["score"] == pytest.approx(mae) == metrics["test"]["mae"]
    assert list(metrics["baselines"]) == [
        "per-group median price", "ridge on the target", "gradient boosting on the target"
    ]  # fmt: skip
    assert metrics["cv"]["ridge"] == "ridge on the target"
    assert f"test MAE {MAE.format(mae)} on 10 rows" in out and "CV MAE" in out
    report = (best / "report.md").read_text()
    assert "2-fold cross-validated MAE" in report and "MAE per district" in report
    assert "MAPE" not in report.replace("reference (MAPE)", "")

    new = tmp_path / "new.csv"
    pd.read_csv(csv).drop(columns=["profit"]).iloc[:4].to_csv(new, index=False)
    run(["predict", str(best / "model.keras"), "--houses", str(new)])
    predicted = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert len(predicted) == 4 and np.isfinite(predicted["predicted_price"]).all()
