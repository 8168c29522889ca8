"""``RunDir``: one run folder, read back or written (run.json is written only here)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from houses_tune.errors import RunError, SearchError
from houses_tune.run.atomic import write_json_atomic
from houses_tune.run.layout import (
    RUN_JSON,
    SPACE_YAML,
    SPLITS_JSON,
    TENSORBOARD_DIR,
    TUNER_DIR,
)
from houses_tune.run.lock import RunLock
from houses_tune.run.trials import TrialRecord, read_trial


def check_run_name(name: str) -> str:
    """A run name is one plain path component, so a run never lands outside its folder.

    Raises:
        SearchError: The name is empty, ``.``/``..``, hidden, or contains a separator.
    """
    if not name or name in (".", "..") or name.startswith(".") or "/" in name or "\\" in name:
        raise SearchError(
            f"--run {name!r}: a run name is a plain folder name (no '/', not hidden); "
            "use --results-dir to choose where runs go"
        )
    return name


def now() -> str:
    """The current UTC time as run.json writes it."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


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

    @classmethod
    def create(cls, folder: Path, info: dict, splits: dict) -> RunDir:
        """Write a new run's run.json (status running, one session) and splits.json."""
        started = now()
        session = {"started": started, "finished": None, "elapsed_s": None, "status": "running"}
        info = {
            **info,
            "status": "running",
            "message": None,
            "splits": splits,
            "timing": {
                "started": started,
                "finished": None,
                "elapsed_s": 0.0,
                "sessions": [session],
            },
        }
        write_json_atomic(Path(folder) / SPLITS_JSON, splits)
        write_json_atomic(Path(folder) / RUN_JSON, info)
        return cls(folder)

    @property
    def name(self) -> str:
        """The run's name (its folder name)."""
        return self.path.name

    @property
    def settings(self) -> dict:
        """The whole run.json."""
        return self._settings

    @property
    def search(self) -> dict:
        """The search settings (space, budget, folds, seed, ...)."""
        return self._settings["search"]

    @property
    def folds(self) -> int:
        """Folds each trial was scored on."""
        return int(self.search.get("folds", 1))

    @property
    def precision(self) -> str:
        """The dtype policy its pipeline trains with here (``--mixed-precision``: bfloat16
        on a CPU, float16 on a GPU; else float32): what export retrains it in."""
        from houses_tune.tuner.devices import training_precision

        return training_precision(bool(self.search.get("mixed_precision")))

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
        """The run's ``Splits`` (from splits.json)."""
        from houses_tune.data import Splits

        return Splits.load(self.path / SPLITS_JSON)

    @property
    def objective(self):
        """The run's ``Objective`` (``--objective``; MAPE for runs from before it)."""
        from houses_tune.objective import get_objective

        return get_objective(self._settings.get("dataset", {}).get("objective"))

    def load_dataset(self):
        """Load the run's dataset again, checking it is the same data the search saw.

        Raises:
            RunError: The dataset's content changed since the search.
            DatasetError: The dataset is gone or invalid.
        """
        from houses_tune.data import DatasetOptions, load_dataset

        info = self._settings.get("dataset", {})
        folder = None if info.get("embedded") or not info.get("folder") else Path(info["folder"])
        # Runs before CSV datasets had only the zip filter's count.
        stored = info.get("options")
        if stored is None:
            stored = {"min_group_count": ["zipcode", info.get("min_zip_count", 25)]}
        houses = load_dataset(folder, DatasetOptions.from_dict(stored))
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
        return load_space(str(self.search["space"]))

    def trials(self) -> list[TrialRecord]:
        """All trials, best first: completed by score, then the others by id."""
        live = RunLock.is_held(self.path)
        records = [
            read_trial(path.parent, live)
            for path in sorted(self.tuner_dir.glob("trial_*/trial.json"))
        ]
        records = [r for r in records if r is not None]
        done = sorted(
            (r for r in records if r.status == "completed" and r.score is not None),
            key=lambda r: (r.score, r.trial_id),
        )
        rest = sorted((r for r in records if r not in done), key=lambda r: r.trial_id)
        return done + rest

    def update(self, **changes: Any) -> None:
        """Merge top-level keys into run.json and rewrite it atomically."""
        self._settings.update(changes)
        write_json_atomic(self.path / RUN_JSON, self._settings)

    def start_session(self, **changes: Any) -> None:
        """A resumed search starts: a new running session, ``changes`` merged in."""
        timing = self._settings["timing"]
        timing["sessions"].append(
            {"started": now(), "finished": None, "elapsed_s": None, "status": "running"}
        )
        timing["finished"] = None
        self.update(status="running", message=None, timing=timing, **changes)

    def finish_session(self, status: str, message: str | None, elapsed: float) -> None:
        """Record the end of the current session: its status, why, and the time it took."""
        timing = self._settings["timing"]
        session = timing["sessions"][-1]
        session.update(finished=now(), elapsed_s=round(elapsed, 3), status=status)
        timing["elapsed_s"] = round(float(timing.get("elapsed_s") or 0.0) + elapsed, 3)
        timing["finished"] = session["finished"]
        self.update(status=status, message=message, timing=timing)

    @property
    def elapsed(self) -> float:
        """Seconds all sessions searched so far."""
        return float(self._settings.get("timing", {}).get("elapsed_s") or 0.0)
