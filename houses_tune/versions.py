"""Versions of Python and of the packages a run depends on, probed in one place."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

#: The packages whose versions run.json, metrics.json and the baseline cache record.
PACKAGES = (
    "houses-tune",
    "keras",
    "keras-tuner",
    "tensorflow",
    "jax",
    "jaxlib",
    "numpy",
    "scikit-learn",
)


def package_versions() -> dict[str, str]:
    """``{"python": ..., package: version}`` for every installed package of ``PACKAGES``."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found
