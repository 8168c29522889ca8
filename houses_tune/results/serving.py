"""The shipped model: raw house attributes and photos in, price in dollars out.

A trained search model expects preprocessed inputs (one-hot zips and min-max scaled
attributes, a photo montage) and predicts in its target-transform space. The serving
model wraps it so a user only passes raw numbers and uint8 photos:

    zipcode -> IntegerLookup (one-hot, OOV slot) -> DropOutOfVocabulary --+-> "attributes"
    bedrooms, bathrooms, area -> Concatenate -> MinMaxScale ----------------+
    bathroom, bedroom, frontal, kitchen (uint8) -> Concatenate x3 ----------> "montage"
    the inputs the trained model takes -> trained model -> InverseTarget -> dollars

Only Keras layers and small registered layers are used (no Lambda, no ``tf.*``), so the
file loads with ``keras.saving.load_model(path, safe_mode=True)``.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from houses_tune.data import ROOMS

# Order of the scaled attributes after the one-hot zips (the tutorials' order).
CONTINUOUS = ("bedrooms", "bathrooms", "area")
ZIP_LOOKUP = "zip_lookup"


@keras.saving.register_keras_serializable(package="houses_tune")
class MinMaxScale(layers.Layer):
    """``(x - minimum) / (maximum - minimum)`` per column; a zero range divides by 1."""

    def __init__(self, minimum, maximum, **kwargs):
        super().__init__(**kwargs)
        self.minimum = [float(v) for v in minimum]
        self.maximum = [float(v) for v in maximum]
        span = np.asarray(self.maximum) - np.asarray(self.minimum)
        self._span = np.where(span > 0, span, 1.0).astype("float32")

    def call(self, x):
        x = ops.cast(x, "float32")
        return (x - np.asarray(self.minimum, "float32")) / self._span

    def get_config(self):
        return {**super().get_config(), "minimum": self.minimum, "maximum": self.maximum}


@keras.saving.register_keras_serializable(package="houses_tune")
class DropOutOfVocabulary(layers.Layer):
    """Drop the first (out-of-vocabulary) column of a one-hot lookup.

    The trained model was fed all-zero one-hot rows for unknown zip codes, which is what
    is left once the OOV column is gone.
    """

    def call(self, x):
        return ops.cast(x[..., 1:], "float32")


@keras.saving.register_keras_serializable(package="houses_tune")
class InverseTarget(layers.Layer):
    """Map a prediction in target-transform space back to dollars.

    Args:
        transform: ``"max_scale"`` (price = y * scale) or ``"log"`` (price = exp(y)).
        scale: the max_scale divisor (the largest training price).
    """

    def __init__(self, transform: str, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if transform not in ("max_scale", "log"):
            raise ValueError(f"unknown target transform {transform!r}")
        self.transform = transform
        self.scale = float(scale)

    def call(self, y):
        y = ops.cast(y, "float32")
        return ops.exp(y) if self.transform == "log" else y * self.scale

    def get_config(self):
        return {**super().get_config(), "transform": self.transform, "scale": self.scale}


def photo_tile(model: keras.Model) -> int | None:
    """Tile size (pixels per photo side) a trained or serving model expects, None without photos."""
    for tensor in model.inputs:
        name = _input_name(tensor)
        if name == "montage":
            return int(tensor.shape[1]) // 2
        if name in ROOMS:
            return int(tensor.shape[1])
    return None


def build_serving_model(trained: keras.Model, preprocessor, transform) -> keras.Model:
    """Wrap a trained search model so it takes raw inputs and returns dollars.

    Args:
        trained: a model whose inputs are named like ``ModelData.inputs`` keys.
        preprocessor: the fitted ``houses_tune.data.Preprocessor`` the model was trained with.
        transform: the fitted ``houses_tune.data.TargetTransform`` of the model's target.

    Returns:
        An uncompiled model with inputs ``bedrooms``, ``bathrooms``, ``area`` (float32,
        shape (1,)), ``zipcode`` (int64, shape (1,)) when the trained model uses
        attributes and, when it uses photos, ``bathroom``, ``bedroom``, ``frontal``,
        ``kitchen`` (uint8, (tile, tile, 3));
        output ``price`` (float32, shape (1,)) in dollars.
    """
    trained = _uncompiled_copy(trained)
    wanted = [_input_name(t) for t in trained.inputs]
    inputs = {}
    if "attributes" in wanted:
        inputs = {name: keras.Input((1,), name=name) for name in CONTINUOUS}
        inputs["zipcode"] = keras.Input((1,), dtype="int64", name="zipcode")
    tile = photo_tile(trained)
    if tile is not None:
        for room in ROOMS:
            inputs[room] = keras.Input((tile, tile, 3), dtype="uint8", name=room)

    features = dict(inputs)
    if "attributes" in wanted:
        scaled = MinMaxScale(
            [preprocessor.mins[c] for c in CONTINUOUS],
            [preprocessor.maxs[c] for c in CONTINUOUS],
            name="scale_attributes",
        )(layers.Concatenate(name="continuous")([inputs[c] for c in CONTINUOUS]))
        lookup = layers.IntegerLookup(
            vocabulary=[int(z) for z in preprocessor.zip_vocabulary],
            num_oov_indices=1,
            output_mode="one_hot",
            name=ZIP_LOOKUP,
        )
        zips = DropOutOfVocabulary(name="zip_one_hot")(lookup(inputs["zipcode"]))
        features["attributes"] = layers.Concatenate(name="attributes")([zips, scaled])
    if "montage" in wanted:
        # The tutorial's 2x2 montage: bathroom TL, bedroom TR, kitchen BL, frontal BR.
        top = layers.Concatenate(axis=2, name="montage_top")(
            [inputs["bathroom"], inputs["bedroom"]]
        )
        bottom = layers.Concatenate(axis=2, name="montage_bottom")(
            [inputs["kitchen"], inputs["frontal"]]
        )
        features["montage"] = layers.Concatenate(axis=1, name="montage")([top, bottom])

    prediction = trained({name: features[name] for name in wanted})
    price = InverseTarget(transform.name, transform.scale, name="price")(prediction)
    return keras.Model(inputs, price, name="houses_price")


def _uncompiled_copy(model: keras.Model) -> keras.Model:
    # The shipped file then holds no optimizer state and no training loss or metric, so
    # loading it needs nothing registered beyond the layers of this module.
    # (clone_model would compile the copy again; a new Functional over the same layers
    # shares the weights and is not compiled.)
    inputs = {_input_name(tensor): tensor for tensor in model.inputs}
    return keras.Model(inputs, model.output, name=model.name)


def load_exported_model(path: str | Path) -> keras.Model:
    """Load an exported ``model.keras`` safely (``safe_mode=True``, no Lambda layers).

    Importing this module registers the custom layers the file needs; a plain
    ``keras.saving.load_model(path, safe_mode=True)`` works too after
    ``import houses_tune.results.serving``.
    """
    return keras.saving.load_model(Path(path), safe_mode=True, compile=False)


def zip_vocabulary(model: keras.Model) -> list[int]:
    """Zip codes a serving model knows (others are predicted with an all-zero one-hot)."""
    try:
        lookup = model.get_layer(ZIP_LOOKUP)
    except ValueError:  # a photos-only model ignores zip codes
        return []
    return [int(z) for z in lookup.get_vocabulary(include_special_tokens=False)]


def serving_input_names(model: keras.Model) -> list[str]:
    """Names of a serving model's inputs, e.g. to tell whether it needs photos."""
    return [_input_name(t) for t in model.inputs]


def raw_inputs(model: keras.Model, frame, photos: np.ndarray | None = None) -> dict:
    """Arrays for a serving model from house rows and their photos.

    Args:
        model: the serving model (only the inputs it takes are returned).
        frame: rows with columns bedrooms, bathrooms, area, zipcode.
        photos: uint8 ``(n, 4, tile, tile, 3)`` in ``ROOMS`` order, when the model uses photos.

    Returns:
        Input name -> array: numbers as (n,) float32 (zipcode int64), photos (n, t, t, 3).
    """
    names = serving_input_names(model)
    arrays = {}
    if "zipcode" in names:
        arrays = {name: frame[name].to_numpy(dtype=np.float32) for name in CONTINUOUS}
        arrays["zipcode"] = frame["zipcode"].to_numpy(dtype=np.int64)
    if photos is not None:
        for slot, room in enumerate(ROOMS):
            arrays[room] = photos[:, slot]
    return {name: arrays[name] for name in names}


def export_saved_model(model: keras.Model, path: str | Path) -> None:
    """Write a TensorFlow SavedModel whose ``serving_default`` signature wraps ``model``.

    Signature ``serving_default`` (also the ``serve`` function): keyword inputs named like
    the model's inputs (``bedrooms``, ``bathrooms``, ``area`` float32 [batch, 1];
    ``zipcode`` int64 [batch, 1]; photos uint8 [batch, tile, tile, 3]); output
    ``{"price": float32 [batch, 1]}`` in dollars.
    """
    import tensorflow as tf  # export code, not model code: the SavedModel format is TensorFlow's

    signature = {
        name: tf.TensorSpec(tensor.shape, tensor.dtype, name=name)
        for name, tensor in zip(serving_input_names(model), model.inputs, strict=True)
    }
    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        name="serve",
        fn=lambda inputs: {"price": model(inputs, training=False)},
        input_signature=[signature],
    )
    archive.write_out(str(path), verbose=False)


def _input_name(tensor) -> str:
    # Keras names an Input's tensor after the Input layer; strip any ":0"-style suffix.
    return tensor.name.split(":")[0]


def saved_model_prices(path: str | Path, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Predict with an exported SavedModel's ``serve`` function (float64 dollars, shape (n,))."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    # The signature wants rank-2 numbers ([batch, 1]); photos are already rank 4.
    tensors = {
        name: tf.constant(value.reshape(len(value), 1) if value.ndim == 1 else value)
        for name, value in inputs.items()
    }
    return loaded.serve(tensors)["price"].numpy().reshape(-1).astype(np.float64)
