"""Building blocks ``(hp, inputs, **args) -> tensor`` and the function that assembles them.

Each block registers its hyperparameters under its own ``hp.name_scope``. An
argument left ``None`` is tuned over the full catalogue range, a ``Param`` is
tuned over that (narrowed) range, and a plain value is fixed (``hp.Fixed``).
``build_model`` opens the ``hp.conditional_scope``s, so montage-only,
branched-only and attribute-only hyperparameters are active only when they apply.
Models use plain Keras layers only (no ``Lambda``, no ``tf.*``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np
from keras import layers

from houses_tune.data.model_data import MONTAGE as MONTAGE_INPUT
from houses_tune.data.model_data import photo_input
from houses_tune.data.photos import montage_grid
from houses_tune.objective import MAPE, Objective
from houses_tune.search_spaces.backbones import BACKBONES, build_backbone, network_of
from houses_tune.search_spaces.layers import photo_sequence
from houses_tune.search_spaces.metrics import LogPriceMSE, PriceMAPELoss, objective_metric
from houses_tune.search_spaces.space import (
    ATTRIBUTES,
    BACKBONE,
    BRANCHED,
    CATALOGUE,
    FINE_TUNED,
    MONTAGE,
    NO_LAYERS,
    PHOTOS,
    ZIP_EMBEDDING,
    Param,
    Space,
    encode_tuple,
    parse_tuple,
)

# Huber's threshold, as a fraction of a price: errors beyond 10% count linearly.
HUBER_PRICE_FRACTION = 0.1
# Training steps per call into the backend: the small networks here spend most of an
# epoch on per-step overhead (benchmarks/trial_cost.py), and 8 steps per call cut it.
STEPS_PER_EXECUTION = 8


def register(hp, name: str, param: Param) -> Any:
    """Register ``param`` on ``hp`` as ``name`` (relative to the current name scope).

    Returns:
        The trial's value, or ``None`` when the parameter is inactive.
    """
    if param.is_fixed:
        return hp.Fixed(name, param.default)
    if param.is_choice and all(isinstance(v, bool) for v in param.values):
        return hp.Boolean(name, default=param.default)  # Choice would turn bools into ints
    if param.is_choice:
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in param.values)
        return hp.Choice(name, list(param.values), ordered=numeric, default=param.default)
    return hp.Float(
        name, param.min, param.max, step=param.step, sampling=param.sampling, default=param.default
    )


def tune(hp, name: str, arg: Any = None) -> Any:
    """Register catalogue hyperparameter ``name`` according to a block argument.

    Args:
        hp: The trial's ``HyperParameters``, inside the block's name scope.
        name: Full catalogue name, e.g. ``"montage/filters"``; registered by its last part.
        arg: ``None`` (tune the full range), a ``Param`` (tune that), or a value (fix it;
            tuples are encoded as ``"16-32-64"``).
    """
    local = name.rsplit("/", 1)[-1]
    if arg is None:
        arg = CATALOGUE[name]
    if isinstance(arg, Param):
        return register(hp, local, arg)
    if isinstance(arg, (tuple, list)):
        arg = encode_tuple(arg)
    return hp.Fixed(local, arg)


def _allows(arg: Any, name: str, value: Any) -> bool:
    """Whether a block argument (None, a ``Param`` or a fixed value) can take ``value``."""
    if arg is None:
        arg = CATALOGUE[name]
    return arg.allows(value) if isinstance(arg, Param) else arg == value


def attribute_tower(hp, inputs: dict, widths=None, area=None, zip=None, zip_units=None):
    """MLP over the scaled attributes (hyperparameters ``attributes/*``).

    The categorical columns (Houses: the zip code) enter one-hot or through a learned
    embedding (a bias-free dense layer on the one-hots: what summing one ``Embedding``
    lookup per column computes, with an unseen value embedded as zeros); then the numbers,
    the skewed ones as they are or as logs (``area``; Houses: the area), then ReLU dense
    layers.

    Args:
        hp: Trial hyperparameters.
        inputs: Keras inputs among ``categories`` (one-hots), ``numbers``, ``skewed`` and
            ``log_skewed``, those the dataset has; the tower takes those it uses.
        widths, area, zip, zip_units: ``None`` tunes.

    Returns:
        ``(tensor, used)``: the tower's output and the names of the inputs it used.
    """
    with hp.name_scope("attributes"):
        widths = tune(hp, "attributes/widths", widths)
        widths = () if widths == NO_LAYERS else parse_tuple(widths)
        area = tune(hp, "attributes/area", area)
        can_embed = _allows(zip, "attributes/zip", "embedding")
        zip = tune(hp, "attributes/zip", zip)
        if can_embed:  # registered (inactive) in one-hot trials too, as KerasTuner expects
            with hp.conditional_scope("zip", list(ZIP_EMBEDDING[1])):
                zip_units = tune(hp, "attributes/zip_units", zip_units)
        used = [name for name in ("categories", "numbers") if name in inputs]
        used += [name for name in ("log_skewed" if area == "log" else "skewed",) if name in inputs]
        parts = [inputs[name] for name in used]
        if zip == "embedding" and "categories" in inputs:
            parts[0] = layers.Dense(zip_units, use_bias=False, name="zip_embedding")(parts[0])
        x = parts[0] if len(parts) == 1 else layers.Concatenate(name="attributes")(parts)
        for i, width in enumerate(widths, 1):
            x = layers.Dense(width, activation="relu", name=f"attributes_dense_{i}")(x)
        return x, tuple(used)


def conv_tower(filters: Sequence[int], kernel_size: int, batch_norm: bool, name: str):
    """The tutorial's photo tower as a reusable model: /255, then per filter count
    Conv2D(same) -> ReLU -> BatchNorm -> MaxPool(2), then Flatten.

    A ``keras.Sequential`` so one tower can be applied to several photos (shared weights).
    """
    stack = [layers.Rescaling(1.0 / 255, name=f"{name}_rescale")]
    for i, count in enumerate(filters, 1):
        stack.append(layers.Conv2D(count, kernel_size, padding="same", name=f"{name}_conv_{i}"))
        stack.append(layers.ReLU(name=f"{name}_relu_{i}"))
        if batch_norm:
            stack.append(layers.BatchNormalization(axis=-1, name=f"{name}_bn_{i}"))
        stack.append(layers.MaxPooling2D((2, 2), name=f"{name}_pool_{i}"))
    stack.append(layers.Flatten(name=f"{name}_flatten"))
    return keras.Sequential(stack, name=name)


def montage_photos(
    hp,
    montage,
    filters=None,
    kernel_size=None,
    batch_norm=None,
    units=None,
    dropout=None,
    output_units=None,
):
    """The tutorial CNN over the montage (hyperparameters ``montage/*``).

    Conv tower, then Dense(units) -> ReLU -> BatchNorm -> Dropout -> Dense(output_units) -> ReLU.

    Args:
        hp: Trial hyperparameters.
        montage: uint8 tensor ``(batch, rows*tile, columns*tile, 3)``.
        filters, kernel_size, batch_norm, units, dropout, output_units: ``None`` tunes.
    """
    with hp.name_scope("montage"):
        filters = parse_tuple(tune(hp, "montage/filters", filters))
        kernel_size = tune(hp, "montage/kernel_size", kernel_size)
        batch_norm = tune(hp, "montage/batch_norm", batch_norm)
        units = tune(hp, "montage/units", units)
        dropout = tune(hp, "montage/dropout", dropout)
        output_units = tune(hp, "montage/output_units", output_units)
        x = conv_tower(filters, kernel_size, batch_norm, "montage_tower")(montage)
        x = layers.Dense(units, name="montage_dense")(x)
        x = layers.ReLU(name="montage_relu")(x)
        if batch_norm:
            x = layers.BatchNormalization(axis=-1, name="montage_bn")(x)
        x = layers.Dropout(dropout, name="montage_dropout")(x)
        return layers.Dense(output_units, activation="relu", name="montage_output")(x)


def branched_photos(
    hp,
    photos: Sequence,
    filters=None,
    kernel_size=None,
    batch_norm=None,
    weights=None,
    units=None,
    aggregate=None,
):
    """Each image through a conv tower, embedded, then aggregated (``branched/*``).

    Each image: conv tower -> Dense(units) -> ReLU, with one tower for all image columns
    (``weights="shared"``) or one per column. The embeddings are combined by
    concatenation, mean, attention weights (softmax over the images of a learned
    score) or an LSTM over the images in column order (Houses: bathroom, bedroom,
    frontal, kitchen).

    Args:
        hp: Trial hyperparameters.
        photos: Image column name -> uint8 tensor ``(batch, tile, tile, 3)``, in order.
        filters, kernel_size, batch_norm, weights, units, aggregate: ``None`` tunes.
    """
    with hp.name_scope("branched"):
        filters = parse_tuple(tune(hp, "branched/filters", filters))
        kernel_size = tune(hp, "branched/kernel_size", kernel_size)
        batch_norm = tune(hp, "branched/batch_norm", batch_norm)
        weights = tune(hp, "branched/weights", weights)
        units = tune(hp, "branched/units", units)
        aggregate = tune(hp, "branched/aggregate", aggregate)

        def tower(name):
            model = conv_tower(filters, kernel_size, batch_norm, name)
            model.add(layers.Dense(units, activation="relu", name=f"{name}_embed"))
            return model

        shared = tower("photo_tower") if weights == "shared" else None
        embedded = [(shared or tower(f"{c}_tower"))(photo) for c, photo in photos.items()]
        if len(embedded) == 1 and aggregate in ("concat", "mean"):
            return embedded[0]
        # Concatenate and Average of the images, as before the sequence form existed: the
        # same numbers as aggregate_photos', summed in the order earlier searches summed them.
        if aggregate == "concat":
            return layers.Concatenate(name="photos_concat")(embedded)
        if aggregate == "mean":
            return layers.Average(name="photos_mean")(embedded)
        return aggregate_photos(photo_sequence(embedded, "photos_sequence"), aggregate, units)


def aggregate_photos(sequence, aggregate: str, units: int):
    """Combine the images' embeddings ``(batch, images, units)`` into one vector.

    Concatenation, mean, attention weights (softmax over the images of a learned score) or
    an LSTM over the images in column order.
    """
    if aggregate == "concat":
        return layers.Flatten(name="photos_concat")(sequence)
    if aggregate == "mean":
        return layers.GlobalAveragePooling1D(name="photos_mean")(sequence)
    if aggregate == "lstm":
        return layers.LSTM(units, name="photos_lstm")(sequence)
    if aggregate != "attention":
        raise ValueError(f"unknown aggregate {aggregate!r}")
    scores = layers.Dense(1, name="photos_attention_score")(sequence)  # (batch, images, 1)
    attention = layers.Softmax(axis=1, name="photos_attention")(scores)
    pooled = layers.Dot(axes=1, name="photos_weighted_sum")([attention, sequence])
    return layers.Flatten(name="photos_attended")(pooled)  # (batch, units)


def backbone_photos(
    hp,
    inputs: dict,
    images: Sequence[str],
    weights: str | None,
    network=None,
    dropout=None,
    units=None,
    aggregate=None,
    fine_tune=None,
    fine_tune_learning_rate=None,
):
    """Each photo's pretrained backbone features, embedded, then aggregated (``backbone/*``).

    A frozen backbone's features are an input of the network (``<network>_features``,
    ``(images, dim)``, computed once per dataset); a fine-tuned one is part of it, on the
    uint8 images at its native size, its top ``fine_tune`` layers trained (batch
    normalisation stays frozen) at their own learning rate. Then per photo: Dropout ->
    Dense(units) ReLU (one layer for all photos), and ``aggregate_photos``.

    Args:
        hp: Trial hyperparameters.
        inputs: Where the Keras inputs this block creates are put (by name).
        images: The image columns, in order.
        weights: ``--weights`` (needed to build a fine-tuned backbone).
        network, dropout, units, aggregate, fine_tune, fine_tune_learning_rate: ``None``
            tunes.

    Returns:
        ``(tensor, slow)``: the photos' vector, and the variables to train at the
        backbone's rate with that rate (``((), None)`` when frozen).
    """
    with hp.name_scope("backbone"):
        network = tune(hp, "backbone/network", network)
        dropout = tune(hp, "backbone/dropout", dropout)
        units = tune(hp, "backbone/units", units)
        aggregate = tune(hp, "backbone/aggregate", aggregate)
        fine_tune = tune(hp, "backbone/fine_tune", fine_tune)
        rate = None
        if any(_allows(fine_tune, "backbone/fine_tune", v) for v in FINE_TUNED[1]):
            with hp.conditional_scope("fine_tune", list(FINE_TUNED[1])):
                rate = tune(hp, "backbone/fine_tune_learning_rate", fine_tune_learning_rate)
        spec = BACKBONES[network]
        slow = ()
        if fine_tune:
            if weights is None:
                raise ValueError(f"backbone {network} needs weights (--weights)")
            backbone = build_backbone(network, weights, float32=False)
            trained = network_of(backbone).layers[-fine_tune:]
            for layer in network_of(backbone).layers:
                layer.trainable = layer in trained and not isinstance(
                    layer, layers.BatchNormalization
                )
            photos = image_inputs(inputs, images, spec.size)
            features = photo_sequence([backbone(p) for p in photos.values()], "backbone_features")
            slow = tuple(backbone.trainable_variables)
        else:
            features = keras.Input((len(images), spec.dim), name=spec.input_name)
            inputs[spec.input_name] = features
        x = layers.Dropout(dropout, name="backbone_dropout")(features) if dropout else features
        x = layers.Dense(units, activation="relu", name="backbone_embed")(x)
        return aggregate_photos(x, aggregate, units), (slow, rate)


def fusion_head(hp, features: Sequence, units=None, dropout=None, bias: float = 0.0):
    """Concatenate tower outputs -> [Dense(units) ReLU] -> [Dropout] -> Dense(1) linear.

    The output unit is float32 so the model also works under mixed precision.

    Args:
        hp: Trial hyperparameters.
        features: One or two feature tensors.
        units: Width of the ReLU dense layer, 0 for none; ``None`` tunes it (``head/units``).
        dropout: Dropout rate before the output; ``None`` tunes it (``head/dropout``).
        bias: Initial value of the output bias (not a hyperparameter); when not 0, the output
            weights start at 0, so the model starts predicting exactly ``bias``.
    """
    with hp.name_scope("head"):
        units = tune(hp, "head/units", units)
        dropout = tune(hp, "head/dropout", dropout)
        x = features[0] if len(features) == 1 else layers.Concatenate(name="fusion")(list(features))
        if units:
            x = layers.Dense(units, activation="relu", name="head_dense")(x)
        if dropout:
            x = layers.Dropout(dropout, name="head_dropout")(x)
        # A model started at the mean target starts at it exactly: random output weights
        # would put ln(price) off by about 1 (a price 2.7 times off) before any training.
        kernel = "zeros" if bias else "glorot_uniform"
        return layers.Dense(
            1,
            activation="linear",
            dtype="float32",
            name="price",
            kernel_initializer=kernel,
            bias_initializer=keras.initializers.Constant(bias),
        )(x)


def image_inputs(inputs: dict, images: Sequence[str], size: int) -> dict:
    """One uint8 input ``(size, size, 3)`` per image column, added to ``inputs``.

    Returns:
        Column -> its input, in column order.
    """
    photos = {}
    for column in images:
        name = photo_input(column)
        inputs[name] = photos[column] = keras.Input((size, size, 3), dtype="uint8", name=name)
    return photos


def _block_args(space: Space, block: str) -> dict:
    """A block's arguments: the space's ``<block>/*`` parameters by their last part (every
    catalogue parameter of a block is an argument of its function)."""
    prefix = f"{block}/"
    return {n.removeprefix(prefix): v for n, v in space.params.items() if n.startswith(prefix)}


@contextlib.contextmanager
def _when(hp, space: Space, conditions):
    """Enter the conditional scopes ``conditions``; yield whether they hold for this trial.

    Branches that ``space`` rules out (a parent fixed elsewhere) are skipped
    entirely, so their hyperparameters never enter the tuner's space.
    """
    if not all(space.can_take(parent, *values) for parent, values in conditions):
        yield False
        return
    with contextlib.ExitStack() as stack:
        for parent, values in conditions:
            stack.enter_context(hp.conditional_scope(parent, list(values)))
        yield all(hp.values.get(parent) in values for parent, values in conditions)


def _loss(name: str, transform, typical_target: float):
    # typical_target: the mean magnitude of the fit rows' targets (sizes Huber's threshold).
    if name == "mape":
        return PriceMAPELoss(transform.name, transform.scale)
    if name == "msle":
        return LogPriceMSE(transform.name)
    if name == "huber":
        # In target units: 10% of a price is 0.1 in ln(price), 0.1 * y for price / max.
        fraction = HUBER_PRICE_FRACTION
        return keras.losses.Huber(
            fraction if transform.name == "log" else fraction * typical_target
        )
    return {"mae": keras.losses.MeanAbsoluteError, "mse": keras.losses.MeanSquaredError}[name]()


class _SlowVariables:
    """Optimizer mixin: some variables (a fine-tuned backbone's) step at ``slow_factor``
    times the learning rate.

    ``update_step(gradient, variable, learning_rate)`` is the method Keras optimizers
    implement per variable (tests/search_spaces/test_backbones.py checks the rates).
    """

    def __init__(self, *args, slow_variables=(), slow_factor: float = 1.0, **kwargs):
        super().__init__(*args, **kwargs)
        # TensorFlow hands update_step the backend variable (.value), JAX the Keras one.
        values = (
            [v.value for v in slow_variables] if keras.backend.backend() == "tensorflow" else []
        )
        self._slow = {id(v) for v in (*slow_variables, *values)}
        self.slow_factor = float(slow_factor)

    def update_step(self, gradient, variable, learning_rate):
        if id(variable) in self._slow:
            learning_rate = learning_rate * self.slow_factor
        return super().update_step(gradient, variable, learning_rate)


class _SlowAdam(_SlowVariables, keras.optimizers.Adam):
    pass


class _SlowAdamW(_SlowVariables, keras.optimizers.AdamW):
    pass


def make_optimizer(
    name: str, learning_rate: float, slow: tuple = (), slow_rate: float | None = None
):
    """Adam or AdamW; with ``slow`` variables, those step at ``slow_rate`` instead (and
    AdamW leaves them out of its weight decay: pretrained weights are not pulled to 0)."""
    if not slow:
        return {"adam": keras.optimizers.Adam, "adamw": keras.optimizers.AdamW}[name](
            learning_rate=learning_rate
        )
    make = {"adam": _SlowAdam, "adamw": _SlowAdamW}[name]
    optimizer = make(
        learning_rate=learning_rate,
        slow_variables=slow,
        slow_factor=slow_rate / learning_rate,
        name=name,  # the class's would not be a valid TensorFlow scope name
    )
    if name == "adamw":
        optimizer.exclude_from_weight_decay(var_list=list(slow))
    return optimizer


def build_model(
    hp,
    space: Space,
    widths: dict[str, int],
    images: Sequence[str],
    transforms: Callable[[str], Any],
    fit_prices: np.ndarray,
    weights: str | None = None,
    objective: Objective = MAPE,
) -> keras.Model:
    """Assemble the blocks for one trial and compile the model.

    Args:
        hp: The trial's ``keras_tuner.HyperParameters``.
        space: The search space (fixes or narrows what the blocks tune).
        widths: Width of each attribute input the data has (``ModelData.widths``).
        images: The image columns, in order (``ModelData.images``).
        transforms: ``ModelData.transform``: target transform name -> fitted ``TargetTransform``.
        fit_prices: Prices in dollars of the rows the model learns from (to start the
            output bias at the mean target, and to size Huber's threshold).
        weights: ``--weights`` of pretrained backbones (a fine-tuned one is built here).
        objective: The run's objective (the model's metric).

    Returns:
        A compiled ``keras.Model`` whose inputs are named like ``ModelData.inputs`` keys
        (only those it uses) and whose one float32 output is the target in the trial's
        transform space.
    """
    p = space.params
    modality = register(hp, "modality", p["modality"])
    target = register(hp, "target_transform", p["target_transform"])
    loss = register(hp, "loss", p["loss"])
    optimizer = register(hp, "optimizer", p["optimizer"])
    learning_rate = register(hp, "learning_rate", p["learning_rate"])
    register(hp, "batch_size", p["batch_size"])  # used when fitting

    inputs, features, slow = {}, [], ((), None)
    with _when(hp, space, (ATTRIBUTES,)) as active:
        if active:
            attributes = {name: keras.Input((w,), name=name) for name, w in widths.items()}
            tower, used = attribute_tower(hp, attributes, **_block_args(space, "attributes"))
            features.append(tower)
            inputs.update({name: attributes[name] for name in used})
    with _when(hp, space, (PHOTOS,)) as active:
        if active:
            tile = register(hp, "tile", p["tile"])
            register(hp, "photos/input", p["photos/input"])  # parent of the two layouts
            # Nested in the photos scope: the layout's parent only exists when photos are used.
            with _when(hp, space, (MONTAGE,)) as montage:
                if montage:
                    rows, columns = montage_grid(len(images))
                    inputs[MONTAGE_INPUT] = keras.Input(
                        (rows * tile, columns * tile, 3), dtype="uint8", name=MONTAGE_INPUT
                    )
                    args = _block_args(space, "montage")
                    features.append(montage_photos(hp, inputs[MONTAGE_INPUT], **args))
            with _when(hp, space, (BRANCHED,)) as branched:
                if branched:
                    photos = image_inputs(inputs, images, tile)
                    args = _block_args(space, "branched")
                    features.append(branched_photos(hp, photos, **args))
            with _when(hp, space, (BACKBONE,)) as backbone:
                if backbone:
                    args = _block_args(space, "backbone")
                    vector, slow = backbone_photos(hp, inputs, images, weights, **args)
                    features.append(vector)
    if not features:
        raise ValueError(f"modality {modality!r} leaves the model without inputs")

    transform = transforms(target)
    targets = transform.forward(np.asarray(fit_prices))
    # A zero output bias is fine for price/max price (about 0.1) but would be
    # thousands of steps away from ln(price) (about 13), and msle needs y_pred > 0.
    bias = float(np.mean(targets)) if target == "log" or loss == "msle" else 0.0
    output = fusion_head(hp, features, **_block_args(space, "head"), bias=bias)

    model = keras.Model(inputs, output, name=f"houses_{modality}")
    model.compile(
        optimizer=make_optimizer(optimizer, learning_rate, *slow),
        loss=_loss(loss, transform, float(np.mean(np.abs(targets)))),
        metrics=[objective_metric(objective, transform)],
        steps_per_execution=STEPS_PER_EXECUTION,
    )
    return model


def input_names(model: keras.Model) -> list[str]:
    """Names of the inputs ``model`` takes (a subset of ``ModelData.inputs`` keys)."""
    return [tensor.name for tensor in model.inputs]


def select_inputs(model: keras.Model, arrays: dict) -> dict:
    """Keep only the arrays ``model`` takes (Keras rejects unexpected dict keys)."""
    return {name: arrays[name] for name in input_names(model)}
