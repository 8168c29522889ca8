"""Is the exported model better than the best baseline? One sentence, noise included.

On the test split the comparison is paired, house by house: the mean difference of the
absolute (percentage, for MAPE) errors and its standard error over the test houses. With
cross-validation it is paired fold by fold. A difference smaller than two standard errors
is not called a win (or a loss): on 91 houses a 0.2-point gap is noise.
"""

from __future__ import annotations

import math

import numpy as np

from houses_tune.objective import MAPE, Objective

#: A difference counts when it is this many standard errors away from zero.
NOISE_STANDARD_ERRORS = 2.0


def paired(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float]:
    """Mean of ``ours - theirs`` and its standard error (0 with fewer than two pairs)."""
    difference = np.asarray(ours, dtype=np.float64) - np.asarray(theirs, dtype=np.float64)
    if len(difference) < 2:
        return float(difference.mean()), 0.0
    return float(difference.mean()), float(difference.std(ddof=1) / math.sqrt(len(difference)))


def call(mean: float, error: float) -> str:
    """``"better"``, ``"worse"`` or ``"not clearly different"`` (lower is better)."""
    if mean + NOISE_STANDARD_ERRORS * error < 0:
        return "better"
    if mean - NOISE_STANDARD_ERRORS * error > 0:
        return "worse"
    return "not clearly different"


def verdict(test: dict, cv: dict | None, objective: Objective = MAPE) -> dict:
    """The headline comparison with the best baseline.

    Args:
        test: ``{"n", "ours": errors per test house, "baselines": {label: errors}}``
            (``Objective.errors``).
        cv: The cross-validation result (``crossval.cross_validate``), or None.
        objective: What the errors and scores are.

    Returns:
        ``{"baseline", "call", "basis" ("cv" or "test"), "difference", "standard_error",
        "folds_won", "k", "sentence"}``.
    """
    from houses_tune.results.crossval import EXPORTED

    if cv:
        models = {k: v for k, v in cv["models"].items() if k != EXPORTED}
        best = min(models, key=lambda label: models[label]["score_mean"])
        ours, theirs = cv["models"][EXPORTED]["fold_scores"], models[best]["fold_scores"]
        mean, error = paired(ours, theirs)
        won = sum(a < b for a, b in zip(ours, theirs, strict=True))
        basis, k = "cv", cv["k"]
        ours_text = objective.format(cv["models"][EXPORTED]["score_mean"])
        theirs_text = objective.format(models[best]["score_mean"])
        where = f"{k}-fold cross-validated {objective.label}"
        detail = f"better on {won} of {k} folds"
    else:
        ours = test["ours"]
        best = min(test["baselines"], key=lambda label: np.mean(test["baselines"][label]))
        mean, error = paired(ours, test["baselines"][best])
        won, k, basis = None, None, "test"
        ours_text = objective.format(float(np.mean(ours)))
        theirs_text = objective.format(float(np.mean(test["baselines"][best])))
        items = test.get("items", "houses")
        where = f"test {objective.label} on {test['n']} {items}"
        detail = f"paired over the test {items}"
    outcome = call(mean, error)
    numbers = (
        f"{where} {ours_text} vs {theirs_text} ({objective.difference(mean)} ± "
        f"{objective.number(error)} standard error, {detail})"
    )
    if outcome == "better":
        sentence = f"The exported model is better than the best baseline, {best}: {numbers}."
    elif outcome == "worse":
        sentence = f"The exported model is worse than the best baseline, {best}: {numbers}."
    else:
        sentence = (
            f"The exported model is not clearly better or worse than the best baseline, "
            f"{best}: {numbers}; the difference is within the noise"
            + ("." if cv else ' of one split ("houses-tune export --cv 5" compares on 5 folds).')
        )
    return {
        "baseline": best,
        "call": outcome,
        "basis": basis,
        "difference": mean,
        "standard_error": error,
        "folds_won": won,
        "k": k,
        "sentence": sentence,
    }
