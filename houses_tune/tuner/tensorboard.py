"""TensorBoard logs of a search, written with tensorboardX (no TensorFlow needed, any backend).

Layout under ``results/<run>/tensorboard/``:

- ``<trial_id>/fold_<k>/train/`` and ``<trial_id>/fold_<k>/validation/``: per-epoch
  ``epoch_loss`` and ``epoch_price_mape`` of each fold model (same tags in both, so
  TensorBoard overlays train and validation like Keras' own callback), step = epoch.
- ``<trial_id>/``: the HParams session of the trial (its active hyperparameters, end
  status) and the scalars ``val_price_mape`` (the objective: mean over folds) and
  ``val_price_mape_std`` (their spread).
- root: the HParams experiment (every hyperparameter of the space and the metrics), and the
  run-level series ``search/best_val_price_mape`` (best so far) and
  ``search/trial_val_price_mape`` against the trial number.

With ``--objective mae`` every ``price_mape`` above is ``price_mae``.

Events are written in the search's own thread (``_EventFile``), not by tensorboardX's
``SummaryWriter``, whose background thread dies with a traceback when a write fails (a
full disk) and whose queue then blocks the search for good.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import struct
import time
from pathlib import Path
from typing import Any

from houses_tune.errors import WriteError, cannot_write
from houses_tune.objective import MAPE, Objective

#: Events reach the disk (and a live TensorBoard) at least this often, and at trial ends.
FLUSH_S = 5.0


def _hparam_value(value: Any) -> Any:
    """HParams takes strings, bools and numbers; anything else is shown as text."""
    if isinstance(value, (bool, str, int, float)) or value is None:
        return value
    return str(value)


def _failed_session_end():
    """tensorboardX's ``hparams`` always ends a session in success; a failed trial needs this."""
    from tensorboardX.proto.api_pb2 import Status
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData, SessionEndInfo
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata

    content = HParamsPluginData(
        version=0, session_end_info=SessionEndInfo(status=Status.STATUS_FAILURE)
    )
    data = SummaryMetadata.PluginData(plugin_name="hparams", content=content.SerializeToString())
    return Summary(
        value=[
            Summary.Value(
                tag="_hparams_/session_end_info", metadata=SummaryMetadata(plugin_data=data)
            )
        ]
    )


class _EventFile:
    """One TensorBoard event file in ``folder``, named as ``SummaryWriter`` names them.

    Raises:
        WriteError: From any method, when the file cannot be written.
    """

    def __init__(self, folder: Path) -> None:
        from tensorboardX.proto.event_pb2 import Event

        self.folder = Path(folder)
        name = f"events.out.tfevents.{int(time.time())}.{socket.gethostname()}"
        with self._writing():
            self.folder.mkdir(parents=True, exist_ok=True)
            self._file = open(self.folder / name, "ab")
        self._flushed = time.monotonic()
        self._write(Event(wall_time=time.time(), file_version="brain.Event:2"))

    def add(self, summary, step: int | None = None) -> None:
        """Write one summary (at ``step``); flush if the last flush is ``FLUSH_S`` old."""
        from tensorboardX.proto.event_pb2 import Event

        event = Event(summary=summary, wall_time=time.time())
        if step is not None:
            event.step = int(step)
        self._write(event)
        if time.monotonic() - self._flushed > FLUSH_S:
            self.flush()

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        from tensorboardX.summary import scalar

        self.add(scalar(tag, float(value)), step)

    def flush(self) -> None:
        with self._writing():
            self._file.flush()
        self._flushed = time.monotonic()

    def close(self) -> None:
        """Flush and close the file (closed even when the flush fails; again: no-op)."""
        with self._writing():
            self._file.close()

    def _write(self, event) -> None:
        # TFRecord framing, as tensorboardX's RecordWriter writes it.
        from tensorboardX.record_writer import masked_crc32c

        data = event.SerializeToString()
        header = struct.pack("Q", len(data))
        record = header + struct.pack("I", masked_crc32c(header)) + data
        with self._writing():
            self._file.write(record + struct.pack("I", masked_crc32c(data)))

    @contextlib.contextmanager
    def _writing(self):
        try:
            yield
        except OSError as error:
            raise cannot_write(self.folder, error) from None


class TensorBoardLogger:
    """Writes the TensorBoard logs of one search session.

    Args:
        logdir: ``results/<run>/tensorboard``.
        hparams: Every hyperparameter name of the search space mapped to an example value
            (its default); it defines the HParams dashboard's columns.
        trials_done: Trials already ended in earlier sessions (x of the run-level series).
        best_so_far: Best objective of earlier sessions, or None.
        run_series: Write the run-level series. False in a distributed worker: they need
            the order in which trials end across all workers, which only the chief knows.
        objective: The run's objective (its scalars' names).
    """

    def __init__(
        self,
        logdir: Path,
        hparams: dict[str, Any],
        trials_done: int = 0,
        best_so_far: float | None = None,
        run_series: bool = True,
        objective: Objective = MAPE,
    ) -> None:
        from tensorboardX.summary import hparams as hparams_summaries

        self.score_tag = objective.monitor
        self.std_tag = f"{objective.monitor}_std"
        self.logdir = Path(logdir)
        self.trials_done = trials_done
        self.best_so_far = best_so_far
        self.run_series = run_series
        self._session: _EventFile | None = None
        self._folds: dict[tuple[int, str], _EventFile] = {}
        self._trial_id: str | None = None
        self._root = _EventFile(self.logdir)
        values = {name: _hparam_value(v) for name, v in sorted(hparams.items())}
        experiment, _, _ = hparams_summaries(values, {self.score_tag: None, self.std_tag: None})
        self._root.add(experiment)
        self._root.flush()

    def trial_begin(self, trial_id: str, hparams: dict[str, Any]) -> None:
        """Start the trial's HParams session.

        A trial that is run again (its search was killed) starts from scratch, so its
        stale logs are removed first.
        """
        from tensorboardX.summary import hparams as hparams_summaries

        folder = self.logdir / trial_id
        if folder.exists():
            shutil.rmtree(folder)
        self._close_trial()
        self._trial_id = trial_id
        self._session = _EventFile(folder)
        values = {name: _hparam_value(v) for name, v in hparams.items()}
        _, start, _ = hparams_summaries(values, {})
        self._session.add(start)
        self._session.flush()  # a full disk shows before the trial trains

    def epoch_end(self, fold: int, epoch: int, logs: dict[str, Any]) -> None:
        """Write one epoch of a fold model: ``val_x`` to validation/epoch_x, ``x`` to train/."""
        if self._trial_id is None:
            return
        for key, value in logs.items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            part, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            if (fold, part) not in self._folds:
                folder = self.logdir / self._trial_id / f"fold_{fold}" / part
                self._folds[fold, part] = _EventFile(folder)
            self._folds[fold, part].add_scalar(f"epoch_{name}", value, epoch + 1)

    def trial_end(self, trial_id: str, score: float | None, std: float | None, step: int) -> None:
        """Close the trial's HParams session and update the run-level series.

        Args:
            trial_id: The trial.
            score: Its objective, None if it failed.
            std: Spread of its fold scores.
            step: Epoch its models reached (x of its objective scalar).
        """
        from tensorboardX.summary import hparams as hparams_summaries

        if self._session is not None and trial_id == self._trial_id:
            if score is not None:
                self._session.add_scalar(self.score_tag, score, max(step, 1))
                self._session.add_scalar(self.std_tag, std or 0.0, max(step, 1))
                _, _, end = hparams_summaries({}, {})
            else:
                end = _failed_session_end()
            self._session.add(end)
        self._close_trial()
        if not self.run_series:
            return
        self.trials_done += 1
        if score is not None:
            self._root.add_scalar(f"search/trial_{self.score_tag}", score, self.trials_done)
            if self.best_so_far is None or score < self.best_so_far:
                self.best_so_far = score
        if self.best_so_far is not None:
            self._root.add_scalar(
                f"search/best_{self.score_tag}", self.best_so_far, self.trials_done
            )
        self._root.flush()

    def _close_trial(self) -> None:
        writers = [w for w in (self._session, *self._folds.values()) if w is not None]
        self._session, self._folds, self._trial_id = None, {}, None
        _close_all(writers)

    def close(self) -> None:
        """Close every writer (also after Ctrl-C in the middle of a trial)."""
        writers = [w for w in (self._session, *self._folds.values(), self._root) if w is not None]
        self._session, self._folds, self._trial_id = None, {}, None
        _close_all(writers)


def _close_all(writers: list[_EventFile]) -> None:
    """Close every writer, even when one fails (a file left open would fail again, noisily,
    when Python frees it); then raise the first failure."""
    failures = []
    for writer in writers:
        try:
            writer.close()
        except WriteError as error:
            failures.append(error)
    if failures:
        raise failures[0]
