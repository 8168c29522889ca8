"""From what ``houses-tune search`` was asked to a ``SearchJob`` ready to run.

Every check of the settings and of the run folder happens here, once, before any work:
budget and plan, run name, resume (the run's stored settings win, and differing ones
given on the command line are refused), overwrite, a folder in the way or in use.
Nothing here writes anything or imports Keras.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from houses_tune.data.table import DatasetOptions
from houses_tune.errors import SearchError
from houses_tune.run import LOCK_FILE, RUN_JSON, SPACE_YAML, RunDir, RunLock, check_run_name
from houses_tune.search_spaces import load_space
from houses_tune.search_spaces.backbones import IMAGENET, RANDOM, check_weights
from houses_tune.tuner.budget import Budget, SearchPlan, parse_budget, plan_search

DEFAULT_RESULTS_DIR = Path("results")
#: Early-stopping patience of every fold model (epochs without a better validation MAPE).
DEFAULT_PATIENCE = 10
#: Hyperband: the fewest epochs a trial's first round trains. One epoch says little about
#: a network on this data; 3 keeps the cheap first rounds without ranking on noise.
DEFAULT_MIN_EPOCHS = 3

#: Settings a resumed run keeps from run.json (giving a different value is an error).
KEPT_ON_RESUME = (
    "dataset",
    "space",
    "tuner",
    "max_epochs",
    "factor",
    "seed",
    "min_zip_count",
    "dataset_options",
    "folds",
    "val_size",
    "test_size",
    "val_seed",
    "splits_file",
    "patience",
    "mixed_precision",
    "backend",  # trials of one run are trained alike
    "weights",
)


@dataclass(frozen=True)
class SearchSettings:
    """Everything ``houses-tune search`` was asked to do.

    Attributes:
        budget: Parsed ``--budget`` (may be None only with ``resume``).
        dataset: Houses folder, CSV or YAML dataset file; None for the embedded dataset.
        space: Preset name or YAML file.
        max_epochs: ``--max-epochs`` (Hyperband cap / epochs per trial), None for the default.
        min_epochs: ``--min-epochs``: Hyperband's fewest epochs of a first round.
        factor: Hyperband's reduction factor.
        tuner: ``hyperband``, ``random`` or ``bayesian``.
        run: Run name; None -> a timestamp.
        results_dir: Folder holding the runs.
        seed: Seed of the oracle and of the models.
        resume: Continue an existing run.
        overwrite: Delete an existing run of that name and start over.
        dry_run: Print the plan and stop.
        verbose: Per-epoch Keras output and one line per trial.
        min_zip_count: Houses folders: drop houses whose zip code has fewer houses (unless
            ``dataset_options`` has another filter).
        dataset_options: ``--target``, ``--categorical``, ``--images``, ``--ignore``,
            ``--log``, ``--min-group-count``.
        folds: Folds of the search rows each trial is trained and scored on (1: one
            validation split of ``val_size``).
        val_size: Validation fraction of the search rows with ``folds`` 1.
        test_size: Fraction held out for export's final test (never used by the search).
        val_seed: Seed of the folds (the test split is the tutorials', seed 42).
        splits_file: A splits file (e.g. another run's) to use instead of splitting.
        patience: Early-stopping patience of every fold model.
        max_failures: Failed trials in a row that stop the search.
        device: ``--device``: auto, cpu or gpu (also what local workers get).
        mixed_precision: Train in float16 (GPU) / bfloat16 (CPU) compute.
        backend: ``--backend``: tensorflow or jax (``auto`` is resolved by ``prepare_search``).
        weights: ``--weights`` of pretrained backbones: ``imagenet``, ``random`` or a folder.
        workers: Local worker processes of a distributed search (0: train in this process).
        listen: ``HOST:PORT`` the chief of a distributed search listens on, or None.
        explicit: Names of the settings given on the command line (checked on resume).
        argv: The command line, recorded in run.json.
        tuner_kwargs: Extra KerasTuner arguments (e.g. ``distribution_strategy``); not saved.
    """

    budget: Budget | None
    dataset: Path | None = None
    space: str = "mixed"
    max_epochs: int | None = None
    min_epochs: int = DEFAULT_MIN_EPOCHS
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
    dataset_options: DatasetOptions = field(default_factory=DatasetOptions)
    folds: int = 5
    val_size: float = 0.2
    test_size: float = 0.25
    val_seed: int = 0
    splits_file: Path | None = None
    patience: int = DEFAULT_PATIENCE
    max_failures: int = 3
    device: str = "auto"
    mixed_precision: bool = False
    backend: str = "auto"
    weights: str | None = None
    workers: int = 0
    listen: str | None = None
    explicit: frozenset[str] = frozenset()
    argv: tuple[str, ...] = ()
    tuner_kwargs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The settings stored in run.json's ``search`` section."""
        return {
            "dataset": None if self.dataset is None else str(Path(self.dataset).resolve()),
            "space": self.space,
            "budget": None if self.budget is None else self.budget.text,
            "max_epochs": self.max_epochs,
            "min_epochs": self.min_epochs,
            "factor": self.factor,
            "tuner": self.tuner,
            "seed": self.seed,
            "min_zip_count": self.min_zip_count,
            "dataset_options": self.dataset_options.to_dict(),
            "folds": self.folds,
            "val_size": self.val_size,
            "test_size": self.test_size,
            "val_seed": self.val_seed,
            "splits_file": None if self.splits_file is None else str(Path(self.splits_file)),
            "patience": self.patience,
            "device": self.device,
            "mixed_precision": self.mixed_precision,
            "backend": self.backend,
            "weights": _weights_json(self.weights),
            "workers": self.workers,
        }


def _weights_json(weights: str | None) -> str | None:
    # A folder is stored absolute, so export and workers find it from anywhere.
    if weights is None or weights in (IMAGENET, RANDOM):
        return weights
    return str(Path(weights).resolve())


@dataclass(frozen=True)
class SearchJob:
    """A search ready to run.

    Attributes:
        settings: The resolved settings (a resumed run's are the ones in its run.json).
        plan: How the budget will be spent.
        folder: The run folder (may not exist yet).
        resumed: The run being continued, or None for a new run.
    """

    settings: SearchSettings
    plan: SearchPlan
    folder: Path
    resumed: RunDir | None = None

    @property
    def name(self) -> str:
        """The run's name."""
        return self.folder.name

    def resume_command(self) -> str:
        """The exact command that continues this run."""
        parts = ["houses-tune", "search", "--resume", "--run", self.name]
        if Path(self.folder.parent) != DEFAULT_RESULTS_DIR:
            parts += ["--results-dir", str(self.folder.parent)]
        return shlex.join(parts)


def default_run_name(results_dir: Path) -> str:
    """A timestamp name (``20250101-120000``) not yet used in ``results_dir``."""
    base = datetime.now().strftime("%Y%m%d-%H%M%S")
    name, n = base, 1
    while (Path(results_dir) / name).exists():
        n += 1
        name = f"{base}-{n}"
    return name


def prepare_search(settings: SearchSettings) -> SearchJob:
    """Check the settings and the run folder and plan the search; write nothing.

    Raises:
        SearchError: Conflicting flags, a bad budget, a run folder in the way, in use or
            missing, or a resume whose given settings differ from the run's.
    """
    if settings.resume and settings.overwrite:
        raise SearchError("use either --resume or --overwrite, not both")
    if settings.run is not None:
        check_run_name(settings.run)
    results_dir = Path(settings.results_dir)
    resumed = None
    if settings.resume:
        if not settings.run:
            raise SearchError("--resume needs --run NAME (the run to continue)")
        folder = results_dir / settings.run
        if not (folder / RUN_JSON).is_file():
            raise SearchError(f"{folder} is not a run to resume (no {RUN_JSON})")
        resumed = RunDir(folder)
        settings = _resolve_resume(settings, resumed)
    elif "val_size" in settings.explicit and settings.folds != 1:
        raise SearchError("--val-size sets the validation split of --folds 1 only")
    space = load_space(settings.space)
    strings = string_categories(settings)
    if settings.backend == "auto":  # resolved once, so a resume and the workers train alike
        from houses_tune.backend import resolve_backend

        tensorflow = space.has_photos or strings
        settings = replace(settings, backend=resolve_backend("auto", tensorflow))
    if strings and settings.backend == "jax":
        raise SearchError(
            f"{settings.dataset}: categorical column(s) of text ({', '.join(strings)}) need "
            "the TensorFlow backend (JAX has no string tensors for the exported model); "
            "use --backend tensorflow or auto"
        )
    check_weights(settings.weights, space.backbones)
    if settings.budget is None:
        raise SearchError("--budget is required (epochs such as 3000, or a duration such as 45m)")
    try:
        plan = plan_search(
            settings.budget, settings.tuner, settings.max_epochs, settings.factor, settings.folds,
            settings.min_epochs,
        )  # fmt: skip
    except ValueError as error:
        raise SearchError(str(error)) from None
    folder = results_dir / (settings.run or default_run_name(results_dir))
    job = SearchJob(settings, plan, folder, resumed)
    if settings.dry_run or not folder.exists() or resumed is not None:
        if resumed is not None:
            RunLock.check_free(folder)  # now, not after the data is loaded
        return job
    if not settings.overwrite:
        raise SearchError(
            f"run folder {folder} already exists; use --resume to continue it "
            "or --overwrite to start it over"
        )
    if not folder.is_dir():
        raise SearchError(f"{folder} is a file, not a run folder")
    RunLock.check_free(folder)
    # --overwrite deletes a run, never a folder of other files (a left-over lock and
    # space copy are what a search killed before writing run.json leaves).
    others = sorted(p.name for p in folder.iterdir() if p.name not in (LOCK_FILE, SPACE_YAML))
    if others and not (folder / RUN_JSON).is_file():
        raise SearchError(
            f"{folder} is not a houses-tune run (no {RUN_JSON}; it holds {others[0]}); "
            "--overwrite deletes only runs"
        )
    return job


def _resolve_resume(settings: SearchSettings, run: RunDir) -> SearchSettings:
    """Settings of a resumed run: run.json's, checked against what the command line gave."""
    stored = run.search
    kept = {}
    for name in KEPT_ON_RESUME:
        value = stored.get(name, getattr(SearchSettings, name, None))
        if name in ("dataset", "splits_file") and value is not None:
            value = Path(value)
        if name == "dataset_options":
            value = DatasetOptions.from_dict(value or {})
        kept[name] = value
        given = getattr(settings, name)
        if name in settings.explicit and given != value:
            if name in ("dataset", "space", "weights") and given is not None and value is not None:
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


def dataset_options(settings: SearchSettings) -> DatasetOptions:
    """The dataset options a search reads its data with (``sources.resolve_options``)."""
    from houses_tune.data.sources import resolve_options

    return resolve_options(settings.dataset, settings.dataset_options, settings.min_zip_count)


def string_categories(settings: SearchSettings) -> list[str]:
    """The categorical columns of text of a CSV dataset (they need TensorFlow)."""
    from houses_tune.data.sources import is_table_file

    if not is_table_file(settings.dataset):
        return []
    from houses_tune.data import load_dataset

    return load_dataset(settings.dataset, dataset_options(settings)).text_categories
