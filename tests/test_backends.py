"""The two Keras backends end to end, each in its own process (Keras picks its backend once).

The rest of the suite runs on JAX, the default. Here: JAX on a machine without TensorFlow
(every preset trains, a search runs and logs to TensorBoard), and a search and export on
TensorFlow whose model the default backend loads and predicts with identically.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

# Run first in the subprocess: TensorFlow cannot be imported, as on a GPU machine that has
# JAX only. (Keras itself would otherwise import it to seed its RNG.)
NO_TENSORFLOW = textwrap.dedent(
    """
    import sys

    class _NoTensorFlow:
        def find_spec(self, name, path=None, target=None):
            if name == "tensorflow" or name.startswith("tensorflow."):
                raise ImportError(f"No module named {name!r} (hidden by the test)")

    sys.meta_path.insert(0, _NoTensorFlow())
    """
)

# Every preset's model trains one step; then a tiny search
# through the command line. Prints what it saw as JSON on its last line.
JAX_ONLY = NO_TENSORFLOW + textwrap.dedent(
    """
    import json
    import numpy as np
    import keras_tuner
    from houses_tune.backend import import_keras

    keras = import_keras()
    from houses_tune.data import ModelData, load_houses
    from houses_tune.search_spaces import PRESETS, HousesHyperModel
    from houses_tune.training import train_fold

    folder, search_args = sys.argv[1], sys.argv[2:]
    data = ModelData(load_houses(folder, min_zip_count=0), np.arange(16))
    # (Backbone features on TensorFlow: tests/results/test_backbone_export.py.)
    # (Every aggregation builds on JAX in the suite itself, attention and lstm also train:
    # tests/search_spaces/test_models.py.)
    cases = [(name, {}) for name, space in PRESETS.items() if not space.backbones]
    losses = {}
    for name, values in cases:
        hypermodel = HousesHyperModel(PRESETS[name], data)
        hp = keras_tuner.HyperParameters()
        hp.values.update(values)
        _, result = train_fold(hypermodel, hp, 1, np.arange(8), np.arange(8, 16), 1)
        losses[" ".join([name, *values.values()])] = result.history["loss"][0]
    from houses_tune.cli import main
    try:
        main(search_args)
    except SystemExit as done:
        assert not done.code, done.code
    print(json.dumps({"backend": keras.backend.backend(), "losses": losses,
                      "tensorflow_imported": "tensorflow" in sys.modules}))
    """
)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu", **extra)
    return env


def _scalars(folder: Path) -> dict[str, list[float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [e.value for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_jax_without_tensorflow_trains_every_preset_and_searches(make_houses_folder, tmp_path):
    folder = make_houses_folder(tmp_path, n=24, zips=(11111, 22222, 33333), tile=16)
    space = tmp_path / "tiny.yaml"
    space.write_text("base: tutorial-mlp\nhyperparameters:\n  head/units: [0, 4]\n")
    results = tmp_path / "results"
    search = ["search", "--dataset", str(folder), "--space", str(space), "--budget", "6",
              "--folds", "2", "--max-epochs", "1", "--min-zip-count", "0",
              "--results-dir", str(results), "--run", "jax", "--backend", "jax"]  # fmt: skip
    done = subprocess.run([sys.executable, "-c", JAX_ONLY, str(folder), *search],
                          env=_env(KERAS_BACKEND="jax"), capture_output=True, text=True,
                          timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["backend"] == "jax" and facts["tensorflow_imported"] is False
    from houses_tune.search_spaces import PRESETS

    assert {name for name, space in PRESETS.items() if not space.backbones} == set(facts["losses"])
    assert all(np.isfinite(loss) for loss in facts["losses"].values())

    assert "(jax, float32)" in done.stderr
    run = results / "jax"
    info = json.loads((run / "run.json").read_text())
    assert info["backend"] == "jax" and info["devices"]["backend"] == "jax"
    assert info["status"] == "finished" and info["search"]["backend"] == "jax"
    trial_ids = [p.name.removeprefix("trial_") for p in (run / "tuner").glob("trial_*")]
    assert trial_ids
    for trial_id in trial_ids:
        for fold in (1, 2):
            assert "epoch_price_mape" in _scalars(run / "tensorboard" / trial_id / f"fold_{fold}"
                                                  / "validation")  # fmt: skip


def test_tensorflow_trains_and_exports_a_model_the_default_backend_serves(tiny_dataset,
                                                                          tmp_path):  # fmt: skip
    from houses_tune.results.serving import load_exported_model, raw_inputs
    from houses_tune.run import RunDir

    results = tmp_path / "results"
    space = tmp_path / "tiny.yaml"
    space.write_text("base: mlp\nhyperparameters:\n  attributes/widths: 8-4\n  batch_size: 16\n")
    tune = [sys.executable, "-m", "houses_tune"]
    search = [*tune, "search", "--dataset", str(tiny_dataset), "--space", str(space),
              "--budget", "6", "--folds", "3", "--tuner", "random", "--max-epochs", "1",
              "--min-zip-count", "10", "--results-dir", str(results), "--run", "tf",
              "--backend", "tensorflow"]  # fmt: skip
    done = subprocess.run(search, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(tensorflow, float32)" in done.stderr
    run = RunDir(results / "tf")
    assert run.settings["backend"] == "tensorflow" and run.search["backend"] == "tensorflow"
    export = [*tune, "export", str(run.path), "--no-baselines", "--max-epochs", "0",
              "--backend", "tensorflow"]  # fmt: skip
    done = subprocess.run(export, env=_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = json.loads((run.path / "best" / "metrics.json").read_text())
    assert metrics["backend"] == "tensorflow" and metrics["exported"]["members"] == 3

    # This process runs JAX: the file, and its predictions, are the same.
    model = load_exported_model(run.path / "best" / "model.keras")
    houses = run.load_dataset()
    frame = houses.frame.iloc[run.splits.test]
    prices = model.predict(raw_inputs(model, frame), verbose=0).reshape(-1)
    expected = pd.read_csv(run.path / "best" / "predictions.csv")["predicted"]
    np.testing.assert_allclose(prices, expected, rtol=1e-5, atol=0.006)
    assert (run.path / "best" / "saved_model" / "saved_model.pb").is_file()
