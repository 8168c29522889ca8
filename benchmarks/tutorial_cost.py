"""What one tutorial baseline costs per epoch, on TensorFlow and on JAX, as export trains it.

An export with ``--cv 5`` trains each tutorial network 8 times for 200 epochs (3 seeds on
the split, one per outer fold), two at a time in one-core worker processes on 2 cores
(``houses_tune.results.baseline_processes``). This times each network the same way: in a
fresh process per backend, pinned to ``--cores`` cores, trained on the search houses of
the full dataset for a short and a longer run after a warm-up (the warm-up pays the
compile; JAX keeps it in its cache), so the difference is the per-epoch cost. It prints
ms per epoch per network and backend and what the 24 trainings of a first export come to
at that rate. Not a test: run it by hand, e.g.

    python benchmarks/tutorial_cost.py
    python benchmarks/tutorial_cost.py --backends tensorflow --cores 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FULL_DATASET = Path(__file__).resolve().parents[1].parent / "shared/houses-dataset/Houses Dataset"
# Outer folds of the export timed (``--cv 5``): one training of each network per fold.
FOLDS = 5


def child(dataset: Path, backend: str, cores: int, short: int, long: int) -> None:
    from houses_tune.backend import import_keras, use_backend
    from houses_tune.results.baseline_processes import usable_cores

    os.sched_setaffinity(0, usable_cores()[:cores])

    use_backend(backend)
    import_keras()
    from houses_tune.data import load_houses
    from houses_tune.data.splits import make_splits
    from houses_tune.results.baselines import TUTORIALS, TutorialJob, tutorial_prices

    houses = load_houses(dataset)
    splits = make_splits(len(houses))
    houses.photos(32)  # decode the photos before any timing
    for _, preset in TUTORIALS:
        job = TutorialJob(preset, preset, splits.search, splits.test, 0)
        seconds = []
        for epochs in (short, short, long):  # warm-up, then the two timed runs
            started = time.perf_counter()
            tutorial_prices(houses, job, epochs)
            seconds.append(time.perf_counter() - started)
        epoch = (seconds[2] - seconds[1]) / (long - short)
        fixed = max(0.0, seconds[1] - short * epoch)  # build, compile (cached), predict
        print(json.dumps({"preset": preset, "epoch": epoch, "fixed": fixed,
                          "first": seconds[0]}), flush=True)  # fmt: skip


def main() -> None:
    from houses_tune.results.baseline_processes import worker_count
    from houses_tune.results.baselines import TUTORIAL_EPOCHS, TUTORIAL_SEEDS, TUTORIALS

    trainings = TUTORIAL_SEEDS + FOLDS  # of each network in a first export --cv 5
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = FULL_DATASET if FULL_DATASET.exists() else None
    parser.add_argument("--dataset", type=Path, default=default,
                        help="dataset folder (default: the full one)")  # fmt: skip
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument("--cores", type=int, default=1, help="cores per training (export: 1)")
    parser.add_argument("--workers", type=int, default=worker_count(len(TUTORIALS) * trainings),
                        help="trainings side by side (default: as export)")  # fmt: skip
    parser.add_argument("--short", type=int, default=2)
    parser.add_argument("--long", type=int, default=22)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.dataset, args.child, args.cores, args.short, args.long)
        return

    print(f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
          f"{args.cores} core(s) per training; epochs {args.short} and {args.long} after "
          f"a warm-up of {args.short}")  # fmt: skip
    print(f"{'network':<16} {'backend':<11} {'ms/epoch':>9} {'fixed s':>8} {'first s':>8}")
    totals = {}
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as cache:
            env = dict(os.environ, HOUSES_TUNE_CACHE=cache)
            command = [sys.executable, __file__, "--child", backend, "--dataset",
                       str(args.dataset), "--cores", str(args.cores), "--short",
                       str(args.short), "--long", str(args.long)]  # fmt: skip
            done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
        if done.returncode:
            sys.exit(f"{backend}: the timing process failed (exit {done.returncode})")
        for line in done.stdout.splitlines():
            row = json.loads(line)
            cost = trainings * (TUTORIAL_EPOCHS * row["epoch"] + row["fixed"])
            totals[(backend, row["preset"])] = cost
            print(f"{row['preset']:<16} {backend:<11} {row['epoch'] * 1000:>9.1f} "
                  f"{row['fixed']:>8.1f} {row['first']:>8.1f}", flush=True)  # fmt: skip
    print(
        f"\n{len(TUTORIALS) * trainings} trainings x {TUTORIAL_EPOCHS} epochs at this rate, "
        f"{args.workers} at a time (minutes):"
    )
    for backend in args.backends:
        worker = sum(totals[(backend, preset)] for _, preset in TUTORIALS)
        print(f"  all on {backend}: {worker / args.workers / 60:.1f}")
    if len(args.backends) > 1:
        best = sum(min(totals[(b, preset)] for b in args.backends) for _, preset in TUTORIALS)
        print(f"  each network on its faster backend: {best / args.workers / 60:.1f}")


if __name__ == "__main__":
    main()
