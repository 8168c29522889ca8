"""How fast is a search? A fixed search, timed end to end.

Runs ``houses-tune search --budget 1000 --space mixed --seed 0`` on the embedded dataset
(Hyperband on 5 folds: 12 trials, at most 960 fold-model epochs) in a temporary folder
and prints wall time, trials, epochs and epochs per second. Not a test: run it by hand, e.g.

    python benchmarks/search_speed.py            # the fixed search
    python benchmarks/search_speed.py --budget 300 --space mlp   # a quicker look
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
    parser.add_argument("--budget", default="1000", help="epochs (default 1000)")
    parser.add_argument("--space", default="mixed", help="space (default mixed)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from rich.console import Console

    from houses_tune.backend import use_backend
    from houses_tune.tuner.budget import parse_budget
    from houses_tune.tuner.job import SearchSettings, prepare_search
    from houses_tune.tuner.search import run_search

    with tempfile.TemporaryDirectory() as folder:
        settings = SearchSettings(
            budget=parse_budget(args.budget), space=args.space, seed=args.seed,
            run="bench", results_dir=Path(folder),
        )  # fmt: skip
        job = prepare_search(settings)
        use_backend(job.settings.backend)  # what --backend auto picks for the space
        started = time.perf_counter()
        outcome = run_search(job, None, Console(stderr=True, quiet=True))
        wall = time.perf_counter() - started

    import keras

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"backend {keras.config.backend()}")  # fmt: skip
    print(f"search: --budget {args.budget} --space {args.space} --seed {args.seed} "
          f"(embedded dataset, hyperband)")  # fmt: skip
    print(f"wall time     {wall:8.1f} s (data loading, tuner and every trial)")
    print(f"search time   {outcome.elapsed:8.1f} s")
    print(f"trials        {outcome.trials:8d} ({outcome.completed} completed)")
    print(f"epochs        {outcome.epochs:8d} of fold models (planned at most "
          f"{outcome.plan.total_epochs})")  # fmt: skip
    print(f"epochs/s      {outcome.epochs / wall:8.2f}")
    if outcome.best_score is not None:
        print(f"best val MAPE {outcome.best_score:8.2f} % (trial {outcome.best_trial})")


if __name__ == "__main__":
    main()
