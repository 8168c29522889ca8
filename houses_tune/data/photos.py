"""Photos: JPEG checks, decoding and resizing, the on-disk cache, the 2x2 montage.

The cache holds, per dataset fingerprint and tile size, one uint8 array
``(total_houses, 4, tile, tile, 3)`` (RGB, ``ROOMS`` order) for every house of
``HousesInfo.txt``; the zip filter selects rows from it, so all filters share it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np

from houses_tune.errors import DatasetError

ROOMS = ("bathroom", "bedroom", "frontal", "kitchen")
CACHE_ENV = "HOUSES_TUNE_CACHE"
_CACHE_VERSION = 1  # bump when the decoding below changes, so old caches are ignored


def photo_path(folder: Path, house: int, room: str) -> Path:
    """Path of one photo: ``<folder>/<house>_<room>.jpg``."""
    return folder / f"{house}_{room}.jpg"


def photo_missing(path: Path, names: Iterable[str] | None = None) -> str:
    """What to say about a photo that is not there: ``photo missing``, with a hint when a
    file of that name in another case (``1_Frontal.JPG``) or ending in ``.jpeg`` is there.

    Args:
        path: The photo looked for.
        names: The names of the files in its folder, when already listed.
    """
    wanted = {path.name.lower(), f"{path.stem}.jpeg".lower()}
    if names is None:
        try:
            names = os.listdir(path.parent)
        except OSError:
            names = ()
    near = sorted(name for name in names if name.lower() in wanted)
    if not near:
        return "photo missing"
    return (
        f"photo missing (found {near[0]}: photo names are case-sensitive; rename it to {path.name})"
    )


def jpeg_problem(data: bytes) -> str | None:
    """Say what is wrong with a JPEG's bytes, cheaply and without decoding.

    Args:
        data: The whole file.

    Returns:
        ``None`` for a complete JPEG, else a short description.
    """
    if data[:2] != b"\xff\xd8":
        return "not a JPEG file"
    # Walk the header segments by their lengths up to the first start-of-scan, so
    # thumbnails embedded in EXIF/FlashPix segments (with their own end markers) are
    # skipped. An end-of-image marker cannot occur inside entropy-coded data, so a
    # file cut anywhere after the header has none left; trailing bytes after it are
    # tolerated (two photos of the original dataset have some).
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return "corrupt JPEG header"
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xDA:
            if data.rfind(b"\xff\xd9", i + 2 + length) < 0:  # from the end: fast
                return "truncated JPEG (no end-of-image marker)"
            return None
        i += 2 + length
    return "truncated JPEG (no image data)"


def read_photo(path: Path, tile: int, house: int | None = None) -> np.ndarray:
    """Decode one photo as the tutorials do: cv2 read, resized to ``tile`` x ``tile``, RGB.

    Args:
        path: JPEG file.
        tile: Output side in pixels.
        house: House number, only for the error message.

    Returns:
        uint8 array ``(tile, tile, 3)`` in RGB order.

    Raises:
        DatasetError: The file is missing or cannot be decoded.
    """
    where = f"{path} (house {house})" if house is not None else str(path)
    try:
        raw = np.fromfile(path, dtype=np.uint8)  # imdecode also copes with non-ASCII paths
    except OSError as error:
        raise DatasetError(f"{where}: cannot read photo: {error.strerror}") from None
    image = cv2.imdecode(raw, cv2.IMREAD_COLOR) if raw.size else None
    if image is None:
        raise DatasetError(f"{where}: cannot be decoded as an image")
    image = cv2.resize(image, (tile, tile))  # default INTER_LINEAR, as in the tutorials
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_photos(folder: Path, total: int, tile: int) -> np.ndarray:
    """Decode all photos of houses ``1..total`` (no cache).

    Returns:
        uint8 array ``(total, 4, tile, tile, 3)``.
    """
    photos = np.empty((total, len(ROOMS), tile, tile, 3), dtype=np.uint8)
    for index in range(total):
        for slot, room in enumerate(ROOMS):
            house = index + 1
            photos[index, slot] = read_photo(photo_path(folder, house, room), tile, house)
    return photos


def cache_dir() -> Path:
    """Folder of the photo cache: ``$HOUSES_TUNE_CACHE`` or ``~/.cache/houses-tune``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "houses-tune"


def cache_path(fingerprint: str, tile: int) -> Path:
    """Cache file for one dataset content and tile size."""
    return cache_dir() / f"photos-v{_CACHE_VERSION}-{fingerprint}-{tile}.npy"


def cached_photos(folder: Path, total: int, fingerprint: str, tile: int) -> np.ndarray:
    """All photos of a dataset at one tile size, from the disk cache when possible.

    A miss decodes every photo first and writes the cache only when all succeeded
    (atomically: temp file + rename), so a bad photo leaves no cache behind. An
    unwritable cache folder is reported on stderr and otherwise ignored.

    Returns:
        uint8 array ``(total, 4, tile, tile, 3)``.
    """
    if tile < 1:
        raise ValueError(f"tile must be a positive number of pixels, got {tile}")
    path = cache_path(fingerprint, tile)
    photos = load_cached(path, (total, len(ROOMS), tile, tile, 3), np.uint8)
    if photos is None:
        photos = read_photos(folder, total, tile)
        save_cached(path, photos, "photo")
    return photos


def load_cached(path: Path, shape: tuple, dtype) -> np.ndarray | None:
    """A cached array, or None when it is missing, damaged or of another shape or dtype."""
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if array.shape != shape or array.dtype != dtype:
        return None
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        return None
    return array


def save_cached(path: Path, array: np.ndarray, what: str) -> None:
    """Write a cache file atomically (temp file + rename); an unwritable cache folder is
    reported on stderr and otherwise ignored."""
    temp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            np.save(out, array)
        os.replace(temp, path)
    except OSError as error:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)
        print(f"warning: {what} cache not written ({path.parent}: {error})", file=sys.stderr)


def montage(photos: np.ndarray) -> np.ndarray:
    """Tile each house's four photos into one 2x2 image, in the tutorials' layout.

    Bathroom top-left, bedroom top-right, frontal bottom-right, kitchen bottom-left.

    Args:
        photos: ``(n, 4, t, t, 3)`` in ``ROOMS`` order.

    Returns:
        ``(n, 2t, 2t, 3)`` of the same dtype.
    """
    n, rooms, t = photos.shape[:3]
    if rooms != len(ROOMS):
        raise ValueError(f"expected {len(ROOMS)} photos per house, got {rooms}")
    out = np.empty((n, 2 * t, 2 * t, photos.shape[-1]), dtype=photos.dtype)
    out[:, :t, :t] = photos[:, 0]  # bathroom
    out[:, :t, t:] = photos[:, 1]  # bedroom
    out[:, t:, t:] = photos[:, 2]  # frontal
    out[:, t:, :t] = photos[:, 3]  # kitchen
    return out
