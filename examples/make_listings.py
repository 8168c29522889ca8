"""Generate a small synthetic listings dataset for the "Your own data" walk-through.

The top-level README shows how to tune on your own data: a CSV of listings with a
price, some tabular attributes and photo paths, plus a dataset file that names the
columns. Rather than shipping (or downloading) real listings, the repository
generates one with this script, so the walk-through works offline and the data
is small, free of licensing questions and reproducible from a seed.

Usage::

    python examples/make_listings.py [--out examples/listings] [--rows 120] [--seed 0]

It writes into OUT:

* ``listings.csv`` with the columns ``id,area,age,neighbourhood,front,kitchen,garden,price``.
* ``photos/<id>_<column>.jpg``: one 64x64 RGB JPEG per listing and photo column.
* ``listings.yaml``: the dataset file for ``houses-tune``.

The price is a multiplicative function of the area (about ``area ** 0.9``), the
age (older is cheaper), the neighbourhood's price level and a hidden "condition"
in ``[0, 1]`` that is only visible in the photos (it sets the brightness of the
front and kitchen pictures), times log-normal noise. A model that uses the
photos can therefore beat one that only reads the table.

Only numpy, OpenCV and the standard library are used; the output is the same,
byte for byte, for the same ``--seed`` and ``--rows``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

HEADER = ("id", "area", "age", "neighbourhood", "front", "kitchen", "garden", "price")
PHOTO_COLUMNS = ("front", "kitchen", "garden")
SIZE = 64

# Price level of each neighbourhood (a multiplier of the base price).
NEIGHBOURHOODS: dict[str, float] = {
    "harbour": 1.35,
    "old_town": 1.15,
    "hills": 1.0,
    "riverside": 0.8,
}

# Base RGB colour per photo column, so each column has its own hue.
BASE_COLOURS: dict[str, tuple[int, int, int]] = {
    "front": (200, 120, 80),  # brick
    "kitchen": (235, 225, 190),  # cream
    "garden": (70, 170, 60),  # green
}

BASE_PRICE_PER_M2 = 3_000.0  # price of 1 m^2 ** 0.9 before the other factors
AGE_DECAY = 0.006  # price factor exp(-AGE_DECAY * age)
NOISE_SIGMA = 0.1  # sigma of the log-normal noise


DATASET_YAML = """\
# Dataset file for houses-tune (see the README's "Your own data").
csv: listings.csv
target: price
categorical: [neighbourhood]
images: [front, kitchen, garden]
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parses the command line.

    Args:
        argv: The arguments without the program name; ``None`` for ``sys.argv[1:]``.

    Returns:
        The parsed options: ``out``, ``rows``, ``seed`` and ``force``.
    """
    parser = argparse.ArgumentParser(
        description="Write a synthetic listings dataset (CSV + photos + dataset file)."
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("examples/listings"),
        help="folder to write into (default: examples/listings)",
    )
    parser.add_argument("--rows", type=int, default=120, help="number of listings (default: 120)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument(
        "--force", action="store_true", help="write into OUT even if it is not empty"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.rows <= 999_999:
        parser.error("--rows must be between 1 and 999999")
    return args


def listing_id(index: int, rows: int) -> str:
    """Returns the id of a listing, e.g. ``L001``.

    Args:
        index: The 0-based row number.
        rows: The number of rows (sets the zero padding, at least 3 digits).

    Returns:
        ``"L"`` followed by the 1-based row number, zero-padded.
    """
    width = max(3, len(str(rows)))
    return f"L{index + 1:0{width}d}"


def make_photo(rng: np.random.Generator, column: str, brightness: float) -> np.ndarray:
    """Draws one synthetic photo.

    Args:
        rng: The random generator for the shapes.
        column: The photo column (``front``, ``kitchen`` or ``garden``); sets the hue.
        brightness: Scale of the background colour, in ``(0, 1]``.

    Returns:
        A ``(64, 64, 3)`` uint8 image in OpenCV's BGR order.
    """
    r, g, b = BASE_COLOURS[column]
    background = np.clip(np.array([b, g, r], dtype=np.float64) * brightness, 0, 255)
    image = np.empty((SIZE, SIZE, 3), dtype=np.uint8)
    image[:] = background.round().astype(np.uint8)
    for _ in range(int(rng.integers(2, 5))):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        if rng.random() < 0.5:
            x0, y0 = (int(v) for v in rng.integers(0, SIZE - 12, size=2))
            w, h = (int(v) for v in rng.integers(6, 20, size=2))
            cv2.rectangle(image, (x0, y0), (x0 + w, y0 + h), colour, thickness=-1)
        else:
            cx, cy = (int(v) for v in rng.integers(8, SIZE - 8, size=2))
            radius = int(rng.integers(3, 10))
            cv2.circle(image, (cx, cy), radius, colour, thickness=-1)
    return image


def generate(out: Path, rows: int, seed: int) -> None:
    """Writes the dataset (CSV, photos and dataset file) into ``out``.

    Args:
        out: The folder to write into; created if missing.
        rows: The number of listings.
        seed: The random seed; the same seed gives the same files.
    """
    rng = np.random.default_rng(seed)
    photos = out / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    names = list(NEIGHBOURHOODS)

    area = np.exp(rng.uniform(np.log(40.0), np.log(250.0), size=rows))
    age = rng.integers(0, 81, size=rows)
    hood = rng.integers(0, len(names), size=rows)
    condition = rng.uniform(0.0, 1.0, size=rows)
    noise = rng.lognormal(0.0, NOISE_SIGMA, size=rows)

    with open(out / "listings.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(HEADER)
        for i in range(rows):
            lid = listing_id(i, rows)
            area_i = round(float(area[i]), 1)
            name = names[int(hood[i])]
            price = (
                BASE_PRICE_PER_M2
                * area_i**0.9
                * np.exp(-AGE_DECAY * int(age[i]))
                * NEIGHBOURHOODS[name]
                * (0.7 + 0.6 * condition[i])
                * noise[i]
            )
            paths = []
            for column in PHOTO_COLUMNS:
                if column == "garden":
                    # The garden carries no price signal: its brightness is noise.
                    brightness = float(rng.uniform(0.35, 1.0))
                else:
                    brightness = 0.3 + 0.7 * float(condition[i])
                rel = f"photos/{lid}_{column}.jpg"
                if not cv2.imwrite(str(out / rel), make_photo(rng, column, brightness)):
                    raise OSError(f"could not write {out / rel}")
                paths.append(rel)
            writer.writerow([lid, f"{area_i:.1f}", int(age[i]), name, *paths, f"{price:.2f}"])

    (out / "listings.yaml").write_text(DATASET_YAML, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Runs the script.

    Args:
        argv: The arguments without the program name; ``None`` for ``sys.argv[1:]``.

    Returns:
        The exit status: 0 on success, 2 if OUT is not empty (without ``--force``)
        or is not a folder.
    """
    args = parse_args(argv)
    out: Path = args.out
    if out.exists() and not out.is_dir():
        print(f"make_listings: {out} exists and is not a folder", file=sys.stderr)
        return 2
    if out.is_dir() and any(out.iterdir()) and not args.force:
        print(
            f"make_listings: {out} is not empty; choose another --out or pass --force",
            file=sys.stderr,
        )
        return 2
    generate(out, args.rows, args.seed)
    print(f"wrote {args.rows} listings to {out} (listings.csv, listings.yaml, photos/)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
