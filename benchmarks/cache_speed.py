"""Photo cache speed: first (decode) vs second (cached) load of a full dataset.

Usage::

    python benchmarks/cache_speed.py ["path/to/Houses Dataset"] [--tile 32]

Each load is ``load_houses(folder).photos(tile)`` from scratch, so both include
reading and fingerprinting every file; the cache lives in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "houses-dataset" / "Houses Dataset"


def _load(folder: Path, tile: int) -> float:
    from houses_tune.data import load_houses

    start = time.perf_counter()
    houses = load_houses(folder, min_zip_count=0)
    houses.photos(tile)
    return time.perf_counter() - start


def main() -> None:
    """Print the first and second load times and their ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--tile", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["HOUSES_TUNE_CACHE"] = cache
        first = _load(args.folder, args.tile)
        second = _load(args.folder, args.tile)
    print(f"dataset: {args.folder} (tile {args.tile})")
    print(f"first load (decode + write cache): {first:.2f} s")
    print(f"second load (cached):              {second:.2f} s")
    print(f"speed-up: {first / second:.1f}x")


if __name__ == "__main__":
    main()
