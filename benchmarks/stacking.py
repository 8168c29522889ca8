"""Would blending the bag with ridge or gradient boosting help? Measured, not shipped.

Takes a finished run (e.g. one ``benchmarks/quality.py --results-dir`` kept) and scores,
on the tutorial split and on the export's 5 outer folds, the bag of the search's fold
models alone (``export --max-epochs 0``), ridge and gradient boosting on log price alone,
and geometric-mean blends of the bag with them:
fixed weights (1/2, 1/3) and weights chosen on out-of-fold predictions of the rows the
bag was trained on (the search's folds for the split; inside each outer fold, the same
inner folds the export's cross-validation trains the bag on), as a stacking ensemble
would choose them. The outer test rows never decide a weight. Not a test: run it by
hand, e.g.

    python benchmarks/quality.py --seeds 0 --no-baselines --results-dir runs
    python benchmarks/stacking.py runs/quality-0
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

WEIGHTS = np.round(np.arange(0.0, 1.0001, 0.05), 2)


def _blend(prices: list, weights) -> np.ndarray:
    return np.exp(sum(w * np.log(p) for w, p in zip(weights, prices, strict=True)))


def _scores(actual_oof, oof: dict, actual, test: dict) -> dict:
    """Test MAPE of each model and blend; blend weights chosen on the out-of-fold rows."""
    from houses_tune.objective import MAPE

    _mape = MAPE.score
    pair, triple = ("bag", "ridge"), ("bag", "ridge", "boosting")
    candidates = {
        pair: [(round(1 - w, 2), w) for w in WEIGHTS],
        triple: [(round(1 - a - b, 2), a, b) for a in WEIGHTS for b in WEIGHTS if a + b <= 1.0001],
    }
    chosen = {
        models: min(weights, key=lambda w: _mape(actual_oof, _blend([oof[m] for m in models], w)))
        for models, weights in candidates.items()
    }
    blends = {
        "bag + ridge, 1/2 each": (pair, (0.5, 0.5)),
        "bag + ridge + boosting, 1/3 each": (triple, (1 / 3,) * 3),
        "bag + ridge, weight chosen": (pair, chosen[pair]),
        "bag + ridge + boosting, weights chosen": (triple, chosen[triple]),
    }
    scores = {name: _mape(actual, test[name]) for name in triple}
    for name, (models, weights) in blends.items():
        scores[name] = _mape(actual, _blend([test[m] for m in models], weights))
    scores["weights"] = {" + ".join(models): w for models, w in chosen.items()}
    return scores


def _predictions(houses, hypermodel, members, folds, train, rows) -> tuple[dict, np.ndarray, dict]:
    """Out-of-fold prices of the bag (each member on its own validation rows), ridge and
    boosting (fit on each fold's other rows) over ``folds``, and their prices for ``rows``
    (ridge and boosting fit on all of ``train``)."""
    from houses_tune.results.bag import member_prices
    from houses_tune.results.baselines import boosting_prices, ridge_prices

    by_fold = {}
    for member in members:
        by_fold.setdefault(member.fold, []).append(member)
    oof = {
        "bag": np.concatenate(
            [member_prices(hypermodel, by_fold[k], val) for k, (_, val) in enumerate(folds, 1)]
        ),
        "ridge": np.concatenate([ridge_prices(houses, fit, val) for fit, val in folds]),
        "boosting": np.concatenate([boosting_prices(houses, fit, val) for fit, val in folds]),
    }
    test = {
        "bag": member_prices(hypermodel, members, rows),
        "ridge": ridge_prices(houses, train, rows),
        "boosting": boosting_prices(houses, train, rows),
    }
    return oof, np.concatenate([val for _, val in folds]), test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished run folder")
    parser.add_argument("--ensemble", type=int, default=1, help="configurations in the bag")
    parser.add_argument("--cv", type=int, default=5, help="outer folds (export --cv)")
    args = parser.parse_args()

    from finished_run import FinishedRun

    started = time.perf_counter()
    load = os.getloadavg()[0]
    run = FinishedRun(args.run, args.ensemble)
    houses, y = run.houses, run.houses.targets

    results = []
    hypermodel, folds, members = run.shipped()
    splits = run.splits
    oof, oof_rows, test = _predictions(
        houses, hypermodel, members, folds, splits.search, splits.test
    )
    results.append(("split", _scores(y[oof_rows], oof, y[splits.test], test)))
    for k, (hypermodel, inner, train, held_out) in enumerate(run.outer_folds(args.cv), 1):
        members = run.train(hypermodel, inner, 0)
        oof, oof_rows, test = _predictions(houses, hypermodel, members, inner, train, held_out)
        results.append((f"fold {k}", _scores(y[oof_rows], oof, y[held_out], test)))
        print(f"outer fold {k}/{args.cv} done ({time.perf_counter() - started:.0f} s)", flush=True)

    ids = ", ".join(t.trial_id for t in run.chosen)
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPU cores, load {load:.2f} at the "
          f"start; run {args.run} (trial{'s' * (len(run.chosen) > 1)} {ids}); "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    split, cv = results[0][1], [r for _, r in results[1:]]
    print(f"{'model':<40} {'test MAPE':>9} {'CV mean ± std':>15}   per fold")
    for name in (n for n in split if n != "weights"):
        values = [r[name] for r in cv]
        print(f"{name:<40} {split[name]:8.2f}% {np.mean(values):7.2f} ± {np.std(values):4.2f}   "
              + " ".join(f"{v:5.2f}" for v in values))  # fmt: skip
    for blend in split["weights"]:
        chosen_weights = [split["weights"][blend]] + [r["weights"][blend] for r in cv]
        print(
            f"weights (bag, ridge[, boosting]) of {blend}, split then folds: "
            + "; ".join("/".join(f"{w:.2f}" for w in ws) for ws in chosen_weights)
        )


if __name__ == "__main__":
    main()
