"""The content of an export's metrics.json: every number the report shows."""

from __future__ import annotations

import numpy as np

from houses_tune.results.metrics import price_metrics


def summarize(
    run_dir,
    options,
    chosen,
    members,
    trials,
    houses,
    splits,
    table,
    simple,
    tutorial,
    seeds,
    cv,
    saved_model_difference,
    export_seconds,
    candidates=(),
) -> dict:
    """Assemble metrics.json.

    Args:
        run_dir: The ``RunDir``.
        options: The ``ExportOptions``.
        chosen: The exported trials.
        members: The bag's ``Member``s.
        trials: Every trial of the run, best first.
        houses: The dataset.
        splits: The run's splits.
        table: predictions.csv as a frame (id, attributes, target, predicted, error).
        simple: Simple baseline label -> test prices.
        tutorial: ``TutorialRun``s on the split.
        seeds: The tutorial networks' seeds.
        cv: The cross-validation result, or None.
        saved_model_difference: Largest relative difference of model.keras (and the
            SavedModel) from the trained model on the test houses.
        export_seconds: Wall time of the export so far.
        candidates: With ``--candidates``: every ``Candidate`` trained, best first.
    """
    import keras

    from houses_tune.results.comparison import verdict
    from houses_tune.versions import package_versions

    schema, objective = houses.schema, houses.objective
    group = schema.categorical[0] if schema.categorical else None
    actual = table[schema.target].to_numpy()
    groups = table[group] if group else None
    test = price_metrics(actual, table["predicted"], groups, objective, houses.positive)
    from houses_tune.data import HOUSES_SCHEMA
    from houses_tune.results.baselines import REFERENCE_MAPE

    # The published figures are the tutorials' split of the Houses Dataset's.
    houses_dataset = schema == HOUSES_SCHEMA
    references = REFERENCE_MAPE if houses_dataset else {}
    items = "houses" if houses_dataset else "rows"  # what the report calls the rows
    baselines, errors = _baselines(
        objective, actual, test["score"], simple, tutorial, seeds, references
    )
    ours = objective.errors(actual, table["predicted"])
    scored = [t for t in trials if t.score is not None]
    stopping = options.stopping()
    return {
        "objective": objective.name,
        "run": str(run_dir.path),
        "run_status": run_dir.status,
        "exported": {
            "kind": "refit" if options.refit else "bag",
            "members": len(members),
            # Who trained the bag: the search (as it scored it) or this export, for longer.
            "trained_by": "export" if stopping or options.refit else "search",
            "patience": stopping[0] if stopping else None,
            "max_epochs": stopping[1] if stopping else None,
            "best_epochs": [m.best_epoch for m in members],
            "epochs": [len(m.history.get("loss", [])) or None for m in members],
            "folds": run_dir.folds,
            "trials": [trial_summary(t) for t in chosen],
            # With --candidates: the configurations whose bags were trained to choose from.
            "candidates": [
                {
                    "id": str(c.trial.trial_id),
                    "search_score": c.trial.score,
                    "bag_score": c.score,
                    "shipped": c.trial in chosen,
                }
                for c in candidates
            ],
        },
        "seed": options.seed,
        "test": test,
        "baselines": baselines,
        "baseline_epochs": options.baseline_epochs if options.baselines else None,
        "verdict": verdict(
            {"n": len(actual), "ours": ours, "baselines": errors, "items": items}, cv, objective
        ),
        "cv": cv,
        "dataset": {
            "folder": str(houses.source),
            "fingerprint": houses.fingerprint,
            "houses_total": houses.total,
            "houses": len(houses),
            "min_group_count": list(houses.min_group) if houses.min_group else None,
            "group_column": group,
            "groups": int(houses.frame[group].nunique()) if group else None,
            "target": schema.target,
            "positive": houses.positive,  # every target > 0: log-space bag, percentages
            "items": items,
        },
        "split": {
            "search": len(splits.search),
            "test": len(splits.test),
            "folds": len(splits.folds),
            "validation_sizes": [len(f) for f in splits.folds],
        },
        "top_trials": [trial_summary(t) for t in scored[:10]],
        "trials": {
            "total": len(trials),
            "scored": len(scored),
            "complete": sum(1 for t in trials if t.complete),
        },
        "timing": {
            "search_seconds": run_dir.elapsed,
            "export_seconds": round(export_seconds, 1),
        },
        "backend": keras.config.backend(),
        "versions": package_versions(),
        "search_versions": run_dir.settings.get("versions"),
        "saved_model": options.saved_model,
        "max_relative_difference": saved_model_difference,
    }


def _baselines(
    objective, actual, ours: float, simple: dict, tutorial: list, seeds: list, references: dict
):
    """Each baseline's test score (a tutorial network's: the median over its seeds) and
    verdict; also the per-row errors of each (the median seed's) for the comparison."""
    from houses_tune.results.baselines import TUTORIALS

    summary, errors = {}, {}
    for label, _ in TUTORIALS:
        runs = [r for r in tutorial if r.label == label]
        if not runs:
            continue
        # A diverged run (NaN predictions) counts as infinitely wrong, so the median
        # still ignores it and the reported range ends at inf instead of NaN.
        scores = [float(np.nan_to_num(objective.score(actual, r.prices), nan=np.inf)) for r in runs]
        median = int(np.argsort(scores)[len(scores) // 2])
        score = float(np.median(scores))
        summary[label] = {
            "test_score": score,
            "beaten": bool(ours < score),
            "reference_mape": references.get(label),
            "seeds": list(seeds),
            "seed_scores": scores,
            "cached": [r.cached for r in runs],
        }
        errors[label] = np.nan_to_num(objective.errors(actual, runs[median].prices), nan=np.inf)
    for label, prices in simple.items():
        score = objective.score(actual, prices)
        summary[label] = {
            "test_score": score,
            "beaten": bool(ours < score),
            "reference_mape": references.get(label),
        }
        errors[label] = objective.errors(actual, prices)
    return summary, errors


def trial_summary(record) -> dict:
    """A trial as metrics.json shows it."""
    return {
        "id": str(record.trial_id),
        "val_score": record.score,
        "val_score_std": record.score_std,
        "fold_scores": [f.score for f in record.folds],
        "epochs": record.epochs,
        "best_epoch": record.best_epoch,
        # The active values, without KerasTuner's tuner/* bookkeeping.
        "hyperparameters": _jsonable(dict(record.hyperparameters)),
    }


def _jsonable(value):
    """numpy scalars and arrays -> plain Python, recursively (json.dumps rejects them)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
