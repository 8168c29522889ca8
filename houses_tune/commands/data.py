"""``houses-tune data ...``: inspect, validate and download datasets."""

from __future__ import annotations

from pathlib import Path

import click

from houses_tune.commands.options import pop_dataset_options, split_options, table_options
from houses_tune.errors import DatasetError

_FOLDER = click.Path(file_okay=False, path_type=Path)


@click.group()
def data() -> None:
    """Inspect and validate datasets (Houses folders, CSV files); download the Houses one."""


@data.command()
@split_options
def info(dataset, min_zip_count, test_size, folds, val_size, val_seed, **columns) -> None:
    """What the dataset holds: its columns and what each is for (inferred for a CSV), rows
    before and after the group filter, the groups, the target and the search's splits."""
    from houses_tune.data import load_dataset, make_splits
    from houses_tune.data.sources import resolve_options

    options = resolve_options(dataset, pop_dataset_options(columns), min_zip_count)
    table = load_dataset(dataset, options)
    splits = make_splits(len(table), test_size, folds, val_size, val_seed)
    frame, schema = table.frame, table.schema
    label = " (embedded)" if dataset is None else ""
    click.echo(f"dataset      {table.source}{label}")
    click.echo(f"fingerprint  {table.fingerprint[:16]}")
    click.echo(f"target       {schema.target} (objective {table.objective.label})")
    for what, names in (
        ("numeric", schema.numeric),
        ("categorical", schema.categorical),
        ("images", schema.images),
        ("log-able", schema.logged),
    ):
        click.echo(f"{what:<12} {', '.join(names) or '-'}")
    click.echo(f"id           {schema.id}")
    kept = f"{len(table)} of {table.total} rows"
    if table.min_group is not None:
        column, count = table.min_group
        kept += f" (rows whose {column} has >= {count} rows)"
    click.echo(f"rows         {kept}")
    target = frame[schema.target]
    if schema.categorical:
        group = schema.categorical[0]
        stats = frame.groupby(group)[schema.target].agg(["count", "median"])
        click.echo(f"{group:<12} {len(stats)} values")
        click.echo(f"  {group:>12} {'rows':>7} {'median ' + schema.target:>16}")
        for value, row in stats.sort_values("count", ascending=False).iterrows():
            click.echo(f"  {value!s:>12} {int(row['count']):>7} {row['median']:>16,.0f}")
    click.echo(
        f"{schema.target:<12} min {target.min():,.0f}  median {target.median():,.0f}  "
        f"mean {target.mean():,.0f}  max {target.max():,.0f}"
    )
    sizes = ", ".join(
        f"{len(splits.fold(k)[0])}/{len(splits.folds[k])}" for k in range(len(splits.folds))
    )
    what = f"{folds} folds" if folds > 1 else "1 validation split"
    click.echo(
        f"splits       search {len(splits.search)} (max {schema.target} "
        f"{target.iloc[splits.search].max():,.0f}), test {len(splits.test)}; "
        f"{what} (train/validation): {sizes}"
    )
    for warning in table.warnings:
        click.echo(f"warning: {warning}")


@data.command()
@click.argument("path", type=click.Path(exists=False, path_type=Path))
@table_options
def validate(path: Path, **columns) -> None:
    """Check a dataset (a Houses folder, a CSV or YAML dataset file) and list every problem
    found (exit 2 if any), and every implausible value (a warning: outliers, fractional
    bedrooms)."""
    from houses_tune.data import check_dataset

    options = pop_dataset_options(columns)
    click.echo(f"validating {path} (decoding every image)...", err=True)
    problems, warnings = check_dataset(path, options)
    for problem in problems:
        click.echo(problem)
    for warning in warnings:
        click.echo(f"warning: {warning}")
    if problems:
        raise DatasetError(f"{path}: {len(problems)} problem(s) found")
    warned = f" ({len(warnings)} warning(s))" if warnings else ""
    click.echo(f"{path}: valid{warned}")


@data.command()
@click.argument("dest", type=_FOLDER)
@click.option(
    "--url", default=None, help="Zip archive to fetch (default: the dataset's GitHub repository)."
)
def download(dest: Path, url: str | None) -> None:
    """Download the original full-resolution dataset into the new folder DEST."""
    from houses_tune.data.download import DEFAULT_URL, download_dataset

    folder = download_dataset(dest, url or DEFAULT_URL, log=lambda m: click.echo(m, err=True))
    click.echo(str(folder))
