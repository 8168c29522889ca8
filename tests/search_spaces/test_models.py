"""Models built from the spaces: presets, conditional branches, tutorial architectures,
saving, the price-space objective, and the KerasTuner integration.

Tiny on purpose: 16 houses, 8 for training (one step at batch 8), 8 for validation.
"""

import os
import subprocess
import sys

import keras
import keras_tuner
import numpy as np
import pytest

from houses_tune.errors import SpaceError
from houses_tune.search_spaces import (
    OBJECTIVE,
    PRESETS,
    HousesHyperModel,
    LogPriceMSE,
    PriceMAPE,
    input_names,
    select_inputs,
)

TRAIN, VAL = np.arange(8), np.arange(8, 16)  # batch 8 -> one training step


def hypermodel(data, space="mixed", val=True):
    return HousesHyperModel(PRESETS[space], data, TRAIN, VAL if val else None, seed=1)


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_builds_and_trains_one_step(model_data, name):
    hm = hypermodel(model_data, name)
    hp = keras_tuner.HyperParameters()
    model = hm.build(hp)
    history = hm.fit(hp, model, epochs=1, x="ignored", validation_data="ignored")
    assert np.isfinite(history.history[OBJECTIVE][0])
    assert set(history.history) == {"loss", "price_mape", "val_loss", "val_price_mape"}
    assert model.outputs[0].dtype == "float32" and model.outputs[0].shape == (None, 1)
    expected = {"attributes"} if name.endswith("mlp") else set()
    if "mixed" in name:
        expected |= {"attributes", "montage"}
    elif name in ("tutorial-cnn", "montage"):
        expected = {"montage"}
    elif name == "branched":
        expected = {"bathroom", "bedroom", "frontal", "kitchen"}
    assert set(input_names(model)) == expected


BRANCHES = [
    {"modality": "attributes", "attributes/widths": "64-32", "head/units": 0, "loss": "mae"},
    {
        "modality": "photos",
        "photos/input": "montage",
        "tile": 64,
        "montage/batch_norm": False,
        "montage/kernel_size": 5,
        "montage/filters": "16-32-64-128",
        "loss": "huber",
    },
    {"modality": "mixed", "photos/input": "montage", "head/dropout": 0.3, "optimizer": "adamw"},
    {"modality": "mixed", "photos/input": "branched", "branched/aggregate": "attention"},
] + [
    {
        "modality": "photos",
        "photos/input": "branched",
        "branched/weights": weights,
        "branched/aggregate": aggregate,
        "branched/batch_norm": weights == "shared",
        "target_transform": "log",
        "loss": loss,
    }
    for weights in ("shared", "separate")
    for aggregate, loss in zip(
        ("concat", "mean", "attention", "lstm"), ("msle", "mse", "mape", "msle"), strict=True
    )
]


@pytest.mark.parametrize("values", BRANCHES, ids=lambda v: "-".join(map(str, v.values())))
def test_every_conditional_branch_builds(model_data, values):
    hm = hypermodel(model_data)
    hp = hm.hyperparameters(values)
    model = hm.build(hp)
    for name, value in values.items():
        assert hp.get(name) == value
    # Choices of the branches not taken are inactive (not in the trial's values).
    layout = values.get("photos/input")
    assert not any(k.startswith("branched/") for k in hp.values) or layout == "branched"
    assert not any(k.startswith("montage/") for k in hp.values) or layout == "montage"
    assert ("attributes/widths" in hp.values) == (values["modality"] != "photos")
    x, _ = hm.arrays(hp, VAL[:2], model)
    assert model(x, training=False).shape == (2, 1)
    if values.get("branched/weights") == "shared":
        assert model.get_layer("photo_tower") is not None


@pytest.mark.parametrize("name", list(PRESETS))
def test_tuner_space_matches_the_catalogue(model_data, tmp_path, name):
    """KerasTuner discovers exactly the hyperparameters (and conditions) `spaces show` lists."""
    tuner = keras_tuner.RandomSearch(
        hypermodel(model_data, name),
        objective=keras_tuner.Objective(OBJECTIVE, "min"),
        max_trials=1,
        directory=tmp_path,
        project_name="p",
    )
    found = {
        (hp.name, tuple((c.name, tuple(c.values)) for c in hp.conditions))
        for hp in tuner.oracle.get_space().space
    }
    expected = {
        (p.name, tuple((n, tuple(v)) for n, v in p.when)) for p in PRESETS[name].active_params()
    }
    assert found == expected


def test_tuner_search_reports_price_mape(model_data, tmp_path):
    tuner = keras_tuner.RandomSearch(
        hypermodel(model_data, "mlp"),
        objective=keras_tuner.Objective(OBJECTIVE, "min"),
        max_trials=2,
        directory=tmp_path,
        project_name="p",
        seed=0,
    )
    tuner.search(epochs=1, verbose=0)
    trials = tuner.oracle.get_best_trials(2)
    assert len(trials) == 2 and all(np.isfinite(t.score) for t in trials)


def layer_table(model):
    """name -> (output shape without batch, parameter count), nested towers flattened."""
    table = {}
    for layer in model.layers:
        for sub in getattr(layer, "layers", [layer]):
            table[sub.name] = (tuple(sub.output.shape[1:]), sub.count_params())
    return table


# Hand computation, tutorial CNN on the 64x64x3 montage (filters 16, 32, 64, 3x3, "same"):
#   conv 1: 3*3*3*16 + 16 = 448      bn 1: 4*16 = 64    pool -> 32x32x16
#   conv 2: 3*3*16*32 + 32 = 4640    bn 2: 4*32 = 128   pool -> 16x16x32
#   conv 3: 3*3*32*64 + 64 = 18496   bn 3: 4*64 = 256   pool -> 8x8x64 -> flatten 4096
#   dense 16: 4096*16 + 16 = 65552   bn: 4*16 = 64      dense 4: 16*4 + 4 = 68
#   => CNN without output: 89716; with Dense(1): 89716 + 4 + 1 = 89721.
# Tutorial MLP on 10 attributes: Dense(8): 10*8 + 8 = 88; Dense(4): 8*4 + 4 = 36 => 124;
#   standalone with Dense(1): 124 + 5 = 129.
# Tutorial mixed: 124 + 89716 + concat(8) -> Dense(4): 8*4 + 4 = 36 -> Dense(1): 5 => 89881.
CNN_LAYERS = {
    "montage_tower_rescale": ((64, 64, 3), 0),
    "montage_tower_conv_1": ((64, 64, 16), 448),
    "montage_tower_relu_1": ((64, 64, 16), 0),
    "montage_tower_bn_1": ((64, 64, 16), 64),
    "montage_tower_pool_1": ((32, 32, 16), 0),
    "montage_tower_conv_2": ((32, 32, 32), 4640),
    "montage_tower_relu_2": ((32, 32, 32), 0),
    "montage_tower_bn_2": ((32, 32, 32), 128),
    "montage_tower_pool_2": ((16, 16, 32), 0),
    "montage_tower_conv_3": ((16, 16, 64), 18496),
    "montage_tower_relu_3": ((16, 16, 64), 0),
    "montage_tower_bn_3": ((16, 16, 64), 256),
    "montage_tower_pool_3": ((8, 8, 64), 0),
    "montage_tower_flatten": ((4096,), 0),
    "montage_dense": ((16,), 65552),
    "montage_relu": ((16,), 0),
    "montage_bn": ((16,), 64),
    "montage_dropout": ((16,), 0),
    "montage_output": ((4,), 68),
}
MLP_LAYERS = {"attributes_dense_1": ((8,), 88), "attributes_dense_2": ((4,), 36)}


@pytest.mark.parametrize(
    ("name", "layers", "total"),
    [
        ("tutorial-mlp", {**MLP_LAYERS, "price": ((1,), 5)}, 129),
        ("tutorial-cnn", {**CNN_LAYERS, "price": ((1,), 5)}, 89721),
        (
            "tutorial-mixed",
            {
                **MLP_LAYERS,
                **CNN_LAYERS,
                "fusion": ((8,), 0),
                "head_dense": ((4,), 36),
                "price": ((1,), 5),
            },
            89881,
        ),
    ],
)
def test_tutorial_presets_have_the_tutorial_architectures(model_data, name, layers, total):
    assert model_data.n_attributes == 10
    model = hypermodel(model_data, name).build(keras_tuner.HyperParameters())
    table = layer_table(model)
    assert {k: table[k] for k in layers} == layers
    assert set(table) - {"attributes", "montage", "montage_tower"} == set(layers)
    assert model.count_params() == total
    assert model.get_layer("price").activation.__name__ == "linear"
    assert model.get_layer("montage_dropout").rate == 0.5 if "montage" in table else True
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    assert isinstance(model.loss, keras.losses.MeanAbsolutePercentageError)


@pytest.mark.parametrize(
    "values",
    [
        {},  # mixed: attributes + montage
        {
            "modality": "mixed",
            "photos/input": "branched",
            "branched/weights": "separate",
            "branched/aggregate": "attention",
            "target_transform": "log",
            "loss": "msle",
            "optimizer": "adamw",
        },
        {
            "modality": "photos",
            "photos/input": "branched",
            "branched/aggregate": "lstm",
            "loss": "huber",
            "head/dropout": 0.2,
        },
    ],
    ids=["montage", "attention", "lstm"],
)
def test_save_and_reload_with_safe_mode_predicts_the_same(model_data, tmp_path, values):
    hm = hypermodel(model_data)
    model, _ = hm.train(values, epochs=1)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x, y = hm.arrays(hm.hyperparameters(values), VAL, model)
    np.testing.assert_allclose(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    assert loaded.evaluate(x, y, verbose=0, return_dict=True)["price_mape"] == pytest.approx(
        model.evaluate(x, y, verbose=0, return_dict=True)["price_mape"], rel=1e-5
    )


@pytest.mark.parametrize("transform", ["max_scale", "log"])
def test_price_mape_equals_hand_computation(transform):
    prices = np.array([200_000.0, 400_000.0, 1_000_000.0])
    predicted = np.array([220_000.0, 300_000.0, 1_000_000.0])
    # |200k-220k|/200k = 10%, |400k-300k|/400k = 25%, 0%  -> mean 35 / 3 %
    expected = (10.0 + 25.0 + 0.0) / 3
    scale = 5_858_000.0
    forward = (lambda p: np.log(p)) if transform == "log" else (lambda p: p / scale)
    metric = PriceMAPE(transform, scale)
    metric.update_state(forward(prices[:2]).reshape(-1, 1), forward(predicted[:2]).reshape(-1, 1))
    metric.update_state(forward(prices[2:]), forward(predicted[2:]))  # accumulates over batches
    assert float(metric.result()) == pytest.approx(expected, rel=1e-5)
    again = PriceMAPE.from_config(metric.get_config())
    assert (again.name, again.transform, again.scale) == ("price_mape", transform, scale)


@pytest.mark.parametrize("transform", ["max_scale", "log"])
def test_val_price_mape_is_mape_in_dollars(model_data, transform):
    hm = hypermodel(model_data)
    model, history = hm.train({"modality": "attributes", "target_transform": transform}, 1)
    hp = hm.hyperparameters({"modality": "attributes", "target_transform": transform})
    x, y = hm.arrays(hp, VAL, model)
    prices = model_data.prices(VAL)
    predicted = model_data.transform(transform).inverse(model.predict(x, verbose=0)[:, 0])
    expected = 100 * np.mean(np.abs(prices - predicted) / prices)
    result = model.evaluate(x, y, verbose=0, return_dict=True)
    assert result["price_mape"] == pytest.approx(expected, rel=1e-4)
    assert history.history["val_price_mape"][0] == pytest.approx(expected, rel=1e-4)


def test_log_price_mse_is_mse_of_log_prices():
    prices, predicted = np.array([[100.0], [400.0]]), np.array([[200.0], [100.0]])
    expected = np.mean((np.log(predicted) - np.log(prices)) ** 2)
    scaled = LogPriceMSE("max_scale")(prices / 500, predicted / 500)
    logged = LogPriceMSE("log")(np.log(prices), np.log(predicted))
    assert float(scaled) == pytest.approx(expected, rel=1e-5)
    assert float(logged) == pytest.approx(expected, rel=1e-5)


def test_builds_are_reproducible_and_values_checked(model_data):
    hm = hypermodel(model_data, "tutorial-mlp")
    first = hm.build(keras_tuner.HyperParameters()).get_weights()
    second = hm.build(keras_tuner.HyperParameters()).get_weights()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    hp = hm.hyperparameters({"modality": "attributes", "tuner/epochs": 3})
    assert "tuner/epochs" not in hp.values
    with pytest.raises(SpaceError, match="modality: 'photos' not allowed"):
        hm.hyperparameters({"modality": "photos"})


def test_select_inputs_keeps_what_the_model_takes(model_data):
    hm = hypermodel(model_data, "tutorial-cnn")
    model = hm.build(keras_tuner.HyperParameters())
    assert list(select_inputs(model, model_data.inputs(VAL, 32))) == ["montage"]


JAX_SCRIPT = """
import json, sys
import keras, keras_tuner, numpy as np
from houses_tune.data import ModelData, load_houses
from houses_tune.search_spaces import PRESETS, HousesHyperModel
folder, saved, expected = sys.argv[1:4]
houses = load_houses(folder, min_zip_count=0)
data = ModelData(houses, np.arange(len(houses)))
hm = HousesHyperModel(PRESETS["mixed"], data, np.arange(8), np.arange(8, 16))
# Attention over separate towers: the branched model with the most plumbing. (An LSTM
# runs too, but compiling it on JAX takes half a minute on a small CPU.)
values = {"photos/input": "branched", "branched/aggregate": "attention",
          "branched/weights": "separate", "branched/filters": "8-16-32"}
model, history = hm.train(values, epochs=1)
assert np.isfinite(history.history["val_price_mape"][0])
loaded = keras.saving.load_model(saved, safe_mode=True)
x, _ = hm.arrays(hm.hyperparameters({}), np.arange(8, 16), loaded)
np.testing.assert_allclose(loaded.predict(x, verbose=0), np.load(expected), rtol=1e-4, atol=1e-5)
print(keras.backend.backend())
"""


def test_models_run_and_load_on_jax(model_data, houses_folder, tmp_path):
    pytest.importorskip("jax")
    hm = hypermodel(model_data)
    model, _ = hm.train({}, epochs=1)
    model.save(tmp_path / "model.keras")
    x, _ = hm.arrays(hm.hyperparameters({}), VAL, model)
    np.save(tmp_path / "expected.npy", model.predict(x, verbose=0))
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            JAX_SCRIPT,
            str(houses_folder),
            str(tmp_path / "model.keras"),
            str(tmp_path / "expected.npy"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "jax"
