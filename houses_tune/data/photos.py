"""Photos: JPEG checks, decoding and resizing, the on-disk cache, the montage.

The cache holds, per dataset fingerprint and tile size, one uint8 array
``(total_rows, n_images, tile, tile, 3)`` (RGB, image column order) for every row of the
dataset's source; a group filter selects rows from it, so all filters share it.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from collections.abc import Iterable, Sequence
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


def read_photo(path: Path, tile: int, place: int | str | None = None) -> np.ndarray:
    """Decode one photo as the tutorials do: cv2 read, resized to ``tile`` x ``tile``, RGB.

    Args:
        path: JPEG file.
        tile: Output side in pixels.
        place: A house number or a place such as ``data.csv line 4``, for the error message.

    Returns:
        uint8 array ``(tile, tile, 3)`` in RGB order.

    Raises:
        DatasetError: The file is missing or cannot be decoded.
    """
    if place is None:
        where = str(path)
    else:
        where = f"{path} (house {place})" if isinstance(place, int) else f"{place}: {path}"
    try:
        raw = np.fromfile(path, dtype=np.uint8)  # imdecode also copes with non-ASCII paths
    except OSError as error:
        raise DatasetError(f"{where}: cannot read photo: {error.strerror}") from None
    image = cv2.imdecode(raw, cv2.IMREAD_COLOR) if raw.size else None
    if image is None:
        raise DatasetError(f"{where}: cannot be decoded as an image")
    image = cv2.resize(image, (tile, tile))  # default INTER_LINEAR, as in the tutorials
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_photos(paths: Sequence[Sequence[Path]], places: Sequence[str], tile: int) -> np.ndarray:
    """Decode every row's images (no cache).

    Args:
        paths: Each row's image files.
        places: Each row's place, for error messages (``house 3``).

    Returns:
        uint8 array ``(rows, images per row, tile, tile, 3)``.
    """
    width = len(paths[0]) if len(paths) else 0
    photos = np.empty((len(paths), width, tile, tile, 3), dtype=np.uint8)
    for index, (row, place) in enumerate(zip(paths, places, strict=True)):
        for slot, path in enumerate(row):
            photos[index, slot] = read_photo(path, tile, place)
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


def cached_photos(
    paths: Sequence[Sequence[Path]], places: Sequence[str], fingerprint: str, tile: int
) -> np.ndarray:
    """Every row's images at one tile size, from the disk cache when possible.

    A miss decodes every image first and writes the cache only when all succeeded
    (atomically: temp file + rename), so a bad image leaves no cache behind. An
    unwritable cache folder is reported on stderr and otherwise ignored.

    Args:
        paths: Each row's image files (a ``Table``'s ``photo_paths``).
        places: Each row's place, for error messages.
        fingerprint: The dataset's content fingerprint (the cache key).
        tile: Side in pixels.

    Returns:
        uint8 array ``(rows, images per row, tile, tile, 3)``.
    """
    if tile < 1:
        raise ValueError(f"tile must be a positive number of pixels, got {tile}")
    width = len(paths[0]) if len(paths) else 0
    if not width:
        return np.zeros((len(paths), 0, tile, tile, 3), dtype=np.uint8)
    path = cache_path(fingerprint, tile)
    photos = load_cached(path, (len(paths), width, tile, tile, 3), np.uint8)
    if photos is None:
        photos = read_photos(paths, places, tile)
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


def montage_cells(n: int) -> tuple[tuple[int, int], ...]:
    """Where each of ``n`` images goes in a montage: ``(row, column)`` per image.

    Four images keep the tutorials' 2x2 layout (first top-left, second top-right, third
    bottom-right, fourth bottom-left: bathroom, bedroom, frontal, kitchen); any other
    number fills a near-square grid (``ceil(sqrt(n))`` columns) row by row, cells left
    over stay black.
    """
    if n == len(ROOMS):
        return ((0, 0), (0, 1), (1, 1), (1, 0))
    columns = math.ceil(math.sqrt(n))
    return tuple(divmod(i, columns) for i in range(n))


def montage_grid(n: int) -> tuple[int, int]:
    """``(rows, columns)`` of the montage of ``n`` images."""
    cells = montage_cells(n)
    return max(r for r, _ in cells) + 1, max(c for _, c in cells) + 1


def montage(photos: np.ndarray) -> np.ndarray:
    """Tile each row's images into one image (``montage_cells``).

    Args:
        photos: ``(n, k, t, t, 3)``, k >= 1, in image column order.

    Returns:
        ``(n, rows * t, columns * t, 3)`` of the same dtype.
    """
    n, k, t = photos.shape[:3]
    if k < 1:
        raise ValueError("a montage needs at least one image per row")
    rows, columns = montage_grid(k)
    out = np.zeros((n, rows * t, columns * t, photos.shape[-1]), dtype=photos.dtype)
    for slot, (r, c) in enumerate(montage_cells(k)):
        out[:, r * t : (r + 1) * t, c * t : (c + 1) * t] = photos[:, slot]
    return out
