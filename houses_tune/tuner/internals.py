"""Every use of KerasTuner's private parts, in one place.

houses-tune uses KerasTuner through its public API, except for what is here: each function
names the private part it touches and has a contract test in
``tests/tuner/test_internals.py`` that fails loudly when KerasTuner changes. The tested
range is pinned in pyproject.toml.
"""

from __future__ import annotations


def set_min_epochs(oracle, min_epochs: int) -> None:
    """Make a new ``HyperbandOracle`` start no bracket below ``min_epochs`` epochs.

    KerasTuner's ``HyperbandOracle.__init__`` sets ``min_epochs = 1`` (no argument for it)
    and opens its most aggressive bracket from it (``_current_bracket``, ``_brackets``,
    ``_start_new_bracket``); ``_get_num_brackets`` reads it later and the oracle's state
    (oracle.json) keeps it, so a resumed search plans the same brackets. Call before the
    first trial.
    """
    oracle.min_epochs = int(min_epochs)
    oracle._current_bracket = oracle._get_num_brackets() - 1
    oracle._brackets = []
    oracle._start_new_bracket()
