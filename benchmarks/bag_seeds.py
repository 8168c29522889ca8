"""Would more seeds per fold model help the bag? Measured, not shipped.

Takes a finished run (e.g. one ``benchmarks/quality.py --results-dir`` kept) and scores the
exported configuration's bag with 1, 2, ... seeds per fold (5, 10, ... models), on the
tutorial split (seed 0's members are the search's own fold models, as ``export
--max-epochs 0`` ships them; each further seed trains the fold models again, as that
export's cross-validation does) and
on the export's 5 outer folds (every seed trained inside each outer fold). Not a test:
run it by hand, e.g.

    python benchmarks/quality.py --seeds 0 --no-baselines --results-dir runs
    python benchmarks/bag_seeds.py runs/quality-0 --seeds 3
"""

from __future__ import annotations

import argparse
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

    from finished_run import FinishedRun

    from houses_tune.objective import MAPE
    from houses_tune.results.bag import member_prices

    started, load = time.perf_counter(), os.getloadavg()[0]
    run = FinishedRun(args.run)

    def scores(hypermodel, seeds: list, rows) -> list[float]:
        """MAPE on ``rows`` of the bag of the first 1, 2, ... seeds' members."""
        actual = run.houses.targets[rows]
        return [
            MAPE.score(actual, member_prices(hypermodel, sum(seeds[:n], []), rows))
            for n in range(1, len(seeds) + 1)
        ]

    hypermodel, folds, shipped = run.shipped()
    seeds = [shipped] + [run.train(hypermodel, folds, s) for s in range(1, args.seeds)]
    split = scores(hypermodel, seeds, run.splits.test)
    cv = []
    for k, (hypermodel, inner, _, test) in enumerate(run.outer_folds(args.cv), 1):
        cv.append(
            scores(hypermodel, [run.train(hypermodel, inner, s) for s in range(args.seeds)], test)
        )
        print(f"outer fold {k}/{args.cv} done ({time.perf_counter() - started:.0f} s)", flush=True)

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} CPU cores, load {load:.2f} at the "
          f"start; run {args.run} (trial {run.chosen[0].trial_id}); "
          f"{time.perf_counter() - started:.0f} s")  # fmt: skip
    print(f"{'seeds':>5} {'models':>6} {'test MAPE':>9} {'CV mean ± std':>15}   per fold")
    for n in range(args.seeds):
        values = [fold[n] for fold in cv]
        members = (n + 1) * len(folds)
        print(f"{n + 1:>5} {members:>6} {split[n]:8.2f}% {np.mean(values):7.2f} ± "
              f"{np.std(values):4.2f}   " + " ".join(f"{v:5.2f}" for v in values))  # fmt: skip


if __name__ == "__main__":
    main()
