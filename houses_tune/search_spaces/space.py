"""Search spaces as data: the hyperparameter catalogue, named presets and YAML files.

Nothing here imports Keras, so ``houses-tune spaces ...`` answers instantly. A
``Space`` maps every hyperparameter name of the full (``mixed``) space to a
``Param``: the full range, a subset of it, or a single fixed value. The model
builder (``blocks.py``) registers each ``Param`` on a KerasTuner ``HyperParameters``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from houses_tune.errors import SpaceError

PHOTOS = ("modality", ("photos", "mixed"))
ATTRIBUTES = ("modality", ("attributes", "mixed"))
MONTAGE = ("photos/input", ("montage",))
BRANCHED = ("photos/input", ("branched",))
BACKBONE = ("photos/input", ("backbone",))
#: ``backbone/fine_tune`` values that train some of the backbone's layers.
FINE_TUNED = ("backbone/fine_tune", (10, 30))
#: How the photos' embeddings are combined (``branched/aggregate``, ``backbone/aggregate``).
AGGREGATES = ("concat", "mean", "attention", "lstm")
#: ``backbone/network`` values (``houses_tune.search_spaces.backbones.BACKBONES``).
BACKBONE_NETWORKS = ("mobilenet_v2", "resnet50", "efficientnet_b0")
ZIP_EMBEDDING = ("attributes/zip", ("embedding",))


@dataclass(frozen=True)
class Param:
    """One hyperparameter: a set of choices or a numeric range, and when it is active.

    Attributes:
        name: Full namespaced name, e.g. ``"montage/filters"``.
        default: Value tried first (and the value shown by ``spaces show``).
        values: The choices, for a choice; ``None`` for a range.
        min: Lower end of a range (inclusive).
        max: Upper end of a range (inclusive).
        sampling: ``"linear"`` or ``"log"`` for a range.
        step: Grid step of a linear range, or ``None`` for continuous.
        when: Conditions that must all hold for the parameter to be active, as
            ``(parent name, allowed parent values)`` pairs.
        help: One line for users.
    """

    name: str
    default: Any
    values: tuple | None = None
    min: float | None = None
    max: float | None = None
    sampling: str = "linear"
    step: float | None = None
    when: tuple[tuple[str, tuple], ...] = ()
    help: str = ""

    @property
    def is_choice(self) -> bool:
        """Whether this is a choice (as opposed to a numeric range)."""
        return self.values is not None

    @property
    def is_fixed(self) -> bool:
        """Whether only one value is possible."""
        if self.is_choice:
            return len(self.values) == 1
        return self.min == self.max

    def allows(self, value: Any) -> bool:
        """Whether ``value`` is one of this parameter's possible values."""
        if self.is_choice:
            return any(_same(value, v) for v in self.values)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return self.min - 1e-12 <= value <= self.max + 1e-12

    def describe(self) -> str:
        """Human-readable choices or range, e.g. ``"8-4 | 16-8"`` or ``"1e-4 .. 1e-2 (log)"``."""
        if self.is_fixed:
            return f"fixed: {format_value(self.default)}"
        if self.is_choice:
            return " | ".join(format_value(v) for v in self.values)
        extra = ""
        if self.sampling == "log":
            extra = ", log"
        elif self.step:
            extra = f", step {format_value(self.step)}"
        return f"{format_value(self.min)} .. {format_value(self.max)}{extra}"

    def condition(self) -> str:
        """When the parameter is active, e.g. ``"modality in {photos, mixed}"``."""
        if not self.when:
            return "always"
        parts = []
        for parent, values in self.when:
            if len(values) == 1:
                parts.append(f"{parent} = {format_value(values[0])}")
            else:
                parts.append(f"{parent} in {{{', '.join(format_value(v) for v in values)}}}")
        return " and ".join(parts)

    def to_spec(self) -> Any:
        """This parameter as a YAML/JSON value: a scalar, a list, or a ``{min, max}`` mapping."""
        if self.is_fixed:
            return self.default
        if self.is_choice:
            return {"values": list(self.values), "default": self.default}
        return {"min": self.min, "max": self.max, "default": self.default}


def _same(a: Any, b: Any) -> bool:
    # bool is an int in Python: keep True from matching 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def format_value(value: Any) -> str:
    """A value as users write it in YAML: ``true``, ``0.001``, ``16-32-64``."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def encode_tuple(values: Iterable[int]) -> str:
    """Encode a tuple of ints as a choice value: ``(16, 32, 64) -> "16-32-64"``.

    KerasTuner choices hold scalars only, so tuple-valued choices are strings.
    """
    return "-".join(str(int(v)) for v in values)


def parse_tuple(text: str) -> tuple[int, ...]:
    """Decode a tuple choice value: ``"16-32-64" -> (16, 32, 64)``."""
    return tuple(int(part) for part in str(text).split("-"))


_TRAINING = (
    Param(
        "modality",
        "attributes",
        ("attributes", "photos", "mixed"),
        help="inputs the model sees: listing attributes, photos, or both",
    ),
    Param(
        "tile",
        32,
        (32, 64),
        when=(PHOTOS,),
        help="photo side in pixels (the montage is 2*tile square)",
    ),
    Param(
        "target_transform",
        "log",
        ("log", "max_scale"),
        help="what the network predicts: ln(price), or price / max training price",
    ),
    Param(
        "loss",
        "mape",
        ("mape", "mae", "huber", "mse", "msle"),
        help="training loss: mape is the MAPE of the price (either target); mae, huber "
        "(threshold 10% of a price) and mse on the target; msle: MSE of ln(price)",
    ),
    Param("optimizer", "adam", ("adam", "adamw"), help="Adam, or AdamW (weight decay 0.004)"),
    Param("learning_rate", 1e-3, min=1e-4, max=1e-1, sampling="log", help="optimizer step size"),
    Param("batch_size", 8, (8, 16, 32), help="houses per gradient step"),
)
#: The ``attributes/widths`` value for no hidden layers.
NO_LAYERS = "none"
PHOTO_FILTERS = ("16-32-64", "8-16-32", "32-64-128", "16-32-64-128")
_BLOCKS = (
    Param(
        "attributes/widths",
        "32-16",
        ("8-4", "16-8", "32-16", "64-32", NO_LAYERS),
        when=(ATTRIBUTES,),
        help="widths of the ReLU dense layers of the attribute MLP (none: the attributes go "
        "straight to the head; with head/units 0, a linear model)",
    ),
    Param(
        "attributes/area",
        "log",
        ("log", "linear"),
        when=(ATTRIBUTES,),
        help="the area input: min-max scaled log of the area, or the area itself",
    ),
    Param(
        "attributes/zip",
        "one_hot",
        ("one_hot", "embedding"),
        when=(ATTRIBUTES,),
        help="the zip code input: one-hot, or a learned embedding of it",
    ),
    Param(
        "attributes/zip_units",
        4,
        (2, 4, 8),
        when=(ATTRIBUTES, ZIP_EMBEDDING),
        help="size of the learned zip code embedding",
    ),
    Param(
        "photos/input",
        "montage",
        ("montage", "branched", "backbone"),
        when=(PHOTOS,),
        help="one 2x2 montage image, the four photos as four inputs, or each photo through "
        "a pretrained backbone (needs --weights)",
    ),
    Param(
        "montage/filters",
        "16-32-64",
        PHOTO_FILTERS,
        when=(PHOTOS, MONTAGE),
        help="filters of each Conv-ReLU-BatchNorm-MaxPool block",
    ),
    Param("montage/kernel_size", 3, (3, 5), when=(PHOTOS, MONTAGE), help="conv kernel side"),
    Param(
        "montage/batch_norm",
        True,
        (True, False),
        when=(PHOTOS, MONTAGE),
        help="batch normalisation after each conv and after the dense layer",
    ),
    Param(
        "montage/units",
        16,
        (16, 32, 64),
        when=(PHOTOS, MONTAGE),
        help="ReLU dense layer after the flattened conv features",
    ),
    Param(
        "montage/dropout",
        0.5,
        min=0.0,
        max=0.5,
        step=0.1,
        when=(PHOTOS, MONTAGE),
        help="dropout after that dense layer",
    ),
    Param(
        "montage/output_units",
        4,
        (4, 8, 16),
        when=(PHOTOS, MONTAGE),
        help="final ReLU dense layer of the montage tower",
    ),
    Param(
        "branched/filters",
        "16-32-64",
        PHOTO_FILTERS,
        when=(PHOTOS, BRANCHED),
        help="filters of each Conv-ReLU-BatchNorm-MaxPool block of a photo tower",
    ),
    Param("branched/kernel_size", 3, (3, 5), when=(PHOTOS, BRANCHED), help="conv kernel side"),
    Param(
        "branched/batch_norm",
        True,
        (True, False),
        when=(PHOTOS, BRANCHED),
        help="batch normalisation after each conv",
    ),
    Param(
        "branched/weights",
        "shared",
        ("shared", "separate"),
        when=(PHOTOS, BRANCHED),
        help="one tower for all four photos, or one tower per room",
    ),
    Param(
        "branched/units",
        16,
        (8, 16, 32, 64),
        when=(PHOTOS, BRANCHED),
        help="ReLU dense embedding of each photo (after its flattened conv features)",
    ),
    Param(
        "branched/aggregate",
        "concat",
        AGGREGATES,
        when=(PHOTOS, BRANCHED),
        help="how the four photo embeddings are combined",
    ),
    Param(
        "backbone/network",
        "mobilenet_v2",
        BACKBONE_NETWORKS,
        when=(PHOTOS, BACKBONE),
        help="keras.applications network each photo goes through (224x224, ImageNet "
        "preprocessing, global average pooled)",
    ),
    Param(
        "backbone/dropout",
        0.2,
        min=0.0,
        max=0.5,
        step=0.1,
        when=(PHOTOS, BACKBONE),
        help="dropout on each photo's pooled features",
    ),
    Param(
        "backbone/units",
        32,
        (16, 32, 64, 128),
        when=(PHOTOS, BACKBONE),
        help="ReLU dense embedding of each photo's features (one layer for all photos)",
    ),
    Param(
        "backbone/aggregate",
        "mean",
        AGGREGATES,
        when=(PHOTOS, BACKBONE),
        help="how the four photo embeddings are combined",
    ),
    Param(
        "backbone/fine_tune",
        0,
        (0, *FINE_TUNED[1]),
        when=(PHOTOS, BACKBONE),
        help="top layers of the backbone trained with the network (0: frozen, its features "
        "computed once per dataset and cached)",
    ),
    Param(
        "backbone/fine_tune_learning_rate",
        1e-5,
        min=1e-6,
        max=1e-3,
        sampling="log",
        when=(PHOTOS, BACKBONE, FINE_TUNED),
        help="step size of the backbone's trained layers (the rest use learning_rate)",
    ),
    Param(
        "head/units",
        4,
        (0, 4, 8, 16, 32),
        help="ReLU dense layer after fusing the towers (0: none)",
    ),
    Param("head/dropout", 0.0, min=0.0, max=0.5, step=0.1, help="dropout before the output unit"),
)
#: Every hyperparameter of the full space, parents before children.
CATALOGUE: dict[str, Param] = {p.name: p for p in _TRAINING + _BLOCKS}


@dataclass(frozen=True)
class Space:
    """A search space: every catalogue hyperparameter, possibly narrowed or fixed.

    Attributes:
        name: Preset name, or the YAML file's stem.
        description: One line for ``spaces list``.
        params: Name -> ``Param``, in catalogue order.
        source: Where it came from: ``"preset"`` or the YAML path.
    """

    name: str
    description: str
    params: dict[str, Param]
    source: str = "preset"

    def __getitem__(self, name: str) -> Param:
        return self.params[name]

    def can_take(self, name: str, *values: Any) -> bool:
        """Whether ``name`` can be active and take one of ``values`` in this space."""
        param = self.params[name]
        return self.can_be_active(name) and any(param.allows(v) for v in values)

    def can_be_active(self, name: str) -> bool:
        """Whether some allowed values of the parents make ``name`` active."""
        return all(self.can_take(parent, *values) for parent, values in self.params[name].when)

    @property
    def has_photos(self) -> bool:
        """Whether the space can build networks that take photos."""
        return self.can_take("modality", "photos", "mixed")

    @property
    def backbones(self) -> tuple[str, ...]:
        """The backbone networks this space can use."""
        if not self.can_take("photos/input", "backbone"):
            return ()
        return tuple(v for v in BACKBONE_NETWORKS if self.can_take("backbone/network", v))

    def for_data(self, attributes: bool, images: bool) -> Space:
        """This space without the modalities a dataset has no columns for.

        Raises:
            SpaceError: The space can only build networks the data cannot feed.
        """
        keep = [m for m in self["modality"].values if (m != "photos" or images)
                and (m != "attributes" or attributes) and (m != "mixed" or (attributes and images))
                and self["modality"].allows(m)]  # fmt: skip
        if keep == [v for v in self["modality"].values if self["modality"].allows(v)]:
            return self
        if not keep:
            has = "no image columns" if not images else "no attribute columns"
            raise SpaceError(f"space {self.name!r} needs columns the dataset lacks ({has})")
        modality = narrow(self["modality"], keep if len(keep) > 1 else keep[0])
        return dataclasses.replace(self, params={**self.params, "modality": modality})

    def for_target(self, positive: bool) -> Space:
        """This space, or for targets that are not all positive, without what needs them:
        the log target (the network predicts target / max |target| instead) and the
        ``mape`` and ``msle`` losses.

        Raises:
            SpaceError: The space allows only those losses.
        """
        if positive:
            return self
        loss = self["loss"]
        keep = [v for v in loss.values if v not in ("mape", "msle")]
        if not keep:
            raise SpaceError(
                f"space {self.name!r}: loss ({loss.describe()}) needs positive targets; the "
                "dataset has zero or negative ones"
            )
        params = {
            **self.params,
            "target_transform": narrow(CATALOGUE["target_transform"], "max_scale"),
            "loss": narrow(loss, keep if len(keep) > 1 else keep[0]),
        }
        return dataclasses.replace(self, params=params)

    def active_params(self) -> list[Param]:
        """The parameters that can be active in this space, in catalogue order."""
        return [p for name, p in self.params.items() if self.can_be_active(name)]

    def check_values(self, values: Mapping[str, Any]) -> None:
        """Check a trial's hyperparameter values against this space.

        Raises:
            SpaceError: If a name is unknown or a value is not allowed.
        """
        for name, value in values.items():
            if name not in self.params:
                raise SpaceError(f"unknown hyperparameter {name!r}; valid: {_names()}")
            if not self.params[name].allows(value):
                allowed = self.params[name].describe()
                message = f"{name}: {value!r} not allowed in space {self.name!r} ({allowed})"
                raise SpaceError(message)

    def to_dict(self) -> dict:
        """JSON/YAML-ready form that ``Space.from_dict`` reads back (e.g. into run.json)."""
        return {
            "name": self.name,
            "description": self.description,
            "base": "mixed",
            "hyperparameters": {name: p.to_spec() for name, p in self.params.items()},
        }

    @classmethod
    def from_dict(cls, spec: Mapping, source: str = "dict") -> Space:
        """Build a space from a YAML/JSON mapping (see ``load_space`` for the format).

        Raises:
            SpaceError: On unknown names or disallowed values; the message names ``source``.
        """
        return _from_spec(spec, source, lines={})


def _names() -> str:
    return ", ".join(CATALOGUE)


def _allowed(param: Param) -> str:
    base = CATALOGUE[param.name]
    if base.is_choice:
        return "allowed: " + ", ".join(format_value(v) for v in base.values)
    return f"allowed: {format_value(base.min)} .. {format_value(base.max)}"


def narrow(param: Param, spec: Any) -> Param:
    """Narrow ``param`` by a YAML value: scalar = fixed, list = subset, mapping = range/subset.

    Mappings are ``{values: [...], default: x}`` for choices and
    ``{min: a, max: b, default: x}`` for ranges (each key optional).

    Raises:
        ValueError: With a short reason when ``spec`` is not allowed.
    """
    if not param.is_choice:
        spec = _numbers(spec)
    default = None
    if isinstance(spec, Mapping):
        keys = {"values", "default"} if param.is_choice else {"min", "max", "default"}
        unknown = set(spec) - keys
        if unknown:
            key = sorted(unknown, key=str)[0]
            raise ValueError(f"unknown key {key!r} (use {', '.join(sorted(keys))})")
        default = spec.get("default")
        if param.is_choice:
            spec = spec.get("values", list(param.values))
        else:
            # A missing or null end keeps the parameter's own.
            low = param.min if spec.get("min") is None else spec["min"]
            high = param.max if spec.get("max") is None else spec["max"]
            for value in (low, high, default):
                if value is not None and not param.allows(value):
                    raise ValueError(f"{value!r} outside the range; {_allowed(param)}")
            if low > high:
                raise ValueError(f"min {low!r} is above max {high!r}")
            default = default if default is not None else min(max(param.default, low), high)
            if not low <= default <= high:
                raise ValueError(f"default {default!r} outside {low!r} .. {high!r}")
            return dataclasses.replace(param, min=low, max=high, default=default)
    values = list(spec) if isinstance(spec, (list, tuple)) else [spec]
    if not values:
        raise ValueError("empty list of values")
    # Tuple-valued choices may be written as lists: [16, 32, 64] -> "16-32-64".
    values = [encode_tuple(v) if isinstance(v, (list, tuple)) else v for v in values]
    chosen = []
    for value in values:
        if not param.allows(value):
            raise ValueError(f"{value!r} not allowed; {_allowed(param)}")
        if param.is_choice:
            value = next(v for v in param.values if _same(value, v))
        chosen.append(value)
    if default is not None and not any(_same(default, v) for v in chosen):
        raise ValueError(f"default {default!r} is not among {chosen}")
    if not param.is_choice:
        # A scalar for a range fixes it.
        if len(chosen) != 1:
            raise ValueError(f"give one value or {{min, max}} for a range; {_allowed(param)}")
        return dataclasses.replace(param, min=chosen[0], max=chosen[0], default=chosen[0])
    if default is None:
        default = param.default if any(_same(param.default, v) for v in chosen) else chosen[0]
    return dataclasses.replace(param, values=tuple(chosen), default=default)


def _numbers(spec: Any) -> Any:
    # PyYAML reads 1e-4 (no dot) as a string; ranges accept it as the number it means.
    if isinstance(spec, Mapping):
        return {key: _numbers(value) for key, value in spec.items()}
    if isinstance(spec, list):
        return [_numbers(value) for value in spec]
    if isinstance(spec, str):
        try:
            return float(spec)
        except ValueError:
            return spec
    return spec


def _preset(name: str, description: str, base: Space | None = None, **fixed: Any) -> Space:
    params = dict(base.params if base else CATALOGUE)
    for key, value in fixed.items():
        full = key.replace("__", "/")
        params[full] = narrow(CATALOGUE[full], value)  # as a YAML space: may widen its base
    return Space(name, description, params)


# What 5-fold runs on the full dataset favoured (benchmarks/quality.py, step_size.py): the
# log-price target with Huber or MAE loss, and steps of 1e-3..1e-2, which converge within
# a Hyperband round (at 1e-3 and below many trials were still learning when their round
# ended; with the log target, steps up to 1e-2 did not diverge). 64-pixel photos cost
# four times the 32-pixel ones for no better score. A YAML space can widen all of it.
# Attribute MLPs keep hidden layers (the linear model is a preset of its own).
_MIXED = _preset(
    "mixed",
    "everything: attributes, photos (montage or branched) or both",
    attributes__widths=[w for w in CATALOGUE["attributes/widths"].values if w != NO_LAYERS],
    target_transform="log",
    loss=["huber", "mae"],
    learning_rate={"min": 1e-3, "max": 1e-2},
    tile=32,
    photos__input=["montage", "branched"],  # backbones need weights: a preset of their own
)
# The PyImageSearch tutorials' training: MAPE on price / max price, Adam 1e-3, batch 8.
# (They also used Adam(decay=1e-3 / 200); Keras 3 has no `decay`, and its effect over
# 200 epochs is under 4% of the learning rate, so it is left out.)
_TUTORIAL_TRAINING = dict(
    loss="mape",
    optimizer="adam",
    learning_rate=1e-3,
    batch_size=8,
    target_transform="max_scale",
    head__dropout=0.0,
)
# The tutorials' attribute vector: one-hot zip code, bedrooms, bathrooms, area.
_TUTORIAL_ATTRIBUTES = dict(attributes__widths="8-4", attributes__area="linear",
                            attributes__zip="one_hot")  # fmt: skip
_TUTORIAL_CNN = dict(
    tile=32,
    photos__input="montage",
    montage__filters="16-32-64",
    montage__kernel_size=3,
    montage__batch_norm=True,
    montage__units=16,
    montage__dropout=0.5,
    montage__output_units=4,
)
#: Named spaces, in the order ``spaces list`` shows them.
PRESETS: dict[str, Space] = {
    space.name: space
    for space in (
        _preset(
            "tutorial-mlp",
            "tutorial MLP: Dense(8)-Dense(4)-Dense(1) on attributes",
            modality="attributes",
            head__units=0,
            **_TUTORIAL_ATTRIBUTES,
            **_TUTORIAL_TRAINING,
        ),
        _preset(
            "tutorial-cnn",
            "tutorial CNN on the 64x64 montage (filters 16-32-64)",
            modality="photos",
            head__units=0,
            **_TUTORIAL_CNN,
            **_TUTORIAL_TRAINING,
        ),
        _preset(
            "tutorial-mixed",
            "tutorial MLP + CNN, concatenated, Dense(4)-Dense(1)",
            modality="mixed",
            head__units=4,
            **_TUTORIAL_ATTRIBUTES,
            **_TUTORIAL_CNN,
            **_TUTORIAL_TRAINING,
        ),
        # One linear unit on the attributes: linear regression on log price, trained as the
        # networks are, so a search shows what hidden layers and photos add over it. A
        # one-hot zip code (an embedding would only restrict a linear model's weights).
        # Steps of 1e-2..1e-1: at the networks' 1e-3..1e-2 the best linear trials were
        # still improving when their round ended (quality.py --space linear, seed 0: CV
        # 23.9% against 22.5-22.9% over 3 seeds with these steps, best epochs 15-26 of 43).
        _preset(
            "linear",
            "one linear unit on the attributes (linear regression on log price)",
            _MIXED,
            modality="attributes",
            attributes__widths=NO_LAYERS,
            attributes__zip="one_hot",
            head__units=0,
            head__dropout=0.0,
            learning_rate={"min": 1e-2, "max": 1e-1},
        ),
        _preset("mlp", "attribute MLP only", _MIXED, modality="attributes"),
        # Frozen backbones: their features are computed once, so a trial costs what an
        # attribute MLP's does; fine-tuning (a YAML space) trains through the backbone.
        _preset(
            "backbone",
            "pretrained photo features (MobileNetV2, ResNet50, EfficientNetB0) with or "
            "without the attributes; needs --weights",
            _MIXED,
            modality=["mixed", "photos"],
            photos__input="backbone",
            backbone__fine_tune=0,
        ),
        _preset(
            "montage",
            "conv net on the 2x2 photo montage only",
            _MIXED,
            modality="photos",
            photos__input="montage",
        ),
        _preset(
            "branched",
            "four photos through conv towers, aggregated; no attributes",
            _MIXED,
            modality="photos",
            photos__input="branched",
        ),
        _MIXED,
    )
}
DEFAULT_SPACE = "mixed"


def _from_spec(spec: Any, source: str, lines: Mapping[str, int]) -> Space:
    def fail(message: str, key: str | None = None) -> SpaceError:
        line = f" line {lines[key]}" if key in lines else ""
        return SpaceError(f"{source}{line}: {message}")

    if not isinstance(spec, Mapping):
        raise fail("expected a mapping with 'base' and 'hyperparameters'")
    unknown = set(spec) - {"base", "name", "description", "hyperparameters"}
    if unknown:
        key = sorted(unknown, key=str)[0]
        raise fail(f"unknown key {key!r}; valid: base, name, description, hyperparameters", key)
    base_name = spec.get("base", DEFAULT_SPACE)
    if not isinstance(base_name, str) or base_name not in PRESETS:
        raise fail(f"unknown base {base_name!r}; presets: {', '.join(PRESETS)}", "base")
    base = PRESETS[base_name]
    overrides = spec.get("hyperparameters") or {}
    if not isinstance(overrides, Mapping):
        raise fail("'hyperparameters' must be a mapping of name: value", "hyperparameters")
    params = dict(base.params)
    for name, value in overrides.items():
        if name not in CATALOGUE:
            raise fail(f"unknown hyperparameter {name!r}; valid: {_names()}", name)
        try:
            # Narrow from the full range so a file may widen what its base fixed.
            params[name] = narrow(CATALOGUE[name], value)
        except (TypeError, ValueError) as error:  # TypeError: e.g. [[null]] for a tuple
            raise fail(f"{name}: {error}", name) from None
    name = spec.get("name") or (
        Path(source).stem if source.endswith((".yaml", ".yml")) else "custom"
    )
    description = spec.get("description") or f"{base_name} space narrowed by {source}"
    return Space(str(name), str(description), params, source=source)


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of each mapping key (for error messages)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode):
            loader.lines.setdefault(key_node.value, key_node.start_mark.line + 1)
    return loader.construct_mapping(node, deep=deep)


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_space(name_or_path: str | Path) -> Space:
    """Load a preset by name, or a YAML space file.

    A YAML file starts from a preset and narrows hyperparameters::

        base: mixed            # any preset; default mixed
        name: small-cnn        # optional; default the file name
        hyperparameters:
          modality: photos                 # a fixed value
          montage/filters: [8-16-32, 16-32-64]  # a subset of the choices
          learning_rate: {min: 0.0003, max: 0.003}  # a narrower range

    Args:
        name_or_path: A key of ``PRESETS`` or a path to a ``.yaml``/``.yml`` file.

    Returns:
        The space.

    Raises:
        SpaceError: Unknown preset, unreadable or malformed file, unknown
            hyperparameter name, or a value outside what the hyperparameter allows.
    """
    text = str(name_or_path)
    if text in PRESETS:
        return PRESETS[text]
    path = Path(text)
    if path.suffix.lower() not in (".yaml", ".yml") and not path.exists():
        raise SpaceError(f"unknown space {text!r}; presets: {', '.join(PRESETS)} (or a .yaml file)")
    try:
        content = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise SpaceError(f"{path}: cannot read ({reason})") from None
    loader = _LineLoader(content)
    loader.lines = {}
    try:
        spec = loader.get_single_data()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or "malformed YAML"
        raise SpaceError(f"{path}{where}: malformed YAML ({problem})") from None
    finally:
        loader.dispose()
    return _from_spec(spec, str(path), loader.lines)
