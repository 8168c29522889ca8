"""One root exception for everything a user can get wrong.

The CLI prints these as a single ``Error: ...`` line and exits with code 2.
They subclass ``click.UsageError`` (as Flask's ``NoAppException`` does) so click
already knows their exit code; raised without a context they print one line.
"""

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
