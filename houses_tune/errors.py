"""One root exception for everything a user can get wrong.

The CLI prints these as a single ``Error: ...`` line and exits with code 2.
They subclass ``click.UsageError`` (as Flask's ``NoAppException`` does) so click
already knows their exit code; raised without a context they print one line.
"""

from __future__ import annotations

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
