"""``houses-tune export``: ship the search's winner as one model, evaluated once on test.

What is shipped is the configuration the search scored best (or the ``ensemble`` best):
its fold models, trained again from fresh weights on the search's own folds for longer than
the search's Hyperband rounds allowed (``max_epochs``; 0 ships the search's fold models as
they are), bagged into one ``model.keras`` that averages them in log-price space. With
``candidates`` the bags of that many best configurations are trained so, and the best of
them by their validation scores on those folds ships (``candidates.py``).
``refit=True`` ships the old fixed-epoch refit instead, for comparison. The work
(baselines, cross-validation) happens first; then every file is written into a temporary
folder beside the destination and renamed into place at the end, so an interrupted or
failed export leaves no half-written result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from houses_tune.backend import installed
from houses_tune.errors import ExportError
from houses_tune.results.bag_stopping import BAG_EPOCHS, BAG_PATIENCE
from houses_tune.results.staging import check_destination, staged_folder

# model.keras and the SavedModel must agree this closely on the test houses.
SAVED_MODEL_TOLERANCE = 1e-4
TOP_TRIALS = 10


@dataclass(frozen=True)
class ExportOptions:
    """What ``houses-tune export`` was asked to do.

    Attributes:
        out: Export folder; default ``<run>/best``. Replaced as a whole if it exists.
        trial_id: Export this trial instead of the best.
        ensemble: Bag the fold models of this many best configurations.
        candidates: Train the bags of this many best configurations and ship the
            ``ensemble`` best of them by their validation scores on the search's folds
            (needs ``max_epochs``; at most ``ensemble``: the search's ranking decides).
        refit: Ship a fixed-epoch refit on all search houses instead of the bag.
        max_epochs: Train the bag's fold models again, from fresh weights on the search's
            folds, for at most this many epochs (or the epochs the trial reached in the
            search, if more), and so the pipeline ``cv`` scores; 0: ship the search's.
            Ignored with ``refit``.
        patience: With ``max_epochs``: stop each of them when its validation score has not
            improved for this many epochs (it keeps its best weights).
        cv: When >= 2, also score the pipeline and every baseline on K folds.
        seed: Seed of the tutorial baselines (their first seed), the bag, the refit and the
            CV.
        baselines: Also train the three tutorial networks (the simple baselines always run).
        baseline_epochs: Epochs of each tutorial network.
        baseline_seeds: Train each tutorial network with seeds ``seed, seed + 1, ...`` on
            the split and score it by the median test MAPE over them.
        baseline_workers: Tutorial networks trained at once in worker processes (None:
            as many as the cores allow; 1: one after another in this process).
        allow_running: Export a run whose search is still running.
        saved_model: Also write the TensorFlow SavedModel (needs TensorFlow installed).
    """

    out: Path | None = None
    trial_id: str | None = None
    ensemble: int = 1
    candidates: int = 1
    refit: bool = False
    max_epochs: int = BAG_EPOCHS
    patience: int = BAG_PATIENCE
    cv: int = 0
    seed: int = 0
    baselines: bool = True
    baseline_epochs: int = 200
    baseline_seeds: int = 3
    baseline_workers: int | None = None
    allow_running: bool = False
    saved_model: bool = True

    def stopping(self) -> tuple[int, int] | None:
        """``(patience, epochs)`` of the bag's fold models; None: as the search trained them
        (the bag is the search's, or a refit ships)."""
        if self.refit or not self.max_epochs:
            return None
        return self.patience, self.max_epochs

    def precision(self, searched: str) -> str:
        """The dtype policy ``--cv`` trains the pipeline in: that of the models shipped
        (the search's fold models were trained in ``searched``; a bag trained again or a
        refit export trains in float32, as the model it ships computes)."""
        return "float32" if self.refit or self.max_epochs else searched


@dataclass
class ExportResult:
    """What ``export_run`` wrote.

    Attributes:
        out: The export folder (``model.keras``, ``saved_model/``, reports).
        summary: The content of ``metrics.json``.
    """

    out: Path
    summary: dict


def export_run(
    run: str | Path, options: ExportOptions = ExportOptions(), console=None
) -> ExportResult:
    """Bag (or refit) a run's best trials, evaluate on test, write model and report.

    Raises:
        RunError: ``run`` is not a run folder.
        ExportError: The search still runs, no trial to export, a bad option, or the
            exported files disagree.
    """
    from rich.console import Console

    from houses_tune.data import ModelData
    from houses_tune.results import baselines as base
    from houses_tune.results.bag import load_members, refit_member, train_members
    from houses_tune.results.candidates import best_candidates
    from houses_tune.results.choose import choose_trials
    from houses_tune.results.progress import ExportProgress
    from houses_tune.results.serving import build_serving_model
    from houses_tune.run import RunDir
    from houses_tune.search_spaces import HousesHyperModel

    started = time.perf_counter()
    candidates = []
    run_dir = RunDir(run)
    out = Path(options.out) if options.out is not None else run_dir.path / "best"
    check_destination(out)
    trials = run_dir.trials()
    if run_dir.status == "running" and not options.allow_running:
        raise ExportError(
            f"{run_dir.path}: its search is still running ({len(trials)} trials so far); "
            "wait for it to end, or pass --allow-running to export the best trial so far"
        )
    _check_candidates(options)
    chosen = choose_trials(trials, options.trial_id, max(options.ensemble, options.candidates))
    if options.saved_model and not installed("tensorflow"):
        raise ExportError(
            "the SavedModel needs TensorFlow, which is not installed: install it, or pass "
            "--no-saved-model to write model.keras only"
        )
    houses, splits, space = run_dir.load_dataset(), run_dir.splits, run_dir.space()
    if options.cv and not 2 <= options.cv <= len(houses):  # before hours of training
        raise ExportError(
            f"--cv must be between 2 and {len(houses)} (the houses), got {options.cv}"
        )
    seeds = [options.seed + i for i in range(options.baseline_seeds)]
    console = console or Console(stderr=True, highlight=False)
    networks = len(base.tutorials_for(houses))
    planned = _planned_models(options, chosen, run_dir.folds, seeds, networks)
    progress = ExportProgress(console, planned)

    hypermodel = HousesHyperModel(
        space,
        ModelData(houses, splits.search, run_dir.search.get("weights")),
        seed=run_dir.search["seed"],
    )
    test_rows = np.asarray(splits.test, dtype=np.int64)
    progress.start()
    try:
        if options.refit:
            members = [
                refit_member(hypermodel, t, splits.search, options.seed, progress) for t in chosen
            ]
        elif stopping := options.stopping():
            patience, epochs = stopping

            def train(trials: list) -> list:
                return train_members(
                    hypermodel, trials, splits.fold_rows(), patience, options.seed, progress,
                    epochs=epochs,
                )  # fmt: skip

            if len(chosen) > options.ensemble:
                progress.log(_candidates_line(chosen))
                chosen, members, candidates = best_candidates(train, chosen, options.ensemble)
                for line in _ranking_lines(candidates, hypermodel.objective):
                    progress.log(line)
            else:
                members = train(chosen)
        else:
            members = load_members(run_dir, chosen, hypermodel, splits)
        progress.log(_exported_line(options, chosen, members))
        model = build_serving_model(
            [(m.network, m.transform) for m in members],
            hypermodel.data.preprocessor,
            hypermodel.data.weights,
            geometric=houses.positive,
        )
        inputs = _test_inputs(model, houses, test_rows)
        predicted = model.predict(inputs, verbose=0, batch_size=256).reshape(-1).astype(np.float64)
        if not np.isfinite(predicted).all():  # a diverged model: say so before the baselines
            raise ExportError(
                f"the exported model of trial {chosen[0].trial_id} predicts non-finite prices "
                "for some test houses; try --trial with another trial"
            )
        frame = houses.frame
        simple = base.simple_prices(houses, splits.search, test_rows)
        tutorial = []
        if options.baselines:
            tutorial = base.train_tutorials(
                houses,
                base.split_jobs(splits.search, test_rows, seeds, base.tutorials_for(houses)),
                options.baseline_epochs,
                progress,
                progress.log,
                options.baseline_workers,
            )
        cv = None
        if options.cv:
            from houses_tune.results.crossval import cross_validate

            cv = cross_validate(
                houses,
                space,
                chosen,
                options.cv,
                search=run_dir.search,
                seed=options.seed,
                refit=options.refit,
                stopping=options.stopping(),
                precision=options.precision(run_dir.precision),
                tutorials=options.baselines,
                baseline_epochs=options.baseline_epochs,
                baseline_workers=options.baseline_workers,
                listener=progress,
                log=progress.log,
            )
    finally:
        progress.stop()

    from houses_tune.results.summary import summarize

    with staged_folder(out) as temp:
        console.print(f"writing {out}", highlight=False)
        model.save(temp / "model.keras")
        difference = _write_and_check(temp, inputs, predicted, options.saved_model)
        table = _predictions_frame(frame.iloc[test_rows].reset_index(drop=True), houses, predicted)
        table.to_csv(temp / "predictions.csv", index=False)
        summary = summarize(
            run_dir,
            options,
            chosen,
            members,
            trials,
            houses,
            splits,
            table,
            simple,
            tutorial,
            seeds,
            cv,
            difference,
            export_seconds=time.perf_counter() - started,
            candidates=candidates,
        )
        from houses_tune.results.report import write_report

        write_report(temp, summary, table, run_dir, chosen, members, trials)
    return ExportResult(out, summary)


def _planned_models(
    options: ExportOptions, chosen: list, folds: int, seeds: list, networks: int
) -> int:
    tutorials = networks * len(seeds) if options.baselines else 0
    ours = len(chosen) * (1 if options.refit else folds if options.stopping() else 0)
    shipped = min(len(chosen), options.ensemble)  # --candidates ships the best of chosen
    per_fold = shipped * (1 if options.refit else folds) + (networks * options.baselines)
    return tutorials + ours + options.cv * per_fold


def _check_candidates(options: ExportOptions) -> None:
    if options.candidates <= options.ensemble:
        return
    if options.trial_id is not None:
        raise ExportError("--candidates chooses among the best trials: not with --trial")
    if not options.stopping():
        raise ExportError(
            "--candidates compares the bags export trains: not with --refit or --max-epochs 0"
        )


def _candidates_line(trials: list) -> str:
    ids = ", ".join(t.trial_id for t in trials)
    return f"training the bags of trials {ids} to choose by their validation scores"


def _ranking_lines(candidates: list, objective) -> list[str]:
    return [
        f"  trial {c.trial.trial_id}: {objective.format(c.score)} trained again "
        f"(search {objective.format(c.trial.score)})"
        for c in candidates
    ]


def _exported_line(options: ExportOptions, chosen: list, members: list) -> str:
    ids = ", ".join(t.trial_id for t in chosen)
    if options.refit:
        return f"exporting a refit of trial {ids} on all search houses (for comparison)"
    whose = "" if options.stopping() else "the search's "
    return (
        f"exporting a bag of {len(members)} {whose}fold models of "
        f"trial{'s' * (len(chosen) > 1)} {ids}"
    )


def _test_inputs(model, houses, rows: np.ndarray) -> dict[str, np.ndarray]:
    from houses_tune.results.serving import photo_tile, raw_inputs

    tile = photo_tile(model, houses.n_images)
    photos = houses.photos(tile)[rows] if tile else None
    return raw_inputs(model, houses.frame.iloc[rows], photos, houses.schema.images)


def _write_and_check(folder: Path, inputs: dict, expected: np.ndarray, saved: bool) -> float:
    """Reload ``model.keras`` safely (and write the SavedModel); check both give ``expected``.

    Returns:
        The largest relative difference from ``expected``.
    """
    from houses_tune.results.saved_model import write_saved_model
    from houses_tune.results.serving import load_exported_model

    reloaded = load_exported_model(folder / "model.keras")
    results = [("model.keras", reloaded.predict(inputs, verbose=0, batch_size=256).reshape(-1))]
    if saved:
        path = folder / "saved_model"
        results.append(("saved_model", write_saved_model(folder / "model.keras", path, inputs)))
    worst = 0.0
    # Relative to each price, or to the typical size where a target is near zero.
    scale = np.maximum(np.abs(expected), 1e-3 * np.mean(np.abs(expected)))
    for name, got in results:
        difference = float(np.max(np.abs(got - expected) / scale))
        if not difference < SAVED_MODEL_TOLERANCE:
            raise ExportError(
                f"{name} predictions differ from the trained model's by {difference:.2e} "
                f"(relative, more than {SAVED_MODEL_TOLERANCE})"
            )
        worst = max(worst, difference)
    return worst


def _predictions_frame(test: pd.DataFrame, houses, predicted: np.ndarray) -> pd.DataFrame:
    """Test rows (id, attributes, target) with predictions rounded to cents and their
    errors (``error_pct``: percent of the target; ``error``: predicted - target for a
    dataset whose targets are not all positive); metrics are computed from this frame, so
    every number of metrics.json can be recomputed from predictions.csv."""
    from houses_tune.results.metrics import percentage_errors

    schema = houses.schema
    columns = [schema.id, *(c for c in test.columns if c in schema.attributes), schema.target]
    frame = test[columns].copy()
    frame["predicted"] = np.round(predicted, 2)
    actual = frame[schema.target]
    if houses.positive:
        frame["error_pct"] = percentage_errors(actual, frame["predicted"])
    else:
        frame["error"] = frame["predicted"] - actual
    return frame
