"""Train one fixed configuration (a trial's hyperparameters or a tutorial preset) and predict.

Shared by the export's final fit, its cross-validation and the tutorial baselines, so all
of them are trained and scored the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Fitted:
    """A trained search model and what is needed to use it.

    Attributes:
        model: the compiled Keras model (inputs named like ``ModelData.inputs`` keys).
        hp: its ``keras_tuner.HyperParameters``.
        data: the ``ModelData`` it was trained with (preprocessing fitted on ``rows``).
        rows: the rows it was trained on.
        history: per-epoch training metrics (``History.history``).
    """

    model: object
    hp: object
    data: object
    rows: np.ndarray
    history: dict

    @property
    def transform(self):
        """The fitted target transform of this configuration."""
        return self.data.transform(self.hp.get("target_transform"))

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """Prices in dollars (float64) for rows of the same ``Houses``."""
        from houses_tune.results.serving import photo_tile, serving_input_names

        inputs = self.data.inputs(rows, photo_tile(self.model) or _DEFAULT_TILE)
        names = serving_input_names(self.model)  # works for any model: its input names
        y = self.model.predict({name: inputs[name] for name in names}, verbose=0)
        return self.transform.inverse(np.asarray(y).reshape(-1))


# ModelData.inputs wants a tile even for attribute-only models; the smallest keeps it cheap.
_DEFAULT_TILE = 8


def fit_configuration(space, houses, rows, hp, epochs: int, seed: int = 0) -> Fitted:
    """Train ``hp`` of ``space`` on ``rows`` of ``houses`` for ``epochs`` epochs, seeded.

    Args:
        space: the search ``Space`` the hyperparameters belong to.
        houses: the ``Houses`` of the run.
        rows: row indices to train on (preprocessing and target transform fitted on them).
        hp: ``keras_tuner.HyperParameters`` holding the configuration's values.
        epochs: number of epochs (at least 1).
        seed: seed for weights, shuffling and dropout.

    Returns:
        The trained model with its data and history.
    """
    import keras

    from houses_tune.data import ModelData
    from houses_tune.search_spaces import HousesHyperModel

    rows = np.asarray(rows, dtype=np.int64)
    data = ModelData(houses, rows)
    keras.utils.set_random_seed(seed)
    hypermodel = HousesHyperModel(space, data, train_rows=rows, val_rows=None, seed=seed)
    model = hypermodel.build(hp)
    history = hypermodel.fit(hp, model, epochs=max(1, int(epochs)), verbose=0)
    return Fitted(model, hp, data, rows, dict(history.history))
