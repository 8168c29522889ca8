"""The model code runs unchanged on the JAX backend, and so do the TensorBoard logs.

Keras picks its backend once per process, from ``KERAS_BACKEND`` at import, so each
check runs in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("jax")

# Run first in each subprocess: TensorFlow cannot be imported, as on a GPU machine that
# has JAX only. (Keras itself would otherwise import it to seed its RNG.)
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

# Builds every preset's model (and every photo aggregation), trains one step each, logs
# a trial to TensorBoard; prints what it saw as JSON.
SCRIPT = NO_TENSORFLOW + textwrap.dedent(
    """
    import json
    import numpy as np
    import keras, keras_tuner

    from houses_tune.data import ModelData, load_houses
    from houses_tune.search_spaces import PRESETS, HousesHyperModel
    from houses_tune.tuner.devices import select_devices
    from houses_tune.tuner.tensorboard import TensorBoardLogger

    folder, logdir = sys.argv[1], sys.argv[2]
    plan = select_devices("auto")
    houses = load_houses(folder, min_zip_count=0)
    data = ModelData(houses, np.arange(8))
    cases = [(name, {}) for name in PRESETS]
    cases += [("branched", {"branched/aggregate": a}) for a in ("mean", "attention", "lstm")]
    losses = {}
    for name, values in cases:
        hypermodel = HousesHyperModel(PRESETS[name], data, np.arange(8), np.arange(8, 16))
        hp = keras_tuner.HyperParameters()
        hp.values.update(values)
        model = hypermodel.build(hp)
        history = hypermodel.fit(hp, model, epochs=1, steps_per_epoch=1)
        losses[" ".join([name, *values.values()])] = history.history["loss"][0]
    logger = TensorBoardLogger(logdir, {"learning_rate": 0.001})
    logger.trial_begin("0000", {"learning_rate": 0.001})
    logger.epoch_end(0, {"loss": 1.5, "val_loss": 2.5, "val_price_mape": 30.0})
    logger.trial_end("0000", True, 30.0, 1)
    logger.close()
    print(json.dumps({
        "backend": keras.backend.backend(),
        "plan": plan.to_dict(),
        "losses": losses,
        "tensorflow_imported": "tensorflow" in sys.modules,
    }))
    """
)

# `houses-tune search ...` with TensorFlow hidden.
SEARCH = NO_TENSORFLOW + "from houses_tune.cli import main\nmain(sys.argv[1:])\n"


def _jax_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(KERAS_BACKEND="jax", OMP_NUM_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
    env.update(JAX_PLATFORMS="cpu", XLA_FLAGS="--xla_cpu_multi_thread_eigen=false")
    return env


def _scalars(folder: Path) -> dict[str, list[float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [e.value for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_every_preset_builds_and_trains_on_jax(make_houses_folder, tmp_path):
    folder = make_houses_folder(tmp_path, n=16, zips=(11111, 22222, 33333), tile=16)
    logdir = tmp_path / "tensorboard"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(folder), str(logdir)],
        env=_jax_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["backend"] == "jax"
    assert facts["plan"]["backend"] == "jax" and facts["plan"]["kind"] == "cpu"
    from houses_tune.search_spaces import PRESETS

    assert set(PRESETS) < set(facts["losses"])
    assert {"branched lstm", "branched attention", "branched mean"} < set(facts["losses"])
    assert all(loss == loss and abs(loss) != float("inf") for loss in facts["losses"].values())
    assert facts["tensorflow_imported"] is False

    assert _scalars(logdir / "0000" / "validation")["epoch_price_mape"] == [30.0]
    assert _scalars(logdir / "0000" / "train")["epoch_loss"] == [1.5]
    assert _scalars(logdir / "0000")["val_price_mape"] == [30.0]
    assert _scalars(logdir)["search/best_val_price_mape"] == [30.0]


def test_a_search_runs_on_jax(tiny_dataset, tmp_path):
    """`KERAS_BACKEND=jax houses-tune search` without TensorFlow: trials, logs, run.json."""
    results = tmp_path / "results"
    space = tmp_path / "tiny.yaml"
    space.write_text(
        "base: mlp\nhyperparameters:\n  attributes/widths: 8-4\n  head/units: [0, 4]\n"
        "  loss: mape\n  batch_size: 16\n  target_transform: max_scale\n"
    )
    command = [
        sys.executable, "-c", SEARCH, "search", "--dataset", str(tiny_dataset),
        "--space", str(space), "--budget", "3", "--max-epochs", "1", "--min-zip-count", "10",
        "--results-dir", str(results), "--run", "jax",
    ]  # fmt: skip
    done = subprocess.run(command, env=_jax_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(jax, float32)" in done.stderr
    run = results / "jax"
    info = json.loads((run / "run.json").read_text())
    assert info["backend"] == "jax" and info["devices"]["backend"] == "jax"
    assert info["status"] == "finished"
    trial_ids = [p.name.removeprefix("trial_") for p in (run / "tuner").glob("trial_*")]
    assert trial_ids
    for trial_id in trial_ids:
        assert "epoch_price_mape" in _scalars(run / "tensorboard" / trial_id / "validation")
