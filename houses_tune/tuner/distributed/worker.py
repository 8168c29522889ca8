"""A worker: ``houses-tune worker`` takes trials from the chief of a running search."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from pathlib import Path

from houses_tune.errors import SearchError
from houses_tune.tuner.distributed.environment import (
    check_tuner_id,
    default_tuner_id,
    parse_address,
    set_worker_environment,
)
from houses_tune.tuner.distributed.heartbeat import Heartbeat
from houses_tune.tuner.internals import silence_condition_print

#: Seconds a worker waits before asking again when the oracle says IDLE (KerasTuner asks
#: again at once, which keeps a core busy while Hyperband waits for a round to end).
IDLE_WAIT_S = 1.0


def throttle_idle(tuner, wait: float = IDLE_WAIT_S) -> None:
    """Make a worker's tuner wait ``wait`` seconds after each IDLE answer from the chief."""
    client = tuner.oracle
    create_trial = client.create_trial

    def create_trial_and_wait(tuner_id):
        trial = create_trial(tuner_id)
        if trial.status == "IDLE":
            time.sleep(wait)
        return trial

    client.create_trial = create_trial_and_wait


def find_run(results_dir: Path, chief: str | None) -> Path:
    """The running distributed run in ``results_dir`` (whose chief is ``chief`` if given).

    Raises:
        SearchError: None or several match; the message lists them.
    """
    port = parse_address(chief)[1] if chief else None
    found = []
    for run_json in sorted(Path(results_dir).glob("*/run.json")):
        try:
            info = json.loads(run_json.read_text())
        except (OSError, ValueError):
            continue
        address = (info.get("distributed") or {}).get("chief")
        if info.get("status") != "running" or not address:
            continue
        if port is None or parse_address(address)[1] == port:
            found.append(run_json.parent)
    if len(found) != 1:
        what = "no" if not found else f"{len(found)} ({', '.join(str(f) for f in found)})"
        raise SearchError(
            f"{what} running distributed search in {results_dir}"
            + (f" with chief port {port}" if port else "")
            + "; give --run-dir"
        )
    return found[0]


def run_worker(
    run_dir: Path,
    chief: str | None = None,
    tuner_id: str | None = None,
    device_plan=None,
    verbose: bool = False,
) -> dict:
    """Be a worker of the distributed search in ``run_dir`` until the chief has no more trials.

    The settings (dataset, splits, space, plan, seed, precision) come from the run's
    run.json, so every worker builds the same hypermodel and tuner as the chief.
    Call ``devices.prepare_environment`` and ``select_devices`` first.

    Args:
        run_dir: The shared run folder (same path or a mount of it).
        chief: ``HOST:PORT`` of the chief; default: the address in run.json.
        tuner_id: This worker's id; default ``<host>-<pid>``.
        device_plan: The ``DevicePlan`` of this process (recorded in its heartbeat).
        verbose: Per-epoch Keras output.

    Returns:
        This worker's last heartbeat (tuner id, host, devices, state).

    Raises:
        RunError, SearchError: Not a distributed run, no chief address, bad tuner id.
    """
    import keras

    from houses_tune.data import ModelData
    from houses_tune.run import RunDir
    from houses_tune.search_spaces import HousesHyperModel
    from houses_tune.training.folds import TrialFolds
    from houses_tune.tuner.budget import parse_budget, plan_search
    from houses_tune.tuner.build import build_tuner, space_hparams
    from houses_tune.tuner.monitor import SearchMonitor, TimeBudgetReached
    from houses_tune.tuner.tensorboard import TensorBoardLogger

    run = RunDir(run_dir)
    info = run.settings.get("distributed") or {}
    chief = chief or info.get("chief")
    if not chief:
        raise SearchError(
            f"{run.path} is not a distributed search (no chief address); give --chief"
        )
    recorded = info.get("chief")
    if recorded and parse_address(recorded)[1] != parse_address(chief)[1]:
        raise SearchError(f"{run.path}'s chief listens on {recorded}, not {chief}")
    tuner_id = check_tuner_id(tuner_id) if tuner_id else default_tuner_id()
    set_worker_environment(tuner_id, parse_address(chief))

    search = run.search
    plan = plan_search(parse_budget(search["budget"]), search["tuner"], search["max_epochs"],
                       search["factor"], search["folds"], search["min_epochs"])  # fmt: skip
    deadline = None
    if info.get("deadline_unix") is not None:
        deadline = time.monotonic() + float(info["deadline_unix"]) - time.time()
    splits = run.splits
    keras.utils.set_random_seed(search["seed"])
    data = ModelData(run.load_dataset(), splits.search, search.get("weights"))
    hypermodel = HousesHyperModel(run.space(), data, seed=search["seed"])

    devices = device_plan.to_dict() if device_plan is not None else None
    heartbeat = Heartbeat(run.path, tuner_id, {"devices": devices}, watch_chief=chief).start()
    monitor = SearchMonitor(run.tuner_dir, None, None, deadline, verbose)
    folds = TrialFolds(hypermodel, splits, run.tuner_dir, search["patience"], search["seed"],
                       listener=monitor, verbose=2 if verbose else 0)  # fmt: skip
    state = "failed"
    with contextlib.redirect_stdout(sys.stderr):  # KerasTuner prints to stdout
        try:
            tuner = build_tuner(plan, hypermodel, run.path, search["seed"], folds, monitor=monitor)
            # Per-trial logs only: the chief writes the run-level series.
            monitor.tensorboard = TensorBoardLogger(
                run.tensorboard_dir,
                space_hparams(tuner, plan),
                run_series=False,
                objective=hypermodel.objective,
            )
            throttle_idle(tuner)
            silence_condition_print()
            tuner.search(epochs=plan.max_epochs, callbacks=[], verbose=0)
            state = "finished"
        except TimeBudgetReached:
            state = "finished"
        except KeyboardInterrupt:
            state = "interrupted"
            raise
        finally:
            monitor.close()
            heartbeat.data["trials"] = len(monitor.trials)
            heartbeat.stop(state)
    return heartbeat.data
