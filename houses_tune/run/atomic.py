"""Writes that readers (and a kill -9) see whole or not at all: temporary file + rename.

A write that fails (a full disk, a read-only folder) leaves the old file as it was and
raises ``WriteError`` naming the file and the cause.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from houses_tune.errors import cannot_write


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` that replaces ``path`` when the block succeeds.

    The temporary name ends like ``path``, lives in the same folder (so the rename is
    atomic) and is removed if the block raises.

    Raises:
        WriteError: An ``OSError`` while writing (in the block too): ``path`` is unchanged.
    """
    path = Path(path)
    try:
        fd, name = tempfile.mkstemp(prefix=".", suffix=f".tmp.{path.name}", dir=path.parent)
    except OSError as error:
        raise cannot_write(path, error) from None
    os.close(fd)
    tmp = Path(name)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual mode
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        raise cannot_write(path, error) from None
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as handle:
            json.dump(data, handle, indent=2, allow_nan=True)
            handle.write("\n")


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
