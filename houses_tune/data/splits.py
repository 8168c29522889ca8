"""Which houses the search may see and how it scores on them.

The test split is the tutorials' (``train_test_split(test_size=0.25, random_state=42)``)
and only export touches it. The other houses are the *search rows*; every trial is
trained once per fold of them and scored on that fold's validation rows:
``KFold(folds, shuffle=True, random_state=val_seed)`` for two or more folds, or one
validation split of ``val_size`` of the search rows for ``folds=1``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import KFold, train_test_split

from houses_tune.errors import DatasetError

#: Random state of the tutorials' test split.
TEST_SEED = 42


@dataclass(frozen=True, eq=False)
class Splits:
    """Row indices into ``Houses.frame`` (int64 arrays).

    Attributes:
        search: Rows the search trains and validates on (everything but test).
        test: Rows only export sees.
        folds: The validation rows of each fold, disjoint subsets of ``search``; fold k
            trains on the other search rows.
    """

    search: np.ndarray
    test: np.ndarray
    folds: tuple[np.ndarray, ...]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Splits):
            return NotImplemented
        return (
            np.array_equal(self.search, other.search)
            and np.array_equal(self.test, other.test)
            and len(self.folds) == len(other.folds)
            and all(np.array_equal(a, b) for a, b in zip(self.folds, other.folds, strict=True))
        )

    def fold(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """``(fit rows, validation rows)`` of fold ``index`` (0-based)."""
        val = self.folds[index]
        return self.search[~np.isin(self.search, val)], val

    def fold_rows(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(fit rows, validation rows)`` of every fold, in order."""
        return [self.fold(index) for index in range(len(self.folds))]

    def to_dict(self) -> dict:
        """JSON-ready ``{"search": [...], "test": [...], "folds": [[...], ...]}``."""
        return {
            "search": self.search.tolist(),
            "test": self.test.tolist(),
            "folds": [f.tolist() for f in self.folds],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Splits:
        """Inverse of ``to_dict``.

        Raises:
            ValueError: A part is missing or not integers, rows repeat, or a fold's rows
                are not search rows.
        """
        try:
            search, test = (_rows(data[part]) for part in ("search", "test"))
            folds = tuple(_rows(fold) for fold in data["folds"])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(
                f"splits need integer lists search, test and folds ({error})"
            ) from None
        check = Splits(search, test, folds)
        check.validate()
        return check

    def validate(self) -> None:
        """Check the parts are consistent (see ``from_dict``).

        Raises:
            ValueError: Naming what is wrong.
        """
        joined = np.concatenate([self.search, self.test])
        if len(np.unique(joined)) != len(joined) or (joined < 0).any():
            raise ValueError("search and test rows must be distinct and non-negative")
        if not self.folds:
            raise ValueError("there must be at least one fold")
        for index, fold in enumerate(self.folds, 1):
            if not len(fold) or not np.isin(fold, self.search).all():
                raise ValueError(f"fold {index} must hold search rows (and at least one)")
            if len(fold) >= len(self.search):
                raise ValueError(f"fold {index} leaves no rows to train on")
        every = np.concatenate(self.folds)
        if len(np.unique(every)) != len(every):
            raise ValueError("folds must not share rows")

    def check_rows(self, n: int, source: str | Path) -> None:
        """Check that the splits index a dataset of ``n`` rows.

        Raises:
            DatasetError: Naming ``source``, when an index is out of range or test is empty.
        """
        if not len(self.test):
            raise DatasetError(f"{source}: the test split is empty")
        largest = int(max(self.search.max(), self.test.max()))
        if largest >= n:
            raise DatasetError(
                f"{source}: row {largest} is out of range: the dataset has {n} houses after "
                "the zip filter (another dataset or --min-zip-count?)"
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


def _rows(values) -> np.ndarray:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise TypeError("expected a list of row numbers")
    return np.asarray(values, dtype=np.int64).reshape(-1)


def make_folds(
    search: np.ndarray, folds: int = 5, val_size: float = 0.2, val_seed: int = 0
) -> tuple[np.ndarray, ...]:
    """Validation rows of each fold of ``search``: K-fold for ``folds >= 2``, else one split.

    Raises:
        DatasetError: Too few rows for the folds, or ``val_size`` out of range.
    """
    search = np.asarray(search, dtype=np.int64)
    if folds == 1:
        if not 0 < val_size < 1:
            raise DatasetError(f"--val-size must be in (0, 1), got {val_size}")
        n_val = math.ceil(len(search) * val_size)  # how sklearn rounds
        if n_val < 1 or len(search) - n_val < 2:
            raise DatasetError(f"{len(search)} search houses are too few for a validation split")
        return (np.sort(train_test_split(search, test_size=val_size, random_state=val_seed)[1]),)
    if len(search) < 2 * folds:
        raise DatasetError(f"{len(search)} search houses are too few for {folds} folds")
    splitter = KFold(n_splits=folds, shuffle=True, random_state=val_seed)
    return tuple(np.sort(search[val]) for _, val in splitter.split(search))


def make_splits(
    n: int,
    test_size: float = 0.25,
    folds: int = 5,
    val_size: float = 0.2,
    val_seed: int = 0,
    seed: int = TEST_SEED,
) -> Splits:
    """Split rows ``0..n-1``: the tutorials' test split, then the folds of the rest.

    Args:
        n: Number of rows.
        test_size: Fraction of all rows for test (271/91 on the filtered real data).
        folds: Folds of the search rows (1: one validation split of ``val_size``).
        val_size: Validation fraction of the search rows when ``folds`` is 1.
        val_seed: Random state of the folds.
        seed: Random state of the test split (the tutorials' 42).

    Raises:
        DatasetError: A fraction is out of range or a part would be (nearly) empty.
    """
    if not 0 < test_size < 1:
        raise DatasetError(f"--test-size must be in (0, 1), got {test_size}")
    if math.ceil(n * test_size) < 1 or n - math.ceil(n * test_size) < 4:
        raise DatasetError(f"{n} houses are too few to split into search and test houses")
    search, test = train_test_split(
        np.arange(n, dtype=np.int64), test_size=test_size, random_state=seed
    )
    return Splits(search, test, make_folds(search, folds, val_size, val_seed))


def splits_from_file(path: Path, n: int, folds: int, val_size: float, val_seed: int) -> Splits:
    """Splits from a user's JSON file: ``test`` rows, optional ``search`` rows and ``folds``.

    Rows missing from ``search`` default to every non-test row; missing ``folds`` are made
    as ``make_folds`` does. A run's own ``splits.json`` has all three.

    Raises:
        DatasetError: Naming ``path``: unreadable, malformed, or rows out of range.
    """
    try:
        data = json.loads(Path(path).read_text())
        test = _rows(data["test"])
        search = _rows(data["search"]) if "search" in data else np.setdiff1d(np.arange(n), test)
        made = "folds" not in data
        fold_rows = make_folds(search, folds, val_size, val_seed) if made else data["folds"]
        splits = Splits.from_dict({"search": search, "test": test, "folds": list(fold_rows)})
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such splits file") from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        what = f"missing {error}" if isinstance(error, KeyError) else error
        raise DatasetError(f"{path}: not a splits file: {what}") from None
    splits.check_rows(n, path)
    return splits
