"""Export folders written whole or not at all: a temporary folder renamed into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from houses_tune.errors import ExportError, WriteError, cannot_write


def check_destination(destination: Path) -> None:
    """Refuse an export path that is a file: checked before the training and when writing.

    Raises:
        ExportError: ``destination`` exists and is not a folder.
    """
    if destination.exists() and not destination.is_dir():
        raise ExportError(f"{destination}: exists and is not a folder")


@contextmanager
def staged_folder(destination: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder that replaces ``destination`` when the block succeeds.

    The temporary folder sits beside the destination (same file system, so the final
    rename is atomic) and is removed if the block raises, including on Ctrl-C.

    Raises:
        WriteError: A write failed (a full disk, a read-only folder), in the block too;
            nothing is left behind and an older ``destination`` is kept.
    """
    check_destination(destination)
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        temp = Path(
            tempfile.mkdtemp(prefix=f".{destination.name}.partial-", dir=destination.parent)
        )
    except OSError as error:
        raise cannot_write(destination, error) from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        temp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; the export is an ordinary folder
        yield temp
        if destination.exists():
            # A folder cannot be replaced by rename: move the old one aside first.
            old = Path(tempfile.mkdtemp(prefix=f".{destination.name}.old-", dir=destination.parent))
            os.replace(destination, old / destination.name)
            os.replace(temp, destination)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, destination)
    except (OSError, WriteError) as error:
        shutil.rmtree(temp, ignore_errors=True)
        raise cannot_write(destination, error, " (nothing was written)") from None
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
