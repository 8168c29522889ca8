"""Fixtures for the search tests: a tiny dataset, a tiny pinned space, settings for run_search,
searches in real processes."""

import os
import subprocess
import sys
import time
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


@pytest.fixture
def search_process(file_size_limit):
    """``search_process(settings, *args, file_size_limit=None, fault=None, python=None)
    -> Popen``: ``python -m houses_tune search`` with ``settings`` (dataset, space, budget,
    folds, run, results folder) and ``args`` in a real process; text stdout and stderr are
    piped. ``fault`` is ``(FAULT, TAIL, KEY=VALUE)`` for ``faulty_search.py``, which then
    runs the search; ``python`` is how the command line starts Python (``plain_user``)."""
    limit_file_size = file_size_limit

    def start(
        settings,
        *args: str,
        file_size_limit: int | None = None,
        fault: tuple | None = None,
        python: list[str] | None = None,
    ) -> subprocess.Popen:
        runner = ["-m", "houses_tune"]
        if fault is not None:
            runner = [str(Path(__file__).with_name("faulty_search.py")), *fault]
        if file_size_limit is not None:
            python = limit_file_size(file_size_limit)
        command = [
            *(python or [sys.executable]), *runner, "search", "--dataset", str(settings.dataset),
            "--space", settings.space, "--budget", settings.budget.text,
            "--folds", str(settings.folds), "--min-epochs", str(settings.min_epochs),
            "--min-zip-count", str(settings.min_zip_count), "--run", settings.run,
            "--results-dir", str(settings.results_dir), *args,
        ]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1", "TF_NUM_INTRAOP_THREADS": "1"}
        return subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    return start


@pytest.fixture
def wait_for():
    """``wait_for(path, process, timeout=180)``: poll until ``path`` exists while ``process``
    runs (fails if it ends first or takes too long)."""

    def wait(path: Path, process: subprocess.Popen, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            if process.poll() is not None:
                ended = process.stderr.read()
                raise AssertionError(f"the search ended before {path} existed: {ended}")
            assert time.monotonic() < deadline, f"no {path} after {timeout} s"
            time.sleep(0.02)

    return wait
