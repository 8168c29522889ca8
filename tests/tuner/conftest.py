"""Fixtures for the search tests: a tiny dataset, a tiny pinned space, settings for run_search."""

from pathlib import Path

import pytest

# Attributes only, one architecture; only the learning rate and the head vary, so a trial
# trains in well under a second on 2 CPU cores.
TINY_SPACE = """\
base: mixed
hyperparameters:
  modality: attributes
  attributes/widths: 8-4
  attributes/area: log
  attributes/zip: one_hot
  head/units: [0, 4]
  head/dropout: 0.0
  loss: mape
  optimizer: adam
  target_transform: max_scale
  batch_size: 16
  learning_rate: {min: 0.001, max: 0.01}
"""


@pytest.fixture
def tiny_space(tmp_path: Path) -> Path:
    """A YAML space pinned to a tiny attribute MLP."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPACE)
    return path


@pytest.fixture
def search_settings(tiny_dataset: Path, tiny_space: Path, tmp_path: Path):
    """``make(budget, **overrides) -> SearchSettings`` for a tiny search in
    ``tmp_path/results``: 40 houses (30 search, 10 test), 3 folds of 10."""
    from houses_tune.tuner.budget import parse_budget
    from houses_tune.tuner.job import SearchSettings

    def make(budget: str = "24", **overrides) -> SearchSettings:
        values = dict(
            budget=parse_budget(budget),
            dataset=tiny_dataset,
            space=str(tiny_space),
            run="run",
            results_dir=tmp_path / "results",
            min_zip_count=10,
            folds=3,
            min_epochs=1,  # the small budgets here make one-epoch first rounds
            seed=0,
        )
        values.update(overrides)
        return SearchSettings(**values)

    return make


@pytest.fixture
def search():
    """``search(settings) -> SearchOutcome``: plan and run, as the command does (devices aside)."""
    from houses_tune.tuner.job import prepare_search
    from houses_tune.tuner.search import run_search

    def plan_and_run(settings):
        return run_search(prepare_search(settings))

    return plan_and_run
