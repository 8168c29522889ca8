"""``houses-tune export`` end to end on a tiny finished run (a real search, 2 epochs)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from houses_tune.cli import cli
from houses_tune.data import load_houses
from houses_tune.results import serving
from houses_tune.results.baselines import RIDGE, TUTORIALS, ZIP_MEDIAN
from houses_tune.results.export import export_run
from houses_tune.results.run_dir import RunDir


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> dict:
    """Work shared by the module's tests (the search and the export run once)."""
    return {"root": tmp_path_factory.mktemp("export")}


@pytest.fixture
def run(cache, make_houses_folder) -> Path:
    """A finished tiny search: the tutorial mixed model, 40 houses, 2 epochs."""
    from houses_tune.tuner.budget import parse_budget
    from houses_tune.tuner.search import SearchSettings, run_search

    if "run" not in cache:
        root = cache["root"]
        settings = SearchSettings(
            budget=parse_budget("4"), dataset=make_houses_folder(root), space="tutorial-mixed",
            max_epochs=2, run="tiny", results_dir=root / "results", min_zip_count=0,
        )  # fmt: skip
        outcome = run_search(settings)
        assert outcome.status == "finished"
        cache["run"] = outcome.run_dir
    return cache["run"]


@pytest.fixture
def exported(cache, run):
    """``export RUN --cv 2 --baseline-epochs 1 --baseline-seeds 2`` -> (CLI result, folder)."""
    if "exported" not in cache:
        args = ["export", str(run), "--cv", "2", "--baseline-epochs", "1", "--baseline-seeds", "2"]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        cache["exported"] = result, run / "best"
    return cache["exported"]


def test_export_writes_every_file_and_nothing_else(exported, run):
    result, best = exported
    for name in ("model.keras", "saved_model", "report.html", "report.md", "metrics.json",
                 "predictions.csv", "plots/trials.png"):  # fmt: skip
        assert (best / name).exists(), name
    assert not [p for p in run.iterdir() if p.name.startswith(".best")]  # no temp folders
    assert "test MAPE" in result.stdout and str(best) in result.stdout


def test_model_reloads_safely_and_matches_saved_model(exported, run):
    _, best = exported
    model = keras.saving.load_model(best / "model.keras", safe_mode=True)
    rd = RunDir(run)
    houses, test = rd.load_houses(), rd.splits.test
    inputs = serving.raw_inputs(model, houses.frame.iloc[test], houses.photos(32)[test])
    prices = model.predict(inputs, verbose=0).reshape(-1)
    predictions = pd.read_csv(best / "predictions.csv")
    assert predictions["house"].tolist() == houses.frame["house"].iloc[test].tolist()
    np.testing.assert_allclose(prices, predictions["predicted"], rtol=1e-6)
    saved = serving.saved_model_prices(best / "saved_model", inputs)
    assert np.max(np.abs(saved - prices) / prices) < 1e-4


def test_model_loads_in_a_fresh_process_with_only_the_serving_layers(exported):
    # Nothing from the search (its loss or metric) may be needed to load the shipped file.
    _, best = exported
    code = (
        "import sys, keras, houses_tune.results.serving; "
        "keras.saving.load_model(sys.argv[1], safe_mode=True); "
        "assert 'houses_tune.search_spaces.metrics' not in sys.modules"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(best / "model.keras")], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_metrics_match_a_hand_computation_from_predictions_csv(exported):
    _, best = exported
    metrics = json.loads((best / "metrics.json").read_text())
    frame = pd.read_csv(best / "predictions.csv")
    actual, predicted = frame["price"].to_numpy(), frame["predicted"].to_numpy()
    ape = np.abs(predicted - actual) / actual * 100
    test = metrics["test"]
    assert test["n"] == len(frame)
    assert test["mape"] == pytest.approx(ape.mean())
    assert test["mape_std"] == pytest.approx(ape.std())
    assert test["median_ape"] == pytest.approx(np.median(ape))
    assert test["mae"] == pytest.approx(np.abs(predicted - actual).mean())
    assert test["rmse"] == pytest.approx(np.sqrt(((predicted - actual) ** 2).mean()))
    r2 = 1 - ((predicted - actual) ** 2).sum() / ((actual - actual.mean()) ** 2).sum()
    assert test["r2"] == pytest.approx(r2)
    assert test["within_10"] == pytest.approx(100 * (ape <= 10).mean())
    assert test["within_20"] == pytest.approx(100 * (ape <= 20).mean())
    for zipcode, part in frame.groupby("zipcode"):
        got = test["mape_per_zip"][str(zipcode)]
        assert got["n"] == len(part)
        assert got["mape"] == pytest.approx(ape[part.index].mean())
    assert metrics["cv"]["k"] == 2 and len(metrics["cv"]["fold_mape"]) == 2
    assert metrics["saved_model_max_relative_difference"] < 1e-4


def test_report_holds_the_numbers_and_the_baselines(exported):
    _, best = exported
    metrics = json.loads((best / "metrics.json").read_text())
    page = (best / "report.html").read_text()
    markdown = (best / "report.md").read_text()
    labels = [label for label, _ in TUTORIALS] + [ZIP_MEDIAN, RIDGE]
    assert list(metrics["baselines"]) == labels
    for text in (page, markdown):
        assert f"{metrics['test']['mape']:.2f}%" in text
        assert f"${metrics['test']['mae']:,.0f}" in text
        for label, baseline in metrics["baselines"].items():
            assert label in text
            assert f"{baseline['test_mape']:.2f}%" in text
            if label in dict(TUTORIALS):  # two seeds: the median is their mean
                assert baseline["seeds"] == [0, 1] and len(baseline["seed_mape"]) == 2
                assert baseline["test_mape"] == pytest.approx(np.mean(baseline["seed_mape"]))
                assert "median of 2 seeds" in text
            else:
                assert "seed_mape" not in baseline
            verdict = "beat" if baseline["beaten"] else "did NOT beat"
            assert f"The search {verdict} the {label}" in text or "tied with" in text
        assert "2-fold cross-validation" in text
    # Self-contained: four inline PNGs, nothing fetched from elsewhere.
    assert page.count('src="data:image/png;base64,') == 4
    assert "http://" not in page and "https://" not in page and "<link" not in page


def test_predict_on_the_dataset_folder_reproduces_the_test_predictions(exported, run):
    _, best = exported
    houses = load_houses(RunDir(run).settings["dataset"]["folder"], min_zip_count=0)
    result = CliRunner().invoke(
        cli, ["predict", str(best / "model.keras"), "--houses", str(houses.folder)]
    )
    assert result.exit_code == 0, result.output
    predicted = pd.read_csv(io.StringIO(result.stdout)).set_index("id")["predicted_price"]
    expected = pd.read_csv(best / "predictions.csv").set_index("house")["predicted"]
    np.testing.assert_allclose(predicted.loc[expected.index], expected, rtol=1e-6)


def test_interrupted_export_leaves_no_partial_folder(run, exported, tmp_path, monkeypatch):
    from houses_tune.results import report, serving

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt  # as if Ctrl-C arrived right then

    # Midway: model.keras is written, the SavedModel is not.
    with monkeypatch.context() as patch:
        patch.setattr(serving, "export_saved_model", interrupt)
        with pytest.raises(KeyboardInterrupt):
            export_run(run, out=tmp_path / "fresh", baselines=False, log=lambda message: None)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a temporary one

    # At the last step, over an earlier export: that one survives untouched.
    _, best = exported
    before = {p.relative_to(best): p.read_bytes() for p in best.rglob("*") if p.is_file()}
    monkeypatch.setattr(report, "render_html", interrupt)
    with pytest.raises(KeyboardInterrupt):
        export_run(run, baselines=False, log=lambda message: None)
    after = {p.relative_to(best): p.read_bytes() for p in best.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in run.iterdir() if p.name.startswith(".best")] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trial", "9999"], "no trial '9999'"),
        (["--cv", "1"], "--cv must be between 2"),
        (["--baseline-seeds", "0"], "'--baseline-seeds': 0 is not in the range x>=1"),
    ],
)
def test_bad_arguments_fail_in_one_line(run, args, message):
    result = CliRunner().invoke(cli, ["export", str(run), *args])
    assert result.exit_code == 2
    assert message in result.output


def test_not_a_run_fails_in_one_line(tmp_path):
    result = CliRunner().invoke(cli, ["export", str(tmp_path)])
    assert result.exit_code == 2 and "not a houses-tune run" in result.output


def test_out_that_is_a_file_fails_before_any_training(run, tmp_path, monkeypatch):
    from houses_tune.errors import ExportError
    from houses_tune.results import refit

    monkeypatch.setattr(refit, "fit_configuration", lambda *a, **k: pytest.fail("trained"))
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(ExportError, match="taken: exists and is not a folder"):
        export_run(run, out=tmp_path / "taken", baselines=False, log=lambda message: None)


def test_a_trial_can_be_named_without_its_leading_zeros():
    from types import SimpleNamespace

    from houses_tune.errors import ExportError
    from houses_tune.results.export import choose_trial

    trials = [
        SimpleNamespace(trial_id=f"{i:04d}", score=30.0 + i, status="completed") for i in (7, 12)
    ]
    assert choose_trial(trials, "7").trial_id == "0007"
    assert choose_trial(trials, "0012").trial_id == "0012"
    with pytest.raises(ExportError, match="no trial '70'"):
        choose_trial(trials, "70")


def test_a_diverged_refit_fails_in_one_line_before_the_baselines(run, tmp_path, monkeypatch):
    from houses_tune.errors import ExportError
    from houses_tune.results import baselines, export, serving

    class Diverged:
        def predict(self, inputs, verbose=0):
            return np.full((91, 1), np.nan)

    monkeypatch.setattr(serving, "build_serving_model", lambda *args: Diverged())
    monkeypatch.setattr(export, "_test_inputs", lambda *args: {})
    monkeypatch.setattr(baselines, "run_baselines", lambda *a, **k: pytest.fail("baselines ran"))
    with pytest.raises(ExportError, match="diverged"):
        export_run(run, out=tmp_path / "out", baselines=False, log=lambda message: None)
    assert not (tmp_path / "out").exists()


def test_tutorial_baselines_are_scored_by_their_median_over_seeds(run, tmp_path, monkeypatch):
    from houses_tune.results import baselines

    rd = RunDir(run)
    actual = rd.load_houses().frame["price"].to_numpy()[rd.splits.test]
    # Relative error of each (preset, seed) run: MAPE = 100 * |error| exactly.
    errors = {
        "tutorial-mlp": [0.0, 1000.0, 2000.0],  # seed 5 alone: unbeatable; median: 100000%
        "tutorial-cnn": [np.nan, 0.0, 0.0],  # diverged first run; median 0%
        "tutorial-mixed": [0.3, -0.1, 0.2],  # median 20% (seed 7)
    }
    calls = []

    def fake_tutorial(preset, houses, train_rows, test_rows, epochs, seed):
        calls.append((preset, seed))
        return actual * (1 + errors[preset][seed - 5]), None

    monkeypatch.setattr(baselines, "tutorial_prices", fake_tutorial)
    result = export_run(
        run, out=tmp_path / "out", seed=5, baseline_epochs=1, log=lambda message: None
    )
    assert calls == [(preset, seed) for _, preset in TUTORIALS for seed in (5, 6, 7)]
    metrics = json.loads((result.out / "metrics.json").read_text())
    ours = metrics["test"]["mape"]
    (mlp, _), (cnn, _), (mixed, _) = TUTORIALS
    expected = {  # label -> (per-seed MAPEs, median)
        mlp: ([0.0, 100000.0, 200000.0], 100000.0),
        cnn: ([float("inf"), 0.0, 0.0], 0.0),
        mixed: ([30.0, 10.0, 20.0], 20.0),
    }
    markdown = (result.out / "report.md").read_text()
    page = (result.out / "report.html").read_text()
    for label, (seed_mape, median) in expected.items():
        got = metrics["baselines"][label]
        assert got["seeds"] == [5, 6, 7]
        assert got["seed_mape"] == pytest.approx(seed_mape)
        assert got["test_mape"] == pytest.approx(median)
        assert got["beaten"] == (ours < median)
        cell = f"{median:.2f}% (median of 3 seeds; {min(seed_mape):.2f}–{max(seed_mape):.2f}%)"
        assert f"| {label} | {cell} |" in markdown
        assert f"<td>{label}</td><td>{cell}</td>" in page
    assert metrics["baselines"][mlp]["beaten"]  # though seed 5 alone was perfect
    assert not metrics["baselines"][cnn]["beaten"]  # though seed 5 diverged
    assert "seeds" not in metrics["baselines"][RIDGE]
    for text in (markdown, page):
        assert "3 times, with seeds 5, 6, 7" in text
