"""The shipped model: raw house attributes and photos in, price in dollars out.

A trained network expects preprocessed inputs (a one-hot zip code, min-max scaled numbers,
a photo montage) and predicts in its target-transform space. The serving model wraps one
network, or a bag of them (the fold models of the exported configurations), so a user
passes only raw numbers and uint8 photos:

    zipcode -> IntegerLookup (one-hot, OOV slot) -> DropOutOfVocabulary --------> "zip"
    bedrooms, bathrooms -> Rescaling (min-max) -> Concatenate ------------------> "rooms"
    area -> Rescaling ----------------------------------------------------------> "area"
    area -> Log -> Rescaling ---------------------------------------------------> "log_area"
    bathroom, bedroom, frontal, kitchen (uint8) -> Concatenate x3 --------------> "montage"
    each network (the inputs it takes) -> LogPrice -> Average -> exp -> price in dollars

The members are averaged in log-price space (a geometric mean of their prices), whatever
their target transforms. Only Keras layers and small registered layers are used (no
Lambda, no ``tf.*``), so the file loads with ``keras.saving.load_model(path,
safe_mode=True)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from houses_tune.data import ROOMS
from houses_tune.search_spaces.backbones import FEATURE_INPUTS, build_backbone
from houses_tune.search_spaces.layers import photo_sequence, photo_size

RAW_NUMBERS = ("bedrooms", "bathrooms", "area")
ZIP_LOOKUP = "zip_lookup"
#: Name prefix of the min-max ``Rescaling`` layer of each number (``scale_area``, ...).
SCALE_PREFIX = "scale_"
# A member predicting a price below one dollar (a max_scale network can go negative)
# counts as one dollar in the log-space average.
_MIN_PRICE = 1.0


@keras.saving.register_keras_serializable(package="houses_tune")
class Log(layers.Layer):
    """Natural logarithm (of the area: positive by validation)."""

    def call(self, x):
        return ops.log(ops.cast(x, "float32"))


@keras.saving.register_keras_serializable(package="houses_tune")
class DropOutOfVocabulary(layers.Layer):
    """Drop the first (out-of-vocabulary) column of a one-hot lookup.

    The network was fed all-zero one-hot rows for unknown zip codes, which is what is left
    once the OOV column is gone.
    """

    def call(self, x):
        return ops.cast(x[..., 1:], "float32")


@keras.saving.register_keras_serializable(package="houses_tune")
class LogPrice(layers.Layer):
    """A network's prediction (in its target-transform space) as ln(price in dollars).

    Args:
        transform: ``"log"`` (already ln price) or ``"max_scale"`` (price = y * scale).
        scale: The max_scale divisor (the largest fit price).
    """

    def __init__(self, transform: str, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if transform not in ("max_scale", "log"):
            raise ValueError(f"unknown target transform {transform!r}")
        self.transform = transform
        self.scale = float(scale)

    def call(self, y):
        y = ops.cast(y, "float32")
        if self.transform == "log":
            return y
        return ops.log(ops.maximum(y * self.scale, _MIN_PRICE))

    def get_config(self):
        return {**super().get_config(), "transform": self.transform, "scale": self.scale}


def bag_prices(prices: Sequence[np.ndarray]) -> np.ndarray:
    """What a serving model of these members predicts: the geometric mean of their prices."""
    logs = [np.log(np.maximum(np.asarray(p, dtype=np.float64), _MIN_PRICE)) for p in prices]
    return np.exp(np.mean(logs, axis=0))


@keras.saving.register_keras_serializable(package="houses_tune")
class Exp(layers.Layer):
    """ln(price) -> price."""

    def call(self, x):
        return ops.exp(ops.cast(x, "float32"))


def photo_tile(model: keras.Model) -> int | None:
    """Side in pixels of each photo a network or serving model expects (a frozen backbone's
    network: the backbone's native size), None without photos."""
    size = photo_size(model)
    if size is None:
        sizes = {
            FEATURE_INPUTS[n].size for n in map(_input_name, model.inputs) if n in FEATURE_INPUTS
        }
        size = sizes.pop() if sizes else None
    return size


def build_serving_model(
    members: Sequence[tuple[keras.Model, object]], preprocessor, weights: str | None = None
) -> keras.Model:
    """Wrap trained networks into one model that takes raw inputs and returns dollars.

    Args:
        members: ``(network, fitted TargetTransform)`` pairs; networks have inputs named
            like ``ModelData.inputs`` keys, and all photo networks use one tile size.
        preprocessor: The fitted ``houses_tune.data.Preprocessor`` they were trained with.
        weights: ``--weights`` of the run, when a member takes frozen backbone features
            (the backbone, with those weights, goes into the model once).

    Returns:
        An uncompiled model with inputs ``bedrooms``, ``bathrooms``, ``area`` (float32,
        shape (1,)) and ``zipcode`` (int64, shape (1,)) when a member uses attributes and,
        when one uses photos, ``bathroom``, ``bedroom``, ``frontal``, ``kitchen`` (uint8,
        (tile, tile, 3)); output ``price`` (float32, shape (1,)) in dollars: the geometric
        mean of the members' prices.

    Raises:
        ValueError: No member, or members with photos of different sizes.
    """
    if not members:
        raise ValueError("a serving model needs at least one network")
    networks = [_uncompiled_copy(net, f"member_{i}") for i, (net, _) in enumerate(members, 1)]
    wanted = {_input_name(t) for net in networks for t in net.inputs}
    tiles = {photo_tile(net) for net in networks} - {None}
    if len(tiles) > 1:
        raise ValueError(f"members use photos of different sizes: {sorted(tiles)}")
    inputs = {}
    if wanted - {"montage", *ROOMS, *FEATURE_INPUTS}:
        inputs = {name: keras.Input((1,), name=name) for name in RAW_NUMBERS}
        inputs["zipcode"] = keras.Input((1,), dtype="int64", name="zipcode")
    if tiles:
        tile = tiles.pop()
        for room in ROOMS:
            inputs[room] = keras.Input((tile, tile, 3), dtype="uint8", name=room)
    features = _features(inputs, wanted, preprocessor)
    for name in sorted(wanted & set(FEATURE_INPUTS)):
        backbone = build_backbone(FEATURE_INPUTS[name].name, weights)
        features[name] = photo_sequence([backbone(inputs[room]) for room in ROOMS], name)

    logs = []
    for net, (_, transform) in zip(networks, members, strict=True):
        prediction = net({_input_name(t): features[_input_name(t)] for t in net.inputs})
        logs.append(
            LogPrice(transform.name, transform.scale, name=f"{net.name}_log_price")(prediction)
        )
    mean = logs[0] if len(logs) == 1 else layers.Average(name="log_price")(logs)
    return keras.Model(inputs, Exp(name="price")(mean), name="houses_price")


def _features(inputs: dict, wanted: set[str], preprocessor) -> dict:
    """The network inputs computed from the raw ones, inside the model."""
    features = dict(inputs)

    def scaled(name, x):
        scale, offset = preprocessor.scale_and_offset(name)
        return layers.Rescaling(scale, offset, name=f"{SCALE_PREFIX}{name}")(x)

    if "zip" in wanted:
        lookup = layers.IntegerLookup(
            vocabulary=[int(z) for z in preprocessor.zip_vocabulary],
            num_oov_indices=1,
            output_mode="one_hot",
            name=ZIP_LOOKUP,
        )
        features["zip"] = DropOutOfVocabulary(name="zip_one_hot")(lookup(inputs["zipcode"]))
    if "rooms" in wanted:
        rooms = [scaled(n, inputs[n]) for n in ("bedrooms", "bathrooms")]
        features["rooms"] = layers.Concatenate(name="rooms")(rooms)
    if "area" in wanted:
        features["area"] = scaled("area", inputs["area"])
    if "log_area" in wanted:
        features["log_area"] = scaled("log_area", Log(name="ln_area")(inputs["area"]))
    if "montage" in wanted:
        # The tutorial's 2x2 montage: bathroom TL, bedroom TR, kitchen BL, frontal BR.
        top = layers.Concatenate(axis=2, name="montage_top")(
            [inputs["bathroom"], inputs["bedroom"]]
        )
        bottom = layers.Concatenate(axis=2, name="montage_bottom")(
            [inputs["kitchen"], inputs["frontal"]]
        )
        features["montage"] = layers.Concatenate(axis=1, name="montage")([top, bottom])
    return features


def _uncompiled_copy(model: keras.Model, name: str) -> keras.Model:
    # The shipped file then holds no optimizer state and no training loss or metric, so
    # loading it needs nothing registered beyond the layers of this module.
    # (clone_model would compile the copy again; a new Functional over the same layers
    # shares the weights and is not compiled.)
    inputs = {_input_name(tensor): tensor for tensor in model.inputs}
    return keras.Model(inputs, model.output, name=name)


def load_exported_model(path: str | Path) -> keras.Model:
    """Load an exported ``model.keras`` safely (``safe_mode=True``, no Lambda layers).

    Importing this module registers the custom layers the file needs; a plain
    ``keras.saving.load_model(path, safe_mode=True)`` works too after
    ``import houses_tune.results.serving``.
    """
    return keras.saving.load_model(Path(path), safe_mode=True, compile=False)


def members(model: keras.Model) -> list[keras.Model]:
    """The networks inside a serving model (one per fold model of the bag)."""
    return [layer for layer in model.layers if isinstance(layer, keras.Model)]


def zip_vocabulary(model: keras.Model) -> list[int]:
    """Zip codes a serving model knows (others are predicted with an all-zero one-hot)."""
    try:
        lookup = model.get_layer(ZIP_LOOKUP)
    except ValueError:  # a photos-only model ignores zip codes
        return []
    return [int(z) for z in lookup.get_vocabulary(include_special_tokens=False)]


def training_ranges(model: keras.Model) -> dict[str, tuple[float, float]]:
    """The range of each raw number (bedrooms, bathrooms, area) a serving model was trained on.

    Read back from its min-max ``Rescaling`` layers, which map the training minimum to 0 and
    the maximum to 1 (the range of ``log_area`` is the area's, in logs). Numbers the model
    does not use are left out.
    """
    ranges = {}
    for name in (*RAW_NUMBERS, "log_area"):
        try:
            config = model.get_layer(f"{SCALE_PREFIX}{name}").get_config()
        except ValueError:
            continue
        scale, offset = float(config["scale"]), float(config["offset"])
        low, high = -offset / scale, (1.0 - offset) / scale
        if name == "log_area":
            name, low, high = "area", math.exp(low), math.exp(high)
        ranges[name] = (low, high)
    return ranges


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
        arrays = {name: frame[name].to_numpy(dtype=np.float32) for name in RAW_NUMBERS}
        arrays["zipcode"] = frame["zipcode"].to_numpy(dtype=np.int64)
    if photos is not None:
        for slot, room in enumerate(ROOMS):
            arrays[room] = photos[:, slot]
    return {name: arrays[name] for name in names}


def _input_name(tensor) -> str:
    # Keras names an Input's tensor after the Input layer; strip any ":0"-style suffix.
    return tensor.name.split(":")[0]
