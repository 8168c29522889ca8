"""``houses-tune spaces ...``: list the preset search spaces and show one in detail."""

import sys

import click


def _console():
    from rich.console import Console

    # Piped output keeps one row per line instead of wrapping at 80 columns.
    return Console(width=None if sys.stdout.isatty() else 200, highlight=False)


@click.group()
def spaces() -> None:
    """List and inspect search spaces (presets and YAML files)."""


@spaces.command("list")
def list_spaces() -> None:
    """Print the preset spaces, one per line."""
    from houses_tune.search_spaces import DEFAULT_SPACE, PRESETS

    width = max(len(name) for name in PRESETS)
    for name, space in PRESETS.items():
        mark = " (default)" if name == DEFAULT_SPACE else ""
        click.echo(f"{name:<{width}}  {space.description}{mark}")


@spaces.command("show")
@click.argument("space")
@click.option(
    "--yaml", "as_yaml", is_flag=True, help="Print the space as a YAML file to start your own from."
)
def show_space(space: str, as_yaml: bool) -> None:
    """Print every hyperparameter of SPACE (a preset name or a YAML file).

    Columns: name, choices or range, default, and when it is active.
    Hyperparameters the space makes impossible are left out.
    """
    from houses_tune.search_spaces.space import format_value, load_space

    loaded = load_space(space)
    if as_yaml:
        import yaml

        click.echo(yaml.safe_dump(loaded.to_dict(), sort_keys=False), nl=False)
        return
    from rich.table import Table

    table = Table(title=f"{loaded.name}: {loaded.description}", title_justify="left")
    for column in ("hyperparameter", "choices / range", "default", "active when"):
        table.add_column(column)
    for param in loaded.active_params():
        table.add_row(param.name, param.describe(), format_value(param.default), param.condition())
    _console().print(table)
