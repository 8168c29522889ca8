"""A finished run opened for the benchmarks that re-score its bag (``stacking.py``,
``bag_seeds.py``, ``ensemble_selection.py``): in the backend it was searched with, its bag
of the search's own fold models (``export --max-epochs 0``), and the same pipeline trained
anew as ``export --max-epochs 0 --cv`` trains it (inner folds, the search's patience and
precision)."""

from __future__ import annotations

import json
from pathlib import Path


class FinishedRun:
    """The run at ``path`` and its ``ensemble`` best configurations (``chosen``)."""

    def __init__(self, path: Path, ensemble: int = 1):
        from houses_tune.backend import import_keras, use_backend

        use_backend(json.loads((Path(path) / "run.json").read_text())["backend"])
        import_keras()
        from houses_tune.results.choose import choose_trials
        from houses_tune.run import RunDir

        self.run = RunDir(path)
        self.houses, self.splits, self.space = (
            self.run.load_dataset(), self.run.splits, self.run.space()
        )  # fmt: skip
        self.chosen = choose_trials(self.run.trials(), None, ensemble)

    def hypermodel(self, rows, seed: int):
        from houses_tune.data import ModelData
        from houses_tune.search_spaces import HousesHyperModel

        data = ModelData(self.houses, rows, self.run.search.get("weights"))
        return HousesHyperModel(self.space, data, seed=seed)

    def shipped(self, trials: list | None = None):
        """``(hypermodel, the search's folds, its bag of the search's fold models)``; with
        ``trials``, those trials' instead."""
        from houses_tune.results.bag import load_members

        hypermodel = self.hypermodel(self.splits.search, self.run.search["seed"])
        folds = self.splits.fold_rows()
        trials = self.chosen if trials is None else trials
        return hypermodel, folds, load_members(self.run, trials, hypermodel, self.splits)

    def train(self, hypermodel, folds, seed: int, trials: list | None = None) -> list:
        """The chosen configurations (or ``trials``') trained once per fold, as export's CV
        trains them."""
        from houses_tune.results.bag import train_members
        from houses_tune.tuner.devices import dtype_policy

        with dtype_policy(self.run.precision):
            trials = self.chosen if trials is None else trials
            return train_members(hypermodel, trials, folds, self.run.search["patience"], seed)

    def outer_folds(self, k: int):
        """``(hypermodel, inner folds, train rows, test rows)`` of export's K outer folds."""
        from houses_tune.results.crossval import inner_folds, outer_folds

        for train, test in outer_folds(len(self.houses), k, 0):
            yield self.hypermodel(train, 0), inner_folds(train, self.run.search), train, test
