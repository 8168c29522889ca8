"""Attribute preprocessing and target transforms, fitted on training rows only."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from houses_tune.errors import SpaceError

CONTINUOUS = ("bedrooms", "bathrooms", "area")
TARGET_TRANSFORMS = ("max_scale", "log")


@dataclass
class Preprocessor:
    """Min-max scaling of the continuous attributes and a one-hot zip code.

    Attributes:
        zip_vocabulary: Sorted zip codes seen when fitting; others encode as all zeros.
        mins: Minimum per continuous column.
        maxs: Maximum per continuous column.
    """

    zip_vocabulary: list[int]
    mins: dict[str, float] = field(default_factory=dict)
    maxs: dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, frame: pd.DataFrame) -> Preprocessor:
        """Fit on the rows of ``frame`` (the training part)."""
        return cls(
            zip_vocabulary=sorted(int(z) for z in frame["zipcode"].unique()),
            mins={c: float(frame[c].min()) for c in CONTINUOUS},
            maxs={c: float(frame[c].max()) for c in CONTINUOUS},
        )

    @property
    def n_attributes(self) -> int:
        """Width of ``attributes``: one column per known zip code, plus 3."""
        return len(self.zip_vocabulary) + len(CONTINUOUS)

    def attributes(self, frame: pd.DataFrame) -> np.ndarray:
        """Encode houses as the tutorials do: one-hot zip first, then scaled continuous.

        Args:
            frame: Rows with columns bedrooms, bathrooms, area, zipcode.

        Returns:
            float32 ``(n, n_attributes)``; values outside the fitted range scale
            outside [0, 1], as sklearn's MinMaxScaler does.
        """
        zips = frame["zipcode"].to_numpy(dtype=np.int64)
        one_hot = zips[:, None] == np.asarray(self.zip_vocabulary, dtype=np.int64)[None, :]
        scaled = []
        for column in CONTINUOUS:
            span = self.maxs[column] - self.mins[column]
            span = span or 1.0  # a constant column maps to 0, like MinMaxScaler
            scaled.append((frame[column].to_numpy(dtype=np.float64) - self.mins[column]) / span)
        return np.column_stack([one_hot, *scaled]).astype(np.float32)

    def to_dict(self) -> dict:
        """JSON-ready state."""
        return {
            "zip_vocabulary": list(self.zip_vocabulary),
            "mins": dict(self.mins),
            "maxs": dict(self.maxs),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Preprocessor:
        """Inverse of ``to_dict``."""
        return cls(
            [int(z) for z in data["zip_vocabulary"]],
            {c: float(data["mins"][c]) for c in CONTINUOUS},
            {c: float(data["maxs"][c]) for c in CONTINUOUS},
        )


@dataclass(frozen=True)
class TargetTransform:
    """Price <-> model target.

    Attributes:
        name: ``max_scale`` (price / max training price, the tutorials') or ``log``.
        scale: The max training price for ``max_scale``; 1.0 for ``log``.
    """

    name: str
    scale: float = 1.0

    @classmethod
    def fit(cls, name: str, prices: np.ndarray) -> TargetTransform:
        """Fit on training prices.

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

    @classmethod
    def from_dict(cls, data: dict) -> TargetTransform:
        """Inverse of ``to_dict``."""
        if data["name"] not in TARGET_TRANSFORMS:
            raise SpaceError(f"unknown target transform {data['name']!r}")
        return cls(str(data["name"]), float(data["scale"]))
