"""``houses-tune worker``: run trials for a distributed search whose chief runs elsewhere."""

from __future__ import annotations

from pathlib import Path

import click

from houses_tune.commands.options import device_option
from houses_tune.commands.search import AddressType


def _tuner_id(ctx, param, value):
    """``--tuner-id``: checked before any work, like every other flag."""
    from houses_tune.tuner.distributed.environment import check_tuner_id

    return value if value is None else check_tuner_id(value)


@click.command()
@click.option(
    "--chief", type=AddressType, metavar="HOST:PORT",
    help="Address of the chief (houses-tune search --listen ...).  [default: from run.json]",
)  # fmt: skip
@click.option(
    "--run-dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The search's run folder, shared with the chief.  [default: the running "
    "distributed run in --results-dir]",
)  # fmt: skip
@click.option(
    "--results-dir", type=click.Path(file_okay=False, path_type=Path), default="results",
    show_default=True, help="Where to look for the run when --run-dir is not given.",
)  # fmt: skip
@click.option(
    "--tuner-id", callback=_tuner_id,
    help="This worker's id (unique per search).  [default: HOST-PID]",
)  # fmt: skip
@device_option
@click.option("-v", "--verbose", is_flag=True, help="Per-epoch Keras output.")
def worker(chief, run_dir, results_dir, tuner_id, device, verbose) -> None:
    """Join a distributed search: take trials from its chief until there are none left.

    Every worker needs the run folder (a shared filesystem) and the dataset at the
    same path as the chief; settings, backend and precision come from the run's run.json.
    """
    from houses_tune.backend import use_backend
    from houses_tune.run import RunDir
    from houses_tune.tuner.devices import prepare_environment, select_devices
    from houses_tune.tuner.distributed import find_run, run_worker

    folder = run_dir or find_run(results_dir, chief)
    search = RunDir(folder).search
    # Before anything imports Keras; the chief's backend and precision, so all trials are
    # trained alike.
    use_backend(search.get("backend", "auto"))
    prepare_environment(device)
    plan = select_devices(device, mixed_precision=bool(search.get("mixed_precision")))
    click.echo(f"Worker {tuner_id or ''} {plan.describe()}".replace("  ", " "), err=True)
    beat = run_worker(folder, chief, tuner_id, plan, verbose)
    click.echo(f"worker {beat['tuner_id']}: {beat['state']}, {beat.get('trials', 0)} trial(s)")
