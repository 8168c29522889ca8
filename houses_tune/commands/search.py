"""``houses-tune search``, ``trials`` and ``board``: run a search, inspect it, open TensorBoard.

Flags are validated by click parameter types before any work (exit code 2, one line,
nothing written); the work itself is ``houses_tune.tuner.search.run_search``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from houses_tune.commands.options import (
    TABLE_OPTIONS,
    backend_option,
    device_option,
    pop_dataset_options,
    seed_option,
    split_options,
)
from houses_tune.tuner.budget import TUNERS, parse_budget

#: Settings recorded as "given on the command line" (a resume checks them against run.json).
_SETTING_PARAMS = (
    "dataset", "space", "budget", "max_epochs", "min_epochs", "factor", "tuner", "seed",
    "min_zip_count",
    "folds", "val_size", "test_size", "val_seed", "splits_file", "patience", "backend",
    "weights",
)  # fmt: skip


class BudgetType(click.ParamType):
    """``--budget``: epochs (``600``) or a duration (``90s``, ``45m``, ``2h``, ``1h30m``)."""

    name = "budget"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            return value
        try:
            return parse_budget(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


class CheckedText(click.ParamType):
    """Text that ``check`` accepts (it raises ``HousesTuneError`` otherwise); kept as given."""

    def __init__(self, name: str, check: Callable[[str], object]) -> None:
        self.name = name
        self.check = check

    def convert(self, value, param, ctx):
        from houses_tune.errors import HousesTuneError

        try:
            self.check(value)
        except HousesTuneError as error:
            self.fail(error.format_message(), param, ctx)
        return value


# The checks import on use, so --help and flag errors stay fast (no Keras, no gRPC).
def _check_address(text: str) -> None:
    from houses_tune.tuner.distributed.environment import parse_address

    parse_address(text)


def _check_space(text: str) -> None:
    from houses_tune.search_spaces import load_space

    load_space(text)


#: ``HOST:PORT`` for ``--listen`` and ``--chief``.
AddressType = CheckedText("address", _check_address)
#: ``--space``: a preset name or a YAML file.
SpaceType = CheckedText("space", _check_space)


def _select_devices(settings):
    """Choose backend and devices and say which; before Keras is imported, so --backend
    takes effect and --device cpu hides the GPUs."""
    from houses_tune.backend import use_backend
    from houses_tune.tuner.devices import prepare_environment, release_gpus, select_devices

    use_backend(settings.backend)
    prepare_environment(settings.device)
    plan = select_devices(settings.device, settings.mixed_precision)
    click.echo(plan.describe(), err=True)
    if settings.workers or settings.listen:
        release_gpus()  # the chief only serves the oracle; the cards are the workers'
    return plan


def _stderr_console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


@click.command()
@split_options
@click.option(
    "--space", type=SpaceType, default="mixed", show_default=True,
    help="Preset name (houses-tune spaces list) or a YAML space file.",
)  # fmt: skip
@click.option(
    "--budget", type=BudgetType(), metavar="EPOCHS|DURATION",
    help="Epochs of all fold models of all trials together (3000), or wall-clock time "
    "(45m, 2h, 1h30m).",
)  # fmt: skip
@click.option(
    "--max-epochs", type=click.IntRange(min=1),
    help="Hyperband: most epochs of one model (cap, default 100). Random/bayesian: "
    "epochs per trial (default 20).",
)  # fmt: skip
@click.option(
    "--min-epochs", type=click.IntRange(min=1), default=3, show_default=True,
    help="Hyperband: the fewest epochs of a trial's first round.",
)  # fmt: skip
@click.option(
    "--factor", type=click.IntRange(min=2), default=3, show_default=True,
    help="Hyperband's reduction factor.",
)  # fmt: skip
@click.option(
    "--tuner", type=click.Choice(TUNERS), default="hyperband", show_default=True,
    help="KerasTuner algorithm.",
)  # fmt: skip
@click.option(
    "--patience", type=click.IntRange(min=1), default=10, show_default=True,
    help="Stop a fold model after this many epochs without a better validation score.",
)  # fmt: skip
@click.option("--run", "run_name", help="Run name: results go to RESULTS_DIR/RUN.  [default: time]")
@click.option(
    "--results-dir", type=click.Path(file_okay=False, path_type=Path), default="results",
    show_default=True, help="Folder holding the runs.",
)  # fmt: skip
@seed_option
@click.option("--resume", is_flag=True, help="Continue the run named by --run.")
@click.option("--overwrite", is_flag=True, help="Delete the run named by --run and start over.")
@click.option("--dry-run", is_flag=True, help="Print the plan and stop.")
@click.option("-v", "--verbose", is_flag=True, help="Per-epoch Keras output, a line per trial.")
@click.option(
    "--splits", "splits_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Use the test rows (and search rows, folds) of a splits file, e.g. another run's "
    "splits.json.",
)  # fmt: skip
@backend_option
@click.option(
    "--weights", metavar="imagenet|DIR|random",
    help="Weights of pretrained photo backbones (--space backbone): imagenet (Keras "
    "downloads them, online), a folder of weight files, or random (timing and tests only).",
)  # fmt: skip
@device_option
@click.option(
    "--mixed-precision", is_flag=True,
    help="Compute in float16 (GPU) / bfloat16 (CPU); output layer and loss stay float32.",
)  # fmt: skip
@click.option(
    "--workers", type=click.IntRange(min=0), default=0, show_default=True,
    help="Train in N worker processes (one GPU each); this process becomes the chief.",
)  # fmt: skip
@click.option(
    "--listen", type=AddressType, metavar="HOST:PORT",
    help="Let workers on other machines join (e.g. 0.0.0.0:8000); see houses-tune worker.",
)  # fmt: skip
@click.pass_context
def search(ctx, run_name, verbose, **options) -> None:
    """Search for the best network within a budget of epochs or time.

    Hyperband by default; every trial is trained and scored on --folds folds of the
    search houses. The plan (brackets, trials, epochs) is printed before training.
    Ctrl-C or SIGTERM stops cleanly (exit code 130); --resume continues the run and keeps
    every finished trial.
    """
    from houses_tune.tuner.job import SearchSettings, prepare_search
    from houses_tune.tuner.search import run_search

    given = {
        name
        for name in (*_SETTING_PARAMS, *TABLE_OPTIONS)
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
    }
    explicit = frozenset(given - set(TABLE_OPTIONS)) | (
        {"dataset_options"} if given & set(TABLE_OPTIONS) else set()
    )
    dataset_options = pop_dataset_options(options)
    settings = SearchSettings(
        run=run_name, verbose=verbose, explicit=explicit, dataset_options=dataset_options,
        argv=("houses-tune", *sys.argv[1:]), **options,
    )  # fmt: skip
    job = prepare_search(settings)  # every flag and run folder check, before any work
    if job.settings.dry_run:
        click.echo("\n".join(job.plan.describe()))
        return
    # A resume's stored settings (backend, precision) decide the devices.
    devices = _select_devices(job.settings)
    outcome = run_search(job, devices, _stderr_console())
    objective = outcome.objective
    best = (
        f"best val {objective.label} {objective.format(outcome.best_score)} "
        f"(trial {outcome.best_trial})"
        if outcome.best_score is not None
        else "no completed trial"
    )
    click.echo(
        f"{outcome.run_dir}: {outcome.status}, {outcome.trials} trials "
        f"({outcome.completed} completed), {outcome.epochs} epochs, {best}"
    )
    if outcome.message and outcome.status == "finished":
        click.echo(f"stopped: {outcome.message}", err=True)
    if outcome.status == "interrupted":
        click.echo(f"Interrupted. Resume with: {outcome.resume_command}", err=True)
        ctx.exit(130)
    click.echo(f"next: houses-tune trials {outcome.run_dir}", err=True)


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--top", type=click.IntRange(min=1), help="Show only the N best trials.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def trials(run, top, as_json) -> None:
    """List the trials of RUN, best first: id, status, epochs, val score, hyperparameters."""
    from rich.console import Console

    from houses_tune.results.trials import trials_json, trials_table
    from houses_tune.run import RunDir

    run_dir = RunDir(run)
    records = run_dir.trials()[:top] if top else run_dir.trials()
    if as_json:
        click.echo(trials_json(records))
        return
    console = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
    title = f"{run_dir.name}: {run_dir.status}, {len(run_dir.trials())} trials"
    console.print(trials_table(records, title=title, objective=run_dir.objective))


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--port", type=click.IntRange(1, 65535), default=6006, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
def board(run, port, host) -> None:
    """Start TensorBoard on RUN's logs and wait (Ctrl-C or SIGTERM stops both)."""
    from houses_tune.errors import RunError
    from houses_tune.results.board import serve_board
    from houses_tune.run import RunDir

    run_dir = RunDir(run)
    if not run_dir.tensorboard_dir.is_dir():
        raise RunError(f"{run_dir.path} has no TensorBoard logs yet ({run_dir.tensorboard_dir})")

    def started() -> None:
        click.echo(f"TensorBoard for {run_dir.name} at http://{host}:{port}/ (Ctrl-C to stop)")

    try:
        serve_board(run_dir.tensorboard_dir, host, port, started)
    except KeyboardInterrupt:
        return  # the way to stop it: TensorBoard is stopped too
