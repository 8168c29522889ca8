"""The shipped model: raw attributes and images in, the target (a price, in dollars) out.

A trained network expects preprocessed inputs (one-hot categories, min-max scaled numbers,
a photo montage) and predicts in its target-transform space. The serving model wraps one
network, or a bag of them (the fold models of the exported configurations), so a user
passes only the dataset's own columns (Houses: bedrooms, bathrooms, area, zipcode and the
four rooms' photos):

    each categorical column -> Integer/StringLookup (one-hot, OOV slot) -> DropOutOfVocabulary
                               -> Concatenate ---------------------------------> "categories"
    each numeric column -> Rescaling (min-max) -> Concatenate ------------------> "numbers"
    each logged column -> Rescaling -> Concatenate -----------------------------> "skewed"
    each logged column -> Log -> Rescaling -> Concatenate ----------------------> "log_skewed"
    each image column (uint8) --------------------------------------> "photo_<column>"
    the images -> Concatenate in the montage grid (Blank cells) -----------------> "montage"
    each network (the inputs it takes) -> LogPrice -> Average -> exp -> price in dollars

The members are averaged in log-price space (a geometric mean of their prices), whatever
their target transforms; targets that can be zero or negative have no log, so there they
are averaged as they are (``Price`` -> Average). Only Keras layers and small registered
layers are used (no Lambda, no ``tf.*``), so the file loads with
``keras.saving.load_model(path, safe_mode=True)``. String categories need TensorFlow
(JAX has no string tensors).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from houses_tune.data.model_data import MONTAGE, photo_input
from houses_tune.data.photos import montage_cells, montage_grid
from houses_tune.data.preprocess import log_name
from houses_tune.search_spaces.backbones import FEATURE_INPUTS, build_backbone
from houses_tune.search_spaces.layers import photo_sequence, photo_size

#: Name prefix of each categorical column's lookup layer (``lookup_zipcode``).
LOOKUP_PREFIX = "lookup_"
#: Name prefix of the min-max ``Rescaling`` layer of each number (``scale_area``, and
#: ``scale_log_area`` for the log of a logged column).
SCALE_PREFIX = "scale_"
# A member predicting a price below one dollar (a max_scale network can go negative)
# counts as one dollar in the log-space average.
_MIN_PRICE = 1.0


@keras.saving.register_keras_serializable(package="houses_tune")
class Log(layers.Layer):
    """Natural logarithm (of a logged column: positive by validation)."""

    def call(self, x):
        return ops.log(ops.cast(x, "float32"))


@keras.saving.register_keras_serializable(package="houses_tune")
class DropOutOfVocabulary(layers.Layer):
    """Drop the first (out-of-vocabulary) column of a one-hot lookup.

    The network was fed all-zero one-hot rows for unknown values, which is what is left
    once the OOV column is gone.
    """

    def call(self, x):
        return ops.cast(x[..., 1:], "float32")


@keras.saving.register_keras_serializable(package="houses_tune")
class Blank(layers.Layer):
    """A black image shaped like its input: the montage's unused grid cells."""

    def call(self, x):
        return ops.zeros_like(x)


class _FromTarget(layers.Layer):
    """A network's prediction, in its target-transform space, mapped back.

    Args:
        transform: ``"log"`` (ln price) or ``"max_scale"`` (price = y * scale).
        scale: The max_scale divisor (the largest fit price).
    """

    def __init__(self, transform: str, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if transform not in ("max_scale", "log"):
            raise ValueError(f"unknown target transform {transform!r}")
        self.transform = transform
        self.scale = float(scale)

    def get_config(self):
        return {**super().get_config(), "transform": self.transform, "scale": self.scale}


@keras.saving.register_keras_serializable(package="houses_tune")
class LogPrice(_FromTarget):
    """A network's prediction as ln(price in dollars)."""

    def call(self, y):
        y = ops.cast(y, "float32")
        if self.transform == "log":
            return y
        return ops.log(ops.maximum(y * self.scale, _MIN_PRICE))


@keras.saving.register_keras_serializable(package="houses_tune")
class Price(_FromTarget):
    """A network's prediction as the target itself (for targets of any sign)."""

    def call(self, y):
        y = ops.cast(y, "float32")
        return ops.exp(y) if self.transform == "log" else y * self.scale


def bag_prices(prices: Sequence[np.ndarray], geometric: bool = True) -> np.ndarray:
    """What a serving model of these members predicts: the geometric mean of their prices
    (``geometric`` False: the arithmetic mean)."""
    if not geometric:
        return np.mean([np.asarray(p, dtype=np.float64) for p in prices], axis=0)
    logs = [np.log(np.maximum(np.asarray(p, dtype=np.float64), _MIN_PRICE)) for p in prices]
    return np.exp(np.mean(logs, axis=0))


@keras.saving.register_keras_serializable(package="houses_tune")
class Exp(layers.Layer):
    """ln(price) -> price."""

    def call(self, x):
        return ops.exp(ops.cast(x, "float32"))


def photo_tile(model: keras.Model, images: int) -> int | None:
    """Side in pixels of each image a network or serving model expects (a frozen backbone's
    network: the backbone's native size), None without images.

    Args:
        model: A network or a serving model.
        images: Images per row of the dataset.
    """
    size = photo_size(model, images)
    if size is None:
        for name in map(_input_name, model.inputs):
            if name in FEATURE_INPUTS:
                return FEATURE_INPUTS[name].size
        shapes = [t.shape for t in model.inputs if len(t.shape) == 4]  # a serving model
        size = int(shapes[0][1]) if shapes else None
    return size


def build_serving_model(
    members: Sequence[tuple[keras.Model, object]],
    preprocessor,
    weights: str | None = None,
    geometric: bool = True,
) -> keras.Model:
    """Wrap trained networks into one model that takes raw inputs and returns dollars.

    Args:
        members: ``(network, fitted TargetTransform)`` pairs; networks have inputs named
            like ``ModelData.inputs`` keys, and all image networks use one tile size.
        preprocessor: The fitted ``houses_tune.data.Preprocessor`` they were trained with
            (its schema names the raw inputs).
        weights: ``--weights`` of the run, when a member takes frozen backbone features
            (the backbone, with those weights, goes into the model once).
        geometric: Average in log-price space (``Table.positive``: every target
            positive), else the predictions as they are.

    Returns:
        An uncompiled model whose inputs are the dataset's columns that the members use:
        each numeric column float32 ``(1,)``, each categorical column int64 or string
        ``(1,)``, each image column uint8 ``(tile, tile, 3)``; output ``price`` (float32,
        shape (1,)): the geometric (or arithmetic) mean of the members' predictions.

    Raises:
        ValueError: No member, or members with images of different sizes.
    """
    if not members:
        raise ValueError("a serving model needs at least one network")
    schema = preprocessor.schema
    networks = [_uncompiled_copy(net, f"member_{i}") for i, (net, _) in enumerate(members, 1)]
    wanted = {_input_name(t) for net in networks for t in net.inputs}
    tiles = {photo_tile(net, len(schema.images)) for net in networks} - {None}
    if len(tiles) > 1:
        raise ValueError(f"members use photos of different sizes: {sorted(tiles)}")
    inputs = {}
    if {"categories", "numbers", "skewed", "log_skewed"} & wanted:
        for column in schema.categorical:
            dtype = "int64" if _integers(preprocessor.vocabularies[column]) else "string"
            inputs[column] = keras.Input((1,), dtype=dtype, name=column)
        for column in schema.numeric:
            inputs[column] = keras.Input((1,), name=column)
    if tiles:
        tile = tiles.pop()
        for column in schema.images:
            inputs[column] = keras.Input((tile, tile, 3), dtype="uint8", name=column)
    features = _features(inputs, wanted, preprocessor)
    for name in sorted(wanted & set(FEATURE_INPUTS)):
        backbone = build_backbone(FEATURE_INPUTS[name].name, weights)
        features[name] = photo_sequence([backbone(inputs[c]) for c in schema.images], name)

    back, suffix = (LogPrice, "log_price") if geometric else (Price, "price")
    outputs = []
    for net, (_, transform) in zip(networks, members, strict=True):
        prediction = net({_input_name(t): features[_input_name(t)] for t in net.inputs})
        # The model's output is named "price" (one network's, or the average's).
        name = "price" if len(networks) == 1 and not geometric else f"{net.name}_{suffix}"
        outputs.append(back(transform.name, transform.scale, name=name)(prediction))
    if not geometric:
        price = layers.Average(name="price")(outputs) if len(outputs) > 1 else outputs[0]
        return keras.Model(inputs, price, name="price_model")
    mean = outputs[0] if len(outputs) == 1 else layers.Average(name="log_price")(outputs)
    return keras.Model(inputs, Exp(name="price")(mean), name="price_model")


def _integers(values) -> bool:
    return all(isinstance(v, (int, np.integer)) for v in values)


def _join(parts: list, name: str):
    return parts[0] if len(parts) == 1 else layers.Concatenate(name=name)(parts)


def _features(inputs: dict, wanted: set[str], preprocessor) -> dict:
    """The network inputs computed from the raw ones, inside the model."""
    schema = preprocessor.schema
    features = {photo_input(c): inputs[c] for c in schema.images if c in inputs}

    def scaled(name, layer_name, x):
        scale, offset = preprocessor.scale_and_offset(name)
        return layers.Rescaling(scale, offset, name=f"{SCALE_PREFIX}{layer_name}")(x)

    if "categories" in wanted:
        one_hots = []
        for column in schema.categorical:
            vocabulary = preprocessor.vocabularies[column]
            if _integers(vocabulary):
                lookup = layers.IntegerLookup(
                    vocabulary=[int(v) for v in vocabulary],
                    num_oov_indices=1,
                    output_mode="one_hot",
                    name=f"{LOOKUP_PREFIX}{column}",
                )
            else:
                lookup = layers.StringLookup(
                    vocabulary=[str(v) for v in vocabulary],
                    num_oov_indices=1,
                    output_mode="one_hot",
                    name=f"{LOOKUP_PREFIX}{column}",
                )
            one_hot = DropOutOfVocabulary(name=f"{column}_one_hot")(lookup(inputs[column]))
            one_hots.append(one_hot)
        features["categories"] = _join(one_hots, "categories")
    if "numbers" in wanted:
        parts = [scaled(c, c, inputs[c]) for c in schema.linear]
        features["numbers"] = _join(parts, "numbers")
    if "skewed" in wanted:
        features["skewed"] = _join([scaled(c, c, inputs[c]) for c in schema.logged], "skewed")
    if "log_skewed" in wanted:
        parts = [
            scaled(log_name(c), f"log_{c}", Log(name=f"ln_{c}")(inputs[c])) for c in schema.logged
        ]
        features["log_skewed"] = _join(parts, "log_skewed")
    if MONTAGE in wanted:
        features[MONTAGE] = _montage([inputs[c] for c in schema.images])
    return features


def _montage(images: list):
    """The images in the montage grid (``houses_tune.data.photos.montage_cells``)."""
    rows, columns = montage_grid(len(images))
    grid = [[None] * columns for _ in range(rows)]
    for image, (r, c) in zip(images, montage_cells(len(images)), strict=True):
        grid[r][c] = image
    lines = []
    for r, line in enumerate(grid, 1):
        cells = [cell if cell is not None else Blank(name=f"montage_blank_{r}_{c}")(images[0])
                 for c, cell in enumerate(line, 1)]  # fmt: skip
        lines.append(cells[0] if columns == 1 else
                     layers.Concatenate(axis=2, name=f"montage_row_{r}")(cells))  # fmt: skip
    return lines[0] if rows == 1 else layers.Concatenate(axis=1, name=MONTAGE)(lines)


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


def vocabularies(model: keras.Model) -> dict[str, list]:
    """The values each categorical column of a serving model knows (others are predicted
    with an all-zero one-hot); a model without attributes knows none."""
    found = {}
    for layer in model.layers:
        if layer.name.startswith(LOOKUP_PREFIX):
            found[layer.name.removeprefix(LOOKUP_PREFIX)] = [
                v.item() if hasattr(v, "item") else v
                for v in layer.get_vocabulary(include_special_tokens=False)
            ]
    return found


def training_ranges(model: keras.Model) -> dict[str, tuple[float, float]]:
    """The range of each raw number a serving model was trained on.

    Read back from its min-max ``Rescaling`` layers, which map the training minimum to 0 and
    the maximum to 1 (the range of a log is the column's, in logs; the wider of the two
    is kept). Numbers the model does not use are left out.
    """
    ranges: dict[str, tuple[float, float]] = {}
    for layer in model.layers:
        if not (isinstance(layer, layers.Rescaling) and layer.name.startswith(SCALE_PREFIX)):
            continue
        name = layer.name.removeprefix(SCALE_PREFIX)
        scale, offset = float(layer.scale), float(layer.offset)
        low, high = -offset / scale, (1.0 - offset) / scale
        if name.startswith("log_") and f"ln_{name[4:]}" in {x.name for x in model.layers}:
            name, low, high = name[4:], math.exp(low), math.exp(high)
        known = ranges.get(name, (low, high))
        ranges[name] = (min(low, known[0]), max(high, known[1]))
    return ranges


def serving_input_names(model: keras.Model) -> list[str]:
    """Names of a serving model's inputs, e.g. to tell whether it needs photos."""
    return [_input_name(t) for t in model.inputs]


def raw_inputs(
    model: keras.Model, frame, photos: np.ndarray | None = None, images: Sequence[str] = ()
) -> dict:
    """Arrays for a serving model from rows of the dataset's columns and their images.

    Args:
        model: the serving model (only the inputs it takes are returned).
        frame: rows with the model's attribute columns.
        photos: uint8 ``(n, images, tile, tile, 3)`` in ``images`` order, when the model
            uses images.
        images: The dataset's image columns.

    Returns:
        Input name -> array: numbers (n,) float32, categories (n,) int64 or str, images
        (n, t, t, 3).
    """
    arrays = {}
    if photos is not None:
        arrays = {column: photos[:, slot] for slot, column in enumerate(images)}
    for tensor in model.inputs:
        name = _input_name(tensor)
        if name in arrays:
            continue
        dtype = {"int64": np.int64, "string": object}.get(tensor.dtype, np.float32)
        values = frame[name].to_numpy()
        arrays[name] = (
            values.astype(str).astype(object) if dtype is object else values.astype(dtype)
        )
    return {name: arrays[name] for name in serving_input_names(model)}


def _input_name(tensor) -> str:
    # Keras names an Input's tensor after the Input layer; strip any ":0"-style suffix.
    return tensor.name.split(":")[0]
