"""``run_search``: one search session, from settings to a run folder.

Order of work, so that bad input writes nothing and nothing finished is ever lost:

1. plan the budget (``--dry-run`` stops here);
2. check the run folder (exists? ``--resume``/``--overwrite``?), load the dataset and
   the space (errors here leave no trace);
3. lock the run folder, write run.json (status ``running``) and splits.json;
4. load the data once, build the hypermodel and the KerasTuner tuner, ``tuner.search``;
5. record the outcome in run.json: ``finished``, ``interrupted`` (Ctrl-C) or ``failed``.

KerasTuner saves the oracle when a trial is created and when it ends. After Ctrl-C or
kill -9 the reloaded oracle puts the trial that was running back in its retry queue, so
``--resume`` re-runs it from scratch and keeps every trial that had ended.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import logging
import platform
import shlex
import shutil
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console

from houses_tune.errors import SearchError
from houses_tune.results.run_dir import (
    HISTORY_JSON,
    LOCK_FILE,
    RUN_JSON,
    SPACE_YAML,
    SPLITS_JSON,
    TENSORBOARD_DIR,
    RunDir,
    RunLock,
    write_json_atomic,
)
from houses_tune.tuner.budget import Budget, SearchPlan, parse_budget, plan_search

DEFAULT_RESULTS_DIR = Path("results")

#: Settings a resumed run keeps from run.json (giving a different value is an error).
_KEPT_ON_RESUME = (
    "dataset",
    "space",
    "tuner",
    "max_epochs",
    "factor",
    "seed",
    "min_zip_count",
    "val_size",
    "test_size",
    "val_seed",
    "splits_file",
    "mixed_precision",  # trials of one run are trained alike
)


@dataclass
class SearchSettings:
    """Everything ``houses-tune search`` was asked to do.

    Attributes:
        budget: Parsed ``--budget`` (may be None only with ``resume``).
        dataset: Dataset folder, None for the embedded dataset.
        space: Preset name or YAML file.
        max_epochs: ``--max-epochs`` (Hyperband cap / epochs per trial), None for the default.
        factor: Hyperband's reduction factor.
        tuner: ``hyperband``, ``random`` or ``bayesian``.
        run: Run name; None -> a timestamp.
        results_dir: Folder holding the runs.
        seed: Seed of the oracle and of the hypermodel.
        resume: Continue an existing run.
        overwrite: Delete an existing run of that name and start over.
        dry_run: Print the plan and stop.
        verbose: Per-epoch Keras output and one line per trial.
        min_zip_count: Drop houses whose zip code has fewer houses.
        val_size: Fraction of the training part used for validation (the objective).
        test_size: Fraction held out for export's final test (never used by the search).
        val_seed: Seed of the validation split (the test split is the tutorials', seed 42).
        splits_file: A saved ``splits.json`` (e.g. another run's) to use instead of splitting.
        max_failures: Failed trials in a row that stop the search.
        device: ``--device``: auto, cpu or gpu (also what local workers get).
        mixed_precision: Train in float16 (GPU) / bfloat16 (CPU) compute.
        workers: Local worker processes of a distributed search (0: train in this process).
        listen: ``HOST:PORT`` the chief of a distributed search listens on, or None.
        device_plan: The ``devices.DevicePlan`` chosen by the command, recorded in run.json.
        explicit: Names of the settings given on the command line (checked on resume).
        argv: The command line, recorded in run.json.
        tuner_kwargs: Extra KerasTuner arguments (e.g. ``distribution_strategy``); not saved.
    """

    budget: Budget | None
    dataset: Path | None = None
    space: str = "mixed"
    max_epochs: int | None = None
    factor: int = 3
    tuner: str = "hyperband"
    run: str | None = None
    results_dir: Path = DEFAULT_RESULTS_DIR
    seed: int = 0
    resume: bool = False
    overwrite: bool = False
    dry_run: bool = False
    verbose: bool = False
    min_zip_count: int = 25
    val_size: float = 0.2
    test_size: float = 0.25
    val_seed: int = 0
    splits_file: Path | None = None
    max_failures: int = 3
    device: str = "auto"
    mixed_precision: bool = False
    workers: int = 0
    listen: str | None = None
    device_plan: Any = None
    explicit: frozenset[str] = frozenset()
    argv: list[str] = field(default_factory=list)
    tuner_kwargs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The settings stored in run.json's ``search`` section."""
        return {
            "dataset": None if self.dataset is None else str(Path(self.dataset).resolve()),
            "space": self.space,
            "budget": None if self.budget is None else self.budget.text,
            "max_epochs": self.max_epochs,
            "factor": self.factor,
            "tuner": self.tuner,
            "seed": self.seed,
            "min_zip_count": self.min_zip_count,
            "val_size": self.val_size,
            "test_size": self.test_size,
            "val_seed": self.val_seed,
            "splits_file": None if self.splits_file is None else str(Path(self.splits_file)),
            "device": self.device,
            "mixed_precision": self.mixed_precision,
            "workers": self.workers,
        }


@dataclass
class SearchOutcome:
    """What a search session did.

    Attributes:
        run_dir: The run folder.
        status: ``finished``, ``interrupted``, ``failed`` or ``planned`` (dry run).
        plan: The plan.
        message: Why the search stopped, when not simply done.
        trials: Trials ended in the run so far (all sessions).
        completed: Completed trials in the run so far.
        epochs: Epochs trained in the run so far.
        session_epochs: Epochs trained in this session.
        best_score: Best validation MAPE so far, or None.
        best_trial: Id of the best trial, or None.
        elapsed: Seconds this session searched.
        resume_command: The command that continues this run.
    """

    run_dir: Path
    status: str
    plan: SearchPlan
    message: str | None = None
    trials: int = 0
    completed: int = 0
    epochs: int = 0
    session_epochs: int = 0
    best_score: float | None = None
    best_trial: str | None = None
    elapsed: float = 0.0
    resume_command: str = ""


def default_run_name(results_dir: Path) -> str:
    """A timestamp name (``20250101-120000``) not yet used in ``results_dir``."""
    base = datetime.now().strftime("%Y%m%d-%H%M%S")
    name, n = base, 1
    while (Path(results_dir) / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def resume_command(run_dir: Path) -> str:
    """The exact command that continues the run in ``run_dir``."""
    parts = ["houses-tune", "search", "--resume", "--run", run_dir.name]
    if Path(run_dir.parent) != DEFAULT_RESULTS_DIR:
        parts += ["--results-dir", str(run_dir.parent)]
    return shlex.join(parts)


def package_versions() -> dict[str, str]:
    """Versions of Python and the packages a run depends on (those installed)."""
    versions = {"python": platform.python_version()}
    for package in ("houses-tune", "keras", "keras-tuner", "tensorflow", "jax", "numpy"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    return versions


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _resolve_resume(settings: SearchSettings, run: RunDir) -> SearchSettings:
    """Settings of a resumed run: run.json's, checked against what the command line gave."""
    stored = run.settings["search"]
    kept = {}
    for name in _KEPT_ON_RESUME:
        value = stored.get(name)
        if name in ("dataset", "splits_file") and value is not None:
            value = Path(value)
        kept[name] = value
        given = getattr(settings, name)
        if name in settings.explicit and given != value:
            if name in ("dataset", "space") and given is not None and value is not None:
                if Path(given).exists() and Path(given).resolve() == Path(value):
                    continue
            raise SearchError(
                f"--{name.replace('_', '-')} {given} differs from run {run.name}'s {value}; "
                "a resumed run keeps its settings"
            )
    if (run.path / SPACE_YAML).is_file():
        kept["space"] = str(run.path / SPACE_YAML)
    budget = parse_budget(stored["budget"])
    if "budget" in settings.explicit and settings.budget != budget:
        # Only a duration may change: it gives the run more (or less) time.
        if settings.budget is None or settings.budget.seconds is None or budget.seconds is None:
            raise SearchError(
                f"--budget {settings.budget.text if settings.budget else ''} differs from run "
                f"{run.name}'s {budget.text}; only a duration budget can change on --resume"
            )
        budget = settings.budget
    return replace(settings, budget=budget, **kept)


def _ended_trials(run: RunDir) -> tuple[int, int, float | None, str | None]:
    """Ended trials, epochs trained (from history.json) and the best trial of a run."""
    records = run.trials()
    ended = [r for r in records if r.status in ("completed", "failed", "invalid")]
    epochs = 0
    for path in run.tuner_dir.glob(f"trial_*/{HISTORY_JSON}"):
        with contextlib.suppress(OSError, ValueError):
            epochs += int(json.loads(path.read_text()).get("epochs_trained", 0))
    best = records[0] if records and records[0].status == "completed" else None
    return len(ended), epochs, best.score if best else None, best.trial_id if best else None


def prepare_search(
    settings: SearchSettings,
) -> tuple[SearchSettings, SearchPlan, Path, RunDir | None]:
    """Check the settings and plan the search, without writing anything or importing Keras.

    The CLI calls this before any work (device selection included) so that bad flags
    cost nothing; ``run_search`` calls it again.

    Returns:
        ``(settings, plan, run folder, existing run or None)``; a resumed run's settings
        are the ones stored in its run.json.

    Raises:
        SearchError: Bad budget or settings, run folder in the way or missing.
    """
    results_dir = Path(settings.results_dir)
    stored_run = None
    if settings.resume:
        if not settings.run:
            raise SearchError("--resume needs --run NAME (the run to continue)")
        folder = results_dir / settings.run
        if not (folder / RUN_JSON).is_file():
            raise SearchError(f"{folder} is not a run to resume (no {RUN_JSON})")
        stored_run = RunDir(folder)
        settings = _resolve_resume(settings, stored_run)
    if settings.budget is None:
        raise SearchError("--budget is required (epochs such as 600, or a duration such as 45m)")
    try:
        plan = plan_search(settings.budget, settings.tuner, settings.max_epochs, settings.factor)
    except ValueError as error:
        raise SearchError(str(error)) from None
    folder = results_dir / (settings.run or default_run_name(results_dir))
    if settings.dry_run or not folder.exists():
        return settings, plan, folder, stored_run
    if not (settings.resume or settings.overwrite):
        raise SearchError(
            f"run folder {folder} already exists; use --resume to continue it "
            "or --overwrite to start it over"
        )
    if not folder.is_dir():
        raise SearchError(f"{folder} is a file, not a run folder")
    RunLock.check_free(folder)  # now, not after the data is loaded
    # --overwrite deletes a run, never a folder of other files (a left-over lock and
    # space copy are what a search killed before writing run.json leaves).
    others = sorted(p.name for p in folder.iterdir() if p.name not in (LOCK_FILE, SPACE_YAML))
    if settings.overwrite and others and not (folder / RUN_JSON).is_file():
        raise SearchError(
            f"{folder} is not a houses-tune run (no {RUN_JSON}; it holds {others[0]}); "
            "--overwrite deletes only runs"
        )
    return settings, plan, folder, stored_run


def run_search(settings: SearchSettings, console: Console | None = None) -> SearchOutcome:
    """Run (or resume, or plan) one search session.

    Args:
        settings: What to do.
        console: A stderr console for the plan and the progress line.

    Returns:
        The outcome; ``status`` says whether the search finished or was interrupted.

    Raises:
        SearchError: Bad budget, run folder in use or in the way, too many failed trials.
        DatasetError, SpaceError: The dataset or the space is unusable.
    """
    console = console or Console(stderr=True)
    settings, plan, folder, stored_run = prepare_search(settings)
    if settings.dry_run:
        return SearchOutcome(run_dir=folder, status="planned", plan=plan)
    run_name = folder.name

    # Everything that can fail on bad input happens before anything is written.
    from houses_tune.data import Splits, load_houses, make_splits
    from houses_tune.search_spaces import load_space

    space = load_space(settings.space)
    houses = load_houses(settings.dataset, min_zip_count=settings.min_zip_count)
    if stored_run is not None:
        expected = stored_run.settings.get("dataset", {}).get("fingerprint")
        if expected and expected != houses.fingerprint:
            raise SearchError(
                f"the dataset changed since run {run_name} started; it cannot be resumed"
            )
        splits = stored_run.splits
    elif settings.splits_file is not None:
        splits = Splits.load(settings.splits_file)
        splits.check_rows(len(houses), settings.splits_file)
    else:
        splits = make_splits(
            len(houses), settings.test_size, settings.val_size, val_seed=settings.val_seed
        )

    folder.mkdir(parents=True, exist_ok=True)
    lock = RunLock(folder).acquire()
    try:
        if settings.overwrite and not settings.resume:
            for child in folder.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                elif child.name != LOCK_FILE:
                    child.unlink()
        run = _start_session(settings, folder, plan, houses, splits, stored_run)
        return _search(settings, plan, run, space, houses, splits, console)
    finally:
        lock.release()


def _start_session(settings, folder, plan, houses, splits, stored_run) -> RunDir:
    """Write run.json (status running) and splits.json for this session."""
    session = {"started": _now(), "finished": None, "elapsed_s": None, "status": "running"}
    if stored_run is not None:
        info = dict(stored_run.settings)
        info["timing"]["sessions"].append(session)
        info["timing"]["finished"] = None
        info.update(status="running", message=None, search=settings.to_json(), plan=plan.to_dict())
        info["search"]["space"] = stored_run.settings["search"]["space"]
        info["devices"] = settings.device_plan and settings.device_plan.to_dict()
        write_json_atomic(folder / RUN_JSON, info)
        return RunDir(folder)

    space_ref = settings.space
    if Path(settings.space).is_file():  # keep the run self-contained, the space's name included
        import yaml

        from houses_tune.search_spaces import load_space

        complete = load_space(settings.space).to_dict()
        (folder / SPACE_YAML).write_text(yaml.safe_dump(complete, sort_keys=False))
        space_ref = str(Path(settings.space).resolve())
    import keras

    info = {
        "name": folder.name,
        "status": "running",
        "message": None,
        "command": settings.argv or sys.argv,
        "search": {**settings.to_json(), "space": space_ref},
        "plan": plan.to_dict(),
        "dataset": {
            "folder": None if settings.dataset is None else str(Path(houses.folder).resolve()),
            "embedded": settings.dataset is None,
            "fingerprint": houses.fingerprint,
            "min_zip_count": houses.min_zip_count,
            "houses": len(houses),
            "total": houses.total,
        },
        "splits": splits.to_dict(),
        "versions": package_versions(),
        "backend": keras.config.backend(),
        "devices": settings.device_plan and settings.device_plan.to_dict(),
        "timing": {
            "started": session["started"],
            "finished": None,
            "elapsed_s": 0.0,
            "sessions": [session],
        },
    }
    write_json_atomic(folder / RUN_JSON, info)
    write_json_atomic(folder / SPLITS_JSON, splits.to_dict())
    return RunDir(folder)


def _search(settings, plan, run, space, houses, splits, console) -> SearchOutcome:
    """Load the data once, build the tuner, search, and record the outcome."""
    import keras
    from keras_tuner.src import config as keras_tuner_config

    from houses_tune.data import ModelData
    from houses_tune.search_spaces import HousesHyperModel
    from houses_tune.tuner.build import build_tuner, space_hparams
    from houses_tune.tuner.monitor import SearchMonitor, TimeBudgetReached
    from houses_tune.tuner.progress import SearchProgress
    from houses_tune.tuner.tensorboard import TensorBoardLogger

    started = time.monotonic()
    timing = run.settings["timing"]
    spent_before = float(timing.get("elapsed_s") or 0.0)
    trials_before, epochs_before, best_before, _ = _ended_trials(run)

    deadline = seconds_left = None
    if plan.budget.seconds is not None:
        seconds_left = plan.budget.seconds - spent_before
        deadline = started + seconds_left

    for line in plan.describe():
        console.print(line, highlight=False)

    if not settings.verbose:
        # TensorFlow's retracing warnings are noise here: every trial is a new model.
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    # Hyperband's promoted trials load weights only, never the optimizer: expected.
    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
    # KerasTuner prints the traceback of every failed trial; trials.json keeps it anyway.
    keras_tuner_config.DEBUG = settings.verbose
    keras.utils.set_random_seed(settings.seed)
    data = ModelData(houses, splits.train)  # once per search: photos decoded once, in memory
    hypermodel = HousesHyperModel(space, data, splits.train, splits.val, seed=settings.seed)

    progress = SearchProgress(
        console,
        planned_trials=plan.trials,
        budget_epochs=plan.total_epochs if plan.budget.epochs is not None else None,
        budget_seconds=seconds_left,
        trials_done=trials_before,
        epochs_done=epochs_before,
        best=best_before,
    )
    monitor = SearchMonitor(run.tuner_dir, None, progress, deadline, settings.verbose)
    status, message = "finished", None
    # KerasTuner and Keras print to stdout; stdout is for results, so send them to stderr.
    with contextlib.redirect_stdout(sys.stderr), _deferred_ctrl_c(monitor):
        try:
            tuner = build_tuner(
                plan,
                hypermodel,
                run.path,
                settings.seed,
                monitor=monitor,
                max_consecutive_failed_trials=settings.max_failures,
                **settings.tuner_kwargs,
            )
            monitor.tensorboard = TensorBoardLogger(
                run.path / TENSORBOARD_DIR, space_hparams(tuner), trials_before, best_before
            )
            if seconds_left is not None and seconds_left <= 0:
                raise TimeBudgetReached
            progress.start()
            if settings.workers or settings.listen:
                from houses_tune.tuner.distributed import serve_search

                # This process is the chief: it serves the oracle; workers train.
                chief = serve_search(
                    tuner, run, workers=settings.workers, listen=settings.listen,
                    device=settings.device, monitor=monitor, deadline=deadline,
                    gpu_count=settings.device_plan.gpu_count if settings.device_plan else 0,
                    verbose=settings.verbose,
                )  # fmt: skip
                if chief.time_up:
                    raise TimeBudgetReached
            else:
                tuner.search(
                    epochs=plan.max_epochs, callbacks=[], verbose=2 if settings.verbose else 0
                )
            message = _short_of_plan(run, plan)
        except TimeBudgetReached:
            message = f"time budget {plan.budget.text} reached"
        except KeyboardInterrupt:
            status, message = "interrupted", "interrupted by Ctrl-C"
        except RuntimeError as error:
            if "consecutive failures" not in str(error):
                status, message = "failed", f"{type(error).__name__}: {error}"
                raise
            status = "failed"
            message = _failures_message(str(error), settings.max_failures)
        except BaseException as error:
            status, message = "failed", f"{type(error).__name__}: {error}"
            raise
        finally:
            progress.stop()
            monitor.close()
            elapsed = time.monotonic() - started
            _finish_session(run, status, message, elapsed)

    trials, epochs, best, best_id = _ended_trials(run)
    outcome = SearchOutcome(
        run_dir=run.path,
        status=status,
        plan=plan,
        message=message,
        trials=trials,
        completed=sum(1 for r in run.trials() if r.status == "completed"),
        epochs=epochs,
        session_epochs=monitor.epochs,
        best_score=best,
        best_trial=best_id,
        elapsed=elapsed,
        resume_command=resume_command(run.path),
    )
    if status == "failed":
        raise SearchError(f"{message}; see `houses-tune trials {run.path}`")
    return outcome


@contextlib.contextmanager
def _deferred_ctrl_c(monitor):
    """During the search, Ctrl-C asks the monitor to stop at a safe point."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, monitor.request_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _short_of_plan(run: RunDir, plan: SearchPlan) -> str | None:
    """Why a search that ran to its end ran fewer trials than planned, or None.

    KerasTuner's oracles stop as soon as a random draw repeats a configuration too often,
    so a space with few configurations (a fully pinned preset) ends before its schedule.
    """
    records = run.trials()
    if plan.trials is None or len(records) >= plan.trials:
        return None
    failed = sum(1 for r in records if r.status in ("failed", "invalid"))
    why = f"{failed} of them failed" if failed else "no new configuration left in the space"
    return f"KerasTuner stopped after {len(records)} of {plan.trials} planned trials ({why})"


def _failures_message(error: str, limit: int) -> str:
    """One line from KerasTuner's 'consecutive failures' error (which ends in a traceback)."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    last = lines[-1] if len(lines) > 1 else ""
    return f"search stopped: {limit} trials failed in a row" + (f" (last: {last})" if last else "")


def _finish_session(run: RunDir, status: str, message: str | None, elapsed: float) -> None:
    """Record the end of this session in run.json."""
    timing = run.settings["timing"]
    session = timing["sessions"][-1]
    session.update(finished=_now(), elapsed_s=round(elapsed, 3), status=status)
    timing["elapsed_s"] = round(float(timing.get("elapsed_s") or 0.0) + elapsed, 3)
    timing["finished"] = session["finished"]
    run.update(status=status, message=message, timing=timing)
