"""Fetching the original full-resolution dataset from its public GitHub repository."""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from houses_tune.data.reader import HOUSES_INFO, validate_folder
from houses_tune.errors import DatasetError

DEFAULT_URL = "https://github.com/emanhamed/Houses-dataset/archive/refs/heads/master.zip"
_CHUNK = 1 << 20


def _existing_ancestor(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


def download_dataset(
    dest: str | Path,
    url: str = DEFAULT_URL,
    log: Callable[[str], None] = lambda message: None,
    timeout: float = 60.0,
) -> Path:
    """Download a zip archive, extract it, validate the dataset in it, move it to ``dest``.

    Everything happens in a temporary folder next to ``dest`` (same file system),
    and the dataset folder is renamed into place only once it validated, so a
    failure leaves nothing behind.

    Args:
        dest: New folder to create; must not exist.
        url: Zip archive holding a folder with ``HousesInfo.txt`` at any depth.
        log: Receives progress lines.
        timeout: Seconds to wait on the network per read.

    Returns:
        ``dest`` as an absolute path.

    Raises:
        DatasetError: ``dest`` exists, the download fails, the archive is not a zip,
            has no dataset, or the dataset is invalid.
    """
    dest = Path(dest).expanduser().absolute()
    if dest.exists():
        raise DatasetError(f"{dest}: already exists; give a new folder")
    with tempfile.TemporaryDirectory(
        dir=_existing_ancestor(dest.parent), prefix=".houses-tune-download-"
    ) as work:
        archive = Path(work) / "archive.zip"
        log(f"downloading {url}")
        try:
            with (
                urllib.request.urlopen(url, timeout=timeout) as response,
                archive.open("wb") as out,
            ):
                shutil.copyfileobj(response, out, _CHUNK)
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            raise DatasetError(f"{url}: download failed: {reason}") from None
        log(f"extracting {archive.stat().st_size / 1e6:.1f} MB")
        extracted = Path(work) / "extracted"
        try:
            with zipfile.ZipFile(archive) as zipped:
                zipped.extractall(extracted)  # zipfile drops absolute and '..' parts
        except zipfile.BadZipFile:
            raise DatasetError(f"{url}: not a zip archive") from None
        found = sorted(extracted.rglob(HOUSES_INFO), key=lambda p: len(p.parts))
        if not found:
            raise DatasetError(f"{url}: the archive holds no {HOUSES_INFO}")
        folder = found[0].parent
        log(f"validating {folder.relative_to(extracted)}")
        problems = validate_folder(folder)
        if problems:
            first = problems[0].replace(str(extracted), "<archive>")
            raise DatasetError(f"{url}: invalid dataset ({len(problems)} problems): {first}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.rename(folder, dest)  # atomic; fails rather than overwrite a racing dest
    log(f"dataset ready in {dest}")
    return dest
