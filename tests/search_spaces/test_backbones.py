"""Pretrained photo backbones: the keras.applications contract, where weights come from,
the features cache, frozen and fine-tuned networks, and the backbone's own learning rate.

Backbones are built with random weights or with a weights file the test writes; nothing
is downloaded. On JAX (this suite's backend) a backbone's forward pass is slow on a CPU,
so the features of one tiny dataset are computed once per module.
"""

import keras
import keras_tuner
import numpy as np
import pytest

from houses_tune.data import ROOMS, ModelData, load_houses, photo_input
from houses_tune.data import features as features_module
from houses_tune.data.features import cached_features, features_path
from houses_tune.errors import SearchError
from houses_tune.search_spaces import PRESETS, HousesHyperModel, input_names
from houses_tune.search_spaces.backbones import (
    BACKBONES,
    build_backbone,
    check_weights,
    network_of,
    weights_fingerprint,
)
from houses_tune.search_spaces.blocks import make_optimizer
from houses_tune.search_spaces.layers import BackbonePreprocess
from houses_tune.search_spaces.space import BACKBONE_NETWORKS
from houses_tune.training import train_fold

MOBILENET = BACKBONES["mobilenet_v2"]


@pytest.fixture(scope="module")
def backbone_folder(tmp_path_factory, make_houses_folder):
    """12 houses in 2 zip codes (10 and 2 houses), 16x16 photos."""
    return make_houses_folder(tmp_path_factory.mktemp("backbone"), n=12, zips=(1,) * 5 + (2,))


@pytest.fixture(scope="module")
def batches_of_24():
    """Feature batches of 24 photos: the 48 photos in two, none computed for nothing."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(features_module, "BATCH", 24)
        yield


@pytest.fixture(scope="module")
def computed(backbone_folder, batches_of_24):
    """MobileNetV2 (random weights) features of the dataset, computed over a damaged cache
    file planted where they belong, and the progress calls."""
    calls = []
    houses = load_houses(backbone_folder, min_zip_count=0)
    key = weights_fingerprint(build_backbone("mobilenet_v2", "random"))
    damaged = features_path(houses.fingerprint, "mobilenet_v2", key)
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_bytes(b"\x93NUMPY cut short")
    features = cached_features(houses, "mobilenet_v2", "random", lambda *c: calls.append(c))
    return features, calls, damaged


def test_the_catalogue_names_every_backbone_and_only_its_preset_uses_them():
    # Each builds at its native size in tests/results/test_backbone_export.py (TensorFlow:
    # building ResNet50 and EfficientNet with random weights takes a minute on JAX).
    assert set(BACKBONE_NETWORKS) == set(BACKBONES)
    assert PRESETS["backbone"].backbones == BACKBONE_NETWORKS
    assert PRESETS["mixed"].backbones == ()  # the default search needs no weights
    model = build_backbone("mobilenet_v2", "random")
    assert model.input.shape == (None, 224, 224, 3) and model.input.dtype == "uint8"
    assert model.output.shape == (None, MOBILENET.dim) and model.output.dtype == "float32"


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("mobilenet_v2", "mobilenet_v2"),
        ("resnet50", "resnet50"),
        ("efficientnet_b0", "efficientnet"),
    ],
)
def test_preprocessing_is_what_keras_applications_expects(name, module):
    photos = np.random.default_rng(0).integers(0, 256, (2, 5, 5, 3)).astype("uint8")
    expected = getattr(keras.applications, module).preprocess_input(photos.astype("float32"))
    layer = BackbonePreprocess(BACKBONES[name].preprocess)
    np.testing.assert_allclose(np.asarray(layer(photos)), expected, rtol=1e-6, atol=1e-4)


def test_weights_from_a_folder_are_the_files_there(tmp_path):
    random = build_backbone("mobilenet_v2", "random")
    assert weights_fingerprint(random) == weights_fingerprint(
        build_backbone("mobilenet_v2", "random")
    )
    network = network_of(random)
    network.set_weights([w + 0.5 for w in network.get_weights()])
    network.save_weights(tmp_path / "mobilenet_v2.weights.h5")

    check_weights(str(tmp_path), ["mobilenet_v2"])
    loaded = build_backbone("mobilenet_v2", str(tmp_path))
    for saved, read in zip(network.get_weights(), network_of(loaded).get_weights(), strict=True):
        np.testing.assert_array_equal(saved, read)
    assert weights_fingerprint(loaded) != weights_fingerprint(
        build_backbone("mobilenet_v2", "random")
    )


def test_a_space_with_backbones_says_how_to_provide_weights(tmp_path):
    check_weights(None, ())  # no backbone, no weights needed
    with pytest.raises(SearchError, match=r"pass --weights imagenet .* or --weights DIR"):
        check_weights(None, ["resnet50"])
    with pytest.raises(SearchError, match="not a folder"):
        check_weights(str(tmp_path / "nowhere"), ["resnet50"])
    expected = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
    with pytest.raises(SearchError, match=f"no weights for resnet50 \\(expected {expected}"):
        check_weights(str(tmp_path), ["resnet50"])
    (tmp_path / expected).write_bytes(b"")  # as Keras downloads it
    check_weights(str(tmp_path), ["resnet50"])
    check_weights("imagenet", ["resnet50"])


def test_features_are_computed_once_per_dataset_and_weights(
    backbone_folder, computed, batches_of_24
):
    features, calls, path = computed
    assert features.shape == (12, len(ROOMS), MOBILENET.dim) and features.dtype == np.float32
    assert calls == [(0, 48), (24, 48), (48, 48)]  # 12 houses x 4 photos, 2 batches
    # The damaged file there was computed again and replaced, whole.
    np.testing.assert_array_equal(np.load(path), features)
    assert len({features[0, r].tobytes() for r in range(len(ROOMS))}) == len(ROOMS)

    houses = load_houses(backbone_folder, min_zip_count=0)
    again = cached_features(houses, "mobilenet_v2", "random", lambda *c: calls.append(c))
    assert len(calls) == 3  # nothing computed
    np.testing.assert_array_equal(again, features)

    # The zip filter selects rows of the same cache.
    filtered = load_houses(backbone_folder, min_zip_count=3)
    assert len(filtered) == 10
    data = ModelData(filtered, np.arange(10), "random")
    np.testing.assert_array_equal(data.features("mobilenet_v2"), features[filtered.source_rows])
    assert len(calls) == 3


# (Each aggregation's layers are the branched towers': tests/search_spaces/test_models.py;
# the served model against these networks: tests/results/test_backbone_export.py.)
def test_a_frozen_backbone_network_trains_on_the_cached_features(backbone_folder, computed):
    data = ModelData(load_houses(backbone_folder, min_zip_count=0), np.arange(12), "random")
    hypermodel = HousesHyperModel(PRESETS["backbone"], data, seed=1)
    values = {"modality": "mixed", "backbone/network": "mobilenet_v2",
              "backbone/aggregate": "lstm"}  # fmt: skip
    model, result = train_fold(
        hypermodel, hypermodel.hyperparameters(values), 1, np.arange(8), np.arange(8, 12), 1
    )
    assert "mobilenet_v2_features" in input_names(model)
    assert not set(input_names(model)) & {photo_input(r) for r in ROOMS}  # no photo input
    assert model.get_layer("backbone_embed").output.shape[1:] == (len(ROOMS), 32)
    assert np.isfinite(result.score)


def test_a_space_with_backbones_needs_weights_to_build(backbone_folder):
    data = ModelData(load_houses(backbone_folder, min_zip_count=0), np.arange(12))
    hypermodel = HousesHyperModel(PRESETS["backbone"], data)
    with pytest.raises(ValueError, match="needs weights"):
        hypermodel.arrays(keras_tuner.HyperParameters(), np.arange(12), hypermodel.build(
            keras_tuner.HyperParameters()))  # fmt: skip


def test_a_fine_tuned_backbone_trains_its_top_layers_at_their_own_rate(backbone_folder):
    data = ModelData(load_houses(backbone_folder, min_zip_count=0), np.arange(12), "random")
    space = PRESETS["backbone"].__class__.from_dict(
        {"base": "backbone", "hyperparameters": {"backbone/fine_tune": [0, 10, 30]}}
    )
    hypermodel = HousesHyperModel(space, data)
    hp = hypermodel.hyperparameters({
        "modality": "photos", "backbone/network": "mobilenet_v2", "backbone/fine_tune": 10,
        "backbone/fine_tune_learning_rate": 1e-5, "learning_rate": 1e-2,
    })  # fmt: skip
    model = hypermodel.build(hp)
    assert set(input_names(model)) == {photo_input(r) for r in ROOMS}  # photos at 224x224
    assert model.get_layer("photo_bathroom").output.shape[1:] == (224, 224, 3)
    network = network_of(model.get_layer("mobilenet_v2_backbone"))
    trained = [layer for layer in network.layers if layer.trainable and layer.weights]
    assert trained and all(layer in network.layers[-10:] for layer in trained)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in trained)
    assert model.optimizer.slow_factor == pytest.approx(1e-3)
    assert len(model.optimizer._slow) == len(network.trainable_variables)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_slow_variables_step_at_their_own_learning_rate(name):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    slow_layer, fast_layer = keras.layers.Dense(4), keras.layers.Dense(1)
    model = keras.Model(inputs, fast_layer(slow_layer(inputs)))
    slow = tuple(slow_layer.trainable_variables)
    model.compile(make_optimizer(name, 1e-2, slow, 1e-4), loss="mse")
    before = [v.numpy().copy() for v in model.trainable_variables]
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    model.train_on_batch(x, np.full((8, 1), 5.0, "float32"))
    # Adam's first step moves every weight by about its learning rate.
    after = model.trainable_variables
    steps = [np.abs(v.numpy() - b).max() for v, b in zip(after, before, strict=True)]
    rates = [1e-4 if any(v is s for s in slow) else 1e-2 for v in after]
    for step, rate in zip(steps, rates, strict=True):
        assert 0.5 * rate < step < 1.1 * rate


def test_under_mixed_precision_features_stay_float32_and_the_network_on_top_follows(
    backbone_folder,
):
    data = ModelData(load_houses(backbone_folder, min_zip_count=0), np.arange(12), "random")
    space = PRESETS["backbone"].__class__.from_dict(
        {"base": "backbone", "hyperparameters": {"backbone/fine_tune": [0, 10]}}
    )
    hypermodel = HousesHyperModel(space, data, seed=1)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        assert build_backbone("mobilenet_v2", "random").output.dtype == "float32"
        frozen = hypermodel.build(hypermodel.hyperparameters({"modality": "mixed"}))
        assert frozen.get_layer("backbone_embed").compute_dtype == "bfloat16"
        assert frozen.outputs[0].dtype == "float32"
        tuned = hypermodel.build(hypermodel.hyperparameters({"backbone/fine_tune": 10}))
        network = network_of(tuned.get_layer("mobilenet_v2_backbone"))
        assert network.layers[-1].compute_dtype == "bfloat16"
        assert tuned.outputs[0].dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")
