"""Which source a ``--dataset`` is, and reading it into a ``Table``.

- none: the embedded Houses dataset; a folder: a Houses dataset folder (``reader``);
- a ``.csv`` file, or a ``.yaml`` / ``.yml`` dataset file naming one (``csv_source``).

Column names become the exported model's input names, so they must be plain
identifiers (letters, digits and ``_``).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from houses_tune.data.table import DatasetOptions, Table
from houses_tune.errors import DatasetError
from houses_tune.objective import get_objective

#: The Houses folders' default filter: the tutorials' zip codes with 25 houses or more.
HOUSES_MIN_GROUP = ("zipcode", 25)
TABLE_SUFFIXES = (".csv", ".yaml", ".yml")
_CSV_ONLY = ("target", "categorical", "images", "ignore", "log")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def is_table_file(dataset: Path | None) -> bool:
    """Whether ``dataset`` names a CSV or YAML dataset file (not a Houses folder)."""
    return dataset is not None and Path(dataset).suffix.lower() in TABLE_SUFFIXES


def resolve_options(
    dataset: str | Path | None, options: DatasetOptions, min_zip_count: int = HOUSES_MIN_GROUP[1]
) -> DatasetOptions:
    """``options`` with a Houses folder's zip filter made explicit (``--min-zip-count``,
    unless ``--min-group-count`` names another), so a run reloads exactly its rows."""
    if options.min_group_count is None and not is_table_file(dataset):
        return dataclasses.replace(options, min_group_count=("zipcode", min_zip_count))
    return options


def load_dataset(dataset: str | Path | None, options: DatasetOptions | None = None) -> Table:
    """Read, validate and filter a dataset of any source.

    Args:
        dataset: None (the embedded Houses dataset), a Houses folder, a CSV or YAML file.
        options: Column declarations, the group filter and the objective
            (``DatasetOptions``).

    Raises:
        DatasetError: The source is missing or invalid, an option does not apply to it,
            or the filter leaves too few rows.
    """
    from houses_tune.data.reader import load_houses

    options = resolve_options(dataset, options or DatasetOptions())
    if not is_table_file(dataset):
        given = [f"--{name}" for name in _CSV_ONLY if getattr(options, name) is not None]
        if given:
            where = dataset or "the embedded dataset"
            raise DatasetError(
                f"{where}: {', '.join(given)}: for CSV datasets only (a Houses folder's "
                "columns are fixed)"
            )
        column, count = options.min_group_count
        if column == HOUSES_MIN_GROUP[0]:
            table = load_houses(dataset, count)
        else:
            table = load_houses(dataset, 0).filtered(column, count)
        return dataclasses.replace(table, objective=get_objective(options.objective))
    from houses_tune.data.csv_source import dataset_file_options, read_csv_table

    path = Path(dataset).expanduser().absolute()
    table = read_csv_table(path, options)
    _check_names(table)
    group = options.min_group_count
    if group is None and path.suffix.lower() != ".csv":  # a YAML file's own filter
        group = dataset_file_options(path)[1].min_group_count
    return table.filtered(*group) if group is not None else table


def check_dataset(
    dataset: str | Path, options: DatasetOptions | None = None
) -> tuple[list[str], list[str]]:
    """Every problem and warning of a dataset (for ``data validate``), decoding each image.

    Returns:
        ``(problems, warnings)``, one line each naming the file and the place.
    """
    from houses_tune.data.reader import check_folder

    if not is_table_file(dataset):
        found = check_folder(dataset)
        return found.problems, found.warnings
    from houses_tune.data.csv_source import check_csv

    return check_csv(Path(dataset).expanduser().absolute(), options or DatasetOptions())


def _check_names(table: Table) -> None:
    schema = table.schema
    for column in (*schema.attributes, *schema.images):
        if not _NAME.fullmatch(column):
            raise DatasetError(
                f"{table.source}: column {column!r}: names must be letters, digits and _ "
                "(they become the exported model's input names); rename it in the header"
            )
