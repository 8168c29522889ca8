"""Would choosing the bag's configurations greedily, or rescaling its prices, help?
Measured, not shipped.

Takes a finished run (e.g. one ``benchmarks/quality.py --results-dir`` kept) and scores,
on the tutorial split and on the export's 5 outer folds:

- the search's bag (the best configuration's fold models, ``export --max-epochs 0``) and
  the 3 best bagged (``export --max-epochs 0 --ensemble 3``);
- greedy ensemble selection (Caruana et al., 2004): starting from nothing, add, with
  replacement, the configuration that most lowers the out-of-fold MAPE of the weighted
  geometric mean, over the ``--candidates`` best trials that trained every fold;
- each of them times one factor fitted on its out-of-fold predictions: MAPE's best
  constant scale (the weighted median of actual / predicted, weights predicted / actual).
  A bag trained on log price aims at the median price; MAPE, which punishes
  over-prediction more, would for log-normal errors of spread s rather have the median
  times exp(-s²).

The configurations and weights come from the search's out-of-fold predictions (as
``export --cv`` reuses the search's choice); the factor is fitted again in each outer
fold on the out-of-fold predictions of its inner folds. On the split the members are
the search's own fold models. The outer test rows decide nothing. Not a test: run it by
hand, e.g.

    python benchmarks/quality.py --seeds 0 --no-baselines --results-dir runs
    python benchmarks/ensemble_selection.py runs/quality-0
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np


def _mape(actual, log_price) -> float:
    from houses_tune.objective import MAPE

    return MAPE.score(actual, np.exp(log_price))


def _log_prices(hypermodel, members, folds, rows, test) -> tuple[np.ndarray, np.ndarray]:
    """One configuration's ln price of each of ``rows`` by the fold model that held it out,
    and of ``test`` by the bag of its fold models."""
    position = {int(r): i for i, r in enumerate(rows)}
    out_of_fold, bagged = np.zeros(len(rows)), []
    for m in members:
        val = folds[m.fold - 1][1]
        predicted = hypermodel.predict_prices(m.hp, m.network, np.concatenate([val, test]))
        logs = np.log(np.maximum(predicted, 1.0))
        out_of_fold[[position[int(r)] for r in val]] = logs[: len(val)]
        bagged.append(logs[len(val) :])
    return out_of_fold, np.mean(bagged, axis=0)


def greedy_weights(actual, out_of_fold: np.ndarray, steps: int) -> np.ndarray:
    """Caruana's selection with replacement: weights (summing to 1) over the rows of
    ``out_of_fold`` (one per configuration: ln prices of the same houses)."""
    counts = np.zeros(len(out_of_fold))
    for step in range(steps):
        blends = (counts @ out_of_fold + out_of_fold) / (step + 1)
        counts[int(np.argmin([_mape(actual, b) for b in blends]))] += 1
    return counts / steps


def mape_scale(actual, log_price) -> float:
    """The constant c minimising the MAPE of c * prices: a weighted median."""
    predicted = np.exp(log_price)
    ratio, weight = actual / predicted, predicted / actual
    order = np.argsort(ratio)
    cumulative = np.cumsum(weight[order])
    return float(ratio[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _scores(methods: dict, actual_oof, oof: dict, actual, test: dict) -> dict:
    """``{method: (MAPE, MAPE rescaled, scale)}`` on the held-out rows."""
    scores = {}
    for name, weights in methods.items():
        blend = sum(w * oof[t] for t, w in weights.items())
        scale = mape_scale(actual_oof, blend)
        held_out = sum(w * test[t] for t, w in weights.items())
        scores[name] = (
            _mape(actual, held_out),
            _mape(actual, held_out + np.log(scale)),
            scale,
        )
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished run folder")
    parser.add_argument("--candidates", type=int, default=15, help="best trials to choose from")
    parser.add_argument("--steps", type=int, default=25, help="greedy selection steps")
    parser.add_argument("--cv", type=int, default=5, help="outer folds (export --cv)")
    args = parser.parse_args()

    from finished_run import FinishedRun

    from houses_tune.objective import MAPE
    from houses_tune.results.baselines import ridge_prices

    started, load = time.perf_counter(), os.getloadavg()[0]
    run = FinishedRun(args.run)
    y, splits = run.houses.targets, run.splits
    complete = [t for t in run.run.trials() if t.complete]  # best first
    candidates = {t.trial_id: t for t in complete[: args.candidates]}

    hypermodel, folds, members = run.shipped(list(candidates.values()))
    search, test = np.asarray(splits.search), np.asarray(splits.test)
    split_oof, split_test = {}, {}
    for tid in candidates:
        own = [m for m in members if m.trial_id == tid]
        split_oof[tid], split_test[tid] = _log_prices(hypermodel, own, folds, search, test)
    ids = list(candidates)
    greedy = greedy_weights(y[search], np.array([split_oof[t] for t in ids]), args.steps)
    methods = {
        "exported bag (best configuration)": {ids[0]: 1.0},
        "3 best configurations": {t: 1 / 3 for t in ids[:3]},
        "greedy selection": {t: w for t, w in zip(ids, greedy, strict=True) if w > 0},
    }
    print(f"{len(ids)} candidates loaded ({time.perf_counter() - started:.0f} s); greedy: "
          + ", ".join(f"{t} {w:.2f}" for t, w in methods["greedy selection"].items()),
          flush=True)  # fmt: skip
    results = [_scores(methods, y[search], split_oof, y[test], split_test)]
    needed = sorted({t for weights in methods.values() for t in weights})
    ridge = []
    for k, (hypermodel, inner, train, held_out) in enumerate(run.outer_folds(args.cv), 1):
        oof, logs = {}, {}
        for tid in needed:
            members = run.train(hypermodel, inner, 0, [candidates[tid]])
            oof[tid], logs[tid] = _log_prices(hypermodel, members, inner, train, held_out)
        results.append(_scores(methods, y[train], oof, y[held_out], logs))
        ridge.append(MAPE.score(y[held_out], ridge_prices(run.houses, train, held_out)))
        print(f"outer fold {k}/{args.cv} done ({time.perf_counter() - started:.0f} s)", flush=True)

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPU cores, load {load:.2f} at the "
          f"start; run {args.run}; {time.perf_counter() - started:.0f} s")  # fmt: skip
    split, cv = results[0], results[1:]
    print(f"{'model':<36} {'scaled':>6} {'test MAPE':>9} {'CV mean ± std':>15} {'won':>4}"
          "   per fold (scale per fold)")  # fmt: skip
    for name in methods:
        for scaled in (0, 1):
            values = [r[name][scaled] for r in cv]
            won = sum(v < r for v, r in zip(values, ridge, strict=True))
            scales = f"  ({' '.join(f'{r[name][2]:.3f}' for r in results)})" if scaled else ""
            print(f"{name:<36} {'yes' if scaled else 'no':>6} {split[name][scaled]:8.2f}% "
                  f"{np.mean(values):7.2f} ± {np.std(values):4.2f} {won:>2}/{len(cv)}   "
                  + " ".join(f"{v:5.2f}" for v in values) + scales)  # fmt: skip
    print(f"{'ridge on log price':<36} {'':>6} {'':>9} {np.mean(ridge):7.2f} ± "
          f"{np.std(ridge):4.2f}        " + " ".join(f"{v:5.2f}" for v in ridge))  # fmt: skip


if __name__ == "__main__":
    main()
