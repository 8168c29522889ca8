"""Model inputs and targets for one search or refit, with photos kept in memory per tile."""

from __future__ import annotations

import numpy as np

from houses_tune.data.photos import ROOMS, montage
from houses_tune.data.preprocess import Preprocessor, TargetTransform
from houses_tune.data.reader import Houses


class ModelData:
    """Everything a hypermodel feeds to Keras, fitted on ``fit_rows`` (the training part).

    Attributes:
        houses: The dataset.
        fit_rows: Rows the preprocessor and target transforms are fitted on.
        preprocessor: Fitted attribute encoder.
        n_attributes: Width of the ``attributes`` input.
    """

    def __init__(self, houses: Houses, fit_rows: np.ndarray) -> None:
        self.houses = houses
        self.fit_rows = np.asarray(fit_rows, dtype=np.int64)
        self.preprocessor = Preprocessor.fit(houses.frame.iloc[self.fit_rows])
        self.n_attributes = self.preprocessor.n_attributes
        self._attributes = self.preprocessor.attributes(houses.frame)
        self._prices = houses.frame["price"].to_numpy(dtype=np.float64)
        self._photos: dict[int, np.ndarray] = {}  # tile -> (n, 4, t, t, 3)
        self._montages: dict[int, np.ndarray] = {}
        self._transforms: dict[str, TargetTransform] = {}

    def _tile(self, tile: int) -> tuple[np.ndarray, np.ndarray]:
        if tile not in self._photos:
            self._photos[tile] = self.houses.photos(tile)
            self._montages[tile] = montage(self._photos[tile])
        return self._photos[tile], self._montages[tile]

    def inputs(self, rows: np.ndarray, tile: int) -> dict[str, np.ndarray]:
        """Model inputs for some rows, named like the models' inputs.

        Args:
            rows: Row indices into ``houses.frame``.
            tile: Photo side in pixels (may exceed the files' size: upsampled).

        Returns:
            ``attributes`` float32 ``(n, k)``, ``montage`` uint8 ``(n, 2t, 2t, 3)`` and
            one uint8 ``(n, t, t, 3)`` array per room.
        """
        rows = np.asarray(rows, dtype=np.int64)
        photos, montages = self._tile(tile)
        out = {"attributes": self._attributes[rows], "montage": montages[rows]}
        for slot, room in enumerate(ROOMS):
            out[room] = photos[rows, slot]
        return out

    def transform(self, name: str) -> TargetTransform:
        """Target transform ``name`` fitted on the prices of ``fit_rows``."""
        if name not in self._transforms:
            self._transforms[name] = TargetTransform.fit(name, self._prices[self.fit_rows])
        return self._transforms[name]

    def prices(self, rows: np.ndarray) -> np.ndarray:
        """Prices in dollars (float64) of some rows."""
        return self._prices[np.asarray(rows, dtype=np.int64)]
