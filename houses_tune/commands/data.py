"""``houses-tune data ...``: inspect, validate and download datasets."""

from __future__ import annotations

from pathlib import Path

import click

from houses_tune.commands.options import split_options
from houses_tune.errors import DatasetError

_FOLDER = click.Path(file_okay=False, path_type=Path)


@click.group()
def data() -> None:
    """Inspect, validate and download Houses datasets."""


@data.command()
@split_options
def info(dataset, min_zip_count, test_size, folds, val_size, val_seed) -> None:
    """Houses before/after the zip filter, zip codes, prices and the search's split sizes."""
    from houses_tune.data import load_houses, make_splits

    houses = load_houses(dataset, min_zip_count)
    splits = make_splits(len(houses), test_size, folds, val_size, val_seed)
    frame = houses.frame
    label = " (embedded)" if dataset is None else ""
    click.echo(f"dataset      {houses.folder}{label}")
    click.echo(f"fingerprint  {houses.fingerprint[:16]}")
    click.echo(
        f"houses       {houses.total} total, {len(houses)} in zip codes with "
        f">= {min_zip_count} houses"
    )
    stats = frame.groupby("zipcode")["price"].agg(["count", "median"])
    click.echo(f"zip codes    {len(stats)}")
    click.echo(f"  {'zipcode':>8} {'houses':>7} {'median price':>13}")
    for zipcode, row in stats.sort_values("count", ascending=False).iterrows():
        click.echo(f"  {zipcode:>8} {int(row['count']):>7} {row['median']:>13,.0f}")
    prices = frame["price"]
    click.echo(
        f"price        min {prices.min():,.0f}  median {prices.median():,.0f}  "
        f"mean {prices.mean():,.0f}  max {prices.max():,.0f}"
    )
    sizes = ", ".join(
        f"{len(splits.fold(k)[0])}/{len(splits.folds[k])}" for k in range(len(splits.folds))
    )
    what = f"{folds} folds" if folds > 1 else "1 validation split"
    click.echo(
        f"splits       search {len(splits.search)} (max price "
        f"{prices.iloc[splits.search].max():,.0f}), test {len(splits.test)}; "
        f"{what} (train/validation): {sizes}"
    )


@data.command()
@click.argument("path", type=_FOLDER)
def validate(path: Path) -> None:
    """Check a dataset folder and list every problem found (exit 2 if any), and every
    implausible value (a warning: outliers, fractional bedrooms)."""
    from houses_tune.data import check_folder

    click.echo(f"validating {path} (decoding every photo)...", err=True)
    found = check_folder(path)
    for problem in found.problems:
        click.echo(problem)
    for warning in found.warnings:
        click.echo(f"warning: {warning}")
    if found.problems:
        raise DatasetError(f"{path}: {len(found.problems)} problem(s) found")
    warned = f" ({len(found.warnings)} warning(s))" if found.warnings else ""
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
