"""Would more seeds per fold model help the bag? Measured, not shipped.

Takes a finished run (e.g. one ``benchmarks/quality.py --results-dir`` kept) and scores the
exported configuration's bag with 1, 2, ... seeds per fold (5, 10, ... models), on the
tutorial split (seed 0's members are the search's own fold models, as export ships them;
each further seed trains the fold models again, as export's cross-validation does) and
on the export's 5 outer folds (every seed trained inside each outer fold). Not a test:
run it by hand, e.g.

    python benchmarks/quality.py --seeds 0 --no-baselines --results-dir runs
    python benchmarks/bag_seeds.py runs/quality-0 --seeds 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a finished run folder")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per fold model (at most)")
    parser.add_argument("--cv", type=int, default=5, help="outer folds (export --cv)")
    args = parser.parse_args()

    from houses_tune.backend import import_keras, use_backend

    use_backend(json.loads((args.run / "run.json").read_text())["backend"])
    import_keras()
    from houses_tune.data import ModelData
    from houses_tune.objective import MAPE
    from houses_tune.results.bag import load_members, member_prices, train_members
    from houses_tune.results.choose import choose_trials
    from houses_tune.results.crossval import inner_folds, outer_folds
    from houses_tune.run import RunDir
    from houses_tune.search_spaces import HousesHyperModel

    started, load = time.perf_counter(), os.getloadavg()[0]
    run = RunDir(args.run)
    houses, splits, space = run.load_dataset(), run.splits, run.space()
    chosen = choose_trials(run.trials(), None, 1)
    backbone, patience = run.search.get("weights"), run.search["patience"]

    def scores(hypermodel, seeds: list, rows) -> list[float]:
        """MAPE on ``rows`` of the bag of the first 1, 2, ... seeds' members."""
        actual = houses.targets[rows]
        return [
            MAPE.score(actual, member_prices(hypermodel, sum(seeds[:n], []), rows))
            for n in range(1, len(seeds) + 1)
        ]

    hypermodel = HousesHyperModel(space, ModelData(houses, splits.search, backbone),
                                  seed=run.search["seed"])  # fmt: skip
    folds = [splits.fold(k) for k in range(len(splits.folds))]
    seeds = [load_members(run, chosen, hypermodel, splits)]
    seeds += [train_members(hypermodel, chosen, folds, patience, s) for s in range(1, args.seeds)]
    split = scores(hypermodel, seeds, splits.test)
    cv = []
    for k, (train, test) in enumerate(outer_folds(len(houses), args.cv, 0), 1):
        hypermodel = HousesHyperModel(space, ModelData(houses, train, backbone), seed=0)
        inner = inner_folds(train, run.search)
        seeds = [train_members(hypermodel, chosen, inner, patience, s) for s in range(args.seeds)]
        cv.append(scores(hypermodel, seeds, test))
        print(f"outer fold {k}/{args.cv} done ({time.perf_counter() - started:.0f} s)", flush=True)

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPU cores, load {load:.2f} at the "
          f"start; run {args.run} (trial {chosen[0].trial_id}); "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    print(f"{'seeds':>5} {'models':>6} {'test MAPE':>9} {'CV mean ± std':>15}   per fold")
    for n in range(args.seeds):
        values = [fold[n] for fold in cv]
        members = (n + 1) * len(folds)
        print(f"{n + 1:>5} {members:>6} {split[n]:8.2f}% {np.mean(values):7.2f} ± "
              f"{np.std(values):4.2f}   " + " ".join(f"{v:5.2f}" for v in values))  # fmt: skip


if __name__ == "__main__":
    main()
