"""Writes that readers (and a kill -9) see whole or not at all: temporary file + rename."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` that replaces ``path`` when the block succeeds.

    The temporary name ends like ``path`` (Keras wants ``.weights.h5``), lives in the same
    folder (so the rename is atomic) and is removed if the block raises.
    """
    path = Path(path)
    fd, name = tempfile.mkstemp(prefix=".", suffix=f".tmp.{path.name}", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual mode
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON to ``path`` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as handle:
            json.dump(data, handle, indent=2, allow_nan=True)
            handle.write("\n")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
