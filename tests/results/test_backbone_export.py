"""A backbone search end to end on TensorFlow (what ``--backend auto`` picks for it: it
runs the backbones many times faster than JAX on a CPU).

One TensorFlow subprocess: every backbone builds at its native size, the fine-tuned
layers' own learning rate holds there too, then a frozen-backbone search, its export (with
the SavedModel) and predict on photos of another size. Weights are random: nothing is
downloaded. (Fine-tuned networks: tests/search_spaces/test_backbones.py; a fine-tuned
search trains MobileNetV2 on 224x224 photos, too slow for the suite on a CPU.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd

from houses_tune.search_spaces.backbones import BACKBONES

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import pandas as pd
    from houses_tune.backend import import_keras

    keras = import_keras()
    from houses_tune.cli import main
    from houses_tune.run import RunDir
    from houses_tune.search_spaces.backbones import BACKBONES, build_backbone
    from houses_tune.search_spaces.blocks import make_optimizer

    shapes = {}
    for name in BACKBONES:
        model = build_backbone(name, "random")
        shapes[name] = [list(model.input.shape[1:]), model.output.shape[-1], model.input.dtype]

    inputs = keras.Input((3,))
    slow_layer, fast_layer = keras.layers.Dense(4), keras.layers.Dense(1)
    model = keras.Model(inputs, fast_layer(slow_layer(inputs)))
    model.compile(make_optimizer("adam", 1e-2, tuple(slow_layer.trainable_variables), 1e-4), "mse")
    before = [v.numpy().copy() for v in model.trainable_variables]
    model.train_on_batch(np.ones((8, 3), "float32"), np.full((8, 1), 5.0, "float32"))
    steps = [float(np.abs(v.numpy() - b).max()) for v, b in zip(model.trainable_variables, before)]

    for command in json.loads(sys.argv[1]):
        try:
            main(command)
        except SystemExit as done:
            assert not done.code, (command, done.code)

    # The bag as the search scored it, on the cached features (no backbone run).
    from houses_tune.data import ModelData
    from houses_tune.results.bag import load_members, member_prices
    from houses_tune.results.choose import choose_trials
    from houses_tune.search_spaces import HousesHyperModel

    run = RunDir(sys.argv[2])
    data = ModelData(run.load_dataset(), run.splits.search, run.search["weights"])
    hypermodel = HousesHyperModel(run.space(), data, seed=run.search["seed"])
    members = load_members(run, choose_trials(run.trials()), hypermodel, run.splits)
    bag = member_prices(hypermodel, members, run.splits.test)
    print(json.dumps({"backend": keras.backend.backend(), "shapes": shapes, "steps": steps,
                      "bag": [float(p) for p in bag]}))
    """
)


def test_a_backbone_search_on_tensorflow_exports_a_model_that_serves_photos_of_any_size(
    make_houses_folder, tmp_path
):
    from houses_tune.run import RunDir

    folder = make_houses_folder(tmp_path, n=14, zips=(11111, 22222), tile=16)
    # The same houses with 40x40 photos (solid colours: the same 224x224 images).
    larger = make_houses_folder(tmp_path / "larger", n=14, zips=(11111, 22222), tile=40)
    results, space = tmp_path / "results", tmp_path / "frozen.yaml"
    space.write_text(
        "base: backbone\nhyperparameters:\n  modality: mixed\n  backbone/network: mobilenet_v2\n"
        "  attributes/widths: 8-4\n  batch_size: 16\n"
    )
    run, prices = results / "frozen", tmp_path / "prices.csv"
    commands = [
        ["search", "--dataset", str(folder), "--min-zip-count", "0", "--weights", "random",
         "--folds", "2", "--tuner", "random", "--max-epochs", "1", "--results-dir",
         str(results), "--backend", "tensorflow", "--space", str(space), "--budget", "4",
         "--run", "frozen"],
        # Export reloads model.keras (safe_mode) and the SavedModel and checks both agree.
        ["export", str(run), "--no-baselines", "--max-epochs", "0", "--backend", "tensorflow"],
        ["predict", str(run / "best" / "model.keras"), "--houses", str(larger),
         "--out", str(prices)],
    ]  # fmt: skip
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(commands), str(run)],
                          env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    assert facts["backend"] == "tensorflow"
    for name, spec in BACKBONES.items():
        assert facts["shapes"][name] == [[spec.size, spec.size, 3], spec.dim, "uint8"]
    # update_step gets TensorFlow's own variables there: the slow ones still step slowly.
    slow_kernel, _, fast_kernel, _ = facts["steps"]
    assert 5e-5 < slow_kernel < 1.1e-4 and 5e-3 < fast_kernel < 1.1e-2
    assert "features mobilenet_v2: 56/56 photos" in done.stderr  # its own progress step

    record = RunDir(run)
    assert record.search["weights"] == "random" and record.status == "finished"
    assert {t.hyperparameters["photos/input"] for t in record.trials()} == {"backbone"}
    assert (run / "best" / "saved_model" / "saved_model.pb").is_file()
    metrics = json.loads((run / "best" / "metrics.json").read_text())
    assert metrics["exported"]["members"] == 2
    exported = pd.read_csv(run / "best" / "predictions.csv")
    # The shipped model runs the backbone on the raw photos: the prices the bag gives on
    # the cached features, to the cent.
    np.testing.assert_allclose(exported["predicted"], facts["bag"], rtol=1e-6, atol=0.006)
    predicted = pd.read_csv(prices).rename(columns={"id": "house"})
    merged = exported.merge(predicted, on="house")
    assert len(merged) == len(exported)
    np.testing.assert_allclose(merged["predicted_price"], merged["predicted"], rtol=1e-2)
