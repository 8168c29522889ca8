"""Options shared by several commands, declared once so each name has one meaning.

As Flask does with its shared option objects: a command takes ``@dataset_option`` (or
the ``split_options`` group) instead of declaring ``--dataset`` again.

- ``--seed``: the seed of the models and of the search (never a split's).
- ``--val-seed``: the seed of the folds of the search rows.
- Both are ``SEED`` values: NumPy and scikit-learn take seeds below 2**32, and the seeds
  derived from them (a fold model's, a baseline's) add small offsets.
- The test split is always the tutorials' (``random_state=42``); ``--splits FILE`` gives
  another one.
"""

from __future__ import annotations

from pathlib import Path

import click

from houses_tune.backend import BACKENDS
from houses_tune.objective import OBJECTIVES
from houses_tune.tuner.devices import DEVICE_CHOICES

#: Values a seed option takes.
SEED = click.IntRange(0, 2**31 - 1)

dataset_option = click.option(
    "--dataset",
    type=click.Path(exists=True, path_type=Path),
    help="Houses dataset folder (HousesInfo.txt + photos), a CSV file (one row per item) or "
    "a YAML dataset file naming one.  [default: embedded dataset]",
)
min_zip_count_option = click.option(
    "--min-zip-count",
    type=click.IntRange(min=0),
    default=25,
    show_default=True,
    help="Houses folders: drop houses whose zip code has fewer houses (the tutorials' "
    "filter; 0 keeps all).",
)


class Columns(click.ParamType):
    """A comma-separated list of column names (``--categorical a,b``)."""

    name = "COLUMNS"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        names = tuple(n.strip() for n in str(value).split(",") if n.strip())
        if not names:
            self.fail("expected one or more column names separated by commas", param, ctx)
        return names


class MinGroup(click.ParamType):
    """``COLUMN=N`` for ``--min-group-count``."""

    name = "COLUMN=N"

    def convert(self, value, param, ctx):
        from houses_tune.data.table import parse_min_group
        from houses_tune.errors import HousesTuneError

        if isinstance(value, tuple):
            return value
        try:
            return parse_min_group(value)
        except HousesTuneError as error:
            self.fail(error.format_message(), param, ctx)


#: The dataset options, in ``DatasetOptions``' field names.
TABLE_OPTIONS = (
    "target", "categorical", "images", "ignore", "log", "min_group_count", "objective"
)  # fmt: skip
_TABLE_OPTIONS = (
    click.option("--target", help="CSV: the column to predict.  [default: price]"),
    click.option("--categorical", type=Columns(), help="CSV: columns to treat as categories "
                 "(others are numbers when every value is one)."),
    click.option("--images", type=Columns(), help="CSV: the image columns, in order "
                 "[default: columns whose values are all image file names]."),
    click.option("--ignore", type=Columns(), help="CSV: columns to leave out."),
    click.option("--log", type=Columns(), help="CSV: numeric columns a space may feed as "
                 "logs (attributes/area: log) [default: positive columns spanning 10x]."),
    click.option("--min-group-count", type=MinGroup(), help="Drop rows whose COLUMN value "
                 "has fewer than N rows.  [Houses default: zipcode=25 (--min-zip-count)]"),
    click.option("--objective", type=click.Choice(OBJECTIVES), help="How predictions are "
                 "scored: MAPE (positive targets) or MAE (any sign, in the target's units).  "
                 "[default: mape]"),
)  # fmt: skip


def table_options(command):
    """The dataset options alone (``TABLE_OPTIONS``)."""
    for option in reversed(_TABLE_OPTIONS):
        command = option(command)
    return command


def pop_dataset_options(options: dict):
    """Take the ``TABLE_OPTIONS`` out of a command's keyword arguments as ``DatasetOptions``."""
    from houses_tune.data.table import DatasetOptions

    return DatasetOptions(**{name: options.pop(name) for name in TABLE_OPTIONS})


test_size_option = click.option(
    "--test-size",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.25,
    show_default=True,
    help="Fraction held out for export's test (never seen by the search).",
)
folds_option = click.option(
    "--folds",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Train and score every trial on K folds of the search houses (1: one validation "
    "split of --val-size).",
)
val_size_option = click.option(
    "--val-size",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.2,
    show_default=True,
    help="With --folds 1: fraction of the search houses that scores trials.",
)
val_seed_option = click.option(
    "--val-seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Seed of the folds (the test split is always the tutorials').",
)
seed_option = click.option(
    "--seed",
    type=SEED,
    default=0,
    show_default=True,
    help="Seed of the models (and of the search's tuner).",
)
device_option = click.option(
    "--device",
    type=click.Choice(DEVICE_CHOICES),
    default="auto",
    show_default=True,
    help="Train on the GPU when there is one (auto), or force cpu / gpu.",
)
backend_option = click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default="auto",
    show_default=True,
    help="Keras backend that trains the models (auto: TensorFlow for a space with photo "
    "networks, JAX for attribute-only ones; KERAS_BACKEND is honoured).",
)


def split_options(command):
    """``--dataset``, ``--min-zip-count``, the CSV options (``TABLE_OPTIONS``),
    ``--test-size``, ``--folds``, ``--val-size`` and ``--val-seed``: which rows a search
    uses and how it splits them."""
    for option in reversed(
        (
            dataset_option,
            min_zip_count_option,
            *_TABLE_OPTIONS,
            test_size_option,
            folds_option,
            val_size_option,
            val_seed_option,
        )
    ):
        command = option(command)
    return command
