"""``houses-tune search``, ``trials`` and ``board``: run a search, inspect it, open TensorBoard.

Flags are validated by click parameter types before any work (exit code 2, one line,
nothing written); the work itself is ``houses_tune.tuner.search.run_search``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from houses_tune.tuner.budget import TUNERS, parse_budget
from houses_tune.tuner.devices import DEVICE_CHOICES

#: Settings recorded as "given on the command line" (a resume checks them against run.json).
_SETTING_PARAMS = (
    "dataset", "space", "budget", "max_epochs", "factor", "tuner", "seed",
    "min_zip_count", "val_size", "test_size", "val_seed", "splits_file",
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


#: ``--device``, shared by ``search`` and ``worker``.
device_option = click.option(
    "--device", type=click.Choice(DEVICE_CHOICES), default="auto", show_default=True,
    help="Train on the GPU when there is one (auto), or force cpu / gpu.",
)  # fmt: skip


def _select_devices(settings):
    """Choose the devices and say which; before Keras is imported, so cpu hides the GPUs."""
    from houses_tune.tuner.devices import prepare_environment, release_gpus, select_devices

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
@click.option(
    "--dataset",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Houses dataset folder (HousesInfo.txt + photos).  [default: embedded dataset]",
)
@click.option(
    "--space", type=SpaceType, default="mixed", show_default=True,
    help="Preset name (houses-tune spaces list) or a YAML space file.",
)  # fmt: skip
@click.option(
    "--budget", type=BudgetType(), metavar="EPOCHS|DURATION",
    help="Total training epochs over all trials (600), or wall-clock time (45m, 2h, 1h30m).",
)  # fmt: skip
@click.option(
    "--max-epochs", type=click.IntRange(min=1),
    help="Hyperband: most epochs of one model (cap, default 100). Random/bayesian: "
    "epochs per trial (default 20).",
)  # fmt: skip
@click.option(
    "--factor", type=click.IntRange(min=2), default=3, show_default=True,
    help="Hyperband's reduction factor.",
)  # fmt: skip
@click.option(
    "--tuner", type=click.Choice(TUNERS), default="hyperband", show_default=True,
    help="KerasTuner algorithm.",
)  # fmt: skip
@click.option("--run", "run_name", help="Run name: results go to RESULTS_DIR/RUN.  [default: time]")
@click.option(
    "--results-dir", type=click.Path(file_okay=False, path_type=Path), default="results",
    show_default=True, help="Folder holding the runs.",
)  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of tuner and models.")
@click.option("--resume", is_flag=True, help="Continue the run named by --run.")
@click.option("--overwrite", is_flag=True, help="Delete the run named by --run and start over.")
@click.option("--dry-run", is_flag=True, help="Print the plan and stop.")
@click.option("-v", "--verbose", is_flag=True, help="Per-epoch Keras output, a line per trial.")
@click.option(
    "--min-zip-count", type=click.IntRange(min=0), default=25, show_default=True,
    help="Drop houses whose zip code has fewer houses (the tutorials' filter).",
)  # fmt: skip
@click.option(
    "--val-size", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.2,
    show_default=True, help="Fraction of the training part used to score trials.",
)  # fmt: skip
@click.option(
    "--test-size", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.25,
    show_default=True, help="Fraction held out for export's test (never seen by the search).",
)  # fmt: skip
@click.option(
    "--val-seed", type=int, default=0, show_default=True,
    help="Seed of the validation split (the test split is always the tutorials').",
)  # fmt: skip
@click.option(
    "--splits", "splits_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Use the train/val/test indices of a splits.json (e.g. another run's).",
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
def search(ctx, run_name, results_dir, resume, overwrite, dry_run, verbose, **options) -> None:
    """Search for the best network within a budget of epochs or time.

    Hyperband by default. The plan (brackets, trials, epochs) is printed before training.
    Ctrl-C stops cleanly; --resume continues the run and keeps every finished trial.
    """
    from houses_tune.errors import SearchError
    from houses_tune.tuner.search import SearchSettings, prepare_search, run_search

    if resume and overwrite:
        raise SearchError("use either --resume or --overwrite, not both")
    if resume and not run_name:
        raise SearchError("--resume needs --run NAME (the run to continue)")
    if options["budget"] is None and not resume:
        raise SearchError("--budget is required (epochs such as 600, or a duration such as 45m)")
    explicit = frozenset(
        name
        for name in _SETTING_PARAMS
        if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
    )
    settings = SearchSettings(
        run=run_name,
        results_dir=results_dir,
        resume=resume,
        overwrite=overwrite,
        dry_run=dry_run,
        verbose=verbose,
        explicit=explicit,
        argv=["houses-tune", *sys.argv[1:]],
        **options,
    )
    console = _stderr_console()
    # Bad flags and run folder problems: before any work. A resume's stored settings
    # (its precision among them) decide the devices.
    resolved = prepare_search(settings)[0]
    if not dry_run:
        settings.device_plan = _select_devices(resolved)
    outcome = run_search(settings, console)
    if dry_run:
        click.echo("\n".join(outcome.plan.describe()))
        return
    best = (
        f"best val MAPE {outcome.best_score:.2f}% (trial {outcome.best_trial})"
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
    """List the trials of RUN, best first: id, status, epochs, val MAPE, hyperparameters."""
    from rich.console import Console

    from houses_tune.results.run_dir import RunDir
    from houses_tune.results.trials import trials_json, trials_table

    run_dir = RunDir(run)
    records = run_dir.trials()[:top] if top else run_dir.trials()
    if as_json:
        click.echo(trials_json(records))
        return
    console = Console(width=None if sys.stdout.isatty() else 200, highlight=False)
    title = f"{run_dir.name}: {run_dir.status}, {len(run_dir.trials())} trials"
    console.print(trials_table(records, title=title))


@click.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=6006, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
def board(run, port, host) -> None:
    """Start TensorBoard on RUN's logs and wait (Ctrl-C stops it)."""
    import subprocess

    from houses_tune.errors import RunError
    from houses_tune.results.run_dir import RunDir

    run_dir = RunDir(run)
    if not run_dir.tensorboard_dir.is_dir():
        raise RunError(f"{run_dir.path} has no TensorBoard logs yet ({run_dir.tensorboard_dir})")
    command = [
        sys.executable, "-m", "tensorboard.main", "--logdir", str(run_dir.tensorboard_dir),
        "--host", host, "--port", str(port),
    ]  # fmt: skip
    process = subprocess.Popen(command)
    click.echo(f"TensorBoard for {run_dir.name} at http://{host}:{port}/ (Ctrl-C to stop)")
    try:
        code = process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait()
        return
    if code:
        raise RunError(f"TensorBoard exited with code {code} (port {port} in use?)")
