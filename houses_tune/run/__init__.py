"""The run folder ``results/<run>/``: its layout, its lock, its files, written atomically.

The search writes a run (``RunDir.create``, sessions, trial files); ``trials``, export and
workers read it back. run.json is written only by ``RunDir``. Nothing here imports Keras
or TensorFlow, so listing trials is instant.
"""

from houses_tune.run.atomic import atomic_path, write_bytes_atomic, write_json_atomic
from houses_tune.run.folder import RunDir, check_run_name
from houses_tune.run.layout import (
    HISTORY_JSON,
    LOCK_FILE,
    RUN_JSON,
    SPACE_YAML,
    SPLITS_JSON,
    TENSORBOARD_DIR,
    TUNER_DIR,
    fold_weights,
)
from houses_tune.run.lock import RunLock
from houses_tune.run.trials import FoldRecord, TrialRecord, active_values, read_trial

__all__ = [
    "HISTORY_JSON",
    "LOCK_FILE",
    "RUN_JSON",
    "SPACE_YAML",
    "SPLITS_JSON",
    "TENSORBOARD_DIR",
    "TUNER_DIR",
    "FoldRecord",
    "RunDir",
    "RunLock",
    "TrialRecord",
    "active_values",
    "atomic_path",
    "check_run_name",
    "fold_weights",
    "read_trial",
    "write_bytes_atomic",
    "write_json_atomic",
]
