"""Regenerate the embedded dataset (``houses_tune/data/embedded/``) from the original.

Usage::

    python scripts/make_embedded_dataset.py "path/to/Houses Dataset" [--size 64] [--quality 90]

Copies ``HousesInfo.txt`` byte for byte and writes every photo downscaled to
size x size (cv2 INTER_AREA, the right filter for shrinking) as a JPEG. The source
is validated first; the output is built in a temporary folder and swapped in, so
a failure leaves the old embedded data untouched.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import cv2

from houses_tune.data.photos import ROOMS, photo_path
from houses_tune.data.reader import HOUSES_INFO, load_houses

DEST = Path(__file__).resolve().parent.parent / "houses_tune" / "data" / "embedded"


def make_embedded(source: Path, dest: Path = DEST, size: int = 64, quality: int = 90) -> int:
    """Write the downscaled copy of ``source`` to ``dest``; return its size in bytes."""
    houses = load_houses(source, min_zip_count=0)  # validates everything first
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".embedded-") as work:
        out = Path(work) / "embedded"
        out.mkdir()
        shutil.copyfile(source / HOUSES_INFO, out / HOUSES_INFO)
        for house in range(1, houses.total + 1):
            for room in ROOMS:
                image = cv2.imread(str(photo_path(source, house, room)))
                small = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
                target = photo_path(out, house, room)
                if not cv2.imwrite(str(target), small, [cv2.IMWRITE_JPEG_QUALITY, quality]):
                    raise OSError(f"cannot write {target}")
        total = sum(p.stat().st_size for p in out.iterdir())
        if dest.exists():
            old = Path(work) / "old"
            dest.rename(old)
        out.rename(dest)
    return total


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="the original 'Houses Dataset' folder")
    parser.add_argument("--dest", type=Path, default=DEST)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--quality", type=int, default=90)
    args = parser.parse_args(argv)
    total = make_embedded(args.source, args.dest, args.size, args.quality)
    print(f"wrote {args.dest} ({total / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
