"""``houses-tune export``: refit the best trial, evaluate it once on test, write model + report.

The work (final fit, baselines, cross-validation) happens first; then every file is
written into a temporary folder beside the destination and renamed into place at the
end, so an interrupted or failed export leaves no half-written result.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from houses_tune.errors import ExportError

# model.keras and the SavedModel must agree this closely on the test houses.
SAVED_MODEL_TOLERANCE = 1e-4
TOP_TRIALS = 10


@dataclass
class ExportResult:
    """What ``export_run`` wrote.

    Attributes:
        out: the export folder (``model.keras``, ``saved_model/``, reports).
        summary: the content of ``metrics.json``.
    """

    out: Path
    summary: dict


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def choose_trial(trials: list, trial_id: str | None = None):
    """The trial to export: the named one, else the best finished one.

    Args:
        trials: ``TrialRecord`` list, best first (``RunDir.trials()``).
        trial_id: a trial id to export instead of the best.

    Raises:
        ExportError: no finished trial, or no trial with that id.
    """
    scored = _scored(trials)
    if trial_id is None:
        if not scored:
            raise ExportError("the run has no finished trial with a score to export")
        return scored[0]
    for trial in trials:
        # "7" names trial "0007", as people read the ids off a sorted table.
        if str(trial.trial_id) == str(trial_id) or _same_number(trial.trial_id, trial_id):
            if trial not in scored:
                raise ExportError(f"trial {trial_id} has no score (status {trial.status})")
            return trial
    known = ", ".join(str(t.trial_id) for t in scored[:5]) or "none has a score yet"
    raise ExportError(f"no trial {trial_id!r} in this run (best ones: {known})")


def _same_number(a, b) -> bool:
    a, b = str(a), str(b)
    return a.isdigit() and b.isdigit() and int(a) == int(b)


def cross_validate(space, houses, hp, epochs: int, k: int, seed: int = 0, log=_stderr) -> dict:
    """K-fold cross-validated test MAPE of one configuration on all filtered houses.

    Each fold refits preprocessing and the target transform on its own training part.

    Returns:
        ``{"k", "houses", "fold_sizes", "fold_mape", "mape_mean", "mape_std"}``.
    """
    from sklearn.model_selection import KFold

    from houses_tune.results.metrics import mape
    from houses_tune.results.refit import fit_configuration

    sizes, scores = [], []
    folds = KFold(n_splits=k, shuffle=True, random_state=seed).split(np.arange(len(houses)))
    for fold, (train, test) in enumerate(folds, start=1):
        log(f"cross-validation fold {fold}/{k}: {len(train)} train, {len(test)} test houses")
        fitted = fit_configuration(space, houses, train, hp, epochs, seed)
        scores.append(mape(houses.frame["price"].to_numpy()[test], fitted.predict(test)))
        sizes.append(int(len(test)))
    return {
        "k": k,
        "houses": len(houses),
        "fold_sizes": sizes,
        "fold_mape": scores,
        "mape_mean": float(np.mean(scores)),
        "mape_std": float(np.std(scores)),
    }


def check_destination(destination: Path) -> None:
    """Refuse an export path that is a file: checked before the training and when writing.

    Raises:
        ExportError: ``destination`` exists and is not a folder.
    """
    if destination.exists() and not destination.is_dir():
        raise ExportError(f"{destination}: exists and is not a folder")


@contextmanager
def staged_folder(destination: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder that replaces ``destination`` when the block succeeds.

    The temporary folder sits beside the destination (same file system, so the final
    rename is atomic) and is removed if the block raises, including on Ctrl-C.
    """
    check_destination(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent))
    umask = os.umask(0)
    os.umask(umask)
    temp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; the export is an ordinary folder
    try:
        yield temp
        if destination.exists():
            # A folder cannot be replaced by rename: move the old one aside first.
            old = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=destination.parent))
            os.replace(destination, old / destination.name)
            os.replace(temp, destination)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, destination)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def export_run(
    run: str | Path,
    out: str | Path | None = None,
    trial_id: str | None = None,
    cv: int = 0,
    seed: int = 0,
    baselines: bool = True,
    baseline_epochs: int | None = None,
    baseline_seeds: int | None = None,
    log: Callable[[str], None] = _stderr,
) -> ExportResult:
    """Refit a run's best (or named) trial, evaluate it on test, write model and report.

    Args:
        run: run folder (``results/<run>``).
        out: export folder; default ``<run>/best``. Replaced as a whole if it exists.
        trial_id: export this trial instead of the best.
        cv: when >= 2, also report K-fold cross-validated MAPE of the configuration.
        seed: seed of the final fit, the first tutorial baseline run and the CV folds.
        baselines: also train the three tutorial networks (the per-zip median and
            ridge baselines are always computed: they take milliseconds).
        baseline_epochs: epochs of each tutorial network (default: the tutorials' 200).
        baseline_seeds: train each tutorial network with seeds ``seed, seed + 1, ...``
            (default 3) and score it by the median test MAPE over them.
        log: progress callback (stderr by default).

    Returns:
        The folder written and the summary (``metrics.json``).

    Raises:
        RunError: ``run`` is not a run folder.
        ExportError: no trial to export, or the exported files disagree.
    """
    import keras_tuner

    from houses_tune.results import baselines as base
    from houses_tune.results.metrics import price_metrics
    from houses_tune.results.refit import fit_configuration
    from houses_tune.results.run_dir import RunDir
    from houses_tune.results.serving import build_serving_model

    started = time.perf_counter()
    run_dir = RunDir(run)
    run = Path(run)
    out = Path(out) if out is not None else run / "best"
    check_destination(out)
    baseline_epochs = base.TUTORIAL_EPOCHS if baseline_epochs is None else baseline_epochs
    baseline_seeds = base.TUTORIAL_SEEDS if baseline_seeds is None else baseline_seeds
    if baseline_seeds < 1:
        raise ExportError(f"--baseline-seeds must be at least 1, got {baseline_seeds}")
    seeds = [seed + i for i in range(baseline_seeds)]
    trials = run_dir.trials()
    record = choose_trial(trials, trial_id)
    houses, splits, space = run_dir.load_houses(), run_dir.splits, run_dir.space()
    if cv and not 2 <= cv <= len(houses):  # checked before hours of training, not after
        raise ExportError(f"--cv must be between 2 and {len(houses)} (the houses), got {cv}")
    hp = keras_tuner.HyperParameters.from_config(record.hp_config)
    refit_rows = np.concatenate([splits.train, splits.val]).astype(np.int64)
    test_rows = np.asarray(splits.test, dtype=np.int64)
    epochs = int(record.best_epoch or record.epochs or 1)

    log(f"final fit: trial {record.trial_id}, {epochs} epochs on {len(refit_rows)} houses")
    fitted = fit_configuration(space, houses, refit_rows, hp, epochs, seed)
    model = build_serving_model(fitted.model, fitted.data.preprocessor, fitted.transform)
    test = houses.frame.iloc[test_rows].reset_index(drop=True)
    inputs = _test_inputs(model, houses, test_rows)
    predicted = model.predict(inputs, verbose=0).reshape(-1).astype(np.float64)
    if not np.isfinite(predicted).all():  # a diverged refit: say so before the baselines run
        raise ExportError(
            f"the refit of trial {record.trial_id} diverged (non-finite test predictions); "
            "try another --seed or --trial"
        )

    log("baselines" + ("" if baselines else " (simple ones only: --no-baselines)"))
    baseline_prices = base.run_baselines(
        houses, refit_rows, test_rows, baseline_epochs, seeds, tutorials=baselines, log=log
    )
    cv_result = cross_validate(space, houses, hp, epochs, cv, seed, log) if cv else None

    with staged_folder(out) as temp:
        log(f"writing {out}")
        model.save(temp / "model.keras")
        saved_difference = _write_and_check_saved_model(temp, inputs, predicted)
        frame = _predictions_frame(test, predicted)
        frame.to_csv(temp / "predictions.csv", index=False)
        test_metrics = price_metrics(frame["price"], frame["predicted"], frame["zipcode"])
        summary = {
            "run": str(run),
            "trial": _trial_summary(record, epochs),
            "seed": seed,
            "test": test_metrics,
            "baselines": _baseline_summary(
                frame["price"], test_metrics["mape"], baseline_prices, seeds
            ),
            "baseline_epochs": baseline_epochs if baselines else None,
            "cv": cv_result,
            **_data_summary(houses, splits),
            "top_trials": [_trial_summary(t) for t in _scored(trials)[:TOP_TRIALS]],
            "trials": {"total": len(trials), "scored": len(_scored(trials))},
            "timing": {
                "search_seconds": _search_seconds(run_dir.settings),
                "export_seconds": round(time.perf_counter() - started, 1),
            },
            "versions": _versions(),
            "search_versions": run_dir.settings.get("versions"),
            "saved_model_max_relative_difference": saved_difference,
            "final_fit_history": _jsonable(fitted.history),
        }
        _write_report(temp, summary, frame, fitted.history, trials, record)
    return ExportResult(out, summary)


def _test_inputs(model, houses, rows: np.ndarray) -> dict[str, np.ndarray]:
    from houses_tune.results.serving import photo_tile, raw_inputs

    tile = photo_tile(model)
    photos = houses.photos(tile)[rows] if tile else None
    return raw_inputs(model, houses.frame.iloc[rows], photos)


def _write_and_check_saved_model(folder: Path, inputs: dict, expected: np.ndarray) -> float:
    """Reload ``model.keras`` safely, write the SavedModel, check both give ``expected``."""
    from houses_tune.results.serving import (
        export_saved_model,
        load_exported_model,
        saved_model_prices,
    )

    reloaded = load_exported_model(folder / "model.keras")
    export_saved_model(reloaded, folder / "saved_model")
    for name, got in (
        ("model.keras", reloaded.predict(inputs, verbose=0).reshape(-1)),
        ("saved_model", saved_model_prices(folder / "saved_model", inputs)),
    ):
        difference = float(np.max(np.abs(got - expected) / np.abs(expected)))
        if not difference < SAVED_MODEL_TOLERANCE:
            raise ExportError(
                f"{name} predictions differ from the trained model's by {difference:.2e} "
                f"(relative, more than {SAVED_MODEL_TOLERANCE})"
            )
    return difference


def _predictions_frame(test: pd.DataFrame, predicted: np.ndarray) -> pd.DataFrame:
    """Test rows with predictions rounded to cents; metrics are computed from this frame,
    so every number of metrics.json can be recomputed from predictions.csv."""
    from houses_tune.results.metrics import percentage_errors

    frame = test[["house", "bedrooms", "bathrooms", "area", "zipcode", "price"]].copy()
    frame["predicted"] = np.round(predicted, 2)
    frame["error_pct"] = percentage_errors(frame["price"], frame["predicted"])
    return frame


def _scored(trials: list) -> list:
    return [t for t in trials if t.score is not None and np.isfinite(t.score)]


def _trial_summary(record, epochs_refit: int | None = None) -> dict:
    summary = {
        "id": str(record.trial_id),
        "val_mape": record.score,
        "epochs": record.epochs,
        "best_epoch": record.best_epoch,
        # The active values, without KerasTuner's tuner/* bookkeeping.
        "hyperparameters": _jsonable(dict(record.hyperparameters)),
    }
    if epochs_refit is not None:
        summary["epochs_refit"] = epochs_refit
    return summary


def _baseline_summary(actual, ours: float, baseline_prices: dict, seeds: list[int]) -> dict:
    """Score each baseline by its median test MAPE over its runs; the verdict uses it.

    A tutorial network's entry also records ``seeds`` and the MAPE of each (``seed_mape``).
    """
    from houses_tune.results.baselines import REFERENCE_MAPE, TUTORIALS
    from houses_tune.results.metrics import mape

    summary = {}
    for label, runs in baseline_prices.items():
        # A diverged run (NaN predictions) counts as infinitely wrong, so the median
        # still ignores it and the reported range ends at inf instead of NaN.
        scores = [float(np.nan_to_num(mape(actual, prices), nan=np.inf)) for prices in runs]
        score = float(np.median(scores))
        summary[label] = {
            "test_mape": score,
            "beaten": bool(ours < score),
            "reference_mape": REFERENCE_MAPE.get(label),
        }
        if label in dict(TUTORIALS):
            summary[label] |= {"seeds": list(seeds), "seed_mape": scores}
    return summary


def _data_summary(houses, splits) -> dict:
    return {
        "dataset": {
            "folder": str(houses.folder),
            "fingerprint": houses.fingerprint,
            "houses_total": houses.total,
            "houses": len(houses),
            "min_zip_count": houses.min_zip_count,
            "zip_codes": int(houses.frame["zipcode"].nunique()),
        },
        "split": {
            "train": len(splits.train),
            "val": len(splits.val),
            "test": len(splits.test),
            "refit": len(splits.train) + len(splits.val),
        },
    }


def _write_report(folder, summary, frame, history, trials, record) -> None:
    from houses_tune.results import plots
    from houses_tune.results.report import render_html, render_markdown

    scored = _scored(trials)
    best = next((i for i, t in enumerate(scored) if t.trial_id == record.trial_id), None)
    images = {
        "predicted_vs_actual": plots.predicted_vs_actual(frame["price"], frame["predicted"]),
        "error_distribution": plots.error_distribution(frame["error_pct"]),
        "learning_curves": plots.learning_curves(history),
        "trials": plots.trials_scatter([t.epochs for t in scored], [t.score for t in scored], best),
    }
    (folder / "plots").mkdir()
    for name, png in images.items():
        (folder / "plots" / f"{name}.png").write_bytes(png)
    (folder / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    (folder / "report.md").write_text(render_markdown(summary, list(images)))
    (folder / "report.html").write_text(render_html(summary, images))


def _search_seconds(settings: dict) -> float | None:
    timing = settings.get("timing") or {}
    for key in ("elapsed_s", "elapsed_seconds"):
        if isinstance(timing.get(key), (int, float)):
            return float(timing[key])
    return None


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("houses-tune", "keras", "tensorflow", "keras-tuner", "numpy", "scikit-learn"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def _jsonable(value):
    """numpy scalars and arrays -> plain Python, recursively (json.dumps rejects them)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
