"""What does houses-tune add to an epoch? The tutorial CNN, two ways, side by side.

1. through houses-tune: a one-trial search (``--space tutorial-cnn``: the tutorial's
   CNN on the 64x64 montage, batch 8; one validation split) with KerasTuner, our hooks,
   TensorBoard logging, early stopping, the fold checkpoint and history;
2. the tutorial's way: the same model (built by the same code, same seed) trained with a
   plain ``model.fit`` on numpy arrays, batch 8, no callbacks.

Epoch times are measured at epoch ends; the first epoch (graph tracing) is left out and
the median of the rest is reported, then the ratio. Not a test: run it by hand, e.g.

    python benchmarks/epoch_overhead.py --epochs 6
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path


def _median_epoch(stamps: list[float], started: float) -> float:
    times = [b - a for a, b in zip([started, *stamps], stamps, strict=False)]
    return statistics.median(times[1:] if len(times) > 1 else times)


def through_houses_tune(epochs: int) -> tuple[float, list[float]]:
    """Median epoch seconds of a one-trial search on the tutorial CNN."""
    from rich.console import Console

    from houses_tune.tuner.budget import parse_budget
    from houses_tune.tuner.job import SearchSettings, prepare_search
    from houses_tune.tuner.monitor import SearchMonitor
    from houses_tune.tuner.search import run_search

    stamps: list[float] = []
    begins: list[float] = []
    epoch_end, trial_begin = SearchMonitor.epoch_end, SearchMonitor.trial_begin

    def timed_epoch_end(self, *args, **kwargs):
        epoch_end(self, *args, **kwargs)
        stamps.append(time.perf_counter())

    def timed_trial_begin(self, trial):
        trial_begin(self, trial)
        begins.append(time.perf_counter())

    SearchMonitor.epoch_end, SearchMonitor.trial_begin = timed_epoch_end, timed_trial_begin
    try:
        with tempfile.TemporaryDirectory() as folder:
            settings = SearchSettings(
                budget=parse_budget(str(epochs)), space="tutorial-cnn", tuner="random",
                max_epochs=epochs, run="bench", results_dir=Path(folder), seed=0, folds=1,
                patience=epochs,
            )  # fmt: skip
            run_search(prepare_search(settings), None, Console(stderr=True, quiet=True))
    finally:
        SearchMonitor.epoch_end, SearchMonitor.trial_begin = epoch_end, trial_begin
    return _median_epoch(stamps, begins[0]), stamps


def tutorial_way(epochs: int) -> float:
    """Median epoch seconds of the same model with a plain model.fit on numpy arrays."""
    import keras
    import keras_tuner

    from houses_tune.data import ModelData, load_houses, make_splits
    from houses_tune.search_spaces import HousesHyperModel, load_space

    houses = load_houses()
    splits = make_splits(len(houses), folds=1)
    train, val = splits.fold(0)
    hypermodel = HousesHyperModel(load_space("tutorial-cnn"), ModelData(houses, splits.search))
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    x, y = hypermodel.arrays(hp, train, model)
    x_val, y_val = hypermodel.arrays(hp, val, model)

    stamps: list[float] = []

    class Stamp(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            stamps.append(time.perf_counter())

    started = time.perf_counter()
    model.fit(x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=8, verbose=0,
              callbacks=[Stamp()])  # fmt: skip
    return _median_epoch(stamps, started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6, help="epochs of each run (default 6)")
    args = parser.parse_args()

    ours, _ = through_houses_tune(args.epochs)
    plain = tutorial_way(args.epochs)

    import keras

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"backend {keras.config.backend()}")  # fmt: skip
    print(f"tutorial CNN, embedded dataset, batch 8, median of epochs 2..{args.epochs}")
    print(f"through houses-tune  {ours:7.3f} s/epoch")
    print(f"plain model.fit      {plain:7.3f} s/epoch")
    print(f"ratio                {ours / plain:7.2f}x")


if __name__ == "__main__":
    main()
