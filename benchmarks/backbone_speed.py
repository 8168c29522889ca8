"""Pretrained backbones: feature extraction (first run vs cached) and a trial's epoch time
on cached features against from-scratch conv towers, side by side in one run.

On the full dataset, with an empty cache: the photos decoded at 224x224 (once, for all
backbones), then per backbone the features of every photo (``houses_tune.data.features``),
then the same call again (from the cache). Then epochs of one fold model (4/5 of the 271
search houses, early stopping off, the search's own training path) for: a network on each
backbone's cached features, the branched conv towers on 64x64 tiles, the tutorial CNN on
the 64x64 montage, and optionally a fine-tuned MobileNetV2 (top 10 layers) on the photos.
Each backend runs in its own process. Timings do not depend on the weights, so the default
is ``--weights random`` (nothing is downloaded). Not a test: run it by hand, e.g.

    python benchmarks/backbone_speed.py
    python benchmarks/backbone_speed.py --backends tensorflow jax --fine-tune
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FULL_DATASET = Path(__file__).resolve().parents[1].parent / "shared/houses-dataset/Houses Dataset"
BATCH = 8
#: From-scratch conv towers to compare with: name -> hyperparameters (photos only).
NETWORKS = {
    "branched towers, 64x64 tiles": {"photos/input": "branched", "tile": 64,
                                     "branched/filters": "16-32-64"},
    "montage CNN, 64x64 montage": {"photos/input": "montage", "tile": 32,
                                   "montage/filters": "16-32-64"},
}  # fmt: skip


def _space_yaml(folder: Path) -> Path:
    # The catalogue's photo inputs, all of them (the presets narrow them apart).
    path = folder / "photos.yaml"
    path.write_text(
        "base: backbone\nhyperparameters:\n  modality: photos\n"
        "  photos/input: [backbone, branched, montage]\n  tile: [32, 64]\n"
        "  backbone/fine_tune: [0, 10]\n"
    )
    return path


def _epochs_of(hypermodel, values: dict, fit_rows, val_rows, epochs: int) -> dict:
    """Train one fold model; its first epoch (with the compile) and the median of the rest,
    and the time before the first epoch (building the model, decoding photos at a new size
    into the cache)."""
    from houses_tune.training import train_fold
    from houses_tune.training.folds import Listener

    ends = []

    class Clock(Listener):
        def fold_begin(self, fold):
            ends.append(time.perf_counter())

        def epoch_end(self, fold, epoch, logs):
            ends.append(time.perf_counter())
            return False

    hp = hypermodel.hyperparameters({"batch_size": BATCH, **values})
    started = time.perf_counter()
    train_fold(hypermodel, hp, 1, fit_rows, val_rows, epochs, listener=Clock())
    steps = [b - a for a, b in zip(ends, ends[1:], strict=False)]
    usual = statistics.median(steps[1:]) if len(steps) > 1 else steps[0]
    return {"first_s": steps[0], "epoch_ms": 1000 * usual, "build_s": ends[0] - started}


def _measure(args) -> dict:
    from houses_tune.backend import import_keras

    keras = import_keras()
    import numpy as np

    from houses_tune.data import ModelData, load_houses, make_splits
    from houses_tune.data.features import cached_features
    from houses_tune.search_spaces import HousesHyperModel, load_space

    backbones, weights, epochs = args.backbones, args.weights, args.epochs
    houses = load_houses(args.dataset, min_zip_count=args.min_zip_count)
    rows = {"backend": keras.config.backend(), "extraction": [], "epochs": [],
            "photos": 4 * houses.total}  # fmt: skip
    started = time.perf_counter()
    houses.all_photos(224)
    rows["decode_s"] = time.perf_counter() - started
    for name in backbones:
        timings = {"backbone": name}
        for run in ("first", "cached"):
            started = time.perf_counter()
            cached_features(houses, name, weights)
            timings[run] = time.perf_counter() - started
        rows["extraction"].append(timings)
        print(f"{name}: {timings}", file=sys.stderr, flush=True)

    splits = make_splits(len(houses))
    search = np.asarray(splits.search)
    cut = len(search) * 4 // 5
    fit_rows, val_rows = search[:cut], search[cut:]
    rows["fit_houses"] = len(fit_rows)
    with tempfile.TemporaryDirectory() as folder:
        space = load_space(str(_space_yaml(Path(folder))))
    hypermodel = HousesHyperModel(space, ModelData(houses, splits.search, weights))
    cases = [
        (f"{name} features (cached)", {"photos/input": "backbone", "backbone/network": name})
        for name in backbones
    ]
    cases += list(NETWORKS.items())
    if args.fine_tune:
        cases.append(("mobilenet_v2 fine-tuned (top 10)", {
            "photos/input": "backbone", "backbone/network": "mobilenet_v2",
            "backbone/fine_tune": 10}))  # fmt: skip
    for label, values in cases:
        n = 2 if "fine-tuned" in label else epochs
        timing = {"network": label, "epochs": n, **_epochs_of(hypermodel, values, fit_rows,
                                                              val_rows, n)}  # fmt: skip
        rows["epochs"].append(timing)
        print(f"{label}: {timing}", file=sys.stderr, flush=True)
    return rows


def _child(backend: str, args, cache: Path) -> dict:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "HOUSES_TUNE_CACHE": str(cache)}  # fmt: skip
    command = [sys.executable, __file__, "--child", "--dataset", str(args.dataset),
               "--weights", args.weights, "--epochs", str(args.epochs),
               "--min-zip-count", str(args.min_zip_count),
               "--backbones", *args.backbones]  # fmt: skip
    if args.fine_tune:
        command.append("--fine-tune")
    done = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)
    if done.returncode:
        raise SystemExit(f"{backend} failed (exit {done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    from houses_tune.search_spaces.backbones import BACKBONES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=FULL_DATASET)
    parser.add_argument("--min-zip-count", type=int, default=25)
    parser.add_argument("--backbones", nargs="+", default=list(BACKBONES), choices=BACKBONES)
    parser.add_argument("--weights", default="random", help="imagenet, a folder, or random")
    parser.add_argument("--epochs", type=int, default=10, help="epochs of each fold model")
    parser.add_argument("--backends", nargs="+", default=["tensorflow"])
    parser.add_argument("--fine-tune", action="store_true", help="also a fine-tuned backbone")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_measure(args)))
        return

    results = []
    for backend in args.backends:
        with tempfile.TemporaryDirectory() as cache:  # every backend starts from nothing
            results.append(_child(backend, args, Path(cache)))
    load = os.getloadavg()[0]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"load {load:.2f} at the end; dataset {args.dataset}; weights {args.weights}; "
          f"batch {BATCH}")  # fmt: skip
    for rows in results:
        print(f"\n[{rows['backend']}] {rows['photos']} photos decoded at 224x224: "
              f"{rows['decode_s']:.1f} s")  # fmt: skip
        print(f"{'feature extraction':<34} {'first run s':>11} {'cached s':>9}")
        for row in rows["extraction"]:
            print(f"{row['backbone']:<34} {row['first']:11.1f} {row['cached']:9.2f}")
        fold = f"one fold model ({rows['fit_houses']} houses)"
        print(f"\n{fold:<34} {'epoch ms':>9} {'first epoch s':>13} {'build+inputs s':>14}")
        for row in rows["epochs"]:
            print(f"{row['network']:<34} {row['epoch_ms']:9.1f} {row['first_s']:13.2f} "
                  f"{row['build_s']:14.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
