"""Attribute encoding and target transforms, fitted on the search rows only (never test).

The network's attribute inputs, each min-max scaled with ranges from the fit rows:

- ``zip``: one-hot zip code over the fit rows' zip codes (an unseen zip code is all zeros);
- ``rooms``: bedrooms and bathrooms;
- ``area`` and ``log_area``: the area, and its logarithm (the space chooses one).

The tutorials' attribute vector is ``zip``, ``rooms``, ``area`` concatenated, in that order.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from houses_tune.errors import SpaceError

#: Scaled numeric inputs and the raw column each one comes from (log_area: log of area).
SCALED = {"bedrooms": "bedrooms", "bathrooms": "bathrooms", "area": "area", "log_area": "area"}
#: Names of the attribute inputs of a network.
ATTRIBUTE_INPUTS = ("zip", "rooms", "area", "log_area")
TARGET_TRANSFORMS = ("log", "max_scale")


def scaled_values(name: str, frame: pd.DataFrame) -> np.ndarray:
    """The raw values behind scaled input ``name`` (``log_area``: ln of area), float64."""
    values = frame[SCALED[name]].to_numpy(dtype=np.float64)
    return np.log(values) if name == "log_area" else values


@dataclass
class Preprocessor:
    """Min-max ranges of the numeric attributes and the zip code vocabulary.

    Attributes:
        zip_vocabulary: Sorted zip codes seen when fitting; others encode as all zeros.
        mins: Minimum per ``SCALED`` name.
        maxs: Maximum per ``SCALED`` name.
    """

    zip_vocabulary: list[int]
    mins: dict[str, float] = field(default_factory=dict)
    maxs: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> Preprocessor:
        """Fit on the rows of ``frame`` (the search rows)."""
        return cls(
            zip_vocabulary=sorted(int(z) for z in frame["zipcode"].unique()),
            mins={n: float(scaled_values(n, frame).min()) for n in SCALED},
            maxs={n: float(scaled_values(n, frame).max()) for n in SCALED},
        )

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

    def encode(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The attribute inputs (``ATTRIBUTE_INPUTS``) of ``frame``'s rows, float32, rank 2."""
        zips = frame["zipcode"].to_numpy(dtype=np.int64)
        one_hot = zips[:, None] == np.asarray(self.zip_vocabulary, dtype=np.int64)[None, :]
        rooms = [self.scaled(name, frame) for name in ("bedrooms", "bathrooms")]
        return {
            "zip": one_hot.astype(np.float32),
            "rooms": np.column_stack(rooms),
            "area": self.scaled("area", frame)[:, None],
            "log_area": self.scaled("log_area", frame)[:, None],
        }

    def to_dict(self) -> dict:
        """JSON-ready state."""
        return {
            "zip_vocabulary": list(self.zip_vocabulary),
            "mins": dict(self.mins),
            "maxs": dict(self.maxs),
        }


@dataclass(frozen=True)
class TargetTransform:
    """Price <-> model target.

    Attributes:
        name: ``log`` (ln price) or ``max_scale`` (price / max price, the tutorials').
        scale: The max fit price for ``max_scale``; 1.0 for ``log``.
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
        scale = float(np.max(prices)) if name == "max_scale" else 1.0
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
