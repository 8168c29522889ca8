"""``export --cv K``: the whole pipeline and every baseline, scored on the same K folds.

Each outer fold (``KFold(K, shuffle=True, random_state=seed)`` over all the houses after the
zip filter) holds out its test houses; the exported pipeline is trained anew on the others
exactly as the search trained it, or as export trained the bag it ships when that trained
its own (the chosen configurations, one model per inner fold, each stopped early on its
own rows, bagged, in the precision of the models shipped), and so is every baseline. The
tutorial networks train once per outer fold (with ``seed``): the spread over folds shows
their instability, and their results are cached like the split's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from houses_tune.results.baselines import (
    TutorialJob,
    simple_labels,
    simple_prices,
    train_tutorials,
    tutorials_for,
)

EXPORTED = "exported model"


def outer_folds(n: int, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` rows of each outer fold."""
    from sklearn.model_selection import KFold

    splitter = KFold(n_splits=k, shuffle=True, random_state=seed)
    return [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(np.arange(n))]


def inner_folds(train: np.ndarray, search: dict) -> list[tuple[np.ndarray, np.ndarray]]:
    """The search's folds (count, val_size, val_seed) made over ``train``."""
    from houses_tune.data import make_folds

    folds = make_folds(train, search["folds"], search.get("val_size", 0.2), search["val_seed"])
    return [(train[~np.isin(train, val)], val) for val in folds]


def cross_validate(
    houses,
    space,
    trials: list,
    k: int,
    *,
    search: dict,
    seed: int = 0,
    refit: bool = False,
    stopping: tuple[int, int] | None = None,
    precision: str = "float32",
    tutorials: bool = True,
    baseline_epochs: int = 200,
    baseline_workers: int | None = None,
    listener=None,
    log: Callable[[str], None] = lambda message: None,
) -> dict:
    """K-fold score (the dataset's objective) of the exported pipeline and of every
    baseline, on the same folds.

    Args:
        houses: The run's dataset (``Table``).
        space: The run's search space.
        trials: The exported trials (their configurations are bagged).
        k: Outer folds.
        search: The run's search settings (inner folds, patience).
        seed: Seed of the outer folds and of every model.
        refit: Score the fixed-epoch refit pipeline instead of the bag.
        stopping: ``(patience, epochs)`` of each fold model of the bag (``train_members``);
            None: the search's patience and each trial's epochs.
        precision: The dtype policy the pipeline trains and predicts with (that of the
            shipped models, ``ExportOptions.precision``; the baselines keep float32, as their
            cache assumes).
        tutorials: Also the tutorial networks.
        baseline_epochs: Epochs of each tutorial network.
        baseline_workers: Tutorial networks trained at once (``train_tutorials``).
        listener: Training progress.
        log: One line per step.

    Returns:
        ``{"k", "houses", "fold_sizes", "models": {label: {"fold_scores", "score_mean",
        "score_std"}}, "ridge", "difference_to_ridge", "folds_won_vs_ridge"}``; the
        exported pipeline is ``models["exported model"]``, ``ridge`` its label.
    """
    from houses_tune.data import ModelData
    from houses_tune.results.bag import member_prices, refit_member, train_members
    from houses_tune.search_spaces import HousesHyperModel
    from houses_tune.tuner.devices import dtype_policy

    scores: dict[str, list[float]] = {}
    networks = tutorials_for(houses)
    sizes = []
    folds = outer_folds(len(houses), k, seed)
    runs = []
    if tutorials:  # all folds' networks at once, fold by fold: they may train side by side
        jobs = [
            TutorialJob(label, preset, train, test, seed)
            for train, test in folds
            for label, preset in networks
        ]
        runs = train_tutorials(houses, jobs, baseline_epochs, listener, log, baseline_workers)
    for index, (train, test) in enumerate(folds, start=1):
        log(f"cross-validation fold {index}/{k}: {len(test)} test houses")
        actual = houses.targets[test]
        hypermodel = HousesHyperModel(
            space, ModelData(houses, train, search.get("weights")), seed=seed
        )
        with dtype_policy(precision):
            if refit:
                members = [refit_member(hypermodel, t, train, seed, listener) for t in trials]
            else:
                patience, epochs = stopping or (search["patience"], 0)
                members = train_members(
                    hypermodel, trials, inner_folds(train, search), patience, seed, listener,
                    epochs=epochs,
                )  # fmt: skip
            predicted = {EXPORTED: member_prices(hypermodel, members, test)}
        predicted.update(simple_prices(houses, train, test))
        fold_runs = runs[(index - 1) * len(networks) : index * len(networks)]
        predicted.update({run.label: run.prices for run in fold_runs})
        for label, prices in predicted.items():
            value = houses.objective.score(actual, prices)
            scores.setdefault(label, []).append(float(np.nan_to_num(value, nan=np.inf)))
        sizes.append(int(len(test)))
    ridge = simple_labels(houses)[1]
    difference = [a - b for a, b in zip(scores[EXPORTED], scores[ridge], strict=True)]
    return {
        "k": k,
        "houses": len(houses),
        "seed": seed,
        "fold_sizes": sizes,
        "models": {
            label: {
                "fold_scores": values,
                "score_mean": float(np.mean(values)),
                "score_std": float(np.std(values)),
            }
            for label, values in scores.items()
        },
        "ridge": ridge,
        "difference_to_ridge": difference,
        "folds_won_vs_ridge": int(sum(d < 0 for d in difference)),
    }
