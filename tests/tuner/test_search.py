"""End-to-end searches on a tiny dataset: run folder, TensorBoard, faults, interrupt, resume."""

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
from houses_tune.results.run_dir import RunDir, RunLock
from houses_tune.tuner.search import run_search


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


def test_search_end_to_end(search_settings, tiny_dataset, capsys):
    outcome = run_search(search_settings("8"))

    assert outcome.status == "finished"
    assert outcome.plan.total_epochs == 8 and outcome.plan.trials == 4
    assert (outcome.trials, outcome.completed, outcome.epochs) == (4, 4, 8)
    assert capsys.readouterr().out == ""  # progress, plan and Keras output go to stderr

    run = RunDir(outcome.run_dir)
    info = run.settings
    assert info["status"] == "finished" and run.status == "finished"
    assert info["search"]["space"].endswith("tiny.yaml") and (run.path / "space.yaml").is_file()
    assert run.space().name == "tiny"  # named after the user's file, not the run's copy
    assert info["dataset"]["fingerprint"] == run.load_houses().fingerprint
    assert info["dataset"]["folder"] == str(tiny_dataset.resolve())
    assert {"python", "keras", "keras-tuner", "numpy", "houses-tune"} <= set(info["versions"])
    assert info["backend"] in ("tensorflow", "jax", "torch")
    assert info["timing"]["elapsed_s"] > 0 and info["timing"]["finished"]
    assert info["plan"]["total_epochs"] == 8
    splits = run.splits
    assert splits.to_dict() == info["splits"]
    assert len(splits.test) and not set(splits.test) & (set(splits.train) | set(splits.val))

    records = run.trials()
    scores = [r.score for r in records]
    assert scores == sorted(scores) and all(math.isfinite(s) for s in scores)
    assert outcome.best_score == scores[0] and outcome.best_trial == records[0].trial_id
    for record in records:
        assert record.status == "completed" and record.epochs == 2
        assert 1 <= record.best_epoch <= record.epochs
        assert record.hyperparameters["modality"] == "attributes"
        assert not any(name.startswith(("tuner/", "photos/", "montage/")) for name in
                       record.hyperparameters)  # fmt: skip
        history = json.loads((run.tuner_dir / f"trial_{record.trial_id}/history.json").read_text())
        assert min(history["history"]["val_price_mape"]) == pytest.approx(record.score)

    # TensorBoard: per-trial scalars, HParams sessions, the experiment and the run series.
    logdir = run.tensorboard_dir
    for record in records:
        for part in ("train", "validation"):
            scalars = _events(logdir / record.trial_id / part)
            assert {"epoch_loss", "epoch_price_mape"} <= set(scalars.Tags()["scalars"])
            assert [e.step for e in scalars.Scalars("epoch_price_mape")] == [1, 2]
        val = _events(logdir / record.trial_id / "validation").Scalars("epoch_price_mape")
        assert min(e.value for e in val) == pytest.approx(record.score, rel=1e-5)
        session = _events(logdir / record.trial_id)
        assert session.Scalars("val_price_mape")[-1].value == pytest.approx(record.score, rel=1e-5)
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
    assert "val_price_mape" in {m.name.tag for m in experiment.metric_infos}
    best = root.Scalars("search/best_val_price_mape")
    assert [e.step for e in best] == [1, 2, 3, 4]
    assert best[-1].value == pytest.approx(scores[0], rel=1e-5)
    assert all(a.value >= b.value for a, b in zip(best, best[1:], strict=False))


def test_a_search_that_ends_short_of_its_plan_says_why(search_settings, tiny_space):
    # One configuration: KerasTuner's oracle stops after one trial, whatever the plan.
    pinned = tiny_space.read_text().replace("[0, 4]", "4")
    tiny_space.write_text(pinned.replace("{min: 0.001, max: 0.01}", "0.01"))
    outcome = run_search(search_settings("8"))

    assert outcome.status == "finished" and outcome.plan.trials > 1 and outcome.trials == 1
    assert outcome.message == (
        f"KerasTuner stopped after 1 of {outcome.plan.trials} planned trials "
        "(no new configuration left in the space)"
    )
    assert RunDir(outcome.run_dir).settings["message"] == outcome.message


def test_a_nan_trial_fails_and_the_search_goes_on(search_settings, monkeypatch):
    from houses_tune.search_spaces import HousesHyperModel

    fit = HousesHyperModel.fit
    calls = []

    def diverging_fit(self, hp, model, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # the second trial's weights blow up
            for weight in model.trainable_weights:
                weight.assign(np.full(weight.shape, np.nan, dtype="float32"))
        return fit(self, hp, model, *args, **kwargs)

    monkeypatch.setattr(HousesHyperModel, "fit", diverging_fit)
    outcome = run_search(search_settings("3", tuner="random", max_epochs=1))

    assert outcome.status == "finished"
    records = {r.trial_id: r for r in RunDir(outcome.run_dir).trials()}
    assert [r.status for _, r in sorted(records.items())] == ["completed", "failed", "completed"]
    failed = records["1"]
    assert "loss became nan at epoch 1" in failed.message
    assert failed.score is None and failed.best_epoch is None
    end = _hparams(_events(RunDir(outcome.run_dir).tensorboard_dir / "1"))
    assert end["_hparams_/session_end_info"].session_end_info.status == 2  # FAILURE


def test_too_many_failures_in_a_row_stop_the_search(search_settings, monkeypatch):
    from houses_tune.search_spaces import HousesHyperModel
    from houses_tune.tuner.monitor import SearchMonitor

    build, trial_begin = HousesHyperModel.build, SearchMonitor.trial_begin
    in_trial = []

    def broken_build(self, hp):
        if in_trial:  # the tuner builds the default model once to learn the space
            raise ValueError("this configuration cannot be built")
        return build(self, hp)

    def mark_trial(self, trial):
        in_trial.append(trial.trial_id)
        trial_begin(self, trial)

    monkeypatch.setattr(HousesHyperModel, "build", broken_build)
    monkeypatch.setattr(SearchMonitor, "trial_begin", mark_trial)
    with pytest.raises(SearchError, match="3 trials failed in a row.*cannot be built"):
        run_search(search_settings("10", tuner="random", max_epochs=1))
    run = RunDir(search_settings().results_dir / "run")
    assert run.settings["status"] == "failed"
    assert "3 trials failed in a row" in run.settings["message"]
    assert [r.status for r in run.trials()] == ["failed"] * 3
    assert not RunLock.is_held(run.path)


def test_ctrl_c_stops_cleanly_and_resume_keeps_finished_trials(search_settings, monkeypatch):
    from houses_tune.tuner.monitor import SearchMonitor

    trial_end = SearchMonitor.trial_end

    def ctrl_c_after_two_trials(self, trial):
        trial_end(self, trial)
        if len(self.trials) == 2:
            signal.raise_signal(signal.SIGINT)  # a real Ctrl-C, handled by the search

    monkeypatch.setattr(SearchMonitor, "trial_end", ctrl_c_after_two_trials)
    outcome = run_search(search_settings("8"))
    monkeypatch.undo()

    assert outcome.status == "interrupted"
    assert outcome.resume_command.startswith("houses-tune search --resume --run run")
    run = RunDir(outcome.run_dir)
    assert run.settings["status"] == "interrupted"
    before = _scores(run)
    assert len(before) == 2

    resumed = run_search(search_settings(budget="8", resume=True))
    assert resumed.status == "finished"
    run = RunDir(resumed.run_dir)
    after = _scores(run)
    assert len(after) == 4 and len(run.trials()) == 4
    assert {k: after[k] for k in before} == before  # finished trials kept, not re-run
    sessions = run.settings["timing"]["sessions"]
    assert [s["status"] for s in sessions] == ["interrupted", "finished"]


def test_resume_after_kill_9_loses_no_finished_trial(search_settings, tmp_path):
    settings = search_settings("8")  # 4 trials of 2 epochs
    command = [
        sys.executable, "-m", "houses_tune", "search", "--dataset", str(settings.dataset),
        "--space", settings.space, "--budget", "8", "--run", "run",
        "--results-dir", str(settings.results_dir), "--min-zip-count", "10",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    tuner_dir = settings.results_dir / "run" / "tuner"
    deadline = time.monotonic() + 120
    try:
        while not (tuner_dir / "trial_0001" / "history.json").exists():
            assert process.poll() is None, "the search ended before it could be killed"
            assert time.monotonic() < deadline, "the search made no progress"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    run = RunDir(settings.results_dir / "run")
    assert run.status == "interrupted"  # run.json says running, but nobody holds the lock
    before = _scores(run)
    assert len(before) >= 2

    resumed = run_search(search_settings(budget="8", resume=True))
    assert resumed.status == "finished"
    run = RunDir(resumed.run_dir)
    after = _scores(run)
    assert len(after) == 4 and all(r.status == "completed" for r in run.trials())
    assert {k: after[k] for k in before} == before


def test_duration_budget_stops_cleanly(search_settings):
    outcome = run_search(search_settings("2s", max_epochs=2))
    assert outcome.status == "finished" and "time budget 2s reached" in outcome.message
    run = RunDir(outcome.run_dir)
    records = run.trials()
    assert records and all(r.status == "completed" for r in records)
    # Stopped at the first epoch end past the deadline, then no new trial.
    assert outcome.elapsed < 30


@pytest.mark.parametrize("tuner", ["random", "bayesian"])
def test_random_and_bayesian_tuners(search_settings, tuner):
    outcome = run_search(search_settings("2", tuner=tuner, max_epochs=1))
    assert outcome.status == "finished"
    assert outcome.plan.max_trials == 2 and (outcome.trials, outcome.epochs) == (2, 2)


def test_existing_run_needs_resume_or_overwrite(search_settings):
    folder = search_settings().results_dir / "run"
    folder.mkdir(parents=True)
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(SearchError, match="--resume .* or --overwrite"):
        run_search(search_settings("4"))
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]


def test_overwrite_deletes_only_a_run(search_settings):
    folder = search_settings().results_dir / "run"
    folder.mkdir(parents=True)
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(SearchError, match="not a houses-tune run .*--overwrite deletes only runs"):
        run_search(search_settings("4", overwrite=True))
    assert [p.name for p in folder.iterdir()] == ["keep.txt"]


def test_a_run_in_use_is_refused(search_settings):
    folder = search_settings().results_dir / "run"
    folder.mkdir(parents=True)
    with RunLock(folder), pytest.raises(SearchError, match="in use by another search"):
        run_search(search_settings("4", overwrite=True))


def test_dry_run_writes_nothing(search_settings):
    outcome = run_search(search_settings("200", dry_run=True))
    assert outcome.status == "planned" and outcome.plan.total_epochs == 196
    assert not search_settings().results_dir.exists()


def test_resume_refuses_changed_settings(search_settings):
    run_search(search_settings("2", tuner="random", max_epochs=1))
    changed = search_settings("2", resume=True, seed=5, explicit=frozenset({"seed"}))
    with pytest.raises(SearchError, match="--seed 5 differs"):
        run_search(changed)
    with pytest.raises(SearchError, match="only a duration budget"):
        run_search(search_settings("4", resume=True, explicit=frozenset({"budget"})))


def test_resume_keeps_the_runs_precision(search_settings):
    from houses_tune.tuner.search import prepare_search

    run_search(search_settings("2", tuner="random", max_epochs=1, mixed_precision=True))
    resumed = search_settings("4", resume=True)  # no --mixed-precision this time
    assert prepare_search(resumed)[0].mixed_precision is True


def test_val_seed_moves_validation_and_splits_file_reuses_another_runs_split(search_settings):
    first = RunDir(run_search(search_settings("1", run="first")).run_dir)
    reseeded = RunDir(run_search(search_settings("1", run="reseeded", val_seed=1)).run_dir)
    reused = RunDir(
        run_search(
            search_settings("1", run="reused", val_seed=1, splits_file=first.path / "splits.json")
        ).run_dir
    )

    assert np.array_equal(reseeded.splits.test, first.splits.test)  # the tutorials' test split
    assert set(reseeded.splits.val) != set(first.splits.val)
    assert reused.splits == first.splits and reused.settings["splits"] == first.settings["splits"]


def test_a_splits_file_for_another_dataset_is_refused_before_anything_is_written(
    search_settings, tmp_path
):
    splits_file = tmp_path / "big.json"
    splits_file.write_text(json.dumps({"train": [0, 1, 500], "val": [2], "test": [3]}))

    with pytest.raises(DatasetError, match=r"big\.json: train split has row 500"):
        run_search(search_settings("1", splits_file=splits_file))
    assert not (tmp_path / "results" / "run").exists()
