"""``houses-tune export`` end to end on a tiny finished run (a real search on 3 folds)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from houses_tune.cli import cli
from houses_tune.data import ROOMS, ModelData, load_houses
from houses_tune.errors import ExportError
from houses_tune.results import serving
from houses_tune.results.baselines import BOOSTING, GROUP_MEDIAN, RIDGE, TUTORIALS
from houses_tune.results.crossval import EXPORTED
from houses_tune.results.export import ExportOptions, export_run
from houses_tune.results.saved_model import saved_model_prices
from houses_tune.run import RunDir, RunLock

# The tutorial mixed network with two head widths: two configurations, photos and attributes.
SPACE = "base: tutorial-mixed\nhyperparameters:\n  head/units: [4, 8]\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory, make_houses_folder) -> Path:
    """A finished tiny search: 40 houses (30 search, 10 test), 3 folds, 2 trials of 2 epochs."""
    from houses_tune.tuner.budget import parse_budget
    from houses_tune.tuner.job import SearchSettings, prepare_search
    from houses_tune.tuner.search import run_search

    root = tmp_path_factory.mktemp("export")
    (root / "space.yaml").write_text(SPACE)
    settings = SearchSettings(
        budget=parse_budget("12"), dataset=make_houses_folder(root), space=str(root / "space.yaml"),
        tuner="random", max_epochs=2, run="tiny", results_dir=root / "results", min_zip_count=0,
        folds=3,
    )  # fmt: skip
    outcome = run_search(prepare_search(settings))
    assert outcome.status == "finished" and outcome.completed == 2
    return outcome.run_dir


@pytest.fixture(scope="module")
def exported(run):
    """``export RUN --cv 2 --no-baselines --max-epochs 0`` -> (CLI result, folder): the
    search's fold models shipped; the tutorial networks' part of an export is checked with
    stand-ins below, the bag trained again by the --max-epochs tests."""
    args = ["export", str(run), "--cv", "2", "--no-baselines", "--max-epochs", "0"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return result, run / "best"


def _quiet(**options) -> ExportOptions:
    """No tutorial networks, no SavedModel, the search's fold models (none trained again):
    what most tests need, in seconds."""
    return ExportOptions(baselines=False, saved_model=False, **{"max_epochs": 0, **options})


def test_export_writes_every_file_and_nothing_else(exported, run):
    result, best = exported
    for name in ("model.keras", "saved_model", "report.html", "report.md", "metrics.json",
                 "predictions.csv", "plots/trials.png", "plots/learning_curves.png"):  # fmt: skip
        assert (best / name).exists(), name
    assert not [p for p in run.iterdir() if p.name.startswith(".best")]  # no temp folders
    assert "test MAPE" in result.stdout and str(best) in result.stdout
    assert "a bag of 3 models" in result.stdout


def test_the_model_is_the_bag_of_the_best_trials_fold_models(exported, run):
    """Its prices are the geometric mean of what the search's fold checkpoints predict."""
    _, best = exported
    metrics = json.loads((best / "metrics.json").read_text())
    rd = RunDir(run)
    trial = rd.trials()[0]
    assert metrics["exported"] == {
        "kind": "bag", "members": 3, "folds": 3, "trained_by": "search", "patience": None,
        "max_epochs": None, "best_epochs": [None] * 3, "epochs": [None] * 3,
        "trials": [metrics["top_trials"][0]], "candidates": [],
    }  # fmt: skip
    assert metrics["exported"]["trials"][0]["id"] == trial.trial_id
    predictions = pd.read_csv(best / "predictions.csv")
    np.testing.assert_allclose(predictions["predicted"], _search_bag(run), rtol=1e-4)
    assert "fold models the search trained for trial" in (best / "report.md").read_text()


def _search_bag(run) -> np.ndarray:
    """Test prices of the geometric mean of the search's fold checkpoints of the best trial."""
    from houses_tune.results.bag import hyperparameters
    from houses_tune.search_spaces import HousesHyperModel
    from houses_tune.training.folds import load_checkpoint

    rd = RunDir(run)
    trial = rd.trials()[0]
    houses, splits = rd.load_dataset(), rd.splits
    hypermodel = HousesHyperModel(rd.space(), ModelData(houses, splits.search))
    hp = hyperparameters(trial)
    each = []
    for fold in (1, 2, 3):
        network = hypermodel.build(hp)
        load_checkpoint(
            network, rd.tuner_dir / f"trial_{trial.trial_id}" / f"fold_{fold}.weights.h5"
        )
        each.append(hypermodel.predict_prices(hp, network, splits.test))
    return serving.bag_prices(each)  # geometric mean; a price below $1 counts as $1


def test_max_epochs_trains_the_bag_again_for_longer_than_the_search_did(run, tmp_path):
    """The search stopped its fold models at its round's 2 epochs; --max-epochs trains each
    again, on the same folds, until --patience or --max-epochs stops it (that --cv then
    trains its pipeline so: test_crossval.py)."""
    from rich.console import Console

    stderr = io.StringIO()
    result = export_run(run, _quiet(out=tmp_path / "longer", max_epochs=4, patience=2),
                        console=Console(file=stderr, width=300))  # fmt: skip
    exported = result.summary["exported"]
    assert exported["trained_by"] == "export" and exported["members"] == 3
    assert exported["patience"] == 2 and exported["max_epochs"] == 4
    epochs, best_epochs = exported["epochs"], exported["best_epochs"]
    assert len(epochs) == 3 and all(2 < e <= 4 for e in epochs)  # beyond the search's 2
    for best, last in zip(best_epochs, epochs, strict=True):  # stopped by one rule or the other
        assert 1 <= best <= last and (last == 4 or last == best + 2)
    predicted = pd.read_csv(result.out / "predictions.csv")["predicted"]
    assert not np.allclose(predicted, _search_bag(run), rtol=1e-3)  # other models
    assert "trained again on the search's folds" in (result.out / "report.md").read_text()
    # The bag's 3 fold models, counted.
    lines = [line for line in stderr.getvalue().splitlines() if line.startswith("model ")]
    assert len(lines) == 3 and lines[-1].startswith("model 3/3: ")


def test_model_reloads_safely_and_matches_saved_model(exported, run):
    _, best = exported
    model = keras.saving.load_model(best / "model.keras", safe_mode=True)
    assert len(serving.members(model)) == 3
    rd = RunDir(run)
    houses, test = rd.load_dataset(), rd.splits.test
    inputs = serving.raw_inputs(model, houses.frame.iloc[test], houses.photos(32)[test], ROOMS)
    prices = model.predict(inputs, verbose=0).reshape(-1)
    predictions = pd.read_csv(best / "predictions.csv")
    assert predictions["house"].tolist() == houses.frame["house"].iloc[test].tolist()
    np.testing.assert_allclose(prices, predictions["predicted"], rtol=1e-6, atol=0.006)  # cents
    saved = saved_model_prices(best / "saved_model", inputs)
    assert np.max(np.abs(saved - prices) / prices) < 1e-4


def test_metrics_match_a_hand_computation_from_predictions_csv(exported):
    _, best = exported
    metrics = json.loads((best / "metrics.json").read_text())
    frame = pd.read_csv(best / "predictions.csv")
    actual, predicted = frame["price"].to_numpy(), frame["predicted"].to_numpy()
    ape = np.abs(predicted - actual) / actual * 100
    test = metrics["test"]
    assert test["n"] == len(frame) == 10
    assert test["mape"] == pytest.approx(ape.mean())
    assert test["mape_std"] == pytest.approx(ape.std())
    assert test["median_ape"] == pytest.approx(np.median(ape))
    assert test["mae"] == pytest.approx(np.abs(predicted - actual).mean())
    assert test["rmse"] == pytest.approx(np.sqrt(((predicted - actual) ** 2).mean()))
    r2 = 1 - ((predicted - actual) ** 2).sum() / ((actual - actual.mean()) ** 2).sum()
    assert test["r2"] == pytest.approx(r2)
    assert test["within_10"] == pytest.approx(100 * (ape <= 10).mean())
    assert test["within_20"] == pytest.approx(100 * (ape <= 20).mean())
    assert metrics["objective"] == "mape" and test["score"] == test["mape"]
    for zipcode, part in frame.groupby("zipcode"):
        got = test["per_group"][str(zipcode)]
        assert got["n"] == len(part)
        assert got["score"] == pytest.approx(ape[part.index].mean())
    assert metrics["saved_model"] and metrics["max_relative_difference"] < 1e-4


def test_cross_validation_scores_everything_on_the_same_folds(exported):
    _, best = exported
    cv = json.loads((best / "metrics.json").read_text())["cv"]
    assert cv["k"] == 2 and cv["fold_sizes"] == [20, 20]
    assert set(cv["models"]) == {EXPORTED, GROUP_MEDIAN, RIDGE, BOOSTING}  # --no-baselines
    for model in cv["models"].values():
        assert len(model["fold_scores"]) == 2
        assert model["score_mean"] == pytest.approx(np.mean(model["fold_scores"]))
    ours, ridge = cv["models"][EXPORTED]["fold_scores"], cv["models"][RIDGE]["fold_scores"]
    assert cv["difference_to_ridge"] == pytest.approx(
        [a - b for a, b in zip(ours, ridge, strict=True)]
    )
    assert cv["folds_won_vs_ridge"] == sum(a < b for a, b in zip(ours, ridge, strict=True))


def test_report_holds_the_numbers_the_baselines_and_one_verdict(exported):
    _, best = exported
    metrics = json.loads((best / "metrics.json").read_text())
    page = (best / "report.html").read_text()
    markdown = (best / "report.md").read_text()
    assert list(metrics["baselines"]) == [GROUP_MEDIAN, RIDGE, BOOSTING]
    verdict = metrics["verdict"]
    assert verdict["basis"] == "cv" and verdict["k"] == 2
    assert verdict["sentence"].startswith("The exported model is ")
    for text in (page, markdown):
        assert verdict["sentence"].split(":")[0] in text
        assert f"{metrics['test']['mape']:.2f}%" in text
        assert f"${metrics['test']['mae']:,.0f}" in text
        assert "a bag of the 3 fold models" in text
        for label, baseline in metrics["baselines"].items():
            assert label in text and f"{baseline['test_score']:.2f}%" in text
            said = "beat" if baseline["beaten"] else "did NOT beat"
            assert f"the export {said} the {label}" in text or "tied with" in text
        assert "2-fold cross-validation" in text and f"exported minus {RIDGE}" in text
        assert "Tutorial networks trained" not in text  # --no-baselines trained none
    # Self-contained: four inline PNGs, nothing fetched from elsewhere.
    assert page.count('src="data:image/png;base64,') == 4
    assert "http://" not in page and "https://" not in page and "<link" not in page


def _fake_tutorials(monkeypatch, run, tmp_path):
    """Tutorial networks that 'predict' the right price times (1 + 1% per seed), counted;
    the baseline cache starts empty. (The exports using them train in this process, with
    ``baseline_workers=1``, where the stand-in is seen.)"""
    from houses_tune.results import baselines

    frame = RunDir(run).load_dataset().frame
    calls = []

    def fake(houses, job, epochs, listener=None):
        calls.append((job.preset, job.seed, len(job.test_rows)))
        return frame["price"].to_numpy()[job.test_rows] * (1 + 0.01 * (job.seed + 1))

    monkeypatch.setattr(baselines, "tutorial_prices", fake)
    monkeypatch.setenv("HOUSES_TUNE_CACHE", str(tmp_path / "fresh-cache"))
    return calls


def test_tutorial_networks_are_cross_validated_once_per_fold(run, tmp_path, monkeypatch):
    calls = _fake_tutorials(monkeypatch, run, tmp_path)
    options = ExportOptions(out=tmp_path / "cv", cv=2, baseline_seeds=2, baseline_workers=1,
                            saved_model=False, max_epochs=0)  # fmt: skip
    result = export_run(run, options)
    # On the split: every network with seeds 0 and 1 (10 test houses); then once per fold.
    split = [(preset, seed, 10) for _, preset in TUTORIALS for seed in (0, 1)]
    folds = [(preset, 0, 20) for _ in (1, 2) for _, preset in TUTORIALS]
    assert calls == split + folds
    cv = result.summary["cv"]
    for label, _ in TUTORIALS:
        assert cv["models"][label]["fold_scores"] == pytest.approx([1.0, 1.0])  # seed 0: 1% off


def test_a_second_export_reuses_the_tutorial_baselines(run, tmp_path, monkeypatch):
    calls = _fake_tutorials(monkeypatch, run, tmp_path)
    options = ExportOptions(baseline_seeds=2, baseline_workers=1, saved_model=False, max_epochs=0)
    first = export_run(run, replace(options, out=tmp_path / "first"))
    assert len(calls) == 6
    again = export_run(run, replace(options, out=tmp_path / "again"))
    assert len(calls) == 6  # nothing trained the second time
    for label, _ in TUTORIALS:
        assert first.summary["baselines"][label]["cached"] == [False, False]
        assert again.summary["baselines"][label]["cached"] == [True, True]
        assert again.summary["baselines"][label]["seed_scores"] == pytest.approx(
            first.summary["baselines"][label]["seed_scores"]
        )
    report = (again.out / "report.md").read_text()
    assert "6 of these 6 trainings were reused from the baseline cache" in report
    # Another seed is another training.
    export_run(run, replace(options, out=tmp_path / "seed", seed=1))
    assert len(calls) == 6 + 3


def test_export_counts_every_model_it_trains_on_stderr(run, tmp_path):
    """Off a terminal (a log, a pipe) a line per model: which of how many."""
    from rich.console import Console

    stderr = io.StringIO()
    result = export_run(run, _quiet(out=tmp_path / "progress", cv=2),
                        console=Console(file=stderr, width=300))  # fmt: skip
    best = result.summary["exported"]["trials"][0]["id"]
    lines = [line for line in stderr.getvalue().splitlines() if line.startswith("model ")]
    # No tutorial networks: 2 outer folds x the best trial's 3 fold models, retrained.
    assert lines == [f"model {k}/6: trial {best}'s fold models" for k in range(1, 7)]


def test_the_export_progress_line_says_which_model_its_epoch_and_time_left():
    from rich.console import Console

    from houses_tune.results.progress import ExportProgress

    progress = ExportProgress(Console(file=io.StringIO()), models=4)
    progress.model_skipped("tutorial MLP (attributes), seed 0")  # from the cache: counted
    progress.next_models("tutorial MLP (attributes), seed 1", 200)
    progress.fold_begin(0)
    progress.epoch_end(0, 49, {})
    line = progress.line()
    assert line.startswith("export · model 2/4: tutorial MLP (attributes), seed 1 · epoch 50/200")
    assert re.search(r"this model \d+:\d\d:\d\d left$", line), line


def test_predict_on_the_dataset_folder_reproduces_the_test_predictions(exported, run):
    _, best = exported
    houses = load_houses(RunDir(run).settings["dataset"]["folder"], min_zip_count=0)
    result = CliRunner().invoke(
        cli, ["predict", str(best / "model.keras"), "--houses", str(houses.source)]
    )
    assert result.exit_code == 0, result.output
    predicted = pd.read_csv(io.StringIO(result.stdout)).set_index("id")["predicted_price"]
    expected = pd.read_csv(best / "predictions.csv").set_index("house")["predicted"]
    np.testing.assert_allclose(predicted.loc[expected.index], expected, rtol=1e-5)


def test_ensemble_bags_the_fold_models_of_the_best_configurations(run, tmp_path):
    result = export_run(run, _quiet(out=tmp_path / "two", ensemble=2))
    exported = result.summary["exported"]
    assert exported["members"] == 6 and len(exported["trials"]) == 2
    ids = [t["id"] for t in exported["trials"]]
    assert ids == [t.trial_id for t in RunDir(run).trials()[:2]]
    model = serving.load_exported_model(result.out / "model.keras")
    assert len(serving.members(model)) == 6


def test_candidates_ship_the_configuration_whose_bag_trained_again_scores_best(
    run, tmp_path, monkeypatch
):
    """--candidates 2 trains both configurations' bags and ships the one whose fold models
    score best on their validation rows, even against the search's ranking: here the scores
    of the bags are set so that the search's second trial wins."""
    from rich.console import Console

    from houses_tune.results import bag

    first, second = (t.trial_id for t in RunDir(run).trials()[:2])
    trained = bag.train_members

    def scored_against_the_search(hypermodel, trials, *args, **kwargs):
        members = trained(hypermodel, trials, *args, **kwargs)
        for member in members:
            member.score = {first: 30.0, second: 20.0}[member.trial_id] + member.fold
        return members

    monkeypatch.setattr(bag, "train_members", scored_against_the_search)
    stderr = io.StringIO()
    result = export_run(run, _quiet(out=tmp_path / "chosen", max_epochs=3, patience=2,
                                    candidates=2, cv=2),
                        console=Console(file=stderr, width=300))  # fmt: skip
    exported = result.summary["exported"]
    assert [t["id"] for t in exported["trials"]] == [second] and exported["members"] == 3
    assert [(c["id"], c["bag_score"], c["shipped"]) for c in exported["candidates"]] == [
        (second, 22.0, True), (first, 32.0, False),
    ]  # fmt: skip
    assert [c["search_score"] for c in exported["candidates"]] == [
        t.score for t in sorted(RunDir(run).trials()[:2], key=lambda t: t.trial_id != second)
    ]
    model = serving.load_exported_model(result.out / "model.keras")
    assert len(serving.members(model)) == 3
    # Both bags trained once (the shipped one is not trained a third time), then --cv trains
    # the chosen configuration only: 3 inner fold models in each of 2 outer folds.
    lines = [line for line in stderr.getvalue().splitlines() if line.startswith("model ")]
    assert len(lines) == 12 and lines[-1].startswith("model 12/12: ")
    assert f"trial {second}: 22.00% trained again" in stderr.getvalue()
    report = (result.out / "report.md").read_text()
    assert "## Candidates" in report and "the bags of the 2 best trials" in report


def test_candidates_choose_by_the_bags_score_and_rank_a_diverged_bag_last():
    from houses_tune.results.bag import Member
    from houses_tune.results.candidates import best_candidates

    scores = {"a": [22.0, 24.0], "b": [21.0, 22.0], "c": [20.0, float("nan")], "d": [23.0, 22.0]}

    def train(trials):
        (trial,) = trials
        return [Member(None, None, None, trial, f, {}, score=s)
                for f, s in enumerate(scores[trial], start=1)]  # fmt: skip

    chosen, members, ranked = best_candidates(train, ["a", "b", "c", "d"], keep=2)
    assert chosen == ["b", "d"] and [m.trial_id for m in members] == ["b", "b", "d", "d"]
    assert [(c.trial, c.score) for c in ranked] == [
        ("b", 21.5),
        ("d", 22.5),
        ("a", 23.0),
        ("c", None),
    ]


def test_refit_ships_one_model_for_comparison(run, tmp_path):
    result = export_run(run, _quiet(out=tmp_path / "refit", refit=True))
    assert result.summary["exported"]["kind"] == "refit"
    assert result.summary["exported"]["members"] == 1
    assert "a refit of trial" in (result.out / "report.md").read_text()


def test_interrupted_export_leaves_no_partial_folder(run, exported, tmp_path, monkeypatch):
    from houses_tune.results import report, saved_model

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt  # as if Ctrl-C arrived right then

    # Midway: model.keras is written, the SavedModel is not.
    with monkeypatch.context() as patch:
        patch.setattr(saved_model, "write_saved_model", interrupt)
        with pytest.raises(KeyboardInterrupt):
            export_run(run, ExportOptions(out=tmp_path / "fresh", baselines=False, max_epochs=0))
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a temporary one

    # At the last step, over an earlier export: that one survives untouched.
    _, best = exported
    before = {p.relative_to(best): p.read_bytes() for p in best.rglob("*") if p.is_file()}
    monkeypatch.setattr(report, "render", interrupt)
    with pytest.raises(KeyboardInterrupt):
        export_run(run, _quiet())
    after = {p.relative_to(best): p.read_bytes() for p in best.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in run.iterdir() if p.name.startswith(".best")] == []


def _export_process(run: Path, out: Path, python: list[str], saved_model: bool = False):
    saved = "--saved-model" if saved_model else "--no-saved-model"
    command = [*python, "-m", "houses_tune", "export", str(run), "--out", str(out),
               "--no-baselines", "--max-epochs", "0", saved]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _one_error_line(err: str) -> str:
    assert "Traceback" not in err and "Segmentation" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, err
    return errors[0]


def test_a_full_disk_is_one_line_and_leaves_no_partial_export(run, tmp_path, file_size_limit):
    out = tmp_path / "best"
    done = _export_process(run, out, file_size_limit(16 * 1024))  # model.keras is larger

    assert done.returncode == 2, done.stderr
    assert _one_error_line(done.stderr) == (
        f"Error: cannot write {out}: File too large (nothing was written)"
    )
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a temporary one


def test_a_full_disk_while_the_saved_model_is_written_is_one_line(
    run, exported, tmp_path, file_size_limit
):
    # A file size limit that model.keras fits in and the SavedModel's variables do not.
    _, best = exported
    model = (best / "model.keras").stat().st_size
    variables = max(p.stat().st_size for p in (best / "saved_model" / "variables").iterdir())
    assert model < variables
    out = tmp_path / "best"
    done = _export_process(run, out, file_size_limit((model + variables) // 2), saved_model=True)

    assert done.returncode == 2, done.stderr
    assert _one_error_line(done.stderr) == (
        f"Error: cannot write {out}: File too large (nothing was written)"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_folder_is_one_line_and_leaves_nothing(run, tmp_path, plain_user):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        done = _export_process(run, folder / "best", plain_user)
    finally:
        folder.chmod(0o755)

    assert done.returncode == 2, done.stderr
    assert _one_error_line(done.stderr) == (
        f"Error: cannot write {folder / 'best'}: Permission denied"
    )
    assert list(folder.iterdir()) == []


def test_cross_validation_trains_in_the_precision_of_the_models_shipped(run, tmp_path, monkeypatch):
    """After a --mixed-precision search, --cv trains in its precision when the search's fold
    models ship, and in float32 when export trains the bag again or refits (as it ships)."""
    import shutil

    from houses_tune.results import crossval
    from houses_tune.tuner.devices import list_gpus

    copy = tmp_path / "mixed"
    shutil.copytree(run, copy)
    record = RunDir(copy)
    record.update(search={**record.search, "mixed_precision": True})
    asked = []

    class Stop(Exception):
        pass

    def spy(*args, precision, **kwargs):
        asked.append(precision)
        raise Stop

    monkeypatch.setattr(crossval, "cross_validate", spy)
    exports = [(copy, {}), (run, {}), (copy, {"max_epochs": 2}), (copy, {"refit": True})]
    for index, (search, options) in enumerate(exports):
        with pytest.raises(Stop):
            export_run(search, _quiet(out=tmp_path / str(index), cv=2, **options))
    searched = "mixed_float16" if list_gpus() else "mixed_bfloat16"
    assert asked == [searched, "float32", "float32", "float32"]


def test_a_run_whose_search_still_runs_is_refused_unless_allowed(run, tmp_path):
    with RunLock(run):
        RunDir(run).update(status="running")
        try:
            with pytest.raises(ExportError, match="its search is still running \\(2 trials so far"):
                export_run(run, _quiet(out=tmp_path / "early"))
            result = export_run(run, _quiet(out=tmp_path / "early", allow_running=True))
        finally:
            RunDir(run).update(status="finished")
    assert result.summary["run_status"] == "running" and result.summary["trials"]["total"] == 2


@pytest.mark.parametrize(
    ("args", "stopping"),
    [
        ([], (30, 100)),  # what a plain `houses-tune export RUN` ships: the bag trained again
        (["--max-epochs", "200", "--patience", "40"], (40, 200)),
        (["--max-epochs", "0"], None),  # the search's fold models
        (["--refit"], None),
    ],
)
def test_export_trains_the_bag_again_unless_told_not_to(run, monkeypatch, args, stopping):
    from houses_tune.results import export as export_module

    asked = []

    def record(run, options):
        asked.append(options)
        raise ExportError("recorded")  # the training itself is tested above

    monkeypatch.setattr(export_module, "export_run", record)
    result = CliRunner().invoke(cli, ["export", str(run), *args])
    assert result.exit_code == 2 and "recorded" in result.output
    assert asked[0].stopping() == stopping


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--trial", "9999"], "no trial '9999'"),
        (["--cv", "1"], "'--cv': 1 is not in the range x>=2"),
        (["--cv", "1000"], "--cv must be between 2 and 40"),
        (["--baseline-seeds", "0"], "'--baseline-seeds': 0 is not in the range x>=1"),
        (["--ensemble", "0"], "'--ensemble': 0 is not in the range x>=1"),
        (["--max-epochs", "0", "--patience", "5"], "not with --refit or --max-epochs 0"),
        (["--refit", "--patience", "5"], "not with --refit or --max-epochs 0"),
        (["--max-epochs", "-1"], "'--max-epochs': -1 is not in the range x>=0"),
        (["--refit", "--max-epochs", "50"], "--refit and --max-epochs ship different models"),
        (["--candidates", "0"], "'--candidates': 0 is not in the range x>=1"),
        (["--candidates", "2", "--max-epochs", "0"], "not with --refit or --max-epochs 0"),
        (["--candidates", "2", "--refit"], "not with --refit or --max-epochs 0"),
        (["--candidates", "2", "--trial", "1"], "--candidates chooses among the best trials"),
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
    from houses_tune.results import bag

    monkeypatch.setattr(bag, "load_members", lambda *a, **k: pytest.fail("loaded"))
    (tmp_path / "taken").write_text("a file, not a folder")
    with pytest.raises(ExportError, match="taken: exists and is not a folder"):
        export_run(run, _quiet(out=tmp_path / "taken"))


def test_a_trial_can_be_named_without_its_leading_zeros():
    from houses_tune.results.choose import choose_trials
    from houses_tune.run import FoldRecord, TrialRecord

    trials = [
        TrialRecord(f"{i:04d}", "completed", 30.0 + i, 1, 1, 0.0, (FoldRecord(1, 30.0 + i, 1, 1),))
        for i in (7, 12)
    ]
    assert choose_trials(trials, "7")[0].trial_id == "0007"
    assert choose_trials(trials, "0012")[0].trial_id == "0012"
    with pytest.raises(ExportError, match="no trial '70'"):
        choose_trials(trials, "70")


def test_an_ensemble_takes_each_configuration_once():
    from houses_tune.results.choose import choose_trials
    from houses_tune.run import FoldRecord, TrialRecord

    def trial(number, score, units):
        folds = (FoldRecord(1, score, 1, 1),)
        values = {"modality": "attributes", "head/units": units}
        return TrialRecord(f"{number:04d}", "completed", score, 1, 1, 0.0, folds, values)

    # 0030 is 0023 promoted by Hyperband: the same configuration, the same score.
    trials = [trial(23, 22.5, 16), trial(30, 22.5, 16), trial(20, 25.1, 8), trial(21, 25.8, 4)]
    assert [t.trial_id for t in choose_trials(trials, ensemble=3)] == ["0023", "0020", "0021"]


def test_a_model_predicting_non_finite_prices_fails_before_the_baselines(run, tmp_path,
                                                                        monkeypatch):  # fmt: skip
    from houses_tune.results import baselines, export

    class Diverged:
        inputs = []

        def predict(self, inputs, verbose=0, batch_size=None):
            return np.full((10, 1), np.nan)

    monkeypatch.setattr(serving, "build_serving_model", lambda *args, **kwargs: Diverged())
    monkeypatch.setattr(export, "_test_inputs", lambda *args: {})
    monkeypatch.setattr(baselines, "simple_prices", lambda *a, **k: pytest.fail("baselines ran"))
    with pytest.raises(ExportError, match="non-finite prices"):
        export_run(run, _quiet(out=tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_tutorial_baselines_are_scored_by_their_median_over_seeds(run, tmp_path, monkeypatch):
    from houses_tune.results import baselines

    rd = RunDir(run)
    actual = rd.load_dataset().frame["price"].to_numpy()[rd.splits.test]
    # Relative error of each (preset, seed) run: MAPE = 100 * |error| exactly.
    errors = {
        "tutorial-mlp": [0.0, 1000.0, 2000.0],  # seed 5 alone: unbeatable; median: 100000%
        "tutorial-cnn": [np.nan, 0.0, 0.0],  # diverged first run; median 0%
        "tutorial-mixed": [0.3, -0.1, 0.2],  # median 20% (seed 7)
    }
    calls = []

    def fake_tutorial(houses, job, epochs, listener=None):
        calls.append((job.preset, job.seed))
        return actual * (1 + errors[job.preset][job.seed - 5])

    monkeypatch.setattr(baselines, "tutorial_prices", fake_tutorial)
    monkeypatch.setenv("HOUSES_TUNE_CACHE", str(tmp_path / "fresh-cache"))  # train them all
    options = ExportOptions(out=tmp_path / "out", seed=5, baseline_epochs=1, baseline_workers=1,
                            saved_model=False, max_epochs=0)  # fmt: skip
    result = export_run(run, options)
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
        assert got["seed_scores"] == pytest.approx(seed_mape)
        assert got["test_score"] == pytest.approx(median)
        assert got["beaten"] == (ours < median)
        cell = f"{median:.2f}% (median of 3 seeds; {min(seed_mape):.2f}–{max(seed_mape):.2f}%)"
        assert f"| {label} | {cell} |" in markdown
        assert f"<td>{label}</td><td>{cell}</td>" in page
    assert metrics["baselines"][mlp]["beaten"]  # though seed 5 alone was perfect
    assert not metrics["baselines"][cnn]["beaten"]  # though seed 5 diverged
    assert "seeds" not in metrics["baselines"][RIDGE]
    for text in (markdown, page):
        assert "3 times, with seeds 5, 6, 7" in text
