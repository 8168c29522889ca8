"""Where one trial's time goes, on TensorFlow and on JAX, side by side in one run.

For an attributes MLP, the tutorial montage CNN and a branched photo model (at batch 8 and
32), one real trial runs through the search machinery (KerasTuner's oracle, 5 fold models,
checkpoints, TensorBoard, history) and its time is split into: building the models,
compiling (the first epoch of a fold model beyond a usual epoch), the epochs, the fold
checkpoints, TensorBoard logging and the tuner's own bookkeeping (the rest). Each backend
runs in a fresh process (Keras picks its backend once), each configuration on a fresh
compile cache first and then again on the warm one, as later trials of a search see it
(the attributes MLP's warm trial several times: its epoch moves between runs).

It also times the alternative for training the folds concurrently: one compiled model with
5 heads, each learning from its own fold's rows (a masked loss), against the 5 fold models
trained one after another; and, for the floor under the attributes MLP's epoch, the
trial's network and a bare ``keras.Sequential`` of the same widths fitted outside the
search with a plain ``model.fit``. Not a test: run it by hand, e.g.

    python benchmarks/trial_cost.py                    # full dataset if found, else embedded
    python benchmarks/trial_cost.py --epochs 10 --backends jax
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
from collections import defaultdict
from pathlib import Path

FULL_DATASET = Path(__file__).resolve().parents[1].parent / "shared/houses-dataset/Houses Dataset"

MODELS = {
    "attributes MLP": {"modality": "attributes", "attributes/widths": "32-16"},
    "montage CNN": {"modality": "photos", "photos/input": "montage", "tile": 32,
                    "montage/filters": "16-32-64"},
    "branched": {"modality": "photos", "photos/input": "branched", "tile": 32,
                 "branched/filters": "16-32-64", "branched/aggregate": "concat"},
}  # fmt: skip


def _space(values: dict, batch: int) -> str:
    lines = ["base: mixed", "hyperparameters:"]
    fixed = {"target_transform": "log", "loss": "mape", "optimizer": "adam",
             "learning_rate": 0.001, "batch_size": batch, "head/units": 8, "head/dropout": 0.0,
             **values}  # fmt: skip
    lines += [f"  {name}: {value}" for name, value in fixed.items()]
    return "\n".join(lines) + "\n"


# --- In the child process: one backend ------------------------------------------------


def _measure(dataset: Path | None, epochs: int, repeats: int) -> list[dict]:
    """Time one trial per model kind and batch size (cold, then warm caches; the
    attributes MLP's warm trial ``repeats`` times, as its epoch moves between runs)."""
    from houses_tune.backend import import_keras

    import_keras()
    import keras
    from rich.console import Console

    from houses_tune.search_spaces import HousesHyperModel
    from houses_tune.tuner.budget import parse_budget
    from houses_tune.tuner.job import SearchSettings, prepare_search
    from houses_tune.tuner.search import run_search
    from houses_tune.tuner.tensorboard import TensorBoardLogger

    spent: dict[str, float] = defaultdict(float)
    epoch_times: list[list[float]] = []

    def timed(owner, name, key):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[key] += time.perf_counter() - started

        setattr(owner, name, wrapper)

    timed(HousesHyperModel, "build", "build")
    timed(keras.Model, "save_weights", "checkpoints")
    for method in ("trial_begin", "epoch_end", "trial_end"):
        timed(TensorBoardLogger, method, "tensorboard")

    class EpochClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            epoch_times.append([])
            self._last = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            now = time.perf_counter()
            epoch_times[-1].append(now - self._last)
            self._last = now

    fit = keras.Model.fit

    def clocked_fit(self, *args, callbacks=None, **kwargs):
        return fit(self, *args, callbacks=[*(callbacks or []), EpochClock()], **kwargs)

    keras.Model.fit = clocked_fit
    rows = _stacked(dataset, epochs) + _plain(dataset, 3 * epochs)
    with tempfile.TemporaryDirectory() as folder:
        for label, values in MODELS.items():
            for batch in (8, 32):
                space = Path(folder) / f"{label.replace(' ', '-')}-{batch}.yaml"
                space.write_text(_space(values, batch))
                warm = repeats if label == "attributes MLP" else 1
                for run, cache in enumerate(("cold", *["warm"] * warm)):
                    spent.clear()
                    epoch_times.clear()
                    settings = SearchSettings(
                        budget=parse_budget(str(epochs * 5)), dataset=dataset, space=str(space),
                        tuner="random", max_epochs=epochs, folds=5, patience=epochs,
                        run=f"{space.stem}-{run}", results_dir=Path(folder), seed=0,
                    )  # fmt: skip
                    started = time.perf_counter()
                    outcome = run_search(prepare_search(settings), None, Console(quiet=True))
                    total = time.perf_counter() - started
                    assert outcome.completed == 1, outcome
                    usual = statistics.median(t for fold in epoch_times for t in fold[1:])
                    compile_s = sum(fold[0] - usual for fold in epoch_times)
                    epochs_s = sum(sum(fold) for fold in epoch_times) - compile_s
                    rows.append({
                        "backend": keras.config.backend(), "model": label, "batch": batch,
                        "cache": cache, "total": total, "epoch_ms": 1000 * usual,
                        "epochs": epochs_s, "compile": compile_s, "build": spent["build"],
                        "checkpoints": spent["checkpoints"],
                        "tensorboard": spent["tensorboard"],
                        "bookkeeping": total - epochs_s - compile_s - spent["build"]
                        - spent["checkpoints"] - spent["tensorboard"],
                    })  # fmt: skip
    return rows


def _stacked(dataset: Path | None, epochs: int) -> list[dict]:
    """One model with 5 heads (each masked to its fold's rows) against 5 fold models."""
    import keras
    import numpy as np
    from keras import layers, ops

    from houses_tune.data import ModelData, load_houses, make_splits
    from houses_tune.search_spaces import HousesHyperModel, load_space

    houses = load_houses(dataset)
    splits = make_splits(len(houses))
    rows = []
    for label in ("attributes MLP", "montage CNN"):
        space = load_space("mixed")
        hypermodel = HousesHyperModel(space, ModelData(houses, splits.search))
        hp = hypermodel.hyperparameters({"batch_size": 8, **MODELS[label]})
        single = hypermodel.build(hp)
        x, y = hypermodel.arrays(hp, splits.search, single)
        inputs = {name: keras.Input(t.shape[1:], dtype=t.dtype, name=name)
                  for name, t in zip(x, single.inputs, strict=True)}  # fmt: skip
        clones = [keras.models.clone_model(single) for _ in range(5)]
        heads = [keras.Model(c.inputs, c.output, name=f"head_{k}") for k, c in enumerate(clones)]
        output = layers.Concatenate()([head(inputs) for head in heads])
        # y holds each row's target in the columns of the heads it trains, NaN elsewhere.
        targets = np.repeat(y, 5, axis=1)
        for k, val in enumerate(splits.folds):
            targets[np.isin(splits.search, val), k] = np.nan

        def masked_mae(y_true, y_pred):
            mask = ops.logical_not(ops.isnan(y_true))
            error = ops.where(mask, ops.abs(ops.where(mask, y_true, 0.0) - y_pred), 0.0)
            return ops.sum(error, axis=0) / ops.maximum(ops.sum(ops.cast(mask, "float32"), 0), 1)

        model = keras.Model(inputs, output)
        model.compile(optimizer="adam", loss=lambda t, p: ops.sum(masked_mae(t, p)))
        started = time.perf_counter()
        model.fit(x, targets, batch_size=8, epochs=1, verbose=0)
        first = time.perf_counter() - started
        started = time.perf_counter()
        model.fit(x, targets, batch_size=8, epochs=epochs, verbose=0)
        per_epoch = (time.perf_counter() - started) / epochs
        rows.append({"backend": keras.config.backend(), "model": label, "stacked": True,
                     "compile": first - per_epoch, "epoch_ms": 1000 * per_epoch})  # fmt: skip
    return rows


def _plain(dataset: Path | None, epochs: int) -> list[dict]:
    """The attributes MLP's epoch outside the search: Keras' own floor.

    The trial's network (built by houses-tune, fold 1's rows, validation on its own rows)
    fitted with a plain ``model.fit`` (no early stopping, checkpoints or TensorBoard), its
    validation rows in one batch as the search feeds them and, for comparison, at the
    training batch (Keras' default), and a bare ``keras.Sequential`` of the same widths on
    random numbers of the same shapes.
    """
    import keras
    import numpy as np

    from houses_tune.data import ModelData, load_houses, make_splits
    from houses_tune.search_spaces import HousesHyperModel, load_space
    from houses_tune.search_spaces.blocks import STEPS_PER_EXECUTION

    houses = load_houses(dataset)
    splits = make_splits(len(houses))
    hypermodel = HousesHyperModel(load_space("mixed"), ModelData(houses, splits.search))
    hp = hypermodel.hyperparameters({"batch_size": 8, **MODELS["attributes MLP"]})
    fit_rows, val_rows = splits.fold(0)
    network = hypermodel.build(hp, fit_rows=fit_rows)
    x, y = hypermodel.arrays(hp, fit_rows, network)
    validation = hypermodel.arrays(hp, val_rows, network)
    width = sum(int(t.shape[-1]) for t in network.inputs)
    bare = keras.Sequential(
        [
            keras.Input((width,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    bare.compile(optimizer="adam", loss="huber", metrics=["mae"],
                 steps_per_execution=STEPS_PER_EXECUTION)  # fmt: skip
    rng = np.random.default_rng(0)
    noise = [rng.normal(size=(len(r), n)).astype("float32") for r, n in
             ((fit_rows, width), (fit_rows, 1), (val_rows, width), (val_rows, 1))]  # fmt: skip
    rows = []
    for label, model, data, held_out, batch in (
        ("houses-tune's network, plain fit", network, (x, y), validation, len(val_rows)),
        ("the same, validated at batch 8", network, (x, y), validation, 8),
        ("bare keras.Sequential", bare, tuple(noise[:2]), tuple(noise[2:]), len(val_rows)),
    ):
        fit = {"batch_size": 8, "verbose": 0, "validation_data": held_out,
               "validation_batch_size": batch}  # fmt: skip
        model.fit(*data, epochs=2, **fit)
        started = time.perf_counter()
        model.fit(*data, epochs=epochs, **fit)
        per_epoch = (time.perf_counter() - started) / epochs
        rows.append({"backend": keras.config.backend(), "plain": label,
                     "epoch_ms": 1000 * per_epoch})  # fmt: skip
    return rows


# --- In the parent: one child per backend, then the tables -------------------------------


def _child(
    backend: str, dataset: Path | None, epochs: int, repeats: int, cache: Path
) -> list[dict]:
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3",
           "HOUSES_TUNE_CACHE": str(cache)}  # fmt: skip
    command = [sys.executable, __file__, "--child", "--epochs", str(epochs)]
    command += ["--repeats", str(repeats)]
    command += ["--dataset", str(dataset)] if dataset else ["--embedded"]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{backend} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dataset",
        type=Path,
        default=FULL_DATASET if FULL_DATASET.is_dir() else None,
        help="dataset folder (default: the full one if found)",
    )
    parser.add_argument("--epochs", type=int, default=10, help="epochs of each fold model")
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"])
    parser.add_argument(
        "--repeats", type=int, default=5, help="warm trials of the attributes MLP (its spread)"
    )
    parser.add_argument("--embedded", action="store_true", help="use the embedded dataset")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.embedded:
        args.dataset = None
    if args.child:  # one backend, in this process (KERAS_BACKEND set by the parent)
        print(json.dumps(_measure(args.dataset, args.epochs, args.repeats)))
        return

    rows = []
    with tempfile.TemporaryDirectory() as cache:
        for backend in args.backends:
            # Photos decoded once, in the shared cache; each backend its own compile cache.
            rows += _child(backend, args.dataset, args.epochs, args.repeats, Path(cache))

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores; "
          f"dataset {args.dataset or 'embedded'} (271 search houses, 5 folds); "
          f"one trial = 5 fold models x {args.epochs} epochs")  # fmt: skip
    head = (f"{'model':<15} {'batch':>5} {'backend':<10} {'cache':<5} {'trial s':>8} "
            f"{'epoch ms':>9} {'epochs':>7} {'compile':>8} {'build':>6} {'ckpt':>6} "
            f"{'tboard':>7} {'tuner':>6}")  # fmt: skip
    print(head)
    trials = [r for r in rows if "total" in r]
    for row in sorted(trials, key=lambda r: (r["model"], r["batch"], r["cache"], r["backend"])):
        print(f"{row['model']:<15} {row['batch']:>5} {row['backend']:<10} {row['cache']:<5} "
              f"{row['total']:8.2f} {row['epoch_ms']:9.1f} {row['epochs']:7.2f} "
              f"{row['compile']:8.2f} {row['build']:6.2f} {row['checkpoints']:6.2f} "
              f"{row['tensorboard']:7.2f} {row['bookkeeping']:6.2f}")  # fmt: skip
    print(f"\nthe attributes MLP's epoch (batch 8) over its {args.repeats} warm trials")
    for backend in args.backends:
        warm = [r["epoch_ms"] for r in trials if r["model"] == "attributes MLP"
                and r["batch"] == 8 and r["cache"] == "warm"
                and r["backend"] == backend]  # fmt: skip
        spread = statistics.stdev(warm) if len(warm) > 1 else 0.0
        print(f"{backend:<10} {statistics.mean(warm):5.1f} ± {spread:.1f} ms (median "
              f"{statistics.median(warm):.1f}, {min(warm):.1f}-{max(warm):.1f})")  # fmt: skip
    print("\nfolds at once: one model with 5 heads (batch 8, all 271 rows) vs 5 fold models")
    for row in (r for r in rows if r.get("stacked")):
        sequential = next(r for r in trials if r["model"] == row["model"]
                          and r["batch"] == 8 and r["cache"] == "warm"
                          and r["backend"] == row["backend"])  # fmt: skip
        print(f"{row['model']:<15} {row['backend']:<10} 5 heads: {row['epoch_ms']:7.1f} ms/epoch "
              f"(compile {row['compile']:.1f} s); 5 fold models: "
              f"{5 * sequential['epoch_ms']:7.1f} ms/epoch "
              f"(compile {sequential['compile']:.1f} s)")  # fmt: skip
    print(
        "\nthe attributes MLP outside the search: plain model.fit, batch 8, fold 1's 216 "
        "rows, validated on its 55 (Keras' own floor)"
    )
    for row in (r for r in rows if r.get("plain")):
        print(f"{row['plain']:<34} {row['backend']:<10} {row['epoch_ms']:7.1f} ms/epoch")


if __name__ == "__main__":
    main()
