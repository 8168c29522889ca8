"""The ``houses-tune`` command line: a click group that parses, calls and prints.

Commands live in ``houses_tune.commands``, one module per area; this module only
assembles them and turns every error into one line on stderr with exit code 2.
"""

import contextlib
import os
import signal
import sys
from collections.abc import Iterator

import click

from houses_tune import __version__

# Quiet TensorFlow's C++ start-up chatter before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="houses-tune")
def cli() -> None:
    """Find the best neural network for house prices from photos and attributes."""


def _register() -> None:
    from houses_tune.commands import ALL_COMMANDS

    for command in ALL_COMMANDS:
        cli.add_command(command)


_register()


@contextlib.contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """SIGTERM (``kill``, a job scheduler, ``docker stop``) stops a command as Ctrl-C does,
    so every command's Ctrl-C handling (a search saving its state, an export removing its
    temporary folder) also runs on it."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI; print errors as one line and exit 2 (130 on Ctrl-C or
    SIGTERM)."""
    with _sigterm_as_ctrl_c():
        try:
            code = cli.main(args=argv, prog_name="houses-tune", standalone_mode=False)
        except click.exceptions.Exit as done:
            sys.exit(done.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except click.ClickException as error:
            click.echo(f"Error: {error.format_message()}", err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
    # Not in standalone mode, click returns the code a command gave ``ctx.exit`` (e.g. 130
    # for an interrupted search) instead of exiting with it.
    if isinstance(code, int) and code:
        sys.exit(code)
