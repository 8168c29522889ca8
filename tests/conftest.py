"""Shared fixtures: tiny real Houses datasets in tmp folders, the embedded dataset, a tmp cache.

``make_houses_folder(tmp_path, n=40, zips=(11111, 22222), seed=0, tile=16) -> Path``
writes a valid dataset (HousesInfo.txt + real JPEGs). Every photo is one solid
colour, ``photo_color(house, room, seed)``, so tests can tell photos apart.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# The suite runs Keras on the backend users get by default (--backend auto: JAX);
# tests/test_backends.py runs TensorFlow, and JAX without TensorFlow, in subprocesses.
os.environ.setdefault("KERAS_BACKEND", "jax")

import cv2
import numpy as np
import pytest

ROOMS = ("bathroom", "bedroom", "frontal", "kitchen")


def photo_color(house: int, room: str, seed: int = 0) -> tuple[int, int, int]:
    """RGB colour of one synthetic photo; distinct per room, varying per house."""
    rng = np.random.default_rng([seed, house, ROOMS.index(room)])
    return tuple(int(v) for v in rng.integers(0, 256, size=3))


def write_houses_folder(
    tmp_path: Path,
    n: int = 40,
    zips: tuple[int, ...] = (11111, 22222),
    seed: int = 0,
    tile: int = 16,
) -> Path:
    """Write a tiny valid Houses dataset under ``tmp_path`` and return its folder.

    Houses are dealt to ``zips`` in turn; prices grow with area and differ per zip.
    """
    folder = Path(tmp_path) / f"houses-{n}-{seed}"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    lines = []
    for house in range(1, n + 1):
        zipcode = zips[(house - 1) % len(zips)]
        bedrooms = int(rng.integers(1, 6))
        bathrooms = float(rng.integers(2, 9)) / 2
        area = int(rng.integers(800, 4000))
        price = int(area * (150 + 50 * zips.index(zipcode)) * rng.uniform(0.8, 1.2))
        lines.append(f"{bedrooms} {bathrooms:g} {area} {zipcode} {price}")
        for room in ROOMS:
            red, green, blue = photo_color(house, room, seed)
            image = np.full((tile, tile, 3), (blue, green, red), dtype=np.uint8)  # BGR
            cv2.imwrite(str(folder / f"{house}_{room}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    (folder / "HousesInfo.txt").write_text("\n".join(lines) + "\n")
    return folder


# Starts a child Python under a restriction (instead of a preexec_fn: see the script).
RESTRICTED = Path(__file__).with_name("restricted.py")


@pytest.fixture
def file_size_limit():
    """``file_size_limit(limit) -> [python, ...]``: how a command line starts Python so that
    its files cannot grow past ``limit`` bytes; writes past it fail with EFBIG ("File too
    large") as writes on a full disk fail with ENOSPC."""
    return lambda limit: [sys.executable, str(RESTRICTED), f"fsize={limit}"]


@pytest.fixture
def plain_user():
    """``[python, ...]``: how a command line starts Python so that a read-only folder cannot
    be written by it, even when the tests run as root (it drops root's file capabilities)."""
    if os.geteuid() != 0:
        return [sys.executable]
    python = [sys.executable, str(RESTRICTED), "plain-user"]
    try:
        subprocess.run([*python, "-c", ""], check=True, capture_output=True)
    except (subprocess.SubprocessError, OSError):
        pytest.skip("root without CAP_SETPCAP: no folder is read-only for this process")
    return python


@pytest.fixture(autouse=True, scope="session")
def _photo_cache(tmp_path_factory: pytest.TempPathFactory):
    """Keep the photo cache of the whole test session in a tmp folder, never in ~/.cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOUSES_TUNE_CACHE", str(tmp_path_factory.mktemp("photo-cache")))
        yield


@pytest.fixture(scope="session")
def make_houses_folder():
    """The ``write_houses_folder`` function, as a fixture (any scope may use it)."""
    return write_houses_folder


@pytest.fixture
def zero_height_jpeg():
    """``zero_height_jpeg(path)``: keep a JPEG's structure but declare a 0-pixel height,
    which decoders reject (the file passes the cheap structure check)."""

    def damage(path: Path) -> None:
        data = bytearray(path.read_bytes())
        sof = data.find(b"\xff\xc0")
        data[sof + 5 : sof + 7] = b"\x00\x00"
        path.write_bytes(bytes(data))

    return damage


@pytest.fixture
def photo_colors():
    """The ``photo_color(house, room, seed=0)`` function, as a fixture."""
    return photo_color


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """40 houses in 2 zip codes of 20 (valid with min_zip_count up to 20), 16x16 photos."""
    return write_houses_folder(tmp_path / "tiny")


@pytest.fixture(scope="session")
def embedded_houses():
    """The embedded dataset with the tutorials' filter (362 houses); read once per session."""
    from houses_tune.data import load_houses

    return load_houses()
