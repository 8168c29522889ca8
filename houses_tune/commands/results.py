"""``houses-tune export`` and ``houses-tune predict``: ship the winner, use it on new houses."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from houses_tune.errors import PredictError


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Export folder.  [default: RUN/best]")
@click.option("--trial", "trial_id", metavar="ID", help="Export this trial instead of the best.")
@click.option(
    "--cv",
    type=click.IntRange(min=0),
    default=0,
    metavar="K",
    help="Also report K-fold cross-validated MAPE of the configuration (K >= 2).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every fit.")
@click.option(
    "--baseline-epochs",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Epochs of each tutorial baseline network (the tutorials' value).",
)
@click.option(
    "--baseline-seeds",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Train each tutorial baseline network with this many seeds (SEED, SEED+1, ...) "
    "and compare with its median test MAPE.",
)
@click.option(
    "--no-baselines",
    is_flag=True,
    help="Skip the tutorial networks (the per-zip median and ridge baselines still run).",
)
def export(run, out, trial_id, cv, seed, baseline_epochs, baseline_seeds, no_baselines) -> None:
    """Refit the best trial of RUN, evaluate it on the test split, write model and report.

    Writes model.keras (raw inputs -> dollars), saved_model/, report.html, report.md,
    metrics.json and predictions.csv into RUN/best (or --out), all at once at the end.
    """
    from houses_tune.backend import import_keras

    import_keras()
    from houses_tune.results.export import export_run
    from houses_tune.results.report import baseline_mape

    result = export_run(
        run, out, trial_id, cv=cv, seed=seed, baselines=not no_baselines,
        baseline_epochs=baseline_epochs, baseline_seeds=baseline_seeds,
    )  # fmt: skip
    summary = result.summary
    click.echo(f"exported trial {summary['trial']['id']} to {result.out}")
    click.echo(f"test MAPE {summary['test']['mape']:.2f}% on {summary['test']['n']} houses")
    for label, baseline in summary["baselines"].items():
        verdict = "beaten" if baseline["beaten"] else "NOT beaten"
        click.echo(f"  {label}: {baseline_mape(baseline)} ({verdict})")
    if summary["cv"]:
        cv_result = summary["cv"]
        click.echo(
            f"{cv_result['k']}-fold CV MAPE {cv_result['mape_mean']:.2f}% "
            f"± {cv_result['mape_std']:.2f}"
        )
    click.echo(f"report: {result.out / 'report.html'}")


@click.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--houses",
    "houses_file",
    required=True,
    type=click.Path(path_type=Path),
    help="CSV with bedrooms,bathrooms,area,zipcode[,id], or a dataset folder.",
)
@click.option(
    "--images",
    type=click.Path(path_type=Path),
    help="Folder of <id>_<room>.jpg photos (default: the dataset folder).",
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
    for zipcode in result.unseen_zips:
        click.echo(
            f"warning: zip code {zipcode} was not in the training data; its houses are "
            "predicted without a zip code effect",
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
