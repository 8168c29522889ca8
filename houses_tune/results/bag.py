"""The networks an export ships: the fold models of the chosen trials, or a refit.

The search already trained every configuration once per fold, each fold model stopped
early on its own validation rows, but cut short by its Hyperband round. So export trains
the chosen configurations once per fold again, for longer, and ships that bag
(``train_members``, on the search's folds); the same function trains the pipeline that
export's cross-validation scores, on other rows. ``--max-epochs 0`` bags the search's own
fold models instead (``load_members``). The fixed-epoch refit of one configuration on all
search rows is kept for comparison (``refit_member``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from houses_tune.run import fold_weights
from houses_tune.training import fold_seed, train_configuration, train_fold
from houses_tune.training.folds import load_checkpoint


@dataclass
class Member:
    """One trained network of a bag.

    Attributes:
        network: The Keras model (inputs named like ``ModelData.inputs`` keys).
        hp: Its configuration (``keras_tuner.HyperParameters``).
        transform: Its fitted ``TargetTransform``.
        trial_id: The trial whose configuration it is.
        fold: Its fold (0 for a refit).
        history: Per-epoch logs of its training (empty when loaded from the search).
        best_epoch: The epoch of its best validation score, whose weights it keeps (None
            for a refit and when loaded from the search).
        score: That best validation score on its fold (None for a refit).
    """

    network: object
    hp: object
    transform: object
    trial_id: str
    fold: int
    history: dict
    best_epoch: int | None = None
    score: float | None = None


def hyperparameters(trial):
    """A trial's configuration as ``keras_tuner.HyperParameters``."""
    import copy

    import keras_tuner

    # from_config changes the config it is given; the record's stays as it was.
    return keras_tuner.HyperParameters.from_config(copy.deepcopy(trial.hp_config))


def load_members(run, trials: list, hypermodel, splits) -> list[Member]:
    """The fold models the search trained for ``trials``, with their best weights."""
    members = []
    seed = run.search["seed"]
    for trial in trials:
        hp = hyperparameters(trial)
        for fold in (f for f in trial.folds if f.score is not None):
            fit_rows, _ = splits.fold(fold.fold - 1)
            network = hypermodel.build(hp, fit_rows=fit_rows, seed=fold_seed(seed, fold.fold))
            load_checkpoint(
                network, fold_weights(run.tuner_dir / f"trial_{trial.trial_id}", fold.fold)
            )
            members.append(
                Member(network, hp, hypermodel.target(hp), trial.trial_id, fold.fold, {},
                       score=fold.score)
            )  # fmt: skip
    return members


def train_members(
    hypermodel, trials: list, folds, patience: int, seed: int, listener=None, epochs: int = 0
) -> list[Member]:
    """Train each trial's configuration once per fold from fresh weights, each fold model
    stopped early on its own validation rows (keeping its best weights), for at most
    ``epochs`` or the epochs the trial reached in the search, whichever is more."""
    members = []
    for trial in trials:
        hp = hyperparameters(trial)
        most = max(epochs, int(trial.epochs or hp.values.get("tuner/epochs", 1)))
        if listener is not None:
            listener.next_models(f"trial {trial.trial_id}'s fold models", most)
        trained = train_configuration(
            hypermodel, hp, folds, most, patience=patience, seed=seed, listener=listener
        )
        members += [
            Member(net, hp, hypermodel.target(hp), trial.trial_id, result.fold, result.history,
                   result.best_epoch, result.score)
            for net, result in trained
        ]  # fmt: skip
    return members


def refit_member(hypermodel, trial, rows, seed: int, listener=None) -> Member:
    """The old export: one model of the trial's configuration trained on ``rows`` for the
    trial's mean best epoch, with no validation rows to stop it (for comparison only)."""
    hp = hyperparameters(trial)
    epochs = int(trial.best_epoch or trial.epochs or 1)
    if listener is not None:
        listener.next_models(f"refit of trial {trial.trial_id}", epochs)
    network, result = train_fold(
        hypermodel, hp, 1, rows, np.empty(0, np.int64), epochs, seed=seed, listener=listener
    )
    return Member(network, hp, hypermodel.target(hp), trial.trial_id, 0, result.history)


def member_prices(hypermodel, members: list[Member], rows) -> np.ndarray:
    """The bag's prices for ``rows``: the geometric mean of its members' (as served; the
    arithmetic mean for targets that are not all positive)."""
    from houses_tune.results.serving import bag_prices

    prices = [hypermodel.predict_prices(m.hp, m.network, rows) for m in members]
    return bag_prices(prices, geometric=hypermodel.data.table.positive)
