"""``run_search``: one search session of a ``SearchJob``, from the data to a run folder.

Order of work, so that bad input writes nothing and nothing finished is ever lost:

1. load the dataset and the space, make or reload the splits (errors leave no trace);
2. lock the run folder, write run.json (status ``running``) and splits.json;
3. load the data once, build the hypermodel and the KerasTuner tuner, ``tuner.search``;
4. record the outcome in run.json: ``finished``, ``interrupted`` (Ctrl-C, SIGTERM) or
   ``failed``.

KerasTuner saves the oracle when a trial is created and when it ends. After Ctrl-C,
SIGTERM or kill -9 the reloaded oracle puts the trial that was running back in its retry queue, so
``--resume`` re-runs it (all its folds) from scratch and keeps every trial that had ended.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from houses_tune.errors import (
    WRITE_ERRNOS,
    SearchError,
    TooManyFailedTrials,
    WriteError,
    cannot_write,
)
from houses_tune.objective import MAPE, Objective
from houses_tune.run import LOCK_FILE, SPACE_YAML, RunDir, RunLock, write_bytes_atomic
from houses_tune.tuner.budget import SearchPlan
from houses_tune.tuner.job import SearchJob
from houses_tune.tuner.job import dataset_options as job_dataset_options


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
        epochs: Epochs of fold models trained in the run so far.
        session_epochs: Epochs trained in this session.
        best_score: Best objective so far, or None.
        objective: What ``best_score`` is (the dataset's objective).
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
    objective: Objective = MAPE
    best_trial: str | None = None
    elapsed: float = 0.0
    resume_command: str = ""


def _tally(run: RunDir) -> tuple[int, int, int, float | None, str | None]:
    """Ended and completed trials, epochs trained (from history.json) and the best trial."""
    from houses_tune.tuner.monitor import trial_history

    records = run.trials()
    ended = [r for r in records if r.status in ("completed", "failed", "invalid")]
    completed = sum(1 for r in records if r.status == "completed")
    epochs = sum(
        int(trial_history(run.tuner_dir, r.trial_id).get("epochs_trained", 0)) for r in ended
    )
    best = records[0] if records and records[0].status == "completed" else None
    return len(ended), completed, epochs, best and best.score, best and best.trial_id


def run_search(job: SearchJob, devices=None, console: Console | None = None) -> SearchOutcome:
    """Run (or resume, or plan) one search session.

    Args:
        job: What to do (``prepare_search``).
        devices: The ``devices.DevicePlan`` chosen for this process, recorded in run.json.
        console: A stderr console for the plan and the progress line.

    Returns:
        The outcome; ``status`` says whether the search finished or was interrupted.

    Raises:
        SearchError: Run folder in use, dataset changed, too many failed trials.
        WriteError: The run folder cannot be written (a full disk, a read-only folder): a
            new run leaves nothing behind; a started one is interrupted and can resume.
        DatasetError, SpaceError: The dataset or the space is unusable.
    """
    if job.settings.dry_run:
        return SearchOutcome(run_dir=job.folder, status="planned", plan=job.plan)
    from houses_tune.data import load_dataset, make_splits, splits_from_file
    from houses_tune.search_spaces import load_space

    settings, folder = job.settings, job.folder
    # Everything that can fail on bad input happens before anything is written.
    space = load_space(settings.space)
    houses = load_dataset(settings.dataset, job_dataset_options(settings))
    space = space.for_data(bool(houses.schema.attributes), bool(houses.schema.images))
    space = space.for_target(houses.positive)
    console = console or Console(stderr=True)
    for warning in houses.warnings:
        console.print(f"warning: {warning}", highlight=False, soft_wrap=True, markup=False)
    if job.resumed is not None:
        expected = job.resumed.settings.get("dataset", {}).get("fingerprint")
        if expected and expected != houses.fingerprint:
            raise SearchError(
                f"the dataset changed since run {job.name} started; it cannot be resumed"
            )
        splits = job.resumed.splits
    elif settings.splits_file is not None:
        splits = splits_from_file(
            settings.splits_file, len(houses), settings.folds, settings.val_size, settings.val_seed
        )
    else:
        splits = make_splits(
            len(houses), settings.test_size, settings.folds, settings.val_size, settings.val_seed
        )
    if len(splits.folds) != settings.folds:
        raise SearchError(
            f"{settings.splits_file}: it has {len(splits.folds)} folds but --folds is "
            f"{settings.folds}"
        )

    lock, created = _lock_run_folder(folder)
    try:
        if settings.overwrite:
            for child in folder.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
                elif child.name != LOCK_FILE:
                    child.unlink()
        try:
            run = _start_session(job, space, houses, splits, devices)
        except WriteError:
            if job.resumed is None:  # a new run that could not start leaves nothing behind
                lock.release()
                shutil.rmtree(created or folder, ignore_errors=True)
            raise
        return _search(job, run, space, houses, splits, devices, console)
    finally:
        lock.release()


def _lock_run_folder(folder: Path) -> tuple[RunLock, Path | None]:
    """Make (if needed) and lock the run folder.

    Returns:
        The lock and the outermost folder this call made (None if ``folder`` existed).

    Raises:
        WriteError: The folder or its lock cannot be written; what was made is removed.
    """
    created = next((p for p in (*reversed(folder.parents), folder) if not p.exists()), None)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return RunLock(folder).acquire(), created
    except (OSError, WriteError) as error:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)
        if isinstance(error, WriteError):
            raise
        raise cannot_write(folder, error) from None


def _start_session(job: SearchJob, space, houses, splits, devices) -> RunDir:
    """Write run.json (status running) and, for a new run, splits.json."""
    import keras

    from houses_tune.search_spaces import load_space
    from houses_tune.versions import package_versions

    settings = job.settings
    devices = devices and devices.to_dict()
    if job.resumed is not None:
        stored_space = job.resumed.search["space"]
        job.resumed.start_session(
            search={**settings.to_json(), "space": stored_space},
            plan=job.plan.to_dict(),
            devices=devices,
        )
        return job.resumed
    space_ref = settings.space
    is_file = Path(settings.space).is_file()
    # A space file, or a preset narrowed to the data (Space.for_data, for_target), is copied
    # into the run folder: the run is self-contained and export builds what was searched.
    if is_file or space is not load_space(settings.space):
        import yaml

        text = yaml.safe_dump(space.to_dict(), sort_keys=False)
        write_bytes_atomic(job.folder / SPACE_YAML, text.encode())
    if is_file:
        space_ref = str(Path(settings.space).resolve())
    info = {
        "name": job.name,
        "command": list(settings.argv) or sys.argv,
        "search": {**settings.to_json(), "space": space_ref},
        "plan": job.plan.to_dict(),
        "dataset": {
            "folder": None if settings.dataset is None else str(Path(houses.source).resolve()),
            "embedded": settings.dataset is None,
            "fingerprint": houses.fingerprint,
            "options": job_dataset_options(settings).to_dict(),
            "schema": houses.schema.to_dict(),
            "text_categories": houses.text_categories,
            "objective": houses.objective.name,
            "min_zip_count": (houses.min_group or ("", 0))[1],
            "houses": len(houses),
            "total": houses.total,
        },
        "versions": package_versions(),
        "backend": keras.config.backend(),
        "devices": devices,
    }
    return RunDir.create(job.folder, info, splits.to_dict())


def _search(job: SearchJob, run: RunDir, space, houses, splits, devices, console) -> SearchOutcome:
    """Load the data once, build the tuner, search, and record the outcome."""
    import keras

    from houses_tune.data import ModelData
    from houses_tune.search_spaces import HousesHyperModel
    from houses_tune.training.folds import TrialFolds
    from houses_tune.tuner.build import build_tuner, space_hparams
    from houses_tune.tuner.internals import show_trial_tracebacks
    from houses_tune.tuner.monitor import SearchMonitor, TimeBudgetReached
    from houses_tune.tuner.progress import SearchProgress, StepProgress
    from houses_tune.tuner.tensorboard import TensorBoardLogger

    settings, plan = job.settings, job.plan
    started = time.monotonic()
    spent_before = run.elapsed
    trials_before, _, epochs_before, best_before, _ = _tally(run)

    deadline = seconds_left = None
    if plan.budget.seconds is not None:
        seconds_left = plan.budget.seconds - spent_before
        deadline = started + seconds_left

    for line in plan.describe():
        console.print(line, highlight=False, soft_wrap=True)

    if not settings.verbose:
        # TensorFlow's retracing warnings are noise here: every trial is a new model.
        logging.getLogger("tensorflow").setLevel(logging.ERROR)
    # KerasTuner prints the traceback of every failed trial; trials.json keeps it anyway.
    show_trial_tracebacks(settings.verbose)
    keras.utils.set_random_seed(settings.seed)
    # Once per search: preprocessing fitted on the search rows; photos decoded when needed.
    data = ModelData(houses, splits.search, settings.weights)
    hypermodel = HousesHyperModel(space, data, seed=settings.seed)
    if settings.weights is not None and space.can_take("backbone/fine_tune", 0):
        for backbone in space.backbones:  # frozen backbones' features, once, before trials
            step = StepProgress(console, f"features {backbone}")
            try:
                data.features(backbone, step)
            finally:
                step.close()

    progress = SearchProgress(
        console,
        planned_trials=plan.trials,
        budget_epochs=plan.total_epochs if plan.budget.epochs is not None else None,
        budget_seconds=seconds_left,
        trials_done=trials_before,
        epochs_done=epochs_before,
        best=best_before,
        objective=houses.objective,
    )
    monitor = SearchMonitor(run.tuner_dir, None, progress, deadline, settings.verbose)
    folds = TrialFolds(
        hypermodel,
        splits,
        run.tuner_dir,
        settings.patience,
        settings.seed,
        listener=monitor,
        verbose=2 if settings.verbose else 0,
    )
    status, message, write_error = "finished", None, None
    # KerasTuner and Keras print to stdout; stdout is for results, so send them to stderr.
    with contextlib.redirect_stdout(sys.stderr), _deferred_interrupts(monitor):
        try:
            tuner = build_tuner(
                plan,
                hypermodel,
                run.path,
                settings.seed,
                folds,
                monitor=monitor,
                max_consecutive_failed_trials=settings.max_failures,
                **settings.tuner_kwargs,
            )
            monitor.tensorboard = TensorBoardLogger(
                run.tensorboard_dir,
                space_hparams(tuner, plan),
                trials_before,
                best_before,
                objective=houses.objective,
            )
            if seconds_left is not None and seconds_left <= 0:
                raise TimeBudgetReached
            progress.start()
            if settings.workers or settings.listen:
                from houses_tune.tuner.distributed import serve_search

                # This process is the chief: it serves the oracle; workers train.
                chief = serve_search(
                    tuner,
                    run,
                    workers=settings.workers,
                    listen=settings.listen,
                    device=settings.device,
                    monitor=monitor,
                    deadline=deadline,
                    gpu_count=devices.gpu_count if devices else 0,
                    verbose=settings.verbose,
                )
                if chief.time_up:
                    raise TimeBudgetReached
            else:
                tuner.search(epochs=plan.max_epochs, callbacks=[], verbose=0)
            message = _short_of_plan(run, plan)
        except TimeBudgetReached:
            message = f"time budget {plan.budget.text} reached"
        except KeyboardInterrupt:
            status, message = "interrupted", f"interrupted by {monitor.interrupted_by}"
        except TooManyFailedTrials as error:
            status, message = "failed", error.format_message()
        except (WriteError, OSError) as error:
            write_error = _as_write_error(error, run.path)
            if write_error is None:
                status, message = "failed", f"{type(error).__name__}: {error}"
                raise
            # Nothing ended is lost and the trial being trained was not recorded as
            # failed: the run is interrupted, and a resume re-runs that trial.
            status, message = "interrupted", write_error.format_message()
        except BaseException as error:
            status, message = "failed", f"{type(error).__name__}: {error}"
            raise
        finally:
            progress.stop()
            elapsed = time.monotonic() - started
            session_error = _end_session(run, monitor, status, message, elapsed)
            write_error = write_error or session_error

    if write_error is not None:
        resume = f"; run {job.name} is interrupted: make room, then: {job.resume_command()}"
        raise cannot_write(write_error.path, write_error, resume)

    trials, completed, epochs, best, best_id = _tally(run)
    outcome = SearchOutcome(
        run_dir=run.path,
        status=status,
        plan=plan,
        message=message,
        trials=trials,
        completed=completed,
        epochs=epochs,
        session_epochs=monitor.epochs,
        best_score=best,
        objective=houses.objective,
        best_trial=best_id,
        elapsed=elapsed,
        resume_command=job.resume_command(),
    )
    if status == "failed":
        raise SearchError(f"{message}; see `houses-tune trials {run.path}`")
    return outcome


@contextlib.contextmanager
def _deferred_interrupts(monitor):
    """During the search, Ctrl-C and SIGTERM ask the monitor to stop at a safe point."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {
        signum: signal.signal(signum, monitor.request_interrupt)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


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


def _as_write_error(error: OSError | WriteError, run_path: Path) -> WriteError | None:
    """The ``WriteError`` of a failed write (KerasTuner's own writes raise ``OSError``), or
    None for an ``OSError`` that is not about writing."""
    if isinstance(error, WriteError):
        return error
    if error.errno not in WRITE_ERRNOS:
        return None
    return cannot_write(error.filename or run_path, error)


def _end_session(run: RunDir, monitor, status: str, message: str | None, elapsed: float):
    """Close the logs and record the session in run.json; return (not raise) the first
    write that fails, so that the error that ended the search is the one reported."""
    failed = None
    for step in (monitor.close, lambda: run.finish_session(status, message, elapsed)):
        try:
            step()
        except WriteError as error:
            failed = failed or error
    return failed
