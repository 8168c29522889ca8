"""The run folder: RunDir reads it back (settings, splits, trials best first with their folds,
lock state) and writes run.json; atomic writes; run names."""

import json
import os
import signal
import subprocess
import sys
import time

import keras_tuner
import pytest

from houses_tune.errors import RunError, SearchError
from houses_tune.run import (
    RunDir,
    RunLock,
    TrialRecord,
    active_values,
    atomic_path,
    check_run_name,
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


def _history(*folds):
    """history.json of a trial: (score, best epoch, epoch reached, stopped early) per fold."""
    scores = [f[0] for f in folds]
    return {
        "score": sum(scores) / len(scores),
        "score_std": abs(scores[0] - scores[-1]) / 2,
        "folds": [{"fold": k, "score": s, "best_epoch": b, "epoch": e, "stopped_early": x}
                  for k, (s, b, e, x) in enumerate(folds, 1)],
    }  # fmt: skip


@pytest.fixture
def run(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    write_json_atomic(folder / "run.json", {
        "name": "run", "status": "finished", "search": {"space": "mlp", "seed": 0},
        "dataset": {"folder": None, "embedded": True, "min_zip_count": 25},
    })  # fmt: skip
    write_json_atomic(folder / "splits.json", {"search": [0, 1, 2, 3], "test": [4],
                                               "folds": [[0, 1], [2, 3]]})  # fmt: skip
    photos = {"modality": "photos", "photos/input": "montage", "montage/units": 16,
              "learning_rate": 0.001}  # fmt: skip
    _write_trial(folder, "0000", "COMPLETED", 30.0, {"modality": "attributes",
                 "learning_rate": 0.01, "tuner/epochs": 2, "tuner/initial_epoch": 0},
                 history=_history((28.0, 1, 2, False), (32.0, 2, 2, False)))  # fmt: skip
    _write_trial(folder, "0001", "COMPLETED", 20.0, {**photos, "tuner/epochs": 6,
                 "tuner/initial_epoch": 2, "tuner/trial_id": "0000"},
                 history=_history((21.0, 3, 6, False), (19.0, 4, 5, True)))  # fmt: skip
    _write_trial(folder, "0002", "FAILED", None, photos, message="Traceback...\nValueError: boom")
    _write_trial(folder, "0003", "RUNNING", None, photos)
    return folder


def test_trials_best_first_with_active_hyperparameters(run):
    records = RunDir(run).trials()
    assert [r.trial_id for r in records] == ["0001", "0000", "0002", "0003"]
    best, second, failed, killed = records
    # Epochs: the most any fold model reached; best epoch: the folds' mean (for a refit).
    assert (best.status, best.score, best.epochs, best.best_epoch) == ("completed", 20.0, 6, 4)
    assert [(f.score, f.best_epoch, f.stopped_early) for f in best.folds] == [
        (21.0, 3, False), (19.0, 4, True)
    ]  # fmt: skip
    assert best.complete and best.folds_scored == 2 and best.score_std == 1.0
    assert best.hyperparameters == {"modality": "photos", "photos/input": "montage",
                                    "montage/units": 16, "learning_rate": 0.001}  # fmt: skip
    assert (second.epochs, second.best_epoch) == (2, 2)  # from history.json (mean of 1, 2)
    assert second.hyperparameters == {"modality": "attributes", "learning_rate": 0.01}
    assert (failed.status, failed.score, failed.message) == ("failed", None, "ValueError: boom")
    assert not failed.complete
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
    assert run_dir.settings["search"]["space"] == "mlp" and run_dir.folds == 1
    assert run_dir.splits.test.tolist() == [4] and len(run_dir.splits.folds) == 2
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


def test_create_and_sessions_write_run_json(tmp_path):
    with RunLock(tmp_path):
        run = RunDir.create(tmp_path, {"name": "x", "search": {"folds": 3}},
                            {"search": [], "test": []})  # fmt: skip
        assert (run.status, run.folds) == ("running", 3)
    assert json.loads((tmp_path / "splits.json").read_text()) == {"search": [], "test": []}
    run.finish_session("interrupted", "interrupted by Ctrl-C", 2.5)
    run.start_session(plan={"trials": 4})
    run.finish_session("finished", None, 1.0)
    info = json.loads((tmp_path / "run.json").read_text())
    assert [s["status"] for s in info["timing"]["sessions"]] == ["interrupted", "finished"]
    assert info["timing"]["elapsed_s"] == 3.5 and info["plan"] == {"trials": 4}
    assert info["status"] == "finished" and RunDir(tmp_path).elapsed == 3.5


@pytest.mark.parametrize("name", ["a/b", "/abs/path", "..", ".", ".hidden", "", "a\\b"])
def test_a_run_name_is_one_plain_folder_name(name):
    with pytest.raises(SearchError, match="a run name is a plain folder name"):
        check_run_name(name)
    assert check_run_name("20250301-142200") == "20250301-142200"


def test_write_json_atomic_replaces_whole_file(tmp_path):
    path = tmp_path / "x.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"b": [1, 2]})
    assert json.loads(path.read_text()) == {"b": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]  # no temp file left
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "w.weights.h5") as tmp:
        assert tmp.name.endswith(".weights.h5") and tmp.parent == tmp_path  # as Keras wants
        tmp.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_lock_is_exclusive_and_released_on_kill_9(tmp_path):
    lock = RunLock(tmp_path).acquire()
    with pytest.raises(SearchError, match=f"in use by another search \\(pid {os.getpid()}\\)"):
        RunLock(tmp_path).acquire()
    lock.release()
    assert not RunLock.is_held(tmp_path)

    code = (
        "import sys, time; from houses_tune.run import RunLock; "
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
