"""TensorBoard logs of a search, written with tensorboardX (no TensorFlow needed, any backend).

Layout under ``results/<run>/tensorboard/``:

- ``<trial_id>/train/`` and ``<trial_id>/validation/``: per-epoch ``epoch_loss`` and
  ``epoch_price_mape`` (same tags in both, so TensorBoard overlays train and validation
  like Keras' own callback does), step = 1-based epoch.
- ``<trial_id>/``: the HParams session of the trial (its active hyperparameters, start and
  end status) and scalar ``val_price_mape`` = the trial's objective (best epoch).
- root: the HParams experiment (every hyperparameter of the space and the metrics), and the
  run-level series ``search/best_val_price_mape`` (best so far) and
  ``search/trial_val_price_mape`` against the trial number.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

OBJECTIVE_TAG = "val_price_mape"
BEST_SO_FAR_TAG = "search/best_val_price_mape"
TRIAL_SCORE_TAG = "search/trial_val_price_mape"

_PLUGIN = "hparams"


def _plugin_summary(tag: str, **data: Any):
    """A Summary carrying HParams plugin data (experiment, session start or session end)."""
    from tensorboardX.proto.plugin_hparams_pb2 import HParamsPluginData
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata

    content = HParamsPluginData(version=0, **data)
    metadata = SummaryMetadata(
        plugin_data=SummaryMetadata.PluginData(
            plugin_name=_PLUGIN, content=content.SerializeToString()
        )
    )
    return Summary(value=[Summary.Value(tag=tag, metadata=metadata)])


def _hparam_value(value: Any) -> Any:
    """HParams takes strings, bools and numbers; anything else is shown as text."""
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return str(value)


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
    """

    def __init__(
        self,
        logdir: Path,
        hparams: dict[str, Any],
        trials_done: int = 0,
        best_so_far: float | None = None,
        run_series: bool = True,
    ) -> None:
        from tensorboardX import SummaryWriter

        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.trials_done = trials_done
        self.best_so_far = best_so_far
        self.run_series = run_series
        self._root = SummaryWriter(str(self.logdir), flush_secs=5)
        self._writers: dict[str, Any] = {}
        self._root.file_writer.add_summary(self._experiment(hparams))
        self._root.flush()

    def _experiment(self, hparams: dict[str, Any]):
        from tensorboardX.proto.api_pb2 import DataType, Experiment, HParamInfo, MetricInfo
        from tensorboardX.proto.api_pb2 import MetricName as Name

        infos = []
        for name, value in sorted(hparams.items()):
            value = _hparam_value(value)
            if isinstance(value, bool):
                kind = DataType.DATA_TYPE_BOOL
            elif isinstance(value, float):
                kind = DataType.DATA_TYPE_FLOAT64
            else:
                kind = DataType.DATA_TYPE_STRING
            infos.append(HParamInfo(name=name, type=kind))
        metrics = [
            MetricInfo(name=Name(tag=OBJECTIVE_TAG), display_name="val MAPE % (best epoch)"),
            MetricInfo(name=Name(group="validation", tag="epoch_loss"), display_name="val loss"),
            MetricInfo(name=Name(group="train", tag="epoch_loss"), display_name="train loss"),
        ]
        experiment = Experiment(hparam_infos=infos, metric_infos=metrics)
        return _plugin_summary("_hparams_/experiment", experiment=experiment)

    def trial_begin(self, trial_id: str, hparams: dict[str, Any]) -> None:
        """Open the trial's writers and start its HParams session.

        A trial that is run again (its search was killed) starts from scratch, so its
        stale logs are removed first.
        """
        from tensorboardX import SummaryWriter
        from tensorboardX.proto.plugin_hparams_pb2 import SessionStartInfo

        folder = self.logdir / trial_id
        if folder.exists():
            shutil.rmtree(folder)
        self.trial_end_writers()
        self._writers = {
            "session": SummaryWriter(str(folder), flush_secs=5),
            "train": SummaryWriter(str(folder / "train"), flush_secs=5),
            "validation": SummaryWriter(str(folder / "validation"), flush_secs=5),
        }
        start = SessionStartInfo()
        for name, value in hparams.items():
            value = _hparam_value(value)
            if isinstance(value, bool):
                start.hparams[name].bool_value = value
            elif isinstance(value, float):
                start.hparams[name].number_value = value
            elif value is not None:
                start.hparams[name].string_value = value
        summary = _plugin_summary("_hparams_/session_start_info", session_start_info=start)
        self._writers["session"].file_writer.add_summary(summary)

    def epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        """Write one epoch's metrics; ``val_x`` goes to validation/epoch_x, ``x`` to train/."""
        if not self._writers:
            return
        for key, value in logs.items():
            try:
                value = float(value)
            except (TypeError, ValueError):
                continue
            part, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            self._writers[part].add_scalar(f"epoch_{name}", value, epoch + 1)

    def trial_end(self, trial_id: str, completed: bool, score: float | None, step: int) -> None:
        """Close the trial's HParams session and update the run-level series."""
        from tensorboardX.proto.api_pb2 import Status
        from tensorboardX.proto.plugin_hparams_pb2 import SessionEndInfo

        ok = completed and score is not None and math.isfinite(score)
        if self._writers:
            session = self._writers["session"]
            if ok:
                session.add_scalar(OBJECTIVE_TAG, score, max(step, 1))
            status = Status.STATUS_SUCCESS if ok else Status.STATUS_FAILURE
            end = _plugin_summary(
                "_hparams_/session_end_info", session_end_info=SessionEndInfo(status=status)
            )
            session.file_writer.add_summary(end)
        self.trial_end_writers()
        if not self.run_series:
            return
        self.trials_done += 1
        if ok:
            self._root.add_scalar(TRIAL_SCORE_TAG, score, self.trials_done)
            if self.best_so_far is None or score < self.best_so_far:
                self.best_so_far = score
        if self.best_so_far is not None:
            self._root.add_scalar(BEST_SO_FAR_TAG, self.best_so_far, self.trials_done)
        self._root.flush()

    def trial_end_writers(self) -> None:
        """Flush and close the current trial's writers, if any."""
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    def close(self) -> None:
        """Close every writer (also after Ctrl-C in the middle of a trial)."""
        self.trial_end_writers()
        self._root.close()
