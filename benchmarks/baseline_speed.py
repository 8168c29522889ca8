"""Do tutorial baselines train faster side by side? One after another vs worker processes.

Trains the same tutorial networks (the MLP and the montage CNN, two seeds each, on the
full dataset's search houses, predicting its test houses) once in this process, one after
another, and once in worker processes pinned to their own cores
(``houses_tune.results.baseline_processes``), each time on an empty baseline cache, and
prints the wall times. Not a test: run it by hand, e.g.

    python benchmarks/baseline_speed.py                  # 50 epochs each
    python benchmarks/baseline_speed.py --epochs 200 --backend jax
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

FULL_DATASET = Path(__file__).resolve().parents[1].parent / "shared/houses-dataset/Houses Dataset"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = FULL_DATASET if FULL_DATASET.exists() else None
    parser.add_argument("--dataset", type=Path, default=default,
                        help="dataset folder (default: the full one, else embedded)")  # fmt: skip
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--workers", type=int, nargs="+", default=None,
                        help="worker counts to time (default: 1 and one per core)")  # fmt: skip
    parser.add_argument("--backend", default="tensorflow")
    args = parser.parse_args()

    from houses_tune.backend import import_keras, use_backend

    use_backend(args.backend)
    import_keras()
    from houses_tune.data import load_houses
    from houses_tune.data.photos import cache_dir
    from houses_tune.data.splits import make_splits
    from houses_tune.results.baseline_processes import usable_cores, worker_count
    from houses_tune.results.baselines import TUTORIALS, TutorialJob, train_tutorials

    houses = load_houses(args.dataset)
    splits = make_splits(len(houses))
    houses.photos(32)  # decode the photos once, before any timing
    jobs = [TutorialJob(label, preset, splits.search, splits.test, seed)
            for label, preset in TUTORIALS[:2] for seed in range(args.seeds)]  # fmt: skip
    cores = len(usable_cores())
    counts = args.workers or sorted({1, worker_count(len(jobs))})
    print(f"{platform.machine()}, {cores} usable cores, load {os.getloadavg()[0]:.1f}; "
          f"{args.backend}; {len(jobs)} tutorial networks x {args.epochs} epochs "
          f"on {len(splits.search)} houses")  # fmt: skip
    photos = list(cache_dir().glob("photos-*"))
    timings = {}
    for workers in counts:
        with tempfile.TemporaryDirectory() as cache:
            for path in photos:  # decoded photos stay; the baseline cache starts empty
                os.symlink(path, Path(cache) / path.name)
            os.environ["HOUSES_TUNE_CACHE"] = cache
            started = time.perf_counter()
            train_tutorials(houses, jobs, args.epochs, workers=workers)
            timings[workers] = time.perf_counter() - started
        print(f"  {workers} worker{'s' * (workers > 1)}: {timings[workers]:.1f} s"
              f"  ({timings[counts[0]] / timings[workers]:.2f}x)", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
