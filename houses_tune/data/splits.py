"""Train/validation/test splits: the tutorials' test split, a validation split carved from train."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from houses_tune.errors import DatasetError

_PARTS = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class Splits:
    """Row indices into ``Houses.frame`` (int64 arrays), disjoint."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Splits):
            return NotImplemented
        return all(np.array_equal(getattr(self, p), getattr(other, p)) for p in _PARTS)

    def to_dict(self) -> dict:
        """JSON-ready ``{"train": [...], "val": [...], "test": [...]}``."""
        return {part: getattr(self, part).tolist() for part in _PARTS}

    @classmethod
    def from_dict(cls, data: dict) -> Splits:
        """Inverse of ``to_dict``.

        Raises:
            ValueError: A part is missing, not integers, or the parts overlap.
        """
        try:
            parts = [np.asarray(data[part], dtype=np.int64).reshape(-1) for part in _PARTS]
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"splits need integer lists train, val, test ({error})") from None
        joined = np.concatenate(parts)
        if len(np.unique(joined)) != len(joined) or (joined < 0).any():
            raise ValueError("split indices must be distinct and non-negative")
        return cls(*parts)

    def check_rows(self, n: int, source: str | Path) -> None:
        """Check that the splits index a dataset of ``n`` rows with non-empty train and val.

        Raises:
            DatasetError: Naming ``source``, when an index is out of range or a part is empty.
        """
        for part in _PARTS:
            rows = getattr(self, part)
            if not len(rows):
                raise DatasetError(f"{source}: the {part} split is empty")
            if rows.max() >= n:
                raise DatasetError(
                    f"{source}: {part} split has row {rows.max()}, but the dataset has {n} "
                    "houses after the zip filter (another dataset or --min-zip-count?)"
                )

    def save(self, path: str | Path) -> None:
        """Write as JSON."""
        Path(path).write_text(json.dumps(self.to_dict()) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Splits:
        """Read a file written by ``save``.

        Raises:
            DatasetError: The file is missing or malformed.
        """
        try:
            return cls.from_dict(json.loads(Path(path).read_text()))
        except FileNotFoundError:
            raise DatasetError(f"{path}: no such splits file") from None
        except (OSError, ValueError) as error:  # JSONDecodeError is a ValueError
            raise DatasetError(f"{path}: not a splits file: {error}") from None


def make_splits(
    n: int, test_size: float = 0.25, val_size: float = 0.2, seed: int = 42, val_seed: int = 0
) -> Splits:
    """Split rows ``0..n-1`` as the tutorials do, plus a validation part.

    The test part is ``train_test_split(arange(n), test_size, random_state=seed)``
    (271/91 on the filtered real data); validation is ``val_size`` of the training
    part, carved with ``val_seed``.

    Args:
        n: Number of rows.
        test_size: Fraction of all rows for test.
        val_size: Fraction of the training part for validation; 0 -> empty.
        seed: Random state of the test split.
        val_seed: Random state of the validation split.

    Raises:
        DatasetError: A fraction is out of range or a part would be (nearly) empty.
    """
    if not 0 < test_size < 1 or not 0 <= val_size < 1:
        raise DatasetError(
            f"test_size must be in (0, 1) and val_size in [0, 1), got {test_size} and {val_size}"
        )
    n_test = math.ceil(n * test_size)  # how sklearn rounds
    n_val = math.ceil((n - n_test) * val_size)
    if n_test < 1 or n - n_test - n_val < 2 or (val_size and n_val < 1):
        raise DatasetError(f"{n} houses are too few to split into train, validation and test")
    train, test = train_test_split(
        np.arange(n, dtype=np.int64), test_size=test_size, random_state=seed
    )
    val = np.empty(0, dtype=np.int64)
    if val_size:
        train, val = train_test_split(train, test_size=val_size, random_state=val_seed)
    return Splits(train, val, test)
