"""A dataset as one table: a target column, attribute columns and image columns.

Every source is read into a ``Table``: a Houses folder (``reader.load_houses``) and a CSV
file or a YAML dataset file naming one (``csv_source``). The rest of the tool (splits,
preprocessing, models, export, predict) sees only the table and its ``Schema``.

Rows may be dropped by a group filter (``--min-group-count COLUMN=N``: rows whose value
of COLUMN occurs fewer than N times; the Houses default is zipcode=25). Photos are cached
for every row of the source, so all filters share one cache; ``source_rows`` says where
each kept row is among them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from houses_tune.data.photos import cached_photos
from houses_tune.errors import DatasetError
from houses_tune.objective import MAPE, Objective

MIN_ROWS = 10  # fewer cannot give non-empty train, validation and test splits
#: How far (robust standard deviations of the logs) from its column's median a value must
#: be to count as an outlier (``outliers``).
OUTLIER_ROBUST_SDS = 7.0


@dataclass(frozen=True)
class Schema:
    """What each column of a table is for.

    Attributes:
        target: The number to predict (``price``; positive for the MAPE objective).
        numeric: Attribute columns fed as numbers (min-max scaled inside the model).
        categorical: Attribute columns fed as categories (one-hot or a learned embedding).
        images: Columns of image file paths, in the order the models take them.
        logged: Numeric columns a space may feed as logarithms instead (``attributes/area:
            log``): positive, skewed ones such as an area.
        id: Column naming each row in messages and predictions (Houses: ``house``).
    """

    target: str = "price"
    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    logged: tuple[str, ...] = ()
    id: str = "row"

    @property
    def attributes(self) -> tuple[str, ...]:
        """Attribute columns: categorical, then numeric (the models' order)."""
        return (*self.categorical, *self.numeric)

    @property
    def linear(self) -> tuple[str, ...]:
        """Numeric columns always fed as they are."""
        return tuple(c for c in self.numeric if c not in self.logged)

    def to_dict(self) -> dict:
        """JSON-ready ``{"target": ..., "numeric": [...], ...}``."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> Schema:
        """Inverse of ``to_dict``."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


@dataclass(frozen=True, eq=False)
class Table:
    """A validated dataset, after its group filter.

    Attributes:
        source: Absolute path of what was read (a Houses folder, a CSV or YAML file).
        frame: Kept rows, RangeIndex 0..n-1: the ``schema.id`` column, the attribute
            columns (numeric as float, categorical as int or str) and the target (float).
        schema: The columns' roles.
        total: Rows in the source before the filter.
        fingerprint: sha256 over the source's table and every image's name and bytes.
        photo_paths: Every source row's image files, in ``schema.images`` order.
        places: Every source row's place for messages (``house 3``, ``data.csv line 4``).
        source_rows: Each kept row's position among the source's rows.
        min_group: The filter ``(column, n)`` applied, or None.
        warnings: Implausible values, one line each naming the place; used as they are.
        objective: How predictions of the target are scored (``--objective``).
    """

    source: Path
    frame: pd.DataFrame
    schema: Schema
    total: int
    fingerprint: str
    photo_paths: tuple[tuple[Path, ...], ...]
    places: tuple[str, ...]
    source_rows: np.ndarray
    min_group: tuple[str, int] | None = None
    warnings: tuple[str, ...] = ()
    objective: Objective = MAPE

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def n_images(self) -> int:
        """Images per row."""
        return len(self.schema.images)

    @property
    def text_categories(self) -> list[str]:
        """Categorical columns of text (not integers): the exported model takes them as
        strings, which only TensorFlow has."""
        # int64 or text (pandas' object or string dtype, depending on its version)
        return [c for c in self.schema.categorical if self.frame[c].dtype.kind not in "iu"]

    @property
    def targets(self) -> np.ndarray:
        """The target of every kept row, float64."""
        return self.frame[self.schema.target].to_numpy(dtype=np.float64)

    @property
    def positive(self) -> bool:
        """Whether every target is positive: what log targets, the MAPE losses, log-space
        averaging and the tutorial networks need."""
        return bool(np.all(self.targets > 0))

    def photos(self, tile: int = 32) -> np.ndarray:
        """Images of the kept rows, decoded and resized, through the disk cache.

        Args:
            tile: Side of each image in pixels (larger than the files is allowed).

        Returns:
            uint8 array ``(n, n_images, tile, tile, 3)``, RGB, ``schema.images`` order.

        Raises:
            DatasetError: An image cannot be decoded (nothing is cached then).
        """
        return self.all_photos(tile)[self.source_rows]

    def all_photos(self, tile: int) -> np.ndarray:
        """Images of every source row (the cache holds all of them):
        uint8 ``(total, n_images, tile, tile, 3)``."""
        return cached_photos(self.photo_paths, self.places, self.fingerprint, tile)

    def filtered(self, column: str, n: int) -> Table:
        """The rows whose ``column`` value occurs at least ``n`` times (``n`` 0 keeps all).

        Raises:
            DatasetError: Unknown column, or too few rows left to split.
        """
        if column not in self.schema.attributes:
            known = ", ".join(self.schema.attributes) or "none"
            raise DatasetError(
                f"{self.source}: --min-group-count names column {column!r}, which is not an "
                f"attribute column (attributes: {known})"
            )
        values = self.frame[column]
        keep = (values.map(values.value_counts()) >= n).to_numpy()
        kept = self.frame[keep].reset_index(drop=True)
        if len(kept) < MIN_ROWS:
            raise DatasetError(
                f"{self.source}: only {len(kept)} of {len(self.frame)} rows have a {column} "
                f"shared by at least {n} rows; {MIN_ROWS} are needed to split "
                "(lower --min-group-count)"
            )
        rows = self.source_rows[keep]
        return dataclasses.replace(self, frame=kept, source_rows=rows, min_group=(column, n))


@dataclass(frozen=True)
class DatasetOptions:
    """How to read a dataset: the command line's ``--target``, ``--categorical``,
    ``--images``, ``--ignore``, ``--log``, ``--min-group-count`` and ``--objective`` (a
    YAML dataset file holds the same; the command line wins). ``None`` means the source's
    default or what is inferred.

    Attributes:
        target: Target column (default ``price``).
        categorical: Columns to treat as categories (others are inferred).
        images: The image columns, in order (default: inferred).
        ignore: Columns to leave out.
        log: Numeric columns a space may feed as logs (default: inferred).
        min_group_count: The group filter; Houses folders default to zipcode=25.
        objective: ``mape`` (default) or ``mae``: how predictions of the target are scored.
    """

    target: str | None = None
    categorical: tuple[str, ...] | None = None
    images: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    log: tuple[str, ...] | None = None
    min_group_count: tuple[str, int] | None = None
    objective: str | None = None

    def to_dict(self) -> dict:
        """JSON-ready; unset options left out."""
        return {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in vars(self).items()
            if v is not None
        }

    @classmethod
    def from_dict(cls, data: dict) -> DatasetOptions:
        """Inverse of ``to_dict``."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def outliers(values: np.ndarray) -> tuple[np.ndarray, float]:
    """The outliers of a column of non-negative numbers, and its median.

    A value is an outlier when ``log(1 + value)`` lies more than ``OUTLIER_ROBUST_SDS``
    robust standard deviations (1.4826 x the median absolute deviation of the logs) from
    the median: a rule that the outliers themselves cannot hide, and that flags none of
    the Houses Dataset's 535 houses.

    Returns:
        The outliers' rows (none when most values agree exactly: nothing to judge by).
    """
    values = np.asarray(values, dtype=np.float64)
    logs = np.log1p(values)
    distance = np.abs(logs - np.median(logs))
    spread = 1.4826 * np.median(distance)
    rows = np.flatnonzero(distance > OUTLIER_ROBUST_SDS * spread) if spread else np.empty(0, int)
    return rows, float(np.median(values))


def summarize_problems(problems: list[str]) -> str:
    """One line for the first problem, saying how many more ``data validate`` lists."""
    more = len(problems) - 1
    if not more:
        return problems[0]
    return f"{problems[0]} (and {more} more; `houses-tune data validate` lists them)"


def parse_min_group(text: str) -> tuple[str, int]:
    """``"zipcode=25"`` -> ``("zipcode", 25)``.

    Raises:
        DatasetError: Not ``COLUMN=N`` with N a whole number >= 0.
    """
    column, _, count = text.partition("=")
    if not column.strip() or not count.strip().isdigit():
        raise DatasetError(
            f"--min-group-count {text!r}: expected COLUMN=N (e.g. zipcode=25), N >= 0"
        )
    return column.strip(), int(count)
