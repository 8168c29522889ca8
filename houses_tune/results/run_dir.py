"""The run folder ``results/<run>/``: what a search leaves behind and how to read it back.

Layout::

    results/<run>/
      run.json        settings, plan, versions, dataset fingerprint, splits, timing, status
      splits.json     train/val/test row indices (also inside run.json)
      space.yaml      copy of the space file, when the space came from a YAML file
      .lock           flock'ed by the search using the folder (released by the OS on kill -9)
      tuner/          KerasTuner project: oracle.json, tuner0.json,
                      trial_<id>/trial.json, checkpoint.weights.h5, history.json
      tensorboard/    <trial_id>/{train,validation}/ per-epoch scalars,
                      <trial_id>/ hparams session + objective, root: experiment + run series

``run.json`` keys: ``name``, ``status`` (running, interrupted, finished, failed),
``message``, ``command`` (argv), ``search`` (the search settings: space, budget, tuner,
max_epochs, factor, seed, val_size, test_size, ...), ``plan``, ``dataset`` (folder or
null for the embedded one, embedded, fingerprint, min_zip_count, houses, total),
``splits``, ``versions``, ``backend``, ``timing`` (started, finished, elapsed_s, sessions).

Nothing here imports Keras or TensorFlow: listing trials is instant.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from houses_tune.errors import RunError, SearchError

RUN_JSON = "run.json"
SPLITS_JSON = "splits.json"
SPACE_YAML = "space.yaml"
LOCK_FILE = ".lock"
TUNER_DIR = "tuner"
TENSORBOARD_DIR = "tensorboard"
#: Per-trial sidecar written by the search next to KerasTuner's trial.json.
HISTORY_JSON = "history.json"

STATUSES = ("running", "interrupted", "finished", "failed")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that readers (and a kill -9) see the old file or the new one, never half.

    Args:
        path: Destination file.
        data: JSON-able data.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual mode
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, allow_nan=True)
            handle.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class RunLock:
    """An exclusive ``flock`` on ``<run>/.lock``: one search per run folder at a time.

    The OS releases the lock when the process dies, even on kill -9, so a stale lock file
    never blocks a resume.
    """

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / LOCK_FILE
        self._handle = None

    def acquire(self) -> RunLock:
        """Take the lock.

        Raises:
            SearchError: Another process holds it.
        """
        handle = open(self.path, "a+")  # kept open while the lock is held
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip()
            handle.close()
            raise _in_use(self.path.parent, owner) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    @staticmethod
    def check_free(folder: Path) -> None:
        """Refuse early, writing nothing, a folder whose lock another process holds.

        Raises:
            SearchError: Another process holds the lock.
        """
        if RunLock.is_held(folder):
            owner = (Path(folder) / LOCK_FILE).read_text().strip()
            raise _in_use(Path(folder), owner)

    @staticmethod
    def is_held(folder: Path) -> bool:
        """Whether some process holds the lock of ``folder`` right now."""
        path = Path(folder) / LOCK_FILE
        if not path.exists():
            return False
        with open(path) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False


def _in_use(folder: Path, owner: str) -> SearchError:
    return SearchError(
        f"{folder} is in use by another search (pid {owner or 'another process'}); "
        "wait for it to finish or stop it first"
    )


@dataclass(frozen=True)
class TrialRecord:
    """One KerasTuner trial of a run, as the ``trials`` command and export see it.

    Attributes:
        trial_id: KerasTuner's id (``"0007"``), also the TensorBoard folder name.
        status: ``completed``, ``failed``, ``invalid``, ``running`` (a live search is on it)
            or ``interrupted`` (its search died before it ended; a resume reruns it).
        score: Best validation MAPE (%) of the trial, None unless completed.
        best_epoch: 1-based epoch at which validation MAPE was best (Hyperband's promoted
            trials count from the epochs they inherit), None unless completed.
        epochs: Epochs the trial's model reached (inherited + trained), None if unknown.
        hyperparameters: Active hyperparameter values (``tuner/*`` bookkeeping left out).
        hp_config: KerasTuner's config, for ``keras_tuner.HyperParameters.from_config``.
        message: Why the trial failed (last line of the error), else None.
    """

    trial_id: str
    status: str
    score: float | None
    best_epoch: int | None
    epochs: int | None
    hyperparameters: dict = field(default_factory=dict)
    hp_config: dict = field(default_factory=dict)
    message: str | None = None

    def to_dict(self) -> dict:
        """JSON-able view (what ``trials --json`` prints)."""
        return {
            "trial_id": self.trial_id,
            "status": self.status,
            "score": self.score,
            "best_epoch": self.best_epoch,
            "epochs": self.epochs,
            "hyperparameters": self.hyperparameters,
            "message": self.message,
        }


class RunDir:
    """A finished or running houses-tune run folder.

    Args:
        path: The run folder (``results/<run>``).

    Raises:
        RunError: ``path`` is not a folder with a readable run.json.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        run_json = self.path / RUN_JSON
        if not self.path.is_dir():
            raise RunError(f"{self.path}: no such run folder")
        if not run_json.is_file():
            raise RunError(f"{self.path} is not a houses-tune run (no {RUN_JSON})")
        try:
            self._settings = json.loads(run_json.read_text())
        except (OSError, ValueError) as error:
            raise RunError(f"{run_json}: unreadable ({error})") from None
        if not isinstance(self._settings, dict) or "search" not in self._settings:
            raise RunError(f"{run_json}: not a houses-tune run file")

    @property
    def name(self) -> str:
        """The run's name (its folder name)."""
        return self.path.name

    @property
    def settings(self) -> dict:
        """The whole run.json (see the module docstring for its keys)."""
        return self._settings

    @property
    def status(self) -> str:
        """``running``, ``interrupted``, ``finished`` or ``failed``.

        A run.json saying ``running`` whose lock is free belongs to a search that died
        (kill -9, power cut): reported as ``interrupted``.
        """
        status = self._settings.get("status", "running")
        if status == "running" and not RunLock.is_held(self.path):
            return "interrupted"
        return status

    @property
    def tuner_dir(self) -> Path:
        """KerasTuner's project folder."""
        return self.path / TUNER_DIR

    @property
    def tensorboard_dir(self) -> Path:
        """TensorBoard log folder (``--logdir`` for TensorBoard)."""
        return self.path / TENSORBOARD_DIR

    @property
    def splits(self):
        """The run's ``Splits`` (from splits.json, else from run.json)."""
        from houses_tune.data import Splits

        if (self.path / SPLITS_JSON).is_file():
            return Splits.load(self.path / SPLITS_JSON)
        try:
            return Splits.from_dict(self._settings["splits"])
        except (KeyError, ValueError) as error:
            raise RunError(f"{self.path / RUN_JSON}: no usable splits ({error})") from None

    def load_houses(self):
        """Load the run's dataset again, checking it is the same data the search saw.

        Returns:
            ``Houses``.

        Raises:
            RunError: The dataset's content changed since the search.
            DatasetError: The dataset is gone or invalid.
        """
        from houses_tune.data import load_houses

        info = self._settings.get("dataset", {})
        folder = None if info.get("embedded") or not info.get("folder") else Path(info["folder"])
        houses = load_houses(folder, min_zip_count=int(info.get("min_zip_count", 25)))
        expected = info.get("fingerprint")
        if expected and houses.fingerprint != expected:
            where = folder or "the embedded dataset"
            raise RunError(
                f"{where} changed since run {self.name} was searched "
                f"(fingerprint {houses.fingerprint[:12]} != {expected[:12]})"
            )
        return houses

    def space(self):
        """The run's search space (the YAML copy in the run folder if there is one)."""
        from houses_tune.search_spaces import load_space

        copy = self.path / SPACE_YAML
        if copy.is_file():
            return load_space(str(copy))
        return load_space(str(self._settings["search"]["space"]))

    def trials(self) -> list[TrialRecord]:
        """All trials, best first: completed by validation MAPE, then the others by id."""
        live = RunLock.is_held(self.path)
        records = [
            _read_trial(path.parent, live)
            for path in sorted(self.tuner_dir.glob("trial_*/trial.json"))
        ]
        records = [r for r in records if r is not None]
        done = sorted(
            (r for r in records if r.status == "completed" and r.score is not None),
            key=lambda r: (r.score, r.trial_id),
        )
        rest = sorted((r for r in records if r not in done), key=lambda r: r.trial_id)
        return done + rest

    def best_trial(self) -> TrialRecord:
        """The completed trial with the lowest validation MAPE.

        Raises:
            RunError: No trial completed.
        """
        trials = self.trials()
        if not trials or trials[0].status != "completed":
            raise RunError(f"run {self.name} has no completed trial")
        return trials[0]

    def update(self, **changes: Any) -> None:
        """Merge top-level keys into run.json and rewrite it atomically."""
        self._settings.update(changes)
        write_json_atomic(self.path / RUN_JSON, self._settings)


def active_values(hp_config: dict) -> dict:
    """Values of the hyperparameters active in a KerasTuner ``HyperParameters`` config.

    Evaluates the ``Parent`` conditions of each hyperparameter the way
    ``HyperParameters.is_active`` does, without importing KerasTuner. ``tuner/*``
    bookkeeping values are left out.
    """
    values = hp_config.get("values", {})
    conditions = {}
    for entry in hp_config.get("space", []):
        config = entry.get("config", {})
        conditions.setdefault(config.get("name"), []).append(config.get("conditions", []))

    def condition_holds(condition: dict) -> bool:
        parent = condition.get("config", {})
        name = parent.get("name")
        return is_active(name) and values.get(name) in parent.get("values", [])

    def is_active(name: str) -> bool:
        if name not in values:
            return False
        variants = conditions.get(name)
        if not variants:  # not in the space (e.g. tuner/*): active when it has a value
            return True
        return any(all(condition_holds(c) for c in variant) for variant in variants)

    return {
        name: value
        for name, value in values.items()
        if not name.startswith("tuner/") and is_active(name)
    }


def _read_trial(folder: Path, live: bool) -> TrialRecord | None:
    try:
        state = json.loads((folder / "trial.json").read_text())
    except (OSError, ValueError):
        return None  # a trial.json being replaced right now; the next listing shows it
    history = {}
    if (folder / HISTORY_JSON).is_file():
        try:
            history = json.loads((folder / HISTORY_JSON).read_text())
        except (OSError, ValueError):
            history = {}
    hp_config = state.get("hyperparameters", {})
    values = hp_config.get("values", {})
    status = str(state.get("status", "")).lower()
    if status == "running" and not live:
        status = "interrupted"
    score = state.get("score")
    if score is not None and not math.isfinite(score):
        score = None
    initial = int(history.get("initial_epoch", values.get("tuner/initial_epoch", 0)))
    if "epochs_trained" in history:
        epochs = initial + int(history["epochs_trained"])
    elif status == "completed" and "tuner/epochs" in values:
        epochs = int(values["tuner/epochs"])
    else:
        epochs = None
    best_epoch = None
    if status == "completed":
        best_epoch = history.get("best_epoch")
        if best_epoch is None and state.get("best_step") is not None:
            best_epoch = initial + int(state["best_step"]) + 1
    return TrialRecord(
        trial_id=str(state.get("trial_id", folder.name.removeprefix("trial_"))),
        status=status,
        score=score if status == "completed" else None,
        best_epoch=best_epoch,
        epochs=epochs,
        hyperparameters=active_values(hp_config),
        hp_config=hp_config,
        message=_last_line(state.get("message")) if status in ("failed", "invalid") else None,
    )


def _last_line(message: str | None) -> str | None:
    """The last non-empty line of a traceback: the error itself."""
    if not message:
        return None
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    return lines[-1] if lines else None
