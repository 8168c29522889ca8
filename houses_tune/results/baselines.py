"""Baselines the exported model is compared with, trained on the same rows it was.

Three simple ones (the median price per group, ridge regression and gradient boosting on
log price, on the dataset's attribute columns) and the three PyImageSearch tutorial
networks, rebuilt from the ``tutorial-*`` presets (those the dataset has inputs for).
Targets that are not all positive have no log and no percentage error: ridge and gradient
boosting fit the target as it is, and the tutorial networks (MAPE loss) are left out.
The tutorial networks train for minutes, so their predictions are cached on disk, keyed
by what decides them: dataset content, rows, preset, seed, epochs, backend and library
versions. A second export of the same split reuses them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd

# (label, preset) of the tutorial networks, in the order the report lists them.
TUTORIALS = (
    ("tutorial MLP (attributes)", "tutorial-mlp"),
    ("tutorial CNN (montage)", "tutorial-cnn"),
    ("tutorial mixed MLP+CNN", "tutorial-mixed"),
)
#: The groups are the first categorical column's values (Houses: the zip code).
GROUP_MEDIAN = "per-group median price"
RIDGE = "ridge on log price"
BOOSTING = "gradient boosting on log price"
SIMPLE = (GROUP_MEDIAN, RIDGE, BOOSTING)
#: The same, for targets that are not all positive (fitted on the target as it is).
SIMPLE_RAW = (GROUP_MEDIAN, "ridge on the target", "gradient boosting on the target")
# The tutorials trained every model for 200 epochs.
TUTORIAL_EPOCHS = 200
# Seeds per tutorial network: their test MAPE swings with the seed (and some runs
# diverge), so the report takes the median over several; 3 outvote one bad run.
TUTORIAL_SEEDS = 3
# Reference test MAPE (%) on the tutorials' split (published for the tutorial models).
REFERENCE_MAPE = {
    "tutorial MLP (attributes)": 22.71,
    "tutorial CNN (montage)": 56.91,
    "tutorial mixed MLP+CNN": 27.52,
    GROUP_MEDIAN: 35.83,
    RIDGE: 19.65,
    BOOSTING: 20.43,
}
# 2: TensorFlow trains from a cached tf.data pipeline (training/feed.py): another shuffle.
_CACHE_VERSION = 2


def group_median_prices(table, train_rows, test_rows) -> np.ndarray:
    """Predict each test row's target as the median training target of its group (the
    first categorical column's value).

    Groups absent from training, and every row of a dataset without categorical columns,
    get the overall training median.
    """
    frame, target = table.frame, table.schema.target
    train = frame.iloc[np.asarray(train_rows)]
    overall = train[target].median()
    if not table.schema.categorical:
        return np.full(len(test_rows), overall, dtype=np.float64)
    column = table.schema.categorical[0]
    medians = train.groupby(column)[target].median()
    groups = frame[column].iloc[np.asarray(test_rows)]
    return groups.map(medians).fillna(overall).to_numpy(dtype=np.float64)


def _codes(train: pd.DataFrame, part: pd.DataFrame, column: str) -> np.ndarray:
    """Each row's ``column`` value as an index into the training rows' sorted values, -1 if
    new."""
    vocabulary = np.sort(train[column].unique())
    values = part[column].to_numpy()
    index = np.searchsorted(vocabulary, values)
    found = (index < len(vocabulary)) & (
        vocabulary[np.minimum(index, len(vocabulary) - 1)] == values
    )
    return np.where(found, index, -1)


def _numbers(schema, part: pd.DataFrame) -> list[np.ndarray]:
    """The numeric columns, the logged ones as logs (Houses: bedrooms, bathrooms, log area)."""
    return [part[c].to_numpy(dtype=np.float64) for c in schema.linear] + [
        np.log(part[c].to_numpy(dtype=np.float64)) for c in schema.logged
    ]


def ridge_prices(table, train_rows, test_rows, alpha: float = 1.0) -> np.ndarray:
    """Ridge regression on log price (the target itself if not all positive): one-hot
    categories, the numbers, logged ones as logs.

    Args:
        table: The dataset (``houses_tune.data.Table``).
        train_rows: rows to fit on.
        test_rows: rows to predict.
        alpha: ridge penalty (scikit-learn's default; not tuned on the test split).

    Returns:
        Predicted prices in dollars for ``test_rows``.
    """
    from sklearn.linear_model import Ridge

    schema = table.schema
    train = table.frame.iloc[np.asarray(train_rows)]
    test = table.frame.iloc[np.asarray(test_rows)]
    widths = {c: train[c].nunique() for c in schema.categorical}

    def features(part: pd.DataFrame) -> np.ndarray:
        one_hots = [
            (_codes(train, part, c)[:, None] == np.arange(w)[None, :]).astype(float)
            for c, w in widths.items()
        ]
        return np.column_stack([*one_hots, *_numbers(schema, part)] or [np.zeros(len(part))])

    forward, inverse = _target_space(table)
    model = Ridge(alpha=alpha).fit(features(train), forward(train[schema.target]))
    return inverse(model.predict(features(test)))


def boosting_prices(table, train_rows, test_rows, seed: int = 0) -> np.ndarray:
    """scikit-learn's ``HistGradientBoostingRegressor`` on log price (default settings; the
    target itself if not all positive).

    Features: each categorical column as a categorical feature (a new value counts as
    missing), then the numbers, logged ones as logs.
    """
    from sklearn.ensemble import HistGradientBoostingRegressor

    schema = table.schema
    train = table.frame.iloc[np.asarray(train_rows)]
    test = table.frame.iloc[np.asarray(test_rows)]

    def features(part: pd.DataFrame) -> np.ndarray:
        codes = []
        for column in schema.categorical:
            code = _codes(train, part, column).astype(float)
            code[code < 0] = np.nan
            codes.append(code)
        return np.column_stack([*codes, *_numbers(schema, part)] or [np.zeros(len(part))])

    categorical = list(range(len(schema.categorical))) or None
    model = HistGradientBoostingRegressor(categorical_features=categorical, random_state=seed)
    forward, inverse = _target_space(table)
    model.fit(features(train), forward(train[schema.target]))
    return inverse(model.predict(features(test)))


def _target_space(table) -> tuple[Callable, Callable]:
    """What ridge and boosting fit: log price, or the target itself if not all positive."""
    return (np.log, np.exp) if table.positive else (np.asarray, np.asarray)


def simple_labels(table) -> tuple[str, str, str]:
    """The simple baselines' labels: per-group median, ridge, gradient boosting."""
    return SIMPLE if table.positive else SIMPLE_RAW


def simple_prices(table, train_rows, test_rows) -> dict[str, np.ndarray]:
    """The three simple baselines' predictions (they take milliseconds)."""
    group, ridge, boosting = simple_labels(table)
    return {
        group: group_median_prices(table, train_rows, test_rows),
        ridge: ridge_prices(table, train_rows, test_rows),
        boosting: boosting_prices(table, train_rows, test_rows),
    }


@dataclass
class TutorialRun:
    """One tutorial network trained once.

    Attributes:
        label: The baseline's label (``TUTORIALS``).
        seed: Its seed.
        prices: Predicted prices of the test rows.
        cached: Read from the baseline cache instead of trained now.
        trained_at: When it was trained (UTC, ISO 8601).
    """

    label: str
    seed: int
    prices: np.ndarray
    cached: bool
    trained_at: str


def cache_key(houses, preset: str, train_rows, test_rows, seed: int, epochs: int) -> str:
    """What decides a tutorial network's predictions, hashed."""
    import keras

    from houses_tune.versions import package_versions

    described = {
        "version": _CACHE_VERSION,
        "fingerprint": houses.fingerprint,
        "min_zip_count": _filter_key(houses),
        "preset": preset,
        "train": np.asarray(train_rows).tolist(),
        "test": np.asarray(test_rows).tolist(),
        "seed": seed,
        "epochs": epochs,
        "backend": keras.config.backend(),
        "versions": package_versions(),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def _filter_key(table):
    # Houses runs keyed their cache by the zip filter's count alone: kept, so their
    # cached baselines stay valid.
    column, count = table.min_group or (None, 0)
    return count if column in (None, "zipcode") else f"{column}={count}"


@dataclass(frozen=True)
class TutorialJob:
    """One tutorial network to train (or read from the cache): what decides its result."""

    label: str
    preset: str
    train_rows: np.ndarray
    test_rows: np.ndarray
    seed: int


def _cache_path(houses, job: TutorialJob, epochs: int):
    from houses_tune.data.photos import cache_dir

    key = cache_key(houses, job.preset, job.train_rows, job.test_rows, job.seed, epochs)
    return cache_dir() / "baselines" / f"{key}.npz"


def _cached(path, job: TutorialJob) -> TutorialRun | None:
    try:
        with np.load(path) as stored:
            return TutorialRun(job.label, job.seed, stored["prices"], True,
                               str(stored["trained_at"]))  # fmt: skip
    except (OSError, ValueError, KeyError):
        return None  # not cached yet, or damaged: train it


def _store(path, job: TutorialJob, prices: np.ndarray) -> TutorialRun:
    from houses_tune.errors import WriteError
    from houses_tune.run import atomic_path

    trained_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp, open(tmp, "wb") as out:
            np.savez(out, prices=prices, trained_at=np.array(trained_at))
    except (OSError, WriteError):
        pass  # an unwritable cache only costs the next export the training
    return TutorialRun(job.label, job.seed, prices, False, trained_at)


def train_tutorials(
    houses,
    jobs: list[TutorialJob],
    epochs: int,
    listener=None,
    log: Callable[[str], None] = lambda message: None,
    workers: int | None = None,
) -> list[TutorialRun]:
    """Every job's run, in order: read from the baseline cache, else trained.

    The trainings run side by side in worker processes when the machine has the cores
    (``workers``: None = as many as ``baseline_processes.worker_count`` allows, 1 = here,
    one after another, with the listener seeing every epoch).
    """
    from houses_tune.results.baseline_processes import train_in_processes, worker_count

    paths = [_cache_path(houses, job, epochs) for job in jobs]
    runs: dict[int, TutorialRun] = {}
    for index, (job, path) in enumerate(zip(jobs, paths, strict=True)):
        cached = _cached(path, job)
        if cached is not None:
            runs[index] = cached
            if listener is not None:
                listener.model_skipped(f"{job.label}, seed {job.seed}")
    todo = [index for index in range(len(jobs)) if index not in runs]
    workers = worker_count(len(todo)) if workers is None else min(workers, len(todo))
    if workers > 1:
        log(f"training {len(todo)} tutorial networks, {workers} at a time in worker processes")
        pending = [jobs[index] for index in todo]
        for position, prices in train_in_processes(houses, pending, epochs, workers):
            index = todo[position]
            runs[index] = _store(paths[index], jobs[index], prices)
            if listener is not None:
                listener.model_trained(f"{jobs[index].label}, seed {jobs[index].seed}")
    else:
        for index in todo:
            job = jobs[index]
            log(f"{job.label}, seed {job.seed}, {epochs} epochs")
            if listener is not None:
                listener.next_models(f"{job.label}, seed {job.seed}", epochs)
            prices = tutorial_prices(houses, job, epochs, listener)
            runs[index] = _store(paths[index], job, prices)
    return [runs[index] for index in range(len(jobs))]


def tutorial_prices(houses, job: TutorialJob, epochs: int, listener=None) -> np.ndarray:
    """Train ``job``'s tutorial network for ``epochs`` epochs; predict its test rows."""
    import keras_tuner

    from houses_tune.data import ModelData
    from houses_tune.search_spaces import HousesHyperModel, load_space
    from houses_tune.training import train_fold

    train_rows, seed = np.asarray(job.train_rows, dtype=np.int64), job.seed
    hypermodel = HousesHyperModel(load_space(job.preset), ModelData(houses, train_rows), seed=seed)
    hp = keras_tuner.HyperParameters()
    model, _ = train_fold(
        hypermodel, hp, 1, train_rows, np.empty(0, np.int64), epochs, seed=seed, listener=listener
    )
    return hypermodel.predict_prices(hp, model, job.test_rows)


def tutorials_for(table) -> tuple[tuple[str, str], ...]:
    """The tutorial networks a dataset has inputs for: the MLP needs attribute columns,
    the CNN image columns, the mixed network both; all need positive targets (their
    loss is the MAPE)."""
    if not table.positive:
        return ()
    schema = table.schema
    needs = {"tutorial-mlp": (True, False), "tutorial-cnn": (False, True)}
    has = (bool(schema.attributes), bool(schema.images))
    return tuple(
        (label, preset)
        for label, preset in TUTORIALS
        if all(h or not n for h, n in zip(has, needs.get(preset, (True, True)), strict=True))
    )


def split_jobs(train_rows, test_rows, seeds, tutorials=TUTORIALS) -> list[TutorialJob]:
    """Every tutorial network (of ``tutorials``) once per seed on one split."""
    return [
        TutorialJob(label, preset, np.asarray(train_rows), np.asarray(test_rows), seed)
        for label, preset in tutorials
        for seed in seeds
    ]
