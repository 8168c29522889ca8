"""Attribute encoding and target transforms, fitted on the search rows only (never test).

The network's attribute inputs (those the dataset has), numbers min-max scaled with
ranges from the fit rows:

- ``categories``: each categorical column one-hot over the fit rows' values, the columns'
  one-hots side by side (an unseen value is all zeros in its column's part);
- ``numbers``: the numeric columns fed as they are;
- ``skewed`` and ``log_skewed``: the logged columns (``Schema.logged``), as they are and
  as logarithms (the space chooses one; ``attributes/area``).

For the Houses folder these are the tutorials' attribute vector: one-hot zip code,
bedrooms and bathrooms, area (or its log), concatenated in that order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from houses_tune.data.table import Schema
from houses_tune.errors import SpaceError

#: Names of the attribute inputs of a network, in the order the attribute tower joins them.
ATTRIBUTE_INPUTS = ("categories", "numbers", "skewed", "log_skewed")
TARGET_TRANSFORMS = ("log", "max_scale")


def log_name(column: str) -> str:
    """Name of the scaled logarithm of ``column`` (its min-max range is kept apart)."""
    return f"log({column})"


def scaled_values(name: str, frame: pd.DataFrame) -> np.ndarray:
    """The raw values behind scaled input ``name`` (a column, or ``log(column)``), float64."""
    if name.startswith("log(") and name.endswith(")"):
        return np.log(frame[name[4:-1]].to_numpy(dtype=np.float64))
    return frame[name].to_numpy(dtype=np.float64)


@dataclass
class Preprocessor:
    """Min-max ranges of the numbers and the vocabulary of each categorical column.

    Attributes:
        schema: The dataset's columns.
        vocabularies: Sorted values seen when fitting, per categorical column; others
            encode as all zeros.
        mins: Minimum per scaled name (a numeric column, or ``log(column)``).
        maxs: Maximum per scaled name.
    """

    schema: Schema
    vocabularies: dict[str, list] = field(default_factory=dict)
    mins: dict[str, float] = field(default_factory=dict)
    maxs: dict[str, float] = field(default_factory=dict)

    @property
    def scaled_names(self) -> tuple[str, ...]:
        """Every number the networks may take: the numeric columns and the logged ones' logs."""
        return (*self.schema.numeric, *map(log_name, self.schema.logged))

    @classmethod
    def fit(cls, frame: pd.DataFrame, schema: Schema) -> Preprocessor:
        """Fit on the rows of ``frame`` (the search rows)."""
        fitted = cls(schema, {c: sorted(frame[c].unique().tolist()) for c in schema.categorical})
        for name in fitted.scaled_names:
            values = scaled_values(name, frame)
            fitted.mins[name], fitted.maxs[name] = float(values.min()), float(values.max())
        return fitted

    @property
    def widths(self) -> dict[str, int]:
        """Width of each attribute input the dataset has (``ATTRIBUTE_INPUTS`` order)."""
        schema = self.schema
        found = {
            "categories": sum(len(v) for v in self.vocabularies.values()),
            "numbers": len(schema.linear),
            "skewed": len(schema.logged),
            "log_skewed": len(schema.logged),
        }
        return {name: width for name, width in found.items() if width}

    def scale_and_offset(self, name: str) -> tuple[float, float]:
        """``(scale, offset)`` with ``x * scale + offset`` = min-max scaled ``x``.

        A constant column maps to 0, as scikit-learn's MinMaxScaler does.
        """
        span = self.maxs[name] - self.mins[name] or 1.0
        return 1.0 / span, -self.mins[name] / span

    def scaled(self, name: str, frame: pd.DataFrame) -> np.ndarray:
        """Min-max scaled ``name`` of ``frame``'s rows, float32 ``(n,)``; values outside the
        fitted range scale outside [0, 1]."""
        scale, offset = self.scale_and_offset(name)
        return (scaled_values(name, frame) * scale + offset).astype(np.float32)

    def one_hot(self, column: str, frame: pd.DataFrame) -> np.ndarray:
        """``column`` one-hot over its vocabulary, float32 ``(n, len(vocabulary))``."""
        values = frame[column].to_numpy()
        vocabulary = np.asarray(self.vocabularies[column], dtype=values.dtype)
        return (values[:, None] == vocabulary[None, :]).astype(np.float32)

    def encode(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The attribute inputs (``widths``' names) of ``frame``'s rows, float32, rank 2."""
        schema = self.schema

        def numbers(names):
            return np.column_stack([self.scaled(n, frame) for n in names])

        parts = {
            "categories": lambda: np.hstack([self.one_hot(c, frame) for c in schema.categorical]),
            "numbers": lambda: numbers(schema.linear),
            "skewed": lambda: numbers(schema.logged),
            "log_skewed": lambda: numbers([log_name(c) for c in schema.logged]),
        }
        return {name: parts[name]() for name in self.widths}

    def to_dict(self) -> dict:
        """JSON-ready state."""
        return {
            "schema": self.schema.to_dict(),
            "vocabularies": {c: list(v) for c, v in self.vocabularies.items()},
            "mins": dict(self.mins),
            "maxs": dict(self.maxs),
        }


@dataclass(frozen=True)
class TargetTransform:
    """Price <-> model target.

    Attributes:
        name: ``log`` (ln price) or ``max_scale`` (price / max price, the tutorials').
        scale: The max fit price for ``max_scale`` (the largest magnitude, for targets
            that can be negative); 1.0 for ``log``.
    """

    name: str
    scale: float = 1.0

    @classmethod
    def fit(cls, name: str, prices: np.ndarray) -> TargetTransform:
        """Fit on the fit rows' prices.

        Raises:
            SpaceError: Unknown ``name``.
        """
        if name not in TARGET_TRANSFORMS:
            raise SpaceError(
                f"unknown target transform {name!r}; choose from {', '.join(TARGET_TRANSFORMS)}"
            )
        prices = np.asarray(prices, dtype=np.float64)
        if name == "log" and not np.all(prices > 0):
            raise SpaceError("target transform 'log' needs positive targets")
        # The largest magnitude: the max price for positive targets, and never 0.
        scale = (float(np.max(np.abs(prices))) or 1.0) if name == "max_scale" else 1.0
        return cls(name, scale)

    def forward(self, prices: np.ndarray) -> np.ndarray:
        """Prices in dollars -> float32 targets."""
        prices = np.asarray(prices, dtype=np.float64)
        out = prices / self.scale if self.name == "max_scale" else np.log(prices)
        return out.astype(np.float32)

    def inverse(self, y: np.ndarray) -> np.ndarray:
        """Targets (model outputs) -> float64 prices in dollars."""
        y = np.asarray(y, dtype=np.float64)
        return y * self.scale if self.name == "max_scale" else np.exp(y)

    def to_dict(self) -> dict:
        """JSON-ready state."""
        return {"name": self.name, "scale": self.scale}
