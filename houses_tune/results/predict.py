"""``houses-tune predict``: prices for new rows from an exported ``model.keras``.

Rows come from a CSV with a header holding the model's attribute columns (the columns of
the dataset it was trained on; Houses: ``bedrooms,bathrooms,area,zipcode``) and an
optional ``id`` column, or from a Houses dataset folder (``HousesInfo.txt``: space
separated, no header, house ids are line numbers). An image column of the CSV holds file
paths relative to the CSV (or to ``--images``); an image column the CSV lacks is found as
``<images>/<id>_<column>.jpg`` (the Houses photos' names). Images are read and resized by
the data layer's ``read_photo``, exactly as for training.

A number more than one training range beyond the range the model was trained on (area
1e30 for a model trained on 800-4,000 square feet) gets a warning: the price of such a
house is an extrapolation. A price that is not finite is an error.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from houses_tune.data.reader import parse_value
from houses_tune.errors import DatasetError, PredictError

NUMBERS = ("bedrooms", "bathrooms", "area", "zipcode")  # a Houses model's columns
ID_COLUMNS = ("id", "house")
HOUSES_INFO = "HousesInfo.txt"
#: A value is far outside the training range [low, high] below low - w or above high + w,
#: w = FAR_OUTSIDE * (high - low).
FAR_OUTSIDE = 1.0


@dataclass
class HouseTable:
    """Rows to predict.

    Attributes:
        frame: columns ``id`` (when known), the model's attribute columns (numbers as
            float, integer categories as int, other categories as str) and the image
            columns the CSV has (paths as written).
        source: the file read, for messages.
        lines: line number in ``source`` of each row, for messages.
        images: default photo folder (the dataset folder), or None.
    """

    frame: pd.DataFrame
    source: Path
    lines: list[int]
    images: Path | None = None

    def where(self, row: int) -> str:
        """Where row ``row`` is: ``houses.csv line 3 (house a17)``."""
        house = self.frame["id"].iloc[row] if "id" in self.frame else None
        return _where(self.source, self.lines[row], house)


def _where(path: Path, line: int, house: str | None) -> str:
    return f"{path} line {line}" + (f" (house {house})" if house is not None else "")


@dataclass
class Predictions:
    """Result of ``predict_houses``.

    Attributes:
        frame: the input columns plus ``predicted_price`` (dollars).
        unseen: per categorical column, values the model never saw (predicted with an
            all-zero one-hot).
        far_outside: one line per value far outside the training range, naming the house.
    """

    frame: pd.DataFrame
    unseen: dict[str, list] = field(default_factory=dict)
    far_outside: list[str] = field(default_factory=list)


def read_house_table(
    path: str | Path, columns: dict[str, str] | None = None, images: tuple[str, ...] = ()
) -> HouseTable:
    """Read rows from a CSV with a header, or from a dataset folder / ``HousesInfo.txt``.

    Args:
        path: The CSV file, dataset folder or ``HousesInfo.txt``.
        columns: Attribute column -> kind (``number``, ``integer`` or ``string``); default
            a Houses model's (``NUMBERS``).
        images: Image columns the model takes; the CSV's are kept (paths as written).

    Raises:
        PredictError: missing file, missing column, or a bad value (naming the line).
    """
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / HOUSES_INFO
    if not path.is_file():
        raise PredictError(f"{path}: no such file")
    columns = columns or _HOUSES_COLUMNS
    if path.name == HOUSES_INFO:
        other = [c for c in columns if c not in _HOUSES_COLUMNS]
        if other:
            raise PredictError(
                f"{path}: the model takes column(s) {', '.join(other)}, which a Houses "
                "dataset folder does not have; pass a CSV with them"
            )
        return _read_dataset_info(path)
    # The csv module, not pandas: pandas silently takes a row with one value too many
    # as an index (shifting every value) and cannot say on which line a row is.
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, skipinitialspace=True)
            header = [c.strip().lower() for c in next(reader, [])]
            rows = [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except (csv.Error, UnicodeDecodeError) as error:
        raise PredictError(f"{path}: not a readable CSV file ({error})") from None
    missing = [c for c in columns if c not in header]
    if missing:
        raise PredictError(
            f"{path}: missing column(s) {', '.join(missing)}; a header with "
            f"{','.join(columns)} (and optionally id) is needed"
        )
    if not rows:
        raise PredictError(f"{path}: no houses (only a header)")
    columns = {c: columns[c] for c in header if c in columns}  # the file's order
    id_at = next((header.index(c) for c in ID_COLUMNS if c in header), None)
    for line, row in rows:
        if len(row) != len(header):
            known = id_at is not None and id_at < len(row)
            house = f" (house {row[id_at].strip()})" if known else ""
            raise PredictError(
                f"{path} line {line}{house}: expected {len(header)} values (as in the "
                f"header), found {len(row)}"
            )
    ids = [row[id_at].strip() for _, row in rows] if id_at is not None else None
    lines = [line for line, _ in rows]
    values = [[row[header.index(c)] for c in columns] for _, row in rows]
    frame = _parse_values(path, values, lines, ids, columns)
    for column in (c for c in images if c in header):
        frame[column] = [row[header.index(column)].strip() for _, row in rows]
    return HouseTable(frame, path, lines)


def _read_dataset_info(path: Path) -> HouseTable:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PredictError(f"{path}: not a text file") from None
    rows, lines = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        tokens = line.split()
        # Bedrooms, bathrooms, area, zipcode; a fifth column (the price) is ignored.
        if len(tokens) not in (4, 5):
            raise PredictError(
                f"{path} line {number} (house {number}): expected 4 or 5 columns, "
                f"found {len(tokens)}"
            )
        rows.append(tokens[:4])
        lines.append(number)
    if not rows:
        raise PredictError(f"{path}: no houses")
    frame = _parse_values(path, rows, lines, [str(n) for n in lines], _HOUSES_COLUMNS)
    return HouseTable(frame, path, lines, images=path.parent)


_HOUSES_COLUMNS = {"bedrooms": "number", "bathrooms": "number", "area": "number",
                   "zipcode": "integer"}  # fmt: skip


def _parse_value(name: str, kind: str, token: str) -> tuple[object, str | None]:
    """One value and what is wrong with it (a Houses column keeps the Houses checks)."""
    token = token.strip()
    if name in NUMBERS:
        value, problem = parse_value(name, token)
        return (int(value) if kind == "integer" and problem is None else value), problem
    if kind == "string":
        return token, None if token else "missing value"
    try:
        value = int(token) if kind == "integer" else float(token)
    except ValueError:
        value = None
    if value is None or (kind == "number" and not np.isfinite(value)):
        what = "a whole number" if kind == "integer" else "a number"
        return None, f"{name} is not {what}: {token!r}"
    return value, None


def _parse_values(path: Path, rows: list, lines: list[int], ids, columns: dict[str, str]):
    values = []
    for index, (row, line) in enumerate(zip(rows, lines, strict=True)):
        where = _where(path, line, ids[index] if ids else None)
        parsed = []
        for (name, kind), token in zip(columns.items(), row, strict=True):
            value, problem = _parse_value(name, kind, token)
            if problem is not None:
                raise PredictError(f"{where}: {problem}")
            parsed.append(value)
        values.append(parsed)
    frame = pd.DataFrame(values, columns=list(columns))
    frame = frame.astype({name: "int64" for name, kind in columns.items() if kind == "integer"})
    if ids is not None:
        frame.insert(0, "id", ids)
    return frame


def read_house_photos(
    table: HouseTable, folder: Path | None, tile: int, images: tuple[str, ...]
) -> np.ndarray:
    """Images of every row, uint8 ``(n, len(images), tile, tile, 3)`` in ``images`` order.

    Args:
        table: The rows.
        folder: ``--images``, or None: paths of the CSV's image columns are relative to it
            (else to the CSV), and ``<folder>/<id>_<column>.jpg`` is the file of a column
            the CSV lacks.
        tile: Side in pixels.
        images: The model's image columns.

    Raises:
        PredictError: no id column or folder where one is needed, or an image missing or
            unreadable (naming the row).
    """
    from houses_tune.data.photos import photo_missing, photo_path, read_photo

    named = [c for c in images if c not in table.frame]
    if named and folder is None:
        raise PredictError(
            "this model uses photos: pass --images DIR with <id>_<column>.jpg "
            f"(or columns {', '.join(named)} of image paths in {table.source.name})"
        )
    if named and "id" not in table.frame:
        raise PredictError(
            f"{table.source}: the model uses photos, so an id column is needed to find "
            "<id>_<column>.jpg"
        )
    base = folder if folder is not None else table.source.parent
    photos = np.empty((len(table.frame), len(images), tile, tile, 3), dtype=np.uint8)
    for index in range(len(table.frame)):
        for slot, column in enumerate(images):
            if column in table.frame:
                path = base / table.frame[column].iloc[index]
            else:
                path = photo_path(folder, table.frame["id"].iloc[index], column)
            where = table.where(index)
            if not path.is_file():
                raise PredictError(f"{where}: {path}: {photo_missing(path)}")
            try:
                photos[index, slot] = read_photo(path, tile, where)
            except DatasetError as error:
                raise PredictError(str(error)) from None
    return photos


def predict_houses(
    model_path: str | Path, houses: str | Path, images: str | Path | None = None
) -> Predictions:
    """Predict prices of new houses with an exported model.

    Args:
        model_path: ``model.keras`` (or an export folder holding one).
        houses: CSV file, dataset folder or ``HousesInfo.txt``.
        images: folder of ``<id>_<room>.jpg`` photos; defaults to the dataset folder.
            Not needed for models that use no photos.

    Returns:
        Input rows with ``predicted_price``, and the zip codes the model never saw.

    Raises:
        PredictError: bad model path, bad row, missing photo, a price that is not finite
            (one line naming the house).
    """
    from houses_tune.results.serving import raw_inputs, training_ranges, vocabularies

    model = _load_model(Path(model_path).expanduser())
    columns, image_columns, tile = _model_columns(model)
    table = read_house_table(houses, columns, image_columns)

    photos = None
    if image_columns:
        folder = Path(images).expanduser() if images is not None else table.images
        photos = read_house_photos(table, folder, tile, image_columns)

    unseen = {}
    for column, known in vocabularies(model).items():
        new = sorted(set(table.frame[column].tolist()) - set(known))
        if new:
            unseen[column] = new
    far = far_outside(table, training_ranges(model))
    inputs = raw_inputs(model, table.frame, photos, image_columns)
    prices = model.predict(inputs, verbose=0).reshape(-1)
    prices = prices.astype(np.float64)
    _check_finite(table, prices, far)
    frame = table.frame.drop(columns=[c for c in image_columns if c in table.frame])
    frame["predicted_price"] = np.round(prices, 2)
    warnings = [f"{table.where(row)}: {far[row]}; its price is an extrapolation" for row in far]
    return Predictions(frame, unseen, warnings)


def _model_columns(model) -> tuple[dict[str, str], tuple[str, ...], int | None]:
    """What a serving model takes: attribute column -> kind, its image columns (in its
    input order) and their side in pixels."""
    from houses_tune.results.serving import serving_input_names

    columns, images, tile = {}, [], None
    for name, tensor in zip(serving_input_names(model), model.inputs, strict=True):
        if len(tensor.shape) == 4:
            images.append(name)
            tile = int(tensor.shape[1])
        else:
            columns[name] = {"int64": "integer", "string": "string"}.get(tensor.dtype, "number")
    return columns, tuple(images), tile


def _load_model(path: Path):
    """The exported model at ``path`` (or in the export folder ``path``).

    Raises:
        PredictError: No such file, or a file that is not a Keras model.
    """
    from houses_tune.results.serving import load_exported_model

    if path.is_dir():
        path = path / "model.keras"
    if not path.is_file():
        raise PredictError(f"{path}: no such model file (expected an exported model.keras)")
    if not zipfile.is_zipfile(path):  # Keras would say "File not found"
        raise PredictError(
            f"{path}: not a Keras model file (an exported model.keras is a zip archive)"
        )
    try:
        return load_exported_model(path)
    except (ValueError, OSError, TypeError, KeyError, zipfile.BadZipFile) as error:
        reason = str(error).strip().splitlines()[0]  # Keras' messages run over many lines
        raise PredictError(f"{path}: cannot load the model: {reason}") from None


def far_outside(table: HouseTable, ranges: dict[str, tuple[float, float]]) -> dict[int, str]:
    """Values far outside the range the model was trained on, by row (see ``FAR_OUTSIDE``).

    Args:
        table: The houses.
        ranges: Column -> (low, high) the model was trained on (``training_ranges``).

    Returns:
        Row -> what is far outside, e.g. ``area 1e+30 is far outside the range the model
        was trained on (800 to 3,998)``.
    """
    found: dict[int, list[str]] = {}
    for name, (low, high) in ranges.items():
        margin = FAR_OUTSIDE * (high - low)
        values = table.frame[name].to_numpy(dtype=np.float64)
        for row in np.flatnonzero((values < low - margin) | (values > high + margin)):
            found.setdefault(int(row), []).append(
                f"{name} {values[row]:,.6g} is far outside the range the model was trained "
                f"on ({low:,.6g} to {high:,.6g})"
            )
    return {row: "; ".join(parts) for row, parts in found.items()}


def _check_finite(table: HouseTable, prices: np.ndarray, far: dict[int, str]) -> None:
    """Raise PredictError naming the first house whose price is not finite."""
    bad = np.flatnonzero(~np.isfinite(prices))
    if not len(bad):
        return
    row = int(bad[0])
    why = f": {far[row]}" if row in far else ""
    more = f" ({len(bad) - 1} more house(s) too)" if len(bad) > 1 else ""
    raise PredictError(
        f"{table.where(row)}: the predicted price is not finite ({prices[row]}){more}{why}"
    )
