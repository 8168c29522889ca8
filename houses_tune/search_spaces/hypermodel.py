"""``HousesHyperModel``: the KerasTuner hypermodel over a ``Space`` and a dataset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import keras_tuner
import numpy as np

from houses_tune.search_spaces.blocks import build_model, select_inputs
from houses_tune.search_spaces.space import Space


class HousesHyperModel(keras_tuner.HyperModel):
    """Builds and trains one model per trial from a search space and a ``ModelData``.

    Args:
        space: The search space (``load_space(...)``).
        data: A ``houses_tune.data.ModelData`` (attributes, photos, target transforms).
        train_rows: Row indices the models are trained on.
        val_rows: Row indices for ``validation_data`` (``val_price_mape``); ``None``
            or empty trains without validation (e.g. a final refit).
        seed: Seed set by every ``build`` (weights, dropout, shuffling), for repeatable trials.
    """

    def __init__(self, space: Space, data, train_rows, val_rows=None, seed: int = 0) -> None:
        super().__init__(name=f"houses_{space.name}", tunable=True)
        self.space = space
        self.data = data
        self.train_rows = np.asarray(train_rows, dtype=np.int64)
        self.val_rows = None if val_rows is None else np.asarray(val_rows, dtype=np.int64)
        self.seed = seed
        self._inputs: dict[tuple, dict] = {}

    def build(self, hp) -> keras.Model:
        """Build and compile the model for ``hp`` (metric ``price_mape``)."""
        keras.utils.set_random_seed(self.seed)
        return build_model(
            hp,
            self.space,
            self.data.n_attributes,
            self.data.transform,
            self.data.prices(self.train_rows),
        )

    def arrays(self, hp, rows, model: keras.Model | None = None) -> tuple[dict, np.ndarray]:
        """Inputs and targets of ``rows`` for the trial's tile and target transform.

        Args:
            hp: Trial hyperparameters (uses ``tile`` and ``target_transform``).
            rows: Row indices into the dataset.
            model: If given, keep only the inputs it takes.

        Returns:
            ``(x, y)``: a dict of input arrays and float32 targets of shape ``(n, 1)``.
        """
        rows = np.asarray(rows, dtype=np.int64)
        # Values missing from hp (not built yet, or inactive) take the space's defaults.
        tile = hp.values.get("tile") or self.space["tile"].default
        target = hp.values.get("target_transform") or self.space["target_transform"].default
        key = (tile, rows.tobytes())
        if key not in self._inputs:
            self._inputs[key] = self.data.inputs(rows, tile)
        x = self._inputs[key]
        if model is not None:
            x = select_inputs(model, x)
        transform = self.data.transform(target)
        y = np.asarray(transform.forward(self.data.prices(rows)), dtype=np.float32)
        return x, y.reshape(-1, 1)

    def fit(
        self, hp, model, *args, epochs=1, callbacks=None, initial_epoch=0, verbose=0, **kwargs
    ) -> keras.callbacks.History:
        """Train ``model`` as the tuner asks; data comes from ``ModelData``, not the args.

        Any ``x``/``y``/``validation_data``/``batch_size`` passed by the tuner is
        ignored: the inputs depend on the trial's tile and target transform.
        Other keyword arguments (e.g. ``steps_per_epoch``) go to ``model.fit``.

        Returns:
            The ``History`` of ``model.fit``.
        """
        for key in ("x", "y", "validation_data", "validation_split", "batch_size"):
            kwargs.pop(key, None)
        x, y = self.arrays(hp, self.train_rows, model)
        validation = None
        if self.val_rows is not None and len(self.val_rows):
            validation = self.arrays(hp, self.val_rows, model)
        return model.fit(
            x,
            y,
            batch_size=hp.get("batch_size"),
            epochs=epochs,
            initial_epoch=initial_epoch,
            callbacks=callbacks,
            validation_data=validation,
            verbose=verbose,
            **kwargs,
        )

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

    def train(
        self, values: Mapping[str, Any], epochs: int, callbacks=None, verbose=0, **kwargs
    ) -> tuple[keras.Model, keras.callbacks.History]:
        """Build and fit the model for hyperparameter ``values`` without a tuner.

        Args:
            values: Hyperparameter values (missing ones take the space's defaults).
            epochs: Epochs to train.
            callbacks: Keras callbacks.
            verbose: Keras verbosity.
            **kwargs: More ``model.fit`` arguments.

        Returns:
            ``(model, history)``.
        """
        hp = self.hyperparameters(values)
        model = self.build(hp)
        history = self.fit(hp, model, epochs=epochs, callbacks=callbacks, verbose=verbose, **kwargs)
        return model, history
