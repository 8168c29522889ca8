"""How long should the bag's fold models train? Export's stopping rule against the search's.

Takes a finished run and scores configurations of it (the best, or ``--trials``) as
``export --cv`` scores the pipeline: on the export's 5 outer folds, each configuration
trained once per inner fold and bagged, with each stopping rule side by side on the same
folds and seeds. ``search`` is the search's rule (its patience, at most the epochs the
trial reached in its Hyperband round: what ``export --max-epochs 0`` ships); ``P:N`` is
export's (patience P, at most N epochs, or the trial's if more; export's default is 30:100).
The change is against the first rule given. Not a test: run it by
hand, e.g.

    houses-tune search --dataset "Houses Dataset/" --space mlp --budget 1500 --seed 1 \\
        --backend jax --run mlp-1 --results-dir runs
    python benchmarks/bag_training.py runs/mlp-1 --trials 0016 0017 0024 --seeds 2
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
    parser.add_argument("--trials", nargs="+", help="trial ids (default: the best)")
    parser.add_argument("--rules", nargs="+", default=["search", "30:27", "30:50", "30:100"],
                        help="stopping rules: search, or PATIENCE:EPOCHS")  # fmt: skip
    parser.add_argument("--seeds", type=int, default=2, help="seeds of every rule (0, 1, ...)")
    parser.add_argument("--cv", type=int, default=5, help="outer folds (export --cv)")
    args = parser.parse_args()

    from finished_run import FinishedRun

    from houses_tune.objective import MAPE
    from houses_tune.results.bag import member_prices, train_members
    from houses_tune.results.choose import choose_trials

    started, load = time.perf_counter(), os.getloadavg()[0]
    run = FinishedRun(args.run)
    patience = run.run.search["patience"]
    rules = {
        r: (patience, 0) if r == "search" else tuple(map(int, r.split(":"))) for r in args.rules
    }
    folds = list(run.outer_folds(args.cv))
    trials = [choose_trials(run.run.trials(), t)[0] for t in args.trials or [None]]

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, load {load:.2f} at the "
          f"start; run {args.run}; {args.cv} outer folds; seeds 0..{args.seeds - 1}; the search's "
          f"patience {patience}")  # fmt: skip
    versus = f"vs {args.rules[0]}"
    print(f"{'trial':>6} {'epochs':>6} {'rule':>7} {'CV mean ± std':>15}  {versus:>15}  "
          "per seed (mean over folds)")  # fmt: skip
    for trial in trials:
        scores = {}  # rule -> [seed][fold]
        for rule, (rule_patience, epochs) in rules.items():
            scores[rule] = [
                [
                    MAPE.score(
                        run.houses.targets[test],
                        member_prices(
                            hypermodel,
                            train_members(
                                hypermodel, [trial], inner, rule_patience, seed, epochs=epochs
                            ),  # fmt: skip
                            test,
                        ),
                    )
                    for hypermodel, inner, _, test in folds
                ]
                for seed in range(args.seeds)
            ]
        base = np.asarray(scores[args.rules[0]])
        for rule, values in scores.items():
            values = np.asarray(values)
            difference = (values - base).ravel()  # per seed and fold
            print(f"{trial.trial_id:>6} {trial.epochs:>6} {rule:>7} {values.mean():7.2f} ± "
                  f"{values.mean(axis=0).std():4.2f}  {difference.mean():+6.2f} ± "
                  f"{difference.std():4.2f}  " + " ".join(f"{v:5.2f}" for v in values.mean(axis=1)),
                  flush=True)  # fmt: skip
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
