"""Model inputs and targets for a search or export, with photos decoded only when used."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from houses_tune.data.features import Progress, cached_features
from houses_tune.data.photos import montage
from houses_tune.data.preprocess import ATTRIBUTE_INPUTS, Preprocessor, TargetTransform
from houses_tune.data.table import Table

#: Name of the montage input of a network (each image's own input: ``photo_input``).
MONTAGE = "montage"
PHOTO_PREFIX = "photo_"


def photo_input(column: str) -> str:
    """Name of the network input that takes the images of ``column``."""
    return f"{PHOTO_PREFIX}{column}"


class ModelData:
    """Everything a network is fed, with preprocessing fitted on ``fit_rows``.

    Attributes:
        table: The dataset.
        fit_rows: Rows the preprocessor and target transforms are fitted on (the search
            rows: never the test split).
        preprocessor: Fitted attribute encoder.
        widths: Width of each attribute input the dataset has (``Preprocessor.widths``).
        images: The image columns, in order.
        weights: Where pretrained backbones get their weights (``--weights``), or None.
    """

    def __init__(self, table: Table, fit_rows: np.ndarray, weights: str | None = None) -> None:
        self.table = table
        self.weights = weights
        self.fit_rows = np.asarray(fit_rows, dtype=np.int64)
        self.preprocessor = Preprocessor.fit(table.frame.iloc[self.fit_rows], table.schema)
        self.widths = self.preprocessor.widths
        self.images = table.schema.images
        self._attributes = self.preprocessor.encode(table.frame)
        self._prices = table.targets
        self._photos: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # tile -> photos, montages
        self._features: dict[str, np.ndarray] = {}  # backbone -> features of the kept rows
        self._transforms: dict[str, TargetTransform] = {}

    def _tile(self, tile: int) -> tuple[np.ndarray, np.ndarray]:
        if tile not in self._photos:
            photos = self.table.photos(tile)
            self._photos[tile] = photos, montage(photos)
        return self._photos[tile]

    def features(self, backbone: str, progress: Progress | None = None) -> np.ndarray:
        """Backbone features of the kept rows' images, float32 ``(n, images, dim)``, computed
        once per dataset and weights (``houses_tune.data.features``).

        Raises:
            ValueError: No ``weights`` were given.
        """
        if backbone not in self._features:
            if self.weights is None:
                raise ValueError(f"backbone {backbone} needs weights (--weights)")
            every = cached_features(self.table, backbone, self.weights, progress)
            self._features[backbone] = every[self.table.source_rows]
        return self._features[backbone]

    def inputs(
        self, rows: np.ndarray, names: Iterable[str], tile: int | None = None
    ) -> dict[str, np.ndarray]:
        """The named model inputs of some rows; photos are decoded only if asked for.

        Args:
            rows: Row indices into ``houses.frame``.
            names: Input names (``ATTRIBUTE_INPUTS``, ``montage``, ``photo_input`` names and
                backbone features such as ``mobilenet_v2_features``).
            tile: Photo side in pixels, needed for photo inputs (may exceed the files').

        Returns:
            Attributes as float32 ``(n, k)``; ``montage`` uint8 ``(n, rows*t, columns*t,
            3)``; each image uint8 ``(n, t, t, 3)``; backbone features float32
            ``(n, images, dim)``.
        """
        from houses_tune.search_spaces.backbones import FEATURE_INPUTS

        rows = np.asarray(rows, dtype=np.int64)
        out = {}
        for name in names:
            if name in ATTRIBUTE_INPUTS:
                out[name] = self._attributes[name][rows]
            elif name in FEATURE_INPUTS:
                out[name] = self.features(FEATURE_INPUTS[name].name)[rows]
            elif name == MONTAGE:
                out[name] = self._tile(tile)[1][rows]
            else:
                column = name.removeprefix(PHOTO_PREFIX)
                out[name] = self._tile(tile)[0][rows, self.images.index(column)]
        return out

    def transform(self, name: str) -> TargetTransform:
        """Target transform ``name`` fitted on the prices of ``fit_rows``."""
        if name not in self._transforms:
            self._transforms[name] = TargetTransform.fit(name, self._prices[self.fit_rows])
        return self._transforms[name]

    def prices(self, rows: np.ndarray) -> np.ndarray:
        """Targets (prices in dollars, float64) of some rows."""
        return self._prices[np.asarray(rows, dtype=np.int64)]
