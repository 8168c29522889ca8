"""Reading and validating a Houses dataset folder; the zip filter.

A folder holds ``HousesInfo.txt`` (space separated: bedrooms, bathrooms, area,
zipcode, price; line n is house n) and ``<n>_<room>.jpg`` for the four rooms.
Validation collects every problem rather than stopping at the first, so
``houses-tune data validate`` can list them all; ``load_houses`` raises on them.

Values that parse but are implausible (a price of 1e12, 2.5 bedrooms) are warnings, not
problems: the data is used as it is, and the warnings say where to look. A value is an
outlier when ``log(1 + value)`` lies more than ``OUTLIER_ROBUST_SDS`` robust standard
deviations (1.4826 x the median absolute deviation of the logs) from its column's median:
a rule that the outliers themselves cannot hide, and that flags none of the original
dataset's 535 houses.
"""

from __future__ import annotations

import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from houses_tune.data.photos import (
    ROOMS,
    cached_photos,
    jpeg_problem,
    photo_missing,
    photo_path,
    read_photo,
)
from houses_tune.errors import DatasetError

HOUSES_INFO = "HousesInfo.txt"
COLUMNS = ("bedrooms", "bathrooms", "area", "zipcode", "price")
MIN_HOUSES = 10  # fewer cannot give non-empty train, validation and test splits
#: Columns judged for outliers, and how far (robust standard deviations of the logs) from
#: the median a value must be to count as one.
OUTLIER_COLUMNS = ("bedrooms", "bathrooms", "area", "price")
OUTLIER_ROBUST_SDS = 7.0


@dataclass(frozen=True, eq=False)
class Houses:
    """A validated dataset after the zip filter.

    Attributes:
        folder: Absolute dataset folder.
        frame: Kept houses, RangeIndex 0..n-1; columns ``house`` (int, line number =
            photo prefix), ``bedrooms``, ``bathrooms``, ``area`` (float), ``zipcode``
            (int), ``price`` (float).
        total: Houses in ``HousesInfo.txt`` before the filter.
        min_zip_count: The filter: zip codes with fewer houses were dropped.
        fingerprint: sha256 over ``HousesInfo.txt`` and every photo's name and bytes.
        warnings: Implausible values of ``HousesInfo.txt`` (outliers, fractional
            bedrooms), one line each naming the line; used as they are.
    """

    folder: Path
    frame: pd.DataFrame
    total: int
    min_zip_count: int
    fingerprint: str
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.frame)

    def photos(self, tile: int = 32) -> np.ndarray:
        """Photos of the kept houses, decoded and resized, through the disk cache.

        Args:
            tile: Side of each photo in pixels (larger than the files is allowed).

        Returns:
            uint8 array ``(n, 4, tile, tile, 3)``, RGB, ``ROOMS`` order.

        Raises:
            DatasetError: A photo cannot be decoded (nothing is cached then).
        """
        return self.all_photos(tile)[self.rows_in_folder]

    def all_photos(self, tile: int) -> np.ndarray:
        """Photos of every house of ``HousesInfo.txt`` (the cache holds all of them):
        uint8 ``(total, 4, tile, tile, 3)``."""
        return cached_photos(self.folder, self.total, self.fingerprint, tile)

    @property
    def rows_in_folder(self) -> np.ndarray:
        """Each kept house's row among all of ``HousesInfo.txt`` (its line number - 1)."""
        return self.frame["house"].to_numpy() - 1


@dataclass
class _Scan:
    frame: pd.DataFrame | None  # every house, or None when HousesInfo.txt is unusable
    fingerprint: str
    problems: list[str]
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FolderCheck:
    """What ``check_folder`` found.

    Attributes:
        problems: What makes the folder unusable, one line each naming the file and place.
        warnings: Implausible values that are used as they are (``implausible_values``).
    """

    problems: list[str]
    warnings: list[str]


def parse_value(name: str, token: str) -> tuple[float, str | None]:
    """Parse one value of a house (a ``COLUMNS`` name) and say what is wrong with it.

    Returns:
        The value (NaN when not a number) and a problem such as
        ``"area must be positive, found 0"``, or ``None`` when the value is fine.
    """
    try:
        value = float(token)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        return value, f"{name} is not a number: {token!r}"
    if name == "zipcode" and not value.is_integer():
        return value, f"zipcode is not a whole number: {token!r}"
    if name in ("area", "price") and value <= 0:
        return value, f"{name} must be positive, found {token}"
    if value < 0:
        return value, f"{name} must not be negative, found {token}"
    return value, None


def _parse_info(path: Path, data: bytes, problems: list[str]) -> tuple[pd.DataFrame | None, int]:
    """Return every house (None if any line is bad) and the number of lines."""
    # Parsed line by line (not pandas.read_csv) to name the line of every problem.
    try:
        lines = data.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        problems.append(f"{path}: not a text file")
        return None, 0
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        problems.append(f"{path}: no houses (the file is empty)")
        return None, 0
    rows, before = [], len(problems)
    for number, line in enumerate(lines, start=1):
        where = f"{path} line {number}"
        tokens = line.split()
        if len(tokens) != len(COLUMNS):
            problems.append(f"{where}: expected {len(COLUMNS)} columns, found {len(tokens)}")
            continue
        row = {"house": number}
        for name, token in zip(COLUMNS, tokens, strict=True):
            row[name], problem = parse_value(name, token)
            if problem is not None:
                problems.append(f"{where}: {problem}")
        rows.append(row)
    if len(problems) > before:
        return None, len(lines)
    frame = pd.DataFrame(rows, columns=["house", *COLUMNS])
    return frame.astype({"house": "int64", "zipcode": "int64"}), len(lines)


def implausible_values(frame: pd.DataFrame, info: Path) -> list[str]:
    """Values that parse but are hard to believe: outliers (see the module) and fractional
    bedrooms, one line each naming the line of ``info``, in line order."""
    found: list[tuple[int, str]] = []
    for name in OUTLIER_COLUMNS:
        values = frame[name].to_numpy(dtype=np.float64)
        logs = np.log1p(values)
        distance = np.abs(logs - np.median(logs))
        spread = 1.4826 * np.median(distance)
        if spread == 0:  # most houses agree exactly: nothing to judge a value by
            continue
        median = float(np.median(values))
        for row in np.flatnonzero(distance > OUTLIER_ROBUST_SDS * spread):
            what = f"{name} {values[row]:,.6g} is far from the other houses' (median {median:,.6g})"
            found.append((row, what))
    bedrooms = frame["bedrooms"].to_numpy(dtype=np.float64)
    for row in np.flatnonzero(bedrooms % 1 != 0):
        found.append((row, f"bedrooms {bedrooms[row]:g} is not a whole number"))
    houses = frame["house"].to_numpy()
    return [
        f"{info} line {houses[row]}: {what}; used as it is"
        for row, what in sorted(found, key=lambda item: item[0])
    ]


def _scan(folder: Path, decode: bool) -> _Scan:
    """Read and check a folder; fingerprint it on the way (each file is read once)."""
    if not folder.is_dir():
        return _Scan(None, "", [f"{folder}: no such folder"])
    info = folder / HOUSES_INFO
    try:
        data = info.read_bytes()
    except FileNotFoundError:
        return _Scan(None, "", [f"{folder}: no {HOUSES_INFO} (not a Houses dataset folder)"])
    except OSError as error:
        return _Scan(None, "", [f"{info}: cannot read: {error.strerror}"])
    problems: list[str] = []
    frame, count = _parse_info(info, data, problems)
    digest = hashlib.sha256(b"houses-tune dataset v1\0" + data)
    names = None  # the folder's file names, listed at the first missing photo
    for house in range(1, count + 1):  # line n is house n, even where line n is bad
        for room in ROOMS:
            path = photo_path(folder, house, room)
            try:
                photo = path.read_bytes()
            except FileNotFoundError:
                names = os.listdir(folder) if names is None else names
                problems.append(f"{path} (house {house}): {photo_missing(path, names)}")
                continue
            except OSError as error:
                problems.append(f"{path} (house {house}): cannot read: {error.strerror}")
                continue
            digest.update(f"\0{path.name}\0{len(photo)}\0".encode())
            digest.update(photo)
            problem = jpeg_problem(photo)
            if problem is None and decode:
                try:
                    read_photo(path, 8, house)
                except DatasetError:
                    problem = "cannot be decoded as an image"
            if problem is not None:
                problems.append(f"{path} (house {house}): {problem}")
    warnings = implausible_values(frame, info) if frame is not None else []
    return _Scan(frame, digest.hexdigest(), problems, warnings)


def check_folder(folder: str | Path, decode: bool = True) -> FolderCheck:
    """Find every problem of a dataset folder, and its implausible values.

    Args:
        folder: Dataset folder.
        decode: Also decode every photo (slow on full-size photos); without it,
            photos are checked for JPEG structure and truncation only.
    """
    scan = _scan(Path(folder).expanduser().absolute(), decode)
    return FolderCheck(scan.problems, scan.warnings)


def validate_folder(folder: str | Path, decode: bool = True) -> list[str]:
    """List every problem of a dataset folder (empty when it is valid; see ``check_folder``).

    Returns:
        One line per problem, each naming the file and the line or house.
    """
    return check_folder(folder, decode).problems


def _summary(problems: list[str]) -> str:
    more = len(problems) - 1
    if not more:
        return problems[0]
    return f"{problems[0]} (and {more} more; `houses-tune data validate` lists them)"


def load_houses(folder: str | Path | None = None, min_zip_count: int = 25) -> Houses:
    """Read, validate and zip-filter a Houses dataset.

    Photos are checked for presence and truncation here; they are decoded lazily
    by ``Houses.photos``.

    Args:
        folder: Dataset folder; ``None`` for the embedded dataset (535 houses,
            64x64 photos).
        min_zip_count: Drop houses whose zip code has fewer houses (0 keeps all).

    Returns:
        The filtered houses.

    Raises:
        DatasetError: The folder is invalid or the filter leaves too few houses.
    """
    if folder is None:
        from houses_tune.data.embedded import embedded_dataset_path

        folder = embedded_dataset_path()
    folder = Path(folder).expanduser().absolute()
    if min_zip_count < 0:
        raise DatasetError(f"min_zip_count must be 0 or more, got {min_zip_count}")
    scan = _scan(folder, decode=False)
    if scan.problems:
        raise DatasetError(_summary(scan.problems))
    frame = scan.frame
    assert frame is not None  # no problems means the info file parsed
    counts = frame["zipcode"].map(frame["zipcode"].value_counts())
    kept = frame[counts >= min_zip_count].reset_index(drop=True)
    if len(kept) < MIN_HOUSES:
        raise DatasetError(
            f"{folder / HOUSES_INFO}: only {len(kept)} of {len(frame)} houses are in zip "
            f"codes with at least {min_zip_count} houses; {MIN_HOUSES} are needed to split "
            "(lower --min-zip-count)"
        )
    return Houses(folder, kept, len(frame), min_zip_count, scan.fingerprint, tuple(scan.warnings))
