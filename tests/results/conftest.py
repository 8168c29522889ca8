"""Fixtures of the export tests: tiny hand-built "trained" networks and exported model files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def tiny_trained_model(n_zips: int | None, tile: int | None, branched: bool = False,
                       area: str = "skewed", seed: int = 0):  # fmt: skip
    """A small untrained network with the search's input names (any weights will do)."""
    import keras  # imported here: the run-folder tests need no Keras
    from keras import layers

    from houses_tune.data import ROOMS, photo_input

    keras.utils.set_random_seed(seed)
    inputs, features = {}, []
    if n_zips is not None:
        inputs = {
            "categories": keras.Input((n_zips,), name="categories"),
            "numbers": keras.Input((2,), name="numbers"),
            area: keras.Input((1,), name=area),
        }
        joined = layers.Concatenate()([inputs["categories"], inputs["numbers"], inputs[area]])
        features.append(layers.Dense(4, activation="relu")(joined))
    if tile is not None:
        names = [photo_input(r) for r in ROOMS] if branched else ("montage",)
        for name in names:
            size = tile if branched else 2 * tile
            inputs[name] = keras.Input((size, size, 3), dtype="uint8", name=name)
            x = layers.Rescaling(1 / 255)(inputs[name])
            x = layers.Conv2D(2, 3, strides=2)(x)
            features.append(layers.GlobalAveragePooling2D()(x))
    x = layers.Concatenate()(features) if len(features) > 1 else features[0]
    # A small positive output just above 0.1 (ReLU features, small positive weights), so
    # max_scale prices look like prices and log prices stay finite.
    output = layers.Dense(
        1,
        kernel_initializer=keras.initializers.RandomUniform(0.0, 0.01),
        bias_initializer=keras.initializers.Constant(0.1),
    )(layers.ReLU()(x))
    return keras.Model(inputs, output)


def exported_model(folder: Path, dataset: Path, tile: int | None = 8, attributes: bool = True):
    """Build, save and return (path, serving model, ModelData) for a tiny dataset folder."""
    from houses_tune.data import ModelData, load_houses
    from houses_tune.results.serving import build_serving_model

    houses = load_houses(dataset, min_zip_count=0)
    data = ModelData(houses, np.arange(len(houses)))
    trained = tiny_trained_model(data.widths["categories"] if attributes else None, tile)
    model = build_serving_model([(trained, data.transform("max_scale"))], data.preprocessor)
    path = Path(folder) / "model.keras"
    model.save(path)
    return path, model, data


@pytest.fixture
def trained_model():
    """The ``tiny_trained_model(n_zips, tile, branched=False, area="skewed", seed=0)`` function."""
    return tiny_trained_model


@pytest.fixture
def export_model():
    """The ``exported_model(folder, dataset, tile=8, attributes=True)`` function."""
    return exported_model
