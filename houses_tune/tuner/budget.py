"""Budget parsing and planning: what a search may spend, and how KerasTuner will spend it.

``--budget`` is either a number of training epochs summed over all trials and all their
fold models (``3000``) or a wall-clock duration (``90s``, ``45m``, ``2h``, ``1h30m``). Every
trial trains one model per fold, so an epoch of a trial costs ``folds`` epochs of the
budget. For Hyperband, an epoch budget is turned into ``max_epochs`` and
``hyperband_iterations`` by replaying the bracket arithmetic of ``keras_tuner``'s
``HyperbandOracle`` exactly, so the printed plan is what the oracle will run. Promoted
trials resume from the previous round's epoch (``tuner/initial_epoch``), so a round of
``n`` trials going from ``e0`` to ``e1`` epochs trains ``n * (e1 - e0)`` epochs per fold.
The plan is an upper bound: fold models that stop early train less.

This module imports nothing heavy; ``--dry-run`` prints a plan in a fraction of a second.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field

#: Tuners the CLI offers (KerasTuner classes: Hyperband, RandomSearch, BayesianOptimization).
TUNERS = ("hyperband", "random", "bayesian")

#: Upper bound for Hyperband's ``max_epochs`` when ``--max-epochs`` is not given
#: (KerasTuner's own default).
DEFAULT_MAX_EPOCHS_CAP = 100
#: ``max_epochs`` for a duration budget when ``--max-epochs`` is not given: 4 brackets at factor 3.
DEFAULT_DURATION_MAX_EPOCHS = 27
#: Epochs per trial for random/bayesian search when ``--max-epochs`` is not given.
DEFAULT_TRIAL_EPOCHS = 20

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


@dataclass(frozen=True)
class Budget:
    """What a search may spend: ``epochs`` or ``seconds`` (exactly one is set).

    Attributes:
        text: The budget as the user wrote it (``"600"``, ``"1h30m"``).
        epochs: Total training epochs over all trials, or None for a duration.
        seconds: Wall-clock seconds, or None for an epoch budget.
    """

    text: str
    epochs: int | None = None
    seconds: int | None = None

    def describe(self) -> str:
        """Return a short human description, e.g. ``"600 epochs"`` or ``"1h30m (5400 s)"``."""
        if self.epochs is not None:
            return f"{self.epochs} epochs"
        return f"{self.text} ({self.seconds} s)"


def parse_budget(text: str) -> Budget:
    """Parse ``--budget``: a positive integer of epochs, or a duration like ``45m`` / ``1h30m``.

    Args:
        text: The raw value.

    Returns:
        The parsed budget.

    Raises:
        ValueError: If the value is empty, zero, negative or not understood.
    """
    value = str(text).strip().lower()
    if value.isdigit():
        epochs = int(value)
        if epochs <= 0:
            raise ValueError(f"budget must be at least 1 epoch, got {text!r}")
        return Budget(text=str(text).strip(), epochs=epochs)
    match = _DURATION.match(value)
    if not value or not match or not any(match.groups()):
        raise ValueError(
            f"budget {text!r} is neither a number of epochs (e.g. 600) "
            "nor a duration (e.g. 90s, 45m, 2h, 1h30m)"
        )
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"budget must be longer than 0 seconds, got {text!r}")
    return Budget(text=str(text).strip(), seconds=total)


# --- Hyperband arithmetic, copied expression for expression from HyperbandOracle. ---
# Float rounding matters (math.log(27, 3) is 3.0000000000000004), so do not "simplify".


def hyperband_num_brackets(max_epochs: int, factor: int, min_epochs: int = 1) -> int:
    """``HyperbandOracle._get_num_brackets``: no bracket starts below ``min_epochs``."""
    epochs = max_epochs
    brackets = 0
    while epochs >= min_epochs:
        epochs = epochs / factor
        brackets += 1
    return brackets


def hyperband_size(max_epochs: int, factor: int, bracket_num: int, round_num: int) -> int:
    """``HyperbandOracle._get_size``: trials in one round of one bracket."""
    bracket0_end_size = math.ceil(1 + math.log(max_epochs, factor))
    bracket_end_size = bracket0_end_size / (bracket_num + 1)
    return math.ceil(bracket_end_size * factor ** (bracket_num - round_num))


def hyperband_epochs(max_epochs: int, factor: int, bracket_num: int, round_num: int) -> int:
    """``HyperbandOracle._get_epochs``: cumulative epochs a trial reaches in a round."""
    return math.ceil(max_epochs / factor ** (bracket_num - round_num))


@dataclass(frozen=True)
class Round:
    """One round of successive halving in one Hyperband bracket.

    Attributes:
        bracket: Bracket number as KerasTuner counts it (highest runs first).
        round: Round number inside the bracket (0 = fresh random configurations).
        trials: Trials in this round.
        initial_epoch: Epoch the trials start from (0 for round 0, else the last round's).
        epochs: Epoch the trials train up to (``tuner/epochs``).
    """

    bracket: int
    round: int
    trials: int
    initial_epoch: int
    epochs: int

    @property
    def epochs_trained(self) -> int:
        """Epochs this round actually trains, over all its trials."""
        return self.trials * (self.epochs - self.initial_epoch)


def hyperband_rounds(max_epochs: int, factor: int, min_epochs: int = 1) -> list[Round]:
    """List the rounds of one Hyperband iteration in the order KerasTuner runs them.

    Args:
        max_epochs: Hyperband's ``max_epochs``.
        factor: Hyperband's reduction ``factor`` (>= 2).
        min_epochs: The oracle's ``min_epochs``: the fewest epochs of a first round.

    Returns:
        Rounds, bracket by bracket from the most aggressive one down to bracket 0.
    """
    rounds = []
    min_epochs = min(min_epochs, max_epochs)
    for bracket in range(hyperband_num_brackets(max_epochs, factor, min_epochs) - 1, -1, -1):
        for round_num in range(bracket + 1):
            previous = hyperband_epochs(max_epochs, factor, bracket, round_num - 1)
            start = 0 if round_num == 0 else previous
            rounds.append(
                Round(
                    bracket=bracket,
                    round=round_num,
                    trials=hyperband_size(max_epochs, factor, bracket, round_num),
                    initial_epoch=start,
                    epochs=hyperband_epochs(max_epochs, factor, bracket, round_num),
                )
            )
    return rounds


def hyperband_iteration_cost(max_epochs: int, factor: int, min_epochs: int = 1) -> int:
    """Epochs one full Hyperband iteration trains (promoted trials resume, not restart)."""
    return sum(r.epochs_trained for r in hyperband_rounds(max_epochs, factor, min_epochs))


@dataclass(frozen=True)
class SearchPlan:
    """How a search will spend its budget; printed before training and stored in run.json.

    Attributes:
        tuner: ``"hyperband"``, ``"random"`` or ``"bayesian"``.
        budget: The budget the plan was made for.
        max_epochs: Hyperband's ``max_epochs``, or the epochs of every random/bayesian trial.
        factor: Hyperband's reduction factor (also stored for other tuners, unused there).
        iterations: Hyperband iterations; None means "until the time budget runs out".
        max_trials: Trials for random/bayesian search; None when bounded by time only.
        rounds: One Hyperband iteration, round by round (empty for other tuners).
        folds: Fold models each trial trains (the epochs of the schedule count this often).
        min_epochs: Hyperband's fewest epochs of a first round (no bracket starts lower).
    """

    tuner: str
    budget: Budget
    max_epochs: int
    factor: int = 3
    iterations: int | None = 1
    max_trials: int | None = None
    rounds: tuple[Round, ...] = field(default=())
    folds: int = 1
    min_epochs: int = 1

    @property
    def trials(self) -> int | None:
        """Trials the plan runs (promotions count, as in KerasTuner); None if unbounded."""
        if self.tuner == "hyperband":
            if self.iterations is None:
                return None
            return self.iterations * sum(r.trials for r in self.rounds)
        return self.max_trials

    @property
    def model_epochs(self) -> int | None:
        """Epochs the schedule trains per fold, None if bounded by time only."""
        if self.tuner == "hyperband":
            if self.iterations is None:
                return None
            return self.iterations * sum(r.epochs_trained for r in self.rounds)
        if self.max_trials is None:
            return None
        return self.max_trials * self.max_epochs

    @property
    def total_epochs(self) -> int | None:
        """Epochs of fold models the whole schedule trains at most, None if time-bound."""
        per_fold = self.model_epochs
        return None if per_fold is None else per_fold * self.folds

    def to_dict(self) -> dict:
        """Return a JSON-able summary (stored in run.json)."""
        return {
            "tuner": self.tuner,
            "budget": self.budget.text,
            "budget_epochs": self.budget.epochs,
            "budget_seconds": self.budget.seconds,
            "max_epochs": self.max_epochs,
            "min_epochs": self.min_epochs,
            "factor": self.factor,
            "hyperband_iterations": self.iterations,
            "max_trials": self.max_trials,
            "folds": self.folds,
            "trials": self.trials,
            "total_epochs": self.total_epochs,
        }

    def describe(self) -> list[str]:
        """Return the plan as lines of text (what the CLI prints)."""
        lines = []
        if self.tuner == "hyperband":
            iterations = "until time is up" if self.iterations is None else self.iterations
            lines.append(
                f"Plan: hyperband, max_epochs={self.max_epochs}, min_epochs={self.min_epochs}, "
                f"factor={self.factor}, "
                f"iterations={iterations}, budget {self.budget.describe()}"
            )
            each = " per fold" if self.folds > 1 else ""
            lines.append(f"  bracket  round  trials  epochs       trained{each}")
            for r in self.rounds:
                span = f"{r.initial_epoch}->{r.epochs}"
                row = f"  {r.bracket:>7}  {r.round:>5}  {r.trials:>6}  {span:<11}"
                lines.append(f"{row}  {r.epochs_trained:>7}")
            per = sum(x.epochs_trained for x in self.rounds)
            trials = sum(x.trials for x in self.rounds)
            lines.append(f"  one iteration: {trials} trials, {per} epochs{each}")
        else:
            lines.append(
                f"Plan: {self.tuner}, {self.max_epochs} epochs per trial, "
                f"budget {self.budget.describe()}"
            )
        folds = f"{self.folds} folds" if self.folds > 1 else "1 validation split"
        if self.total_epochs is not None:
            per = f" ({self.model_epochs} per fold x {self.folds} folds)" if self.folds > 1 else ""
            lines.append(f"Total: {self.trials} trials, at most {self.total_epochs} epochs{per}")
        else:
            lines.append(f"Total: as many trials as fit in {self.budget.describe()} ({folds})")
        return lines


def plan_search(
    budget: Budget,
    tuner: str = "hyperband",
    max_epochs: int | None = None,
    factor: int = 3,
    folds: int = 1,
    min_epochs: int = 1,
) -> SearchPlan:
    """Turn a budget into a schedule that fits it.

    An epoch budget is shared by the fold models: the schedule gets ``budget // folds``
    epochs per fold.

    Hyperband with an epoch budget: ``max_epochs`` is the cap (``--max-epochs``, default
    100) if one iteration at the cap fits, else the ``max_epochs`` below the cap whose
    iteration costs most without exceeding the budget (ties: the larger); then as many
    iterations as fit. Random and Bayesian
    search train every trial for ``max_epochs`` (default 20, never more than the budget)
    and run ``budget // max_epochs`` trials. A duration budget bounds time only.

    Args:
        budget: The parsed ``--budget``.
        tuner: One of ``TUNERS``.
        max_epochs: ``--max-epochs``: the cap for Hyperband, the epochs per trial otherwise.
        factor: Hyperband's reduction factor (>= 2).
        folds: Fold models per trial.
        min_epochs: Hyperband: the fewest epochs of a first round (capped at max_epochs).

    Returns:
        The plan.

    Raises:
        ValueError: On an unknown tuner, ``factor < 2``, ``max_epochs < 1``, or an epoch
            budget smaller than the folds.
    """
    if tuner not in TUNERS:
        raise ValueError(f"unknown tuner {tuner!r}; expected one of {', '.join(TUNERS)}")
    if factor < 2:
        raise ValueError(f"factor must be at least 2, got {factor}")
    if max_epochs is not None and max_epochs < 1:
        raise ValueError(f"max_epochs must be at least 1, got {max_epochs}")
    if folds < 1 or min_epochs < 1:
        raise ValueError(f"folds and min_epochs must be at least 1, got {folds}, {min_epochs}")
    if budget.epochs is not None and budget.epochs < folds:
        raise ValueError(
            f"budget {budget.text} is less than one epoch for each of the {folds} fold models"
        )
    per_fold = None if budget.epochs is None else budget.epochs // folds
    plan = _plan(budget, tuner, max_epochs, factor, per_fold, min_epochs)
    return dataclasses.replace(plan, folds=folds)


def _plan(budget, tuner, max_epochs, factor, epochs_budget, min_epochs) -> SearchPlan:
    def cost(candidate: int) -> int:
        return hyperband_iteration_cost(candidate, factor, min_epochs)

    def plan(candidate: int, iterations: int | None) -> SearchPlan:
        first = min(min_epochs, candidate)
        rounds = tuple(hyperband_rounds(candidate, factor, first))
        return SearchPlan(tuner, budget, candidate, factor, iterations=iterations, rounds=rounds,
                          min_epochs=first)  # fmt: skip

    if tuner != "hyperband":
        epochs = max_epochs or DEFAULT_TRIAL_EPOCHS
        if epochs_budget is None:
            return SearchPlan(tuner, budget, epochs, factor, iterations=None, max_trials=None)
        epochs = min(epochs, epochs_budget)
        return SearchPlan(
            tuner, budget, epochs, factor, iterations=None, max_trials=epochs_budget // epochs
        )

    if epochs_budget is None:
        return plan(max_epochs or DEFAULT_DURATION_MAX_EPOCHS, None)

    cap = max_epochs or DEFAULT_MAX_EPOCHS_CAP
    chosen = cap
    if cost(cap) > epochs_budget:
        # The cost is not monotonic in max_epochs (ceil and bracket-count jumps), so scan.
        best_cost, chosen = 0, 1
        for candidate in range(1, cap + 1):
            if best_cost <= cost(candidate) <= epochs_budget:
                best_cost, chosen = cost(candidate), candidate
    # Spend what is left on more iterations (the cost jump to the next max_epochs can be big).
    return plan(chosen, epochs_budget // cost(chosen))
