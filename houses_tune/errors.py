"""One root exception for everything a user can get wrong.

The CLI prints these as a single ``Error: ...`` line and exits with code 2.
They subclass ``click.UsageError`` (as Flask's ``NoAppException`` does) so click
already knows their exit code; raised without a context they print one line.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import click


class HousesTuneError(click.UsageError):
    """Root of every error the user can fix: bad input, bad flags, bad files."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ctx=None)


class DatasetError(HousesTuneError):
    """A dataset folder is missing, malformed, or cannot be split."""


class SpaceError(HousesTuneError):
    """A search space name or YAML file is invalid."""


class SearchError(HousesTuneError):
    """A search cannot start or cannot go on (bad budget, locked run, too many failures)."""


class TooManyFailedTrials(SearchError):
    """The last trials of a search all failed: it stops (raised where they are counted).

    Args:
        limit: Failed trials in a row that stop a search.
        last: The last failed trial's error (one line), or None.
    """

    def __init__(self, limit: int, last: str | None = None) -> None:
        self.limit = limit
        self.last = last
        super().__init__(
            f"search stopped: {limit} trials failed in a row" + (f" (last: {last})" if last else "")
        )


class WriteError(HousesTuneError):
    """A file or folder cannot be written: the disk is full, read-only or not ours to write.

    Args:
        path: What could not be written.
        reason: Why, as the operating system says it (``No space left on device``).
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot write {path}: {reason}")


#: The errors of a write that the disk refused: full, over a quota or a file size limit,
#: read-only, or not ours to write.
WRITE_ERRNOS = frozenset(
    (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM)
)


def cannot_write(path: str | Path, error: OSError | WriteError, note: str = "") -> WriteError:
    """The ``WriteError`` of ``path`` for an ``OSError`` met while writing it (or for the
    ``WriteError`` of a file in it), its reason followed by ``note``."""
    if isinstance(error, WriteError):
        reason = error.reason
    else:
        reason = os.strerror(error.errno) if error.errno else str(error)
    return WriteError(path, reason + note)


class RunError(HousesTuneError):
    """A run folder is missing or is not a houses-tune run."""


class ExportError(HousesTuneError):
    """The best trial cannot be refit or written."""


class PredictError(HousesTuneError):
    """Inputs for prediction are missing or malformed."""


class DeviceError(HousesTuneError):
    """The requested device (GPU) is not available."""


def last_line(text: str | None) -> str | None:
    """The last non-empty line of a message or traceback: the error itself, or None."""
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    return lines[-1] if lines else None


class BackendError(HousesTuneError):
    """The requested Keras backend is not installed or cannot be used here."""
