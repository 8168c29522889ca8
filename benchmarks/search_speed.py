"""How fast is a search? A fixed search, timed end to end.

Runs ``houses-tune search --budget 200 --space mixed --seed 0`` on the embedded dataset
(Hyperband: 30 trials, 196 epochs) in a temporary folder and prints wall time, trials,
epochs and epochs per second. Not a test: run it by hand, e.g.

    python benchmarks/search_speed.py            # the fixed search
    python benchmarks/search_speed.py --budget 40 --space mlp   # a quicker look
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="200", help="epochs (default 200)")
    parser.add_argument("--space", default="mixed", help="space (default mixed)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from rich.console import Console

    from houses_tune.tuner.budget import parse_budget
    from houses_tune.tuner.search import SearchSettings, run_search

    with tempfile.TemporaryDirectory() as folder:
        settings = SearchSettings(
            budget=parse_budget(args.budget), space=args.space, seed=args.seed,
            run="bench", results_dir=Path(folder),
        )  # fmt: skip
        started = time.perf_counter()
        outcome = run_search(settings, Console(stderr=True, quiet=True))
        wall = time.perf_counter() - started

    import keras

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"backend {keras.config.backend()}")  # fmt: skip
    print(f"search: --budget {args.budget} --space {args.space} --seed {args.seed} "
          f"(embedded dataset, hyperband)")  # fmt: skip
    print(f"wall time     {wall:8.1f} s (data loading, tuner and every trial)")
    print(f"search time   {outcome.elapsed:8.1f} s")
    print(f"trials        {outcome.trials:8d} ({outcome.completed} completed)")
    print(f"epochs        {outcome.epochs:8d} (planned {outcome.plan.total_epochs})")
    print(f"epochs/s      {outcome.epochs / wall:8.2f}")
    if outcome.best_score is not None:
        print(f"best val MAPE {outcome.best_score:8.2f} % (trial {outcome.best_trial})")


if __name__ == "__main__":
    main()
