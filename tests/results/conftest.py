"""Fixtures of the export tests: tiny hand-built "trained" models and exported model files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def tiny_trained_model(n_attributes: int | None, tile: int | None, branched: bool = False):
    """A small untrained model with the search models' input names (any weights will do)."""
    import keras  # imported here: the run-folder tests in this folder need no Keras
    from keras import layers

    from houses_tune.data import ROOMS

    keras.utils.set_random_seed(0)
    inputs, features = {}, []
    if n_attributes is not None:
        inputs["attributes"] = keras.Input((n_attributes,), name="attributes")
        features.append(layers.Dense(4, activation="relu")(inputs["attributes"]))
    if tile is not None:
        names = ROOMS if branched else ("montage",)
        for name in names:
            size = tile if branched else 2 * tile
            inputs[name] = keras.Input((size, size, 3), dtype="uint8", name=name)
            x = layers.Rescaling(1 / 255)(inputs[name])
            x = layers.Conv2D(2, 3, strides=2)(x)
            features.append(layers.GlobalAveragePooling2D()(x))
    x = layers.Concatenate()(features) if len(features) > 1 else features[0]
    # A small positive output around 0.1 so max_scale prices look like prices.
    output = layers.Dense(1, bias_initializer=keras.initializers.Constant(0.1))(x)
    return keras.Model(inputs, output)


def exported_model(folder: Path, dataset: Path, tile: int | None = 8, attributes: bool = True):
    """Build, save and return (path, serving model, ModelData) for a tiny dataset folder."""
    from houses_tune.data import ModelData, load_houses
    from houses_tune.results.serving import build_serving_model

    houses = load_houses(dataset, min_zip_count=0)
    data = ModelData(houses, np.arange(len(houses)))
    trained = tiny_trained_model(data.n_attributes if attributes else None, tile)
    model = build_serving_model(trained, data.preprocessor, data.transform("max_scale"))
    path = Path(folder) / "model.keras"
    model.save(path)
    return path, model, data


@pytest.fixture
def trained_model():
    """The ``tiny_trained_model(n_attributes, tile, branched=False)`` function."""
    return tiny_trained_model


@pytest.fixture
def export_model():
    """The ``exported_model(folder, dataset, tile=8, attributes=True)`` function."""
    return exported_model
