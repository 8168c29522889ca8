"""Models built from the spaces: presets, conditional branches, tutorial architectures,
saving, the price-space objective and losses, and the KerasTuner integration.

Tiny on purpose: 16 houses, 8 for training (one step at batch 8), 8 for validation.
"""

import keras
import keras_tuner
import numpy as np
import pytest

from houses_tune.errors import SpaceError
from houses_tune.objective import MAPE
from houses_tune.search_spaces import (
    CATALOGUE,
    PRESETS,
    HousesHyperModel,
    LogPriceMSE,
    PriceMAPE,
    PriceMAPELoss,
    Space,
    input_names,
)
from houses_tune.training import train_fold

TRAIN, VAL = np.arange(8), np.arange(8, 16)  # batch 8 -> one training step
TUTORIAL_ATTRIBUTES = {"categories", "numbers", "skewed"}


# Every value the catalogue allows, including those the presets narrow away (tile 64).
EVERYTHING = Space("everything", "the whole catalogue", dict(CATALOGUE))


def hypermodel(data, space="everything"):
    return HousesHyperModel(EVERYTHING if space == "everything" else PRESETS[space], data, seed=1)


def fit(hm, values, epochs=1, val=VAL):
    """Train the configuration ``values`` on TRAIN for ``epochs``; (model, FoldResult)."""
    hp = hm.hyperparameters(values)
    return train_fold(hm, hp, 1, TRAIN, val, epochs, seed=1)


# The backbone preset trains on backbone features: tests/search_spaces/test_backbones.py.
@pytest.mark.parametrize("name", [name for name, space in PRESETS.items() if not space.backbones])
def test_every_preset_builds_and_trains_one_step(model_data, name):
    hm = hypermodel(model_data, name)
    model, result = fit(hm, {})
    assert np.isfinite(result.history[MAPE.monitor][0]) and result.score is not None
    assert set(result.history) == {"loss", "price_mape", "val_loss", "val_price_mape"}
    assert model.outputs[0].dtype == "float32" and model.outputs[0].shape == (None, 1)
    expected = set()
    if name in ("tutorial-mlp", "tutorial-mixed"):
        expected = set(TUTORIAL_ATTRIBUTES)
    elif name in ("linear", "mlp", "mixed"):
        expected = {"categories", "numbers", "log_skewed"}  # the default: log of the area
    if name == "tutorial-mixed":
        expected.add("montage")
    elif name in ("tutorial-cnn", "montage"):
        expected = {"montage"}
    elif name == "branched":
        expected = {"photo_bathroom", "photo_bedroom", "photo_frontal", "photo_kitchen"}
    assert set(input_names(model)) == expected


BRANCHES = [
    {"modality": "attributes", "attributes/widths": "64-32", "head/units": 0, "loss": "mae"},
    {
        "modality": "attributes",
        "attributes/zip": "embedding",
        "attributes/zip_units": 2,
        "attributes/area": "linear",
        "target_transform": "max_scale",
        "loss": "huber",
    },
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
    embedded = values.get("attributes/zip") == "embedding"
    assert ("attributes/zip_units" in hp.values) == embedded
    x, _ = hm.arrays(hp, VAL[:2], model)
    assert model(x, training=False).shape == (2, 1)
    if values.get("branched/weights") == "shared":
        assert model.get_layer("photo_tower") is not None
    if embedded:
        assert model.get_layer("zip_embedding").kernel.shape == (model_data.widths["categories"], 2)


@pytest.mark.parametrize("name", list(PRESETS))
def test_tuner_space_matches_the_catalogue(model_data, tmp_path, name):
    """KerasTuner discovers exactly the hyperparameters (and conditions) `spaces show` lists."""
    tuner = keras_tuner.RandomSearch(
        hypermodel(model_data, name),
        objective=keras_tuner.Objective(MAPE.monitor, "min"),
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
# Tutorial MLP on 10 attributes (7 one-hot zips, bedrooms, bathrooms, area):
#   Dense(8): 10*8 + 8 = 88; Dense(4): 8*4 + 4 = 36 => 124;
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
    assert model_data.widths["categories"] == 7
    model = hypermodel(model_data, name).build(keras_tuner.HyperParameters())
    table = layer_table(model)
    assert {k: table[k] for k in layers} == layers
    inputs = {"categories", "numbers", "skewed", "attributes", "montage", "montage_tower"}
    assert set(table) - inputs == set(layers)
    if "attributes" in table:  # the tutorials' vector: one-hot zips, bedrooms, bathrooms, area
        assert table["attributes"] == ((10,), 0)
    assert model.count_params() == total
    assert model.get_layer("price").activation.__name__ == "linear"
    assert model.get_layer("montage_dropout").rate == 0.5 if "montage" in table else True
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    assert isinstance(model.loss, PriceMAPELoss) and model.loss.transform == "max_scale"


def test_the_linear_preset_is_one_linear_unit_on_the_attributes(model_data):
    model, _ = fit(hypermodel(model_data, "linear"), {}, epochs=3)
    table = layer_table(model)
    # 7 one-hot zips + bedrooms, bathrooms + log area -> one unit: 10 weights and a bias.
    assert set(table) == {"categories", "numbers", "log_skewed", "attributes", "price"}
    assert table["attributes"] == ((10,), 0) and table["price"] == ((1,), 11)
    assert model.count_params() == 11
    # Linear in its inputs: the prediction at a mix of two houses is the mix of theirs.
    x = model_data.inputs(np.arange(2), ["categories", "numbers", "log_skewed"])
    mid = {name: value.mean(axis=0, keepdims=True) for name, value in x.items()}
    two, one = model.predict(x, verbose=0), model.predict(mid, verbose=0)
    assert one[0, 0] == pytest.approx(two.mean(), rel=1e-6) and two[0, 0] != two[1, 0]


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
    model, _ = fit(hm, values)
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
    values = {"modality": "attributes", "target_transform": transform}
    model, result = fit(hm, values)
    prices = model_data.prices(VAL)
    predicted = hm.predict_prices(hm.hyperparameters(values), model, VAL)
    expected = 100 * np.mean(np.abs(prices - predicted) / prices)
    x, y = hm.arrays(hm.hyperparameters(values), VAL, model)
    assert model.evaluate(x, y, verbose=0, return_dict=True)["price_mape"] == pytest.approx(
        expected, rel=1e-4
    )
    # One epoch: the score is that epoch's, with the weights it ended with.
    assert result.history["val_price_mape"][0] == pytest.approx(expected, rel=1e-4)
    assert result.score == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize("transform", ["max_scale", "log"])
def test_the_mape_loss_is_the_mape_of_prices(transform):
    prices = np.array([[200_000.0], [400_000.0]])
    predicted = np.array([[220_000.0], [300_000.0]])
    scale = 5_858_000.0
    forward = (lambda p: np.log(p)) if transform == "log" else (lambda p: p / scale)
    loss = PriceMAPELoss(transform, scale)
    assert float(loss(forward(prices), forward(predicted))) == pytest.approx(17.5, rel=1e-4)
    again = PriceMAPELoss.from_config(loss.get_config())
    assert (again.transform, again.scale) == (transform, scale)


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


def test_inputs_are_what_the_model_takes(model_data):
    hm = hypermodel(model_data, "tutorial-cnn")
    model = hm.build(keras_tuner.HyperParameters())
    x, _ = hm.arrays(keras_tuner.HyperParameters(), VAL, model)
    assert list(x) == ["montage"] and x["montage"].shape == (8, 64, 64, 3)
