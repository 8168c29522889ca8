"""``HousesHyperModel``: the KerasTuner hypermodel over a ``Space`` and a dataset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import keras_tuner
import numpy as np

from houses_tune.search_spaces.blocks import build_model, input_names
from houses_tune.search_spaces.layers import photo_size
from houses_tune.search_spaces.space import Space


class HousesHyperModel(keras_tuner.HyperModel):
    """Builds the model of a trial from a search space, and its inputs from a ``ModelData``.

    Training (on the folds, each fold model early-stopped) is ``houses_tune.training``'s.

    Args:
        space: The search space (``load_space(...)``).
        data: A ``houses_tune.data.ModelData`` (attributes, photos, target transforms).
        seed: Seed of every ``build`` unless one is given (weights, dropout, shuffling).
    """

    def __init__(self, space: Space, data, seed: int = 0) -> None:
        super().__init__(name=f"houses_{space.name}", tunable=True)
        self.space = space
        self.data = data
        self.seed = seed
        self._inputs: dict[tuple, dict] = {}

    def build(self, hp, fit_rows=None, seed: int | None = None) -> keras.Model:
        """Build and compile the model for ``hp`` (metric: the dataset's objective's).

        Args:
            hp: The trial's hyperparameters.
            fit_rows: Rows the model will learn from (the output bias starts at their mean
                target); default the rows the data was fitted on.
            seed: Seed for this model; default the hypermodel's.
        """
        keras.utils.set_random_seed(self.seed if seed is None else seed)
        rows = self.data.fit_rows if fit_rows is None else fit_rows
        return build_model(
            hp,
            self.space,
            self.data.widths,
            self.data.images,
            self.data.transform,
            self.data.prices(rows),
            self.data.weights,
            self.objective,
        )

    @property
    def objective(self):
        """The dataset's ``Objective``: the models' metric and the trials' score."""
        return self.data.table.objective

    def target(self, hp):
        """The trial's fitted ``TargetTransform``."""
        name = hp.values.get("target_transform") or self.space["target_transform"].default
        return self.data.transform(name)

    def arrays(self, hp, rows, model: keras.Model) -> tuple[dict, np.ndarray]:
        """The inputs ``model`` takes and its targets, for ``rows``.

        Args:
            hp: Trial hyperparameters (uses ``target_transform``).
            rows: Row indices into the dataset.
            model: A model built by ``build`` (its input names say what to load).

        Returns:
            ``(x, y)``: a dict of input arrays and float32 targets of shape ``(n, 1)``.
        """
        rows = np.asarray(rows, dtype=np.int64)
        names = tuple(input_names(model))
        tile = photo_size(model, len(self.data.images))  # or a fine-tuned backbone's size
        key = (names, tile, rows.tobytes())
        if key not in self._inputs:
            self._inputs[key] = self.data.inputs(rows, names, tile)
        y = self.target(hp).forward(self.data.prices(rows))
        return self._inputs[key], np.asarray(y, dtype=np.float32).reshape(-1, 1)

    def predict_prices(self, hp, model: keras.Model, rows) -> np.ndarray:
        """Prices in dollars (float64) that ``model`` predicts for ``rows``."""
        x, _ = self.arrays(hp, rows, model)
        y = model.predict(x, verbose=0, batch_size=256)
        return self.target(hp).inverse(np.asarray(y).reshape(-1))

    def hyperparameters(self, values: Mapping[str, Any]) -> keras_tuner.HyperParameters:
        """``HyperParameters`` holding ``values`` (e.g. a trial's), for building without a tuner.

        KerasTuner's own ``tuner/...`` bookkeeping values are dropped.

        Raises:
            SpaceError: If a name is unknown or a value is outside this space.
        """
        values = {k: v for k, v in values.items() if not k.startswith("tuner/")}
        self.space.check_values(values)
        hp = keras_tuner.HyperParameters()
        hp.values.update(values)  # registration in build() keeps values already present
        return hp
