"""End-to-end searches on a tiny dataset, every trial on 3 folds: run folder, TensorBoard,
faults, interrupt, resume."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from houses_tune.errors import DatasetError, SearchError
from houses_tune.run import RunDir, RunLock


def _events(folder: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    return accumulator


def _hparams(accumulator: EventAccumulator) -> dict:
    return {
        tag: plugin_data_pb2.HParamsPluginData.FromString(content)
        for tag, content in accumulator.PluginTagToContent("hparams").items()
    }


def _scores(run: RunDir) -> dict:
    return {r.trial_id: r.score for r in run.trials() if r.status == "completed"}


def _history(run: RunDir, trial_id: str) -> dict:
    return json.loads((run.tuner_dir / f"trial_{trial_id}" / "history.json").read_text())


def test_search_end_to_end(search, search_settings, tiny_dataset, capsys):
    outcome = search(search_settings("24"))  # 8 epochs per fold: 4 trials of 2 epochs

    assert outcome.status == "finished"
    assert outcome.plan.total_epochs == 24 and outcome.plan.trials == 4
    assert (outcome.trials, outcome.completed, outcome.epochs) == (4, 4, 24)
    assert capsys.readouterr().out == ""  # progress, plan and Keras output go to stderr

    run = RunDir(outcome.run_dir)
    info = run.settings
    assert info["status"] == "finished" and run.status == "finished"
    assert info["search"]["space"].endswith("tiny.yaml") and (run.path / "space.yaml").is_file()
    assert run.space().name == "tiny"  # named after the user's file, not the run's copy
    assert info["search"]["folds"] == 3 and info["plan"]["folds"] == 3
    assert info["dataset"]["fingerprint"] == run.load_dataset().fingerprint
    assert info["dataset"]["folder"] == str(tiny_dataset.resolve())
    assert {"python", "keras", "keras-tuner", "numpy", "houses-tune"} <= set(info["versions"])
    assert info["backend"] == "jax"
    assert info["timing"]["elapsed_s"] > 0 and info["timing"]["finished"]
    splits = run.splits
    assert splits.to_dict() == info["splits"] and len(splits.folds) == 3
    assert len(splits.test) == 10 and not set(splits.test) & set(splits.search)

    records = run.trials()
    scores = [r.score for r in records]
    assert scores == sorted(scores) and all(math.isfinite(s) for s in scores)
    assert outcome.best_score == scores[0] and outcome.best_trial == records[0].trial_id
    for record in records:
        assert record.status == "completed" and record.epochs == 2 and record.complete
        assert [f.fold for f in record.folds] == [1, 2, 3]
        # The objective is the mean over folds of each fold model's best validation MAPE.
        history = _history(run, record.trial_id)
        fold_bests = [min(f["history"]["val_price_mape"]) for f in history["folds"]]
        assert [f.score for f in record.folds] == pytest.approx(fold_bests)
        assert record.score == pytest.approx(np.mean(fold_bests))
        assert record.score_std == pytest.approx(np.std(fold_bests))
        assert history["epochs_trained"] == 6  # 3 fold models x 2 epochs
        for fold in record.folds:
            assert 1 <= fold.best_epoch <= 2 and fold.epoch == 2
            assert (
                run.tuner_dir / f"trial_{record.trial_id}/fold_{fold.fold}.weights.h5"
            ).is_file()
        assert record.hyperparameters["modality"] == "attributes"
        assert not any(name.startswith(("tuner/", "photos/", "montage/"))
                       for name in record.hyperparameters)  # fmt: skip

    # TensorBoard: per-fold scalars, HParams sessions with the mean, the experiment, series.
    logdir = run.tensorboard_dir
    for record in records:
        for fold in (1, 2, 3):
            for part in ("train", "validation"):
                scalars = _events(logdir / record.trial_id / f"fold_{fold}" / part)
                assert {"epoch_loss", "epoch_price_mape"} <= set(scalars.Tags()["scalars"])
                assert [e.step for e in scalars.Scalars("epoch_price_mape")] == [1, 2]
            val = _events(logdir / record.trial_id / f"fold_{fold}" / "validation")
            assert min(e.value for e in val.Scalars("epoch_price_mape")) == pytest.approx(
                record.folds[fold - 1].score, rel=1e-5
            )
        session = _events(logdir / record.trial_id)
        assert session.Scalars("val_price_mape")[-1].value == pytest.approx(record.score, rel=1e-5)
        assert session.Scalars("val_price_mape_std")[-1].value == pytest.approx(
            record.score_std, rel=1e-4, abs=1e-6
        )
        plugin = _hparams(session)
        start = plugin["_hparams_/session_start_info"].session_start_info.hparams
        assert start["learning_rate"].number_value == pytest.approx(
            record.hyperparameters["learning_rate"]
        )
        assert start["modality"].string_value == "attributes"
        assert plugin["_hparams_/session_end_info"].session_end_info.status == 1  # SUCCESS
    root = _events(logdir)
    experiment = _hparams(root)["_hparams_/experiment"].experiment
    names = {info.name for info in experiment.hparam_infos}
    assert {"learning_rate", "head/units", "modality", "tuner/epochs"} <= names
    assert {"val_price_mape", "val_price_mape_std"} <= {m.name.tag for m in experiment.metric_infos}
    best = root.Scalars("search/best_val_price_mape")
    assert [e.step for e in best] == [1, 2, 3, 4]
    assert best[-1].value == pytest.approx(scores[0], rel=1e-5)
    assert all(a.value >= b.value for a, b in zip(best, best[1:], strict=False))


def test_a_promoted_trial_resumes_every_fold_from_its_own_checkpoint(search, search_settings,
                                                                    monkeypatch):  # fmt: skip
    from houses_tune.training import folds as fold_training

    loaded, load = [], fold_training.load_checkpoint

    def recording_load(model, path):
        loaded.append(Path(path))
        load(model, path)

    monkeypatch.setattr(fold_training, "load_checkpoint", recording_load)
    # Bracket 1: two trials of 1 epoch, the better one promoted to 2; then bracket 0.
    outcome = search(search_settings("21", factor=2, max_epochs=2))
    run = RunDir(outcome.run_dir)
    promoted = [r for r in run.trials() if "tuner/trial_id" in r.hp_config["values"]]
    assert len(promoted) == 1
    parent = promoted[0].hp_config["values"]["tuner/trial_id"]
    assert loaded == [run.tuner_dir / f"trial_{parent}" / f"fold_{k}.weights.h5" for k in (1, 2, 3)]
    history = _history(run, promoted[0].trial_id)
    assert history["initial_epoch"] == 1 and history["epochs"] == 2
    assert [f["trained"] for f in history["folds"]] == [1, 1, 1]  # epoch 1 -> 2 of each fold


def test_early_stopping_trains_less_than_planned_and_the_budget_counts_it(
    search, search_settings, monkeypatch
):
    from houses_tune.training.folds import Reusable

    start = Reusable.start

    def frozen_start(self, *args, **kwargs):
        model = start(self, *args, **kwargs)
        model.optimizer.learning_rate.assign(0.0)  # the validation MAPE never improves
        return model

    monkeypatch.setattr(Reusable, "start", frozen_start)
    outcome = search(search_settings("60", tuner="random", max_epochs=10, patience=1))
    run = RunDir(outcome.run_dir)
    # Epoch 1 sets the best score, epoch 2 does not beat it: each fold model stops there.
    for record in run.trials():
        assert [(f.epoch, f.best_epoch, f.stopped_early) for f in record.folds] == [
            (2, 1, True)
        ] * 3
    trained = sum(_history(run, r.trial_id)["epochs_trained"] for r in run.trials())
    assert outcome.epochs == trained == 12 < outcome.plan.total_epochs == 60


def test_a_search_that_ends_short_of_its_plan_says_why(search, search_settings, tiny_space):
    # One configuration: KerasTuner's oracle stops after one trial, whatever the plan.
    pinned = tiny_space.read_text().replace("[0, 4]", "4")
    tiny_space.write_text(pinned.replace("{min: 0.001, max: 0.01}", "0.01"))
    outcome = search(search_settings("24"))

    assert outcome.status == "finished" and outcome.plan.trials > 1 and outcome.trials == 1
    assert outcome.message == (
        f"KerasTuner stopped after 1 of {outcome.plan.trials} planned trials "
        "(no new configuration left in the space)"
    )
    assert RunDir(outcome.run_dir).settings["message"] == outcome.message


def test_a_search_warns_about_implausible_values_and_uses_them(
    search, search_settings, tiny_dataset, capsys
):
    info = tiny_dataset / "HousesInfo.txt"
    lines = info.read_text().splitlines()
    lines[4] = "3 2 1500 11111 1000000000000"
    info.write_text("\n".join(lines) + "\n")
    outcome = search(search_settings("3", tuner="random", max_epochs=1))
    assert outcome.status == "finished" and outcome.completed == 1
    err = capsys.readouterr().err
    assert f"warning: {info} line 5: price 1e+12 is far from the other houses' (median " in err


def test_a_nan_trial_fails_and_the_search_goes_on(search, search_settings, monkeypatch):
    from houses_tune.training.folds import Reusable

    start = Reusable.start
    calls = []

    def diverging_start(self, *args, **kwargs):
        model = start(self, *args, **kwargs)
        calls.append(1)
        if len(calls) == 4:  # the second trial's first fold model blows up
            for weight in model.trainable_weights:
                weight.assign(np.full(weight.shape, np.nan, dtype="float32"))
        return model

    monkeypatch.setattr(Reusable, "start", diverging_start)
    outcome = search(search_settings("9", tuner="random", max_epochs=1))

    assert outcome.status == "finished"
    records = {r.trial_id: r for r in RunDir(outcome.run_dir).trials()}
    assert [r.status for _, r in sorted(records.items())] == ["completed", "failed", "completed"]
    failed = records["1"]
    assert "loss became nan at epoch 1" in failed.message
    assert failed.score is None and failed.best_epoch is None
    end = _hparams(_events(RunDir(outcome.run_dir).tensorboard_dir / "1"))
    assert end["_hparams_/session_end_info"].session_end_info.status == 2  # FAILURE


def test_too_many_failures_in_a_row_stop_the_search(search, search_settings, monkeypatch):
    from houses_tune.search_spaces import HousesHyperModel
    from houses_tune.tuner.monitor import SearchMonitor

    build, trial_begin = HousesHyperModel.build, SearchMonitor.trial_begin
    in_trial = []

    def broken_build(self, hp, *args, **kwargs):
        if in_trial:  # the tuner builds the default model once to learn the space
            raise ValueError("this configuration cannot be built")
        return build(self, hp, *args, **kwargs)

    def mark_trial(self, trial):
        in_trial.append(trial.trial_id)
        trial_begin(self, trial)

    monkeypatch.setattr(HousesHyperModel, "build", broken_build)
    monkeypatch.setattr(SearchMonitor, "trial_begin", mark_trial)
    with pytest.raises(SearchError, match="3 trials failed in a row.*cannot be built"):
        search(search_settings("30", tuner="random", max_epochs=1))
    run = RunDir(search_settings().results_dir / "run")
    assert run.settings["status"] == "failed"
    assert "3 trials failed in a row" in run.settings["message"]
    assert [r.status for r in run.trials()] == ["failed"] * 3
    assert not RunLock.is_held(run.path)


def test_the_oracle_raises_too_many_failed_trials_where_it_counts_them(tmp_path):
    """The single-process search and the distributed chief both stop through this."""
    import keras_tuner

    from houses_tune.errors import TooManyFailedTrials
    from houses_tune.tuner.build import _RandomSearchOracle

    hp = keras_tuner.HyperParameters()
    hp.Int("units", 1, 1000)
    oracle = _RandomSearchOracle(objective=keras_tuner.Objective("score", "min"),
                                 max_trials=10, hyperparameters=hp, seed=1)  # fmt: skip
    oracle._set_project_dir(str(tmp_path), "p")
    oracle.failure_limit = 2

    def run_trial(status: str, message: str | None = None):
        trial = oracle.create_trial("tuner0")
        if status == "COMPLETED":
            oracle.update_trial(trial.trial_id, {"score": 1.0})
        trial.status, trial.message = status, message
        oracle.end_trial(trial)
        return trial

    run_trial("FAILED", "ValueError: a")
    run_trial("COMPLETED")
    run_trial("FAILED", "ValueError: b")
    with pytest.raises(TooManyFailedTrials, match=r"^search stopped: 2 trials failed in a row "
                       r"\(last: ValueError: c\)$"):  # fmt: skip
        run_trial("FAILED", "Traceback (most recent call last):\n  ...\nValueError: c")
    last = oracle.start_order[-1]
    saved = json.loads((tmp_path / "p" / f"trial_{last}" / "trial.json").read_text())
    assert saved["status"] == "FAILED"  # saved before the search stops


def test_ctrl_c_stops_cleanly_and_resume_keeps_finished_trials(search, search_settings,
                                                               monkeypatch):  # fmt: skip
    from houses_tune.tuner.monitor import SearchMonitor

    trial_end = SearchMonitor.trial_end

    def ctrl_c_after_two_trials(self, trial):
        trial_end(self, trial)
        if len(self.trials) == 2:
            signal.raise_signal(signal.SIGINT)  # a real Ctrl-C, handled by the search

    monkeypatch.setattr(SearchMonitor, "trial_end", ctrl_c_after_two_trials)
    outcome = search(search_settings("24"))
    monkeypatch.undo()

    assert outcome.status == "interrupted"
    assert outcome.resume_command.startswith("houses-tune search --resume --run run")
    run = RunDir(outcome.run_dir)
    assert run.settings["status"] == "interrupted"
    before = _scores(run)
    assert len(before) == 2

    resumed = search(search_settings(budget="24", resume=True))
    assert resumed.status == "finished"
    run = RunDir(resumed.run_dir)
    after = _scores(run)
    assert len(after) == 4 and len(run.trials()) == 4
    assert {k: after[k] for k in before} == before  # finished trials kept, not re-run
    sessions = run.settings["timing"]["sessions"]
    assert [s["status"] for s in sessions] == ["interrupted", "finished"]


def test_kill_9_between_the_folds_of_a_trial_loses_no_finished_trial(search, search_settings):
    settings = search_settings("24")  # 4 trials of 2 epochs, 3 folds each
    command = [
        sys.executable, "-m", "houses_tune", "search", "--dataset", str(settings.dataset),
        "--space", settings.space, "--budget", "24", "--folds", "3", "--min-epochs", "1",
        "--run", "run",
        "--results-dir", str(settings.results_dir), "--min-zip-count", "10",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    # Trial 0001's first fold model is saved: its later folds have not been trained yet.
    checkpoint = settings.results_dir / "run" / "tuner" / "trial_0001" / "fold_1.weights.h5"
    deadline = time.monotonic() + 180
    try:
        while not checkpoint.exists():
            assert process.poll() is None, "the search ended before it could be killed"
            assert time.monotonic() < deadline, "the search made no progress"
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    run = RunDir(settings.results_dir / "run")
    assert run.status == "interrupted"  # run.json says running, but nobody holds the lock
    before = _scores(run)
    assert "0000" in before and "0001" not in before
    interrupted = next(r for r in run.trials() if r.trial_id == "0001")
    assert interrupted.status == "interrupted"

    resumed = search(search_settings(budget="24", resume=True))
    assert resumed.status == "finished"
    run = RunDir(resumed.run_dir)
    after = _scores(run)
    assert len(after) == 4 and all(r.status == "completed" and r.complete for r in run.trials())
    assert {k: after[k] for k in before} == before
    assert [f["fold"] for f in _history(run, "0001")["folds"]] == [1, 2, 3]  # re-run whole


def test_duration_budget_stops_cleanly(search, search_settings):
    outcome = search(search_settings("2s", max_epochs=2))
    assert outcome.status == "finished" and "time budget 2s reached" in outcome.message
    run = RunDir(outcome.run_dir)
    records = run.trials()
    assert records and all(r.status == "completed" for r in records)
    # Stopped at the first epoch end past the deadline: the folds not started are skipped.
    last = _history(run, max(r.trial_id for r in records))
    assert last["stopped_by_time_budget"] or len(last["folds"]) == 3
    assert outcome.elapsed < 30


@pytest.mark.parametrize("tuner", ["random", "bayesian"])
def test_random_and_bayesian_tuners(search, search_settings, tuner):
    outcome = search(search_settings("6", tuner=tuner, max_epochs=1))
    assert outcome.status == "finished"
    assert outcome.plan.max_trials == 2 and (outcome.trials, outcome.epochs) == (2, 6)


def test_one_fold_is_a_single_validation_split(search, search_settings):
    outcome = search(search_settings("4", folds=1, tuner="random", max_epochs=2))
    run = RunDir(outcome.run_dir)
    assert len(run.splits.folds) == 1 and len(run.splits.folds[0]) == 6  # 20% of 30
    assert all(len(r.folds) == 1 and r.score_std == 0 for r in run.trials())


def test_existing_run_needs_resume_or_overwrite(search, search_settings):
    folder = search_settings().results_dir / "run"
    folder.mkdir(parents=True)
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(SearchError, match="--resume .* or --overwrite"):
        search(search_settings())
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]


def test_overwrite_deletes_only_a_run(search, search_settings):
    folder = search_settings().results_dir / "run"
    folder.mkdir(parents=True)
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(SearchError, match="not a houses-tune run .*--overwrite deletes only runs"):
        search(search_settings(overwrite=True))
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]


def test_a_run_in_use_is_refused(search, search_settings):
    folder = search_settings().results_dir / "run"
    folder.mkdir(parents=True)
    with RunLock(folder), pytest.raises(SearchError, match="in use by another search"):
        search(search_settings(overwrite=True))


def test_dry_run_writes_nothing(search, search_settings):
    outcome = search(search_settings("600", dry_run=True))
    assert outcome.status == "planned" and outcome.plan.total_epochs == 588  # 196 x 3 folds
    assert not search_settings().results_dir.exists()


def test_resume_refuses_changed_settings(search, search_settings):
    search(search_settings("6", tuner="random", max_epochs=1))
    for name, value in (("seed", 5), ("folds", 5), ("patience", 3)):
        changed = search_settings("6", resume=True, explicit=frozenset({name}), **{name: value})
        with pytest.raises(SearchError, match=f"--{name} {value} differs"):
            search(changed)
    with pytest.raises(SearchError, match="only a duration budget"):
        search(search_settings("12", resume=True, explicit=frozenset({"budget"})))


def test_resume_keeps_the_runs_precision_and_backend(search, search_settings):
    from houses_tune.tuner.job import prepare_search

    search(search_settings("6", tuner="random", max_epochs=1, mixed_precision=True))
    resumed = prepare_search(search_settings("6", resume=True))  # no --mixed-precision now
    assert resumed.settings.mixed_precision is True and resumed.settings.backend == "jax"
    assert resumed.settings.folds == 3


def test_val_seed_moves_the_folds_and_splits_file_reuses_another_runs(search, search_settings):
    first = RunDir(search(search_settings("3", run="first")).run_dir)
    reseeded = RunDir(search(search_settings("3", run="reseeded", val_seed=1)).run_dir)
    reused = RunDir(
        search(
            search_settings("3", run="reused", val_seed=1, splits_file=first.path / "splits.json")
        ).run_dir
    )

    assert np.array_equal(reseeded.splits.test, first.splits.test)  # the tutorials' test split
    assert [set(f) for f in reseeded.splits.folds] != [set(f) for f in first.splits.folds]
    assert reused.splits == first.splits and reused.settings["splits"] == first.settings["splits"]


def test_a_splits_file_for_another_dataset_is_refused_before_anything_is_written(
    search, search_settings, tmp_path
):
    splits_file = tmp_path / "big.json"
    splits_file.write_text(json.dumps({"test": [0, 1, 500]}))

    with pytest.raises(DatasetError, match=r"big\.json: row 500 is out of range"):
        search(search_settings("3", splits_file=splits_file))
    assert not (tmp_path / "results" / "run").exists()
