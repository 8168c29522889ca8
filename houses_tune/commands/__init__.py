"""Thin click commands, one module per area; ``cli.py`` registers ``ALL_COMMANDS``."""

from houses_tune.commands.data import data
from houses_tune.commands.results import export, predict
from houses_tune.commands.search import board, search, trials
from houses_tune.commands.spaces import spaces
from houses_tune.commands.worker import worker

ALL_COMMANDS = [data, spaces, search, trials, board, export, predict, worker]
