"""RunDir reads a run folder back: settings, splits, trials best first, lock state."""

import json
import os
import signal
import subprocess
import sys
import time

import keras_tuner
import pytest

from houses_tune.errors import RunError, SearchError
from houses_tune.results.run_dir import (
    RunDir,
    RunLock,
    TrialRecord,
    active_values,
    write_json_atomic,
)


def _hp_config():
    hp = keras_tuner.HyperParameters()
    hp.Choice("modality", ["attributes", "photos"])
    with hp.conditional_scope("modality", ["photos"]):
        hp.Choice("photos/input", ["montage", "branched"])
        with hp.conditional_scope("photos/input", ["montage"]):
            hp.Int("montage/units", 8, 32)
    hp.Float("learning_rate", 1e-4, 1e-2)
    return hp


def _write_trial(run, trial_id, status, score=None, values=None, history=None, message=None):
    hp = _hp_config()
    hp.values.update(values or {})
    folder = run / "tuner" / f"trial_{trial_id}"
    folder.mkdir(parents=True)
    state = {
        "trial_id": trial_id, "hyperparameters": hp.get_config(), "metrics": {"metrics": {}},
        "score": score, "best_step": 0 if score is not None else None, "status": status,
        "message": message,
    }  # fmt: skip
    (folder / "trial.json").write_text(json.dumps(state))
    if history is not None:
        (folder / "history.json").write_text(json.dumps(history))


@pytest.fixture
def run(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    write_json_atomic(folder / "run.json", {
        "name": "run", "status": "finished", "search": {"space": "mlp", "seed": 0},
        "dataset": {"folder": None, "embedded": True, "min_zip_count": 25},
        "splits": {"train": [0, 1, 2], "val": [3], "test": [4]},
    })  # fmt: skip
    photos = {"modality": "photos", "photos/input": "montage", "montage/units": 16,
              "learning_rate": 0.001}  # fmt: skip
    _write_trial(folder, "0000", "COMPLETED", 30.0, {"modality": "attributes",
                 "learning_rate": 0.01, "tuner/epochs": 2, "tuner/initial_epoch": 0},
                 history={"initial_epoch": 0, "epochs_trained": 2, "best_epoch": 1})  # fmt: skip
    _write_trial(folder, "0001", "COMPLETED", 20.0, {**photos, "tuner/epochs": 6,
                 "tuner/initial_epoch": 2, "tuner/trial_id": "0000"})  # fmt: skip
    _write_trial(folder, "0002", "FAILED", None, photos, message="Traceback...\nValueError: boom")
    _write_trial(folder, "0003", "RUNNING", None, photos)
    return folder


def test_trials_best_first_with_active_hyperparameters(run):
    records = RunDir(run).trials()
    assert [r.trial_id for r in records] == ["0001", "0000", "0002", "0003"]
    best, second, failed, killed = records
    assert best == RunDir(run).best_trial()
    assert (best.status, best.score, best.epochs, best.best_epoch) == ("completed", 20.0, 6, 3)
    assert best.hyperparameters == {"modality": "photos", "photos/input": "montage",
                                    "montage/units": 16, "learning_rate": 0.001}  # fmt: skip
    assert (second.epochs, second.best_epoch) == (2, 1)  # from history.json
    assert second.hyperparameters == {"modality": "attributes", "learning_rate": 0.01}
    assert (failed.status, failed.score, failed.message) == ("failed", None, "ValueError: boom")
    assert killed.status == "interrupted"  # RUNNING, but no search holds the lock
    hp = keras_tuner.HyperParameters.from_config(best.hp_config)
    assert hp.values["montage/units"] == 16
    assert json.loads(json.dumps(best.to_dict()))["trial_id"] == "0001"


def test_active_values_agree_with_keras_tuner():
    for values in ({"modality": "attributes"}, {"modality": "photos", "photos/input": "branched"},
                   {"modality": "photos", "photos/input": "montage"}):  # fmt: skip
        hp = _hp_config()
        hp.values.update({**values, "montage/units": 9})  # a stale value where inactive
        expected = {
            p.name: hp.values[p.name] for p in hp.space
            if hp.is_active(p) and p.name in hp.values
        }  # fmt: skip
        assert active_values(hp.get_config()) == expected
        assert ("montage/units" in expected) == (values.get("photos/input") == "montage")


def test_settings_splits_status(run):
    run_dir = RunDir(run)
    assert run_dir.name == "run" and run_dir.status == "finished"
    assert run_dir.settings["search"]["space"] == "mlp"
    assert run_dir.splits.test.tolist() == [4]
    assert run_dir.space().name == "mlp"
    run_dir.update(status="running")
    assert json.loads((run / "run.json").read_text())["status"] == "running"
    assert RunDir(run).status == "interrupted"  # running, lock free: its search died
    with RunLock(run):
        assert RunDir(run).status == "running"
        assert RunDir(run).trials()[-1].status == "running"


def test_not_a_run(tmp_path):
    with pytest.raises(RunError, match="no such run folder"):
        RunDir(tmp_path / "missing")
    with pytest.raises(RunError, match="not a houses-tune run"):
        RunDir(tmp_path)
    (tmp_path / "run.json").write_text("{oops")
    with pytest.raises(RunError, match="unreadable"):
        RunDir(tmp_path)


def test_best_trial_needs_a_completed_trial(tmp_path):
    write_json_atomic(tmp_path / "run.json", {"search": {}})
    with pytest.raises(RunError, match="no completed trial"):
        RunDir(tmp_path).best_trial()


def test_write_json_atomic_replaces_whole_file(tmp_path):
    path = tmp_path / "x.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"b": [1, 2]})
    assert json.loads(path.read_text()) == {"b": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temp file left
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)


def test_lock_is_exclusive_and_released_on_kill_9(tmp_path):
    lock = RunLock(tmp_path).acquire()
    with pytest.raises(SearchError, match=f"in use by another search \\(pid {os.getpid()}\\)"):
        RunLock(tmp_path).acquire()
    lock.release()
    assert not RunLock.is_held(tmp_path)

    code = (
        "import sys, time; from houses_tune.results.run_dir import RunLock; "
        f"lock = RunLock({str(tmp_path)!r}).acquire(); print('locked', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    assert RunLock.is_held(tmp_path)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    deadline = time.monotonic() + 5
    while RunLock.is_held(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.01)
    with RunLock(tmp_path):
        pass


def test_trial_record_defaults():
    record = TrialRecord("7", "failed", None, None, None)
    assert record.to_dict()["hyperparameters"] == {}
