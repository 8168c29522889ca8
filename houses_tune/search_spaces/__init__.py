"""Search spaces: hyperparameter catalogue, presets, YAML spaces, blocks and the hypermodel.

``Space``, ``load_space`` and ``PRESETS`` are plain Python; the
Keras-dependent names (``HousesHyperModel``, ``build_model``, ``PriceMAPE``, ...)
are imported on first use so that ``houses-tune spaces`` starts without Keras.
"""

from importlib import import_module

from houses_tune.search_spaces.space import (
    CATALOGUE,
    DEFAULT_SPACE,
    PRESETS,
    Param,
    Space,
    encode_tuple,
    load_space,
    parse_tuple,
)

_LAZY = {
    "HousesHyperModel": "houses_tune.search_spaces.hypermodel",
    "build_model": "houses_tune.search_spaces.blocks",
    "input_names": "houses_tune.search_spaces.blocks",
    "PriceMAPE": "houses_tune.search_spaces.metrics",
    "PriceMAE": "houses_tune.search_spaces.metrics",
    "PriceMAPELoss": "houses_tune.search_spaces.metrics",
    "LogPriceMSE": "houses_tune.search_spaces.metrics",
    "price_ape": "houses_tune.search_spaces.metrics",
}

__all__ = [
    "CATALOGUE",
    "DEFAULT_SPACE",
    "PRESETS",
    "Param",
    "Space",
    "encode_tuple",
    "load_space",
    "parse_tuple",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
