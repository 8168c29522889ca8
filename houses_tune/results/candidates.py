"""Choosing what export ships by the bag it trains, not by the search's fold models.

The search ranked the configurations by fold models that Hyperband's rounds cut short;
export trains the bag again for longer (``bag.train_members``), and that can rank them
differently. With ``--candidates N`` export trains the bags of the N best configurations on
the search's folds and ships the best of them by the search's own objective (the mean over
folds of each fold model's best validation score), now measured on the models that ship.
The test split plays no part in the choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass
class Candidate:
    """One configuration export trained again to choose among.

    Attributes:
        trial: Its ``TrialRecord``.
        members: Its bag trained again, one ``Member`` per fold.
        score: The mean over folds of their best validation scores; None if a fold model
            has no finite score (a diverged one), which ranks it last.
    """

    trial: object
    members: list
    score: float | None


def bag_score(members: list) -> float | None:
    """The mean of the members' validation scores, None if one is missing or not finite."""
    scores = [m.score for m in members]
    if not scores or any(s is None or not math.isfinite(s) for s in scores):
        return None
    return sum(scores) / len(scores)


def best_candidates(train, trials: list, keep: int) -> tuple[list, list, list[Candidate]]:
    """Train the bag of every one of ``trials`` and keep the ``keep`` best (lowest)
    ``bag_score``s.

    Args:
        train: ``[trial] -> [Member, ...]``: trains the bags of the trials given.
        trials: The candidates, best search objective first (ties keep this order).
        keep: How many configurations to ship.

    Returns:
        ``(chosen trials, their members, every Candidate, best first)``.
    """
    candidates = []
    for trial in trials:
        members = train([trial])
        candidates.append(Candidate(trial, members, bag_score(members)))
    ranked = sorted(candidates, key=lambda c: (c.score is None, c.score or 0.0))
    kept = ranked[:keep]
    return [c.trial for c in kept], [m for c in kept for m in c.members], ranked
