"""Distributed search: KerasTuner's chief/worker protocol, local workers, lost workers.

The end-to-end tests run real processes on 127.0.0.1 with the tiny dataset and space
of ``tests/tuner/conftest.py`` (a Hyperband plan of 6 trials on 2 folds, one promoted).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from houses_tune.errors import SearchError
from houses_tune.tuner.distributed import find_run
from houses_tune.tuner.distributed.environment import (
    check_tuner_id,
    default_tuner_id,
    dial_address,
    free_port,
    parse_address,
)
from houses_tune.tuner.distributed.heartbeat import _Liveness
from houses_tune.tuner.distributed.oracle import lose_worker

# Budget 24 epochs on 2 folds at --max-epochs 3: brackets 1 and 0, 6 trials, 11 epochs per
# fold, 22 in all.
PLANNED_TRIALS = 6
SEARCH = ["--budget", "24", "--folds", "2", "--max-epochs", "3", "--min-epochs", "1",
          "--min-zip-count", "10", "--device", "cpu"]  # fmt: skip
TIMEOUT = 240


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OMP_NUM_THREADS="1",
        TF_NUM_INTRAOP_THREADS="1",
        TF_NUM_INTEROP_THREADS="1",
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    for name in ("KERASTUNER_TUNER_ID", "KERASTUNER_ORACLE_IP", "KERASTUNER_ORACLE_PORT"):
        env.pop(name, None)
    return env


def _houses_tune(*args: str, **kwargs) -> subprocess.Popen:
    command = [sys.executable, "-m", "houses_tune", *args]
    return subprocess.Popen(
        command, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs
    )


def _wait_for(condition, what: str, timeout: float = TIMEOUT, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _check_every_trial_once(run: Path) -> dict:
    """Every planned trial ended exactly once, completed, and is listed by `trials`."""
    oracle = json.loads((run / "tuner" / "oracle.json").read_text())
    assert oracle["ongoing_trials"] == {}
    assert sorted(oracle["end_order"]) == sorted(set(oracle["end_order"]))
    assert len(oracle["end_order"]) == PLANNED_TRIALS
    folders = sorted(p.name for p in (run / "tuner").glob("trial_*"))
    assert folders == [f"trial_{t}" for t in sorted(oracle["end_order"])]
    listing = subprocess.run(
        [sys.executable, "-m", "houses_tune", "trials", str(run), "--json"],
        env=_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    trials = json.loads(listing.stdout)
    assert sorted(t["trial_id"] for t in trials) == sorted(oracle["end_order"])
    assert {t["status"] for t in trials} == {"completed"}
    # Per-trial TensorBoard logs, written by the workers into the shared folder.
    for trial_id in oracle["end_order"]:
        for fold in (1, 2):
            assert list((run / "tensorboard" / trial_id / f"fold_{fold}" / "validation").glob("e*"))
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "finished"
    assert info["devices"]["kind"] == "cpu"
    return info


# --- Unit tests -------------------------------------------------------------------------


def test_parse_address():
    assert parse_address("127.0.0.1:8000") == ("127.0.0.1", 8000)
    assert parse_address("[::1]:9") == ("::1", 9)
    for bad in ("8000", "host:", "host:port", "host:70000", ":80"):
        with pytest.raises(SearchError, match="HOST:PORT"):
            parse_address(bad)
    assert dial_address(("0.0.0.0", 8000)) == "127.0.0.1:8000"
    assert dial_address(("10.0.0.5", 8000)) == "10.0.0.5:8000"


def test_tuner_ids_must_not_say_chief():
    assert check_tuner_id("gpu-box-3") == "gpu-box-3"
    # KerasTuner takes any id containing "chief" for the chief itself.
    for bad in ("mychief", "a b", "", "x" * 65):
        with pytest.raises(SearchError, match="--tuner-id"):
            check_tuner_id(bad)
    assert "chief" not in default_tuner_id()


def test_liveness_uses_the_readers_clock():
    live = _Liveness(stale_after=10)
    assert not live.is_stale("w", 1, now=0)
    assert not live.is_stale("w", 1, now=9)
    assert live.is_stale("w", 1, now=11)
    assert not live.is_stale("w", 2, now=12)  # it beat again
    assert not live.is_stale("w", 2, now=21)
    assert live.is_stale("w", 2, now=23)


def _oracle(tmp_path):
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    hp.Int("units", 1, 1000)
    oracle = keras_tuner.oracles.RandomSearchOracle(
        objective=keras_tuner.Objective("score", "min"), max_trials=10, hyperparameters=hp, seed=0
    )
    oracle._set_project_dir(str(tmp_path), "tuner")
    return oracle


def test_a_lost_trial_is_retried_once_then_failed(tmp_path):
    oracle = _oracle(tmp_path)
    losses = collections.Counter()
    first = oracle.create_trial("tuner0")
    assert (
        lose_worker(oracle, "tuner0", "died", losses)
        == f"trial {first.trial_id} goes back to the queue"
    )
    assert "tuner0" not in oracle.tuner_ids and not oracle.ongoing_trials

    again = oracle.create_trial("tuner1")  # KerasTuner hands out the retry queue first
    assert again.trial_id == first.trial_id
    assert lose_worker(oracle, "tuner1", "died", losses) == f"trial {first.trial_id} marked failed"
    assert oracle.trials[first.trial_id].status == "FAILED"
    assert "died" in oracle.trials[first.trial_id].message
    assert oracle.end_order == [first.trial_id] and not oracle.ongoing_trials

    # A worker that held no trial is only forgotten.
    oracle.create_trial("tuner2")
    oracle.end_trial(oracle.ongoing_trials["tuner2"])
    assert lose_worker(oracle, "tuner2", "left", losses) is None
    assert "tuner2" not in oracle.tuner_ids


def test_find_run_picks_the_running_distributed_run(tmp_path):
    def write(name, status, chief):
        (tmp_path / name).mkdir()
        info = {"search": {}, "status": status, "distributed": {"chief": chief} if chief else None}
        (tmp_path / name / "run.json").write_text(json.dumps(info))

    write("old", "finished", "127.0.0.1:7000")
    write("single", "running", None)
    write("live", "running", "10.0.0.5:7001")
    assert find_run(tmp_path, None) == tmp_path / "live"
    assert find_run(tmp_path, "10.0.0.5:7001") == tmp_path / "live"
    with pytest.raises(SearchError, match="no running distributed search"):
        find_run(tmp_path, "10.0.0.5:7002")


def test_worker_needs_a_distributed_run(tmp_path):
    from click.testing import CliRunner

    from houses_tune.cli import cli

    result = CliRunner().invoke(cli, ["worker", "--results-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no running distributed search" in result.output


# --- End to end -------------------------------------------------------------------------


def test_chief_and_two_workers_finish_and_record_every_trial_once(
    tiny_dataset, tiny_space, tmp_path
):
    """The multi-machine commands, on one machine: a chief that only listens, two workers."""
    results = tmp_path / "results"
    port = free_port()
    chief = _houses_tune(
        "search", "--dataset", str(tiny_dataset), "--space", str(tiny_space), *SEARCH,
        "--results-dir", str(results), "--run", "run", "--workers", "0",
        "--listen", f"127.0.0.1:{port}",
    )  # fmt: skip
    run = results / "run"
    workers = []
    try:
        _wait_for(lambda: (_read_json(run / "run.json") or {}).get("distributed"), "the chief")
        # One worker names the run and the chief, the other finds both in --results-dir.
        workers.append(_houses_tune("worker", "--chief", f"127.0.0.1:{port}", "--run-dir", str(run),
                                    "--tuner-id", "left"))  # fmt: skip
        workers.append(_houses_tune("worker", "--results-dir", str(results)))
        out, err = chief.communicate(timeout=TIMEOUT)
        assert chief.returncode == 0, err
        # The single-process schedule: 6 trials, 11 epochs of each of the 2 fold models.
        assert f"{PLANNED_TRIALS} trials ({PLANNED_TRIALS} completed), 22 epochs" in out
        for worker in workers:
            worker_out, worker_err = worker.communicate(timeout=60)
            assert worker.returncode == 0, worker_err
            assert ": finished" in worker_out
    finally:
        for process in [chief, *workers]:
            if process.poll() is None:
                process.kill()
                process.communicate()

    info = _check_every_trial_once(run)
    assert info["distributed"]["chief"] == f"127.0.0.1:{port}"
    beats = info["distributed"]["workers"]
    assert len(beats) == 2 and {b["state"] for b in beats} == {"finished"}
    assert sum(b["trials"] for b in beats) == PLANNED_TRIALS
    assert "left" in {b["tuner_id"] for b in beats}
    assert info["distributed"]["lost"] == []

    # The chief writes the run-level series, one point per trial in the order they ended.
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    best = events.Scalars("search/best_val_price_mape")
    assert [e.step for e in best] == list(range(1, PLANNED_TRIALS + 1))
    assert all(a.value >= b.value for a, b in zip(best, best[1:], strict=False))

    # What export ships: the best trial's fold models, saved by the workers, load here.
    from houses_tune.data import ModelData
    from houses_tune.results.bag import load_members
    from houses_tune.run import RunDir
    from houses_tune.search_spaces import HousesHyperModel

    rd = RunDir(run)
    hypermodel = HousesHyperModel(rd.space(), ModelData(rd.load_dataset(), rd.splits.search))
    members = load_members(rd, rd.trials()[:1], hypermodel, rd.splits)
    assert [m.fold for m in members] == [1, 2]


def test_a_killed_worker_does_not_stop_the_search(tiny_dataset, tiny_space, tmp_path):
    """`search --workers 2`; kill -9 one worker in the middle of a trial."""
    results = tmp_path / "results"
    chief = _houses_tune(
        "search", "--dataset", str(tiny_dataset), "--space", str(tiny_space), *SEARCH,
        "--results-dir", str(results), "--run", "run", "--workers", "2",
    )  # fmt: skip
    run = results / "run"
    try:

        def tuner0_in_a_trial():
            oracle = _read_json(run / "tuner" / "oracle.json") or {}
            beat = _read_json(run / "workers" / "tuner0.json")
            return beat and "tuner0" in oracle.get("ongoing_trials", {}) and beat["pid"]

        pid = _wait_for(tuner0_in_a_trial, "tuner0 to start a trial", every=0.02)
        os.kill(pid, signal.SIGKILL)
        out, err = chief.communicate(timeout=TIMEOUT)
    finally:
        if chief.poll() is None:
            chief.kill()
            chief.communicate()
    assert chief.returncode == 0, err
    assert "worker tuner0 died (exit code -9)" in err
    assert f"{PLANNED_TRIALS} trials ({PLANNED_TRIALS} completed)" in out

    info = _check_every_trial_once(run)
    assert info["distributed"]["lost"] == ["worker tuner0 died (exit code -9)"]
    restarts = {b["tuner_id"]: b["restarts"] for b in info["distributed"]["workers"]}
    assert restarts == {"tuner0": 1, "tuner1": 0}
