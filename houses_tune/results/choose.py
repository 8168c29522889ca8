"""Which trials an export ships: the best one, a named one, or the N best."""

from __future__ import annotations

from houses_tune.errors import ExportError


def ranked(trials: list) -> list:
    """Trials with a score for every fold, best first (the ones an export may ship)."""
    return [t for t in trials if t.complete]


def choose_trials(trials: list, trial_id: str | None = None, ensemble: int = 1) -> list:
    """The trials to export, best first.

    Without ``trial_id``: the ``ensemble`` best complete trials whose photos (if any) have
    the size of the best one's (a bag takes one photo size), one per configuration: a
    trial Hyperband promoted continues its parent's configuration (with fold models that
    had stopped early carried over unchanged), so bagging both would count one
    configuration twice. With ``trial_id``: that trial
    (``"7"`` names ``"0007"``), even one a time budget cut short.

    Args:
        trials: ``TrialRecord`` list, best first (``RunDir.trials()``).
        trial_id: A trial id to export instead of the best.
        ensemble: How many configurations to bag.

    Raises:
        ExportError: No finished trial, or no trial with that id.
    """
    scored = [t for t in trials if t.score is not None]
    if trial_id is not None:
        for trial in trials:
            if str(trial.trial_id) == str(trial_id) or _same_number(trial.trial_id, trial_id):
                if trial not in scored:
                    raise ExportError(f"trial {trial_id} has no score (status {trial.status})")
                return [trial]
        known = ", ".join(str(t.trial_id) for t in scored[:5]) or "none has a score yet"
        raise ExportError(f"no trial {trial_id!r} in this run (best ones: {known})")
    complete = ranked(trials)
    if not complete:
        raise ExportError("the run has no finished trial with a score for every fold to export")
    tile = photo_tile(complete[0])
    chosen = []
    for trial in complete:
        if len(chosen) == ensemble:
            break
        if photo_tile(trial) in (None, tile) and all(
            trial.hyperparameters != other.hyperparameters for other in chosen
        ):
            chosen.append(trial)
    return chosen


def photo_tile(trial) -> int | None:
    """The photo side of a trial's models, None if they use no photos."""
    from houses_tune.search_spaces.backbones import BACKBONES

    values = trial.hyperparameters
    if values.get("modality", "attributes") == "attributes":
        return None
    if values.get("photos/input") == "backbone":
        return BACKBONES[values["backbone/network"]].size
    return values.get("tile")


def _same_number(a, b) -> bool:
    a, b = str(a), str(b)
    return a.isdigit() and b.isdigit() and int(a) == int(b)
