"""Reading and validating a Houses dataset folder into a ``Table``; the zip filter.

A folder holds ``HousesInfo.txt`` (space separated: bedrooms, bathrooms, area,
zipcode, price; line n is house n) and ``<n>_<room>.jpg`` for the four rooms.
Validation collects every problem rather than stopping at the first, so
``houses-tune data validate`` can list them all; ``load_houses`` raises on them.

Values that parse but are implausible (a price of 1e12, 2.5 bedrooms) are warnings, not
problems: the data is used as it is, and the warnings say where to look (outliers by
``table.outliers``' rule, and fractional bedrooms).
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
    jpeg_problem,
    photo_missing,
    photo_path,
    read_photo,
)
from houses_tune.data.table import MIN_ROWS, Schema, Table, outliers, summarize_problems
from houses_tune.errors import DatasetError

HOUSES_INFO = "HousesInfo.txt"
COLUMNS = ("bedrooms", "bathrooms", "area", "zipcode", "price")
#: The Houses folder as a table: line n is house n; the photos are the four rooms.
HOUSES_SCHEMA = Schema(
    target="price",
    numeric=("bedrooms", "bathrooms", "area"),
    categorical=("zipcode",),
    images=ROOMS,
    logged=("area",),
    id="house",
)
#: Columns judged for outliers (``table.outliers``).
OUTLIER_COLUMNS = ("bedrooms", "bathrooms", "area", "price")


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
        rows, median = outliers(values)
        for row in rows:
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


def load_houses(folder: str | Path | None = None, min_zip_count: int = 25) -> Table:
    """Read, validate and zip-filter a Houses dataset.

    Photos are checked for presence and truncation here; they are decoded lazily
    by ``Table.photos``.

    Args:
        folder: Dataset folder; ``None`` for the embedded dataset (535 houses,
            64x64 photos).
        min_zip_count: Drop houses whose zip code has fewer houses (0 keeps all).

    Returns:
        The filtered houses: a ``Table`` with ``HOUSES_SCHEMA``.

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
        raise DatasetError(summarize_problems(scan.problems))
    frame = scan.frame
    assert frame is not None  # no problems means the info file parsed
    houses = frame["house"].tolist()
    table = Table(
        source=folder,
        frame=frame,
        schema=HOUSES_SCHEMA,
        total=len(frame),
        fingerprint=scan.fingerprint,
        photo_paths=tuple(tuple(photo_path(folder, h, room) for room in ROOMS) for h in houses),
        places=tuple(houses),  # house numbers: messages say "(house 3)"
        source_rows=np.arange(len(frame)),
        warnings=tuple(scan.warnings),
    )
    if len(table) < MIN_ROWS:
        raise DatasetError(f"{folder / HOUSES_INFO}: {len(table)} houses are too few to split")
    return table.filtered("zipcode", min_zip_count)
