"""The dataset shipped inside the package: all 535 houses, photos downscaled to 64x64.

Regenerate with ``python scripts/make_embedded_dataset.py "<Houses Dataset folder>"``.
"""

from importlib import resources
from pathlib import Path

from houses_tune.errors import DatasetError


def embedded_dataset_path() -> Path:
    """Folder of the embedded dataset.

    Raises:
        DatasetError: The installation lacks it (a broken or partial install).
    """
    path = Path(str(resources.files("houses_tune.data") / "embedded"))
    if not (path / "HousesInfo.txt").is_file():
        raise DatasetError(f"{path}: the embedded dataset is missing; reinstall houses-tune")
    return path
