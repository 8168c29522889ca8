"""``houses-tune export`` and ``houses-tune predict``: ship the winner, use it on new houses."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from houses_tune.commands.options import backend_option, seed_option
from houses_tune.errors import ExportError, PredictError
from houses_tune.results.bag_stopping import BAG_EPOCHS, BAG_PATIENCE


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Export folder.  [default: RUN/best]")
@click.option("--trial", "trial_id", metavar="ID", help="Export this trial instead of the best.")
@click.option(
    "--ensemble", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
    help="Bag the fold models of the N best configurations (with the same photo size).",
)  # fmt: skip
@click.option(
    "--candidates", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
    help="Train the bags of the N best configurations again (as --max-epochs trains) and "
    "ship the best of them (the --ensemble best) by their validation score on the "
    "search's folds.",
)  # fmt: skip
@click.option(
    "--refit", is_flag=True,
    help="Ship one model refit on all search houses for the trial's best epoch count "
    "instead of the bag (for comparison only).",
)  # fmt: skip
@click.option(
    "--max-epochs", type=click.IntRange(min=0), metavar="N",
    help="Train the bag's fold models again on the search's folds, each for at most N epochs "
    "(or its trial's, if more) and stopped early by --patience (and so the --cv pipeline); "
    f"0 ships the search's own fold models.  [default: {BAG_EPOCHS}]",
)  # fmt: skip
@click.option(
    "--patience", type=click.IntRange(min=1), metavar="P",
    help="Stop each fold model --max-epochs trains when its validation score has not "
    f"improved for P epochs.  [default: {BAG_PATIENCE}]",
)  # fmt: skip
@click.option(
    "--cv", type=click.IntRange(min=2), metavar="K",
    help="Also score the whole pipeline and every baseline on K folds of all houses (K >= 2).",
)  # fmt: skip
@seed_option
@click.option(
    "--baseline-epochs", type=click.IntRange(min=1), default=200, show_default=True,
    help="Epochs of each tutorial baseline network (the tutorials' value).",
)  # fmt: skip
@click.option(
    "--baseline-seeds", type=click.IntRange(min=1), default=3, show_default=True,
    help="Train each tutorial baseline network with this many seeds (SEED, SEED+1, ...) "
    "and compare with its median test MAPE.",
)  # fmt: skip
@click.option(
    "--baseline-workers", type=click.IntRange(min=1), metavar="N",
    help="Train up to N tutorial baseline networks at once, in worker processes.  "
    "[default: one per core]",
)  # fmt: skip
@click.option(
    "--no-baselines", is_flag=True,
    help="Skip the tutorial networks (the per-group median, ridge and gradient boosting "
    "baselines still run).",
)  # fmt: skip
@click.option(
    "--allow-running", is_flag=True,
    help="Export the best trial so far of a run whose search is still running.",
)  # fmt: skip
@click.option(
    "--saved-model/--no-saved-model", default=True, show_default=True,
    help="Also write a TensorFlow SavedModel (needs TensorFlow) beside model.keras.",
)  # fmt: skip
@backend_option
def export(run, backend, no_baselines, **options) -> None:
    """Ship the best configuration of RUN: its fold models bagged into one model.

    Evaluates it once on the test split, next to baselines trained on the same houses,
    and writes model.keras (raw inputs -> dollars), saved_model/, report.html, report.md,
    metrics.json and predictions.csv into RUN/best (or --out), all at once at the end.
    """
    from houses_tune.backend import import_keras, use_backend
    from houses_tune.run import RunDir

    if options["refit"] and options["max_epochs"]:
        raise ExportError("--refit and --max-epochs ship different models: pass one")
    if options["patience"] is not None and (options["refit"] or options["max_epochs"] == 0):
        raise ExportError("--patience stops the fold models --max-epochs N trains: "
                          "not with --refit or --max-epochs 0")  # fmt: skip
    options = {k: v for k, v in options.items() if v is not None}  # ExportOptions' defaults
    record = RunDir(run)
    text = record.settings.get("dataset", {}).get("text_categories")
    if text and backend == "jax":
        raise ExportError(
            f"{run}: categorical column(s) of text ({', '.join(text)}) need the TensorFlow "
            "backend (JAX has no string tensors); use --backend tensorflow or auto"
        )
    # Text categories need TensorFlow, as photo networks run faster on it (auto's rule).
    use_backend(backend, photos=record.space().has_photos or bool(text))
    import_keras()
    from houses_tune.results.export import ExportOptions, export_run
    from houses_tune.results.report import baseline_score

    result = export_run(run, ExportOptions(baselines=not no_baselines, **options))
    summary = result.summary
    exported = summary["exported"]
    ids = ", ".join(t["id"] for t in exported["trials"])
    kind = "a refit" if exported["kind"] == "refit" else f"a bag of {exported['members']} models"
    click.echo(f"exported trial {ids} ({kind}) to {result.out}")
    items, objective = summary["dataset"].get("items", "houses"), record.objective
    score = objective.format(summary["test"]["score"])
    click.echo(f"test {objective.label} {score} on {summary['test']['n']} {items}")
    for label, baseline in summary["baselines"].items():
        verdict = "beaten" if baseline["beaten"] else "NOT beaten"
        click.echo(f"  {label}: {baseline_score(baseline, objective)} ({verdict})")
    if summary["cv"]:
        cv = summary["cv"]
        click.echo(f"{cv['k']}-fold CV {objective.label} (same folds for all):")
        for label, model in cv["models"].items():
            mean, std = objective.format(model["score_mean"]), objective.number(model["score_std"])
            click.echo(f"  {label}: {mean} ± {std}")
    click.echo(summary["verdict"]["sentence"])
    click.echo(f"report: {result.out / 'report.html'}")


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--houses",
    "houses_file",
    required=True,
    type=click.Path(path_type=Path),
    help="CSV with the model's attribute columns (Houses: bedrooms,bathrooms,area,zipcode) "
    "[and id, image path columns], or a Houses dataset folder.",
)
@click.option(
    "--images",
    type=click.Path(path_type=Path),
    help="Folder of the images: <id>_<column>.jpg, or the base of the CSV's image paths "
    "(default: the dataset folder, or the CSV's).",
)
@click.option(
    "--out", type=click.Path(path_type=Path), help="Write the predictions CSV here (else stdout)."
)
def predict(model, houses_file, images, out) -> None:
    """Predict prices of new houses with an exported MODEL (model.keras)."""
    from houses_tune.backend import import_keras

    import_keras()
    from houses_tune.results.predict import predict_houses

    result = predict_houses(model, houses_file, images)
    for line in result.far_outside:
        click.echo(f"warning: {line}", err=True)
    for column, values in result.unseen.items():
        what = "zip code" if column == "zipcode" else column
        for value in values:
            click.echo(
                f"warning: {what} {value} was not in the training data; its rows are "
                f"predicted without a {what} effect",
                err=True,
            )
    if out is None:
        result.frame.to_csv(sys.stdout, index=False)
    else:
        try:
            result.frame.to_csv(out, index=False)
        except OSError as error:
            raise PredictError(f"{out}: cannot write: {error.strerror or error}") from None
        click.echo(f"wrote {len(result.frame)} predictions to {out}", err=True)
