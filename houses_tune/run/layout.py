"""Names of the files and folders of a run folder.

Layout::

    results/<run>/
      run.json        settings, plan, versions, backend, dataset fingerprint, splits, timing,
                      status (running, interrupted, finished, failed) and why it stopped
      splits.json     search / test row indices and the validation rows of every fold
      space.yaml      copy of the space file, when the space came from a YAML file
      .lock           flock'ed by the search using the folder (released by the OS on kill -9)
      tuner/          KerasTuner's project: oracle.json, tuner0.json, and per trial
                      trial_<id>/trial.json, fold_<k>.weights.h5 (the best weights of each
                      fold model) and history.json (every fold's epochs and scores)
      tensorboard/    <trial_id>/fold_<k>/{train,validation}/ per-epoch scalars,
                      <trial_id>/ hparams session + objective, root: experiment + run series
      workers/        heartbeats and logs of a distributed search
"""

from __future__ import annotations

from pathlib import Path

RUN_JSON = "run.json"
SPLITS_JSON = "splits.json"
SPACE_YAML = "space.yaml"
LOCK_FILE = ".lock"
TUNER_DIR = "tuner"
TENSORBOARD_DIR = "tensorboard"
#: Per-trial sidecar written by the search next to KerasTuner's trial.json.
HISTORY_JSON = "history.json"


def trial_dir(tuner_dir: Path, trial_id: str) -> Path:
    """KerasTuner's folder of one trial (``tuner/trial_<id>``)."""
    return Path(tuner_dir) / f"trial_{trial_id}"


def fold_weights(trial_folder: Path, fold: int) -> Path:
    """The best weights of fold ``fold`` (1-based) of a trial."""
    return Path(trial_folder) / f"fold_{fold}.weights.h5"
