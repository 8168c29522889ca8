"""Reading and validating a dataset given as a CSV file, or as a YAML dataset file naming one.

A CSV holds one row per item: a header, then a target column (``price`` unless
``--target`` names another), attribute columns and image columns (paths of image files,
relative to the CSV's folder or absolute). A column named ``id`` (any case) names the
rows; without one, rows are numbered from 1. What each column is for is inferred, and the
command line's ``--categorical``, ``--images``, ``--ignore`` and ``--log`` override it:

- image columns: every non-empty value ends in an image suffix (``IMAGE_SUFFIXES``);
- categorical: some value is not a number (stored as int when all are integers, such as
  zip codes, else as strings);
- numeric: the others; fed as logarithms too (``logged``) when positive and skewed.

A YAML dataset file declares the same (``csv:``, ``target:``, ``categorical:``,
``images:``, ``ignore:``, ``log:``, ``min_group_count:``); the command line wins over it.

As for Houses folders (``reader``), validation collects every problem, one line each
naming the file, the line and the column, so ``houses-tune data validate`` lists them
all; ``read_csv_table`` raises on them.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from houses_tune.data.photos import jpeg_problem, photo_missing, read_photo
from houses_tune.data.table import (
    MIN_ROWS,
    DatasetOptions,
    Schema,
    Table,
    outliers,
    parse_min_group,
    summarize_problems,
)
from houses_tune.errors import DatasetError
from houses_tune.objective import OBJECTIVES, Objective, get_objective

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
JPEG_SUFFIXES = (".jpg", ".jpeg")
YAML_SUFFIXES = (".yaml", ".yml")
#: The keys of a YAML dataset file; all but ``csv`` are ``DatasetOptions`` fields.
YAML_KEYS = (
    "csv",
    "target",
    "categorical",
    "images",
    "ignore",
    "log",
    "min_group_count",
    "objective",
)
_COLUMN_LISTS = ("categorical", "images", "ignore", "log")  # each is also a --flag
DEFAULT_TARGET = "price"
#: Numeric columns are inferred as logged when positive, with more than this many distinct
#: values and a max/min ratio of at least ``LOG_RATIO`` (skewed, such as an area).
LOG_MIN_DISTINCT = 10
LOG_RATIO = 10.0
_INTEGER = re.compile(r"[+-]?\d+")


@dataclass
class _Scan:
    problems: list[str]
    warnings: list[str] = field(default_factory=list)
    table: Table | None = None  # only when there is no problem


def dataset_file_options(path: Path) -> tuple[Path, DatasetOptions]:
    """Parse a YAML dataset file.

    Args:
        path: The YAML file.

    Returns:
        The absolute path of the CSV it names (relative to the YAML file's folder) and the
        options it declares (``None`` for those it leaves out).

    Raises:
        DatasetError: The file is missing or not YAML, a key is unknown or of the wrong
            type, or ``csv`` is missing; the message names the file and the key.
    """
    path = Path(path).expanduser().absolute()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise DatasetError(f"{path}: not a text file") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise DatasetError(f"{path}: not a readable YAML file ({_yaml_error(error)})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DatasetError(
            f"{path}: expected keys such as 'csv:' and 'target:', found a {type(data).__name__}"
        )
    for key in data:
        if key not in YAML_KEYS:
            raise DatasetError(f"{path}: unknown key {key!r} (keys: {', '.join(YAML_KEYS)})")
    if "csv" not in data:
        raise DatasetError(f"{path}: no 'csv' key (the CSV file, relative to this file's folder)")
    values: dict = {}
    for key, value in data.items():
        if key in ("csv", "target", "min_group_count", "objective"):
            if not isinstance(value, str):
                raise DatasetError(f"{path}: key {key!r} must be text, found {value!r}")
            values[key] = value.strip()
        else:
            # A single name is a list of one (``categorical: neighbourhood``). Names are
            # strings only: ``images: 3`` is a mistake; a column 2020 is written "2020".
            names = [value] if isinstance(value, str) else value
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise DatasetError(
                    f"{path}: key {key!r} must be a list of column names, found {value!r}"
                )
            values[key] = tuple(name.strip() for name in names)
    csv_path = (path.parent / Path(values.pop("csv")).expanduser()).absolute()
    if "min_group_count" in values:
        try:
            values["min_group_count"] = parse_min_group(values["min_group_count"])
        except DatasetError as error:
            raise DatasetError(f"{path}: key 'min_group_count': {error.message}") from None
    if values.get("objective", OBJECTIVES[0]) not in OBJECTIVES:
        raise DatasetError(
            f"{path}: key 'objective' must be one of {', '.join(OBJECTIVES)}, "
            f"found {values['objective']!r}"
        )
    return csv_path, DatasetOptions(**values)


def check_csv(
    path: Path, options: DatasetOptions, decode: bool = True
) -> tuple[list[str], list[str]]:
    """Find every problem of a CSV or YAML dataset file, and its implausible values.

    Args:
        path: A CSV file, or a YAML dataset file (``.yaml``/``.yml``) naming one.
        options: The command line's options; for a YAML file, those not None win over
            the file's.
        decode: Also decode every image (slow on full-size images); without it, images
            are checked for presence and JPEG structure only.

    Returns:
        ``(problems, warnings)``: one line each, naming the file, line and column.
    """
    scan = _scan(Path(path), options, decode)
    return scan.problems, scan.warnings


def read_csv_table(path: Path, options: DatasetOptions) -> Table:
    """Read and validate a CSV or YAML dataset file into a ``Table``.

    Images are checked for presence and JPEG structure here; they are decoded lazily by
    ``Table.photos``. No group filter is applied (see ``Table.filtered``).

    Args:
        path: A CSV file, or a YAML dataset file naming one.
        options: The command line's options (see ``check_csv``).

    Raises:
        DatasetError: Any problem: the first, and how many more there are.
    """
    scan = _scan(Path(path), options, decode=False)
    if scan.problems:
        raise DatasetError(summarize_problems(scan.problems))
    assert scan.table is not None  # no problems means the table was built
    return scan.table


def _yaml_error(error: yaml.YAMLError) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None)
    if mark is not None and problem:
        return f"line {mark.line + 1}: {problem}"
    return " ".join(str(error).split())


def _merge(declared: DatasetOptions, options: DatasetOptions) -> DatasetOptions:
    """The YAML file's options, overridden by the command line's that are set."""
    given = {k: v for k, v in vars(options).items() if v is not None}
    return dataclasses.replace(declared, **given)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _float(text: str) -> float:
    number = _number(text)
    return math.nan if number is None else number


def _read_rows(
    csv_path: Path, data: bytes, problems: list[str]
) -> tuple[int, list[str], list[tuple[int, list[str]]]] | None:
    """Return the header's line and names and every non-blank row with its first physical
    line, or None (with a problem) when the file is not a CSV."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.append(f"{csv_path}: not a text file")
        return None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: tuple[int, list[str]] | None = None
    rows: list[tuple[int, list[str]]] = []
    before = 0  # physical lines read before the current row (a quoted value may span lines)
    try:
        for cells in reader:
            line, before = before + 1, reader.line_num
            cells = [cell.strip() for cell in cells]
            if not any(cells):  # blank lines, and the ",,," rows spreadsheets leave
                continue
            if header is None:
                header = (line, cells)
            else:
                rows.append((line, cells))
    except csv.Error as error:
        problems.append(f"{csv_path}: not a readable CSV file (line {reader.line_num}: {error})")
        return None
    if header is None:
        problems.append(f"{csv_path}: no rows (the file is empty)")
        return None
    if not rows:
        problems.append(f"{csv_path}: no rows (only a header)")
        return None
    return header[0], header[1], rows


def _header_problems(csv_path: Path, line: int, header: list[str]) -> list[str]:
    problems = []
    for index, name in enumerate(header, start=1):
        if not name:
            problems.append(f"{csv_path} line {line}: column {index} of the header has no name")
    seen = set()
    for name in header:
        if name and name in seen:
            problems.append(f"{csv_path} line {line}: column {name!r} appears twice in the header")
        seen.add(name)
    return problems


def _role_problems(csv_path: Path, header: list[str], options: DatasetOptions) -> list[str]:
    """Columns named by the options that are not in the header, or named twice."""
    known = ", ".join(header)
    target = options.target or DEFAULT_TARGET
    problems = []
    if target not in header:
        problems.append(
            f"{csv_path}: no target column {target!r} (columns: {known}); name it with --target"
        )
    for key in _COLUMN_LISTS:
        names = getattr(options, key) or ()
        for name in dict.fromkeys(names):
            if name not in header:
                problems.append(
                    f"{csv_path}: --{key} names column {name!r}, which is not in the header "
                    f"(columns: {known})"
                )
            elif name == target:
                problems.append(
                    f"{csv_path}: column {name!r} is the target (--target) and cannot also be "
                    f"named by --{key}"
                )
            if names.count(name) > 1:
                problems.append(f"{csv_path}: --{key} names column {name!r} more than once")
    roles = ("categorical", "images", "ignore")
    for i, first in enumerate(roles):
        for second in roles[i + 1 :]:
            both = set(getattr(options, first) or ()) & set(getattr(options, second) or ())
            for name in (c for c in header if c in both):  # those not in it are reported
                problems.append(
                    f"{csv_path}: column {name!r} is named by both --{first} and --{second}"
                )
    return problems


def _scan(path: Path, options: DatasetOptions, decode: bool) -> _Scan:
    """Read and check a CSV or YAML dataset file; fingerprint it on the way (each file is
    read once) and build the table when there is no problem."""
    source = path.expanduser().absolute()
    named_by = ""
    if source.suffix.lower() in YAML_SUFFIXES:
        try:
            csv_path, declared = dataset_file_options(source)
        except DatasetError as error:
            return _Scan([error.message])
        options = _merge(declared, options)
        named_by = f" (named by {source})"
    else:
        csv_path = source
    try:
        data = csv_path.read_bytes()
    except FileNotFoundError:
        return _Scan([f"{csv_path}: no such file{named_by}"])
    except IsADirectoryError:
        return _Scan([f"{csv_path}: a folder, not a CSV file{named_by}"])
    except OSError as error:
        return _Scan([f"{csv_path}: cannot read: {error.strerror}"])
    problems: list[str] = []
    parsed = _read_rows(csv_path, data, problems)
    if parsed is None:
        return _Scan(problems)
    header_line, header, rows = parsed
    problems += _header_problems(csv_path, header_line, header)
    if not problems:  # names are unique from here on
        problems += _role_problems(csv_path, header, options)
    if problems:  # the columns' roles are unclear: the rows cannot be judged
        return _Scan(problems)
    return _scan_rows(source, csv_path, data, header, rows, options, decode)


def _scan_rows(
    source: Path,
    csv_path: Path,
    data: bytes,
    header: list[str],
    rows: list[tuple[int, list[str]]],
    options: DatasetOptions,
    decode: bool,
) -> _Scan:
    target = options.target or DEFAULT_TARGET
    objective = get_objective(options.objective)
    ignored = set(options.ignore or ())
    named = {name for key in _COLUMN_LISTS for name in getattr(options, key) or ()}
    width = len(header)
    good = [(line, cells) for line, cells in rows if len(cells) == width]
    column = {name: [cells[i] for _, cells in good] for i, name in enumerate(header)}

    # The id column: "id" in any case, unless an option gives it another role. Its frame
    # column is "id": an exact "id" goes first, and when an option names one, no "ID"
    # takes its name.
    ids = [c for c in header if c.lower() == "id" and c not in named and c != target]
    if "id" in named:
        ids = []
    id_column = "id" if "id" in ids else next(iter(ids), None)
    kept = [c for c in header if c not in ignored and c != target and c != id_column]
    if options.images is not None:
        images = tuple(options.images)
    else:
        declared = set(options.categorical or ()) | set(options.log or ())
        images = tuple(
            c
            for c in kept
            if c not in declared
            and any(column[c])
            and all(v.lower().endswith(IMAGE_SUFFIXES) for v in column[c] if v)
        )
    attributes = [c for c in kept if c not in images]
    forced = set(options.categorical or ())
    categorical = tuple(
        c for c in attributes if c in forced or any(_number(v) is None for v in column[c] if v)
    )
    numeric = tuple(c for c in attributes if c not in categorical)

    problems: list[str] = []  # about the whole dataset; the rows' problems follow them
    if len(rows) < MIN_ROWS:
        problems.append(f"{csv_path}: {len(rows)} rows are too few to split; {MIN_ROWS} are needed")
    if not attributes and not images:
        problems.append(f"{csv_path}: no attribute or image columns besides the target")
    # Missing values read as NaN here: each is a problem of its row below.
    values = {c: np.array([_float(v) for v in column[c]], dtype=np.float64) for c in numeric}
    finite = {c: np.isfinite(values[c]) for c in numeric}
    if options.log is not None:
        logged = tuple(c for c in numeric if c in options.log)
        for name in dict.fromkeys(options.log):
            if name not in header or name == target:
                continue  # already a problem
            if name not in numeric:
                role = _role(name, id_column, images, categorical, ignored)
                problems.append(
                    f"{csv_path}: --log names column {name!r}, which is not numeric ({role})"
                )
                continue
            bad = np.flatnonzero(finite[name] & (values[name] <= 0))
            if bad.size:
                problems.append(
                    f"{csv_path} line {good[bad[0]][0]}, column {name}: --log needs positive "
                    f"values, found {column[name][bad[0]]}"
                )
    else:
        logged = tuple(c for c in numeric if _skewed(values[c][finite[c]]))

    csv_dir = csv_path.parent
    digest = hashlib.sha256(b"houses-tune dataset v1\0" + data)
    listings: dict[Path, list[str]] = {}  # folder -> its file names, at its first missing image
    seen_ids: dict[str, int] = {}
    photo_paths: list[tuple[Path, ...]] = []
    places: list[str] = []
    for line, cells in rows:
        where = f"{csv_path} line {line}"
        if len(cells) != width:
            problems.append(
                f"{where}: expected {width} values (as in the header), found {len(cells)}"
            )
            continue
        places.append(where)
        for name, value in zip(header, cells, strict=True):
            at = f"{where}, column {name}"
            if name == id_column:
                if not value:
                    problems.append(f"{at}: missing value")
                elif value in seen_ids:
                    problems.append(
                        f"{at}: id {value!r} is also on line {seen_ids[value]} (ids name the "
                        f"rows and must be unique; --ignore {name} numbers the rows instead)"
                    )
                else:
                    seen_ids[value] = line
            elif name == target:
                problems += _target_problems(at, value, objective)
            elif name in categorical and not value:
                problems.append(f"{at}: missing value")
            elif name in numeric:
                number = _number(value)
                if not value:
                    problems.append(f"{at}: missing value")
                elif number is None or not math.isfinite(number):
                    problems.append(f"{at}: not a number: {value!r}")
        row_paths = []
        for name in images:
            value = cells[header.index(name)]
            at = f"{where}, column {name}"
            if not value:
                problems.append(f"{at}: no image file named")
                row_paths.append(csv_dir)
                continue
            image = csv_dir / Path(value).expanduser()  # an absolute path stays as it is
            row_paths.append(image)
            problem = _image_problem(image, value, digest, listings, decode, where)
            if problem is not None:
                problems.append(f"{at}: {image}: {problem}")
        photo_paths.append(tuple(row_paths))
    if problems:
        return _Scan(problems)

    row_name = "row"
    while row_name in header and row_name not in ignored:  # never clash with a column
        row_name = f"_{row_name}"
    schema = Schema(
        target=target,
        numeric=numeric,
        categorical=categorical,
        images=images,
        logged=logged,
        id="id" if id_column else row_name,
    )
    # The schema decides the cached photos' columns and order: fold it in, so a different
    # declaration of the same files never reuses a cache entry.
    digest.update(b"\0schema\0" + json.dumps(schema.to_dict(), sort_keys=True).encode())
    frame: dict[str, object] = {}
    if id_column:
        frame["id"] = column[id_column]
    else:
        frame[row_name] = np.arange(1, len(good) + 1, dtype=np.int64)
    for name in attributes:
        frame[name] = values[name] if name in numeric else _categories(column[name])
    for slot, name in enumerate(images):
        frame[name] = [str(paths[slot]) for paths in photo_paths]
    frame[target] = np.array([float(v) for v in column[target]], dtype=np.float64)
    table_frame = pd.DataFrame(frame)
    warnings = _implausible_values(table_frame, (*numeric, target), places)
    table = Table(
        source=source,
        frame=table_frame,
        schema=schema,
        total=len(rows),
        fingerprint=digest.hexdigest(),
        photo_paths=tuple(photo_paths),
        places=tuple(places),
        source_rows=np.arange(len(rows)),
        min_group=None,
        warnings=tuple(warnings),
        objective=objective,
    )
    return _Scan([], warnings, table)


def _role(
    name: str,
    id_column: str | None,
    images: tuple[str, ...],
    categorical: tuple[str, ...],
    ignored: set[str],
) -> str:
    if name == id_column:
        return "it names the rows"
    if name in images:
        return "it is an image column"
    if name in ignored:
        return "it is ignored"
    return "it is categorical" if name in categorical else "it is not an attribute"


def _target_problems(at: str, value: str, objective: Objective) -> list[str]:
    if not value:
        return [f"{at}: missing value"]
    number = _number(value)
    if number is None or not math.isfinite(number):
        return [f"{at}: not a number: {value!r}"]
    if number <= 0 and objective.needs_positive:
        return [
            f"{at}: must be positive for the {objective.label} objective, found {value} "
            "(--objective mae scores targets that can be zero or negative)"
        ]
    return []


def _image_problem(
    path: Path,
    written: str,
    digest: Any,
    listings: dict[Path, list[str]],
    decode: bool,
    place: str,
) -> str | None:
    """Read one image into the fingerprint and say what is wrong with it, or None."""
    try:
        image = path.read_bytes()
    except FileNotFoundError:
        if path.parent not in listings:
            try:
                listings[path.parent] = os.listdir(path.parent)
            except OSError:
                listings[path.parent] = []
        return photo_missing(path, listings[path.parent])
    except OSError as error:
        return f"cannot read: {error.strerror}"
    digest.update(f"\0{written}\0{len(image)}\0".encode())
    digest.update(image)
    if path.suffix.lower() in JPEG_SUFFIXES:
        problem = jpeg_problem(image)
    else:  # no cheap structure check for these formats: decoding tells
        problem = None if image else "empty file"
    if problem is None and decode:
        try:
            read_photo(path, 8, place)
        except DatasetError:
            problem = "cannot be decoded as an image"
    return problem


def _skewed(values: np.ndarray) -> bool:
    """Positive, varied and spanning a factor of ``LOG_RATIO``: worth feeding as a log."""
    if not values.size or values.min() <= 0:
        return False
    return len(np.unique(values)) > LOG_MIN_DISTINCT and values.max() / values.min() >= LOG_RATIO


def _categories(values: list[str]) -> object:
    """int64 when every value is a whole number that fits (zip codes), else the strings."""
    if all(_INTEGER.fullmatch(v) for v in values):
        numbers = [int(v) for v in values]
        if all(-(2**63) <= n < 2**63 for n in numbers):
            return np.array(numbers, dtype=np.int64)
    return values


def _implausible_values(
    frame: pd.DataFrame, columns: tuple[str, ...], places: list[str]
) -> list[str]:
    """Outliers of the non-negative numeric columns and the target (``table.outliers``),
    one line each naming the line, in line order."""
    found: list[tuple[int, str]] = []
    for name in columns:
        values = frame[name].to_numpy(dtype=np.float64)
        if values.min() < 0:
            continue
        rows, median = outliers(values)
        for row in rows:
            what = f"{name} {values[row]:,.6g} is far from the other rows' (median {median:,.6g})"
            found.append((row, what))
    return [
        f"{places[row]}: {what}; used as it is"
        for row, what in sorted(found, key=lambda item: item[0])
    ]
